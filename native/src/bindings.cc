// Python bindings of the native core: the only file that includes nanobind or Python.h.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "seqkit/batch_gather.h"
#include "seqkit/line_reader.h"
#include "seqkit/ops.h"
#include "seqkit/thread_pool.h"
#include "seqkit/token_files.h"

namespace nb = nanobind;
using namespace seqkit;

namespace {

// ------------------------------------------------------------------ object references

// Holds a strong reference; the last owner may drop it from any thread, so the deleter
// takes the GIL.
// True once the interpreter is shutting down: a thread that takes the GIL then is
// terminated, so late releases leak instead (the process is exiting anyway).
bool finalizing() {
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsInitialized() == 0 || Py_IsFinalizing() != 0;
#else
  return Py_IsInitialized() == 0 || _Py_IsFinalizing() != 0;
#endif
}

std::shared_ptr<void> py_ref(PyObject* o) {
  Py_INCREF(o);
  return std::shared_ptr<void>(o, [](void* p) {
    if (finalizing()) return;
    PyGILState_STATE s = PyGILState_Ensure();
    Py_DECREF(static_cast<PyObject*>(p));
    PyGILState_Release(s);
  });
}

PyObject* torch_module() {
  static PyObject* torch = [] {
    PyObject* m = PyImport_ImportModule("torch");
    if (m == nullptr) PyErr_Clear();
    return m;
  }();
  return torch;
}

// torch._C._from_dlpack, or nullptr when torch (or that entry point) is missing.
PyObject* torch_from_capsule() {
  static PyObject* fn = [] {
    PyObject* torch = torch_module();
    if (torch == nullptr) return static_cast<PyObject*>(nullptr);
    PyObject* c = PyObject_GetAttrString(torch, "_C");
    PyObject* f = c != nullptr ? PyObject_GetAttrString(c, "_from_dlpack") : nullptr;
    Py_XDECREF(c);
    if (f == nullptr) PyErr_Clear();
    return f;
  }();
  return fn;
}

nb::dlpack::dtype to_dl(DType d) {
  using C = nb::dlpack::dtype_code;
  auto make = [](C code, int bits) { return nb::dlpack::dtype{static_cast<std::uint8_t>(code), static_cast<std::uint8_t>(bits), 1}; };
  switch (d) {
    case DType::kBool: return make(C::Bool, 8);
    case DType::kInt8: return make(C::Int, 8);
    case DType::kUInt8: return make(C::UInt, 8);
    case DType::kInt16: return make(C::Int, 16);
    case DType::kUInt16: return make(C::UInt, 16);
    case DType::kInt32: return make(C::Int, 32);
    case DType::kUInt32: return make(C::UInt, 32);
    case DType::kInt64: return make(C::Int, 64);
    case DType::kFloat32: return make(C::Float, 32);
    case DType::kFloat64: return make(C::Float, 64);
  }
  return make(C::Int, 64);
}

std::optional<DType> from_dl(nb::dlpack::dtype dt) {
  using C = nb::dlpack::dtype_code;
  if (dt.lanes != 1) return std::nullopt;
  auto code = static_cast<C>(dt.code);
  if (code == C::Bool && dt.bits == 8) return DType::kBool;
  if (code == C::Int) {
    switch (dt.bits) {
      case 8: return DType::kInt8;
      case 16: return DType::kInt16;
      case 32: return DType::kInt32;
      case 64: return DType::kInt64;
    }
  }
  if (code == C::UInt) {
    switch (dt.bits) {
      case 8: return DType::kUInt8;
      case 16: return DType::kUInt16;
      case 32: return DType::kUInt32;
    }
  }
  if (code == C::Float && dt.bits == 32) return DType::kFloat32;
  if (code == C::Float && dt.bits == 64) return DType::kFloat64;
  return std::nullopt;
}

std::optional<DType> dtype_from_name(const std::string& name) {
  for (int i = 0; i <= static_cast<int>(DType::kFloat64); ++i) {
    if (name == dtype_name(static_cast<DType>(i))) return static_cast<DType>(i);
  }
  return std::nullopt;
}

// --------------------------------------------------------------------- conversions

nb::object array_to_py(const Array& a) {
  std::int64_t n = a.numel();
  if (a.as_list) {
    PyObject* l = PyList_New(n);
    if (l == nullptr) throw nb::python_error();
    for (std::int64_t i = 0; i < n; ++i) PyList_SET_ITEM(l, i, PyLong_FromLongLong(a.int_at(i)));
    return nb::steal(l);
  }
  auto* holder = new std::shared_ptr<const void>(a.owner);
  nb::capsule owner(holder, [](void* p) noexcept { delete static_cast<std::shared_ptr<const void>*>(p); });
  std::vector<std::size_t> shape(a.shape.begin(), a.shape.end());
  void* data = const_cast<void*>(a.data);
  if (PyObject* from_capsule = torch_from_capsule()) {
    // A raw DLPack capsule handed straight to torch's C entry point: about 0.6 us per
    // tensor instead of 3-4 us through torch.utils.dlpack.from_dlpack (Python code).
    nb::object capsule = nb::ndarray<>(data, shape.size(), shape.data(), owner, nullptr, to_dl(a.dtype),
                                       nb::device::cpu::value)
                             .cast();
    PyObject* t = PyObject_CallOneArg(from_capsule, capsule.ptr());
    if (t == nullptr) throw nb::python_error();
    return nb::steal(t);
  }
  if (torch_module() != nullptr) {
    return nb::ndarray<nb::pytorch>(data, shape.size(), shape.data(), owner, nullptr, to_dl(a.dtype),
                                    nb::device::cpu::value)
        .cast();
  }
  return nb::ndarray<nb::numpy>(data, shape.size(), shape.data(), owner, nullptr, to_dl(a.dtype),
                                nb::device::cpu::value)
      .cast();
}

// A str from UTF-8 text. Valid non-ASCII text also fills the str's UTF-8 cache with a
// copy of the bytes: consumers such as sentencepiece ask for UTF-8 again
// (PyUnicode_AsUTF8AndSize), and a memcpy is much cheaper than re-encoding every line.
nb::object str_to_py(const std::string& s) {
  auto n = static_cast<Py_ssize_t>(s.size());
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), n, nullptr);
  if (o == nullptr) {
    PyErr_Clear();  // invalid UTF-8: lone bytes become surrogates, and the cache stays empty
    o = PyUnicode_DecodeUTF8(s.data(), n, "surrogateescape");
    if (o == nullptr) throw nb::python_error();
    return nb::steal(o);
  }
#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000 && !defined(Py_LIMITED_API) && \
    !defined(Py_GIL_DISABLED)
  // Only a str this call owns alone: one-character strs are shared singletons that other
  // interpreters may be reading.
  if (Py_REFCNT(o) == 1 && PyUnicode_IS_COMPACT(o) && !PyUnicode_IS_ASCII(o)) {
    auto* compact = reinterpret_cast<PyCompactUnicodeObject*>(o);
    if (compact->utf8 == nullptr) {
      // Freed by the str itself (PyObject_Free), as CPython does for the caches it fills.
      auto* buf = static_cast<char*>(PyObject_Malloc(static_cast<std::size_t>(n) + 1));
      if (buf != nullptr) {
        std::memcpy(buf, s.data(), s.size());
        buf[n] = '\0';
        compact->utf8 = buf;
        compact->utf8_length = n;
      }
    }
  }
#endif
  return nb::steal(o);
}

nb::object to_py(const Element& e, bool for_state);
Element from_py(PyObject* o, bool for_state);

// A value of a pipeline state that is not plain data: a foreign Python object (a class
// instance, a function...). States are never pickled, so saving one fails; `op` is the
// innermost operator whose state holds it and `where` the key path inside that state.
struct OpaqueInState : std::runtime_error {
  std::string type_name;
  std::string op;
  std::string where;
  explicit OpaqueInState(std::string type)
      : std::runtime_error("a Python object of type '" + type + "' in the pipeline state"),
        type_name(std::move(type)) {}
  void add_step(const std::string& step) {
    if (op.empty()) where = step + where;
  }
};

// The plain-data form of a foreign object that is still plain data: an int beyond int64,
// a str with lone surrogates, a dict whose keys are not all str. Anything else throws
// OpaqueInState: the state is never pickled.
nb::object opaque_state_to_py(PyObject* obj) {
  nb::handle h(obj);
  if (PyLong_CheckExact(obj)) {
    nb::dict d;
    d["__int__"] = nb::str(h);
    return std::move(d);
  }
  if (PyUnicode_CheckExact(obj)) {
    PyObject* raw = PyUnicode_AsEncodedString(obj, "utf-8", "surrogatepass");
    if (raw == nullptr) throw nb::python_error();
    nb::dict d;
    d["__str__"] = nb::steal(raw);
    return std::move(d);
  }
  if (PyDict_CheckExact(obj)) {
    nb::list items;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(obj, &pos, &key, &value)) {
      nb::object k;
      try {
        k = to_py(from_py(key, false), true);
      } catch (OpaqueInState& err) {
        err.add_step("{key}");
        throw;
      }
      nb::object v;
      try {
        v = to_py(from_py(value, false), true);
      } catch (OpaqueInState& err) {
        err.add_step("[" + nb::cast<std::string>(nb::repr(nb::handle(key))) + "]");
        throw;
      }
      items.append(nb::make_tuple(k, v));
    }
    nb::dict d;
    d["__dict_items__"] = items;
    return std::move(d);
  }
  throw OpaqueInState(Py_TYPE(obj)->tp_name);
}

