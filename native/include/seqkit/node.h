// A pull-based pipeline node. Each node yields elements on demand from its inputs and
// can save and restore its exact position as plain data.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "seqkit/element.h"

namespace seqkit {

// Raised by any node. `op` and `position` locate the failure: the operator and how many
// elements it had yielded before it failed. `foreign` holds the original Python
// exception when a user callable raised (the bindings re-raise it as the cause).
class PipelineError : public std::runtime_error {
 public:
  explicit PipelineError(const std::string& message, std::string op = {}, std::int64_t position = -1,
                         std::shared_ptr<void> foreign = nullptr)
      : std::runtime_error(message), op(std::move(op)), position(position), foreign(std::move(foreign)) {}

  std::string op;
  std::int64_t position;
  std::shared_ptr<void> foreign;
};

// Raised when a saved state does not fit the pipeline it is loaded into.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A consumer blocked on background work calls the wait hook about every 50 ms; the
// bindings install one that raises on Ctrl-C (Python signals are only seen that way).
using WaitHook = void (*)();
void set_wait_hook(WaitHook hook) noexcept;
void run_wait_hook();

// Waits on `cv` until `ready()`, running the wait hook between timed waits.
template <typename Lock, typename Cv, typename Pred>
void wait_interruptibly(Lock& lock, Cv& cv, Pred ready) {
  while (!cv.wait_for(lock, std::chrono::milliseconds(50), ready)) {
    lock.unlock();
    try {
      run_wait_hook();
    } catch (...) {
      lock.lock();
      throw;
    }
    lock.lock();
  }
}

// A cheap monotonic tick counter for operator timing: the TSC on x86-64 (9 ns a read
// against 21 ns for steady_clock through the vDSO on the 2-core AMD EPYC dev machine,
// paid twice per timed call per operator), the virtual counter on AArch64, steady_clock
// elsewhere. Ticks are turned into nanoseconds only when stats are read.
std::uint64_t cheap_ticks() noexcept;
// Nanoseconds per tick, measured against steady_clock since the first cheap_ticks() call.
double ns_per_tick() noexcept;

struct NodeStats {
  std::string op;
  int depth = 0;
  std::int64_t num_yielded = 0;
  std::int64_t time_ns = 0;  // inclusive of the inputs this node pulled from
  std::vector<std::pair<std::string, std::int64_t>> counters;
};

class Node {
 public:
  explicit Node(std::string op, std::vector<std::shared_ptr<Node>> inputs = {})
      : op_(std::move(op)), inputs_(std::move(inputs)) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // The next element, or nullopt at the end. Errors come out as PipelineError.
  std::optional<Element> next();
  // The next element if one is ready without waiting (a prefetch buffer): true and `out`
  // set; false means "call next()". Never blocks and never calls Python, so callers may
  // hold the GIL (no release/re-acquire, hence no GIL hand-off, per ready element).
  bool try_next_ready(std::optional<Element>& out);
  // Back to the start; reset_rng also rewinds random generators to their seeds.
  void reset(bool reset_rng);
  // {"op": ..., "version": ..., "inputs": [...], ...node fields}: plain data.
  Element state();
  // Restores a state made by state(); `path` names this node in error messages.
  void load_state(const Element& state, const std::string& path);
  // Restricts a source to shard `index` of `count` in place; false if it cannot.
  virtual bool try_shard(std::int64_t index, std::int64_t count);
  // Whether try_shard() keeps exactly the elements a round-robin shard would keep.
  virtual bool shards_exactly() const { return false; }

  const std::string& op() const noexcept { return op_; }
  const std::vector<std::shared_ptr<Node>>& inputs() const noexcept { return inputs_; }
  void collect_stats(std::vector<NodeStats>& out, int depth) const;
  // Stops background work (threads, in-flight tasks) before the node is destroyed.
  virtual void shutdown();

 protected:
  // Brings background work to rest so that inputs can be saved or restored safely.
  virtual void pause() {}

 protected:
  virtual std::optional<Element> do_next() = 0;
  virtual void do_reset(bool reset_rng) = 0;
  virtual void save(Dict& out) = 0;
  virtual void load(const Element& state) = 0;
  virtual int version() const { return 1; }
  // The oldest state version load() still reads (it finds the version in the state).
  virtual int min_version() const { return version(); }
  // See try_next_ready(); only nodes with a ready buffer override it.
  virtual bool do_try_next(std::optional<Element>& /*out*/) { return false; }
  virtual void extra_counters(std::vector<std::pair<std::string, std::int64_t>>& /*out*/) const {}

  std::optional<Element> pull(std::size_t input = 0) { return inputs_[input]->next(); }

  std::string op_;
  std::vector<std::shared_ptr<Node>> inputs_;

 private:
  // Written only by the one thread that pulls this node at a time, read by stats() from
  // any thread: relaxed load-add-store, not a locked read-modify-write per element.
  std::atomic<std::int64_t> num_yielded_{0};
  std::atomic<std::uint64_t> time_ticks_{0};
  // Sampling of timed calls (see next()); touched only by the pulling thread.
  std::uint32_t exact_calls_ = 0;
  std::uint32_t sample_state_ = 0x9e3779b9u;
};

using NodePtr = std::shared_ptr<Node>;

// xoshiro256** with a splitmix64 seed expansion: the same stream on every platform,
// unlike the std:: distributions whose output is implementation-defined.
class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) { seed_with(seed); }
  void seed_with(std::uint64_t seed);
  std::uint64_t next_u64() noexcept;
  // Uniform in [0, bound) without modulo bias.
  std::uint64_t below(std::uint64_t bound) noexcept;
  double uniform() noexcept { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  Element state() const;
  void load(const Element& state);

 private:
  std::uint64_t s_[4]{};
};

}  // namespace seqkit
