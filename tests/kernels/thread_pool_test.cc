// ThreadPool::parallel_for contract (core/thread_pool.h): [0, n) covered exactly once by at most
// max_chunks(size()) guided chunks of whole multiples of min_chunk (the last one may be longer by
// the remainder), none longer than the one before, the first at most its share of the whole and
// the last at most the tail size (ThreadPool::kGuidedDivisor, kTailChunksPerThread),
// thread indices in [0, size()) and never shared by two chunks running at the same time (callers
// index per-thread scratch by it), a slow thread's remaining chunks taken by the others, results
// equal to a serial loop, many small jobs in a row never deadlock (a watchdog aborts with a
// message instead of hanging ctest), and every thread runs the registered scratch reservations
// (core/thread_scratch.h) once, before its first chunk. ThreadPool::Stats: exact call and chunk
// counts (against the callbacks' own count), busy time at least the work slept, nothing counted
// while disabled, and BALEEN_POOL_STATS's summary line at destruction. unclaimed_begin: a later
// chunk's start, or -1 once all are claimed.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "core/thread_scratch.h"

namespace baleen {
namespace {

// Aborts the process if the scope is not left within `seconds` (a deadlocked pool would otherwise
// hang until ctest's timeout with no hint of where).
class Watchdog {
 public:
  Watchdog(const char* what, int seconds) : what_(what) {
    thread_ = std::thread([this, seconds] {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, std::chrono::seconds(seconds), [this] { return done_; })) {
        std::fprintf(stderr, "FATAL: %s did not finish within %d s (deadlock?)\n", what_, seconds);
        std::abort();
      }
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  const char* what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

TEST(ThreadPool, Size) {
  for (int n : {1, 2, 3, 5}) {
    ThreadPool pool(n);
    EXPECT_EQ(pool.size(), n);
  }
  ThreadPool automatic(0);
  EXPECT_GE(automatic.size(), 1);
}

TEST(ThreadPool, CoversRangeExactlyOnce) {
  Watchdog dog("CoversRangeExactlyOnce", 60);
  for (int threads : {1, 2, 3, 4, 7}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 4, 5, 6, 7, 8, 13, 16, 100, 1001, 4096}) {
      for (int64_t min_chunk : {-1, 0, 1, 2, 3, 4, 16, 100, 5000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::vector<std::atomic<int>> busy(static_cast<size_t>(threads));
        std::atomic<int> calls{0}, bad_range{0}, bad_thread{0}, shared_thread{0}, small_chunk{0}, bad_cut{0};
        const int64_t need = std::min<int64_t>(std::max<int64_t>(min_chunk, 1), n);
        std::mutex chunks_mu;
        std::vector<std::pair<int64_t, int64_t>> chunks;
        pool.parallel_for(n, min_chunk, [&](int64_t b, int64_t e, int t) {
          ++calls;
          {
            std::lock_guard<std::mutex> lock(chunks_mu);
            chunks.emplace_back(b, e);
          }
          if (!(0 <= b && b < e && e <= n)) ++bad_range;
          if (t < 0 || t >= threads) {
            ++bad_thread;
            return;
          }
          if (busy[t].fetch_add(1) != 0) ++shared_thread;
          if (e - b < need) ++small_chunk;
          if (b % need != 0 || (e != n && e % need != 0)) ++bad_cut;
          for (int64_t i = b; i < e && i >= 0 && i < n; ++i) ++hits[i];
          // Give the other chunks time to overlap, so a shared index would be seen.
          if (n <= 16) std::this_thread::sleep_for(std::chrono::microseconds(200));
          busy[t].fetch_sub(1);
        });
        const std::string where = "threads=" + std::to_string(threads) + " n=" + std::to_string(n) +
                                  " min_chunk=" + std::to_string(min_chunk);
        EXPECT_EQ(bad_range.load(), 0) << where;
        EXPECT_EQ(bad_thread.load(), 0) << where;
        EXPECT_EQ(shared_thread.load(), 0) << where;
        EXPECT_EQ(small_chunk.load(), 0) << where;
        EXPECT_EQ(bad_cut.load(), 0) << where << ": a cut not at a multiple of min_chunk";
        EXPECT_LE(calls.load(), ThreadPool::max_chunks(threads)) << where;
        if (n == 0) {
          EXPECT_EQ(calls.load(), 0) << where;
        }
        // The guided sizes, in whole units of `need` (the formula of core/thread_pool.h).
        std::sort(chunks.begin(), chunks.end());
        const int64_t units = n > 0 ? n / need : 0;
        if (threads > 1 && units >= 2) {
          const int64_t share =
              (units + ThreadPool::kGuidedDivisor * threads - 1) / (ThreadPool::kGuidedDivisor * threads);
          const int64_t tail = std::max<int64_t>(1, units / (ThreadPool::kTailChunksPerThread * threads));
          ASSERT_FALSE(chunks.empty()) << where;
          EXPECT_LE((chunks.front().second - chunks.front().first) / need, std::max(share, tail)) << where;
          EXPECT_LE((chunks.back().second - chunks.back().first) / need, tail) << where << ": a long last chunk";
          for (size_t c = 1; c < chunks.size(); ++c) {
            EXPECT_LE((chunks[c].second - chunks[c].first) / need, (chunks[c - 1].second - chunks[c - 1].first) / need)
                << where << " chunk " << c;
          }
        } else {
          EXPECT_LE(calls.load(), 1) << where;
        }
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << where << " i=" << i;
      }
    }
  }
}

TEST(ThreadPool, SingleThreadRunsOnCaller) {
  ThreadPool pool(1);
  const auto me = std::this_thread::get_id();
  int calls = 0;
  pool.parallel_for(1000, 1, [&](int64_t b, int64_t e, int t) {
    EXPECT_EQ(std::this_thread::get_id(), me);
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 1000);
    EXPECT_EQ(t, 0);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPool, ManySmallJobsNoDeadlock) {
  Watchdog dog("ManySmallJobsNoDeadlock", 60);
  ThreadPool pool(3);
  int64_t total = 0, expect = 0;
  std::vector<int64_t> part(3);
  for (int job = 0; job < 10000; ++job) {
    // Alternate job shapes: all threads busy, fewer chunks than threads, and the inline path.
    const int64_t n = job % 3 == 0 ? 3 : job % 3 == 1 ? 2 : 1;
    std::fill(part.begin(), part.end(), 0);
    pool.parallel_for(n, 1, [&](int64_t b, int64_t e, int t) {
      for (int64_t i = b; i < e; ++i) part[t] += job + i;
    });
    for (int64_t v : part) total += v;
    for (int64_t i = 0; i < n; ++i) expect += job + i;
  }
  EXPECT_EQ(total, expect);
}

TEST(ThreadPool, UsableFromAnotherThreadAndReconstructed) {
  Watchdog dog("UsableFromAnotherThreadAndReconstructed", 60);
  for (int rep = 0; rep < 50; ++rep) {
    ThreadPool pool(3);  // constructed and destroyed, sometimes without ever running a job
    if (rep % 2) continue;
    std::atomic<int64_t> sum{0};
    std::thread other([&] {
      pool.parallel_for(300, 1, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) sum += i;
      });
    });
    other.join();
    pool.parallel_for(300, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) sum += i;
    });
    EXPECT_EQ(sum.load(), 2 * 299 * 300 / 2);
  }
}

