// Text and token-id helpers: line counting, concat_ids, utf8_size, lines_to_check.
#include "bindings_internal.h"

#include <cstring>
#include <limits>

#include "seqkit/line_reader.h"

namespace seqkit::py {

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

void register_text(nb::module_& m) {
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
}

}  // namespace seqkit::py