nb::object list_to_py(const List& l, bool for_state) {
  std::size_t n = l.items.size();
  PyObject* out = l.is_tuple && !for_state ? PyTuple_New(static_cast<Py_ssize_t>(n)) : PyList_New(static_cast<Py_ssize_t>(n));
  if (out == nullptr) throw nb::python_error();
  nb::object guard = nb::steal(out);
  for (std::size_t i = 0; i < n; ++i) {
    PyObject* item = nullptr;
    try {
      item = to_py(l.items[i], for_state).release().ptr();
    } catch (OpaqueInState& err) {
      err.add_step("[" + std::to_string(i) + "]");
      throw;
    }
    if (l.is_tuple && !for_state) {
      PyTuple_SET_ITEM(out, static_cast<Py_ssize_t>(i), item);
    } else {
      PyList_SET_ITEM(out, static_cast<Py_ssize_t>(i), item);
    }
  }
  if (l.is_tuple && for_state) {
    nb::dict d;
    d["__tuple__"] = guard;
    return std::move(d);
  }
  return guard;
}

// `for_state`: plain data only (arrays as bytes, tuples tagged); a foreign object that is
// not plain data throws OpaqueInState, never pickled.
nb::object to_py(const Element& e, bool for_state) {
  const Element::Value& v = e.value;
  if (std::holds_alternative<std::monostate>(v)) return nb::none();
  if (const bool* b = std::get_if<bool>(&v)) return nb::bool_(*b);
  if (const auto* i = std::get_if<std::int64_t>(&v)) return nb::steal(PyLong_FromLongLong(*i));
  if (const auto* d = std::get_if<double>(&v)) return nb::steal(PyFloat_FromDouble(*d));
  if (const auto* s = std::get_if<std::string>(&v)) return str_to_py(*s);
  if (const auto* b = std::get_if<Bytes>(&v)) return nb::bytes(b->data.data(), b->data.size());
  if (const Array* a = std::get_if<Array>(&v)) {
    if (!for_state || a->as_list) return array_to_py(*a);
    nb::list shape;
    for (std::int64_t s : a->shape) shape.append(s);
    if (std::optional<TokenSlice> slice = find_token_slice(*a)) {
      // A document (or its tail) from a read_tokens file: its position, not its tokens, so
      // a shuffle window of 256 documents saves a few hundred bytes instead of megabytes.
      nb::dict d;
      d["__token_slice__"] = slice->path;
      d["file_size"] = slice->file_size;
      d["offset"] = slice->byte_offset;
      d["checksum"] = slice->checksum;
      d["dtype"] = dtype_name(a->dtype);
      d["shape"] = shape;
      return std::move(d);
    }
    nb::dict d;
    d["__array__"] = dtype_name(a->dtype);
    d["shape"] = shape;
    d["data"] = nb::bytes(static_cast<const char*>(a->data), a->nbytes());
    return std::move(d);
  }
  if (const List* l = e.list()) return list_to_py(*l, for_state);
  if (const Dict* dict = e.dict()) {
    nb::dict out;
    for (const auto& [k, item] : dict->items) {
      try {
        out[nb::str(k.data(), k.size())] = to_py(item, for_state);
      } catch (OpaqueInState& err) {
        err.add_step("." + k);
        if (err.op.empty()) {
          const Element* op = dict->find("op");
          if (const auto* name = op != nullptr ? std::get_if<std::string>(&op->value) : nullptr) {
            err.op = *name;
          }
        }
        throw;
      }
    }
    return std::move(out);
  }
  const auto& opaque = std::get<Opaque>(v);
  nb::handle obj(static_cast<PyObject*>(opaque.object.get()));
  if (!for_state) return nb::borrow(obj);
  return opaque_state_to_py(obj.ptr());
}

// Reads an exact int that fits one internal digit (every token id) without a call:
// about 1 ns instead of 5-10 ns through PyLong_AsLongLongAndOverflow, which adds up over
// a few million ids per second. False means "use the general path".
inline bool compact_long(PyObject* o, std::int64_t& out) {
#if !defined(Py_LIMITED_API) && PY_VERSION_HEX >= 0x030C0000
  if (PyUnstable_Long_IsCompact(reinterpret_cast<PyLongObject*>(o)) == 0) return false;
  out = static_cast<std::int64_t>(PyUnstable_Long_CompactValue(reinterpret_cast<PyLongObject*>(o)));
  return true;
#elif !defined(Py_LIMITED_API) && PY_VERSION_HEX >= 0x030B0000
  Py_ssize_t size = Py_SIZE(o);
  if (size < -1 || size > 1) return false;
  out = size * static_cast<std::int64_t>(reinterpret_cast<PyLongObject*>(o)->ob_digit[0]);
  return true;
#else
  (void)o;
  (void)out;
  return false;
#endif
}

// An exact int (never a subclass or an __index__: no Python code runs) that fits int64.
inline bool exact_int(PyObject* o, std::int64_t& out) {
  if (PyLong_CheckExact(o) == 0) return false;
  if (compact_long(o, out)) return true;
  int overflow = 0;
  out = PyLong_AsLongLongAndOverflow(o, &overflow);
  return overflow == 0;
}

// Reads an exact list of exact ints into dst (room for all of them); false at the first
// item that is not an exact int or does not fit int64.
bool read_int_list(PyObject* list, std::int64_t* dst) {
  Py_ssize_t n = PyList_GET_SIZE(list);
  for (Py_ssize_t i = 0; i < n; ++i) {
    if (!exact_int(PyList_GET_ITEM(list, i), dst[i])) return false;
  }
  return true;
}

// A batch of token-id lists (what a batched tokenizer returns) in one pass over one
// int64 buffer: each example is an array viewing its slice, instead of one buffer (and
// shared-pointer control block) per example, about 64 allocations fewer per batch. The
// elements are the same as converting each list alone (empty lists stay empty lists);
// an example kept alive keeps the batch's buffer alive. nullopt: not such a batch.
std::optional<Element> int_list_batch(PyObject* o) {
  Py_ssize_t n = PyList_GET_SIZE(o);
  std::int64_t total = 0;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = PyList_GET_ITEM(o, i);
    if (PyList_CheckExact(item) == 0) return std::nullopt;
    Py_ssize_t len = PyList_GET_SIZE(item);
    if (len > 0 && PyLong_CheckExact(PyList_GET_ITEM(item, 0)) == 0) return std::nullopt;
    total += len;
  }
  Array all = Array::allocate(DType::kInt64, {total});
  auto* base = static_cast<std::int64_t*>(all.mutable_data());
  List batch;
  batch.items.reserve(static_cast<std::size_t>(n));
  std::int64_t offset = 0;
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = PyList_GET_ITEM(o, i);
    Py_ssize_t len = PyList_GET_SIZE(item);
    if (len == 0) {
      batch.items.emplace_back(List{});
      continue;
    }
    if (!read_int_list(item, base + offset)) return std::nullopt;
    Array a;
    a.dtype = DType::kInt64;
    a.shape = {static_cast<std::int64_t>(len)};
    a.owner = all.owner;
    a.data = base + offset;
    a.as_list = true;
    batch.items.emplace_back(std::move(a));
    offset += len;
  }
  return Element(std::move(batch));
}

Element try_array(PyObject* o) {
  nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu> arr;
  if (!nb::try_cast(nb::handle(o), arr, false)) return Element(Opaque{py_ref(o)});
  std::optional<DType> dt = from_dl(arr.dtype());
  if (!dt) return Element(Opaque{py_ref(o)});
  Array a;
  a.dtype = *dt;
  for (std::size_t i = 0; i < arr.ndim(); ++i) a.shape.push_back(static_cast<std::int64_t>(arr.shape(i)));
  a.data = arr.data();
  auto* held = new nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>(std::move(arr));
  a.owner = std::shared_ptr<const void>(held, [](const void* p) {
    if (finalizing()) return;
    PyGILState_STATE s = PyGILState_Ensure();
    delete static_cast<const nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>*>(p);
    PyGILState_Release(s);
  });
  return Element(std::move(a));
}

