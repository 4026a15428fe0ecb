// Batch collation (fairseq2 Collater semantics) and token packing.
#include <algorithm>
#include <cstring>

#include "seqkit/ops.h"
#include "seqkit/validate.h"

namespace seqkit {
namespace {

template <typename T>
void widen(const T* src, std::int64_t n, std::int64_t* dst) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<std::int64_t>(src[i]);
}

// Copies a[begin:begin+n] (1-D, any integer dtype) into int64 memory.
void copy_as_int64(const Array& a, std::int64_t begin, std::int64_t n, std::int64_t* dst) {
  const char* base = static_cast<const char*>(a.data) + static_cast<std::size_t>(begin) * dtype_size(a.dtype);
  switch (a.dtype) {
    case DType::kInt64: std::memcpy(dst, base, static_cast<std::size_t>(n) * 8); return;
    case DType::kInt32: widen(reinterpret_cast<const std::int32_t*>(base), n, dst); return;
    case DType::kUInt32: widen(reinterpret_cast<const std::uint32_t*>(base), n, dst); return;
    case DType::kInt16: widen(reinterpret_cast<const std::int16_t*>(base), n, dst); return;
    case DType::kUInt16: widen(reinterpret_cast<const std::uint16_t*>(base), n, dst); return;
    case DType::kInt8: widen(reinterpret_cast<const std::int8_t*>(base), n, dst); return;
    case DType::kUInt8:
    case DType::kBool: widen(reinterpret_cast<const std::uint8_t*>(base), n, dst); return;
    default: throw PipelineError(std::string("expected integer tokens, got ") + dtype_name(a.dtype));
  }
}

bool same_shape(const Array& a, const Array& b) { return a.shape == b.shape; }

// True when the arrays are back-to-back slices of one buffer (rows that pack() cut from
// one block), so that stacking them is a view instead of a copy.
bool contiguous_rows(const std::vector<const Array*>& arrays) {
  const Array& first = *arrays[0];
  const char* expect = static_cast<const char*>(first.data);
  for (const Array* a : arrays) {
    if (a->owner != first.owner || a->data != expect || a->as_list) return false;
    expect += first.nbytes();
  }
  return true;
}

Element stack_arrays(const std::vector<const Array*>& arrays) {
  const Array& first = *arrays[0];
  std::vector<std::int64_t> shape{static_cast<std::int64_t>(arrays.size())};
  shape.insert(shape.end(), first.shape.begin(), first.shape.end());
  if (contiguous_rows(arrays)) {
    Array view = first;
    view.shape = std::move(shape);
    return Element(std::move(view));
  }
  Array out = Array::allocate(first.dtype, shape);
  char* dst = static_cast<char*>(out.mutable_data());
  std::size_t row = first.nbytes();
  for (const Array* a : arrays) {
    if (row != 0) std::memcpy(dst, a->data, row);
    dst += row;
  }
  return Element(std::move(out));
}

Element pad_arrays(const std::vector<const Array*>& arrays, std::int64_t pad_value, std::int64_t multiple) {
  const Array& first = *arrays[0];
  std::int64_t max_len = 0;
  bool ragged = false;
  for (const Array* a : arrays) {
    if (a->shape.empty()) throw PipelineError("cannot pad a 0-d array; use pad_value=None to stack scalars");
    if (a->shape[0] != first.shape[0]) ragged = true;
    max_len = std::max(max_len, a->shape[0]);
    if (!std::equal(a->shape.begin() + 1, a->shape.end(), first.shape.begin() + 1, first.shape.end())) {
      throw PipelineError("cannot pad arrays whose trailing dimensions differ");
    }
  }
  if (multiple > 1) max_len = (max_len + multiple - 1) / multiple * multiple;
  std::int64_t inner = 1;
  for (std::size_t d = 1; d < first.shape.size(); ++d) inner *= first.shape[d];
  std::vector<std::int64_t> shape{static_cast<std::int64_t>(arrays.size()), max_len};
  shape.insert(shape.end(), first.shape.begin() + 1, first.shape.end());
  Array lens = Array::allocate(DType::kInt64, {static_cast<std::int64_t>(arrays.size())});
  auto* len_out = static_cast<std::int64_t*>(lens.mutable_data());
  Array seqs;
  if (dtype_is_integer(first.dtype)) {
    // Integer sequences come out as int64 (LongTensor), what embeddings and losses take.
    seqs = Array::allocate(DType::kInt64, shape);
    auto* out = static_cast<std::int64_t*>(seqs.mutable_data());
    std::int64_t row = max_len * inner;
    for (std::size_t i = 0; i < arrays.size(); ++i) {
      const Array& a = *arrays[i];
      std::int64_t n = a.shape[0] * inner;
      if (a.dtype != first.dtype) throw PipelineError("cannot collate arrays of different dtypes");
      copy_as_int64(a, 0, n, out + static_cast<std::int64_t>(i) * row);
      std::fill(out + static_cast<std::int64_t>(i) * row + n, out + static_cast<std::int64_t>(i + 1) * row, pad_value);
      len_out[i] = a.shape[0];
    }
  } else {
    seqs = Array::allocate(first.dtype, shape);
    std::size_t es = dtype_size(first.dtype);
    std::size_t row = static_cast<std::size_t>(max_len * inner) * es;
    char* out = static_cast<char*>(seqs.mutable_data());
    for (std::size_t i = 0; i < arrays.size(); ++i) {
      const Array& a = *arrays[i];
      if (a.dtype != first.dtype) throw PipelineError("cannot collate arrays of different dtypes");
      std::size_t n = a.nbytes();
      std::memcpy(out + i * row, a.data, n);
      for (std::size_t k = n / es; k < row / es; ++k) {
        if (first.dtype == DType::kFloat32) {
          reinterpret_cast<float*>(out + i * row)[k] = static_cast<float>(pad_value);
        } else if (first.dtype == DType::kFloat64) {
          reinterpret_cast<double*>(out + i * row)[k] = static_cast<double>(pad_value);
        } else {
          out[i * row + k] = static_cast<char>(pad_value);
        }
      }
      len_out[i] = a.shape[0];
    }
  }
  Dict d;
  d.items.emplace_back("seqs", Element(std::move(seqs)));
  d.items.emplace_back("seq_lens", Element(std::move(lens)));
  d.items.emplace_back("is_ragged", ragged);
  return Element(std::move(d));
}

template <typename T, DType D>
Element stack_scalars(const std::vector<const Element*>& items) {
  Array out = Array::allocate(D, {static_cast<std::int64_t>(items.size())});
  T* dst = static_cast<T*>(out.mutable_data());
  for (std::size_t i = 0; i < items.size(); ++i) dst[i] = std::get<T>(items[i]->value);
  return Element(std::move(out));
}

Element collate_items(const std::vector<const Element*>& items, std::optional<std::int64_t> pad,
                      std::int64_t multiple, const std::string& path) {
  const Element& first = *items[0];
  std::string where = path.empty() ? std::string("the batch") : "field '" + path + "'";
  for (std::size_t i = 1; i < items.size(); ++i) {
    if (items[i]->value.index() != first.value.index()) {
      throw PipelineError("cannot collate " + where + ": example " + std::to_string(i) + " holds a " +
                          items[i]->type_name() + " where example 0 holds a " + first.type_name());
    }
  }
  if (const Dict* d0 = first.dict()) {
    Dict out;
    for (const auto& [key, _] : d0->items) {
      std::vector<const Element*> sub;
      for (std::size_t i = 0; i < items.size(); ++i) {
        const Element* v = items[i]->dict()->find(key);
        if (v == nullptr) {
          throw PipelineError("cannot collate " + where + ": example " + std::to_string(i) + " has no key '" +
                              key + "'");
        }
        sub.push_back(v);
      }
      out.items.emplace_back(key, collate_items(sub, pad, multiple, path.empty() ? key : path + "." + key));
    }
    return Element(std::move(out));
  }
  if (const List* l0 = first.list()) {
    List out;
    out.is_tuple = l0->is_tuple;
    for (std::size_t k = 0; k < l0->items.size(); ++k) {
      std::vector<const Element*> sub;
      for (std::size_t i = 0; i < items.size(); ++i) {
        const List* li = items[i]->list();
        if (li->items.size() != l0->items.size()) {
          throw PipelineError("cannot collate " + where + ": example " + std::to_string(i) + " has " +
                              std::to_string(li->items.size()) + " items where example 0 has " +
                              std::to_string(l0->items.size()));
        }
        sub.push_back(&li->items[k]);
      }
      out.items.push_back(collate_items(sub, pad, multiple, path + "[" + std::to_string(k) + "]"));
    }
    return Element(std::move(out));
  }
  if (first.array() != nullptr) {
    std::vector<const Array*> arrays;
    bool equal = true, all_lists = true;
    for (const Element* e : items) {
      arrays.push_back(e->array());
      equal = equal && same_shape(*arrays.back(), *arrays[0]) && arrays.back()->dtype == arrays[0]->dtype;
      all_lists = all_lists && arrays.back()->as_list;
    }
    if (pad) return pad_arrays(arrays, *pad, multiple);
    if (equal) return stack_arrays(arrays);
    if (all_lists) {
      // Ragged int lists without a pad value stay a list of lists (e.g. packed doc_lens).
      List out;
      for (const Element* e : items) out.items.push_back(*e);
      return Element(std::move(out));
    }
    throw PipelineError("cannot collate " + where + ": its arrays have different shapes; pass pad_value= to pad them");
  }
  if (first.is<std::int64_t>()) return stack_scalars<std::int64_t, DType::kInt64>(items);
  if (first.is<double>()) return stack_scalars<double, DType::kFloat64>(items);
  if (first.is<bool>()) {
    Array out = Array::allocate(DType::kBool, {static_cast<std::int64_t>(items.size())});
    auto* dst = static_cast<std::uint8_t*>(out.mutable_data());
    for (std::size_t i = 0; i < items.size(); ++i) dst[i] = std::get<bool>(items[i]->value) ? 1 : 0;
    return Element(std::move(out));
  }
  // Strings, bytes, None and foreign objects are gathered into a list.
  List out;
  for (const Element* e : items) out.items.push_back(*e);
  return Element(std::move(out));
}

class Collate final : public Node {
 public:
  Collate(NodePtr input, std::optional<std::int64_t> pad, std::int64_t multiple)
      : Node("collate", {std::move(input)}), pad_(pad), multiple_(multiple) {}

