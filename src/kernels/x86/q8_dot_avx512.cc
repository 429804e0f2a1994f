// AVX-512 integer-activation kernels: the VNNI instructions vpdpbusd (u8 x s8, 4 products per
// int32 lane) and vpdpwssd (i16 x i16, 2 per lane) on 256-bit vectors (AVX-512 VL). Built with the
// avx512 flags of src/CMakeLists.txt; reached only through find_q8_kernels (DispatchLevel::kAvx512).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/thread_scratch.h"
#include "kernels/x86/f16_load.h"
#include "kernels/x86/k45_codes_avx512.h"
#include "kernels/x86/k4_scales.h"
#include "kernels/x86/q32_codes_avx512.h"
#include "kernels/x86/q8_dot.h"

namespace baleen {
namespace {

inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_epi32(acc, a, b); }
inline __m256i q8_0_dot(__m256i u, const int8_t* a) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)));
}

#include "kernels/x86/q8_dot_body.inc"

// K45Dot (q8_dot_body.inc) on 512-bit vectors: two 32-element sub-blocks per instruction, the
// weight codes in element order (k45_codes_avx512) against 64-byte activation loads. Lane sums
// regroup; the integer S and M and every float operation are those of K45Dot, so the outputs are
// bit-identical.
template <bool kQ5>
struct K45Dot512 {
  static constexpr int kBytes = kQ5 ? 176 : 144;
  template <int R>
  static void run(const uint8_t* b, const uint8_t* const* act, int64_t nb, float* out) {
    float acc[R];
    for (int k = 0; k < R; ++k) acc[k] = 0.0f;
    for (int64_t i = 0; i < nb; ++i, b += kBytes) {
      const float d = f16_at(b), dmin = f16_at(b + 2);
      uint64_t scales, mins;
      k4_scales_mins(b + 4, &scales, &mins);
      __m512i w[4];  // w[j]: sub-blocks 2 j (low 256 bits) and 2 j + 1
      k45_codes_avx512<kQ5>(b, w);
      // sc[j]: scale 2 j in the low 256 bits, 2 j + 1 in the high, as int16.
      const __m512i scales16 =
          _mm512_broadcast_i32x4(_mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(scales))));
      __m512i sc[4];
      for (int j = 0; j < 4; ++j) {
        const auto lo = static_cast<int16_t>(0x0100 + 0x0202 * (2 * j)),
                   hi = static_cast<int16_t>(0x0100 + 0x0202 * (2 * j + 1));
        sc[j] = _mm512_shuffle_epi8(scales16, _mm512_inserti64x4(_mm512_set1_epi16(lo), _mm256_set1_epi16(hi), 1));
      }
      const __m128i mins16 = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(mins)));
      for (int k = 0; k < R; ++k) {
        const ActQ8_256& a = reinterpret_cast<const ActQ8_256*>(act[k])[i];
        __m512i sumi = _mm512_setzero_si512();
        for (int j = 0; j < 4; ++j) {
          sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(w[j], _mm512_loadu_si512(a.q + 64 * j)), sc[j]);
        }
        const __m256i s256 = _mm256_add_epi32(_mm512_castsi512_si256(sumi), _mm512_extracti64x4_epi64(sumi, 1));
        const int32_t S = hsum_epi32(s256), M = hsum_epi32(_mm_madd_epi16(mins16, load16(a.sum32)));
        acc[k] = acc[k] + (a.d * d * static_cast<float>(S) - a.d * dmin * static_cast<float>(M));
      }
    }
    for (int k = 0; k < R; ++k) out[k] = acc[k];
  }
};

