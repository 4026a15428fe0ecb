// Element-wise and windowed operators: map, filter, shuffle, bucketing, slicing, threads.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <iterator>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "seqkit/ops.h"
#include "seqkit/thread_pool.h"
#include "seqkit/validate.h"

namespace seqkit {
namespace {

Element list_of(const std::vector<Element>& items) {
  List l;
  l.items = items;
  return Element(std::move(l));
}

std::vector<Element> items_of(const Element& state, std::string_view key) { return get_list(state, key).items; }

// -------------------------------------------------------------------------------- map

// Consecutive inputs of a map, run as one call of the chunk function (one pool task, or
// inline). The runner writes outputs, error and elapsed_ns and then sets done (release);
// the node reads them only once it has seen done (acquire). `inputs` never changes after
// the chunk is made, so state() may copy it while the chunk runs.
struct MapChunk {
  std::vector<Element> inputs;
  std::vector<Element> outputs;    // outputs[i] is fn(inputs[i])
  std::exception_ptr error;        // the failure of inputs[outputs.size()], if any
  std::exception_ptr after_error;  // upstream failed right after these inputs
  std::int64_t elapsed_ns = 0;
  std::size_t taken = 0;  // outputs the node has yielded (node thread only)
  bool learned = false;   // its time was used to size later chunks (node thread only)
  std::atomic<bool> done{false};
  std::mutex mutex;
  std::condition_variable cv;
};

// Calls fn on the chunk's inputs (or on the values at `selector`). Leaves the outputs of
// the inputs before the first failure and that failure. Never throws.
void run_chunk(const MapChunkFn& fn, const std::string& selector, MapChunk& c) {
  auto start = std::chrono::steady_clock::now();
  std::vector<Element>& out = c.outputs;
  out.clear();
  out.reserve(c.inputs.size());
  std::exception_ptr error;
  try {
    std::vector<Element> selected;
    const std::vector<Element>* args = &c.inputs;
    if (!selector.empty()) {
      selected.reserve(c.inputs.size());
      try {
        for (const Element& e : c.inputs) selected.push_back(select(e, selector));
      } catch (...) {
        error = std::current_exception();  // the failure of inputs[selected.size()]
      }
      args = &selected;
    }
    try {
      fn(*args, out);
      if (out.size() != args->size()) {
        std::string got = std::to_string(out.size()), want = std::to_string(args->size());
        out.clear();
        throw PipelineError("the map function returned " + got + " outputs for " + want + " inputs");
      }
    } catch (...) {
      // fn failed on (*args)[out.size()]: an earlier input than a failed selection.
      if (out.size() > args->size()) out.clear();
      error = std::current_exception();
    }
    if (!selector.empty()) {
      for (std::size_t i = 0; i < out.size(); ++i) {
        try {
          out[i] = replace_at(c.inputs[i], selector, std::move(out[i]));
        } catch (...) {
          out.resize(i);
          error = std::current_exception();
        }
      }
    }
  } catch (...) {  // bad_alloc in the bookkeeping: blame the first input not mapped
    error = std::current_exception();
  }
  c.error = error;
  c.elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count();
}

void publish(MapChunk& c) {
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.done.store(true, std::memory_order_release);
  }
  c.cv.notify_all();
}

// map(). Elements go to the function in chunks of consecutive inputs: one pool task (or
// one inline call) and, for a Python callable, one GIL acquisition per chunk instead of
// per element. A chunk is sized to run about kChunkTargetNs (4 ms): long enough that a
// pool hand-off, a GIL hand-off (5-50 us when threads contend) and a batch form's own
// per-call setup (SentencePiece starts its threads per call) cost a percent or two;
// 1 ms chunks cost a batch-form pipeline ~5% more CPU. Short enough that a chunk's
// outputs are not held back long, and that a slow function (4 ms or more per element)
// still runs one element per chunk, so N parallel calls keep N elements going. Sizes start at 1 and at most double (or halve)
// per chunk (a pipeline's first element is not delayed by a large first chunk), up to
// max_chunk. Sizes depend on timing, outputs never do.
// A chunk's inputs are pulled synchronously before it runs; a chunk stops taking inputs
// once pulling them took kPullBudgetNs, so a slow source delays an output by at most
// about that much (plus one pull) on top of the function's own time.
//
// num_parallel_calls == 1 runs each chunk inline on the pulling thread. With N > 1,
// up to N chunks run on the shared pool while the node yields the outputs of the oldest
// finished one (N + 1 chunks held in all). Outputs come out in input order; a failure
// comes out after the outputs of the inputs before it, as an element-wise map would.
class Map final : public Node {
 public:
  static constexpr std::int64_t kChunkTargetNs = 4'000'000;
  static constexpr std::int64_t kPullBudgetNs = 1'000'000;

  Map(NodePtr input, MapChunkFn fn, std::string selector, std::int64_t parallel, std::int64_t max_chunk)
      : Node("map", {std::move(input)}),
        fn_(std::make_shared<MapChunkFn>(std::move(fn))),
        selector_(std::move(selector)),
        parallel_(static_cast<std::size_t>(std::max<std::int64_t>(parallel, 1))),
        max_chunk_(static_cast<std::size_t>(std::max<std::int64_t>(max_chunk, 1))) {}
  ~Map() override { drain(); }

