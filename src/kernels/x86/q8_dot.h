// SIMD kernels of the integer-activation matrix product (kernels/matmul_q8.h): activation rows
// quantized to 8 bits (kernels/ref/q8_act.h formats, same bytes as quantize_act_q8_ref) and weight
// blocks dotted in integers (AVX-512 VNNI vpdpbusd / vpdpwssd, or AVX2 maddubs / madd), the block
// scales applied in float. One variant per ISA (q8_dot_avx2.cc, q8_dot_avx512.cc, one shared body
// q8_dot_body.inc); reached only through find_q8_kernels. The scalar reference is kernels/ref/q8_act.
#pragma once

#include <cstdint>

#include "core/cpu_features.h"
#include "kernels/ref/q8_act.h"
#include "tensor/weight.h"

namespace baleen {

// Rows [r0, r1) of w (a GGML type with act_q8_kind != kNone, cols a whole number of blocks) times
// m quantized activation rows (act: row i at act + i * act_row_bytes):
// y[i * y_stride + r] = dot(W[r, :], x[i, :]) for r0 <= r < r1, i < m. Thread-safe.
using Q8RowsFn = void (*)(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* act, int64_t act_row_bytes,
                          int64_t m, float* y, int64_t y_stride);
// Quantizes x[cols] to `kind` blocks at out (act_q8_row_bytes bytes); same bytes as the reference.
using Q8QuantizeFn = void (*)(ActQ8Kind kind, const float* x, int64_t cols, void* out);

struct Q8Kernels {
  Q8QuantizeFn quantize = nullptr;
  Q8RowsFn rows = nullptr;
};

// The kernels for weights of `type` at `level` (clamped to the CPU); both nullptr at kScalar or
// for a type without an integer path.
Q8Kernels find_q8_kernels(GgmlType type, DispatchLevel level);

// Two sets of AVX-512 kernels with bit-identical results whose speed depends on the core: kWide (16
// weight rows per step) for AMD Zen 5, kSplit for cores that run each 512-bit operation as two
// 256-bit halves (AMD Zen 4), where one-token products take kernels with fewer shuffles and
// multiplies per weight byte (q8_rows_split_avx512.cc: 4 rows per pass, rows prefetched into L2
// three passes ahead, the next-rows hint below), and for Intel: on a 2-core Emerald Rapids VM
// kSplit's one-token kernels streamed faster from DRAM on one thread (matmul_bench, 4096 x 4096,
// wide -> split: Q4_K 11.5-11.9 -> 14.3-14.6 GB/s, Q8_0 8.7-9.0 -> 15.2-15.6, Q5_0 7.1-7.2 ->
// 12.3-12.4; Q6_K see q8_dot_avx512.cc) and V2-Lite Q4_K_M decode ran faster (3 alternating pairs: tg64
// 11.7-12.9 -> 13.9-14.2 t/s; batch 8 19.5-19.9 -> 26.9-27.0; pp512 unchanged). The default is
// kSplit when cpu_features().avx512_split or .intel; env BALEEN_AVX512_VARIANT=wide|split overrides
// it (benchmarks), and set_avx512_variant switches it (tests; not while kernels run on other
// threads).
enum class Avx512Variant { kWide, kSplit };
Avx512Variant avx512_variant();
void set_avx512_variant(Avx512Variant variant);

// Per-ISA tables. Only call them when the CPU supports the ISA.
Q8Kernels q8_kernels_avx2(GgmlType type);
Q8Kernels q8_kernels_avx512(GgmlType type, Avx512Variant variant);

// Weight rows a thread will probably read right after its current row-kernel call: the next job or
// the next unclaimed chunk of a matmul_many pass or a matmul (kernels/matmul_many.cc, matmul_q8.cc).
// The kSplit row kernels prefetch their first passes into L2 over the call's last passes, so that
// the next call does not start on cold memory: one thread streaming V2-Lite-sized Q4_K experts
// from DRAM in N row ranges each paid ~1 us per range start without it, ~0.1 us with it (64
// experts of 1408 x 2048, 16 ranges each: 5.44 -> 4.05 ms; 64 ranges: 8.80 -> 4.35 ms; a
// stand-alone loop over q8_rows_split_avx512). Per thread; rows = 0: nothing (the default). A hint
// only: a wrong one costs some wasted prefetches, never a result.
struct NextRows {
  const uint8_t* data = nullptr;  // the first row
  int64_t rows = 0;
  int64_t row_stride = 0;  // bytes
};
void set_next_rows(NextRows next);
NextRows next_rows();

// kSplit's row kernels for Q4_K, Q5_K, Q6_K, Q4_0, Q5_0 and Q8_0 (the Q8RowsFn contract; other types:
// nothing written; on AMD, kSplit's Q6_K table entry sends one-token products to the wide row kernel). Same results
// as the other kernels (bit-identical to dot_q8_ref).
void q8_rows_split_avx512(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* act, int64_t act_row_bytes,
                          int64_t m, float* y, int64_t y_stride);

}  // namespace baleen