// The spin-then-block hand-off (core/thread_pool.cc): many tiny jobs back to back (workers still
// spinning) and jobs separated by pauses longer than the spin (workers asleep on the condition
// variable) must each cover every index exactly once.
TEST(ThreadPool, TinyJobsBackToBackAndAfterPauses) {
  Watchdog dog("TinyJobsBackToBackAndAfterPauses", 120);
  for (int threads : {2, 3}) {
    ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(8);
    for (int job = 0; job < 20000; ++job) {
      const int64_t n = 2 + job % 7;
      for (auto& h : hits) h.store(0);
      pool.parallel_for(n, 1, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
      });
      for (int64_t i = 0; i < 8; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), i < n ? 1 : 0) << "job " << job;
      if (job % 2000 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));  // past the spin
    }
  }
}

// A thread that is slowed keeps only the chunks it claimed: with 2 threads and 8 units (guided
// chunks of 2, 2, 1, 1, 1, 1) where thread 1 sleeps 20 ms in each of its chunks and thread 0 takes
// none of that time, thread 0 (the caller, which starts claiming at once) runs the rest long
// before thread 1 wakes, so thread 1 ends up with far fewer chunks (a static split would give
// each thread half).
TEST(ThreadPool, SlowThreadLeavesItsChunksToOthers) {
  Watchdog dog("SlowThreadLeavesItsChunksToOthers", 60);
  ThreadPool pool(2);
  std::atomic<int> by_thread[2] = {0, 0};
  pool.parallel_for(8, 1, [&](int64_t, int64_t, int t) {
    by_thread[t].fetch_add(1);
    if (t == 1) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  });
  EXPECT_EQ(by_thread[0].load() + by_thread[1].load(), 6);
  EXPECT_LT(by_thread[1].load(), by_thread[0].load());
}

