// The value that flows through a data pipeline: a small variant over plain data,
// numeric arrays and opaque (Python) objects. Containers are immutable and shared.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace seqkit {

enum class DType : std::uint8_t {
  kBool,
  kInt8,
  kUInt8,
  kInt16,
  kUInt16,
  kInt32,
  kUInt32,
  kInt64,
  kFloat32,
  kFloat64,
};

std::size_t dtype_size(DType dtype) noexcept;
const char* dtype_name(DType dtype) noexcept;
bool dtype_is_integer(DType dtype) noexcept;

// A dense, C-contiguous numeric array. `owner` keeps the memory alive (a heap buffer,
// a memory-mapped file, or a foreign tensor), so slices are zero-copy.
struct Array {
  DType dtype = DType::kInt64;
  std::vector<std::int64_t> shape;
  std::shared_ptr<const void> owner;
  const void* data = nullptr;
  // Set when the array came from a Python list of ints: it goes back out as a list.
  bool as_list = false;

  std::int64_t numel() const noexcept;
  std::size_t nbytes() const noexcept { return static_cast<std::size_t>(numel()) * dtype_size(dtype); }
  // Reads element i as int64 / double whatever the dtype.
  std::int64_t int_at(std::int64_t i) const noexcept;
  double float_at(std::int64_t i) const noexcept;

  static Array allocate(DType dtype, std::vector<std::int64_t> shape);
  void* mutable_data() const noexcept { return const_cast<void*>(data); }
};

// A reference to a foreign (Python) object. The deleter installed by the bindings
// takes the GIL, so the core can copy and drop these from any thread.
struct Opaque {
  std::shared_ptr<void> object;
};

struct Bytes {
  std::string data;
};

struct Element;

struct List {
  std::vector<Element> items;
  bool is_tuple = false;
};

struct Dict {
  std::vector<std::pair<std::string, Element>> items;
  const Element* find(std::string_view key) const noexcept;
};

using ListPtr = std::shared_ptr<const List>;
using DictPtr = std::shared_ptr<const Dict>;

struct Element {
  using Value = std::variant<std::monostate, bool, std::int64_t, double, std::string, Bytes, Array,
                             ListPtr, DictPtr, Opaque>;
  Value value;

  Element() = default;
  Element(bool v) : value(v) {}  // NOLINT(google-explicit-constructor)
  Element(std::int64_t v) : value(v) {}  // NOLINT
  Element(int v) : value(static_cast<std::int64_t>(v)) {}  // NOLINT
  Element(double v) : value(v) {}  // NOLINT
  Element(std::string v) : value(std::move(v)) {}  // NOLINT
  Element(const char* v) : value(std::string(v)) {}  // NOLINT
  Element(Bytes v) : value(std::move(v)) {}  // NOLINT
  Element(Array v) : value(std::move(v)) {}  // NOLINT
  Element(List v) : value(std::make_shared<const List>(std::move(v))) {}  // NOLINT
  Element(Dict v) : value(std::make_shared<const Dict>(std::move(v))) {}  // NOLINT
  Element(Opaque v) : value(std::move(v)) {}  // NOLINT

  bool is_none() const noexcept { return std::holds_alternative<std::monostate>(value); }
  template <typename T>
  bool is() const noexcept {
    return std::holds_alternative<T>(value);
  }
  const List* list() const noexcept;
  const Dict* dict() const noexcept;
  const Array* array() const noexcept { return std::get_if<Array>(&value); }

  const char* type_name() const noexcept;
};

// Typed accessors for state dicts; they throw std::runtime_error naming the key.
const Element& dict_get(const Element& dict, std::string_view key);
std::int64_t get_int(const Element& dict, std::string_view key);
bool get_bool(const Element& dict, std::string_view key);
// Lists of ints may come back from Python as int arrays; both read as a List.
List get_list(const Element& dict, std::string_view key);
List as_list(const Element& e);
std::string get_str(const Element& dict, std::string_view key);

// Length of a sequence-like element (array dim 0, list, string, bytes); throws otherwise.
std::int64_t element_length(const Element& element);

// Follows a selector such as "tokens", "src.seqs" or "[1].ids"; throws when it does not resolve.
const Element& select(const Element& element, std::string_view selector);
// Returns a copy of `element` with the value at `selector` replaced.
Element replace_at(const Element& element, std::string_view selector, Element value);

}  // namespace seqkit
