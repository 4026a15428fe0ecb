// Planned batches over token datasets: the per-batch work of the training readers
// (gather the planned documents or windows, pad, find document boundaries) and the
// token-budget planner. Plain loops over memory-mapped arrays, no Python, no locks.
#pragma once

#include <cstdint>
#include <vector>

#include "seqkit/element.h"

namespace seqkit {

// One column of a token dataset: ids back to back, document i at [offsets[i], offsets[i+1]).
struct TokenColumn {
  DType dtype = DType::kUInt16;  // kUInt16 or kUInt32
  const void* tokens = nullptr;
  std::int64_t num_tokens = 0;
  const std::uint64_t* offsets = nullptr;  // num_documents + 1 entries
  std::int64_t num_documents = 0;
};

// Rows of windows over the flat token array: row r is tokens [w*L, w*L + L + 1) for
// w = window_ids[r], written as int64 into out_rows[r * (L + 1) ...]. doc_lens receives the
// lengths of the document pieces inside each row's first L tokens (the model's input),
// doc_counts[r] how many pieces row r has. Throws PipelineError for a window past the end.
void gather_windows(const TokenColumn& column, const std::int64_t* window_ids, std::int64_t num_rows,
                    std::int64_t seq_len, std::int64_t* out_rows, std::vector<std::int64_t>& doc_lens,
                    std::int64_t* doc_counts);

// Documents ids[0..n) right-padded with `pad` into out[n, width] (int64), their lengths
// into lengths[n]. width must be >= the longest document. Throws for an id out of range.
void gather_padded(const TokenColumn& column, const std::int64_t* ids, std::int64_t n, std::int64_t pad,
                   std::int64_t width, std::int64_t* out, std::int64_t* lengths);

// The longest of documents ids[0..n).
std::int64_t max_document_length(const TokenColumn& column, const std::int64_t* ids, std::int64_t n);

// Cuts examples, already in batching order, into consecutive batches whose padded cost
// (batch size x the sum over columns of the longest length in the batch) stays within
// max_tokens, with at most max_batch_size examples (0: no limit). lengths holds
// num_columns arrays of n lengths each. An example that alone costs more than max_tokens
// starts no batch: its index goes to `too_long`. Returns batch bounds into the order
// of kept examples: batch k is kept[bounds[k] .. bounds[k+1]), with `kept` appended to.
std::vector<std::int64_t> pack_by_budget(const std::vector<const std::int64_t*>& lengths, std::int64_t n,
                                         std::int64_t max_tokens, std::int64_t max_batch_size,
                                         std::vector<std::int64_t>& kept, std::vector<std::int64_t>& too_long);

// One epoch's plan over token datasets, as a pipeline map step: the position of a batch in
// the epoch goes in, its gathered arrays come out (no Python, no GIL). Views only: whoever
// builds it keeps the plan arrays and the datasets alive for its lifetime.
struct PlannedBatches {
  enum class Kind { kWindows, kPadded };

  Kind kind = Kind::kWindows;
  std::vector<std::vector<TokenColumn>> datasets;  // per dataset, its columns (windows: one)
  std::vector<std::int64_t> pad_values;            // kPadded: per column
  std::int64_t seq_len = 0;                        // kWindows: tokens per row input

  const void* ids = nullptr;  // example ids, int32 or int64
  bool ids_int32 = false;
  const std::int64_t* bounds = nullptr;          // num_all_batches + 1
  const std::int64_t* dataset_starts = nullptr;  // datasets.size() + 1
  const void* order = nullptr;                   // num_positions batch numbers, int32 or int64
  bool order_int32 = false;
  std::int64_t num_positions = 0;

  // Windows: {"dataset", "rows" [B, L+1], "pieces" [P], "counts" [B]}; padded: {"dataset",
  // "c0" [B, W0], "c0_lens" [B], "c1", "c1_lens", ...}. Throws PipelineError when the
  // position or an id is out of range.
  Element gather(std::int64_t position) const;
};

}  // namespace seqkit
