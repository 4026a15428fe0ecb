// One process-wide pool for native work, so several pipelines share one thread budget.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace seqkit {

class ThreadPool {
 public:
  explicit ThreadPool(std::size_t num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void submit(std::function<void()> task);
  std::size_t size() const noexcept { return workers_.size(); }

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

// The shared pool: SEQKIT_NUM_THREADS threads, else one per hardware thread.
ThreadPool& shared_pool();
std::size_t shared_pool_size();

}  // namespace seqkit