// One compiled copy, called from both loops, so the comparison below can demand equal bits.
[[gnu::noinline]] float element(int64_t i) {
  const float x = static_cast<float>(i) * 1e-3f;
  return std::sin(x) * std::exp(-x * 1e-2f) + std::sqrt(x);
}

TEST(ThreadPool, ResultsIdenticalToSerial) {
  const int64_t n = 100003;
  float (*f)(int64_t) = element;
  std::vector<float> serial(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) serial[i] = f(i);
  for (int threads : {1, 2, 3, 4}) {
    ThreadPool pool(threads);
    for (int64_t min_chunk : {1, 64, 50000, 200000}) {
      std::vector<float> par(static_cast<size_t>(n), -1.0f);
      pool.parallel_for(n, min_chunk, [&](int64_t b, int64_t e, int) {
        for (int64_t i = b; i < e; ++i) par[i] = f(i);
      });
      EXPECT_EQ(par, serial) << "threads=" << threads << " min_chunk=" << min_chunk;
    }
  }
}

// Reservation counts per thread, for ReservesScratchOnEveryThreadFirst.
std::atomic<int> g_reserve_calls{0};
thread_local int t_reserved = 0;
void count_reserve() {
  ++t_reserved;
  g_reserve_calls.fetch_add(1);
}

TEST(ThreadPool, ReservesScratchOnEveryThreadFirst) {
  register_thread_scratch(&count_reserve);
  // A fresh caller thread (this test's own thread may have reserved before the registration).
  std::thread caller([] {
    const int calls_before = g_reserve_calls.load();
    ThreadPool pool(3);
    std::atomic<int> chunks_seen{0}, chunks_unreserved{0};
    for (int job = 0; job < 20; ++job) {
      pool.parallel_for(64, 1, [&](int64_t, int64_t, int) {
        chunks_seen.fetch_add(1);
        if (t_reserved != 1) chunks_unreserved.fetch_add(1);
      });
    }
    EXPECT_GT(chunks_seen.load(), 0);
    EXPECT_EQ(chunks_unreserved.load(), 0) << "a chunk ran on a thread that had not reserved (or reserved twice)";
    // The 2 workers reserve when they start (whether or not they get chunks), the caller on its first
    // parallel_for: 3 calls, once each however many jobs follow.
    EXPECT_EQ(g_reserve_calls.load() - calls_before, 3);
    reserve_thread_scratch();  // a second call on a thread does nothing
    EXPECT_EQ(t_reserved, 1);
  });
  caller.join();
}

