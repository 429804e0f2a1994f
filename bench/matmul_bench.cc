// Matrix-product micro-benchmark across SIMD dispatch levels (core/cpu_features.h): a 4096 x 4096
// weight (rows x cols) in Q4_K, Q5_K, Q6_K, Q8_0, Q4_0, Q5_0 and BF16 times m = 1 (decode: reports GB/s
// of weight bytes read) and m = 64 (prefill-like: reports GFLOP/s, 2 * rows * cols * m per
// product). Quantized types at m <= 8 run both matmul paths (kernels/matmul.h): "f32act" (exact
// F32 activations, set_matmul_act_q8(false)) and "q8act" (8-bit activations, integer dots); at the
// best level m = 2, 4, 8, 16 show where they cross. BF16 at avx512 runs matmul's BF16 path (BF16
// activations, batch invariant, kernels/matmul_bf16.h) and "f32path" (that path off). Each benchmark cycles over enough
// copies of its weight to exceed 3x the last-level cache, so the figures are DRAM-bound like a real model's decode, and
// the machine's DRAM read bandwidth (streaming sum, same thread count) is printed first. Levels the CPU lacks are
// skipped. Single thread by default (kernel speed); BALEEN_BENCH_THREADS=N for a pool. BALEEN_BENCH_HOT=1 cycles over
// one copy (cache-resident: the kernels' compute speed; with BALEEN_BENCH_ROWS=512 BALEEN_BENCH_COLS=2048 it fits L2).
// BALEEN_AVX512_VARIANT=wide|split picks the AVX-512 kernel variant (kernels/x86/q8_dot.h). Run:
// build/bench/matmul_bench
// --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/matmul_bf16.h"
#include "kernels/matmul_q8.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/quantize.h"
#include "tensor/dtype.h"
#include "tensor/weight.h"