  void shutdown() override {
    drain();
    Node::shutdown();
  }

 protected:
  std::optional<Element> do_next() override {
    for (;;) {
      if (inflight_.empty()) {
        top_up(parallel_);
        if (inflight_.empty()) return std::nullopt;
      }
      MapChunk& front = *inflight_.front();
      if (!front.done.load(std::memory_order_acquire)) {
        top_up(parallel_);
        std::unique_lock<std::mutex> lock(front.mutex);
        wait_interruptibly(lock, front.cv, [&] { return front.done.load(std::memory_order_acquire); });
      }
      if (!front.learned) {
        learn(front);
        front.learned = true;
      }
      // The front chunk is finished: up to parallel_ more may run while it is consumed.
      if (parallel_ > 1) top_up(parallel_ + 1);
      if (front.taken < front.outputs.size()) return std::move(front.outputs[front.taken++]);
      std::exception_ptr error = front.error ? front.error : front.after_error;
      inflight_.pop_front();
      if (error) std::rethrow_exception(error);
    }
  }
  // The outputs of a finished chunk are ready: taken without waiting (and with the GIL
  // held by the bindings when this node is the root).
  bool do_try_next(std::optional<Element>& out) override {
    if (inflight_.empty()) return false;
    MapChunk& front = *inflight_.front();
    if (!front.done.load(std::memory_order_acquire) || front.taken >= front.outputs.size()) return false;
    out = std::move(front.outputs[front.taken++]);
    return true;
  }
  void do_reset(bool reset_rng) override {
    drain();
    inflight_.clear();
    replay_.clear();
    upstream_done_ = false;
    upstream_failed_ = false;
    chunk_size_ = 1;
    inputs_[0]->reset(reset_rng);
  }
  // Inputs not yet yielded (of chunks running or finished) are saved: a restored
  // pipeline calls fn on them again.
  void save(Dict& out) override {
    List pending;
    for (const auto& c : inflight_) {
      for (std::size_t i = c->taken; i < c->inputs.size(); ++i) pending.items.push_back(c->inputs[i]);
    }
    for (const auto& e : replay_) pending.items.push_back(e);
    out.items.emplace_back("pending", Element(std::move(pending)));
    out.items.emplace_back("upstream_done", upstream_done_);
  }
  void load(const Element& s) override {
    drain();
    inflight_.clear();
    auto pending = items_of(s, "pending");
    replay_.assign(pending.begin(), pending.end());
    upstream_done_ = get_bool(s, "upstream_done");
    upstream_failed_ = false;
    chunk_size_ = 1;
  }
  void extra_counters(std::vector<std::pair<std::string, std::int64_t>>& out) const override {
    out.emplace_back("chunks", chunks_.load(std::memory_order_relaxed));
  }

 private:
  // Makes and starts chunks until `limit` are held or the input is exhausted.
  void top_up(std::size_t limit) {
    while (inflight_.size() < limit) {
      std::shared_ptr<MapChunk> chunk = make_chunk();
      if (!chunk) return;
      inflight_.push_back(chunk);
      chunks_.store(chunks_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (parallel_ == 1) {
        run_chunk(*fn_, selector_, *chunk);
        chunk->done.store(true, std::memory_order_release);
      } else {
        submit(std::move(chunk));
      }
      if (upstream_failed_) return;
    }
  }

  // The next chunk: replayed inputs first, then upstream; nullptr when there is nothing.
  // An upstream failure ends the chunk and is raised after its outputs.
  std::shared_ptr<MapChunk> make_chunk() {
    if (replay_.empty() && (upstream_done_ || upstream_failed_)) return nullptr;
    auto chunk = std::make_shared<MapChunk>();
    std::vector<Element>& in = chunk->inputs;
    in.reserve(chunk_size_);
    auto start = std::chrono::steady_clock::now();
    while (in.size() < chunk_size_) {
      if (!replay_.empty()) {
        in.push_back(std::move(replay_.front()));
        replay_.pop_front();
        continue;
      }
      if (upstream_done_ || upstream_failed_) break;
      std::optional<Element> e;
      try {
        e = pull();
      } catch (...) {
        // Raised after the outputs of the inputs pulled before it, in order; nothing more
        // is pulled until reset() or load_state_dict().
        upstream_failed_ = true;
        if (!in.empty()) {
          chunk->after_error = std::current_exception();
          break;
        }
        if (inflight_.empty()) throw;
        inflight_.back()->after_error = std::current_exception();
        return nullptr;
      }
      if (!e) {
        upstream_done_ = true;
        break;
      }
      in.push_back(std::move(*e));
      if (in.size() < chunk_size_ &&
          std::chrono::steady_clock::now() - start > std::chrono::nanoseconds(kPullBudgetNs)) {
        break;
      }
    }
    if (in.empty()) return nullptr;
    return chunk;
  }

  // Sizes the next chunks from a finished one's time per element.
  void learn(const MapChunk& c) {
    if (max_chunk_ == 1 || c.error || c.inputs.empty()) return;
    double per_element = static_cast<double>(c.elapsed_ns) / static_cast<double>(c.inputs.size());
    double ideal = per_element > 0 ? static_cast<double>(kChunkTargetNs) / per_element : static_cast<double>(max_chunk_);
    // At most double or halve per chunk: a chunk slowed by a busy machine (or the
    // fixed cost of one call, which dominates a 1-element chunk) moves it only a step.
    double current = static_cast<double>(chunk_size_);
    auto size = static_cast<std::size_t>(std::clamp(ideal, current / 2, current * 2));
    chunk_size_ = std::clamp<std::size_t>(size, 1, max_chunk_);
  }

  void submit(std::shared_ptr<MapChunk> chunk) {
    shared_pool().submit([chunk, fn = fn_, selector = selector_]() mutable {
      run_chunk(*fn, selector, *chunk);
      // Dropped before `done`: once the node sees done it may go, and the callable must
      // not be released last from a pool thread.
      fn.reset();
      publish(*chunk);
    });
  }

  // Waits for every chunk in flight; they hold only shared pointers, but a restored or
  // reset pipeline must not race with them.
  void drain() {
    for (auto& chunk : inflight_) {
      std::unique_lock<std::mutex> lock(chunk->mutex);
      chunk->cv.wait(lock, [&] { return chunk->done.load(std::memory_order_acquire); });
    }
  }

  std::shared_ptr<MapChunkFn> fn_;
  std::string selector_;
  std::size_t parallel_;
  std::size_t max_chunk_;
  std::size_t chunk_size_ = 1;  // inputs of the next chunk
  std::deque<std::shared_ptr<MapChunk>> inflight_;
  std::deque<Element> replay_;
  bool upstream_done_ = false;
  bool upstream_failed_ = false;
  std::atomic<std::int64_t> chunks_{0};
};

class Filter final : public Node {
 public:
  Filter(NodePtr input, PredicateFn pred) : Node("filter", {std::move(input)}), pred_(std::move(pred)) {}