// One activation row against 16 weight rows at a time (decode's m == 1), for Q4_K / Q5_K. The
// row-at-a-time K45Dot512 spends most of its time turning each block's 16 lane sums into the
// scalars S and M and on scalar scale decoding; here the 16 rows' sums are reduced together
// (a transposing add tree) so that lane l of one vector holds row kRowOfLane[l]'s S, and the
// scales, mins, d and dmin of the 16 rows are decoded as vectors. Per lane the float operations
// are K45Dot's, in the same order (acc + ((da d) S - (da dmin) M) block by block), so the outputs
// are bit-identical to dot_q8_ref. The activation codes are permuted once per block to the
// weights' qs byte order (k45_codes_half_avx512), which spares the per-row lane shuffles.
template <bool kQ5>
struct K45Rows16 {
  static constexpr int kBytes = K45Dot512<kQ5>::kBytes;
  // Lane l = 4 q + k holds row 4 k + q: the order the add tree leaves them in.
  static constexpr int row_of_lane(int l) { return 4 * (l & 3) + (l >> 2); }

  // Lane sums of v[0..3] (128-bit lane q of v[k]: 4 partial sums of row 4 k + q) -> lane 4 q + k.
  static __m512i fold(const __m512i* v) {
    const __m512i x = _mm512_add_epi32(_mm512_unpacklo_epi64(v[0], v[1]), _mm512_unpackhi_epi64(v[0], v[1]));
    const __m512i y = _mm512_add_epi32(_mm512_unpacklo_epi64(v[2], v[3]), _mm512_unpackhi_epi64(v[2], v[3]));
    const __m512 xf = _mm512_castsi512_ps(x), yf = _mm512_castsi512_ps(y);
    return _mm512_add_epi32(_mm512_castps_si512(_mm512_shuffle_ps(xf, yf, 0x88)),
                            _mm512_castps_si512(_mm512_shuffle_ps(xf, yf, 0xDD)));
  }

