// The Python module `seqkit._native`: module setup and registration only. The bindings
// live in bindings_convert.cc (element conversion), bindings_callables.cc (Python
// callables), bindings_pipeline.cc (pipeline and builder types, sources), bindings_text.cc
// and bindings_batches.cc; bindings_internal.h holds what they share.
#include "bindings_internal.h"

using namespace seqkit::py;

NB_MODULE(_native, m) {
  m.doc() = "seqkit native core (data pipeline). Import seqkit.data instead.";
  // A pipeline whose map callable refers back to it (a global) forms a cycle that only
  // interpreter exit breaks; nanobind would report that as a leak.
  nb::set_leak_warnings(false);
  seqkit::set_wait_hook(&check_signals);
  nb::module_::import_("atexit").attr("register")(nb::cpp_function(&shutdown_all_pipelines));


  register_pipeline(m);
  register_text(m);
  register_batches(m);
}