 protected:
  std::optional<Element> do_next() override {
    for (;;) {
      auto e = pull();
      if (!e) return std::nullopt;
      if (pred_(*e)) return e;
      ++rejected_;
    }
  }
  void do_reset(bool reset_rng) override { inputs_[0]->reset(reset_rng); }
  void save(Dict&) override {}
  void load(const Element&) override {}
  void extra_counters(std::vector<std::pair<std::string, std::int64_t>>& out) const override {
    out.emplace_back("rejected", rejected_);
  }

 private:
  PredicateFn pred_;
  std::int64_t rejected_ = 0;
};

// ---------------------------------------------------------------------------- shuffle

// The window is one shared List, copied on write: state() shares it with the saved state
// in O(1) instead of copying every buffered element (10k strings for a 10k window), and
// a later next() copies it only if that state is still alive. Each pick is O(1): the
// picked slot is refilled from upstream in place (or by the last element at the end).
class Shuffle final : public Node {
 public:
  Shuffle(NodePtr input, std::int64_t window, std::uint64_t seed)
      : Node("shuffle", {std::move(input)}), window_(window), seed_(seed), rng_(seed) {}

 protected:
  std::optional<Element> do_next() override {
    if (window_ == 1) return pull();
    if (!filled_) {
      std::vector<Element>& items = writable().items;
      if (window_ > 0) items.reserve(static_cast<std::size_t>(std::min<std::int64_t>(window_, 1 << 20)));
      while (window_ == 0 || static_cast<std::int64_t>(items.size()) < window_) {
        auto e = pull();
        if (!e) {
          upstream_done_ = true;
          break;
        }
        items.push_back(std::move(*e));
      }
      filled_ = true;
    }
    if (buffer_->items.empty()) return std::nullopt;
    std::vector<Element>& items = writable().items;
    std::size_t idx = has_next_ ? next_idx_ : static_cast<std::size_t>(rng_.below(items.size()));
    has_next_ = false;
    Element out = std::move(items[idx]);
    std::optional<Element> refill;
    if (!upstream_done_) {
      refill = pull();
      if (!refill) upstream_done_ = true;
    }
    if (refill) {
      items[idx] = std::move(*refill);
    } else {
      if (idx + 1 != items.size()) items[idx] = std::move(items.back());
      items.pop_back();
    }
    draw_next(items);
    return out;
  }
  void do_reset(bool reset_rng) override {
    undraw_next();
    buffer_ = std::make_shared<List>();
    filled_ = false;
    upstream_done_ = false;
    if (reset_rng) rng_.seed_with(seed_);
    inputs_[0]->reset(reset_rng);
  }
  // Version 2: the window size goes with the state; a window of another size holds other
  // elements, so such a state is refused. Version 1 states (no window) still load.
  int version() const override { return 2; }
  int min_version() const override { return 1; }
  void save(Dict& out) override {
    out.items.emplace_back("window", window_);
    // The RNG as it was before the look-ahead draw: the restored node draws it again.
    out.items.emplace_back("rng", has_next_ ? rng_before_next_.state() : rng_.state());
    out.items.emplace_back("filled", filled_);
    out.items.emplace_back("upstream_done", upstream_done_);
    Element shared;
    shared.value = ListPtr(buffer_);
    out.items.emplace_back("buffer", std::move(shared));
  }
  void load(const Element& s) override {
    std::int64_t window = get_int(s, "version") >= 2 ? get_int(s, "window") : window_;
    if (window != window_) {
      throw StateError("the state was saved with shuffle_window=" + std::to_string(window) +
                       " but this shuffle has shuffle_window=" + std::to_string(window_) +
                       "; load it into a pipeline built the same way");
    }
    has_next_ = false;
    rng_.load(dict_get(s, "rng"));
    filled_ = get_bool(s, "filled");
    upstream_done_ = get_bool(s, "upstream_done");
    const Element& buffer = dict_get(s, "buffer");
    if (const auto* shared = std::get_if<ListPtr>(&buffer.value)) {
      // Shared with the state, not copied; next() copies it only while the state lives.
      buffer_ = std::const_pointer_cast<List>(*shared);
    } else {
      buffer_ = std::make_shared<List>(get_list(s, "buffer"));
    }
  }

