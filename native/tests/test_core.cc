// Tests of the native core without Python: run under ASan/UBSan by `make test-native-asan`.
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "seqkit/ops.h"
#include "seqkit/token_files.h"
#include "seqkit/utf8.h"

using namespace seqkit;

namespace {

int failures = 0;

#define CHECK(cond)                                                      \
  do {                                                                   \
    if (!(cond)) {                                                       \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                        \
    }                                                                    \
  } while (0)

std::vector<Element> ints(int n) {
  std::vector<Element> v;
  for (int i = 0; i < n; ++i) v.emplace_back(static_cast<std::int64_t>(i));
  return v;
}

std::vector<std::int64_t> drain_ints(Node& node) {
  std::vector<std::int64_t> out;
  while (auto e = node.next()) {
    if (const List* l = e->list()) {
      for (const Element& x : l->items) out.push_back(std::get<std::int64_t>(x.value));
    } else {
      out.push_back(std::get<std::int64_t>(e->value));
    }
  }
  return out;
}

NodePtr composed() {
  MapFn twice = [](const Element& e) { return Element(std::get<std::int64_t>(e.value) * 2); };
  NodePtr n = make_read_sequence(ints(200));
  n = make_map(n, twice, "", 4);
  n = make_shuffle(n, 16, 7);
  n = make_prefetch(n, 5);
  n = make_bucket(n, 3, false);
  return n;
}

void test_resume_everywhere() {
  NodePtr ref = composed();
  std::vector<std::int64_t> expected = drain_ints(*ref);
  CHECK(expected.size() == 200);
  for (int k = 0; k <= 67; k += 3) {
    NodePtr a = composed();
    std::vector<std::int64_t> head;
    for (int i = 0; i < k; ++i) {
      auto e = a->next();
      for (const Element& x : e->list()->items) head.push_back(std::get<std::int64_t>(x.value));
    }
    Element state = a->state();
    NodePtr b = composed();
    b->load_state(state, "");
    std::vector<std::int64_t> rest = drain_ints(*b);
    head.insert(head.end(), rest.begin(), rest.end());
    CHECK(head == expected);
    a->shutdown();
    b->shutdown();
  }
}

void test_parallel_map_error_and_drop() {
  MapFn fail = [](const Element& e) {
    if (std::get<std::int64_t>(e.value) == 50) throw std::runtime_error("bad element");
    return e;
  };
  NodePtr n = make_prefetch(make_map(make_read_sequence(ints(100)), fail, "", 4), 8);
  int seen = 0;
  bool raised = false;
  try {
    while (n->next()) ++seen;
  } catch (const PipelineError& e) {
    raised = std::string(e.what()).find("bad element") != std::string::npos && e.op == "map";
  }
  CHECK(raised);
  CHECK(seen == 50);
  // Dropped mid-iteration with work in flight: no hang, no leak (ASan checks).
  for (int i = 0; i < 10; ++i) {
    NodePtr m = make_prefetch(make_map(make_read_sequence(ints(1000)), fail, "", 4), 16);
    m->next();
    m->shutdown();
  }
}

void test_text_and_utf8() {
  char path[] = "/tmp/seqkit_core_test_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  const std::string body = "a\r\nbb\n\nlast";
  CHECK(write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
  close(fd);
  NodePtr t = make_read_text(path, false, false, false, EncodingErrors::kStrict);
  std::vector<std::string> lines;
  while (auto e = t->next()) lines.push_back(std::get<std::string>(e->value));
  CHECK((lines == std::vector<std::string>{"a", "bb", "", "last"}));
  ::unlink(path);
  CHECK(first_invalid_utf8("h\xc3\xa9llo") == std::string_view::npos);
  CHECK(first_invalid_utf8("ab\xff") == 2);
  CHECK(repair_utf8("a\xff", true) == "a\xEF\xBF\xBD");
}

// encoding_errors="report": an invalid line comes out as Bytes, unchanged, between the
// valid lines as str; a state saved after it resumes at the very next line.
void test_read_text_report_mode() {
  char path[] = "/tmp/seqkit_core_test_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  const std::string body = "ok\nbad \xff\xfe\r\n\nlast \xc3\xa9\ntrunc \xe2\x82";
  CHECK(write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
  close(fd);
  auto drain = [](Node& node) {
    std::vector<std::pair<bool, std::string>> out;  // (is_bytes, content)
    while (auto e = node.next()) {
      if (const auto* b = std::get_if<Bytes>(&e->value)) {
        out.emplace_back(true, b->data);
      } else {
        out.emplace_back(false, std::get<std::string>(e->value));
      }
    }
    return out;
  };
  NodePtr t = make_read_text(path, false, false, false, EncodingErrors::kReport);
  auto all = drain(*t);
  std::vector<std::pair<bool, std::string>> want = {
      {false, "ok"}, {true, "bad \xff\xfe"}, {false, ""}, {false, "last \xc3\xa9"}, {true, "trunc \xe2\x82"}};
  CHECK(all == want);
  for (std::size_t k = 0; k <= want.size(); ++k) {
    NodePtr a = make_read_text(path, false, false, false, EncodingErrors::kReport);
    for (std::size_t i = 0; i < k; ++i) a->next();
    Element state = a->state();
    NodePtr b = make_read_text(path, false, false, false, EncodingErrors::kReport);
    b->load_state(state, "");
    auto rest = drain(*b);
    CHECK(std::equal(rest.begin(), rest.end(), want.begin() + static_cast<std::ptrdiff_t>(k),
                     want.end()) && rest.size() == want.size() - k);
  }
  bool threw = false;
  try {
    NodePtr s = make_read_text(path, false, false, false, EncodingErrors::kStrict);
    drain(*s);
  } catch (const PipelineError& e) {
    threw = std::string(e.what()).find("line 2") != std::string::npos;
  }
  CHECK(threw);
  ::unlink(path);
}

void test_collate_and_pack() {
  std::vector<Element> docs;
  for (int n : {3, 7, 1}) {
    Array a = Array::allocate(DType::kUInt16, {n});
    for (int i = 0; i < n; ++i) static_cast<std::uint16_t*>(a.mutable_data())[i] = static_cast<std::uint16_t>(i + 1);
    docs.emplace_back(std::move(a));
  }
  NodePtr p = make_collate(make_bucket(make_pack(make_read_sequence(docs), 4, "", 0, false), 8, false), std::nullopt, 1);
  auto batch = p->next();
  CHECK(batch.has_value());
  const Array* seqs = dict_get(*batch, "seqs").array();
  CHECK(seqs != nullptr && seqs->shape == (std::vector<std::int64_t>{3, 4}));
  CHECK(seqs->int_at(4) == 2);  // row 1 continues the second document at its 2nd token
  List padded_in;
  padded_in.items = {Element(docs[0]), Element(docs[2])};
  Element padded = collate_batch(padded_in, std::int64_t{9}, 1);
  const Array* ps = dict_get(padded, "seqs").array();
  CHECK(ps->dtype == DType::kInt64 && ps->int_at(3) == 1 && ps->int_at(4) == 9);
}


// Prefetch with every capacity around the refill/wake thresholds: order kept, exact resume
// at every position (including elements buffered but not consumed), counters present.
void test_prefetch_hysteresis_resume() {
  for (std::int64_t capacity : {1, 2, 3, 4, 7}) {
    auto build = [capacity] {
      MapFn slow = [](const Element& e) {
        if (std::get<std::int64_t>(e.value) % 7 == 0) usleep(200);  // the consumer catches up
        return e;
      };
      return make_prefetch(make_map(make_read_sequence(ints(40)), slow, "", 1), capacity);
    };
    NodePtr ref = build();
    std::vector<std::int64_t> expected = drain_ints(*ref);
    CHECK(expected.size() == 40);
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK(expected[i] == static_cast<std::int64_t>(i));
    std::vector<NodeStats> stats;
    ref->collect_stats(stats, 0);
    bool has_waits = false;
    for (const auto& [k, v] : stats[0].counters) has_waits = has_waits || (k == "consumer_waits" && v >= 0);
    CHECK(has_waits);
    for (int k = 0; k <= 40; k += 3) {
      NodePtr a = build();
      std::vector<std::int64_t> head;
      for (int i = 0; i < k; ++i) head.push_back(std::get<std::int64_t>(a->next()->value));
      usleep(1000);  // let the thread fill the buffer, so the state holds buffered elements
      Element state = a->state();
      std::vector<std::int64_t> rest_a = drain_ints(*a);  // the saved pipeline goes on unchanged
      NodePtr b = build();
      b->load_state(state, "");
      std::vector<std::int64_t> rest_b = drain_ints(*b);
      CHECK(rest_a == rest_b);
      head.insert(head.end(), rest_b.begin(), rest_b.end());
      CHECK(head == expected);
      a->shutdown();
      b->shutdown();
    }
  }
  // Ready elements taken without waiting (as the bindings do with the GIL held) mix
  // with waiting next() calls: same order, nothing lost.
  {
    NodePtr p = make_prefetch(make_read_sequence(ints(500)), 4);
    std::vector<std::int64_t> got;
    for (;;) {
      std::optional<Element> e;
      if (!p->try_next_ready(e)) e = p->next();
      if (!e) break;
      got.push_back(std::get<std::int64_t>(e->value));
    }
    CHECK(got.size() == 500);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == static_cast<std::int64_t>(i));
    std::optional<Element> none;
    CHECK(!make_read_sequence(ints(3))->try_next_ready(none));  // no buffer: call next()
    p->shutdown();
  }
  // Dropped while the producer sleeps on a full buffer, and while the consumer waits.
  for (int i = 0; i < 20; ++i) {
    NodePtr full = make_prefetch(make_read_sequence(ints(1000)), 4);
    full->next();
    usleep(100);
    full->shutdown();
    NodePtr fresh = make_prefetch(make_read_sequence(ints(10)), 8);
    fresh->shutdown();  // never started
  }
}

// The shuffle window is shared with a saved state and copied on write: the state does not
// change when the pipeline goes on, and one state loads into several pipelines.
void test_shuffle_copy_on_write_state() {
  auto build = [] { return make_shuffle(make_read_sequence(ints(100)), 10, 3); };
  NodePtr ref = build();
  std::vector<std::int64_t> expected = drain_ints(*ref);
  CHECK(expected.size() == 100);
  for (int k : {0, 1, 5, 50, 95, 100}) {
    NodePtr a = build();
    std::vector<std::int64_t> head;
    for (int i = 0; i < k; ++i) head.push_back(std::get<std::int64_t>(a->next()->value));
    Element state = a->state();
    std::vector<std::int64_t> rest_a = drain_ints(*a);
    NodePtr b = build();
    NodePtr c = build();
    b->load_state(state, "");
    c->load_state(state, "");
    std::vector<std::int64_t> rest_b = drain_ints(*b);
    std::vector<std::int64_t> rest_c = drain_ints(*c);
    CHECK(rest_a == rest_b);
    CHECK(rest_b == rest_c);
    head.insert(head.end(), rest_b.begin(), rest_b.end());
    CHECK(head == expected);
    // Saving twice in a row (no next() between) and resetting leave no shared window behind.
    Element again = b->state();
    b->reset(true);
    CHECK(drain_ints(*b) == expected);
  }
}

// Operator time comes from the tick counter, converted once stats are read.
void test_stats_ticks() {
  MapFn sleepy = [](const Element& e) {
    usleep(2000);
    return e;
  };
  NodePtr n = make_bucket(make_map(make_read_sequence(ints(5)), sleepy, "", 1), 2, false);
  drain_ints(*n);
  std::vector<NodeStats> stats;
  n->collect_stats(stats, 0);
  CHECK(stats.size() == 3);
  CHECK(stats[1].num_yielded == 5);
  // Five sleeps of 2 ms each: at least 10 ms of map time (a lower bound, not a speed test).
  CHECK(stats[1].time_ns >= 9000000);
  CHECK(stats[0].time_ns >= stats[1].time_ns / 2);
  CHECK(ns_per_tick() > 0.0);
}

// Documents of a read_tokens file are named by position in a state and found again.
void test_token_slices() {
  char dir[] = "/tmp/seqkit_tokens_XXXXXX";
  CHECK(mkdtemp(dir) != nullptr);
  std::string d(dir);
  {
    std::ofstream tokens(d + "/tokens.bin", std::ios::binary);
    const std::uint16_t toks[] = {1, 2, 3, 4, 5};
    tokens.write(reinterpret_cast<const char*>(toks), sizeof(toks));
    std::ofstream offsets(d + "/offsets.bin", std::ios::binary);
    const std::uint64_t offs[] = {0, 2, 5};
    offsets.write(reinterpret_cast<const char*>(offs), sizeof(offs));
  }
  NodePtr src = make_read_tokens(d, DType::kUInt16, 2, 5);
  src->next();
  auto doc = src->next();
  const Array* a = doc->array();
  std::optional<TokenSlice> where = find_token_slice(*a);
  CHECK(where.has_value() && where->byte_offset == 4 && where->file_size == 10);
  {
    Array back = token_slice(*where, DType::kUInt16, {3});
    CHECK(back.data == a->data && back.int_at(2) == 5);
  }
  bool refused = false;
  try {
    token_slice(TokenSlice{d + "/tokens.bin", 10, 8}, DType::kUInt16, {3});  // past the end
  } catch (const StateError&) {
    refused = true;
  }
  CHECK(refused);
  Array copy = Array::allocate(DType::kUInt16, {3});
  CHECK(!find_token_slice(copy).has_value());
  doc.reset();
  src.reset();
  refused = false;
  try {
    token_slice(*where, DType::kUInt16, {3});  // no source has the file open any more
  } catch (const StateError&) {
    refused = true;
  }
  CHECK(refused);
  ::unlink((d + "/tokens.bin").c_str());
  ::unlink((d + "/offsets.bin").c_str());
  ::rmdir(dir);
}

// Throws std::invalid_argument whose message holds every one of `words`.
bool rejects(const std::function<void()>& build, std::vector<std::string> words) {
  try {
    build();
  } catch (const std::invalid_argument& e) {
    std::string message = e.what();
    for (const auto& w : words) {
      if (message.find(w) == std::string::npos) {
        std::fprintf(stderr, "message '%s' lacks '%s'\n", message.c_str(), w.c_str());
        return false;
      }
    }
    return true;
  }
  return false;
}

// Bad factory arguments are refused when the pipeline is built; each of these once
// crashed (SIGFPE, segfault), hung or silently yielded nothing.
void test_factory_arguments() {
  auto seq = [] { return make_read_sequence(ints(10)); };
  CHECK(rejects([&] { make_shard(seq(), 0, 0); }, {"num_shards", "0", ">= 1"}));
  CHECK(rejects([&] { make_shard(seq(), -1, 2); }, {"shard_idx", "-1", "[0, 2)"}));
  CHECK(rejects([&] { make_shard(seq(), 5, 2); }, {"shard_idx", "5"}));
  CHECK(rejects([&] { seq()->try_shard(0, 0); }, {"num_shards"}));
  CHECK(rejects([&] { make_bucket(seq(), 0, false); }, {"bucket_size", "0"}));
  CHECK(rejects([&] { make_bucket(seq(), -1, false); }, {"bucket_size", "-1"}));
  CHECK(rejects([&] { make_bucket_by_length(seq(), {}, "", 1, false, false, false); }, {"bucket_sizes"}));
  CHECK(rejects([&] { make_bucket_by_length(seq(), {{2, 0}}, "", 0, false, false, false); }, {"bucket_sizes[0]"}));
  CHECK(rejects([&] { make_bucket_by_length(seq(), {{2, 4}}, "", 5, false, false, false); }, {"min_data_len", "5"}));
  CHECK(rejects([&] { make_take(seq(), -1); }, {"num_examples", "-1"}));
  CHECK(rejects([&] { make_skip(seq(), -1); }, {"num_examples", "-1"}));
  CHECK(rejects([&] { make_shuffle(seq(), -5, 0); }, {"shuffle_window", "-5"}));
  CHECK(rejects([&] { make_repeat(seq(), -1, false); }, {"num_repeats", "-1"}));
  CHECK(rejects([&] { make_prefetch(seq(), -1); }, {"num_examples", "-1"}));
  CHECK(rejects([&] { make_pack(seq(), 0, "", 0, false); }, {"seq_len", "0"}));
  CHECK(rejects([&] { make_collate(seq(), std::nullopt, 0); }, {"pad_to_multiple", "0"}));
  CHECK(rejects([&] { make_map(seq(), [](const Element& e) { return e; }, "", 0); }, {"num_parallel_calls", "0"}));
  CHECK(rejects([&] { make_filter(seq(), PredicateFn{}); }, {"predicate"}));
  CHECK(rejects([&] { make_count(0, 0); }, {"step", "0"}));
  CHECK(rejects([&] { make_sample({seq(), seq()}, {1.0, -1.0}, 0); }, {"weights[1]"}));
  CHECK(rejects([&] { make_zip({seq(), seq()}, {"a", "a"}, false, false); }, {"names", "'a'"}));
  CHECK(rejects([&] { make_read_tokens("/nonexistent", DType::kUInt16, -1, 0); }, {"num_documents", "-1"}));
  // The edges of the valid ranges work.
  CHECK(drain_ints(*make_take(seq(), 0)).empty());
  CHECK(drain_ints(*make_repeat(seq(), 0, false)).empty());
  CHECK(drain_ints(*make_shard(seq(), 1, 2)) == (std::vector<std::int64_t>{1, 3, 5, 7, 9}));
  CHECK(drain_ints(*make_prefetch(seq(), 0)).size() == 10);
  NodePtr c = make_count(INT64_MAX - 1, 1);
  c->next();
  c->next();
  bool overflow = false;
  try {
    c->next();
  } catch (const PipelineError&) {
    overflow = true;
  }
  CHECK(overflow);
}

bool refuses_state(Node& node, const Element& state, const std::string& words) {
  try {
    node.load_state(state, "");
  } catch (const StateError& e) {
    if (std::string(e.what()).find(words) != std::string::npos) return true;
    std::fprintf(stderr, "state error '%s' lacks '%s'\n", e.what(), words.c_str());
  }
  return false;
}

// States carry what they were saved over and are refused by a pipeline built otherwise.
void test_state_fingerprints() {
  NodePtr a = make_shuffle(make_read_sequence(ints(30)), 10, 1);
  a->next();
  Element st = a->state();
  CHECK(refuses_state(*make_shuffle(make_read_sequence(ints(30)), 20, 1), st, "shuffle_window=10"));
  NodePtr same = make_shuffle(make_read_sequence(ints(30)), 10, 1);
  same->load_state(st, "");
  CHECK(drain_ints(*same) == drain_ints(*a));

  NodePtr s = make_read_sequence(ints(100));
  s->next();
  CHECK(refuses_state(*make_read_sequence(ints(10)), s->state(), "100 items"));
  std::vector<Element> other = ints(100);
  other[99] = Element(std::int64_t{-1});
  CHECK(refuses_state(*make_read_sequence(other), s->state(), "differ"));
  CHECK(refuses_state(*make_shard(make_read_sequence(ints(100)), 1, 2),
                      make_shard(make_read_sequence(ints(100)), 0, 2)->state(), "shard"));

  char path[] = "/tmp/seqkit_state_XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  std::string body = "alpha\nbravo\ncharlie\n";
  CHECK(write(fd, body.data(), body.size()) == static_cast<ssize_t>(body.size()));
  ::close(fd);
  NodePtr t = make_read_text(path, false, false, false, EncodingErrors::kStrict);
  t->next();
  Element text_state = t->state();
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "alphaa\nbrav\ncharlie\n";  // same size, offset now mid-line
  }
  CHECK(refuses_state(*make_read_text(path, false, false, false, EncodingErrors::kStrict), text_state, "changed"));
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << body << "delta\n";
  }
  CHECK(refuses_state(*make_read_text(path, false, false, false, EncodingErrors::kStrict), text_state, "bytes"));
  t.reset();
  ::unlink(path);
}

}  // namespace

int main() {
  test_resume_everywhere();
  test_parallel_map_error_and_drop();
  test_text_and_utf8();
  test_read_text_report_mode();
  test_collate_and_pack();
  test_prefetch_hysteresis_resume();
  test_shuffle_copy_on_write_state();
  test_stats_ticks();
  test_token_slices();
  test_factory_arguments();
  test_state_fingerprints();
  if (failures != 0) {
    std::fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  std::puts("all native core tests passed");
  return 0;
}
