// AMX-INT8 tiles for the integer GEMM (kernels/x86/q8_gemm.h): the same integer block sums as the
// AVX-512 VNNI tiles, from TDPBUSD / TDPBSSD (16 weight rows x 16 tokens x 64 or 32 bytes per
// instruction), and the same float steps in the same order, so every output is bit-identical to
// matmul_q8_ref and to the VNNI kernels (batch invariance holds with AMX on or off).
//
// The tile units multiply bytes only, so the weight codes are expanded per chunk of rows into what a
// tile can take, and the per-sub-block integer scales go into the expanded codes:
//   Q4_K / Q5_K: S = sum_s sc_s * sum_j q_j a_j with q in 0..15 (0..31) and sc in 0..63. With
//         sc = 8 h + l (h, l in 0..7), S = 8 * sum_j (q_j h_s) a_j + sum_j (q_j l_s) a_j, and q h,
//         q l <= 217 fit an unsigned byte: two code matrices (hi, lo), two int32 accumulator tiles,
//         whole 256-element blocks per tile pass (4 x 64 bytes). The mins' term M = sum_s mn_s * sum32_s takes vpdpwssd
//         on the panel's partial sums, as in the VNNI kernel.
//   Q8_0 / Q4_0 / Q5_0: the signed codes q - offset (|.| <= 128) and TDPBSSD on 32-byte tiles, one
//         block per tile product: S = sum_j (q_j - offset) a_j directly.
// Then per block, as kernels/x86/q8_gemm_avx512.cc: sum = sum + ((da * d) * float(S) - (da * dmin) *
// float(M)) (Q4_K / Q5_K), sum = sum + (dw * da) * float(S) (32-element blocks);
// -ffp-contract=off. Q6_K stays on the VNNI tiles (its signed 8-bit scales times 6-bit codes do not
// split into two byte products; in a Q4_K_M model it is the output head and a few down projections).
// Built with the AMX flags (src/CMakeLists.txt); reached only through q8_gemm_rows_avx512 when
// amx_available().
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/aligned_vector.h"
#include "core/cpu_features.h"
#include "core/thread_scratch.h"
#include "kernels/x86/amx_tile_config.h"
#include "kernels/x86/f16_load.h"
#include "kernels/x86/k45_codes_avx512.h"
#include "kernels/x86/k4_scales.h"
#include "kernels/x86/q32_codes_avx512.h"
#include "kernels/x86/q8_gemm.h"