  // Rows b, b + stride, ..., b + 15 stride (nb blocks each) times `act`; out[r] for row r.
  static void run(const uint8_t* b, int64_t stride, const ActQ8_256* act, int64_t nb, float* out) {
    // The 16 rows are read as 16 interleaved streams, which the hardware prefetchers do not follow
    // (measured: a cold single-thread matrix at 9 GB/s against 22 for one row at a time), so the
    // next 16 rows (contiguous: b + 16 stride onwards) are prefetched in step, 1/nb of them per block.
    const uint8_t* pf = b + 16 * stride;
    const int64_t pf_step = (16 * stride + nb - 1) / nb;
    alignas(64) int32_t offs[16], lane_of_row[16];
    for (int l = 0; l < 16; ++l) {
      offs[l] = static_cast<int32_t>(row_of_lane(l) * stride);
      lane_of_row[row_of_lane(l)] = l;
    }
    const __m512i d_offs = _mm512_load_si512(offs);
    // Scale / min decode (same bits as k4_scales_mins), one 128-bit lane per row holding the 12
    // bytes w0 w1 w2 (+4 ignored): A = [w0, w2, w1, w2 >> 4], B = [0, w0 >> 2, 0, w1 >> 2];
    // (A & m1) | (B & 0x30) = bytes 0..7 the scales, 8..15 the mins.
    const __m512i sh_a = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11));
    const __m512i sh_b = _mm512_broadcast_i32x4(_mm_setr_epi8(-1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, 4, 5, 6, 7));
    const __m512i a_shift = _mm512_broadcast_i32x4(_mm_setr_epi32(0, 0, 0, 4));
    const __m512i m1 = _mm512_broadcast_i32x4(_mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
    const __m512i m2 = _mm512_set1_epi8(0x30);
    const __m512i mins_to_16 =
        _mm512_broadcast_i32x4(_mm_setr_epi8(8, -1, 9, -1, 10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1));
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; ++i, b += kBytes) {
      for (int64_t o = 0; o < pf_step; o += 64) _mm_prefetch(reinterpret_cast<const char*>(pf + o), _MM_HINT_T0);
      pf += pf_step;
      const ActQ8_256& a = act[i];
      // aq[2 h] = sub-blocks 4 h, 4 h + 2; aq[2 h + 1] = 4 h + 1, 4 h + 3 (the lo / hi codes' order).
      __m512i aq[4];
      for (int h = 0; h < 2; ++h) {
        const __m512i a0 = _mm512_loadu_si512(a.q + 128 * h), a1 = _mm512_loadu_si512(a.q + 128 * h + 64);
        aq[2 * h] = _mm512_shuffle_i64x2(a0, a1, 0x44);
        aq[2 * h + 1] = _mm512_shuffle_i64x2(a0, a1, 0xEE);
      }
      const __m512i sum32 = _mm512_broadcast_i32x4(load16(a.sum32));
      __m512i quad[4], mq[4];
      for (int k = 0; k < 4; ++k) {
        const uint8_t* rb = b + 4 * k * stride;
        // (immediates spelled out: they must be constants at every optimization level)
        __m512i v = _mm512_castsi128_si512(load16(rb + 4));
        v = _mm512_inserti32x4(v, load16(rb + stride + 4), 1);
        v = _mm512_inserti32x4(v, load16(rb + 2 * stride + 4), 2);
        v = _mm512_inserti32x4(v, load16(rb + 3 * stride + 4), 3);
        const __m512i sa = _mm512_srlv_epi32(_mm512_shuffle_epi8(v, sh_a), a_shift);
        const __m512i sb = _mm512_srli_epi32(_mm512_shuffle_epi8(v, sh_b), 2);
        const __m512i sm = _mm512_ternarylogic_epi32(_mm512_and_si512(sa, m1), sb, m2, 0xF8);  // a | (b & c)
        mq[k] = _mm512_madd_epi16(_mm512_shuffle_epi8(sm, mins_to_16), sum32);
        __m512i pair[2];
        for (int p = 0; p < 2; ++p) {
          __m512i s2[2];
          for (int e = 0; e < 2; ++e) {
            const int q = 2 * p + e;
            // Row q's lane everywhere.
            const __m512i smq = q == 0   ? _mm512_shuffle_i32x4(sm, sm, 0x00)
                                : q == 1 ? _mm512_shuffle_i32x4(sm, sm, 0x55)
                                : q == 2 ? _mm512_shuffle_i32x4(sm, sm, 0xAA)
                                         : _mm512_shuffle_i32x4(sm, sm, 0xFF);
            __m512i s = _mm512_setzero_si512();
            for (int h = 0; h < 2; ++h) {
              __m512i w[2];
              k45_codes_half_avx512<kQ5>(rb + q * stride, h, &w[0], &w[1]);
              for (int t = 0; t < 2; ++t) {
                // Scale of sub-block 4 h + t as int16 in the low 256 bits, 4 h + t + 2 in the high.
                const auto lo = static_cast<int16_t>(0x8000 + 4 * h + t),
                           hi = static_cast<int16_t>(0x8000 + 4 * h + t + 2);
                const __m512i sc =
                    _mm512_shuffle_epi8(smq, _mm512_inserti64x4(_mm512_set1_epi16(lo), _mm256_set1_epi16(hi), 1));
                s = _mm512_dpwssd_epi32(s, _mm512_maddubs_epi16(w[t], aq[2 * h + t]), sc);
              }
            }
            s2[e] = s;
          }
          pair[p] =
              _mm512_add_epi32(_mm512_shuffle_i64x2(s2[0], s2[1], 0x44), _mm512_shuffle_i64x2(s2[0], s2[1], 0xEE));
        }
        quad[k] = _mm512_add_epi32(_mm512_shuffle_i64x2(pair[0], pair[1], 0x88),
                                   _mm512_shuffle_i64x2(pair[0], pair[1], 0xDD));
      }
      const __m512i S = fold(quad), M = fold(mq);
      const __m512i dd = _mm512_i32gather_epi32(d_offs, b, 1);  // f16 d | f16 dmin << 16 per row
      const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(dd));
      const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(dd, 16)));
      const __m512 da = _mm512_set1_ps(a.d);
      acc = _mm512_add_ps(acc, _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(da, d), _mm512_cvtepi32_ps(S)),
                                             _mm512_mul_ps(_mm512_mul_ps(da, dmin), _mm512_cvtepi32_ps(M))));
    }
    _mm512_storeu_ps(out, _mm512_permutexvar_ps(_mm512_load_si512(lane_of_row), acc));
  }
};