 protected:
  std::optional<Element> do_next() override {
    auto e = pull();
    if (!e) return std::nullopt;
    const List* batch = e->list();
    if (batch == nullptr) {
      throw PipelineError(std::string("collate() needs a list of examples (use bucket() first), got a ") +
                          e->type_name());
    }
    return collate_batch(*batch, pad_, multiple_);
  }
  void do_reset(bool reset_rng) override { inputs_[0]->reset(reset_rng); }
  void save(Dict&) override {}
  void load(const Element&) override {}

 private:
  std::optional<std::int64_t> pad_;
  std::int64_t multiple_;
};

class Pack final : public Node {
 public:
  Pack(NodePtr input, std::int64_t seq_len, std::string selector, std::int64_t pad_value, bool drop_remainder)
      : Node("pack", {std::move(input)}),
        seq_len_(seq_len),
        selector_(std::move(selector)),
        pad_value_(pad_value),
        drop_remainder_(drop_remainder) {}

 protected:
  std::optional<Element> do_next() override {
    // Rows are cut from blocks of block_rows_ so that collate() can stack a batch of
    // consecutive rows as a view: one copy of the tokens instead of two.
    if (block_used_ == block_rows_) {
      block_ = Array::allocate(DType::kInt64, {block_rows_, seq_len_});
      block_used_ = 0;
    }
    Array row = block_;
    row.shape = {seq_len_};
    row.data = static_cast<const std::int64_t*>(block_.data) + block_used_ * seq_len_;
    auto* out = static_cast<std::int64_t*>(row.mutable_data());
    std::vector<std::int64_t> lens;
    std::int64_t fill = 0;
    while (fill < seq_len_) {
      if (!current_) {
        auto e = pull();
        if (!e) break;
        const Element& doc = selector_.empty() ? *e : select(*e, selector_);
        if (const List* l = doc.list(); l != nullptr && l->items.empty()) {
          ++empty_docs_;  // an empty Python list
          continue;
        }
        const Array* a = doc.array();
        if (a == nullptr || a->shape.size() != 1) {
          throw PipelineError(std::string("pack() needs 1-d token arrays, got a ") + doc.type_name());
        }
        if (a->shape[0] == 0) {
          ++empty_docs_;
          continue;
        }
        current_ = *a;
        offset_ = 0;
      }
      std::int64_t take = std::min(seq_len_ - fill, current_->shape[0] - offset_);
      copy_as_int64(*current_, offset_, take, out + fill);
      lens.push_back(take);
      fill += take;
      offset_ += take;
      if (offset_ == current_->shape[0]) current_.reset();
    }
    if (fill == 0) return std::nullopt;
    ++block_used_;
    if (fill < seq_len_) {
      if (drop_remainder_) {
        dropped_tokens_ += fill;
        return std::nullopt;
      }
      std::fill(out + fill, out + seq_len_, pad_value_);
    }
    Array doc_lens = Array::allocate(DType::kInt64, {static_cast<std::int64_t>(lens.size())});
    std::memcpy(doc_lens.mutable_data(), lens.data(), lens.size() * 8);
    doc_lens.as_list = true;
    Dict d;
    d.items.emplace_back("seqs", Element(std::move(row)));
    d.items.emplace_back("doc_lens", Element(std::move(doc_lens)));
    return Element(std::move(d));
  }
  void do_reset(bool reset_rng) override {
    current_.reset();
    offset_ = 0;
    block_used_ = block_rows_;  // a fresh block, so that batches line up with blocks again
    inputs_[0]->reset(reset_rng);
  }
  // The unconsumed tail of a document split across rows travels in the state.
  void save(Dict& out) override {
    if (current_) {
      Array rest = *current_;
      rest.shape = {current_->shape[0] - offset_};
      rest.data = static_cast<const char*>(current_->data) + static_cast<std::size_t>(offset_) * dtype_size(current_->dtype);
      out.items.emplace_back("rest", Element(std::move(rest)));
    } else {
      out.items.emplace_back("rest", Element());
    }
  }
  void load(const Element& s) override {
    const Element& rest = dict_get(s, "rest");
    current_.reset();
    offset_ = 0;
    block_used_ = block_rows_;
    if (const Array* a = rest.array()) current_ = *a;
  }
  void extra_counters(std::vector<std::pair<std::string, std::int64_t>>& out) const override {
    out.emplace_back("dropped_tokens", dropped_tokens_);
    out.emplace_back("empty_documents", empty_docs_);
  }