namespace baleen {
namespace {

using q8_panel::kP256;
using q8_panel::kP32;
using q8_panel::kQ256;
using q8_panel::kQ32;
using q8_panel::kSum32;
using q8_panel::kTok;

constexpr int kRowTile = 16;  // weight rows per tile (A / C tile rows)
constexpr int64_t kMaxChunk = 64;

// Per-thread expanded weight rows of one chunk (rows padded to a multiple of kRowTile).
struct AmxScratch {
  // [rows][ld]: Q4_K / Q5_K hi / lo codes; 32-element blocks: wa signed codes. 64-byte aligned rows (ld =
  // cols rounded up to 64): a tile load of rows that straddle cache lines costs ~6x more.
  AlignedVector<uint8_t> wa, wb;
  std::vector<float> d, dmin;  // [rows][nb]
  std::vector<int32_t> mins;   // [rows][nb][4]: Q4_K / Q5_K mins as int16 pairs
  void resize(int64_t rows, int64_t ld, int64_t nb) {
    const auto need = [](auto& v, int64_t n) {
      if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
    };
    need(wa, rows * ld);
    need(wb, rows * ld);
    need(d, rows * nb);
    need(dmin, rows * nb);
    need(mins, rows * nb * 4);
  }
};
AmxScratch& amx_scratch() {
  thread_local AmxScratch s;
  return s;
}
// (the floor covers chunks of weights up to 4096 columns, 2^18 codes each; only where the tiles can
// run: elsewhere the 0.5 MiB per thread would never be used)
const bool kAmxReserved = register_thread_scratch([] {
  if (cpu_features().amx_int8) amx_scratch().resize(kMaxChunk, 4096, 4096 / 32);
});

// ---- expanding weight rows ----

// Q4_K / Q5_K row (nb blocks at b) -> hi / lo codes q h_s, q l_s (sc_s = 8 h_s + l_s), d, dmin, mins.
template <bool kQ5>
void expand_k45_row(const uint8_t* b, int64_t nb, uint8_t* hi, uint8_t* lo, float* d, float* dmin, int32_t* mins) {
  // vpermw indices: vector j takes the scale of sub-block 2 j in its low 16 words, 2 j + 1 in the high.
  __m512i idx[4];
  for (int j = 0; j < 4; ++j) {
    idx[j] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi16(static_cast<int16_t>(2 * j))),
                                _mm256_set1_epi16(static_cast<int16_t>(2 * j + 1)), 1);
  }
  for (int64_t i = 0; i < nb; ++i, b += kQ5 ? 176 : 144, hi += 256, lo += 256) {
    d[i] = f16_at(b);
    dmin[i] = f16_at(b + 2);
    uint64_t scales, mn;
    k4_scales_mins(b + 4, &scales, &mn);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(mins + 4 * i),
                     _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(mn))));
    const __m512i s16 = _mm512_cvtepu8_epi16(_mm256_zextsi128_si256(_mm_cvtsi64_si128(static_cast<int64_t>(scales))));
    const __m512i sh = _mm512_srli_epi16(s16, 3), sl = _mm512_and_si512(s16, _mm512_set1_epi16(7));
    __m512i w[4];
    k45_codes_avx512<kQ5>(b, w);
    // Codes <= 31 times factors <= 7 stay below 256, so a 16-bit multiply of two packed bytes gives
    // both products in place.
    for (int j = 0; j < 4; ++j) {
      _mm512_storeu_si512(hi + 64 * j, _mm512_mullo_epi16(w[j], _mm512_permutexvar_epi16(idx[j], sh)));
      _mm512_storeu_si512(lo + 64 * j, _mm512_mullo_epi16(w[j], _mm512_permutexvar_epi16(idx[j], sl)));
    }
  }
}

// 32-element-block row -> signed codes q - offset and d.
template <class Codes>
void expand_q32_row(const uint8_t* b, int64_t nb, uint8_t* q, float* d) {
  const __m256i off = _mm256_set1_epi8(static_cast<char>(Codes::kOffset));
  for (int64_t i = 0; i < nb; ++i, b += Codes::kBytes, q += 32) {
    d[i] = f16_at(b);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), _mm256_sub_epi8(Codes::decode(b), off));
  }
}

void expand_row(GgmlType type, const uint8_t* b, int64_t nb, int64_t ld, AmxScratch& s, int64_t j) {
  float* d = s.d.data() + j * nb;
  switch (type) {
    case GgmlType::kQ4_K:
      return expand_k45_row<false>(b, nb, s.wa.data() + j * ld, s.wb.data() + j * ld, d, s.dmin.data() + j * nb,
                                   s.mins.data() + j * nb * 4);
    case GgmlType::kQ5_K:
      return expand_k45_row<true>(b, nb, s.wa.data() + j * ld, s.wb.data() + j * ld, d, s.dmin.data() + j * nb,
                                  s.mins.data() + j * nb * 4);
    case GgmlType::kQ8_0:
      return expand_q32_row<Q8_0Codes>(b, nb, s.wa.data() + j * ld, d);
    case GgmlType::kQ4_0:
      return expand_q32_row<Q4_0Codes>(b, nb, s.wa.data() + j * ld, d);
    case GgmlType::kQ5_0:
      return expand_q32_row<Q5_0Codes>(b, nb, s.wa.data() + j * ld, d);
    default:
      return;
  }
}

// ---- tiles ----

// The tile configuration. Tiles 0..3: int32 accumulators (16 rows x 16 tokens); 4, 5: weight codes
// (16 rows x 64 bytes, or 32 for 32-element blocks); 6, 7: activation codes (16 x 64, or 8 x 64:
// k / 4 rows of 16 tokens x 4 bytes, the panel's own layout).
void load_config(bool k256) {
  AmxTileConfig cfg = amx_config_empty();
  for (int t = 0; t < 4; ++t) amx_config_set_tile(cfg, t, kRowTile, 64);
  for (int t = 4; t < 6; ++t) amx_config_set_tile(cfg, t, kRowTile, k256 ? 64 : 32);
  for (int t = 6; t < 8; ++t) amx_config_set_tile(cfg, t, k256 ? 16 : 8, 64);
  amx_load_config(cfg);
}