 private:
  // Draws the next pick one element early and asks the cache for its slot: with a window
  // of 10k elements (about 0.7 MB of slots, plus the strings they own) the slot is
  // otherwise a cache miss on every pick. The draw sequence is the one the node makes
  // without the look-ahead (the window size cannot change in between).
  void draw_next(const std::vector<Element>& items) {
    if (items.empty()) return;
    rng_before_next_ = rng_;
    next_idx_ = static_cast<std::size_t>(rng_.below(items.size()));
    has_next_ = true;
    const char* slot = reinterpret_cast<const char*>(&items[next_idx_]);
    __builtin_prefetch(slot);
    __builtin_prefetch(slot + sizeof(Element) - 1);
  }
  // Takes back a look-ahead draw (reset without reset_rng keeps the RNG going).
  void undraw_next() {
    if (has_next_) rng_ = rng_before_next_;
    has_next_ = false;
  }

  // The window, made unique first if a saved state still shares it.
  List& writable() {
    if (buffer_.use_count() > 1) buffer_ = std::make_shared<List>(*buffer_);
    return *buffer_;
  }

  std::int64_t window_;
  std::uint64_t seed_;
  Rng rng_;
  Rng rng_before_next_;
  std::size_t next_idx_ = 0;
  bool has_next_ = false;
  std::shared_ptr<List> buffer_ = std::make_shared<List>();
  bool filled_ = false;
  bool upstream_done_ = false;
};

// ---------------------------------------------------------------------------- buckets

class Bucket final : public Node {
 public:
  Bucket(NodePtr input, std::int64_t size, bool drop_remainder)
      : Node("bucket", {std::move(input)}), size_(size), drop_remainder_(drop_remainder) {}

 protected:
  std::optional<Element> do_next() override {
    List batch;
    batch.items.reserve(static_cast<std::size_t>(size_));
    while (static_cast<std::int64_t>(batch.items.size()) < size_) {
      auto e = pull();
      if (!e) break;
      batch.items.push_back(std::move(*e));
    }
    if (batch.items.empty()) return std::nullopt;
    if (static_cast<std::int64_t>(batch.items.size()) < size_ && drop_remainder_) {
      dropped_ += static_cast<std::int64_t>(batch.items.size());
      return std::nullopt;
    }
    return Element(std::move(batch));
  }
  void do_reset(bool reset_rng) override { inputs_[0]->reset(reset_rng); }
  void save(Dict&) override {}
  void load(const Element&) override {}
  void extra_counters(std::vector<std::pair<std::string, std::int64_t>>& out) const override {
    out.emplace_back("dropped", dropped_);
  }

 private:
  std::int64_t size_;
  bool drop_remainder_;
  std::int64_t dropped_ = 0;
};

class BucketByLength final : public Node {
 public:
  BucketByLength(NodePtr input, std::vector<std::pair<std::int64_t, std::int64_t>> sizes, std::string selector,
                 std::int64_t min_len, bool skip_short, bool skip_long, bool drop_remainder)
      : Node("bucket_by_length", {std::move(input)}),
        sizes_(std::move(sizes)),
        selector_(std::move(selector)),
        min_len_(min_len),
        skip_short_(skip_short),
        skip_long_(skip_long),
        drop_remainder_(drop_remainder),
        buckets_(sizes_.size()) {
    std::sort(sizes_.begin(), sizes_.end(), [](auto& a, auto& b) { return a.second < b.second; });
  }