// Q4_K / Q5_K rows: one activation row takes K45Rows16 for whole groups of 16 rows (rows too far
// apart for the gather's 32-bit offsets fall back), the rest K45Dot512.
template <bool kQ5>
void k45_rows(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* act, int64_t act_row_bytes, int64_t m,
              float* y, int64_t y_stride) {
  const int64_t nb = w.cols / 256;
  if (m == 1 && w.row_stride <= (int64_t{1} << 26)) {
    for (; r0 + 16 <= r1; r0 += 16) {
      K45Rows16<kQ5>::run(w.data + static_cast<uint64_t>(r0) * w.row_stride, static_cast<int64_t>(w.row_stride),
                          reinterpret_cast<const ActQ8_256*>(act), nb, y + r0);
    }
  }
  rows_entry<K45Dot512<kQ5>, 256>(w, r0, r1, act, act_row_bytes, m, y, y_stride);
}

// Q6_K on split cores (AMD Zen 4): one token a row at a time (Q6_KDot: one sequential stream per
// thread, which the hardware prefetchers follow; from DRAM on 2 threads 10-30% faster than
// q8_rows_split_avx512's 4 interleaved rows, matmul_bench at 4096 x 4096, 16384 x 2048 and 2048 x
// 2816), more tokens 4 rows at a time (there the integer work decides: hot, 512 x 2048, one thread,
// m = 2 16.5 -> 21.9 GB/s, m = 4 10.9 -> 13.6). Intel takes q8_rows_split_avx512 for one token too
// (see q8_kernels_avx512).
void q6_k_split_rows(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* act, int64_t act_row_bytes,
                     int64_t m, float* y, int64_t y_stride) {
  if (m == 1) {
    rows_entry<Q6_KDot, 256>(w, r0, r1, act, act_row_bytes, m, y, y_stride);
  } else {
    q8_rows_split_avx512(w, r0, r1, act, act_row_bytes, m, y, y_stride);
  }
}

}  // namespace

Q8Kernels q8_kernels_avx512(GgmlType type, Avx512Variant variant) {
  Q8Kernels k;
  k.rows = lookup<K45Dot512>(type);
  // One-token products of K-quant 4/5-bit rows go 16 rows at a time on wide cores. Split cores take
  // q8_rows_split_avx512 for these and the 32-element types (4 weight rows x up to 4 activation
  // rows at a time, float steps batched); same results.
  if (type == GgmlType::kQ4_K) k.rows = &k45_rows<false>;
  if (type == GgmlType::kQ5_K) k.rows = &k45_rows<true>;
  const bool split_type = type == GgmlType::kQ4_K || type == GgmlType::kQ5_K || type == GgmlType::kQ8_0 ||
                          type == GgmlType::kQ4_0 || type == GgmlType::kQ5_0;
  if (variant == Avx512Variant::kSplit && split_type) k.rows = &q8_rows_split_avx512;
  // Q6_K: Zen 4 streams one token's rows through Q6_KDot (q6_k_split_rows). On Intel the split
  // kernel's prefetching wins instead (2-core Emerald Rapids VM, matmul_bench m = 1, 2 threads from
  // DRAM, 2 runs each, Q6_KDot -> q8_rows_split_avx512: 102400 x 2048 (V2-Lite's output head)
  // 16.0-17.0 -> 26.2-27.2 GB/s; 2048 x 2816 15.4-15.8 -> 25.4-27.0; 4096 x 4096 16.5-16.8 ->
  // 31.7-33.2).
  if (variant == Avx512Variant::kSplit && type == GgmlType::kQ6_K) {
    k.rows = cpu_features().intel ? &q8_rows_split_avx512 : &q6_k_split_rows;
  }
  if (k.rows != nullptr) k.quantize = &quantize_act;
  return k;
}

}  // namespace baleen
