// Sources: sequences, memory-mapped text and token files, and combinators of pipelines.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <set>
#include <stdexcept>

#include "seqkit/line_reader.h"
#include "seqkit/ops.h"
#include "seqkit/token_files.h"
#include "seqkit/utf8.h"
#include "seqkit/validate.h"

namespace seqkit {
namespace {

// The checks of make_shard(), for callers of try_shard() that bypass it.
void check_shard(std::int64_t index, std::int64_t count) {
  require_at_least("shard", "num_shards", count, 1);
  if (index < 0 || index >= count) {
    bad_argument("shard", "shard_idx", std::to_string(index), "in [0, num_shards) = [0, " + std::to_string(count) + ")");
  }
}

// FNV-1a over a canonical encoding of elements: the same value on every platform and in
// every process, so a state saved by one process can be checked in another.
class Fingerprint {
 public:
  void bytes(const void* data, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
      h_ ^= b[i];
      h_ *= 1099511628211ULL;
    }
  }
  void u64(std::uint64_t v) { bytes(&v, sizeof v); }
  // Bounded work per element: long strings and arrays contribute their size and first
  // kMaxBytes bytes, containers their size and first kMaxItems items, to kMaxDepth levels.
  // Foreign (Python) objects contribute only their kind.
  void element(const Element& e, int depth = 0) {
    constexpr std::size_t kMaxBytes = 256, kMaxItems = 8;
    constexpr int kMaxDepth = 4;
    u64(e.value.index());
    if (const auto* b = std::get_if<bool>(&e.value)) {
      u64(*b ? 1 : 0);
    } else if (const auto* i = std::get_if<std::int64_t>(&e.value)) {
      u64(static_cast<std::uint64_t>(*i));
    } else if (const auto* d = std::get_if<double>(&e.value)) {
      bytes(d, sizeof *d);
    } else if (const auto* str = std::get_if<std::string>(&e.value)) {
      u64(str->size());
      bytes(str->data(), std::min(str->size(), kMaxBytes));
    } else if (const auto* by = std::get_if<Bytes>(&e.value)) {
      u64(by->data.size());
      bytes(by->data.data(), std::min(by->data.size(), kMaxBytes));
    } else if (const Array* a = e.array()) {
      u64(static_cast<std::uint64_t>(a->dtype));
      for (std::int64_t dim : a->shape) u64(static_cast<std::uint64_t>(dim));
      if (a->data != nullptr) bytes(a->data, std::min(a->nbytes(), kMaxBytes));
    } else if (const List* l = e.list()) {
      u64(l->items.size());
      if (depth < kMaxDepth) {
        for (std::size_t k = 0; k < std::min(l->items.size(), kMaxItems); ++k) element(l->items[k], depth + 1);
      }
    } else if (const Dict* dict = e.dict()) {
      u64(dict->items.size());
      if (depth < kMaxDepth) {
        for (std::size_t k = 0; k < std::min(dict->items.size(), kMaxItems); ++k) {
          bytes(dict->items[k].first.data(), dict->items[k].first.size());
          element(dict->items[k].second, depth + 1);
        }
      }
    }
  }
  std::int64_t value() const { return static_cast<std::int64_t>(h_); }

 private:
  std::uint64_t h_ = 1469598103934665603ULL;
};

// The length and up to 64 evenly spaced items (the first and the last among them): a
// few microseconds for any sequence, enough to tell another sequence of the same length.
std::int64_t sequence_fingerprint(const std::vector<Element>& items) {
  constexpr std::size_t kSamples = 64;
  Fingerprint f;
  std::size_t n = items.size();
  f.u64(n);
  if (n <= kSamples) {
    for (const Element& e : items) f.element(e);
  } else {
    for (std::size_t k = 0; k < kSamples; ++k) f.element(items[k * (n - 1) / (kSamples - 1)]);
  }
  return f.value();
}

class ReadSequence final : public Node {
 public:
  explicit ReadSequence(std::vector<Element> items)
      : Node("read_sequence"), items_(std::move(items)), fingerprint_(sequence_fingerprint(items_)) {}

