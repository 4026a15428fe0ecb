// Per-batch gathers of the training readers and the token-budget planner.
#include "seqkit/batch_gather.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "seqkit/node.h"

namespace seqkit {
namespace {

template <typename T>
void copy_ids(const T* src, std::int64_t n, std::int64_t* dst) {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = static_cast<std::int64_t>(src[i]);
}

void copy_range(const TokenColumn& c, std::int64_t begin, std::int64_t n, std::int64_t* dst) {
  if (c.dtype == DType::kUInt16) {
    copy_ids(static_cast<const std::uint16_t*>(c.tokens) + begin, n, dst);
  } else {
    copy_ids(static_cast<const std::uint32_t*>(c.tokens) + begin, n, dst);
  }
}

void check_document(const TokenColumn& c, std::int64_t id) {
  if (id < 0 || id >= c.num_documents) {
    throw PipelineError("document id " + std::to_string(id) + " is out of range; the dataset has " +
                        std::to_string(c.num_documents) + " documents");
  }
  const std::uint64_t begin = c.offsets[id], end = c.offsets[id + 1];
  if (end < begin || end > static_cast<std::uint64_t>(c.num_tokens)) {
    throw PipelineError("the offsets of document " + std::to_string(id) +
                        " are corrupt (decreasing or past the end of the tokens); rewrite the dataset");
  }
}

}  // namespace

void gather_windows(const TokenColumn& column, const std::int64_t* window_ids, std::int64_t num_rows,
                    std::int64_t seq_len, std::int64_t* out_rows, std::vector<std::int64_t>& doc_lens,
                    std::int64_t* doc_counts) {
  const std::int64_t width = seq_len + 1;
  // Starts of documents 1..N-1 (document 0 starts at 0): each one strictly inside a
  // row's input splits it.
  const std::uint64_t* starts = column.offsets + 1;
  const std::uint64_t* starts_end = column.offsets + std::max<std::int64_t>(column.num_documents, 1);
  for (std::int64_t r = 0; r < num_rows; ++r) {
    const std::int64_t w = window_ids[r];
    const std::int64_t begin = w * seq_len;
    if (w < 0 || begin + width > column.num_tokens) {
      throw PipelineError("window " + std::to_string(w) + " of " + std::to_string(seq_len) +
                          " tokens is past the end of a dataset of " + std::to_string(column.num_tokens) +
                          " tokens");
    }
    copy_range(column, begin, width, out_rows + r * width);
    const std::int64_t end = begin + seq_len;
    const auto* lo = std::upper_bound(starts, starts_end, static_cast<std::uint64_t>(begin));
    std::int64_t prev = begin;
    std::int64_t count = 0;
    for (const auto* s = lo; s != starts_end && static_cast<std::int64_t>(*s) < end; ++s) {
      const auto cut = static_cast<std::int64_t>(*s);
      if (cut > prev) {
        doc_lens.push_back(cut - prev);
        ++count;
      }
      prev = cut;
    }
    doc_lens.push_back(end - prev);
    doc_counts[r] = count + 1;
  }
}

void gather_padded(const TokenColumn& column, const std::int64_t* ids, std::int64_t n, std::int64_t pad,
                   std::int64_t width, std::int64_t* out, std::int64_t* lengths) {
  for (std::int64_t r = 0; r < n; ++r) {
    check_document(column, ids[r]);
    const auto begin = static_cast<std::int64_t>(column.offsets[ids[r]]);
    const auto len = static_cast<std::int64_t>(column.offsets[ids[r] + 1]) - begin;
    if (len > width) throw PipelineError("a document is longer than the padded width");
    std::int64_t* row = out + r * width;
    copy_range(column, begin, len, row);
    std::fill(row + len, row + width, pad);
    lengths[r] = len;
  }
}

std::int64_t max_document_length(const TokenColumn& column, const std::int64_t* ids, std::int64_t n) {
  std::int64_t longest = 0;
  for (std::int64_t r = 0; r < n; ++r) {
    check_document(column, ids[r]);
    longest = std::max(longest, static_cast<std::int64_t>(column.offsets[ids[r] + 1] - column.offsets[ids[r]]));
  }
  return longest;
}

std::vector<std::int64_t> pack_by_budget(const std::vector<const std::int64_t*>& lengths, std::int64_t n,
                                         std::int64_t max_tokens, std::int64_t max_batch_size,
                                         std::vector<std::int64_t>& kept, std::vector<std::int64_t>& too_long) {
  std::vector<std::int64_t> bounds{static_cast<std::int64_t>(kept.size())};
  std::vector<std::int64_t> longest(lengths.size(), 0);
  std::int64_t size = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t alone = 0;
    for (const auto* col : lengths) alone += col[i];
    if (alone > max_tokens) {
      too_long.push_back(i);
      continue;
    }
    std::int64_t width = 0;
    for (std::size_t c = 0; c < lengths.size(); ++c) width += std::max(longest[c], lengths[c][i]);
    const bool full = max_batch_size > 0 && size >= max_batch_size;
    if (size > 0 && (full || (size + 1) * width > max_tokens)) {
      bounds.push_back(static_cast<std::int64_t>(kept.size()));
      std::fill(longest.begin(), longest.end(), 0);
      size = 0;
    }
    for (std::size_t c = 0; c < lengths.size(); ++c) longest[c] = std::max(longest[c], lengths[c][i]);
    kept.push_back(i);
    ++size;
  }
  if (size > 0) bounds.push_back(static_cast<std::int64_t>(kept.size()));
  return bounds;
}

