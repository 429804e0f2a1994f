// Matrix-product micro-benchmark across SIMD dispatch levels (core/cpu_features.h): a 4096 x 4096
// weight (rows x cols) in Q4_K, Q8_0 and BF16 times m = 1 (decode: reports GB/s of weight bytes
// read) and m = 64 (prefill-like: reports GFLOP/s, 2 * rows * cols * m per product). Levels the CPU
// lacks are skipped. Single thread by default (kernel speed); BALEEN_BENCH_THREADS=N for a pool.
// Run: build/bench/matmul_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/quantize.h"
#include "tensor/dtype.h"
#include "tensor/weight.h"

namespace baleen {
namespace {

constexpr int64_t kRows = 4096, kCols = 4096;

struct BenchWeight {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
};

std::unique_ptr<BenchWeight> make_weight(GgmlType type) {
  auto b = std::make_unique<BenchWeight>();
  const uint64_t row_bytes = ggml_row_bytes(type, kCols);
  b->bytes.resize(row_bytes * kRows);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> src(kCols);
  for (int64_t r = 0; r < kRows; ++r) {
    for (float& v : src) v = uni(rng);
    if (!quantize_row_ref(type, src.data(), b->bytes.data() + r * row_bytes, kCols).ok()) std::abort();
  }
  b->w.type = type;
  b->w.rows = kRows;
  b->w.cols = kCols;
  b->w.data = b->bytes.data();
  b->w.row_stride = row_bytes;
  return b;
}

ThreadPool& pool() {
  static ThreadPool p([] {
    const char* t = std::getenv("BALEEN_BENCH_THREADS");
    return t != nullptr ? std::atoi(t) : 1;
  }());
  return p;
}

void bench_matmul(benchmark::State& state, const BenchWeight* bw, DispatchLevel level, int64_t m) {
  if (set_dispatch_level(level) != level) {
    state.SkipWithError("dispatch level not supported by this CPU");
    return;
  }
  std::vector<float> x(static_cast<size_t>(m * kCols)), y(static_cast<size_t>(m * kRows));
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (float& v : x) v = uni(rng);
  for (auto _ : state) {
    matmul(bw->w, x.data(), m, y.data(), pool());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double weight_bytes = static_cast<double>(bw->bytes.size());
  state.counters["weight_GB/s"] = benchmark::Counter(weight_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kRows * kCols * m * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dispatch_level_name(level)) + " threads=" + std::to_string(pool().size()));
}

}  // namespace
}  // namespace baleen

int main(int argc, char** argv) {
  using namespace baleen;
  static std::vector<std::unique_ptr<BenchWeight>> weights;
  const DispatchLevel best = max_dispatch_level(cpu_features());
  for (GgmlType type : {GgmlType::kQ4_K, GgmlType::kQ8_0, GgmlType::kBF16}) {
    weights.push_back(make_weight(type));
    const BenchWeight* bw = weights.back().get();
    for (DispatchLevel level : {DispatchLevel::kScalar, DispatchLevel::kAvx2, DispatchLevel::kAvx512}) {
      if (static_cast<int>(level) > static_cast<int>(best)) continue;
      for (int64_t m : {int64_t{1}, int64_t{64}}) {
        const std::string name = std::string("matmul/") + std::string(ggml_type_info(type).name) + "/" +
                                 dispatch_level_name(level) + "/m=" + std::to_string(m);
        benchmark::RegisterBenchmark(name.c_str(), bench_matmul, bw, level, m)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MinTime(m == 1 ? 0.3 : 1.0);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