  bool shards_exactly() const override { return true; }
  bool try_shard(std::int64_t index, std::int64_t count) override {
    check_shard(index, count);
    // Same elements as a round-robin shard, without touching the others.
    first_ = first_ + index * stride_;
    stride_ *= count;
    pos_ = first_;
    return true;
  }

 protected:
  std::optional<Element> do_next() override {
    if (pos_ >= static_cast<std::int64_t>(items_.size())) return std::nullopt;
    Element e = items_[static_cast<std::size_t>(pos_)];
    pos_ += stride_;
    return e;
  }
  void do_reset(bool) override { pos_ = first_; }
  // Version 2: the sequence's length, fingerprint and shard go with the position, so a
  // state cannot be loaded over another sequence. Version 1 states (position only) still
  // load, unchecked.
  int version() const override { return 2; }
  int min_version() const override { return 1; }
  void save(Dict& out) override {
    out.items.emplace_back("position", pos_);
    out.items.emplace_back("length", static_cast<std::int64_t>(items_.size()));
    out.items.emplace_back("fingerprint", fingerprint_);
    out.items.emplace_back("first", first_);
    out.items.emplace_back("stride", stride_);
  }
  void load(const Element& s) override {
    if (get_int(s, "version") < 2) {
      pos_ = get_int(s, "position");
      return;
    }
    auto length = static_cast<std::int64_t>(items_.size());
    std::int64_t saved_length = get_int(s, "length");
    if (saved_length != length) {
      throw StateError("the state was saved over a sequence of " + std::to_string(saved_length) +
                       " items but this read_sequence has " + std::to_string(length) +
                       " items; load it into a pipeline over the same sequence");
    }
    if (get_int(s, "fingerprint") != fingerprint_) {
      throw StateError("the state was saved over a sequence of " + std::to_string(length) +
                       " items whose items differ from this read_sequence's; load it into a pipeline "
                       "over the same sequence");
    }
    std::int64_t first = get_int(s, "first"), stride = get_int(s, "stride");
    if (first != first_ || stride != stride_) {
      throw StateError("the state was saved for the items " + std::to_string(first) + ", " +
                       std::to_string(first) + " + " + std::to_string(stride) + ", ... (a shard) but this "
                       "read_sequence yields the items " + std::to_string(first_) + ", " + std::to_string(first_) +
                       " + " + std::to_string(stride_) + ", ...; load it into a pipeline sharded the same way");
    }
    std::int64_t pos = get_int(s, "position");
    if (pos < 0) throw StateError("the state's position " + std::to_string(pos) + " is negative");
    pos_ = pos;
  }

 private:
  std::vector<Element> items_;
  std::int64_t fingerprint_;
  std::int64_t first_ = 0;
  std::int64_t stride_ = 1;
  std::int64_t pos_ = 0;
};

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }

class ReadText final : public Node {
 public:
  ReadText(const std::string& path, bool rtrim, bool ltrim, bool skip_empty, EncodingErrors errors)
      : Node("read_text"),
        file_(std::make_shared<MappedFile>(path)),
        rtrim_(rtrim),
        ltrim_(ltrim),
        skip_empty_(skip_empty),
        errors_(errors),
        end_(file_->size()) {}

  bool try_shard(std::int64_t index, std::int64_t count) override {
    check_shard(index, count);
    // A contiguous byte range per shard: a line belongs to the shard holding its first byte.
    std::string_view text = file_->view();
    std::size_t size = end_ - begin_;
    std::size_t lo = begin_ + size * static_cast<std::size_t>(index) / static_cast<std::size_t>(count);
    std::size_t hi = begin_ + size * static_cast<std::size_t>(index + 1) / static_cast<std::size_t>(count);
    begin_ = line_start_at_or_after(text, lo);
    end_ = hi;
    pos_ = begin_;
    line_known_ = begin_ == 0;
    return true;
  }