Element PlannedBatches::gather(std::int64_t position) const {
  if (position < 0 || position >= num_positions) {
    throw PipelineError("batch " + std::to_string(position) + " is not in the epoch's plan of " +
                        std::to_string(num_positions) + " batches");
  }
  const std::int64_t k = order_int32 ? static_cast<const std::int32_t*>(order)[position]
                                     : static_cast<const std::int64_t*>(order)[position];
  const auto num_datasets = static_cast<std::int64_t>(datasets.size());
  const std::int64_t d =
      std::upper_bound(dataset_starts, dataset_starts + num_datasets + 1, k) - dataset_starts - 1;
  if (d < 0 || d >= num_datasets) throw PipelineError("a planned batch names no dataset");
  const std::int64_t begin = bounds[k], n = bounds[k + 1] - bounds[k];
  std::vector<std::int64_t> ids_of(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    ids_of[static_cast<std::size_t>(i)] = ids_int32 ? static_cast<const std::int32_t*>(ids)[begin + i]
                                                    : static_cast<const std::int64_t*>(ids)[begin + i];
  }
  const auto& columns = datasets[static_cast<std::size_t>(d)];
  Dict out;
  out.items.emplace_back("dataset", Element(d));
  if (kind == Kind::kWindows) {
    Array rows = Array::allocate(DType::kInt64, {n, seq_len + 1});
    Array counts = Array::allocate(DType::kInt64, {n});
    std::vector<std::int64_t> pieces;
    pieces.reserve(static_cast<std::size_t>(n) * 4);
    gather_windows(columns[0], ids_of.data(), n, seq_len, static_cast<std::int64_t*>(rows.mutable_data()), pieces,
                   static_cast<std::int64_t*>(counts.mutable_data()));
    Array flat = Array::allocate(DType::kInt64, {static_cast<std::int64_t>(pieces.size())});
    std::copy(pieces.begin(), pieces.end(), static_cast<std::int64_t*>(flat.mutable_data()));
    out.items.emplace_back("rows", Element(std::move(rows)));
    out.items.emplace_back("pieces", Element(std::move(flat)));
    out.items.emplace_back("counts", Element(std::move(counts)));
    return Element(std::move(out));
  }
  for (std::size_t c = 0; c < columns.size(); ++c) {
    const std::int64_t width = max_document_length(columns[c], ids_of.data(), n);
    Array padded = Array::allocate(DType::kInt64, {n, width});
    Array lengths = Array::allocate(DType::kInt64, {n});
    gather_padded(columns[c], ids_of.data(), n, pad_values[c], width, static_cast<std::int64_t*>(padded.mutable_data()),
                  static_cast<std::int64_t*>(lengths.mutable_data()));
    const std::string name = "c" + std::to_string(c);
    out.items.emplace_back(name, Element(std::move(padded)));
    out.items.emplace_back(name + "_lens", Element(std::move(lengths)));
  }
  return Element(std::move(out));
}

}  // namespace seqkit
