// A fixed pool of worker threads for data-parallel loops (matrix products, attention heads,
// experts). One pool per process/engine; the calling thread takes part in the work. parallel_for
// blocks until every chunk is done. Not re-entrant: do not call parallel_for from inside a task.
// Every thread reserves the kernels' per-thread scratch (core/thread_scratch.h) before its first job.
#pragma once

#include <cstdint>
#include <type_traits>
#include <vector>

namespace baleen {

class ThreadPool {
 public:
  // n_threads <= 0: one per online CPU. n_threads == 1 runs everything on the caller.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const;  // threads doing work, caller included

  // What the threads did, counted only while enabled: BALEEN_POOL_STATS=1 in the environment when
  // the pool is built (the pool then prints them to stderr when destroyed), or enable_stats. For
  // scheduling work: how long each thread ran chunks and how long the caller waited for the others
  // at the end of a call. Disabled, a call costs one extra branch.
  struct Stats {
    int64_t split_calls = 0;     // parallel_for calls whose chunks went to the threads
    int64_t inline_calls = 0;    // calls run whole on the caller (one thread, or one unit of work)
    int64_t chunks = 0;          // chunks run, all threads (inline calls count one)
    double wall_s = 0.0;         // since the counters were reset
    std::vector<double> busy_s;  // per thread (0 = the caller): time inside chunks
    double caller_wait_s = 0.0;  // the caller's time waiting for the workers after its own chunks
  };
  // Turns counting on or off and resets the counters. Not while a parallel_for runs.
  void enable_stats(bool on);
  Stats stats() const;

  // Guided chunks: the threads claim chunks one at a time, in order, and each chunk takes
  // 1 / (kGuidedDivisor * size()) of what is still unclaimed, but at least 1 / (kTailChunksPerThread
  // * size()) of the whole. So the first chunks are long (few claims, long streams for the
  // prefetchers), the last ones short: the threads finish within a short chunk of each other, and
  // one that runs slow (a busy machine, a descheduled vCPU) leaves its remaining chunks to the
  // others. (Decode on the 2-core Zen 4 VM against 8 equal chunks: the threads' spin-wait fell
  // from 5.5% to 2.5% of the samples, tg +3.7% median of 14 alternating runs; README "Benchmarks".
  // Tail 1/32 of a thread's share instead of 1/16, with matmul_many's parts halved to match: the
  // caller's wait at the end of a call 15.5 -> 9.6 us (BALEEN_POOL_STATS), batch 8 +0-2% in 6 of 6
  // interleaved rounds, tg unchanged within the VM's noise.)
  static constexpr int kGuidedDivisor = 2;
  static constexpr int kTailChunksPerThread = 32;
  // At most this many chunks for a pool of `threads` threads.
  static constexpr int max_chunks(int threads) { return 16 * threads + 8; }

  // From inside a chunk of the current parallel_for: the first element of the next chunk no thread
  // has claimed yet, or -1 when every chunk is claimed. A hint only (another thread may claim it
  // first): a thread about to finish its chunk can prefetch what it will probably run next.
  int64_t unclaimed_begin() const;

  // Splits [0, n) into at most max_chunks(size()) contiguous guided chunks (above) of whole
  // multiples of `min_chunk`, none longer than the one before (the last one also takes the
  // remainder of n / min_chunk), and calls fn(begin, end, thread) once per chunk, with thread in
  // [0, size()) the index of the thread running it: one thread may run several chunks, one after
  // another, never two at once (so per-thread scratch indexed by it is safe). Returns when all
  // chunks are done. `fn` is called through a plain pointer (no std::function), so a call
  // allocates nothing. With one thread: a single call fn(0, n, 0).
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
