// Element helpers, the Node base class, the RNG and the shared thread pool.
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__) || defined(_M_X64)
#include <x86intrin.h>
#endif

#include "seqkit/element.h"
#include "seqkit/node.h"
#include "seqkit/thread_pool.h"

namespace seqkit {

std::size_t dtype_size(DType dtype) noexcept {
  switch (dtype) {
    case DType::kBool:
    case DType::kInt8:
    case DType::kUInt8:
      return 1;
    case DType::kInt16:
    case DType::kUInt16:
      return 2;
    case DType::kInt32:
    case DType::kUInt32:
    case DType::kFloat32:
      return 4;
    case DType::kInt64:
    case DType::kFloat64:
      return 8;
  }
  return 1;
}

const char* dtype_name(DType dtype) noexcept {
  static const char* names[] = {"bool",   "int8",  "uint8",  "int16",   "uint16",
                                "int32",  "uint32", "int64", "float32", "float64"};
  return names[static_cast<int>(dtype)];
}

bool dtype_is_integer(DType dtype) noexcept {
  return dtype != DType::kFloat32 && dtype != DType::kFloat64 && dtype != DType::kBool;
}

std::int64_t Array::numel() const noexcept {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::int64_t Array::int_at(std::int64_t i) const noexcept {
  switch (dtype) {
    case DType::kBool:
    case DType::kUInt8: return static_cast<const std::uint8_t*>(data)[i];
    case DType::kInt8: return static_cast<const std::int8_t*>(data)[i];
    case DType::kInt16: return static_cast<const std::int16_t*>(data)[i];
    case DType::kUInt16: return static_cast<const std::uint16_t*>(data)[i];
    case DType::kInt32: return static_cast<const std::int32_t*>(data)[i];
    case DType::kUInt32: return static_cast<const std::uint32_t*>(data)[i];
    case DType::kInt64: return static_cast<const std::int64_t*>(data)[i];
    case DType::kFloat32: return static_cast<std::int64_t>(static_cast<const float*>(data)[i]);
    case DType::kFloat64: return static_cast<std::int64_t>(static_cast<const double*>(data)[i]);
  }
  return 0;
}

double Array::float_at(std::int64_t i) const noexcept {
  switch (dtype) {
    case DType::kFloat32: return static_cast<const float*>(data)[i];
    case DType::kFloat64: return static_cast<const double*>(data)[i];
    default: return static_cast<double>(int_at(i));
  }
}

Array Array::allocate(DType dtype, std::vector<std::int64_t> shape) {
  Array a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  std::size_t bytes = a.nbytes();
  std::shared_ptr<char[]> buffer(new char[bytes == 0 ? 1 : bytes]);
  a.data = buffer.get();
  a.owner = std::shared_ptr<const void>(buffer, buffer.get());
  return a;
}

const Element* Dict::find(std::string_view key) const noexcept {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

const List* Element::list() const noexcept {
  const auto* p = std::get_if<ListPtr>(&value);
  return p != nullptr ? p->get() : nullptr;
}

const Dict* Element::dict() const noexcept {
  const auto* p = std::get_if<DictPtr>(&value);
  return p != nullptr ? p->get() : nullptr;
}

const char* Element::type_name() const noexcept {
  static const char* names[] = {"None", "bool", "int",  "float", "str",
                                "bytes", "array", "list", "dict", "object"};
  return names[value.index()];
}

const Element& dict_get(const Element& dict, std::string_view key) {
  const Dict* d = dict.dict();
  if (d == nullptr) throw StateError("expected a dict while reading '" + std::string(key) + "'");
  const Element* e = d->find(key);
  if (e == nullptr) throw StateError("state has no key '" + std::string(key) + "'");
  return *e;
}

std::int64_t get_int(const Element& dict, std::string_view key) {
  const Element& e = dict_get(dict, key);
  if (const auto* v = std::get_if<std::int64_t>(&e.value)) return *v;
  throw StateError("state key '" + std::string(key) + "' is not an int");
}

bool get_bool(const Element& dict, std::string_view key) {
  const Element& e = dict_get(dict, key);
  if (const auto* v = std::get_if<bool>(&e.value)) return *v;
  throw StateError("state key '" + std::string(key) + "' is not a bool");
}

List as_list(const Element& e) {
  if (const List* l = e.list()) return *l;
  if (const Array* a = e.array(); a != nullptr && a->as_list) {
    List l;
    for (std::int64_t i = 0; i < a->numel(); ++i) l.items.emplace_back(a->int_at(i));
    return l;
  }
  throw StateError(std::string("expected a list, got a ") + e.type_name());
}

List get_list(const Element& dict, std::string_view key) {
  try {
    return as_list(dict_get(dict, key));
  } catch (const StateError&) {
    throw StateError("state key '" + std::string(key) + "' is not a list");
  }
}

std::string get_str(const Element& dict, std::string_view key) {
  const Element& e = dict_get(dict, key);
  if (const auto* v = std::get_if<std::string>(&e.value)) return *v;
  throw StateError("state key '" + std::string(key) + "' is not a str");
}

std::int64_t element_length(const Element& e) {
  if (const Array* a = e.array()) {
    if (a->shape.empty()) throw std::runtime_error("cannot take the length of a 0-d array");
    return a->shape[0];
  }
  if (const List* l = e.list()) return static_cast<std::int64_t>(l->items.size());
  if (const auto* s = std::get_if<std::string>(&e.value)) return static_cast<std::int64_t>(s->size());
  if (const auto* b = std::get_if<Bytes>(&e.value)) return static_cast<std::int64_t>(b->data.size());
  throw std::runtime_error(std::string("cannot take the length of a ") + e.type_name() +
                           " element; pass a selector that names a sequence");
}

namespace {

// Splits "a.b[2].c" into steps: keys and indices.
struct Step {
  std::string key;
  std::int64_t index = -1;
};

std::vector<Step> parse_selector(std::string_view sel) {
  std::vector<Step> steps;
  std::size_t i = 0;
  while (i < sel.size()) {
    if (sel[i] == '.') {
      ++i;
      continue;
    }
    if (sel[i] == '[') {
      std::size_t close = sel.find(']', i);
      if (close == std::string_view::npos) {
        throw std::runtime_error("selector '" + std::string(sel) + "' has an unclosed '['");
      }
      Step s;
      s.index = std::atoll(std::string(sel.substr(i + 1, close - i - 1)).c_str());
      steps.push_back(s);
      i = close + 1;
      continue;
    }
    std::size_t stop = sel.find_first_of(".[", i);
    if (stop == std::string_view::npos) stop = sel.size();
    steps.push_back(Step{std::string(sel.substr(i, stop - i)), -1});
    i = stop;
  }
  return steps;
}

const Element& step_into(const Element& e, const Step& s, std::string_view sel) {
  if (s.index >= 0) {
    const List* l = e.list();
    if (l == nullptr || s.index >= static_cast<std::int64_t>(l->items.size())) {
      throw std::runtime_error("selector '" + std::string(sel) + "': index " +
                               std::to_string(s.index) + " does not exist in a " + e.type_name());
    }
    return l->items[static_cast<std::size_t>(s.index)];
  }
  const Dict* d = e.dict();
  const Element* found = d != nullptr ? d->find(s.key) : nullptr;
  if (found == nullptr) {
    throw std::runtime_error("selector '" + std::string(sel) + "': key '" + s.key +
                             "' does not exist in a " + e.type_name());
  }
  return *found;
}

Element replace_steps(const Element& e, const std::vector<Step>& steps, std::size_t at,
                      std::string_view sel, Element value) {
  if (at == steps.size()) return value;
  const Step& s = steps[at];
  const Element& child = step_into(e, s, sel);
  Element replaced = replace_steps(child, steps, at + 1, sel, std::move(value));
  if (s.index >= 0) {
    List copy = *e.list();
    copy.items[static_cast<std::size_t>(s.index)] = std::move(replaced);
    return Element(std::move(copy));
  }
  Dict copy = *e.dict();
  for (auto& kv : copy.items) {
    if (kv.first == s.key) kv.second = std::move(replaced);
  }
  return Element(std::move(copy));
}

}  // namespace

const Element& select(const Element& element, std::string_view selector) {
  const Element* e = &element;
  for (const Step& s : parse_selector(selector)) e = &step_into(*e, s, selector);
  return *e;
}

Element replace_at(const Element& element, std::string_view selector, Element value) {
  return replace_steps(element, parse_selector(selector), 0, selector, std::move(value));
}

// ---------------------------------------------------------------------------------- Node

namespace {
std::atomic<WaitHook> g_wait_hook{nullptr};
}  // namespace

void set_wait_hook(WaitHook hook) noexcept { g_wait_hook.store(hook); }

void run_wait_hook() {
  if (WaitHook hook = g_wait_hook.load()) hook();
}

namespace {

std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::uint64_t read_ticks() noexcept {
#if defined(__x86_64__) || defined(_M_X64)
  return __rdtsc();
#elif defined(__aarch64__)
  std::uint64_t v;
  asm volatile("mrs %0, cntvct_el0" : "=r"(v));
  return v;
#else
  return static_cast<std::uint64_t>(steady_ns());
#endif
}

// The calibration anchor: a (ticks, ns) pair taken once, at the first tick read.
struct TickAnchor {
  std::uint64_t ticks = read_ticks();
  std::int64_t ns = steady_ns();
};

const TickAnchor& anchor() noexcept {
  static const TickAnchor a;
  return a;
}

}  // namespace

std::uint64_t cheap_ticks() noexcept {
  (void)anchor();
  return read_ticks();
}

double ns_per_tick() noexcept {
#if defined(__x86_64__) || defined(_M_X64) || defined(__aarch64__)
  const TickAnchor& a = anchor();
  // Under a couple of milliseconds the ratio is mostly jitter: wait that long once (only a
  // stats() call in the process's first milliseconds of pipeline work ever does).
  while (steady_ns() - a.ns < 2000000) {
  }
  std::uint64_t ticks = read_ticks();
  std::int64_t ns = steady_ns();
  if (ticks <= a.ticks) return 1.0;
  return static_cast<double>(ns - a.ns) / static_cast<double>(ticks - a.ticks);
#else
  return 1.0;
#endif
}

std::optional<Element> Node::next() {
  // The first kExactCalls calls are all timed; after that one call in kSampleEvery, picked
  // by a per-node xorshift (not every k-th: bucket(64) makes call costs periodic), counts
  // kSampleEvery times. Two tick reads per call per operator were ~1% of a text pipeline.
  constexpr std::uint32_t kExactCalls = 256;
  constexpr std::uint32_t kSampleEvery = 8;
  std::uint64_t weight = 0;
  if (exact_calls_ < kExactCalls) {
    ++exact_calls_;
    weight = 1;
  } else {
    sample_state_ ^= sample_state_ << 13;
    sample_state_ ^= sample_state_ >> 17;
    sample_state_ ^= sample_state_ << 5;
    if (sample_state_ % kSampleEvery == 0) weight = kSampleEvery;
  }
  std::uint64_t start = weight != 0 ? cheap_ticks() : 0;
  std::optional<Element> out;
  try {
    out = do_next();
  } catch (PipelineError& e) {
    if (e.op.empty()) {
      e.op = op_;
      e.position = num_yielded_.load(std::memory_order_relaxed);
    }
    throw;
  } catch (const StateError&) {
    throw;
  } catch (const std::exception& e) {
    throw PipelineError(e.what(), op_, num_yielded_.load(std::memory_order_relaxed));
  }
  if (weight != 0) {
    std::uint64_t stop = cheap_ticks();
    // A thread moved to another core may read a slightly earlier TSC: never count negative.
    if (stop > start) {
      time_ticks_.store(time_ticks_.load(std::memory_order_relaxed) + (stop - start) * weight,
                        std::memory_order_relaxed);
    }
  }
  if (out) {
    num_yielded_.store(num_yielded_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  return out;
}

bool Node::try_next_ready(std::optional<Element>& out) {
  if (!do_try_next(out) || !out) return false;
  num_yielded_.store(num_yielded_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return true;
}

void Node::reset(bool reset_rng) {
  do_reset(reset_rng);
}

bool Node::try_shard(std::int64_t, std::int64_t) { return false; }

void Node::shutdown() {
  for (auto& input : inputs_) input->shutdown();
}

Element Node::state() {
  pause();
  Dict d;
  d.items.emplace_back("op", op_);
  d.items.emplace_back("version", static_cast<std::int64_t>(version()));
  save(d);
  List inputs;
  for (auto& input : inputs_) inputs.items.push_back(input->state());
  d.items.emplace_back("inputs", Element(std::move(inputs)));
  return Element(std::move(d));
}

void Node::load_state(const Element& state, const std::string& path) {
  std::string where = path.empty() ? op_ : path;
  const Dict* d = state.dict();
  if (d == nullptr) throw StateError(where + ": the state is not a dict");
  const Element* op = d->find("op");
  const auto* op_name = op != nullptr ? std::get_if<std::string>(&op->value) : nullptr;
  if (op_name == nullptr || *op_name != op_) {
    throw StateError(where + ": the state belongs to operator '" +
                     (op_name != nullptr ? *op_name : std::string("?")) +
                     "' but this pipeline has '" + op_ +
                     "' here; load it into a pipeline built the same way");
  }
  pause();
  std::int64_t ver = get_int(state, "version");
  if (ver < min_version() || ver > version()) {
    std::string readable = min_version() == version()
                               ? "version " + std::to_string(version())
                               : "versions " + std::to_string(min_version()) + " to " + std::to_string(version());
    throw StateError(where + ": state version " + std::to_string(ver) + " but '" + op_ + "' reads " + readable);
  }
  List inputs = get_list(state, "inputs");
  if (inputs.items.size() != inputs_.size()) {
    throw StateError(where + ": the state has " + std::to_string(inputs.items.size()) +
                     " inputs but this operator has " + std::to_string(inputs_.size()));
  }
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    inputs_[i]->load_state(inputs.items[i],
                           where + " <- " + inputs_[i]->op() +
                               (inputs_.size() > 1 ? "[" + std::to_string(i) + "]" : ""));
  }
  try {
    load(state);
  } catch (const StateError& e) {
    throw StateError(where + ": " + e.what());
  }
}

void Node::collect_stats(std::vector<NodeStats>& out, int depth) const {
  NodeStats s;
  s.op = op_;
  s.depth = depth;
  s.num_yielded = num_yielded_.load(std::memory_order_relaxed);
  std::uint64_t ticks = time_ticks_.load(std::memory_order_relaxed);
  // An operator never timed needs no calibration (which may wait up to 2 ms once).
  s.time_ns = ticks == 0 ? 0 : static_cast<std::int64_t>(static_cast<double>(ticks) * ns_per_tick());
  extra_counters(s.counters);
  out.push_back(std::move(s));
  for (const auto& input : inputs_) input->collect_stats(out, depth + 1);
}

// ----------------------------------------------------------------------------------- Rng

namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

void Rng::seed_with(std::uint64_t seed) {
  for (auto& s : s_) s = splitmix64(seed);
}

std::uint64_t Rng::next_u64() noexcept {
  std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

std::uint64_t Rng::below(std::uint64_t bound) noexcept {
  // Rejection sampling keeps the draw unbiased for any bound.
  std::uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  std::uint64_t x = next_u64();
  while (x >= limit) x = next_u64();
  return x % bound;
}

Element Rng::state() const {
  List l;
  for (std::uint64_t s : s_) l.items.emplace_back(static_cast<std::int64_t>(s));
  return Element(std::move(l));
}

void Rng::load(const Element& state) {
  List l = as_list(state);
  if (l.items.size() != 4) throw StateError("bad RNG state");
  for (int i = 0; i < 4; ++i) {
    const auto* v = std::get_if<std::int64_t>(&l.items[static_cast<std::size_t>(i)].value);
    if (v == nullptr) throw StateError("bad RNG state");
    s_[i] = static_cast<std::uint64_t>(*v);
  }
}

// ----------------------------------------------------------------------------- ThreadPool

ThreadPool::ThreadPool(std::size_t num_threads) {
  for (std::size_t i = 0; i < num_threads; ++i) workers_.emplace_back([this] { run(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::submit(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
}

void ThreadPool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (tasks_.empty()) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

std::size_t shared_pool_size() {
  static const std::size_t size = [] {
    if (const char* env = std::getenv("SEQKIT_NUM_THREADS")) {
      long n = std::atol(env);
      if (n > 0) return static_cast<std::size_t>(n);
    }
    unsigned hw = std::thread::hardware_concurrency();
    return static_cast<std::size_t>(hw == 0 ? 1 : hw);
  }();
  return size;
}

ThreadPool& shared_pool() {
  // Leaked on purpose: joining threads during static destruction can deadlock with
  // the interpreter's own shutdown.
  static ThreadPool* pool = new ThreadPool(shared_pool_size());
  return *pool;
}

}  // namespace seqkit