Element from_py(PyObject* o, bool for_state) {
  if (o == Py_None) return Element();
  if (PyBool_Check(o)) return Element(o == Py_True);
  if (PyLong_CheckExact(o)) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0) return Element(Opaque{py_ref(o)});
    return Element(static_cast<std::int64_t>(v));
  }
  if (PyFloat_CheckExact(o)) return Element(PyFloat_AS_DOUBLE(o));
  if (PyUnicode_CheckExact(o)) {
    Py_ssize_t n = 0;
    const char* s = PyUnicode_AsUTF8AndSize(o, &n);
    if (s == nullptr) {
      PyErr_Clear();  // lone surrogates: keep the object as it is
      return Element(Opaque{py_ref(o)});
    }
    return Element(std::string(s, static_cast<std::size_t>(n)));
  }
  if (PyBytes_CheckExact(o)) {
    return Element(Bytes{std::string(PyBytes_AS_STRING(o), static_cast<std::size_t>(PyBytes_GET_SIZE(o)))});
  }
  if (PyList_CheckExact(o)) {
    Py_ssize_t n = PyList_GET_SIZE(o);
    if (n > 0 && PyLong_CheckExact(PyList_GET_ITEM(o, 0))) {
      // Lists of ints (token ids) become one int64 array instead of n boxed elements;
      // one pass, falling back to a generic list at the first non-int.
      Array a = Array::allocate(DType::kInt64, {static_cast<std::int64_t>(n)});
      a.as_list = true;
      if (read_int_list(o, static_cast<std::int64_t*>(a.mutable_data()))) return Element(std::move(a));
    }
    if (n > 0 && PyList_CheckExact(PyList_GET_ITEM(o, 0))) {
      if (std::optional<Element> batch = int_list_batch(o)) return std::move(*batch);
    }
    List l;
    l.items.reserve(static_cast<std::size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) l.items.push_back(from_py(PyList_GET_ITEM(o, i), for_state));
    return Element(std::move(l));
  }
  if (PyTuple_CheckExact(o)) {
    List l;
    l.is_tuple = true;
    Py_ssize_t n = PyTuple_GET_SIZE(o);
    for (Py_ssize_t i = 0; i < n; ++i) l.items.push_back(from_py(PyTuple_GET_ITEM(o, i), for_state));
    return Element(std::move(l));
  }
  if (PyDict_CheckExact(o)) {
    if (for_state) {
      nb::handle h(o);
      nb::dict d = nb::borrow<nb::dict>(h);
      if (d.contains("__array__")) {
        std::optional<DType> dt = dtype_from_name(nb::cast<std::string>(d["__array__"]));
        if (!dt) throw StateError("unknown array dtype in the state");
        std::vector<std::int64_t> shape = nb::cast<std::vector<std::int64_t>>(d["shape"]);
        nb::bytes data = nb::cast<nb::bytes>(d["data"]);
        Array a = Array::allocate(*dt, shape);
        if (data.size() != a.nbytes()) throw StateError("an array in the state has the wrong byte size");
        std::memcpy(a.mutable_data(), data.c_str(), data.size());
        return Element(std::move(a));
      }
      if (d.contains("__token_slice__")) {
        std::optional<DType> dt = dtype_from_name(nb::cast<std::string>(d["dtype"]));
        if (!dt) throw StateError("unknown token dtype in the state");
        TokenSlice where{nb::cast<std::string>(d["__token_slice__"]), nb::cast<std::int64_t>(d["file_size"]),
                         nb::cast<std::int64_t>(d["offset"]), nb::cast<std::uint64_t>(d["checksum"])};
        return Element(token_slice(where, *dt, nb::cast<std::vector<std::int64_t>>(d["shape"])));
      }
      if (d.contains("__pickle__")) {
        // Written by seqkit before states became plain data, or planted in a checkpoint:
        // either way it is never unpickled (unpickling runs arbitrary code).
        throw StateError(
            "the state holds a pickled Python object ('__pickle__'), which seqkit never "
            "unpickles: loading it could run arbitrary code. Pipeline states are plain data; "
            "save the state again with this seqkit (map elements to plain data first), or "
            "start the data from the beginning");
      }
      if (d.contains("__int__")) {
        nb::object value = nb::module_::import_("builtins").attr("int")(nb::str(d["__int__"]));
        return from_py(value.ptr(), false);
      }
      if (d.contains("__str__")) {
        nb::bytes raw = nb::cast<nb::bytes>(d["__str__"]);
        PyObject* value = PyUnicode_DecodeUTF8(raw.c_str(), static_cast<Py_ssize_t>(raw.size()), "surrogatepass");
        if (value == nullptr) throw nb::python_error();
        return from_py(nb::steal(value).ptr(), false);
      }
      if (d.contains("__dict_items__")) {
        nb::dict value;
        for (nb::handle pair : nb::cast<nb::list>(d["__dict_items__"])) {
          nb::object k = to_py(from_py(nb::object(pair[0]).ptr(), true), false);
          value[k] = to_py(from_py(nb::object(pair[1]).ptr(), true), false);
        }
        return from_py(value.ptr(), false);
      }
      if (d.contains("__tuple__")) {
        Element inner = from_py(nb::object(d["__tuple__"]).ptr(), true);
        List l;
        if (const List* il = inner.list()) l = *il;
        if (const Array* ia = inner.array()) {
          for (std::int64_t i = 0; i < ia->numel(); ++i) l.items.emplace_back(ia->int_at(i));
        }
        l.is_tuple = true;
        return Element(std::move(l));
      }
    }
    Dict d;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(o, &pos, &key, &value)) {
      if (!PyUnicode_CheckExact(key)) return Element(Opaque{py_ref(o)});
      Py_ssize_t n = 0;
      const char* s = PyUnicode_AsUTF8AndSize(key, &n);
      if (s == nullptr) throw nb::python_error();
      d.items.emplace_back(std::string(s, static_cast<std::size_t>(n)), from_py(value, for_state));
    }
    return Element(std::move(d));
  }
  if (PyObject_HasAttrString(o, "__dlpack__") != 0 || PyObject_CheckBuffer(o) != 0) return try_array(o);
  return Element(Opaque{py_ref(o)});
}

// -------------------------------------------------------------------- python callables

// Captures the pending Python exception into a PipelineError that keeps the exception
// object, so the pipeline can re-raise it as the cause. Needs the GIL.
[[noreturn]] void throw_pending_python_error() {
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  if (tb != nullptr && value != nullptr) PyException_SetTraceback(value, tb);
  std::string message = "a Python callable raised";
  if (value != nullptr) {
    PyObject* s = PyObject_Str(value);
    const char* name = reinterpret_cast<PyTypeObject*>(type)->tp_name;
    if (s != nullptr) {
      const char* text = PyUnicode_AsUTF8(s);
      message = std::string(name) + ": " + (text != nullptr ? text : "");
      Py_DECREF(s);
    }
    PyErr_Clear();
  }
  std::shared_ptr<void> ref = value != nullptr ? py_ref(value) : nullptr;
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  throw PipelineError(message, "", -1, std::move(ref));
}

// Installed as the core's wait hook: turns a pending Ctrl-C into an exception while the
// main thread waits on background work.
void check_signals() {
  if (finalizing()) return;
  nb::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw_pending_python_error();
}

// A native thread (prefetch, the map pool) that calls Python keeps one thread state for
// its lifetime: PyGILState_Ensure on a thread without one creates and destroys a thread
// state on every call. Called without the GIL, before taking it.
struct PinnedThreadState {
  PyGILState_STATE state{};
  PyThreadState* saved = nullptr;
  PinnedThreadState() = default;
  PinnedThreadState(const PinnedThreadState&) = delete;
  PinnedThreadState& operator=(const PinnedThreadState&) = delete;
  ~PinnedThreadState() {
    if (saved == nullptr || finalizing()) return;  // after finalization the state is gone
    PyEval_RestoreThread(saved);
    PyGILState_Release(state);
  }
};

void pin_thread_state() {
  thread_local PinnedThreadState pin;
  if (pin.saved != nullptr || finalizing() || PyGILState_GetThisThreadState() != nullptr) return;
  pin.state = PyGILState_Ensure();
  pin.saved = PyEval_SaveThread();
}

nb::object call_py(PyObject* fn, const Element& e) {
  nb::object arg;
  try {
    arg = to_py(e, false);
  } catch (nb::python_error& err) {
    err.restore();
    throw_pending_python_error();
  }
  PyObject* r = PyObject_CallOneArg(fn, arg.ptr());
  if (r == nullptr) throw_pending_python_error();
  return nb::steal(r);
}

// ------------------------------------------------------------------- python map chunks

// The map hands a Python callable chunks of consecutive elements (see Map in
// operators.cc): each chunk takes the GIL once. A callable with a batch form,
// `fn.__seqkit_map_batch__(inputs: list, num_parallel_calls: int)` returning one output
// per input (equal to calling fn on each), is called once per chunk instead; the second
// argument says how many chunks may run at once, so a callable with its own threads
// (SentencePiece) can size its share.
constexpr std::int64_t kMaxChunk = 256;       // element-wise callables
constexpr std::int64_t kMaxBatchChunk = 1024;  // batch forms: more work per call amortizes their setup

struct PyMapStage {
  std::shared_ptr<void> fn;
  std::shared_ptr<void> batch;  // fn.__seqkit_map_batch__, or null
};

// The pending Python exception as a PipelineError (see throw_pending_python_error).
std::exception_ptr capture_python_error() {
  try {
    throw_pending_python_error();
  } catch (...) {
    return std::current_exception();
  }
}