 protected:
  std::optional<Element> do_next() override {
    std::string_view text = file_->view();
    for (;;) {
      if (pos_ >= end_ || pos_ >= text.size()) return std::nullopt;
      const char* start = text.data() + pos_;
      const void* hit = std::memchr(start, '\n', text.size() - pos_);
      std::size_t stop = hit != nullptr ? static_cast<std::size_t>(static_cast<const char*>(hit) - text.data())
                                        : text.size();
      std::size_t line_begin = pos_;
      std::string_view line(start, stop - pos_);
      pos_ = stop + 1;
      ++line_no_;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (rtrim_) {
        while (!line.empty() && is_space(line.back())) line.remove_suffix(1);
      }
      if (ltrim_) {
        while (!line.empty() && is_space(line.front())) line.remove_prefix(1);
      }
      if (skip_empty_ && line.empty()) continue;
      std::size_t bad = first_invalid_utf8(line);
      if (bad == std::string_view::npos) return Element(std::string(line));
      if (errors_ == EncodingErrors::kStrict) {
        std::string where = line_known_ ? "line " + std::to_string(line_no_)
                                        : "the line at byte " + std::to_string(line_begin);
        throw PipelineError("'" + file_->path() + "', " + where + ": invalid UTF-8 at byte " +
                            std::to_string(bad) + " of the line; fix the file or pass "
                            "encoding_errors='replace', 'ignore' or 'report'");
      }
      if (errors_ == EncodingErrors::kReport) return Element(Bytes{std::string(line)});
      return Element(repair_utf8(line, errors_ == EncodingErrors::kReplace));
    }
  }
  void do_reset(bool) override {
    pos_ = begin_;
    line_no_ = 0;
  }
  // Version 2: the file's size, the byte range read (a shard) and a checksum of the bytes
  // around the offset go with it, so a resume over a rewritten file fails instead of
  // starting mid-line. Version 1 states (path, offset, line) still load, unchecked.
  int version() const override { return 2; }
  int min_version() const override { return 1; }
  void save(Dict& out) override {
    out.items.emplace_back("path", file_->path());
    out.items.emplace_back("offset", static_cast<std::int64_t>(pos_));
    out.items.emplace_back("line", line_no_);
    out.items.emplace_back("file_size", static_cast<std::int64_t>(file_->size()));
    out.items.emplace_back("begin", static_cast<std::int64_t>(begin_));
    out.items.emplace_back("end", static_cast<std::int64_t>(end_));
    out.items.emplace_back("checksum", window_checksum(pos_));
  }
  void load(const Element& s) override {
    const std::string& path = file_->path();
    if (get_str(s, "path") != path) {
      throw StateError("the state reads '" + get_str(s, "path") + "' but this pipeline reads '" + path + "'");
    }
    if (get_int(s, "version") < 2) {
      pos_ = static_cast<std::size_t>(get_int(s, "offset"));
      line_no_ = get_int(s, "line");
      return;
    }
    std::int64_t size = get_int(s, "file_size");
    if (size != static_cast<std::int64_t>(file_->size())) {
      throw StateError("the state was saved when '" + path + "' had " + std::to_string(size) +
                       " bytes, but it now has " + std::to_string(file_->size()) +
                       " bytes: the file changed since the state was saved; resume with the file the "
                       "state was saved from");
    }
    std::int64_t begin = get_int(s, "begin"), end = get_int(s, "end");
    if (begin != static_cast<std::int64_t>(begin_) || end != static_cast<std::int64_t>(end_)) {
      throw StateError("the state was saved for bytes [" + std::to_string(begin) + ", " + std::to_string(end) +
                       ") of '" + path + "' but this read_text reads bytes [" + std::to_string(begin_) + ", " +
                       std::to_string(end_) + "); load it into a pipeline sharded the same way");
    }
    std::int64_t offset = get_int(s, "offset");
    if (offset < 0 || offset > size + 1) {
      throw StateError("the state's offset " + std::to_string(offset) + " is outside '" + path + "' (" +
                       std::to_string(size) + " bytes)");
    }
    auto pos = static_cast<std::size_t>(offset);
    if (get_int(s, "checksum") != window_checksum(pos)) {
      throw StateError("the bytes around offset " + std::to_string(offset) + " of '" + path +
                       "' differ from those the state was saved with: the file changed since the state "
                       "was saved; resume with the file the state was saved from");
    }
    pos_ = pos;
    line_no_ = get_int(s, "line");
  }

