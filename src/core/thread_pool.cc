#include "core/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace baleen {

struct ThreadPool::Impl {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable start_cv;
  std::condition_variable done_cv;
  uint64_t generation = 0;
  int pending = 0;
  bool stop = false;
  // The current job: chunk k of n_chunks covers [k * n / n_chunks, (k + 1) * n / n_chunks).
  ChunkFn fn = nullptr;
  void* ctx = nullptr;
  int64_t n = 0;
  int n_chunks = 0;

  void run_chunk(int k) const {
    int64_t b = n * k / n_chunks;
    int64_t e = n * (k + 1) / n_chunks;
    if (b < e) fn(ctx, b, e, k);
  }

  void worker_loop(int index) {
    uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        start_cv.wait(lock, [&] { return stop || generation != seen; });
        if (stop) return;
        seen = generation;
      }
      if (index < n_chunks) run_chunk(index);
      std::lock_guard<std::mutex> lock(mu);
      if (--pending == 0) done_cv.notify_one();
    }
  }
};

ThreadPool::ThreadPool(int n_threads) : impl_(new Impl) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < n_threads; ++i) impl_->workers.emplace_back([this, i] { impl_->worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->start_cv.notify_all();
  for (auto& t : impl_->workers) t.join();
  delete impl_;
}

int ThreadPool::size() const { return static_cast<int>(impl_->workers.size()) + 1; }

void ThreadPool::run(int64_t n, int64_t min_chunk, ChunkFn fn, void* ctx) {
  if (n <= 0) return;
  min_chunk = std::max<int64_t>(1, min_chunk);
  int64_t max_chunks = std::max<int64_t>(1, n / min_chunk);
  int n_chunks = static_cast<int>(std::min<int64_t>(size(), max_chunks));
  if (n_chunks == 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->fn = fn;
    impl_->ctx = ctx;
    impl_->n = n;
    impl_->n_chunks = n_chunks;
    impl_->pending = static_cast<int>(impl_->workers.size());
    ++impl_->generation;
  }
  impl_->start_cv.notify_all();
  impl_->run_chunk(0);
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->done_cv.wait(lock, [&] { return impl_->pending == 0; });
  impl_->fn = nullptr;
  impl_->ctx = nullptr;
}

}  // namespace baleen