// Runs f (GIL held); an exception comes back as its exception_ptr.
template <typename F>
std::exception_ptr guarded(F&& f) {
  try {
    f();
  } catch (nb::python_error& err) {
    err.restore();
    return capture_python_error();
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

// False for KeyboardInterrupt, SystemExit and other BaseExceptions that must not be
// retried or wrapped.
bool is_ordinary_error(const std::exception_ptr& err) {
  try {
    std::rethrow_exception(err);
  } catch (const PipelineError& e) {
    auto* cause = static_cast<PyObject*>(e.foreign.get());
    return cause == nullptr || PyErr_GivenExceptionMatches(cause, PyExc_Exception) != 0;
  } catch (...) {
    return true;
  }
}

// Replaces objs[i] by fn(objs[i]) for i < limit, in order. At the first failure: sets
// limit to its index and returns it.
std::exception_ptr call_each(PyObject* fn, std::vector<nb::object>& objs, std::size_t& limit) {
  for (std::size_t i = 0; i < limit; ++i) {
    PyObject* r = PyObject_CallOneArg(fn, objs[i].ptr());
    if (r == nullptr) {
      limit = i;
      return capture_python_error();
    }
    objs[i] = nb::steal(r);
  }
  return nullptr;
}

// Reads a ragged batch (an object with `tokens`, a 1-D numeric array, and `lengths`, one
// int per input: FlatEncoding's shape) into `out`: row i is tokens[offset_i:offset_i +
// lengths[i]], a view of one buffer, as a 1-D array that goes out as a tensor. No Python
// object per row. Throws nb::python_error (a ValueError/TypeError set) when malformed.
void read_ragged(PyObject* fn, PyObject* result, std::size_t expected, std::vector<Element>& out) {
  nb::object tokens = nb::steal(PyObject_GetAttrString(result, "tokens"));
  nb::object lengths = nb::steal(PyObject_GetAttrString(result, "lengths"));
  if (!tokens.is_valid() || !lengths.is_valid()) throw nb::python_error();
  Element flat = try_array(tokens.ptr());
  const Array* base = flat.array();
  if (base == nullptr || base->shape.size() != 1) {
    PyErr_Format(PyExc_TypeError, "%R.__seqkit_map_batch__ returned a ragged batch whose tokens are not a 1-D CPU array",
                 fn);
    throw nb::python_error();
  }
  std::vector<std::int64_t> lens;
  nb::ndarray<const std::int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu> arr;
  if (nb::try_cast(lengths, arr, false)) {
    lens.assign(arr.data(), arr.data() + arr.shape(0));
  } else {
    nb::object seq = nb::steal(PySequence_Fast(lengths.ptr(), "lengths must be a sequence of ints"));
    if (!seq.is_valid()) throw nb::python_error();
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq.ptr());
    for (Py_ssize_t i = 0; i < n; ++i) {
      long long v = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(seq.ptr(), i));
      if (v == -1 && PyErr_Occurred() != nullptr) throw nb::python_error();
      lens.push_back(v);
    }
  }
  if (lens.size() != expected) {
    PyErr_Format(PyExc_ValueError,
                 "%R.__seqkit_map_batch__ returned %zu outputs for %zu inputs; a batch form must return "
                 "one output per input, in order (equal to calling the function on each)",
                 fn, lens.size(), expected);
    throw nb::python_error();
  }
  std::int64_t total = base->shape[0];
  std::int64_t offset = 0;
  std::size_t item = dtype_size(base->dtype);
  out.reserve(expected);
  for (std::int64_t len : lens) {
    if (len < 0 || offset + len > total) {
      PyErr_Format(PyExc_ValueError,
                   "%R.__seqkit_map_batch__ returned a ragged batch whose lengths do not fit its %lld tokens", fn,
                   static_cast<long long>(total));
      throw nb::python_error();
    }
    Array row;
    row.dtype = base->dtype;
    row.shape = {len};
    row.owner = base->owner;
    row.data = static_cast<const char*>(base->data) + static_cast<std::size_t>(offset) * item;
    out.emplace_back(std::move(row));
    offset += len;
  }
}

// The batch form over objs[0..limit). Its result is a sequence of outputs (then put in
// objs) or a ragged batch (then put in `ragged`, and `is_ragged` set). If it raises an
// ordinary exception, the element-wise calls find the failing input (and the outputs
// before it); if those all succeed, the batch's own exception is raised for the chunk's
// first input. A result of the wrong length is a ValueError for the chunk's first input.
std::exception_ptr call_batch(const PyMapStage& stage, std::int64_t parallel, std::vector<nb::object>& objs,
                              std::size_t& limit, std::vector<Element>& ragged, bool& is_ragged) {
  auto* fn = static_cast<PyObject*>(stage.fn.get());
  nb::object args = nb::steal(PyList_New(static_cast<Py_ssize_t>(limit)));
  nb::object calls = nb::steal(PyLong_FromLongLong(parallel));
  if (!args.is_valid() || !calls.is_valid()) {
    limit = 0;
    return capture_python_error();
  }
  for (std::size_t i = 0; i < limit; ++i) {
    PyList_SET_ITEM(args.ptr(), static_cast<Py_ssize_t>(i), objs[i].inc_ref().ptr());
  }
  PyObject* argv[] = {args.ptr(), calls.ptr()};
  nb::object result = nb::steal(PyObject_Vectorcall(static_cast<PyObject*>(stage.batch.get()), argv, 2, nullptr));
  if (!result.is_valid()) {
    std::exception_ptr err = capture_python_error();
    if (!is_ordinary_error(err)) {
      limit = 0;
      return err;
    }
    std::exception_ptr each = call_each(fn, objs, limit);
    if (each) return each;
    limit = 0;
    return err;
  }
  PyObject* r = result.ptr();
  if (PyList_Check(r) == 0 && PyTuple_Check(r) == 0 && PyObject_HasAttrString(r, "tokens") != 0 &&
      PyObject_HasAttrString(r, "lengths") != 0) {
    ragged.clear();
    std::exception_ptr err = guarded([&] { read_ragged(fn, r, limit, ragged); });
    if (err) {
      ragged.clear();
      limit = 0;
      return err;
    }
    is_ragged = true;
    return nullptr;
  }
  nb::object seq = nb::steal(PySequence_Fast(r, "__seqkit_map_batch__ must return a sequence"));
  if (!seq.is_valid()) {
    limit = 0;
    return capture_python_error();
  }
  auto n = static_cast<std::size_t>(PySequence_Fast_GET_SIZE(seq.ptr()));
  if (n != limit) {
    PyErr_Format(PyExc_ValueError,
                 "%R.__seqkit_map_batch__ returned %zu outputs for %zu inputs; a batch form must return "
                 "one output per input, in order (equal to calling the function on each)",
                 fn, n, limit);
    limit = 0;
    return capture_python_error();
  }
  PyObject** items = PySequence_Fast_ITEMS(seq.ptr());
  for (std::size_t i = 0; i < n; ++i) objs[i] = nb::borrow(items[i]);
  return nullptr;
}

// A map chunk through the stages (a list of functions is applied stage by stage over the
// chunk; between stages each value is converted as the pipeline converts elements, so a
// stage sees what it would see applied alone). Throws after the outputs of the inputs
// before the first failure, as MapChunkFn requires.
void run_py_chunk(const std::vector<PyMapStage>& stages, std::int64_t parallel, const std::vector<Element>& inputs,
                  std::vector<Element>& outputs) {
  pin_thread_state();
  nb::gil_scoped_acquire gil;
  std::exception_ptr error;
  {
    std::size_t limit = inputs.size();
    std::vector<nb::object> objs;
    objs.reserve(limit);
    for (std::size_t i = 0; i < limit; ++i) {
      std::exception_ptr err = guarded([&] { objs.push_back(to_py(inputs[i], false)); });
      if (err) {
        error = err;
        limit = i;
      }
    }
    std::vector<Element> ragged;
    bool is_ragged = false;
    for (std::size_t s = 0; s < stages.size() && limit > 0; ++s) {
      is_ragged = false;
      std::exception_ptr err =
          stages[s].batch ? call_batch(stages[s], parallel, objs, limit, ragged, is_ragged)
                          : call_each(static_cast<PyObject*>(stages[s].fn.get()), objs, limit);
      if (err) error = err;  // for an input before any earlier failure
      if (s + 1 == stages.size()) break;
      for (std::size_t i = 0; i < limit; ++i) {
        err = guarded([&] { objs[i] = is_ragged ? to_py(ragged[i], false) : to_py(from_py(objs[i].ptr(), false), false); });
        if (err) {
          error = err;
          limit = i;
        }
      }
    }
    outputs.reserve(outputs.size() + limit);
    if (is_ragged) {
      for (std::size_t i = 0; i < limit; ++i) outputs.push_back(std::move(ragged[i]));
    } else {
      for (std::size_t i = 0; i < limit; ++i) {
        std::exception_ptr err = guarded([&] { outputs.push_back(from_py(objs[i].ptr(), false)); });
        if (err) {
          error = err;
          break;
        }
      }
    }
  }  // the Python objects are released with the GIL held
  if (error) std::rethrow_exception(error);
}

// A map callable (or a list of them, applied in order) as a chunk function, with the
// largest chunk it gets.
// seqkit.data's planned-batch gather (PlannedBatches) as a Python object: the views it
// holds point into the NumPy arrays in `keep`.
struct PyPlannedGather {
  PlannedBatches batches;
  std::vector<nb::object> keep;
};

// A planned gather runs as native work: no GIL, one batch per call.
std::pair<MapChunkFn, std::int64_t> planned_gather_fn(nb::handle fn) {
  const PlannedBatches* plan = &nb::cast<PyPlannedGather&>(fn).batches;
  MapChunkFn chunk = [plan, keep = py_ref(fn.ptr())](const std::vector<Element>& inputs,
                                                     std::vector<Element>& outputs) {
    for (const auto& e : inputs) {
      const auto* position = std::get_if<std::int64_t>(&e.value);
      if (position == nullptr) throw PipelineError("a planned gather takes batch positions (ints)");
      outputs.push_back(plan->gather(*position));
    }
  };
  return {std::move(chunk), 1};
}

