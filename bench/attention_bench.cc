// Prefill attention at DeepSeek-V2-Lite's MLA shape (16 heads, qk 192 = 128 nope + 64 rope, v 128),
// n = 128 and n = 512 new tokens from position 0, and n = 512 after 512 cached positions: causal_attention with
// the AVX-512 kernel (level avx512) vs the same entry point at level avx2 (the per-row double
// reference, parallel). Reports GFLOP/s counting 2 * (qk + v) multiply-adds per visible (row, key).
// Whole-machine pool by default (BALEEN_BENCH_THREADS=N to change).
// Run: build/bench/attention_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/attention.h"

namespace baleen {
namespace {

constexpr int64_t kHeads = 16, kQk = 192, kV = 128;

ThreadPool& pool() {
  static ThreadPool p([] {
    const char* t = std::getenv("BALEEN_BENCH_THREADS");
    return t != nullptr ? std::atoi(t) : 0;
  }());
  return p;
}

void bench_attention(benchmark::State& state, DispatchLevel level, int64_t n, int64_t pos0) {
  if (set_dispatch_level(level) != level) {
    state.SkipWithError("dispatch level not supported by this CPU");
    return;
  }
  const int64_t n_keys = pos0 + n;
  std::vector<float> q(static_cast<size_t>(n * kHeads * kQk)), k(static_cast<size_t>(n_keys * kHeads * kQk)),
      v(static_cast<size_t>(n_keys * kHeads * kV)), out(static_cast<size_t>(n * kHeads * kV));
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (float& x : q) x = uni(rng);
  for (float& x : k) x = uni(rng);
  for (float& x : v) x = uni(rng);
  const float scale = 1.0f / std::sqrt(static_cast<float>(kQk));
  for (auto _ : state) {
    causal_attention(q.data(), kHeads * kQk, k.data(), kHeads * kQk, v.data(), kHeads * kV, kHeads, kHeads, kQk, kV, n,
                     pos0, scale, out.data(), kHeads * kV, pool());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double pairs = static_cast<double>(n) * pos0 + static_cast<double>(n) * (n + 1) / 2.0;
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kHeads * pairs * (kQk + kV) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dispatch_level_name(level)) + " threads=" + std::to_string(pool().size()));
}

}  // namespace
}  // namespace baleen

int main(int argc, char** argv) {
  using namespace baleen;
  for (const auto& [n, pos0] : {std::pair<int64_t, int64_t>{128, 0}, {512, 0}, {512, 512}}) {
    for (DispatchLevel level : {DispatchLevel::kAvx512, DispatchLevel::kAvx2}) {
      const std::string name = std::string("attention/mla16x192x128/n=") + std::to_string(n) +
                               "/pos0=" + std::to_string(pos0) + "/" + dispatch_level_name(level);
      benchmark::RegisterBenchmark(name.c_str(), bench_attention, level, n, pos0)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime()
          ->MinTime(0.2);
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
