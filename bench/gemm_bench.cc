// Prefill matrix products at DeepSeek-V2-Lite shapes: m = 512 tokens times weights of hidden 2048
// (q 2048->3072, kv_a 2048->576, kv_b 512->4096, expert FFN 2048->1408 and 1408->2048, dense FFN
// 2048->10944 and 10944->2048; with BALEEN_BENCH_OUTPUT=1 also output 2048->102400) in Q4_K, Q6_K,
// Q5_0 (the 1408-column expert_down of V2-Lite's Q4_K_M mix), Q8_0 and BF16, reported as GFLOP/s
// (2 * rows * cols * m per product) for:
//   rowdot  the per-row F32 SIMD kernels at the top dispatch level (matmul with the BF16 GEMM and the
//           integer-activation path off)
//   q8gemm  matmul on the integer-activation path (kernels/matmul_q8.h: the AVX-512 VNNI integer GEMM
//           where q8_gemm_takes, the integer row dots below), quantized weights only, AMX off
//   q8amx   the same with AMX on: the integer GEMM takes the AMX-INT8 tiles for the types
//           q8_gemm_amx_takes (kernels/x86/q8_gemm.h; only where amx_available())
//   bf16    kernels/matmul_bf16 with the AVX-512 BF16 kernel
//   amx     kernels/matmul_bf16 with the AMX kernel (only where amx_available())
// plus "gemm_m": an m sweep (2..128) on the expert shapes to place kMatmulBf16MinM and
// q8_gemm_takes, and "moe": one layer of 64 experts in one matmul_many call, streamed from DRAM or
// cache-hot (what streaming the weights costs), with AMX off ("vnni") and, where available, on. Whole-machine pool by
// default (BALEEN_BENCH_THREADS=N to change). Weight contents: 64 random rows repeated (speed does not depend on the
// values). Run: build/bench/gemm_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "kernels/matmul_bf16.h"
#include "kernels/matmul_many.h"
#include "kernels/matmul_q8.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/quantize.h"
#include "tensor/dtype.h"
#include "tensor/weight.h"

namespace baleen {
namespace {

struct BenchWeight {
  std::vector<uint8_t> bytes;
  WeightMatrix w;
};

std::unique_ptr<BenchWeight> make_weight(GgmlType type, int64_t rows, int64_t cols) {
  auto b = std::make_unique<BenchWeight>();
  const uint64_t row_bytes = ggml_row_bytes(type, static_cast<uint64_t>(cols));
  b->bytes.resize(row_bytes * static_cast<uint64_t>(rows));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> src(static_cast<size_t>(cols));
  const int64_t distinct = rows < 64 ? rows : 64;
  for (int64_t r = 0; r < distinct; ++r) {
    for (float& v : src) v = uni(rng);
    if (!quantize_row_ref(type, src.data(), b->bytes.data() + r * row_bytes, static_cast<uint64_t>(cols)).ok())
      std::abort();
  }
  for (int64_t r = distinct; r < rows; ++r)
    std::memcpy(b->bytes.data() + r * row_bytes, b->bytes.data() + (r % distinct) * row_bytes, row_bytes);
  b->w.type = type;
  b->w.rows = rows;
  b->w.cols = cols;
  b->w.data = b->bytes.data();
  b->w.row_stride = row_bytes;
  return b;
}

ThreadPool& pool() {
  static ThreadPool p([] {
    const char* t = std::getenv("BALEEN_BENCH_THREADS");
    return t != nullptr ? std::atoi(t) : 0;
  }());
  return p;
}

enum class Path { kRowDot, kQ8Gemm, kQ8Amx, kBf16, kAmx };
const char* path_name(Path p) {
  return p == Path::kRowDot   ? "rowdot"
         : p == Path::kQ8Gemm ? "q8gemm"
         : p == Path::kQ8Amx  ? "q8amx"
         : p == Path::kBf16   ? "bf16"
                              : "amx";
}

void bench_gemm(benchmark::State& state, const BenchWeight* bw, Path path, int64_t m) {
  set_dispatch_level(max_dispatch_level(cpu_features()));
  const bool bf16_path = path == Path::kBf16 || path == Path::kAmx;
  const bool gemm = set_matmul_bf16_enabled(bf16_path);
  const bool amx_path = path == Path::kAmx || path == Path::kQ8Amx;
  const bool q8_path = path == Path::kQ8Gemm || path == Path::kQ8Amx;
  const bool amx = set_amx_enabled(amx_path);
  set_matmul_act_q8(q8_path);
  if ((bf16_path && !gemm) || (amx_path && !amx)) {
    state.SkipWithError("path not available on this CPU");
    return;
  }
  if (q8_path && !matmul_q8_applies(bw->w, m)) {
    state.SkipWithError("no integer path for this type");
    return;
  }
  const int64_t rows = bw->w.rows, cols = bw->w.cols;
  std::vector<float> x(static_cast<size_t>(m * cols)), y(static_cast<size_t>(m * rows));
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (float& v : x) v = uni(rng);
  for (auto _ : state) {
    if (!bf16_path) {
      matmul(bw->w, x.data(), m, y.data(), pool());
    } else {
      matmul_bf16(bw->w, x.data(), m, y.data(), pool());
    }
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * rows * cols * m * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(path_name(path)) + " threads=" + std::to_string(pool().size()));
}

// One MoE layer's expert_up products in one matmul_many call: 64 experts of 1408 x 2048 Q4_K,
// m tokens each. "stream": 64 distinct experts (92 MB, read from DRAM every call, as in a prefill);
// "hot": one expert 64 times (1.4 MB, cache-resident). The gap is what streaming the weights costs.
void bench_moe(benchmark::State& state, const BenchWeight* all, bool stream, bool amx, int64_t m) {
  set_dispatch_level(max_dispatch_level(cpu_features()));
  set_matmul_bf16_enabled(false);
  set_matmul_act_q8(true);
  if (set_amx_enabled(amx) != amx) {
    state.SkipWithError("no AMX on this CPU");
    return;
  }
  constexpr int64_t kExperts = 64, kRows = 1408;
  const int64_t cols = all->w.cols;
  std::vector<WeightMatrix> experts(kExperts, all->w);
  std::vector<float> x(static_cast<size_t>(m * cols)), y(static_cast<size_t>(kExperts * m * kRows));
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (float& v : x) v = uni(rng);
  std::vector<MatmulJob> jobs(kExperts);
  for (int64_t e = 0; e < kExperts; ++e) {
    experts[e].rows = kRows;
    experts[e].data = all->w.data + (stream ? e : 0) * kRows * all->w.row_stride;
    jobs[e] = MatmulJob{&experts[e], x.data(), m, y.data() + e * m * kRows};
  }
  for (auto _ : state) {
    matmul_many(jobs, pool());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * kExperts * kRows * cols * m * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(stream ? "stream" : "hot") + (amx ? " amx" : " vnni") +
                 " threads=" + std::to_string(pool().size()));
}

struct Shape {
  const char* name;
  int64_t rows, cols;
};

}  // namespace
}  // namespace baleen