namespace baleen {
namespace {

int64_t env_or(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && std::atoll(v) > 0 ? std::atoll(v) : fallback;
}
// The weight's shape: 4096 x 4096, or BALEEN_BENCH_ROWS / BALEEN_BENCH_COLS (types whose block does not
// divide the columns are left out: BALEEN_BENCH_COLS=128 runs the 32-element types only, the shape of
// MLA's attn_k_b rows).
const int64_t kRows = env_or("BALEEN_BENCH_ROWS", 4096);
const int64_t kCols = env_or("BALEEN_BENCH_COLS", 4096);

// Last-level cache size of cpu0 from sysfs (largest "size" of its cache indices); 32 MiB if unknown.
uint64_t llc_bytes() {
  uint64_t best = 0;
  for (int i = 0; i < 8; ++i) {
    std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/size");
    std::string v;
    if (!(f >> v) || v.empty()) continue;
    uint64_t n = std::strtoull(v.c_str(), nullptr, 10);
    if (v.back() == 'K') n <<= 10;
    if (v.back() == 'M') n <<= 20;
    best = std::max(best, n);
  }
  return best > 0 ? best : uint64_t{32} << 20;
}

struct BenchWeight {
  std::vector<uint8_t> bytes;  // `copies` back-to-back copies of one matrix
  int copies = 1;
  WeightMatrix w;  // the first copy
};

std::unique_ptr<BenchWeight> make_weight(GgmlType type) {
  auto b = std::make_unique<BenchWeight>();
  const uint64_t row_bytes = ggml_row_bytes(type, kCols);
  const uint64_t matrix_bytes = row_bytes * kRows;
  b->copies = std::getenv("BALEEN_BENCH_HOT") != nullptr
                  ? 1
                  : static_cast<int>(std::max<uint64_t>(1, (3 * llc_bytes() + matrix_bytes - 1) / matrix_bytes));
  b->bytes.resize(matrix_bytes * static_cast<uint64_t>(b->copies));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> src(kCols);
  for (int64_t r = 0; r < kRows; ++r) {
    for (float& v : src) v = uni(rng);
    if (!quantize_row_ref(type, src.data(), b->bytes.data() + r * row_bytes, kCols).ok()) std::abort();
  }
  for (int c = 1; c < b->copies; ++c) std::memcpy(b->bytes.data() + c * matrix_bytes, b->bytes.data(), matrix_bytes);
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

// Streams a buffer of 8x the last-level cache with every thread of pool(), summing 64-bit words;
// median of 5 timed passes after one warm-up, in 1e9 bytes/s.
double read_bandwidth_gbs() {
  const uint64_t bytes = std::max<uint64_t>(uint64_t{256} << 20, 8 * llc_bytes());
  std::vector<uint64_t> buf(bytes / 8);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = i;
  const int64_t n_chunks = static_cast<int64_t>(bytes >> 20);
  const size_t words = (size_t{1} << 20) / 8;
  std::atomic<uint64_t> sink{0};
  std::vector<double> gbs;
  for (int pass = 0; pass < 6; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    pool().parallel_for(n_chunks, 1, [&](int64_t b, int64_t e, int) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      const uint64_t* p = buf.data() + static_cast<size_t>(b) * words;
      const size_t n = static_cast<size_t>(e - b) * words;
      for (size_t i = 0; i < n; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
      }
      sink.fetch_add(s0 + s1 + s2 + s3, std::memory_order_relaxed);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pass > 0) gbs.push_back(static_cast<double>(bytes) / s * 1e-9);
  }
  if (sink.load() == 1) std::fputs("", stderr);
  std::sort(gbs.begin(), gbs.end());
  return gbs[gbs.size() / 2];
}

void bench_matmul(benchmark::State& state, const BenchWeight* bw, DispatchLevel level, int64_t m, bool act_q8,
                  bool bf16_off) {
  if (set_dispatch_level(level) != level) {
    state.SkipWithError("dispatch level not supported by this CPU");
    return;
  }
  set_matmul_act_q8(false);
  set_matmul_bf16_enabled(!bf16_off);
  std::vector<float> x(static_cast<size_t>(m * kCols)), y(static_cast<size_t>(m * kRows));
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (float& v : x) v = uni(rng);
  const uint64_t matrix_bytes = bw->bytes.size() / static_cast<uint64_t>(bw->copies);
  int copy = 0;
  for (auto _ : state) {
    WeightMatrix w = bw->w;
    w.data = bw->bytes.data() + static_cast<uint64_t>(copy) * matrix_bytes;
    copy = copy + 1 == bw->copies ? 0 : copy + 1;
    if (act_q8) {
      matmul_q8(w, x.data(), m, y.data(), pool(), kCols, kRows);  // any m, past kActQ8MaxRows too
    } else {
      matmul(w, x.data(), m, y.data(), pool());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  const double weight_bytes = static_cast<double>(matrix_bytes);
  state.counters["weight_GB/s"] =
      benchmark::Counter(weight_bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kRows * kCols * m * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(dispatch_level_name(level)) + " threads=" + std::to_string(pool().size()));
  set_matmul_act_q8(true);
  set_matmul_bf16_enabled(true);
}

}  // namespace
}  // namespace baleen

int main(int argc, char** argv) {
  using namespace baleen;
  static std::vector<std::unique_ptr<BenchWeight>> weights;
  const DispatchLevel best = max_dispatch_level(cpu_features());
  std::printf("DRAM read bandwidth (streaming sum, threads=%d): %.1f GB/s\n", pool().size(), read_bandwidth_gbs());
  for (GgmlType type : {GgmlType::kQ4_K, GgmlType::kQ5_K, GgmlType::kQ6_K, GgmlType::kQ8_0, GgmlType::kQ4_0,
                        GgmlType::kQ5_0, GgmlType::kBF16}) {
    if (kCols % ggml_type_info(type).block_size != 0) continue;
    weights.push_back(make_weight(type));
    const BenchWeight* bw = weights.back().get();
    const bool quantized = type != GgmlType::kBF16;
    for (DispatchLevel level : {DispatchLevel::kScalar, DispatchLevel::kAvx2, DispatchLevel::kAvx512}) {
      if (static_cast<int>(level) > static_cast<int>(best)) continue;
      std::vector<int64_t> ms = {1, 64};
      if (level == best) ms = {1, 2, 4, 8, 16, 64};
      for (int64_t m : ms) {
        for (bool act_q8 : {false, true}) {
          if (act_q8 && (!quantized || m > 16)) continue;
          const std::string name = std::string("matmul/") + std::string(ggml_type_info(type).name) + "/" +
                                   dispatch_level_name(level) + (quantized ? (act_q8 ? "/q8act" : "/f32act") : "") +
                                   "/m=" + std::to_string(m);
          benchmark::RegisterBenchmark(name.c_str(), bench_matmul, bw, level, m, act_q8, false)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime()
              ->MinTime(m == 1 ? 0.3 : 1.0);
        }
        // BF16 at avx512: matmul takes the batch-invariant BF16 path (kernels/matmul_bf16.h);
        // "f32path" is the same product with it switched off (BALEEN_BF16_GEMM=0: exact F32 row dots).
        if (!quantized && level == DispatchLevel::kAvx512) {
          const std::string name = std::string("matmul/bf16/avx512/f32path/m=") + std::to_string(m);
          benchmark::RegisterBenchmark(name.c_str(), bench_matmul, bw, level, m, false, true)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime()
              ->MinTime(m == 1 ? 0.3 : 1.0);
        }
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