 private:
  // A checksum of up to kWindow bytes on each side of `offset`: a few microseconds per
  // state, and a file rewritten since differs there unless it is identical around the
  // offset (then the resume is still at a line start with the same lines before it).
  std::int64_t window_checksum(std::size_t offset) const {
    constexpr std::size_t kWindow = 4096;
    std::string_view text = file_->view();
    std::size_t at = std::min(offset, text.size());
    std::size_t lo = at > kWindow ? at - kWindow : 0;
    std::size_t hi = std::min(text.size(), at + kWindow);
    return static_cast<std::int64_t>(slice_checksum(text.data() + lo, hi - lo));
  }

  static std::size_t line_start_at_or_after(std::string_view text, std::size_t at) {
    if (at == 0) return 0;
    if (at >= text.size()) return text.size();
    if (text[at - 1] == '\n') return at;
    const void* hit = std::memchr(text.data() + at, '\n', text.size() - at);
    return hit == nullptr ? text.size()
                          : static_cast<std::size_t>(static_cast<const char*>(hit) - text.data()) + 1;
  }

  std::shared_ptr<MappedFile> file_;
  bool rtrim_, ltrim_, skip_empty_;
  EncodingErrors errors_;
  std::size_t begin_ = 0;
  std::size_t end_;
  std::size_t pos_ = 0;
  std::int64_t line_no_ = 0;
  bool line_known_ = true;
};

class ReadTokens final : public Node {
 public:
  ReadTokens(const std::string& dir, DType dtype, std::int64_t num_documents, std::int64_t num_tokens)
      : Node("read_tokens"),
        dir_(dir),
        tokens_(std::make_shared<MappedFile>(dir + "/tokens.bin")),
        offsets_(std::make_shared<MappedFile>(dir + "/offsets.bin")),
        dtype_(dtype),
        num_documents_(num_documents) {
    std::size_t want_tokens = static_cast<std::size_t>(num_tokens) * dtype_size(dtype);
    if (tokens_->size() != want_tokens) {
      throw PipelineError("'" + dir + "/tokens.bin' has " + std::to_string(tokens_->size()) +
                          " bytes but index.json promises " + std::to_string(num_tokens) + " " +
                          dtype_name(dtype) + " tokens (" + std::to_string(want_tokens) +
                          " bytes); the dataset is truncated or corrupt, rewrite it");
    }
    std::size_t want_offsets = static_cast<std::size_t>(num_documents + 1) * 8;
    if (offsets_->size() != want_offsets) {
      throw PipelineError("'" + dir + "/offsets.bin' has " + std::to_string(offsets_->size()) +
                          " bytes but index.json promises " + std::to_string(num_documents) +
                          " documents (" + std::to_string(want_offsets) + " bytes); rewrite it");
    }
    // Saved states name slices of this file by position instead of copying them.
    register_token_file(dir + "/tokens.bin", tokens_);
    const std::uint64_t* off = offsets();
    if (off[0] != 0 || off[num_documents] != static_cast<std::uint64_t>(num_tokens)) {
      throw PipelineError("'" + dir + "/offsets.bin' must start at 0 and end at num_tokens (" +
                          std::to_string(num_tokens) + "); rewrite the dataset");
    }
    for (std::int64_t i = 0; i < num_documents; ++i) {
      if (off[i + 1] < off[i]) {
        throw PipelineError("'" + dir + "/offsets.bin': offset of document " + std::to_string(i + 1) +
                            " is below that of document " + std::to_string(i) + "; rewrite the dataset");
      }
    }
  }

  bool shards_exactly() const override { return true; }
  bool try_shard(std::int64_t index, std::int64_t count) override {
    check_shard(index, count);
    first_ = first_ + index * stride_;
    stride_ *= count;
    pos_ = first_;
    return true;
  }

 protected:
  std::optional<Element> do_next() override {
    if (pos_ >= num_documents_) return std::nullopt;
    const std::uint64_t* off = offsets();
    std::uint64_t lo = off[pos_];
    std::uint64_t hi = off[pos_ + 1];
    pos_ += stride_;
    Array a;
    a.dtype = dtype_;
    a.shape = {static_cast<std::int64_t>(hi - lo)};
    a.data = tokens_->view().data() + lo * dtype_size(dtype_);
    a.owner = tokens_;
    return Element(std::move(a));
  }
  void do_reset(bool) override { pos_ = first_; }
  void save(Dict& out) override {
    out.items.emplace_back("path", dir_);
    out.items.emplace_back("position", pos_);
  }
  void load(const Element& s) override { pos_ = get_int(s, "position"); }

