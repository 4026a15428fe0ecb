// The DataPipeline and DataPipelineBuilder types, pipeline state, and the source functions.
#include "bindings_internal.h"

#include <algorithm>
#include <mutex>
#include <set>

#include "seqkit/line_reader.h"
#include "seqkit/thread_pool.h"
#include "seqkit/token_files.h"

namespace seqkit::py {

// ----------------------------------------------------------------------- pipeline types

namespace {

// Pipelines alive in this process. Their background threads must stop before the
// interpreter finalizes (a thread taking the GIL then aborts the process), so an atexit
// handler stops them all.
std::mutex g_live_mutex;
std::set<PyPipeline*> g_live;

}  // namespace

PyPipeline::PyPipeline(NodePtr r) : root(std::move(r)) {
  std::lock_guard<std::mutex> lock(g_live_mutex);
  g_live.insert(this);
}

PyPipeline::~PyPipeline() {
  {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    g_live.erase(this);
  }
  release();
}

void PyPipeline::release() {
  if (!root) return;
  if (PyGILState_Check() != 0) {
    nb::gil_scoped_release nogil;
    root->shutdown();
  } else {
    root->shutdown();
  }
  root.reset();
}

Node& PyPipeline::node() {
  if (!root) {
    throw nb::value_error(
        "this DataPipeline was consumed by another pipeline (zip, concat, sample, round_robin "
        "or yield_from own their inputs); build a new one");
  }
  return *root;
}

NodePtr PyPipeline::take() {
  node();
  return std::move(root);
}

void shutdown_all_pipelines() {
  std::vector<PyPipeline*> live;
  {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    live.assign(g_live.begin(), g_live.end());
  }
  for (PyPipeline* p : live) p->release();
}

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

namespace {

// A builder method that chains one operator: `make(node, args...)` replaces the builder's
// node and the builder comes back, so calls chain.
template <typename... Args>
auto chain(NodePtr (*make)(NodePtr, Args...)) {
  return [make](PyBuilder& b, Args... args) -> PyBuilder& {
    b.get() = make(b.get(), std::move(args)...);
    return b;
  };
}

template <typename... Args, typename... Extra>
void def_step(nb::class_<PyBuilder>& cls, const char* name, NodePtr (*make)(NodePtr, Args...),
              const Extra&... extra) {
  cls.def(name, chain(make), extra..., nb::rv_policy::reference);
}

}  // namespace

void register_pipeline(nb::module_& m) {
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

  nb::class_<PyBuilder> builder(m, "DataPipelineBuilder", "Chains operators; and_return() builds the pipeline.");
  builder
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
            PredicateFn predicate = wrap_predicate(fn);  // checks fn first
            b.get() = make_filter(b.get(), std::move(predicate));
            return b;
          },
          nb::arg("predicate"), nb::rv_policy::reference);
  def_step(builder, "shuffle", &make_shuffle, nb::arg("shuffle_window"), nb::arg("seed") = 0);
  def_step(builder, "bucket", &make_bucket, nb::arg("bucket_size"), nb::arg("drop_remainder") = false);
  builder
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
          nb::arg("drop_remainder") = false, nb::arg("skip_long_examples") = false, nb::rv_policy::reference);
  def_step(builder, "shard", &make_shard, nb::arg("shard_idx"), nb::arg("num_shards"));
  def_step(builder, "take", &make_take, nb::arg("num_examples"));
  def_step(builder, "skip", &make_skip, nb::arg("num_examples"));
  def_step(builder, "repeat", &make_repeat, nb::arg("num_repeats") = nb::none(), nb::arg("reset_rng") = false);
  builder
      .def(
          "yield_from",
          [](PyBuilder& b, nb::handle fn) -> PyBuilder& {
            YieldFn yield_fn = wrap_yield_fn(fn);  // checks fn first
            b.get() = make_yield_from(b.get(), std::move(yield_fn));
            return b;
          },
          nb::arg("fn"), nb::rv_policy::reference);
  def_step(builder, "unbatch", &make_unbatch);
  def_step(builder, "prefetch", &make_prefetch, nb::arg("num_examples"));
  def_step(builder, "collate", &make_collate, nb::arg("pad_value") = nb::none(), nb::arg("pad_to_multiple") = 1);
  builder
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
}

}  // namespace seqkit::py