std::pair<MapChunkFn, std::int64_t> wrap_map_fn(nb::handle fn, std::int64_t parallel) {
  if (nb::isinstance<PyPlannedGather>(fn)) return planned_gather_fn(fn);
  std::vector<nb::handle> fns;
  if (PyList_Check(fn.ptr()) || PyTuple_Check(fn.ptr())) {
    for (nb::handle f : fn) fns.push_back(f);
  } else {
    fns.push_back(fn);
  }
  std::vector<PyMapStage> stages;
  std::int64_t max_chunk = kMaxChunk;
  for (nb::handle f : fns) {
    PyMapStage stage{py_ref(f.ptr()), nullptr};
    PyObject* batch = PyObject_GetAttrString(f.ptr(), "__seqkit_map_batch__");
    if (batch == nullptr) {
      PyErr_Clear();
    } else {
      if (batch != Py_None && PyCallable_Check(batch) != 0) {
        stage.batch = py_ref(batch);
        max_chunk = kMaxBatchChunk;
      }
      Py_DECREF(batch);
    }
    stages.push_back(std::move(stage));
  }
  MapChunkFn chunk = [stages = std::move(stages), parallel](const std::vector<Element>& inputs,
                                                             std::vector<Element>& outputs) {
    run_py_chunk(stages, parallel, inputs, outputs);
  };
  return {std::move(chunk), max_chunk};
}

PredicateFn wrap_predicate(nb::handle fn) {
  auto f = py_ref(fn.ptr());
  return [f](const Element& e) {
    pin_thread_state();
    nb::gil_scoped_acquire gil;
    nb::object out = call_py(static_cast<PyObject*>(f.get()), e);
    int truth = PyObject_IsTrue(out.ptr());
    if (truth < 0) throw_pending_python_error();
    return truth == 1;
  };
}

// ----------------------------------------------------------------------- pipeline types

struct PyPipeline;

// Pipelines alive in this process. Their background threads must stop before the
// interpreter finalizes (a thread taking the GIL then aborts the process), so an atexit
// handler stops them all.
std::mutex g_live_mutex;
std::set<PyPipeline*> g_live;

struct PyPipeline {
  NodePtr root;
  std::int64_t position = 0;
  bool broken = false;

  explicit PyPipeline(NodePtr r) : root(std::move(r)) {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    g_live.insert(this);
  }
  PyPipeline(const PyPipeline&) = delete;
  PyPipeline& operator=(const PyPipeline&) = delete;
  ~PyPipeline() {
    {
      std::lock_guard<std::mutex> lock(g_live_mutex);
      g_live.erase(this);
    }
    release();
  }

  // Stops background threads without the GIL: they may be waiting for it.
  void release() {
    if (!root) return;
    if (PyGILState_Check() != 0) {
      nb::gil_scoped_release nogil;
      root->shutdown();
    } else {
      root->shutdown();
    }
    root.reset();
  }

  Node& node() {
    if (!root) {
      throw nb::value_error(
          "this DataPipeline was consumed by another pipeline (zip, concat, sample, round_robin "
          "or yield_from own their inputs); build a new one");
    }
    return *root;
  }

  NodePtr take() {
    node();
    return std::move(root);
  }
};

void shutdown_all_pipelines() {
  std::vector<PyPipeline*> live;
  {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    live.assign(g_live.begin(), g_live.end());
  }
  for (PyPipeline* p : live) p->release();
}

struct PyBuilder {
  NodePtr node;

  NodePtr& get() {
    if (!node) throw nb::value_error("this DataPipelineBuilder was already turned into a pipeline by and_return()");
    return node;
  }
};

nb::object errors_module() { return nb::module_::import_("seqkit.data.errors"); }

[[noreturn]] void raise_error(const char* cls, const std::string& message, nb::dict kwargs, PyObject* cause) {
  nb::object exc = errors_module().attr(cls)(message, **kwargs);
  if (cause != nullptr) PyException_SetCause(exc.ptr(), Py_NewRef(cause));
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
  throw nb::python_error();
}

[[noreturn]] void raise_pipeline_error(const PipelineError& e, std::int64_t position) {
  PyObject* cause = static_cast<PyObject*>(e.foreign.get());
  if (cause != nullptr && PyErr_GivenExceptionMatches(cause, PyExc_Exception) == 0) {
    // KeyboardInterrupt and SystemExit pass through unwrapped.
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(cause)), cause);
    throw nb::python_error();
  }
  std::string op = e.op.empty() ? "?" : e.op;
  std::string message = "the data pipeline failed on example " + std::to_string(position) +
                        " (0-based) in operator '" + op + "'";
  if (e.position >= 0) message += " after it had yielded " + std::to_string(e.position) + " elements";
  message += ": " + std::string(e.what());
  message += "; the pipeline is now broken: call reset() or load_state_dict() to use it again";
  nb::dict kwargs;
  kwargs["operator"] = op;
  kwargs["example_index"] = position;
  raise_error("DataPipelineError", message, kwargs, cause);
}

nb::object pipeline_next(PyPipeline& p) {
  Node& node = p.node();
  if (p.broken) {
    nb::dict kwargs;
    kwargs["operator"] = nb::none();
    kwargs["example_index"] = p.position;
    raise_error("DataPipelineError",
                "the data pipeline is broken by an earlier error; call reset() or load_state_dict() first",
                kwargs, nullptr);
  }
  std::optional<Element> e;
  try {
    // A ready prefetched element is taken with the GIL held: releasing it here would
    // hand it to the prefetch thread (which wants it for a Python map) and wait for a
    // whole call of that map to get it back.
    if (!node.try_next_ready(e)) {
      nb::gil_scoped_release nogil;
      e = node.next();
    }
  } catch (const PipelineError& err) {
    p.broken = true;
    raise_pipeline_error(err, p.position);
  } catch (const std::exception& err) {
    p.broken = true;
    raise_pipeline_error(PipelineError(err.what()), p.position);
  }
  if (!e) throw nb::stop_iteration();
  ++p.position;
  return to_py(*e, false);
}

constexpr const char* kStateFormat = "seqkit.data_pipeline";
constexpr std::int64_t kStateVersion = 1;

nb::dict pipeline_state(PyPipeline& p) {
  Node& node = p.node();
  Element st;
  try {
    nb::gil_scoped_release nogil;
    st = node.state();
  } catch (const PipelineError& err) {
    raise_pipeline_error(err, p.position);
  }
  nb::dict d;
  d["format"] = kStateFormat;
  d["version"] = kStateVersion;
  d["position"] = p.position;
  try {
    d["pipeline"] = to_py(st, true);
  } catch (const OpaqueInState& err) {
    std::string op = err.op.empty() ? "?" : err.op;
    std::string where = err.where.empty() ? "" : " (at '" + err.where.substr(err.where[0] == '.' ? 1 : 0) + "')";
    nb::dict kwargs;
    raise_error("DataPipelineStateError",
                "cannot save the data-pipeline state: operator '" + op + "' holds a Python object of type '" +
                    err.type_name + "'" + where +
                    ", which is not plain data. A pipeline state holds only None, bool, int, float, str, bytes, "
                    "lists, tuples, dicts and numeric arrays/tensors, and is never pickled, so that loading a "
                    "checkpoint cannot run code. Map the elements to plain data before '" +
                    op + "' (and rebuild the object after it), or save by position: keep an index in the "
                    "pipeline and look the object up after it",
                kwargs, nullptr);
  }
  return d;
}