// One pass: a chunk's expanded rows times up to 2 groups of the panel (pg: the first, gstride apart).
struct Pass {
  const AmxScratch* s;
  int64_t ld, nb;
  const uint8_t* pg;
  int64_t gstride;
};
// The pass's float accumulators: acc[t][g][r] = the 16 tokens of group g for chunk row 16 t + r.
using PassAcc = __m512[kMaxChunk / kRowTile][2][kRowTile];
// A unit's int32 results as stored from tiles 0..3: [tile][row][token].
using TileOut = int32_t[4][kRowTile][16];

// A pass runs units (one block, or a pair of 32-element blocks, x one row tile), blocks outer and
// row tiles inner, so a block's activation tiles are reused from L1 by all row tiles. Each unit's
// tile products are issued before the previous unit's results are scaled on the vector units
// (issue u + 1, then post u), so that the two may overlap. Measured on a 2-core Emerald Rapids VM
// (one thread, Q4_K 1408 x 2048 x 512 tokens): tile work alone ~2.0 ms, scaling alone ~0.8 ms, both
// ~2.9 ms: they barely overlap (the issue order gains 2-3% over issuing after the scaling).

// Q4_K / Q5_K unit (block i, rows j .. j + 15): tiles 2 g = hi, 2 g + 1 = lo for group g.
template <int NG>
[[gnu::always_inline]] inline void k45_issue(const Pass& p, int64_t i, int64_t j) {
  const uint8_t* wh = p.s->wa.data() + j * p.ld + 256 * i;
  const uint8_t* wl = p.s->wb.data() + j * p.ld + 256 * i;
  const uint8_t* pb = p.pg + i * kP256;
  _tile_zero(0);
  _tile_zero(1);
  if constexpr (NG == 2) {
    _tile_zero(2);
    _tile_zero(3);
  }
  // (Each load goes into a register whose last reader was issued as early as possible: tiles are not
  // renamed, so a load waits until the products reading the register's old contents are done.)
  for (int kk = 0; kk < 4; ++kk) {
    _tile_loadd(4, wh + 64 * kk, p.ld);
    _tile_loadd(6, pb + 1024 * kk, 64);
    _tile_dpbusd(0, 4, 6);
    if constexpr (NG == 2) {
      _tile_loadd(7, pb + p.gstride + 1024 * kk, 64);
      _tile_dpbusd(2, 4, 7);
    }
    _tile_loadd(5, wl + 64 * kk, p.ld);
    _tile_dpbusd(1, 5, 6);
    if constexpr (NG == 2) _tile_dpbusd(3, 5, 7);
  }
}