 private:
  // Up to 64 rows (so batches of 1, 2, 4, ..., 64 rows stay views) and about 4 MiB a block
  // (a batch kept alive keeps its block alive).
  static std::int64_t rows_per_block(std::int64_t seq_len) {
    return std::clamp<std::int64_t>((std::int64_t{4} << 20) / (std::max<std::int64_t>(seq_len, 1) * 8), 1, 64);
  }

  std::int64_t seq_len_;
  std::string selector_;
  std::int64_t pad_value_;
  bool drop_remainder_;
  Array block_;
  std::int64_t block_rows_ = rows_per_block(seq_len_);
  std::int64_t block_used_ = block_rows_;
  std::optional<Array> current_;
  std::int64_t offset_ = 0;
  std::int64_t dropped_tokens_ = 0;
  std::int64_t empty_docs_ = 0;
};

}  // namespace

Element collate_batch(const List& batch, std::optional<std::int64_t> pad_value, std::int64_t pad_to_multiple) {
  require_at_least("collate", "pad_to_multiple", pad_to_multiple, 1);
  if (batch.items.empty()) throw PipelineError("cannot collate an empty batch");
  std::vector<const Element*> items;
  items.reserve(batch.items.size());
  for (const Element& e : batch.items) items.push_back(&e);
  return collate_items(items, pad_value, pad_to_multiple, "");
}

NodePtr make_collate(NodePtr input, std::optional<std::int64_t> pad_value, std::int64_t pad_to_multiple) {
  if (input == nullptr) throw std::invalid_argument("collate(): the input pipeline is null");
  require_at_least("collate", "pad_to_multiple", pad_to_multiple, 1);
  return std::make_shared<Collate>(std::move(input), pad_value, pad_to_multiple);
}
NodePtr make_pack(NodePtr input, std::int64_t seq_len, std::string selector, std::int64_t pad_value,
                  bool drop_remainder) {
  if (input == nullptr) throw std::invalid_argument("pack(): the input pipeline is null");
  require_at_least("pack", "seq_len", seq_len, 1);
  return std::make_shared<Pack>(std::move(input), seq_len, std::move(selector), pad_value, drop_remainder);
}

}  // namespace seqkit