void pipeline_load_state(PyPipeline& p, nb::dict d) {
  Node& node = p.node();
  auto fail = [](const std::string& message) {
    nb::dict kwargs;
    raise_error("DataPipelineStateError", message, kwargs, nullptr);
  };
  if (!d.contains("format") || !nb::isinstance<nb::str>(d["format"]) ||
      nb::cast<std::string>(d["format"]) != kStateFormat) {
    fail("the state dict is not a seqkit data-pipeline state (its 'format' is not '" + std::string(kStateFormat) +
         "'); pass what DataPipeline.state_dict() returned");
  }
  if (!d.contains("version") || nb::cast<std::int64_t>(d["version"]) != kStateVersion) {
    fail("the data-pipeline state has an unsupported version; this seqkit reads version " +
         std::to_string(kStateVersion));
  }
  Element st;
  try {
    st = from_py(nb::object(d["pipeline"]).ptr(), true);
  } catch (const StateError& e) {
    fail(std::string("cannot load the data-pipeline state: ") + e.what());
  } catch (const nb::cast_error&) {
    fail("cannot load the data-pipeline state: a tagged value in it is malformed; pass what "
         "DataPipeline.state_dict() returned");
  }
  std::int64_t position = nb::cast<std::int64_t>(d["position"]);
  std::string error;
  {
    nb::gil_scoped_release nogil;
    try {
      node.load_state(st, "");
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  if (!error.empty()) {
    p.broken = true;
    fail("cannot load the data-pipeline state: " + error);
  }
  p.position = position;
  p.broken = false;
}

nb::list pipeline_stats(PyPipeline& p) {
  std::vector<NodeStats> stats;
  p.node().collect_stats(stats, 0);
  nb::list out;
  for (const auto& s : stats) {
    nb::dict d;
    d["operator"] = s.op;
    d["depth"] = s.depth;
    d["num_yielded"] = s.num_yielded;
    d["time_s"] = static_cast<double>(s.time_ns) * 1e-9;
    for (const auto& [k, v] : s.counters) d[nb::str(k.c_str())] = v;
    out.append(d);
  }
  return out;
}

std::vector<NodePtr> take_all(nb::list pipelines) {
  std::vector<PyPipeline*> ps;
  for (nb::handle h : pipelines) ps.push_back(nb::cast<PyPipeline*>(h));
  std::vector<NodePtr> nodes;
  for (PyPipeline* p : ps) nodes.push_back(p->take());
  return nodes;
}

// A builder argument that must be callable: a TypeError naming it when it is not.
void require_callable(const char* call, const char* argument, nb::handle fn) {
  if (PyCallable_Check(fn.ptr()) == 0) {
    throw nb::type_error((std::string(call) + "(): " + argument + " must be callable, got " +
                          nb::type_name(fn.type()).c_str())
                             .c_str());
  }
}

EncodingErrors parse_errors(const std::string& s) {
  if (s == "strict") return EncodingErrors::kStrict;
  if (s == "replace") return EncodingErrors::kReplace;
  if (s == "ignore") return EncodingErrors::kIgnore;
  if (s == "report") return EncodingErrors::kReport;
  throw nb::value_error(
      ("encoding_errors must be 'strict', 'replace', 'ignore' or 'report', not '" + s + "'").c_str());
}

// Builds a node, turning C++ failures (bad files) into the component's read error; a bad
// argument (std::invalid_argument) stays a ValueError.
template <typename F>
PyBuilder build_source(F&& f) {
  std::string error;
  try {
    return PyBuilder{f()};
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    error = e.what();
  }
  raise_error("DataReadError", error, nb::dict(), nullptr);
}

// Lists of token ids (what a batch encoder returns) joined into one array of `dtype`, each
// row framed by `prefix` and `suffix`, plus the length of each row: one C++ pass instead
// of a Python loop over every id (the flattening cost 8% of a sentencepiece batch encode).
template <typename T>
nb::tuple concat_ids_as(PyObject* batch, const std::vector<std::int64_t>& prefix,
                        const std::vector<std::int64_t>& suffix, std::int64_t max_id) {
  Py_ssize_t rows = PyList_GET_SIZE(batch);
  auto frame = static_cast<std::int64_t>(prefix.size() + suffix.size());
  auto* lengths = new std::int64_t[static_cast<std::size_t>(rows)];
  nb::capsule lengths_owner(lengths, [](void* p) noexcept { delete[] static_cast<std::int64_t*>(p); });
  std::int64_t total = 0;
  for (Py_ssize_t r = 0; r < rows; ++r) {
    PyObject* row = PyList_GET_ITEM(batch, r);
    if (!PyList_CheckExact(row)) {
      throw nb::type_error(("row " + std::to_string(r) + " of the batch is not a list of ids").c_str());
    }
    lengths[r] = static_cast<std::int64_t>(PyList_GET_SIZE(row)) + frame;
    total += lengths[r];
  }
  auto* tokens = new T[static_cast<std::size_t>(std::max<std::int64_t>(total, 1))];
  nb::capsule tokens_owner(tokens, [](void* p) noexcept { delete[] static_cast<T*>(p); });
  auto check = [&](std::int64_t id, Py_ssize_t r) {
    if (id < 0 || id > max_id) {
      throw nb::value_error(("token id " + std::to_string(id) + " of row " + std::to_string(r) +
                             " does not fit the dtype (0 to " + std::to_string(max_id) + ")")
                                .c_str());
    }
    return static_cast<T>(id);
  };
  T* out = tokens;
  for (Py_ssize_t r = 0; r < rows; ++r) {
    for (std::int64_t id : prefix) *out++ = check(id, r);
    // Only exact lists of exact ints are read, so no Python code (an __index__) runs while
    // the batch is walked and no row can change size between the two passes.
    PyObject* row = PyList_GET_ITEM(batch, r);
    Py_ssize_t n = static_cast<Py_ssize_t>(lengths[r] - frame);
    for (Py_ssize_t i = 0; i < n; ++i) {
      PyObject* item = PyList_GET_ITEM(row, i);
      std::int64_t id = 0;
      if (!exact_int(item, id)) {
        if (!PyLong_CheckExact(item)) {
          throw nb::type_error(("item " + std::to_string(i) + " of row " + std::to_string(r) +
                                " is not an int")
                                   .c_str());
        }
        id = -1;  // beyond int64: reported as not fitting the dtype
      }
      *out++ = check(id, r);
    }
    for (std::int64_t id : suffix) *out++ = check(id, r);
  }
  std::size_t tokens_shape[1] = {static_cast<std::size_t>(total)};
  std::size_t lengths_shape[1] = {static_cast<std::size_t>(rows)};
  return nb::make_tuple(nb::ndarray<nb::numpy, T>(tokens, 1, tokens_shape, tokens_owner),
                        nb::ndarray<nb::numpy, std::int64_t>(lengths, 1, lengths_shape, lengths_owner));
}

nb::tuple concat_ids(nb::handle batch, const std::vector<std::int64_t>& prefix,
                     const std::vector<std::int64_t>& suffix, const std::string& dtype) {
  if (!PyList_CheckExact(batch.ptr())) throw nb::type_error("concat_ids expects a list of lists of ids");
  if (dtype == "uint16") return concat_ids_as<std::uint16_t>(batch.ptr(), prefix, suffix, 0xFFFF);
  if (dtype == "uint32") return concat_ids_as<std::uint32_t>(batch.ptr(), prefix, suffix, 0xFFFFFFFFLL);
  if (dtype == "int64") {
    return concat_ids_as<std::int64_t>(batch.ptr(), prefix, suffix, std::numeric_limits<std::int64_t>::max());
  }
  throw nb::value_error(("dtype must be 'uint16', 'uint32' or 'int64', not '" + dtype + "'").c_str());
}

// Total UTF-8 size of a list of str/bytes without encoding anything: an ASCII str is its
// own UTF-8, and str_to_py() filled the UTF-8 cache of every other line read_text made.
std::int64_t utf8_size(nb::handle lines) {
  if (!PyList_Check(lines.ptr())) throw nb::type_error("utf8_size expects a list of str or bytes");
  std::int64_t total = 0;
  Py_ssize_t n = PyList_GET_SIZE(lines.ptr());
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = PyList_GET_ITEM(lines.ptr(), i);
    if (PyBytes_Check(item)) {
      total += PyBytes_GET_SIZE(item);
      continue;
    }
    Py_ssize_t size = 0;
    if (!PyUnicode_Check(item) || PyUnicode_AsUTF8AndSize(item, &size) == nullptr) {
      if (PyErr_Occurred()) throw nb::python_error();
      throw nb::type_error(("item " + std::to_string(i) + " is neither str nor bytes").c_str());
    }
    total += size;
  }
  return total;
}

// Indices of the lines a bad-line policy must look at: not a str (bytes: invalid UTF-8),
// empty, longer than `max_chars` characters, or whitespace only (Python's isspace). Most
// lines are decided by their length and first character, a few ns each instead of the
// ~150 ns of a Python-level test per line.
nb::list lines_to_check(nb::handle lines, Py_ssize_t max_chars) {
  if (!PyList_Check(lines.ptr())) throw nb::type_error("lines_to_check expects a list of str or bytes");
  nb::list out;
  Py_ssize_t n = PyList_GET_SIZE(lines.ptr());
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* item = PyList_GET_ITEM(lines.ptr(), i);
    bool suspect = !PyUnicode_CheckExact(item);
    if (!suspect) {
      Py_ssize_t len = PyUnicode_GET_LENGTH(item);
      suspect = len == 0 || len > max_chars;
      if (!suspect) {
        int kind = PyUnicode_KIND(item);
        const void* data = PyUnicode_DATA(item);
        suspect = true;
        for (Py_ssize_t k = 0; k < len && suspect; ++k) {
          suspect = Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, k));
        }
      }
    }
    if (suspect) out.append(i);
  }
  return out;
}


// ------------------------------------------------------------- planned-batch gathers

using ReadOnly1D = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu, nb::ndim<1>>;
using Int64Array = nb::ndarray<const std::int64_t, nb::c_contig, nb::device::cpu, nb::ndim<1>>;
using OffsetArray = nb::ndarray<const std::uint64_t, nb::c_contig, nb::device::cpu, nb::ndim<1>>;

TokenColumn token_column(const ReadOnly1D& tokens, const OffsetArray& offsets) {
  std::optional<DType> dt = from_dl(tokens.dtype());
  if (!dt || (*dt != DType::kUInt16 && *dt != DType::kUInt32)) {
    throw nb::type_error("token ids must be a uint16 or uint32 array");
  }
  if (offsets.shape(0) < 1) throw nb::value_error("offsets must hold at least one entry");
  TokenColumn c;
  c.dtype = *dt;
  c.tokens = tokens.data();
  c.num_tokens = static_cast<std::int64_t>(tokens.shape(0));
  c.offsets = offsets.data();
  c.num_documents = static_cast<std::int64_t>(offsets.shape(0)) - 1;
  return c;
}