// S = 8 hi + lo, M = sum_s mn_s sum32_s; acc = acc + ((da * d) * float(S) - (da * dmin) * float(M)).
template <int NG>
[[gnu::always_inline]] inline void k45_post(const Pass& p, int64_t i, int64_t j, const TileOut& c,
                                            __m512 (*acc)[kRowTile]) {
  const AmxScratch& s = *p.s;
  for (int g = 0; g < NG; ++g) {
    const uint8_t* pgb = p.pg + g * p.gstride + i * kP256;
    const __m512 da = _mm512_loadu_ps(reinterpret_cast<const float*>(pgb + kQ256));
    const __m512i s0 = _mm512_loadu_si512(pgb + kSum32), s1 = _mm512_loadu_si512(pgb + kSum32 + 64);
    const __m512i s2 = _mm512_loadu_si512(pgb + kSum32 + 128), s3 = _mm512_loadu_si512(pgb + kSum32 + 192);
#pragma GCC unroll 16
    for (int r = 0; r < kRowTile; ++r) {
      const int64_t ri = (j + r) * p.nb + i;
      const __m512i hi = _mm512_load_si512(c[2 * g][r]), lo = _mm512_load_si512(c[2 * g + 1][r]);
      const __m512i S = _mm512_add_epi32(_mm512_slli_epi32(hi, 3), lo);
      const int32_t* mn = s.mins.data() + ri * 4;
      __m512i M = _mm512_madd_epi16(s0, _mm512_set1_epi32(mn[0]));
      M = _mm512_dpwssd_epi32(M, s1, _mm512_set1_epi32(mn[1]));
      M = _mm512_dpwssd_epi32(M, s2, _mm512_set1_epi32(mn[2]));
      M = _mm512_dpwssd_epi32(M, s3, _mm512_set1_epi32(mn[3]));
      const __m512 x = _mm512_mul_ps(_mm512_mul_ps(da, _mm512_set1_ps(s.d[ri])), _mm512_cvtepi32_ps(S));
      const __m512 y = _mm512_mul_ps(_mm512_mul_ps(da, _mm512_set1_ps(s.dmin[ri])), _mm512_cvtepi32_ps(M));
      acc[g][r] = _mm512_add_ps(acc[g][r], _mm512_sub_ps(x, y));
    }
  }
}

// 32-element-block unit (blocks i .. i + nbk - 1, nbk <= 2; rows j .. j + 15): tile NG b + g = block
// i + b, group g.
template <int NG>
[[gnu::always_inline]] inline void q32_issue(const Pass& p, int64_t i, int nbk, int64_t j) {
  const uint8_t* wq = p.s->wa.data() + j * p.ld + 32 * i;
  const uint8_t* pb = p.pg + i * kP32;
  // (tile numbers must be constants)
  _tile_zero(0);
  _tile_loadd(4, wq, p.ld);
  _tile_loadd(6, pb, 64);
  _tile_dpbssd(0, 4, 6);
  if constexpr (NG == 2) {
    _tile_zero(1);
    _tile_loadd(7, pb + p.gstride, 64);
    _tile_dpbssd(1, 4, 7);
  }
  if (nbk == 2) {
    _tile_loadd(5, wq + 32, p.ld);
    if constexpr (NG == 2) {
      _tile_zero(2);
      _tile_zero(3);
      _tile_loadd(6, pb + kP32, 64);
      _tile_dpbssd(2, 5, 6);
      _tile_loadd(7, pb + p.gstride + kP32, 64);
      _tile_dpbssd(3, 5, 7);
    } else {
      _tile_zero(1);
      _tile_loadd(7, pb + kP32, 64);
      _tile_dpbssd(1, 5, 7);
    }
  }
}

// acc = acc + (dw * da) * float(S), blocks in order.
template <int NG>
[[gnu::always_inline]] inline void q32_post(const Pass& p, int64_t i, int nbk, int64_t j, const TileOut& c,
                                            __m512 (*acc)[kRowTile]) {
  for (int b = 0; b < nbk; ++b) {
    for (int g = 0; g < NG; ++g) {
      const __m512 da = _mm512_loadu_ps(reinterpret_cast<const float*>(p.pg + g * p.gstride + (i + b) * kP32 + kQ32));
#pragma GCC unroll 16
      for (int r = 0; r < kRowTile; ++r) {
        const __m512 dw = _mm512_set1_ps(p.s->d[(j + r) * p.nb + i + b]);
        const __m512 sv = _mm512_cvtepi32_ps(_mm512_load_si512(c[NG * b + g][r]));
        acc[g][r] = _mm512_add_ps(acc[g][r], _mm512_mul_ps(_mm512_mul_ps(dw, da), sv));
      }
    }
  }
}

// Tiles 0 .. n - 1 to c.
[[gnu::always_inline]] inline void store_tiles(int n, TileOut& c) {
  _tile_stored(0, c[0], 64);
  if (n > 1) _tile_stored(1, c[1], 64);
  if (n > 2) _tile_stored(2, c[2], 64);
  if (n > 3) _tile_stored(3, c[3], 64);
}

// Lines [l0, l1) past `base` are prefetched into L2 over the pass's units (the next chunk's weights).
struct PassPrefetch {
  const char* base;
  int64_t l0, l1;
};