 protected:
  std::optional<Element> do_next() override {
    while (!upstream_done_) {
      auto e = pull();
      if (!e) {
        upstream_done_ = true;
        break;
      }
      const Element& target = selector_.empty() ? *e : select(*e, selector_);
      std::int64_t len = element_length(target);
      if (len < min_len_) {
        if (skip_short_) {
          ++skipped_short_;
          continue;
        }
        throw PipelineError("an example has length " + std::to_string(len) + ", below min_data_len=" +
                            std::to_string(min_len_) + "; pass skip_below_min_examples=True to skip such examples");
      }
      std::size_t b = 0;
      while (b < sizes_.size() && sizes_[b].second < len) ++b;
      if (b == sizes_.size()) {
        if (skip_long_) {
          ++skipped_long_;
          continue;
        }
        throw PipelineError("an example has length " + std::to_string(len) +
                            ", above the largest bucket's max length " + std::to_string(sizes_.back().second) +
                            "; add a larger bucket or pass skip_above_max_examples=True");
      }
      buckets_[b].push_back(std::move(*e));
      if (static_cast<std::int64_t>(buckets_[b].size()) >= sizes_[b].first) return emit(b);
    }
    for (std::size_t b = 0; b < buckets_.size(); ++b) {
      if (buckets_[b].empty()) continue;
      if (drop_remainder_) {
        dropped_ += static_cast<std::int64_t>(buckets_[b].size());
        buckets_[b].clear();
        continue;
      }
      return emit(b);
    }
    return std::nullopt;
  }
  void do_reset(bool reset_rng) override {
    for (auto& b : buckets_) b.clear();
    upstream_done_ = false;
    inputs_[0]->reset(reset_rng);
  }
  void save(Dict& out) override {
    List buckets;
    for (auto& b : buckets_) buckets.items.push_back(list_of(b));
    out.items.emplace_back("buckets", Element(std::move(buckets)));
    out.items.emplace_back("upstream_done", upstream_done_);
  }
  void load(const Element& s) override {
    List buckets = get_list(s, "buckets");
    if (buckets.items.size() != buckets_.size()) throw StateError("the number of buckets differs");
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
      buckets_[i] = as_list(buckets.items[i]).items;
    }
    upstream_done_ = get_bool(s, "upstream_done");
  }
  void extra_counters(std::vector<std::pair<std::string, std::int64_t>>& out) const override {
    out.emplace_back("skipped_short", skipped_short_);
    out.emplace_back("skipped_long", skipped_long_);
    out.emplace_back("dropped", dropped_);
  }

 private:
  Element emit(std::size_t b) {
    List batch;
    batch.items = std::move(buckets_[b]);
    buckets_[b].clear();
    buckets_[b].reserve(static_cast<std::size_t>(std::min<std::int64_t>(sizes_[b].first, 1024)));
    return Element(std::move(batch));
  }

  std::vector<std::pair<std::int64_t, std::int64_t>> sizes_;
  std::string selector_;
  std::int64_t min_len_;
  bool skip_short_, skip_long_, drop_remainder_;
  std::vector<std::vector<Element>> buckets_;
  bool upstream_done_ = false;
  std::int64_t skipped_short_ = 0, skipped_long_ = 0, dropped_ = 0;
};

// ---------------------------------------------------------------------------- slicing

class Shard final : public Node {
 public:
  Shard(NodePtr input, std::int64_t index, std::int64_t count)
      : Node("shard", {std::move(input)}), index_(index), count_(count) {
    at_source_ = inputs_[0]->try_shard(index, count);
  }

 protected:
  std::optional<Element> do_next() override {
    if (at_source_) return pull();
    for (;;) {
      auto e = pull();
      if (!e) return std::nullopt;
      std::int64_t p = pos_++;
      if (p % count_ == index_) return e;
    }
  }
  void do_reset(bool reset_rng) override {
    pos_ = 0;
    inputs_[0]->reset(reset_rng);
  }
  // Version 2: the shard index and count go with the position (version 1 still loads).
  int version() const override { return 2; }
  int min_version() const override { return 1; }
  void save(Dict& out) override {
    out.items.emplace_back("position", pos_);
    out.items.emplace_back("shard_idx", index_);
    out.items.emplace_back("num_shards", count_);
  }
  void load(const Element& s) override {
    bool v1 = get_int(s, "version") < 2;
    std::int64_t index = v1 ? index_ : get_int(s, "shard_idx"), count = v1 ? count_ : get_int(s, "num_shards");
    if (index != index_ || count != count_) {
      throw StateError("the state was saved for shard " + std::to_string(index) + " of " + std::to_string(count) +
                       " but this is shard " + std::to_string(index_) + " of " + std::to_string(count_));
    }
    pos_ = get_int(s, "position");
  }
  void extra_counters(std::vector<std::pair<std::string, std::int64_t>>& out) const override {
    out.emplace_back("split_at_source", at_source_ ? 1 : 0);
  }

 private:
  std::int64_t index_, count_;
  std::int64_t pos_ = 0;
  bool at_source_ = false;
};

class Take final : public Node {
 public:
  Take(NodePtr input, std::int64_t n) : Node("take", {std::move(input)}), n_(n) {}

 protected:
  std::optional<Element> do_next() override {
    if (taken_ >= n_) return std::nullopt;
    auto e = pull();
    if (e) ++taken_;
    return e;
  }
  void do_reset(bool reset_rng) override {
    taken_ = 0;
    inputs_[0]->reset(reset_rng);
  }
  void save(Dict& out) override { out.items.emplace_back("taken", taken_); }
  void load(const Element& s) override { taken_ = get_int(s, "taken"); }

 private:
  std::int64_t n_;
  std::int64_t taken_ = 0;
};

class Skip final : public Node {
 public:
  Skip(NodePtr input, std::int64_t n) : Node("skip", {std::move(input)}), n_(n) {}

 protected:
  std::optional<Element> do_next() override {
    while (skipped_ < n_) {
      if (!pull()) return std::nullopt;
      ++skipped_;
    }
    return pull();
  }
  void do_reset(bool reset_rng) override {
    skipped_ = 0;
    inputs_[0]->reset(reset_rng);
  }
  void save(Dict& out) override { out.items.emplace_back("skipped", skipped_); }
  void load(const Element& s) override { skipped_ = get_int(s, "skipped"); }

