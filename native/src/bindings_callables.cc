// Python callables in the pipeline: errors, thread states, map chunks, filter and yield_from.
#include "bindings_internal.h"

#include <algorithm>

namespace seqkit::py {

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

// A map callable (or a list of them, applied in order) as a chunk function, with the
// largest chunk it gets.
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
  require_callable("filter", "predicate", fn);
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

// A yield_from callable: each element's fn(e) must be a DataPipeline, whose node it takes.
YieldFn wrap_yield_fn(nb::handle fn) {
  require_callable("yield_from", "fn", fn);
  auto f = py_ref(fn.ptr());
  return [f](const Element& e) -> NodePtr {
    pin_thread_state();
    nb::gil_scoped_acquire gil;
    nb::object out = call_py(static_cast<PyObject*>(f.get()), e);
    PyPipeline* p = nullptr;
    if (!nb::try_cast(out, p) || p == nullptr) {
      throw PipelineError("yield_from(fn): fn must return a DataPipeline");
    }
    return p->take();
  };
}

}  // namespace seqkit::py
