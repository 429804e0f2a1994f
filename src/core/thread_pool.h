// A fixed pool of worker threads for data-parallel loops (matrix products, attention heads,
// experts). One pool per process/engine; the calling thread takes part in the work. parallel_for
// blocks until every chunk is done. Not re-entrant: do not call parallel_for from inside a task.
#pragma once

#include <cstdint>
#include <type_traits>

namespace baleen {

class ThreadPool {
 public:
  // n_threads <= 0: one per online CPU. n_threads == 1 runs everything on the caller.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;  // threads doing work, caller included

  // Splits [0, n) into contiguous chunks of at least `min_chunk` and calls fn(begin, end, thread)
  // with thread in [0, size()). Returns when all chunks are done. `fn` is called through a plain
  // pointer (no std::function), so a call allocates nothing.
  template <typename Fn>
  void parallel_for(int64_t n, int64_t min_chunk, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run(
        n, min_chunk, [](void* f, int64_t b, int64_t e, int t) { (*static_cast<F*>(f))(b, e, t); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using ChunkFn = void (*)(void* ctx, int64_t begin, int64_t end, int thread);
  void run(int64_t n, int64_t min_chunk, ChunkFn fn, void* ctx);

  struct Impl;
  Impl* impl_;
};

}  // namespace baleen
