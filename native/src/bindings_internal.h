// What the binding files (bindings*.cc) share; private to the Python module. These are the
// only files that include nanobind or Python.h.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "seqkit/batch_gather.h"
#include "seqkit/ops.h"

namespace seqkit::py {

namespace nb = nanobind;

// ---------------------------------------------- bindings_convert.cc: references, conversions

// True once the interpreter is shutting down (see bindings_convert.cc).
bool finalizing();

// A strong reference to `o` that any thread may drop last (the deleter takes the GIL).
std::shared_ptr<void> py_ref(PyObject* o);

std::optional<DType> dtype_from_name(const std::string& name);
std::optional<DType> from_dl(nb::dlpack::dtype dt);

// A str from UTF-8 text (also filling the str's UTF-8 cache).
nb::object str_to_py(const std::string& s);

// An element as a Python object and back. `for_state`: plain data only (arrays as bytes,
// tuples tagged); a foreign object that is not plain data throws OpaqueInState.
nb::object to_py(const Element& e, bool for_state);
Element from_py(PyObject* o, bool for_state);

// An array (DLPack or buffer protocol) as an element.
Element try_array(PyObject* o);

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

// --------------------------------------------- bindings_callables.cc: Python callables

// Throws the pending Python exception as a PipelineError that keeps the exception object.
[[noreturn]] void throw_pending_python_error();

// The core's wait hook: a pending Ctrl-C as an exception.
void check_signals();

// Keeps one thread state for a native thread that calls Python (before taking the GIL).
void pin_thread_state();

// fn(e) with the GIL held; a Python exception comes back as a PipelineError.
nb::object call_py(PyObject* fn, const Element& e);

// The callable arguments of map, filter and yield_from as core functions.
std::pair<MapChunkFn, std::int64_t> wrap_map_fn(nb::handle fn, std::int64_t parallel);
PredicateFn wrap_predicate(nb::handle fn);
YieldFn wrap_yield_fn(nb::handle fn);

// ---------------------------------------------- bindings_pipeline.cc: pipeline, builder

// A DataPipeline: owns the root node; registered as live until destroyed, so that
// shutdown_all_pipelines (at exit) stops its background threads.
struct PyPipeline {
  NodePtr root;
  std::int64_t position = 0;
  bool broken = false;

  explicit PyPipeline(NodePtr r);
  PyPipeline(const PyPipeline&) = delete;
  PyPipeline& operator=(const PyPipeline&) = delete;
  ~PyPipeline();

  // Stops background threads without the GIL: they may be waiting for it.
  void release();
  Node& node();
  NodePtr take();
};

void shutdown_all_pipelines();

struct PyBuilder {
  NodePtr node;

  NodePtr& get() {
    if (!node) throw nb::value_error("this DataPipelineBuilder was already turned into a pipeline by and_return()");
    return node;
  }
};

// Raises seqkit.data.errors.<cls>(message, **kwargs), chained to `cause` if not null.
[[noreturn]] void raise_error(const char* cls, const std::string& message, nb::dict kwargs, PyObject* cause);

// A builder argument that must be callable: a TypeError naming it when it is not.
void require_callable(const char* call, const char* argument, nb::handle fn);

// ----------------------------------------------- bindings_batches.cc: planned batches

// seqkit.data's planned-batch gather (PlannedBatches) as a Python object: the views it
// holds point into the NumPy arrays in `keep`.
struct PyPlannedGather {
  PlannedBatches batches;
  std::vector<nb::object> keep;
};

// ------------------------------------------------------------------- registration

void register_pipeline(nb::module_& m);  // DataPipeline, DataPipelineBuilder, sources
void register_text(nb::module_& m);      // line counting, token-id and text helpers
void register_batches(nb::module_& m);   // PlannedGather, pack_by_budget

}  // namespace seqkit::py