 private:
  const std::uint64_t* offsets() const {
    return reinterpret_cast<const std::uint64_t*>(offsets_->view().data());
  }

  std::string dir_;
  std::shared_ptr<MappedFile> tokens_;
  std::shared_ptr<MappedFile> offsets_;
  DType dtype_;
  std::int64_t num_documents_;
  std::int64_t first_ = 0;
  std::int64_t stride_ = 1;
  std::int64_t pos_ = 0;
};

class Constant final : public Node {
 public:
  explicit Constant(Element value) : Node("constant"), value_(std::move(value)) {}

 protected:
  std::optional<Element> do_next() override { return value_; }
  void do_reset(bool) override {}
  void save(Dict&) override {}
  void load(const Element&) override {}

 private:
  Element value_;
};

class Count final : public Node {
 public:
  Count(std::int64_t start, std::int64_t step) : Node("count"), start_(start), step_(step), cur_(start) {}

 protected:
  std::optional<Element> do_next() override {
    if (overflowed_) {
      throw PipelineError("count(start=" + std::to_string(start_) + ", step=" + std::to_string(step_) +
                          ") went past the range of a 64-bit integer");
    }
    std::int64_t v = cur_;
    overflowed_ = __builtin_add_overflow(cur_, step_, &cur_);
    return Element(v);
  }
  void do_reset(bool) override {
    cur_ = start_;
    overflowed_ = false;
  }
  void save(Dict& out) override { out.items.emplace_back("current", cur_); }
  void load(const Element& s) override {
    cur_ = get_int(s, "current");
    overflowed_ = false;
  }

 private:
  std::int64_t start_, step_, cur_;
  bool overflowed_ = false;
};

class Zip final : public Node {
 public:
  Zip(std::vector<NodePtr> inputs, std::vector<std::string> names, bool to_shortest, bool flatten)
      : Node("zip", std::move(inputs)), names_(std::move(names)), to_shortest_(to_shortest), flatten_(flatten) {}

  // Aligned inputs stay aligned only when every one of them shards exactly (a parallel
  // token dataset: source/ and target/).
  bool shards_exactly() const override { return can_push_down(); }
  bool try_shard(std::int64_t index, std::int64_t count) override {
    if (!can_push_down()) return false;
    for (auto& in : inputs_) in->try_shard(index, count);
    return true;
  }

 protected:
  std::optional<Element> do_next() override {
    std::vector<Element> parts;
    std::size_t ended = 0;
    for (std::size_t i = 0; i < inputs_.size(); ++i) {
      auto e = pull(i);
      if (!e) {
        if (to_shortest_) return std::nullopt;
        ++ended;
        continue;
      }
      parts.push_back(std::move(*e));
    }
    if (ended == inputs_.size()) return std::nullopt;
    if (ended > 0) {
      throw PipelineError("the zipped pipelines have different lengths (" + std::to_string(ended) +
                          " of " + std::to_string(inputs_.size()) +
                          " ended first); pass zip_to_shortest=True to stop at the shortest");
    }
    if (flatten_) {
      Dict merged;
      for (auto& p : parts) {
        const Dict* d = p.dict();
        if (d == nullptr) throw PipelineError("zip(flatten=True) needs dict elements, got a " + std::string(p.type_name()));
        for (const auto& kv : d->items) merged.items.push_back(kv);
      }
      return Element(std::move(merged));
    }
    if (!names_.empty()) {
      Dict d;
      for (std::size_t i = 0; i < parts.size(); ++i) d.items.emplace_back(names_[i], std::move(parts[i]));
      return Element(std::move(d));
    }
    List l;
    l.items = std::move(parts);
    l.is_tuple = true;
    return Element(std::move(l));
  }
  void do_reset(bool reset_rng) override {
    for (auto& in : inputs_) in->reset(reset_rng);
  }
  void save(Dict&) override {}
  void load(const Element&) override {}

 private:
  bool can_push_down() const {
    return !to_shortest_ && std::all_of(inputs_.begin(), inputs_.end(), [](const NodePtr& in) { return in->shards_exactly(); });
  }