template <int NG, bool kK256>
void run_pass(const Pass& p, int64_t nr, const PassPrefetch& pf, PassAcc& acc) {
  const int64_t tiles = (nr + kRowTile - 1) / kRowTile;
  for (int64_t t = 0; t < tiles; ++t) {
    for (int g = 0; g < NG; ++g) {
      for (int r = 0; r < kRowTile; ++r) acc[t][g][r] = _mm512_setzero_ps();
    }
  }
  constexpr int64_t kStep = kK256 ? 1 : 2;  // blocks per unit
  const int64_t n_units = (p.nb + kStep - 1) / kStep * tiles;
  // Blocks of the unit starting at block i (32-element kinds: a pair, or the odd last one).
  const auto unit_blocks = [&](int64_t i) { return kK256 ? 1 : (p.nb - i >= 2 ? 2 : 1); };
  const auto issue = [&](int64_t u) {
    const int64_t i = u / tiles * kStep, j = u % tiles * kRowTile;
    if constexpr (kK256) {
      k45_issue<NG>(p, i, j);
    } else {
      q32_issue<NG>(p, i, unit_blocks(i), j);
    }
  };
  alignas(64) TileOut c[2];
  issue(0);
  for (int64_t u = 0; u < n_units; ++u) {
    const int64_t i = u / tiles * kStep, t = u % tiles;
    const int nbk = unit_blocks(i);
    TileOut& cu = c[u & 1];
    store_tiles(kK256 ? 2 * NG : nbk * NG, cu);
    if (u + 1 < n_units) issue(u + 1);
    for (int64_t l = pf.l0 + (pf.l1 - pf.l0) * u / n_units; l < pf.l0 + (pf.l1 - pf.l0) * (u + 1) / n_units; ++l) {
      _mm_prefetch(pf.base + 64 * l, _MM_HINT_T1);
    }
    if constexpr (kK256) {
      k45_post<NG>(p, i, t * kRowTile, cu, acc[t]);
    } else {
      q32_post<NG>(p, i, nbk, t * kRowTile, cu, acc[t]);
    }
  }
}

// v[r] (row r's 16 tokens) -> out[t][r] (row stride 64 floats): a 16 x 16 transpose in registers
// (unpack, then 128-bit lane shuffles).
void transpose_tile(const __m512 (&v)[kRowTile], float (*out)[kMaxChunk]) {
  __m512 t[16], u[16];
  for (int k = 0; k < 16; k += 2) {
    t[k] = _mm512_unpacklo_ps(v[k], v[k + 1]);
    t[k + 1] = _mm512_unpackhi_ps(v[k], v[k + 1]);
  }
  // u[4 q4 + q], 128-bit lane L: rows 4 q4 .. 4 q4 + 3 of token 4 L + q.
  for (int q4 = 0; q4 < 4; ++q4) {
    const __m512* tq = t + 4 * q4;
    u[4 * q4 + 0] = _mm512_shuffle_ps(tq[0], tq[2], 0x44);
    u[4 * q4 + 1] = _mm512_shuffle_ps(tq[0], tq[2], 0xEE);
    u[4 * q4 + 2] = _mm512_shuffle_ps(tq[1], tq[3], 0x44);
    u[4 * q4 + 3] = _mm512_shuffle_ps(tq[1], tq[3], 0xEE);
  }
  for (int q = 0; q < 4; ++q) {
    const __m512 a0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x88), a1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xDD);
    const __m512 b0 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x88);
    const __m512 b1 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xDD);
    _mm512_store_ps(out[q], _mm512_shuffle_f32x4(a0, b0, 0x88));
    _mm512_store_ps(out[4 + q], _mm512_shuffle_f32x4(a1, b1, 0x88));
    _mm512_store_ps(out[8 + q], _mm512_shuffle_f32x4(a0, b0, 0xDD));
    _mm512_store_ps(out[12 + q], _mm512_shuffle_f32x4(a1, b1, 0xDD));
  }
}

