#include "core/thread_pool.h"

#include "core/thread_scratch.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace baleen {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// How long a worker (waiting for the next job) and the caller (waiting for the workers) spin before
// blocking on a condition variable. A decoded token runs hundreds of small matrix products a few
// microseconds apart; spinning across those gaps saves a futex wake-up per call and thread. After
// kSpinPause of pause-spinning the spinner yields its CPU each round (std::this_thread::yield), so
// a thread it waits for that shares the CPU (more threads than CPUs, or a busy machine) can run.
constexpr auto kSpinPause = std::chrono::microseconds(20);
constexpr auto kSpin = std::chrono::microseconds(200);

// Spins until pred() or kSpin elapsed; returns pred(). Without `spin` only checks once.
template <typename Pred>
bool spin_until(bool spin, Pred pred) {
  if (pred() || !spin) return pred();
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 32; ++i) {
      cpu_relax();
      if (pred()) return true;
    }
    const auto waited = std::chrono::steady_clock::now() - t0;
    if (waited > kSpin) return pred();
    if (waited > kSpinPause) std::this_thread::yield();
  }
}

}  // namespace

// Fast path (no lock, no allocation): the caller publishes the job in plain fields, then bumps
// `generation` (release); spinning workers see it (acquire), run their chunk and decrement
// `pending`; the caller spins until pending == 0. Blocking fallback: a worker that spun in vain
// registers in `sleepers` under `mu` and waits on start_cv; the caller, after bumping generation,
// notifies only if sleepers > 0. Both sides use seq_cst on (generation, sleepers) and (pending,
// caller_waiting), so either the waiter sees the new value before sleeping or the notifier sees the
// waiter registered (and the notify happens under mu, after the waiter checked its predicate).
struct ThreadPool::Impl {
  std::vector<std::thread> workers;
  std::mutex mu;
  std::condition_variable start_cv;
  std::condition_variable done_cv;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  std::atomic<int> sleepers{0};
  std::atomic<bool> caller_waiting{false};
  std::atomic<bool> stop{false};
  bool spin = true;  // false when there are more threads than CPUs to run them (spinning would steal)
  // The current job: n elements in n_chunks chunks, chunk k the units [bounds[k], bounds[k + 1])
  // of `unit` elements (the last one also takes the remainder), claimed through next_chunk.
  ChunkFn fn = nullptr;
  void* ctx = nullptr;
  int64_t n = 0, unit = 1;
  int n_chunks = 0;
  std::vector<int64_t> bounds;  // max_chunks(threads) + 1, sized once
  std::atomic<int> next_chunk{0};

  // ThreadPool::Stats, counted while stats_on; each thread's counters on their own cache line.
  struct alignas(64) ThreadCounters {
    std::atomic<int64_t> busy_ns{0}, chunks{0};
  };
  std::atomic<bool> stats_on{false};
  bool print_stats = false;                    // BALEEN_POOL_STATS: print at destruction
  std::unique_ptr<ThreadCounters[]> counters;  // one per thread, caller first
  std::atomic<int64_t> split_calls{0}, inline_calls{0}, caller_wait_ns{0};
  std::chrono::steady_clock::time_point stats_t0;