  std::vector<std::string> names_;
  bool to_shortest_, flatten_;
};

// Shared by round_robin and sample: an input that ends restarts until every input has
// ended at least once (fairseq2 semantics), unless stop_at_shortest.
class MultiSource : public Node {
 public:
  MultiSource(std::string op, std::vector<NodePtr> inputs, bool stop_at_shortest)
      : Node(std::move(op), std::move(inputs)), stop_at_shortest_(stop_at_shortest), ended_(inputs_.size(), false) {}

 protected:
  std::optional<Element> pull_from(std::size_t i) {
    auto e = pull(i);
    if (e) return e;
    if (stop_at_shortest_) {
      done_ = true;
      return std::nullopt;
    }
    ended_[i] = true;
    if (std::all_of(ended_.begin(), ended_.end(), [](bool b) { return b; })) {
      done_ = true;
      return std::nullopt;
    }
    inputs_[i]->reset(false);
    e = pull(i);
    if (!e) throw PipelineError("input " + std::to_string(i) + " of " + op_ + " is empty");
    return e;
  }
  void reset_ended(bool reset_rng) {
    std::fill(ended_.begin(), ended_.end(), false);
    done_ = false;
    for (auto& in : inputs_) in->reset(reset_rng);
  }
  void save_ended(Dict& out) {
    List l;
    for (bool b : ended_) l.items.emplace_back(b);
    out.items.emplace_back("ended", Element(std::move(l)));
    out.items.emplace_back("done", done_);
  }
  void load_ended(const Element& s) {
    List l = get_list(s, "ended");
    if (l.items.size() != ended_.size()) throw StateError("wrong number of inputs");
    for (std::size_t i = 0; i < ended_.size(); ++i) ended_[i] = std::get<bool>(l.items[i].value);
    done_ = get_bool(s, "done");
  }

  bool stop_at_shortest_;
  std::vector<bool> ended_;
  bool done_ = false;
};

class RoundRobin final : public MultiSource {
 public:
  RoundRobin(std::vector<NodePtr> inputs, bool stop_at_shortest)
      : MultiSource("round_robin", std::move(inputs), stop_at_shortest) {}

 protected:
  std::optional<Element> do_next() override {
    if (done_ || inputs_.empty()) return std::nullopt;
    std::size_t i = next_;
    next_ = (next_ + 1) % inputs_.size();
    return pull_from(i);
  }
  void do_reset(bool reset_rng) override {
    next_ = 0;
    reset_ended(reset_rng);
  }
  void save(Dict& out) override {
    out.items.emplace_back("next", static_cast<std::int64_t>(next_));
    save_ended(out);
  }
  void load(const Element& s) override {
    next_ = static_cast<std::size_t>(get_int(s, "next"));
    load_ended(s);
  }

 private:
  std::size_t next_ = 0;
};

class Sample final : public MultiSource {
 public:
  Sample(std::vector<NodePtr> inputs, std::vector<double> weights, std::uint64_t seed)
      : MultiSource("sample", std::move(inputs), false), seed_(seed), rng_(seed) {
    double total = std::accumulate(weights.begin(), weights.end(), 0.0);
    double acc = 0;
    for (double w : weights) {
      acc += w / total;
      cumulative_.push_back(acc);
    }
  }

 protected:
  std::optional<Element> do_next() override {
    if (done_ || inputs_.empty()) return std::nullopt;
    double u = rng_.uniform();
    std::size_t i = 0;
    while (i + 1 < cumulative_.size() && u >= cumulative_[i]) ++i;
    return pull_from(i);
  }
  void do_reset(bool reset_rng) override {
    if (reset_rng) rng_.seed_with(seed_);
    reset_ended(reset_rng);
  }
  void save(Dict& out) override {
    out.items.emplace_back("rng", rng_.state());
    save_ended(out);
  }
  void load(const Element& s) override {
    rng_.load(dict_get(s, "rng"));
    load_ended(s);
  }

 private:
  std::uint64_t seed_;
  Rng rng_;
  std::vector<double> cumulative_;
};

class Concat final : public Node {
 public:
  explicit Concat(std::vector<NodePtr> inputs) : Node("concat", std::move(inputs)) {}