 private:
  std::int64_t n_;
  std::int64_t skipped_ = 0;
};

class Repeat final : public Node {
 public:
  Repeat(NodePtr input, std::optional<std::int64_t> n, bool reset_rng)
      : Node("repeat", {std::move(input)}), n_(n), reset_rng_(reset_rng) {}

 protected:
  std::optional<Element> do_next() override {
    if (n_ && done_ >= *n_) return std::nullopt;
    auto e = pull();
    if (e) {
      yielded_in_round_ = true;
      return e;
    }
    ++done_;
    // An empty input would otherwise loop forever.
    if ((n_ && done_ >= *n_) || !yielded_in_round_) return std::nullopt;
    yielded_in_round_ = false;
    inputs_[0]->reset(reset_rng_);
    e = pull();
    if (e) yielded_in_round_ = true;
    return e;
  }
  void do_reset(bool reset_rng) override {
    done_ = 0;
    yielded_in_round_ = false;
    inputs_[0]->reset(reset_rng);
  }
  void save(Dict& out) override {
    out.items.emplace_back("repeats_done", done_);
    out.items.emplace_back("yielded_in_round", yielded_in_round_);
  }
  void load(const Element& s) override {
    done_ = get_int(s, "repeats_done");
    yielded_in_round_ = get_bool(s, "yielded_in_round");
  }

 private:
  std::optional<std::int64_t> n_;
  bool reset_rng_;
  std::int64_t done_ = 0;
  bool yielded_in_round_ = false;
};

class YieldFrom final : public Node {
 public:
  YieldFrom(NodePtr input, YieldFn fn) : Node("yield_from", {std::move(input)}), fn_(std::move(fn)) {}
  ~YieldFrom() override {
    if (sub_) sub_->shutdown();
  }

 protected:
  std::optional<Element> do_next() override {
    for (;;) {
      if (sub_) {
        auto e = sub_->next();
        if (e) return e;
        sub_->shutdown();
        sub_.reset();
      }
      auto src = pull();
      if (!src) return std::nullopt;
      source_ = std::move(*src);
      sub_ = fn_(source_);
    }
  }
  void do_reset(bool reset_rng) override {
    if (sub_) sub_->shutdown();
    sub_.reset();
    inputs_[0]->reset(reset_rng);
  }
  void save(Dict& out) override {
    out.items.emplace_back("active", sub_ != nullptr);
    if (sub_) {
      out.items.emplace_back("source", source_);
      out.items.emplace_back("inner", sub_->state());
    }
  }
  void load(const Element& s) override {
    if (sub_) sub_->shutdown();
    sub_.reset();
    if (get_bool(s, "active")) {
      source_ = dict_get(s, "source");
      sub_ = fn_(source_);
      sub_->load_state(dict_get(s, "inner"), "yield_from(inner)");
    }
  }

 private:
  YieldFn fn_;
  NodePtr sub_;
  Element source_;
};

class Unbatch final : public Node {
 public:
  explicit Unbatch(NodePtr input) : Node("unbatch", {std::move(input)}) {}

 protected:
  std::optional<Element> do_next() override {
    while (!current_ || pos_ >= current_->items.size()) {
      auto e = pull();
      if (!e) return std::nullopt;
      if (const auto* lp = std::get_if<ListPtr>(&e->value)) {
        current_ = *lp;
      } else if (const Array* a = e->array(); a != nullptr && a->as_list) {
        current_ = std::make_shared<const List>(as_list(*e));
      } else {
        throw PipelineError(std::string("unbatch() needs list elements, got a ") + e->type_name());
      }
      pos_ = 0;
    }
    // Items before pos_ are never read again (save() keeps only the tail), so a batch
    // that nobody else holds gives its items up instead of copying them.
    if (current_.use_count() == 1) return std::move(const_cast<List&>(*current_).items[pos_++]);
    return current_->items[pos_++];
  }
  void do_reset(bool reset_rng) override {
    current_.reset();
    pos_ = 0;
    inputs_[0]->reset(reset_rng);
  }
  // Only the unconsumed tail of the current batch is saved.
  void save(Dict& out) override {
    List rest;
    if (current_) rest.items.assign(current_->items.begin() + static_cast<std::ptrdiff_t>(pos_), current_->items.end());
    out.items.emplace_back("rest", Element(std::move(rest)));
  }
  void load(const Element& s) override {
    current_ = std::make_shared<const List>(get_list(s, "rest"));
    pos_ = 0;
  }

 private:
  ListPtr current_;
  std::size_t pos_ = 0;
};

// --------------------------------------------------------------------------- prefetch

// A background thread keeps up to `capacity_` elements ready. Two condition variables
// (not_empty_ for the consumer, not_full_ for the producer) and refill hysteresis: a
// producer that found the buffer full sleeps until the consumer has taken it down to
// half; a consumer that found it empty sleeps until two elements are ready (one if the
// capacity is 1, or once 20 ms have passed), so each wake-up is paid for by two elements
// instead of one; and each
// side signals only when the other is actually asleep. With one shared
// condition variable and a refill per element, a consumer slightly faster than the
// producer woke it for every element: two futex calls and two context switches per
// element on a 2-core machine, which made prefetching a slowdown.
class Prefetch final : public Node {
 public:
  Prefetch(NodePtr input, std::int64_t n)
      : Node("prefetch", {std::move(input)}),
        capacity_(static_cast<std::size_t>(std::max<std::int64_t>(n, 1))),
        low_water_(capacity_ / 2),
        wake_level_(std::min<std::size_t>(capacity_, 2)) {}
  ~Prefetch() override { stop(); }