  static int64_t ns_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
  }

  // The guided split (ThreadPool::kGuidedDivisor) of `units` >= 2 units over `threads` threads into
  // bounds; returns the number of chunks.
  int plan_chunks(int64_t units, int threads) {
    const int64_t divisor = int64_t{kGuidedDivisor} * threads;
    const int64_t floor_units = std::max<int64_t>(1, units / (int64_t{kTailChunksPerThread} * threads));
    const int cap = max_chunks(threads);
    int k = 0;
    int64_t at = 0;
    bounds[0] = 0;
    while (at < units) {
      const int64_t left = units - at;
      int64_t c = std::min(left, std::max(floor_units, (left + divisor - 1) / divisor));
      if (k + 1 == cap) c = left;  // (not reached: the split takes at most ~7.5 chunks per thread)
      at += c;
      bounds[static_cast<size_t>(++k)] = at;
    }
    return k;
  }

  void run_chunk(int k, int thread) const {
    const int64_t b = bounds[static_cast<size_t>(k)] * unit;
    const int64_t e = k + 1 == n_chunks ? n : bounds[static_cast<size_t>(k) + 1] * unit;
    if (b < e) fn(ctx, b, e, thread);
  }

  // Claims chunks until none is left (every participant, the caller included).
  void run_chunks(int thread) {
    const bool timed = stats_on.load(std::memory_order_relaxed);
    const auto t0 = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    int64_t ran = 0;
    for (int k = next_chunk.fetch_add(1, std::memory_order_relaxed); k < n_chunks;
         k = next_chunk.fetch_add(1, std::memory_order_relaxed)) {
      run_chunk(k, thread);
      ++ran;
    }
    if (timed) {
      counters[static_cast<size_t>(thread)].busy_ns.fetch_add(ns_since(t0), std::memory_order_relaxed);
      counters[static_cast<size_t>(thread)].chunks.fetch_add(ran, std::memory_order_relaxed);
    }
  }

  void worker_loop(int index) {
    reserve_thread_scratch();
    uint64_t seen = 0;
    for (;;) {
      auto ready = [&] { return stop.load() || generation.load() != seen; };
      if (!spin_until(spin, ready)) {
        std::unique_lock<std::mutex> lock(mu);
        sleepers.fetch_add(1);
        start_cv.wait(lock, ready);
        sleepers.fetch_sub(1);
      }
      if (stop.load()) return;
      seen = generation.load();
      run_chunks(index);
      if (pending.fetch_sub(1) == 1 && caller_waiting.load()) {
        std::lock_guard<std::mutex> lock(mu);
        done_cv.notify_one();
      }
    }
  }
};

namespace {

// Number of CPUs this process may run on (0 if unknown).
int allowed_cpus() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 0;
  return CPU_COUNT(&allowed);
}

// Pins worker i (1-based; the caller is thread 0 and stays unpinned) to the i-th CPU this process
// may run on, when there are at least as many such CPUs as threads. Failures are ignored (pinning
// is a performance hint). BALEEN_PIN_THREADS=0 turns it off.
void pin_workers(std::vector<std::thread>& workers) {
  if (const char* v = std::getenv("BALEEN_PIN_THREADS"); v != nullptr && std::strcmp(v, "0") == 0) return;
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return;
  const int n_threads = static_cast<int>(workers.size()) + 1;
  if (CPU_COUNT(&allowed) < n_threads) return;
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && static_cast<int>(cpus.size()) < n_threads; ++c) {
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  }
  for (size_t i = 0; i < workers.size(); ++i) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpus[i + 1], &one);
    pthread_setaffinity_np(workers[i].native_handle(), sizeof one, &one);
  }
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : impl_(new Impl) {
  if (n_threads <= 0) n_threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  impl_->spin = n_threads <= allowed_cpus();  // before the workers start reading it
  impl_->bounds.resize(static_cast<size_t>(max_chunks(n_threads)) + 1);
  impl_->counters = std::make_unique<Impl::ThreadCounters[]>(static_cast<size_t>(n_threads));
  if (const char* v = std::getenv("BALEEN_POOL_STATS"); v != nullptr && *v != '\0' && std::strcmp(v, "0") != 0) {
    impl_->print_stats = true;
    enable_stats(true);
  }
  for (int i = 1; i < n_threads; ++i) impl_->workers.emplace_back([this, i] { impl_->worker_loop(i); });
  pin_workers(impl_->workers);
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop.store(true);
  }
  impl_->start_cv.notify_all();
  for (auto& t : impl_->workers) t.join();
  if (impl_->print_stats) {
    const Stats st = stats();
    std::string busy;
    for (size_t i = 0; i < st.busy_s.size(); ++i) {
      char one[96];
      std::snprintf(one, sizeof one, "%sthread %zu %.3f s (%.1f%%)", i == 0 ? "" : ", ", i, st.busy_s[i],
                    st.wall_s > 0 ? 100.0 * st.busy_s[i] / st.wall_s : 0.0);
      busy += one;
    }
    std::fprintf(stderr,
                 "pool stats: %d threads, %lld split calls, %lld inline calls, %lld chunks, %.3f s; busy: %s; the "
                 "caller waited %.3f s for the workers (%.1f us per split call)\n",
                 size(), static_cast<long long>(st.split_calls), static_cast<long long>(st.inline_calls),
                 static_cast<long long>(st.chunks), st.wall_s, busy.c_str(), st.caller_wait_s,
                 st.split_calls > 0 ? 1e6 * st.caller_wait_s / static_cast<double>(st.split_calls) : 0.0);
  }
  delete impl_;
}