 protected:
  std::optional<Element> do_next() override {
    while (current_ < inputs_.size()) {
      auto e = pull(current_);
      if (e) return e;
      ++current_;
    }
    return std::nullopt;
  }
  void do_reset(bool reset_rng) override {
    current_ = 0;
    for (auto& in : inputs_) in->reset(reset_rng);
  }
  void save(Dict& out) override { out.items.emplace_back("current", static_cast<std::int64_t>(current_)); }
  void load(const Element& s) override { current_ = static_cast<std::size_t>(get_int(s, "current")); }

 private:
  std::size_t current_ = 0;
};

void require_inputs(const std::vector<NodePtr>& inputs, const std::string& call) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (inputs[i] == nullptr) throw std::invalid_argument(call + "(): input pipeline " + std::to_string(i) + " is null");
  }
}

}  // namespace

void validate_zip_names(const std::vector<std::string>& names, std::size_t num_inputs) {
  if (names.empty()) return;
  if (names.size() != num_inputs) {
    bad_argument("zip", "names", std::to_string(names.size()) + " names",
                 "empty or one name per pipeline (" + std::to_string(num_inputs) + ")");
  }
  std::set<std::string> seen;
  for (const std::string& name : names) {
    if (name.empty()) bad_argument("zip", "names", "an empty name", "non-empty names");
    if (!seen.insert(name).second) bad_argument("zip", "names", "'" + name + "' twice", "distinct names");
  }
}

void validate_sample_weights(const std::vector<double>& weights, std::size_t num_inputs) {
  if (weights.size() != num_inputs) {
    bad_argument("sample", "weights", std::to_string(weights.size()) + " weights",
                 "one weight per pipeline (" + std::to_string(num_inputs) + ")");
  }
  double total = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!std::isfinite(weights[i]) || weights[i] < 0) {
      bad_argument("sample", "weights[" + std::to_string(i) + "]", std::to_string(weights[i]),
                   "a finite number >= 0");
    }
    total += weights[i];
  }
  if (!(total > 0) || !std::isfinite(total)) {
    bad_argument("sample", "weights", "weights summing to " + std::to_string(total), "a finite positive sum");
  }
}

NodePtr make_read_sequence(std::vector<Element> items) { return std::make_shared<ReadSequence>(std::move(items)); }
NodePtr make_read_text(const std::string& path, bool rtrim, bool ltrim, bool skip_empty, EncodingErrors errors) {
  return std::make_shared<ReadText>(path, rtrim, ltrim, skip_empty, errors);
}
NodePtr make_read_tokens(const std::string& directory, DType dtype, std::int64_t num_documents,
                         std::int64_t num_tokens) {
  require_at_least("read_tokens", "num_documents", num_documents, 0);
  require_at_least("read_tokens", "num_tokens", num_tokens, 0);
  return std::make_shared<ReadTokens>(directory, dtype, num_documents, num_tokens);
}
NodePtr make_constant(Element value) { return std::make_shared<Constant>(std::move(value)); }
NodePtr make_count(std::int64_t start, std::int64_t step) {
  if (step == 0) bad_argument("count", "step", "0", "non-zero (constant() repeats one value)");
  return std::make_shared<Count>(start, step);
}
NodePtr make_zip(std::vector<NodePtr> inputs, std::vector<std::string> names, bool zip_to_shortest, bool flatten) {
  require_inputs(inputs, "zip");
  validate_zip_names(names, inputs.size());
  return std::make_shared<Zip>(std::move(inputs), std::move(names), zip_to_shortest, flatten);
}
NodePtr make_round_robin(std::vector<NodePtr> inputs, bool stop_at_shortest) {
  require_inputs(inputs, "round_robin");
  return std::make_shared<RoundRobin>(std::move(inputs), stop_at_shortest);
}
NodePtr make_sample(std::vector<NodePtr> inputs, std::vector<double> weights, std::uint64_t seed) {
  require_inputs(inputs, "sample");
  validate_sample_weights(weights, inputs.size());
  return std::make_shared<Sample>(std::move(inputs), std::move(weights), seed);
}
NodePtr make_concat(std::vector<NodePtr> inputs) {
  require_inputs(inputs, "concat");
  return std::make_shared<Concat>(std::move(inputs)); }

}  // namespace seqkit
