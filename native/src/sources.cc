// Sources: sequences, memory-mapped text and token files, and combinators of pipelines.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "seqkit/line_reader.h"
#include "seqkit/ops.h"
#include "seqkit/token_files.h"
#include "seqkit/utf8.h"

namespace seqkit {
namespace {

class ReadSequence final : public Node {
 public:
  explicit ReadSequence(std::vector<Element> items) : Node("read_sequence"), items_(std::move(items)) {}

  bool shards_exactly() const override { return true; }
  bool try_shard(std::int64_t index, std::int64_t count) override {
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
  void save(Dict& out) override { out.items.emplace_back("position", pos_); }
  void load(const Element& s) override { pos_ = get_int(s, "position"); }

 private:
  std::vector<Element> items_;
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
  void save(Dict& out) override {
    out.items.emplace_back("path", file_->path());
    out.items.emplace_back("offset", static_cast<std::int64_t>(pos_));
    out.items.emplace_back("line", line_no_);
  }
  void load(const Element& s) override {
    if (get_str(s, "path") != file_->path()) {
      throw StateError("the state reads '" + get_str(s, "path") + "' but this pipeline reads '" +
                       file_->path() + "'");
    }
    pos_ = static_cast<std::size_t>(get_int(s, "offset"));
    line_no_ = get_int(s, "line");
  }

 private:
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
    std::int64_t v = cur_;
    cur_ += step_;
    return Element(v);
  }
  void do_reset(bool) override { cur_ = start_; }
  void save(Dict& out) override { out.items.emplace_back("current", cur_); }
  void load(const Element& s) override { cur_ = get_int(s, "current"); }

 private:
  std::int64_t start_, step_, cur_;
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

}  // namespace

NodePtr make_read_sequence(std::vector<Element> items) { return std::make_shared<ReadSequence>(std::move(items)); }
NodePtr make_read_text(const std::string& path, bool rtrim, bool ltrim, bool skip_empty, EncodingErrors errors) {
  return std::make_shared<ReadText>(path, rtrim, ltrim, skip_empty, errors);
}
NodePtr make_read_tokens(const std::string& directory, DType dtype, std::int64_t num_documents,
                         std::int64_t num_tokens) {
  return std::make_shared<ReadTokens>(directory, dtype, num_documents, num_tokens);
}
NodePtr make_constant(Element value) { return std::make_shared<Constant>(std::move(value)); }
NodePtr make_count(std::int64_t start, std::int64_t step) { return std::make_shared<Count>(start, step); }
NodePtr make_zip(std::vector<NodePtr> inputs, std::vector<std::string> names, bool zip_to_shortest, bool flatten) {
  return std::make_shared<Zip>(std::move(inputs), std::move(names), zip_to_shortest, flatten);
}
NodePtr make_round_robin(std::vector<NodePtr> inputs, bool stop_at_shortest) {
  return std::make_shared<RoundRobin>(std::move(inputs), stop_at_shortest);
}
NodePtr make_sample(std::vector<NodePtr> inputs, std::vector<double> weights, std::uint64_t seed) {
  return std::make_shared<Sample>(std::move(inputs), std::move(weights), seed);
}
NodePtr make_concat(std::vector<NodePtr> inputs) { return std::make_shared<Concat>(std::move(inputs)); }

}  // namespace seqkit