// Counts against the callbacks' own: 10 split calls of 8 units and 3 one-unit calls (run inline).
// Each chunk sleeps 1 ms, so the threads' busy time is at least the chunks' count in ms, and at
// most the wall time per thread.
TEST(ThreadPool, StatsCountCallsChunksAndBusyTime) {
  Watchdog dog("StatsCountCallsChunksAndBusyTime", 60);
  ThreadPool pool(2);
  pool.parallel_for(8, 1, [](int64_t, int64_t, int) {});  // before enable_stats: not counted
  pool.enable_stats(true);
  std::atomic<int64_t> chunks{0};
  const auto work = [&](int64_t, int64_t, int) {
    chunks.fetch_add(1);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  for (int i = 0; i < 10; ++i) pool.parallel_for(8, 1, work);
  for (int i = 0; i < 3; ++i) pool.parallel_for(1, 1, work);
  const ThreadPool::Stats st = pool.stats();
  EXPECT_EQ(st.split_calls, 10);
  EXPECT_EQ(st.inline_calls, 3);
  EXPECT_EQ(st.chunks, chunks.load());
  ASSERT_EQ(st.busy_s.size(), 2u);
  const double busy = st.busy_s[0] + st.busy_s[1];
  EXPECT_GE(busy, 1e-3 * static_cast<double>(chunks.load()));
  EXPECT_LE(st.busy_s[0], st.wall_s);
  EXPECT_LE(st.busy_s[1], st.wall_s);
  EXPECT_GE(st.caller_wait_s, 0.0);
  EXPECT_LE(st.caller_wait_s, st.wall_s - st.busy_s[0] + 1e-6);

  // A worker that sleeps 30 ms in its chunks while the caller's cost nothing: when the worker got
  // one, the caller waited for it.
  pool.enable_stats(true);  // resets
  std::atomic<int> worker_chunks{0};
  pool.parallel_for(8, 1, [&](int64_t, int64_t, int t) {
    if (t == 1) {
      worker_chunks.fetch_add(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
  });
  const ThreadPool::Stats one = pool.stats();
  EXPECT_EQ(one.split_calls, 1);
  EXPECT_EQ(one.inline_calls, 0);
  if (worker_chunks.load() > 0) {
    EXPECT_GE(one.busy_s[1], 0.029);
    EXPECT_GE(one.caller_wait_s, 0.015);
  }

  pool.enable_stats(false);
  pool.parallel_for(8, 1, work);
  const ThreadPool::Stats off = pool.stats();
  EXPECT_EQ(off.split_calls, 0);
  EXPECT_EQ(off.chunks, 0);
}

// BALEEN_POOL_STATS=1 at construction: counting on, and one summary line on stderr at destruction.
TEST(ThreadPool, StatsFromEnvironmentPrintedAtDestruction) {
  ASSERT_EQ(setenv("BALEEN_POOL_STATS", "1", 1), 0);
  testing::internal::CaptureStderr();
  {
    ThreadPool pool(2);
    for (int i = 0; i < 2; ++i) pool.parallel_for(64, 1, [](int64_t, int64_t, int) {});
    pool.parallel_for(1, 1, [](int64_t, int64_t, int) {});
    EXPECT_EQ(pool.stats().split_calls, 2);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  unsetenv("BALEEN_POOL_STATS");
  EXPECT_EQ(err.rfind("pool stats: 2 threads, 2 split calls, 1 inline calls, ", 0), 0u) << err;
  EXPECT_NE(err.find("busy: thread 0 "), std::string::npos) << err;
  EXPECT_NE(err.find("the caller waited "), std::string::npos) << err;
  EXPECT_EQ(err.back(), '\n');

  // Without the variable (or with 0) nothing is counted or printed.
  ASSERT_EQ(setenv("BALEEN_POOL_STATS", "0", 1), 0);
  testing::internal::CaptureStderr();
  {
    ThreadPool pool(2);
    pool.parallel_for(64, 1, [](int64_t, int64_t, int) {});
    EXPECT_EQ(pool.stats().split_calls, 0);
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
  unsetenv("BALEEN_POOL_STATS");
}

// unclaimed_begin from inside a chunk: the start of a chunk that runs later in the same call (the
// claims go in order), or -1 once every chunk is claimed, which the thread running the last chunk
// always sees. Outside a split call (one unit, one thread) nothing is left to claim: -1.
TEST(ThreadPool, UnclaimedBeginNamesALaterChunkOrNone) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int round = 0; round < 50; ++round) {
      std::mutex mu;
      std::vector<std::pair<int64_t, int64_t>> seen;  // (chunk begin, unclaimed_begin() inside it)
      pool.parallel_for(1000, 10, [&](int64_t b, int64_t, int) {
        const int64_t u = pool.unclaimed_begin();
        std::lock_guard<std::mutex> lock(mu);
        seen.emplace_back(b, u);
      });
      std::sort(seen.begin(), seen.end());
      ASSERT_FALSE(seen.empty());
      for (const auto& [b, u] : seen) {
        if (u < 0) {
          EXPECT_EQ(u, -1);
          continue;
        }
        EXPECT_GT(u, b) << "threads " << threads;
        EXPECT_TRUE(std::any_of(seen.begin(), seen.end(), [u = u](const auto& c) { return c.first == u; }))
            << "threads " << threads << ": " << u << " is no chunk's begin";
      }
      EXPECT_EQ(seen.back().second, -1) << "threads " << threads;
    }
    int64_t inline_u = 0;
    pool.parallel_for(1, 1, [&](int64_t, int64_t, int) { inline_u = pool.unclaimed_begin(); });
    EXPECT_EQ(inline_u, -1);
  }
}

}  // namespace
}  // namespace baleen