  void shutdown() override {
    stop();
    Node::shutdown();
  }

 protected:
  std::optional<Element> do_next() override {
    start();
    std::unique_lock<std::mutex> lock(mutex_);
    if (buffer_.empty() && !producer_done_) {
      consumer_waits_.fetch_add(1, std::memory_order_relaxed);
      consumer_waiting_ = true;
      wake_need_ = wake_level_;
      auto ready = [&] { return buffer_.size() >= wake_need_ || producer_done_; };
      try {
        // Two ready elements pay for a wake-up, but only for one time slice: an upstream
        // that yields one element and then stalls (or waits on this consumer) must still
        // deliver it.
        if (!not_empty_.wait_for(lock, std::chrono::milliseconds(20), ready)) {
          wake_need_ = 1;
          wait_interruptibly(lock, not_empty_, ready);
        }
      } catch (...) {
        consumer_waiting_ = false;
        throw;
      }
      consumer_waiting_ = false;
    }
    if (!buffer_.empty()) return pop_locked();
    if (error_) {
      std::exception_ptr err = error_;
      error_ = nullptr;
      std::rethrow_exception(err);
    }
    return std::nullopt;
  }
  bool do_try_next(std::optional<Element>& out) override {
    start();
    std::lock_guard<std::mutex> lock(mutex_);
    if (buffer_.empty()) return false;
    out = pop_locked();
    return true;
  }
  void pause() override { stop(); }
  void do_reset(bool reset_rng) override {
    stop();
    buffer_.clear();
    producer_done_ = false;
    error_ = nullptr;
    inputs_[0]->reset(reset_rng);
  }
  // Prefetched-but-unconsumed elements are saved so that no element is lost or repeated.
  void save(Dict& out) override {
    if (error_) throw PipelineError("cannot save the state of a pipeline whose prefetch thread failed");
    List buf;
    buf.items.assign(buffer_.begin(), buffer_.end());
    out.items.emplace_back("buffer", Element(std::move(buf)));
    out.items.emplace_back("upstream_done", producer_done_);
  }
  void load(const Element& s) override {
    auto items = items_of(s, "buffer");
    buffer_.assign(std::make_move_iterator(items.begin()), std::make_move_iterator(items.end()));
    producer_done_ = get_bool(s, "upstream_done");
    error_ = nullptr;
  }
  void extra_counters(std::vector<std::pair<std::string, std::int64_t>>& out) const override {
    // consumer_waits: next() found nothing ready (the pipeline behind is the bottleneck);
    // producer_waits: the thread found the buffer full (the consumer is).
    out.emplace_back("consumer_waits", consumer_waits_.load(std::memory_order_relaxed));
    out.emplace_back("producer_waits", producer_waits_.load(std::memory_order_relaxed));
  }

 private:
  // Takes the front element (mutex_ held) and wakes a sleeping producer at the low mark.
  Element pop_locked() {
    Element e = std::move(buffer_.front());
    buffer_.pop_front();
    if (producer_waiting_ && buffer_.size() <= low_water_) not_full_.notify_one();
    return e;
  }

  void start() {
    if (running_ || producer_done_) return;
    stopping_ = false;
    running_ = true;
    thread_ = std::thread([this] { produce(); });
  }

  // Joins the thread; an element it was pulling still lands in the buffer (it is saved).
  void stop() {
    if (!running_) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    not_full_.notify_all();
    thread_.join();
    running_ = false;
  }

  void produce() {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        if (stopping_) return;
        if (buffer_.size() >= capacity_) {
          producer_waits_.fetch_add(1, std::memory_order_relaxed);
          producer_waiting_ = true;
          not_full_.wait(lock, [&] { return stopping_ || buffer_.size() <= low_water_; });
          producer_waiting_ = false;
          if (stopping_) return;
        }
      }
      std::optional<Element> e;
      std::exception_ptr err;
      try {
        e = pull();
      } catch (...) {
        err = std::current_exception();
      }
      std::lock_guard<std::mutex> lock(mutex_);
      if (err || !e) {
        error_ = err;
        producer_done_ = true;
        not_empty_.notify_one();
        return;
      }
      buffer_.push_back(std::move(*e));
      if (consumer_waiting_ && buffer_.size() >= wake_need_) not_empty_.notify_one();
    }
  }

  std::size_t capacity_;
  std::size_t low_water_;
  std::size_t wake_level_;
  std::size_t wake_need_ = 1;  // elements a waiting consumer wants before it is woken
  std::mutex mutex_;
  std::condition_variable not_empty_;
  std::condition_variable not_full_;
  std::deque<Element> buffer_;
  bool producer_done_ = false;
  bool stopping_ = false;
  bool running_ = false;
  bool consumer_waiting_ = false;
  bool producer_waiting_ = false;
  std::atomic<std::int64_t> consumer_waits_{0};
  std::atomic<std::int64_t> producer_waits_{0};
  std::exception_ptr error_;
  std::thread thread_;
};

void require_input(const NodePtr& input, const std::string& call) {
  if (input == nullptr) throw std::invalid_argument(call + "(): the input pipeline is null");
}

}  // namespace