void ThreadPool::enable_stats(bool on) {
  Impl& s = *impl_;
  for (int i = 0; i < size(); ++i) {
    s.counters[static_cast<size_t>(i)].busy_ns.store(0);
    s.counters[static_cast<size_t>(i)].chunks.store(0);
  }
  s.split_calls.store(0);
  s.inline_calls.store(0);
  s.caller_wait_ns.store(0);
  s.stats_t0 = std::chrono::steady_clock::now();
  s.stats_on.store(on);
}

ThreadPool::Stats ThreadPool::stats() const {
  const Impl& s = *impl_;
  Stats st;
  st.split_calls = s.split_calls.load();
  st.inline_calls = s.inline_calls.load();
  st.wall_s = static_cast<double>(Impl::ns_since(s.stats_t0)) * 1e-9;
  st.caller_wait_s = static_cast<double>(s.caller_wait_ns.load()) * 1e-9;
  for (int i = 0; i < size(); ++i) {
    st.busy_s.push_back(static_cast<double>(s.counters[static_cast<size_t>(i)].busy_ns.load()) * 1e-9);
    st.chunks += s.counters[static_cast<size_t>(i)].chunks.load();
  }
  return st;
}

int64_t ThreadPool::unclaimed_begin() const {
  const Impl& s = *impl_;
  const int k = s.next_chunk.load(std::memory_order_relaxed);
  return k < s.n_chunks ? s.bounds[static_cast<size_t>(k)] * s.unit : -1;
}

int ThreadPool::size() const { return static_cast<int>(impl_->workers.size()) + 1; }

void ThreadPool::run(int64_t n, int64_t min_chunk, ChunkFn fn, void* ctx) {
  if (n <= 0) return;
  reserve_thread_scratch();  // (once per calling thread)
  min_chunk = std::max<int64_t>(1, min_chunk);
  const int64_t units = n / min_chunk;
  Impl& s = *impl_;
  const bool timed = s.stats_on.load(std::memory_order_relaxed);
  if (units <= 1 || s.workers.empty()) {  // one thread or one unit: one call, no splitting
    const auto t0 = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    fn(ctx, 0, n, 0);
    if (timed) {
      s.counters[0].busy_ns.fetch_add(Impl::ns_since(t0), std::memory_order_relaxed);
      s.counters[0].chunks.fetch_add(1, std::memory_order_relaxed);
      s.inline_calls.fetch_add(1, std::memory_order_relaxed);
    }
    return;
  }
  s.fn = fn;
  s.ctx = ctx;
  s.n = n;
  s.unit = min_chunk;
  s.n_chunks = s.plan_chunks(units, size());
  s.next_chunk.store(0, std::memory_order_relaxed);
  s.pending.store(static_cast<int>(s.workers.size()));
  s.generation.fetch_add(1);
  if (s.sleepers.load() > 0) {
    std::lock_guard<std::mutex> lock(s.mu);
    s.start_cv.notify_all();
  }
  s.run_chunks(0);
  const auto t_wait = timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
  auto done = [&] { return s.pending.load() == 0; };
  if (!spin_until(s.spin, done)) {
    std::unique_lock<std::mutex> lock(s.mu);
    s.caller_waiting.store(true);
    s.done_cv.wait(lock, done);
    s.caller_waiting.store(false);
  }
  if (timed) {
    s.caller_wait_ns.fetch_add(Impl::ns_since(t_wait), std::memory_order_relaxed);
    s.split_calls.fetch_add(1, std::memory_order_relaxed);
  }
  s.fn = nullptr;
  s.ctx = nullptr;
}

}  // namespace baleen
