// Python bindings of the native core: the only file that includes nanobind.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <string>
#include <vector>

#include "seqkit/line_reader.h"

namespace nb = nanobind;

NB_MODULE(_native, m) {
  m.doc() = "seqkit native core (data pipeline).";

  m.def(
      "count_lines",
      [](const std::string& path) {
        nb::gil_scoped_release release;
        seqkit::MappedFile file(path);
        return seqkit::count_lines(file.view());
      },
      nb::arg("path"), "Count the lines of a text file ('\\n' or '\\r\\n' endings).");

  m.def(
      "read_lines",
      [](const std::string& path) {
        std::vector<std::string> out;
        {
          nb::gil_scoped_release release;
          seqkit::MappedFile file(path);
          for (std::string_view line : seqkit::split_lines(file.view())) {
            out.emplace_back(line);
          }
        }
        return out;
      },
      nb::arg("path"), "Read every line of a UTF-8 text file, without line endings.");
}