NodePtr make_map(NodePtr input, MapFn fn, std::string selector, std::int64_t num_parallel_calls) {
  if (!fn) throw std::invalid_argument("map(): fn is empty");
  MapChunkFn each = [fn = std::move(fn)](const std::vector<Element>& inputs, std::vector<Element>& outputs) {
    for (const Element& e : inputs) outputs.push_back(fn(e));
  };
  return make_chunked_map(std::move(input), std::move(each), std::move(selector), num_parallel_calls, 1);
}
NodePtr make_chunked_map(NodePtr input, MapChunkFn fn, std::string selector, std::int64_t num_parallel_calls,
                         std::int64_t max_chunk) {
  require_input(input, "map");
  if (!fn) throw std::invalid_argument("map(): fn is empty");
  require_at_least("map", "num_parallel_calls", num_parallel_calls, 1);
  require_at_least("map", "max_chunk", max_chunk, 1);
  return std::make_shared<Map>(std::move(input), std::move(fn), std::move(selector), num_parallel_calls, max_chunk);
}
NodePtr make_filter(NodePtr input, PredicateFn predicate) {
  require_input(input, "filter");
  if (!predicate) throw std::invalid_argument("filter(): predicate is empty");
  return std::make_shared<Filter>(std::move(input), std::move(predicate));
}
NodePtr make_shuffle(NodePtr input, std::int64_t window, std::uint64_t seed) {
  require_input(input, "shuffle");
  if (window < 0) {
    bad_argument("shuffle", "shuffle_window", std::to_string(window), ">= 0 (0 shuffles the whole input)");
  }
  return std::make_shared<Shuffle>(std::move(input), window, seed);
}
NodePtr make_bucket(NodePtr input, std::int64_t size, bool drop_remainder) {
  require_input(input, "bucket");
  require_at_least("bucket", "bucket_size", size, 1);
  return std::make_shared<Bucket>(std::move(input), size, drop_remainder);
}
NodePtr make_bucket_by_length(NodePtr input, std::vector<std::pair<std::int64_t, std::int64_t>> sizes,
                              std::string selector, std::int64_t min_data_len, bool skip_below_min_examples,
                              bool skip_above_max_examples, bool drop_remainder) {
  require_input(input, "bucket_by_length");
  if (sizes.empty()) {
    bad_argument("bucket_by_length", "bucket_sizes", "[]",
                 "a non-empty list of (batch_size, max_length) pairs");
  }
  std::int64_t longest = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    auto [batch_size, max_len] = sizes[i];
    if (batch_size < 1 || max_len < 1) {
      bad_argument("bucket_by_length", "bucket_sizes[" + std::to_string(i) + "]",
                   "(" + std::to_string(batch_size) + ", " + std::to_string(max_len) + ")",
                   "(batch_size, max_length) with batch_size >= 1 and max_length >= 1");
    }
    longest = std::max(longest, max_len);
  }
  if (min_data_len < 0 || min_data_len > longest) {
    bad_argument("bucket_by_length", "min_data_len", std::to_string(min_data_len),
                 "in [0, " + std::to_string(longest) + "] (the largest max_length of bucket_sizes)");
  }
  return std::make_shared<BucketByLength>(std::move(input), std::move(sizes), std::move(selector), min_data_len,
                                          skip_below_min_examples, skip_above_max_examples, drop_remainder);
}
NodePtr make_shard(NodePtr input, std::int64_t index, std::int64_t count) {
  require_input(input, "shard");
  require_at_least("shard", "num_shards", count, 1);
  if (index < 0 || index >= count) {
    bad_argument("shard", "shard_idx", std::to_string(index), "in [0, num_shards) = [0, " + std::to_string(count) + ")");
  }
  return std::make_shared<Shard>(std::move(input), index, count);
}
NodePtr make_take(NodePtr input, std::int64_t n) {
  require_input(input, "take");
  require_at_least("take", "num_examples", n, 0);
  return std::make_shared<Take>(std::move(input), n);
}
NodePtr make_skip(NodePtr input, std::int64_t n) {
  require_input(input, "skip");
  require_at_least("skip", "num_examples", n, 0);
  return std::make_shared<Skip>(std::move(input), n);
}
NodePtr make_repeat(NodePtr input, std::optional<std::int64_t> n, bool reset_rng) {
  require_input(input, "repeat");
  if (n && *n < 0) bad_argument("repeat", "num_repeats", std::to_string(*n), "None (forever) or >= 0");
  return std::make_shared<Repeat>(std::move(input), n, reset_rng);
}
NodePtr make_yield_from(NodePtr input, YieldFn fn) {
  require_input(input, "yield_from");
  if (!fn) throw std::invalid_argument("yield_from(): fn is empty");
  return std::make_shared<YieldFrom>(std::move(input), std::move(fn));
}
NodePtr make_unbatch(NodePtr input) {
  require_input(input, "unbatch");
  return std::make_shared<Unbatch>(std::move(input));
}
NodePtr make_prefetch(NodePtr input, std::int64_t n) {
  require_input(input, "prefetch");
  require_at_least("prefetch", "num_examples", n, 0);
  return std::make_shared<Prefetch>(std::move(input), n);
}

}  // namespace seqkit
