// Factories for every source and operator of the pipeline. Each checks its arguments and
// throws std::invalid_argument naming the bad one, its value and the valid range.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "seqkit/element.h"
#include "seqkit/node.h"

namespace seqkit {

using MapFn = std::function<Element(const Element&)>;
// A map function over a chunk of consecutive inputs, for callables that are cheaper to
// call many at a time (a Python callable takes the GIL once per chunk). It appends one
// output per input to `outputs`, in order. When it fails on an input it throws, and
// `outputs` then holds the outputs of exactly the inputs before that one.
using MapChunkFn = std::function<void(const std::vector<Element>& inputs, std::vector<Element>& outputs)>;
using PredicateFn = std::function<bool(const Element&)>;
using YieldFn = std::function<NodePtr(const Element&)>;

// How read_text treats a line that is not valid UTF-8: raise naming the line (kStrict),
// repair it with U+FFFD (kReplace) or by dropping bad bytes (kIgnore), or yield the raw
// line as Bytes (kReport) so that the consumer can count and report it.
enum class EncodingErrors { kStrict, kReplace, kIgnore, kReport };

// Sources.
NodePtr make_read_sequence(std::vector<Element> items);
NodePtr make_read_text(const std::string& path, bool rtrim, bool ltrim, bool skip_empty,
                       EncodingErrors errors);
NodePtr make_read_tokens(const std::string& directory, DType dtype, std::int64_t num_documents,
                         std::int64_t num_tokens);
NodePtr make_constant(Element value);
NodePtr make_count(std::int64_t start, std::int64_t step);
NodePtr make_zip(std::vector<NodePtr> inputs, std::vector<std::string> names, bool zip_to_shortest,
                 bool flatten);
NodePtr make_round_robin(std::vector<NodePtr> inputs, bool stop_at_shortest);
NodePtr make_sample(std::vector<NodePtr> inputs, std::vector<double> weights, std::uint64_t seed);
NodePtr make_concat(std::vector<NodePtr> inputs);

// The argument checks of make_zip and make_sample (std::invalid_argument), for callers
// that must check before they hand their pipelines over.
void validate_zip_names(const std::vector<std::string>& names, std::size_t num_inputs);
void validate_sample_weights(const std::vector<double>& weights, std::size_t num_inputs);

// Operators.
NodePtr make_map(NodePtr input, MapFn fn, std::string selector, std::int64_t num_parallel_calls);
// map() that hands `fn` chunks of up to `max_chunk` consecutive elements (sized so that a
// chunk runs about 4 ms; see operators.cc). Same outputs, order, errors and
// state as make_map; make_map is this with max_chunk 1.
NodePtr make_chunked_map(NodePtr input, MapChunkFn fn, std::string selector, std::int64_t num_parallel_calls,
                         std::int64_t max_chunk);
NodePtr make_filter(NodePtr input, PredicateFn predicate);
NodePtr make_shuffle(NodePtr input, std::int64_t window, std::uint64_t seed);
NodePtr make_bucket(NodePtr input, std::int64_t size, bool drop_remainder);
NodePtr make_bucket_by_length(NodePtr input, std::vector<std::pair<std::int64_t, std::int64_t>> sizes,
                              std::string selector, std::int64_t min_data_len,
                              bool skip_below_min_examples, bool skip_above_max_examples,
                              bool drop_remainder);
NodePtr make_shard(NodePtr input, std::int64_t index, std::int64_t count);
NodePtr make_take(NodePtr input, std::int64_t n);
NodePtr make_skip(NodePtr input, std::int64_t n);
NodePtr make_repeat(NodePtr input, std::optional<std::int64_t> n, bool reset_rng);
NodePtr make_yield_from(NodePtr input, YieldFn fn);
NodePtr make_unbatch(NodePtr input);
NodePtr make_prefetch(NodePtr input, std::int64_t n);
NodePtr make_collate(NodePtr input, std::optional<std::int64_t> pad_value,
                     std::int64_t pad_to_multiple);
NodePtr make_pack(NodePtr input, std::int64_t seq_len, std::string selector, std::int64_t pad_value,
                  bool drop_remainder);

// Collates one batch (fairseq2 Collater semantics); exposed for the bindings and tests.
Element collate_batch(const List& batch, std::optional<std::int64_t> pad_value,
                      std::int64_t pad_to_multiple);

}  // namespace seqkit