// Group v of a pass's accumulators (the chunk's nr rows x nt tokens) -> y[t * y_stride + r]: the
// row tiles transposed into a token-major buffer first, so each token's rows go out as consecutive
// 64-byte stores (stores of 16 floats straight to each token's row, 4 row tiles apart, measured
// ~2x slower).
void store_group(const PassAcc& acc, int v, int64_t nr, int nt, float* y, int64_t y_stride) {
  alignas(64) float buf[kTok][kMaxChunk];
  for (int64_t j = 0; j < nr; j += kRowTile)
    transpose_tile(acc[j / kRowTile][v], reinterpret_cast<float(*)[kMaxChunk]>(&buf[0][j]));
  const auto tail = static_cast<__mmask16>((1u << (nr % 16)) - 1);
  for (int t = 0; t < nt; ++t) {
    float* dst = y + t * y_stride;
    int64_t k = 0;
    for (; k + 16 <= nr; k += 16) _mm512_storeu_ps(dst + k, _mm512_load_ps(&buf[t][k]));
    if (k < nr) _mm512_mask_storeu_ps(dst + k, tail, _mm512_load_ps(&buf[t][k]));
  }
}

}  // namespace

bool q8_gemm_amx_takes(GgmlType type) {
  return type == GgmlType::kQ4_K || type == GgmlType::kQ5_K || type == GgmlType::kQ8_0 || type == GgmlType::kQ4_0 ||
         type == GgmlType::kQ5_0;
}

void q8_gemm_rows_amx(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* panel, int64_t m, float* y,
                      int64_t y_stride) {
  const bool k256 = w.type == GgmlType::kQ4_K || w.type == GgmlType::kQ5_K;
  const int64_t nb = w.cols / (k256 ? 256 : 32);
  const int64_t gstride = nb * (k256 ? kP256 : kP32);
  const int64_t groups = q8_gemm_groups(m);
  // Rows expanded at a time: their codes (K-quants: two bytes per weight) stay in L2 while every group
  // pair of the panel streams past them; 16 .. 64 rows.
  const int64_t ld = (w.cols + 63) / 64 * 64;  // code row stride
  const int64_t code_bytes = ld * (k256 ? 2 : 1);
  const int64_t chunk = std::clamp<int64_t>((512 * 1024) / code_bytes / kRowTile * kRowTile, kRowTile, kMaxChunk);
  AmxScratch& s = amx_scratch();
  s.resize(chunk, ld, nb);
  load_config(k256);
  alignas(64) PassAcc acc;
  for (int64_t c0 = r0; c0 < r1; c0 += chunk) {
    const int64_t nr = std::min(chunk, r1 - c0);
    for (int64_t j = 0; j < nr; ++j) {
      expand_row(w.type, w.data + static_cast<uint64_t>(c0 + j) * w.row_stride, nb, ld, s, j);
    }
    // The next chunk's weight bytes are fetched into L2 over this chunk's passes.
    const char* next = reinterpret_cast<const char*>(w.data + static_cast<uint64_t>(c0 + nr) * w.row_stride);
    const int64_t next_lines =
        static_cast<int64_t>((static_cast<uint64_t>(std::min(chunk, r1 - c0 - nr)) * w.row_stride + 63) / 64);
    const int64_t n_passes = (groups + 1) / 2;
    for (int64_t g = 0; g < groups; g += 2) {
      const int ng = groups - g >= 2 ? 2 : 1;
      const Pass p{&s, ld, nb, panel + g * gstride, gstride};
      const PassPrefetch pf{next, next_lines * (g / 2) / n_passes, next_lines * (g / 2 + 1) / n_passes};
      if (k256) {
        ng == 2 ? run_pass<2, true>(p, nr, pf, acc) : run_pass<1, true>(p, nr, pf, acc);
      } else {
        ng == 2 ? run_pass<2, false>(p, nr, pf, acc) : run_pass<1, false>(p, nr, pf, acc);
      }
      for (int v = 0; v < ng; ++v) {
        const int64_t tok0 = (g + v) * kTok;
        store_group(acc, v, nr, static_cast<int>(std::min<int64_t>(kTok, m - tok0)), y + tok0 * y_stride + c0,
                    y_stride);
      }
    }
  }
  _tile_release();
}

}  // namespace baleen
