// Python object references, element conversion (to_py/from_py) and DLPack arrays.
#include "bindings_internal.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "seqkit/token_files.h"

namespace seqkit::py {

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

}  // namespace seqkit::py