// A heap int64 buffer handed to NumPy, which frees it.
nb::ndarray<nb::numpy, std::int64_t> owned_int64(std::vector<std::int64_t>&& values,
                                                 std::vector<std::size_t> shape) {
  auto* held = new std::vector<std::int64_t>(std::move(values));
  nb::capsule owner(held, [](void* p) noexcept { delete static_cast<std::vector<std::int64_t>*>(p); });
  return nb::ndarray<nb::numpy, std::int64_t>(held->data(), shape.size(), shape.data(), owner);
}


Int64Array as_int64(nb::handle array, const char* what) {
  Int64Array out;
  if (!nb::try_cast(array, out, false)) {
    throw nb::type_error((std::string(what) + " must be a contiguous int64 array").c_str());
  }
  return out;
}

// ids and order may be int32 (plans over large datasets) or int64.
const void* index_data(nb::handle array, const char* what, bool& is_int32, std::int64_t& size) {
  ReadOnly1D arr;
  if (!nb::try_cast(array, arr, false)) throw nb::type_error((std::string(what) + " must be a 1-d array").c_str());
  std::optional<DType> dt = from_dl(arr.dtype());
  if (!dt || (*dt != DType::kInt32 && *dt != DType::kInt64)) {
    throw nb::type_error((std::string(what) + " must be an int32 or int64 array").c_str());
  }
  is_int32 = *dt == DType::kInt32;
  size = static_cast<std::int64_t>(arr.shape(0));
  return arr.data();
}

PyPlannedGather* make_planned_gather(const std::string& kind, nb::list datasets, std::vector<std::int64_t> pad_values,
                                     std::int64_t seq_len, nb::handle ids, nb::handle bounds,
                                     nb::handle dataset_starts, nb::handle order) {
  auto* g = new PyPlannedGather();
  std::unique_ptr<PyPlannedGather> owner(g);
  PlannedBatches& p = g->batches;
  if (kind == "windows") {
    p.kind = PlannedBatches::Kind::kWindows;
    if (seq_len < 1) throw nb::value_error("seq_len must be at least 1");
  } else if (kind == "padded") {
    p.kind = PlannedBatches::Kind::kPadded;
  } else {
    throw nb::value_error("kind must be 'windows' or 'padded'");
  }
  p.seq_len = seq_len;
  p.pad_values = std::move(pad_values);
  for (nb::handle dataset : datasets) {
    std::vector<TokenColumn> columns;
    for (nb::handle column : dataset) {
      nb::tuple pair = nb::cast<nb::tuple>(column);
      ReadOnly1D tokens = nb::cast<ReadOnly1D>(pair[0]);
      OffsetArray offsets = nb::cast<OffsetArray>(pair[1]);
      columns.push_back(token_column(tokens, offsets));
      g->keep.push_back(nb::borrow(pair[0]));
      g->keep.push_back(nb::borrow(pair[1]));
    }
    if (columns.empty()) throw nb::value_error("a dataset needs at least one column");
    if (p.kind == PlannedBatches::Kind::kWindows && columns.size() != 1) {
      throw nb::value_error("windows read one column per dataset");
    }
    if (p.kind == PlannedBatches::Kind::kPadded && columns.size() != p.pad_values.size()) {
      throw nb::value_error("one pad value per column");
    }
    p.datasets.push_back(std::move(columns));
  }
  if (p.datasets.empty()) throw nb::value_error("a plan needs at least one dataset");
  std::int64_t num_ids = 0, num_order = 0;
  p.ids = index_data(ids, "ids", p.ids_int32, num_ids);
  p.order = index_data(order, "order", p.order_int32, num_order);
  p.num_positions = num_order;
  Int64Array b = as_int64(bounds, "bounds"), starts = as_int64(dataset_starts, "dataset_starts");
  if (static_cast<std::size_t>(starts.shape(0)) != p.datasets.size() + 1) {
    throw nb::value_error("dataset_starts must hold one entry per dataset and the total");
  }
  const std::int64_t num_batches = static_cast<std::int64_t>(b.shape(0)) - 1;
  if (num_batches < 0 || starts.data()[p.datasets.size()] != num_batches) {
    throw nb::value_error("bounds and dataset_starts disagree on the number of batches");
  }
  for (std::int64_t k = 0; k < num_batches; ++k) {
    if (b.data()[k] < 0 || b.data()[k] > b.data()[k + 1] || b.data()[k + 1] > num_ids) {
      throw nb::value_error("bounds must rise within the ids");
    }
  }
  for (std::int64_t i = 0; i < num_order; ++i) {
    const std::int64_t k = p.order_int32 ? static_cast<const std::int32_t*>(p.order)[i]
                                         : static_cast<const std::int64_t*>(p.order)[i];
    if (k < 0 || k >= num_batches) throw nb::value_error("order names a batch the plan does not have");
  }
  p.bounds = b.data();
  p.dataset_starts = starts.data();
  for (nb::handle h : {ids, bounds, dataset_starts, order}) g->keep.push_back(nb::borrow(h));
  owner.release();
  return g;
}

nb::tuple py_pack_by_budget(const std::vector<Int64Array>& lengths, std::int64_t max_tokens,
                            std::int64_t max_batch_size) {
  if (lengths.empty()) throw nb::value_error("pack_by_budget needs at least one column of lengths");
  if (max_tokens < 1) throw nb::value_error("max_tokens must be at least 1");
  const auto n = static_cast<std::int64_t>(lengths[0].shape(0));
  std::vector<const std::int64_t*> columns;
  for (const auto& col : lengths) {
    if (static_cast<std::int64_t>(col.shape(0)) != n) throw nb::value_error("the length columns differ in size");
    columns.push_back(col.data());
  }
  std::vector<std::int64_t> kept;
  std::vector<std::int64_t> too_long;
  std::vector<std::int64_t> bounds;
  {
    nb::gil_scoped_release nogil;
    kept.reserve(static_cast<std::size_t>(n));
    bounds = pack_by_budget(columns, n, max_tokens, max_batch_size, kept, too_long);
  }
  const std::size_t nk = kept.size(), nb_ = bounds.size(), nt = too_long.size();
  return nb::make_tuple(owned_int64(std::move(kept), {nk}), owned_int64(std::move(bounds), {nb_}),
                        owned_int64(std::move(too_long), {nt}));
}

}  // namespace