int main(int argc, char** argv) {
  using namespace baleen;
  static std::vector<std::unique_ptr<BenchWeight>> weights;
  std::vector<Shape> shapes = {{"q", 3072, 2048},          {"kv_a", 576, 2048},         {"kv_b", 4096, 512},
                               {"expert_up", 1408, 2048},  {"expert_down", 2048, 1408}, {"dense_up", 10944, 2048},
                               {"dense_down", 2048, 10944}};
  if (const char* o = std::getenv("BALEEN_BENCH_OUTPUT"); o != nullptr && std::strcmp(o, "1") == 0)
    shapes.push_back({"output", 102400, 2048});
  const Path paths[] = {Path::kRowDot, Path::kQ8Gemm, Path::kQ8Amx, Path::kBf16, Path::kAmx};
  for (GgmlType type : {GgmlType::kQ4_K, GgmlType::kQ6_K, GgmlType::kQ5_0, GgmlType::kQ8_0, GgmlType::kBF16}) {
    for (const Shape& s : shapes) {
      // K-quant rows are whole 256-element blocks: 1408 / 10944 columns exist only in Q5_0/Q8_0/BF16
      // (GGUF writers fall back to another type for such tensors).
      if (s.cols % static_cast<int64_t>(ggml_type_info(type).block_size) != 0) continue;
      weights.push_back(make_weight(type, s.rows, s.cols));
      const BenchWeight* bw = weights.back().get();
      for (Path p : paths) {
        if ((p == Path::kQ8Gemm || p == Path::kQ8Amx) && !matmul_q8_applies(bw->w, 1)) continue;
        const std::string name = std::string("gemm/") + std::string(ggml_type_info(type).name) + "/" + s.name + "/" +
                                 path_name(p) + "/m=512";
        benchmark::RegisterBenchmark(name.c_str(), bench_gemm, bw, p, int64_t{512})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MinTime(0.2);
      }
      // The expert shapes at the token counts a 512-token prompt gives each of 64 experts (top-6: ~48).
      const bool sweep =
          (type == GgmlType::kQ4_K && std::strcmp(s.name, "expert_up") == 0) ||
          ((type == GgmlType::kQ5_0 || type == GgmlType::kQ8_0) && std::strcmp(s.name, "expert_down") == 0);
      if (sweep) {
        for (int64_t m : {2, 3, 4, 6, 8, 10, 12, 16, 24, 32, 48, 64, 128}) {
          for (Path p : paths) {
            const std::string name = std::string("gemm_m/") + std::string(ggml_type_info(type).name) + "/" + s.name +
                                     "/" + path_name(p) + "/m=" + std::to_string(m);
            benchmark::RegisterBenchmark(name.c_str(), bench_gemm, bw, p, m)
                ->Unit(benchmark::kMillisecond)
                ->UseRealTime()
                ->MinTime(0.2);
          }
        }
      }
    }
  }
  weights.push_back(make_weight(GgmlType::kQ4_K, 64 * 1408, 2048));
  for (int64_t m : {16, 48, 64}) {
    for (bool stream : {false, true}) {
      for (bool amx : {false, true}) {
        const std::string name = std::string("moe/q4_K/expert_up/") + (stream ? "stream" : "hot") +
                                 (amx ? "/amx" : "/vnni") + "/m=" + std::to_string(m);
        benchmark::RegisterBenchmark(name.c_str(), bench_moe, weights.back().get(), stream, amx, m)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime()
            ->MinTime(0.5);
      }
    }
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