NB_MODULE(_native, m) {
  m.doc() = "seqkit native core (data pipeline). Import seqkit.data instead.";
  // A pipeline whose map callable refers back to it (a global) forms a cycle that only
  // interpreter exit breaks; nanobind would report that as a leak.
  nb::set_leak_warnings(false);
  set_wait_hook(&check_signals);
  nb::module_::import_("atexit").attr("register")(nb::cpp_function(&shutdown_all_pipelines));

  nb::class_<PyPipeline>(m, "DataPipeline", "An iterable, resettable, resumable data pipeline.")
      .def("__iter__", [](nb::handle self) { return nb::borrow(self); })
      .def("__next__", &pipeline_next)
      .def(
          "reset",
          [](PyPipeline& p, bool reset_rng) {
            Node& node = p.node();
            {
              nb::gil_scoped_release nogil;
              node.reset(reset_rng);
            }
            p.position = 0;
            p.broken = false;
          },
          nb::arg("reset_rng") = false)
      .def("state_dict", &pipeline_state)
      .def("load_state_dict", &pipeline_load_state, nb::arg("state_dict"))
      .def_prop_ro("is_broken", [](PyPipeline& p) { return p.broken; })
      .def_prop_ro("position", [](PyPipeline& p) { return p.position; })
      .def("stats", &pipeline_stats)
      .def("close", [](PyPipeline& p) { p.release(); });

  nb::class_<PyBuilder>(m, "DataPipelineBuilder", "Chains operators; and_return() builds the pipeline.")
      .def(
          "map",
          [](PyBuilder& b, nb::handle fn, std::int64_t n, std::optional<std::string> selector) -> PyBuilder& {
            auto [chunk_fn, max_chunk] = wrap_map_fn(fn, std::max<std::int64_t>(n, 1));
            b.get() = make_chunked_map(b.get(), std::move(chunk_fn), selector.value_or(""), n, max_chunk);
            return b;
          },
          nb::arg("fn"), nb::arg("num_parallel_calls") = 1, nb::arg("selector") = nb::none(), nb::rv_policy::reference)
      .def(
          "filter",
          [](PyBuilder& b, nb::handle fn) -> PyBuilder& {
            require_callable("filter", "predicate", fn);
            b.get() = make_filter(b.get(), wrap_predicate(fn));
            return b;
          },
          nb::arg("predicate"), nb::rv_policy::reference)
      .def(
          "shuffle",
          [](PyBuilder& b, std::int64_t window, std::uint64_t seed) -> PyBuilder& {
            b.get() = make_shuffle(b.get(), window, seed);
            return b;
          },
          nb::arg("shuffle_window"), nb::arg("seed") = 0, nb::rv_policy::reference)
      .def(
          "bucket",
          [](PyBuilder& b, std::int64_t n, bool drop) -> PyBuilder& {
            b.get() = make_bucket(b.get(), n, drop);
            return b;
          },
          nb::arg("bucket_size"), nb::arg("drop_remainder") = false, nb::rv_policy::reference)
      .def(
          "bucket_by_length",
          [](PyBuilder& b, std::vector<std::pair<std::int64_t, std::int64_t>> sizes, std::optional<std::string> sel,
             std::int64_t min_len, bool skip_short, bool skip_long, bool drop, bool skip_long_alias) -> PyBuilder& {
            b.get() = make_bucket_by_length(b.get(), std::move(sizes), sel.value_or(""), min_len, skip_short,
                                            skip_long || skip_long_alias, drop);
            return b;
          },
          nb::arg("bucket_sizes"), nb::arg("selector") = nb::none(), nb::arg("min_data_len") = 1,
          nb::arg("skip_below_min_examples") = false, nb::arg("skip_above_max_examples") = false,
          nb::arg("drop_remainder") = false, nb::arg("skip_long_examples") = false, nb::rv_policy::reference)
      .def(
          "shard",
          [](PyBuilder& b, std::int64_t index, std::int64_t count) -> PyBuilder& {
            b.get() = make_shard(b.get(), index, count);
            return b;
          },
          nb::arg("shard_idx"), nb::arg("num_shards"), nb::rv_policy::reference)
      .def(
          "take",
          [](PyBuilder& b, std::int64_t n) -> PyBuilder& {
            b.get() = make_take(b.get(), n);
            return b;
          },
          nb::arg("num_examples"), nb::rv_policy::reference)
      .def(
          "skip",
          [](PyBuilder& b, std::int64_t n) -> PyBuilder& {
            b.get() = make_skip(b.get(), n);
            return b;
          },
          nb::arg("num_examples"), nb::rv_policy::reference)
      .def(
          "repeat",
          [](PyBuilder& b, std::optional<std::int64_t> n, bool reset_rng) -> PyBuilder& {
            b.get() = make_repeat(b.get(), n, reset_rng);
            return b;
          },
          nb::arg("num_repeats") = nb::none(), nb::arg("reset_rng") = false, nb::rv_policy::reference)
      .def(
          "yield_from",
          [](PyBuilder& b, nb::handle fn) -> PyBuilder& {
            require_callable("yield_from", "fn", fn);
            auto f = py_ref(fn.ptr());
            YieldFn yf = [f](const Element& e) -> NodePtr {
              pin_thread_state();
              nb::gil_scoped_acquire gil;
              nb::object out = call_py(static_cast<PyObject*>(f.get()), e);
              PyPipeline* p = nullptr;
              if (!nb::try_cast(out, p) || p == nullptr) {
                throw PipelineError("yield_from(fn): fn must return a DataPipeline");
              }
              return p->take();
            };
            b.get() = make_yield_from(b.get(), std::move(yf));
            return b;
          },
          nb::arg("fn"), nb::rv_policy::reference)
      .def(
          "unbatch",
          [](PyBuilder& b) -> PyBuilder& {
            b.get() = make_unbatch(b.get());
            return b;
          },
          nb::rv_policy::reference)
      .def(
          "prefetch",
          [](PyBuilder& b, std::int64_t n) -> PyBuilder& {
            b.get() = make_prefetch(b.get(), n);
            return b;
          },
          nb::arg("num_examples"), nb::rv_policy::reference)
      .def(
          "collate",
          [](PyBuilder& b, std::optional<std::int64_t> pad, std::int64_t multiple) -> PyBuilder& {
            b.get() = make_collate(b.get(), pad, multiple);
            return b;
          },
          nb::arg("pad_value") = nb::none(), nb::arg("pad_to_multiple") = 1, nb::rv_policy::reference)
      .def(
          "pack",
          [](PyBuilder& b, std::int64_t seq_len, std::optional<std::string> sel, std::int64_t pad,
             bool drop) -> PyBuilder& {
            b.get() = make_pack(b.get(), seq_len, sel.value_or(""), pad, drop);
            return b;
          },
          nb::arg("seq_len"), nb::arg("selector") = nb::none(), nb::arg("pad_value") = 0,
          nb::arg("drop_remainder") = false, nb::rv_policy::reference)
      .def("and_return", [](PyBuilder& b) { return new PyPipeline(std::move(b.get())); });

  m.def(
      "read_sequence",
      [](nb::handle seq) {
        std::vector<Element> items;
        for (nb::handle h : seq) items.push_back(from_py(h.ptr(), false));
        return PyBuilder{make_read_sequence(std::move(items))};
      },
      nb::arg("seq"));
  m.def(
      "read_text",
      [](const std::string& path, bool rtrim, bool ltrim, bool skip_empty, const std::string& errors) {
        EncodingErrors policy = parse_errors(errors);
        return build_source([&] { return make_read_text(path, rtrim, ltrim, skip_empty, policy); });
      },
      nb::arg("path"), nb::arg("rtrim") = false, nb::arg("ltrim") = false, nb::arg("skip_empty") = false,
      nb::arg("encoding_errors") = "strict");
  m.def(
      "read_tokens",
      [](const std::string& dir, const std::string& dtype, std::int64_t num_documents, std::int64_t num_tokens) {
        std::optional<DType> dt = dtype_from_name(dtype);
        if (!dt || (*dt != DType::kUInt16 && *dt != DType::kUInt32)) {
          throw nb::value_error("dtype must be 'uint16' or 'uint32'");
        }
        return build_source([&] { return make_read_tokens(dir, *dt, num_documents, num_tokens); });
      },
      nb::arg("directory"), nb::arg("dtype"), nb::arg("num_documents"), nb::arg("num_tokens"));
  m.def(
      "constant", [](nb::handle value) { return PyBuilder{make_constant(from_py(value.ptr(), false))}; },
      nb::arg("example"));
  m.def(
      "count", [](std::int64_t start, std::int64_t step) { return PyBuilder{make_count(start, step)}; },
      nb::arg("start") = 0, nb::arg("step") = 1);
  m.def(
      "zip",
      [](nb::list pipelines, std::vector<std::string> names, bool shortest, bool flatten) {
        // Checked before the pipelines are taken over: a bad call leaves them usable.
        validate_zip_names(names, pipelines.size());
        return PyBuilder{make_zip(take_all(pipelines), std::move(names), shortest, flatten)};
      },
      nb::arg("pipelines"), nb::arg("names") = std::vector<std::string>{}, nb::arg("zip_to_shortest") = false,
      nb::arg("flatten") = false);
  m.def(
      "round_robin",
      [](nb::list pipelines, bool stop) { return PyBuilder{make_round_robin(take_all(pipelines), stop)}; },
      nb::arg("pipelines"), nb::arg("stop_at_shortest") = false);
  m.def(
      "sample",
      [](nb::list pipelines, std::vector<double> weights, std::uint64_t seed) {
        validate_sample_weights(weights, pipelines.size());
        return PyBuilder{make_sample(take_all(pipelines), std::move(weights), seed)};
      },
      nb::arg("pipelines"), nb::arg("weights"), nb::arg("seed") = 0);
  m.def(
      "concat", [](nb::list pipelines) { return PyBuilder{make_concat(take_all(pipelines))}; },
      nb::arg("pipelines"));
  m.def(
      "collate_batch",
      [](nb::handle batch, std::optional<std::int64_t> pad, std::int64_t multiple) {
        Element e = from_py(batch.ptr(), false);
        const List* l = e.list();
        if (l == nullptr) {
          // A list of int lists became one array per example; a flat list of ints is one array.
          throw nb::type_error("collate expects a list of examples");
        }
        try {
          return to_py(collate_batch(*l, pad, multiple), false);
        } catch (const PipelineError& err) {
          raise_error("CollateError", err.what(), nb::dict(), nullptr);
        }
      },
      nb::arg("batch"), nb::arg("pad_value") = nb::none(), nb::arg("pad_to_multiple") = 1);
  m.def("num_threads", &shared_pool_size, "Threads in the process-wide native pool.");
  m.def(
      "count_lines",
      [](const std::string& path) {
        nb::gil_scoped_release release;
        MappedFile file(path);
        return count_lines(file.view());
      },
      nb::arg("path"), "Count the lines of a text file ('\\n' or '\\r\\n' endings).");
  m.def("concat_ids", &concat_ids, nb::arg("batch"), nb::arg("prefix"), nb::arg("suffix"),
        nb::arg("dtype"), "Join lists of token ids into (tokens, lengths) NumPy arrays.");
  m.def("utf8_size", &utf8_size, nb::arg("lines"), "Total UTF-8 size of a list of str/bytes.");
  m.def("lines_to_check", &lines_to_check, nb::arg("lines"), nb::arg("max_chars"),
        "Indices of the lines that are bytes, empty, whitespace only or over max_chars.");
  nb::class_<PyPlannedGather>(m, "PlannedGather",
                               "One epoch's planned batches as a native map step (seqkit.data.batches).")
      .def(nb::new_(&make_planned_gather), nb::arg("kind"), nb::arg("datasets"), nb::arg("pad_values"),
           nb::arg("seq_len"), nb::arg("ids"), nb::arg("bounds"), nb::arg("dataset_starts"), nb::arg("order"))
      .def_prop_ro("num_batches", [](const PyPlannedGather& g) { return g.batches.num_positions; });
  m.def("pack_by_budget", &py_pack_by_budget, nb::arg("lengths"), nb::arg("max_tokens"),
        nb::arg("max_batch_size") = 0, "Cut ordered examples into batches within a padded-token budget.");
}
