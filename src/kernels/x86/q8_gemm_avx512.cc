// AVX-512 VNNI integer GEMM (kernels/x86/q8_gemm.h). Built with the avx512 flags of
// src/CMakeLists.txt (-ffp-contract=off: the float steps stay separate multiplies and adds, as in
// kernels/ref/q8_act.cc); reached only through matmul_q8 at DispatchLevel::kAvx512.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_scratch.h"
#include "kernels/x86/f16_load.h"
#include "kernels/x86/k45_codes_avx512.h"
#include "kernels/x86/k4_scales.h"
#include "kernels/x86/q8_gemm.h"

namespace baleen {
namespace {

using q8_panel::kP256;
using q8_panel::kP32;
using q8_panel::kQ256;
using q8_panel::kQ32;
using q8_panel::kSum16;
using q8_panel::kSum32;
using q8_panel::kTok;
// Register tiles: 4 weight rows x up to 3 groups of 16 tokens.
constexpr int kMaxR = 4, kMaxTv = 3;

inline __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m128i load16(const uint8_t* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
inline void store32(uint8_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }

// ---- weight rows unpacked to unsigned codes (natural element order) and per-block scalars ----

struct Unpacked {
  int64_t cols = 0, nb = 0;
  std::vector<uint8_t> u;   // [rows][cols]: Q8_0 q + 128, Q4_0 / Q4_K 0..15, Q5_0 / Q5_K 0..31, Q6_K 0..63
  std::vector<float> f0;    // [rows][nb]: d
  std::vector<float> f1;    // [rows][nb]: dmin (Q4_K / Q5_K)
  std::vector<int32_t> sc;  // [rows][nb][16]: sub-block scales (Q4_K / Q5_K 8, Q6_K 16)
  std::vector<int32_t> pr;  // [rows][nb][8]: int16 pairs, Q4_K / Q5_K mins (4), Q6_K scales (8)
  // Grows to at least what a chunk of any weight up to 32768 columns needs (chunk x cols <= 2^17),
  // so that steady-state calls allocate nothing whichever thread gets which job (that varies from
  // call to call).
  void resize(int64_t rows, int64_t c, int64_t b) {
    cols = c;
    nb = b;
    const auto need = [](auto& v, int64_t n, int64_t floor) {
      if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(std::max(n, floor)));
    };
    constexpr int64_t kElems = int64_t{1} << 17, kBlocks = kElems / 32;
    need(u, rows * c, kElems);
    need(f0, rows * b, kBlocks);
    need(f1, rows * b, kBlocks);
    need(sc, rows * b * 16, kBlocks * 16);
    need(pr, rows * b * 8, kBlocks * 8);
  }
};

__m256i decode_q4_0(const uint8_t* b) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  const __m128i q = load16(b + 2);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), mask), _mm_and_si128(q, mask));
}

__m256i decode_q5_0(const uint8_t* b) {
  const __m128i mask = _mm_set1_epi8(0x0F);
  // Byte k of the expansion tests bit k % 8 of qh byte k / 8.
  const __m256i spread =
      _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i bits = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  uint32_t qh;
  std::memcpy(&qh, b + 2, 4);
  const __m256i h = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(qh)), spread);
  const __m256i hi = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(h, bits), bits), _mm256_set1_epi8(0x10));
  const __m128i q = load16(b + 6);
  return _mm256_or_si256(_mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), mask), _mm_and_si128(q, mask)), hi);
}

inline int32_t pair16(int a, int b) {
  return static_cast<int32_t>(static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(a))) |
                              (static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(b))) << 16));
}

// Row j of U from the GGML row at b (layouts in kernels/ref/dequant.cc).
void unpack_row(GgmlType type, const uint8_t* b, Unpacked& U, int64_t j) {
  uint8_t* u = U.u.data() + j * U.cols;
  float* f0 = U.f0.data() + j * U.nb;
  float* f1 = U.f1.data() + j * U.nb;
  int32_t* sc = U.sc.data() + j * U.nb * 16;
  int32_t* pr = U.pr.data() + j * U.nb * 8;
  switch (type) {
    case GgmlType::kQ8_0:
      for (int64_t i = 0; i < U.nb; ++i, b += 34, u += 32) {
        f0[i] = f16_at(b);
        store32(u, _mm256_xor_si256(load32(b + 2), _mm256_set1_epi8(static_cast<char>(0x80))));
      }
      return;
    case GgmlType::kQ4_0:
      for (int64_t i = 0; i < U.nb; ++i, b += 18, u += 32) {
        f0[i] = f16_at(b);
        store32(u, decode_q4_0(b));
      }
      return;
    case GgmlType::kQ5_0:
      for (int64_t i = 0; i < U.nb; ++i, b += 22, u += 32) {
        f0[i] = f16_at(b);
        store32(u, decode_q5_0(b));
      }
      return;
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K: {
      const bool q5 = type == GgmlType::kQ5_K;
      for (int64_t i = 0; i < U.nb; ++i, b += q5 ? 176 : 144, u += 256) {
        f0[i] = f16_at(b);
        f1[i] = f16_at(b + 2);
        uint64_t scales, mins;
        k4_scales_mins(b + 4, &scales, &mins);
        // sc: the 8 scales as int32; pr: the mins as int16 pairs (m0 | m1 << 16, ...), which is
        // their zero extension to 16 bits read as int32.
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(sc + i * 16),
                            _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<int64_t>(scales))));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(pr + i * 8),
                         _mm_cvtepu8_epi16(_mm_cvtsi64_si128(static_cast<int64_t>(mins))));
        __m512i w[4];
        if (q5) {
          k45_codes_avx512<true>(b, w);
        } else {
          k45_codes_avx512<false>(b, w);
        }
        for (int k = 0; k < 4; ++k) _mm512_storeu_si512(u + 64 * k, w[k]);
      }
      return;
    }
    case GgmlType::kQ6_K: {
      const __m256i mask = _mm256_set1_epi8(0x0F), hmask = _mm256_set1_epi8(0x30);
      for (int64_t i = 0; i < U.nb; ++i, b += 210, u += 256) {
        f0[i] = f16_at(b + 208);
        const auto* s8 = reinterpret_cast<const int8_t*>(b + 192);
        for (int s = 0; s < 16; ++s) sc[i * 16 + s] = s8[s];
        for (int p = 0; p < 8; ++p) pr[i * 8 + p] = pair16(s8[2 * p], s8[2 * p + 1]);
        for (int half = 0; half < 2; ++half) {
          const __m256i la = load32(b + 64 * half), lb = load32(b + 64 * half + 32), h = load32(b + 128 + 32 * half);
          uint8_t* o = u + 128 * half;
          store32(o, _mm256_or_si256(_mm256_and_si256(la, mask), _mm256_and_si256(_mm256_slli_epi16(h, 4), hmask)));
          store32(o + 32,
                  _mm256_or_si256(_mm256_and_si256(lb, mask), _mm256_and_si256(_mm256_slli_epi16(h, 2), hmask)));
          store32(o + 64,
                  _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(la, 4), mask), _mm256_and_si256(h, hmask)));
          store32(o + 96, _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(lb, 4), mask),
                                          _mm256_and_si256(_mm256_srli_epi16(h, 2), hmask)));
        }
      }
      return;
    }
    default:
      return;
  }
}

// ---- register tiles: R weight rows x (TV groups of 16 tokens [+ one group's first 8]) ----

// A tile's vectors: TV 512-bit ones (16 tokens each) and, with kH, one 256-bit one for a last group
// of at most 8 tokens (the first 32 bytes of each 64-byte panel row), which would otherwise cost a
// whole group's multiplies. The 256-bit products reuse the 512-bit broadcast weights.
template <int TV, bool kH>
struct Acc {
  __m512i z[TV > 0 ? TV : 1];
  __m256i y;
};
template <int TV, bool kH>
struct AccF {
  __m512 z[TV > 0 ? TV : 1];
  __m256 y;
};

// The K-quant tiles' float accumulators live in registers for up to 8 of them. Larger tiles keep
// them in memory (read and written once per 256-element block; the barrier stops the compiler from
// promoting them), so that the integer accumulators of the block loop (S and P, 2 R TV) keep the 32
// vector registers. (tile32 keeps its own: its blocks are 8x shorter, and the compiler's spills
// measured faster there than a round trip per block; bench/gemm_bench.)
template <int R, int TV, bool kH>
[[gnu::always_inline]] inline void facc_to_memory(AccF<TV, kH> (&facc)[R]) {
  if constexpr (R * (TV + (kH ? 1 : 0)) > 8) asm volatile("" : : "r"(&facc[0]) : "memory");
}

template <int TV, bool kH>
[[gnu::always_inline]] inline void zero(Acc<TV, kH>& a) {
  for (int v = 0; v < TV; ++v) a.z[v] = _mm512_setzero_si512();
  if constexpr (kH) a.y = _mm256_setzero_si256();
}
template <int TV, bool kH>
[[gnu::always_inline]] inline void zero(AccF<TV, kH>& a) {
  for (int v = 0; v < TV; ++v) a.z[v] = _mm512_setzero_ps();
  if constexpr (kH) a.y = _mm256_setzero_ps();
}

struct Tile {
  const uint8_t* u[kMaxR];
  const float* f0[kMaxR];
  const float* f1[kMaxR];
  const int32_t* sc[kMaxR];
  const int32_t* pr[kMaxR];
  const uint8_t* panel;  // first group of the tile, block 0
  int64_t gstride;       // panel bytes per group
  int64_t nb;
};

// The tile's activation vectors at panel offset `off` of each group (group TV: the 256-bit one).
template <int TV, bool kH>
[[gnu::always_inline]] inline Acc<TV, kH> load_groups(const Tile& t, const uint8_t* pb, int64_t off) {
  Acc<TV, kH> a;
  for (int v = 0; v < TV; ++v) a.z[v] = _mm512_loadu_si512(pb + v * t.gstride + off);
  if constexpr (kH) a.y = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pb + TV * t.gstride + off));
  return a;
}

// P[r] = sum over k4 < NK4 of the 4-byte weight groups at t.u[r] + uoff + 4 k4 (broadcast) dotted
// (vpdpbusd) with the token panel at pb + v * gstride + aoff + 64 k4.
template <int R, int TV, bool kH, int NK4>
[[gnu::always_inline]] inline void dot_groups(const Tile& t, const uint8_t* pb, int64_t uoff, int64_t aoff,
                                              Acc<TV, kH> (&P)[R]) {
  for (int r = 0; r < R; ++r) zero(P[r]);
  for (int k4 = 0; k4 < NK4; ++k4) {
    const Acc<TV, kH> a = load_groups<TV, kH>(t, pb, aoff + 64 * k4);
    for (int r = 0; r < R; ++r) {
      int32_t wv;
      std::memcpy(&wv, t.u[r] + uoff + 4 * k4, 4);
      const __m512i wb = _mm512_set1_epi32(wv);
      for (int v = 0; v < TV; ++v) P[r].z[v] = _mm512_dpbusd_epi32(P[r].z[v], wb, a.z[v]);
      if constexpr (kH) P[r].y = _mm256_dpbusd_epi32(P[r].y, _mm512_castsi512_si256(wb), a.y);
    }
  }
}

// K-quant block i: S[r] = sum over its NS sub-blocks s (4 * NK4 bytes each) of
// sc[r][16 i + s] * (sub-block dot).
template <int R, int TV, bool kH, int NS, int NK4>
[[gnu::always_inline]] inline void scaled_subblocks(const Tile& t, const uint8_t* pb, int64_t i, Acc<TV, kH> (&S)[R]) {
  for (int r = 0; r < R; ++r) zero(S[r]);
  for (int s = 0; s < NS; ++s) {
    Acc<TV, kH> P[R];
    dot_groups<R, TV, kH, NK4>(t, pb, 256 * i + 4 * NK4 * s, 64 * NK4 * s, P);
    for (int r = 0; r < R; ++r) {
      const __m512i sc = _mm512_set1_epi32(t.sc[r][16 * i + s]);
      for (int v = 0; v < TV; ++v) S[r].z[v] = _mm512_add_epi32(S[r].z[v], _mm512_mullo_epi32(P[r].z[v], sc));
      if constexpr (kH) {
        S[r].y = _mm256_add_epi32(S[r].y, _mm256_mullo_epi32(P[r].y, _mm512_castsi512_si256(sc)));
      }
    }
  }
}

// K-quant block i: C[r] = sum over p < NP of the int16 pair pr[r][8 i + p] dotted (vpdpwssd) with
// the panel's int16 partial sums at pb + v * gstride + off + 64 p.
template <int R, int TV, bool kH, int NP>
[[gnu::always_inline]] inline void pair_sums(const Tile& t, const uint8_t* pb, int64_t off, int64_t i,
                                             Acc<TV, kH> (&C)[R]) {
  for (int r = 0; r < R; ++r) zero(C[r]);
  for (int p = 0; p < NP; ++p) {
    const Acc<TV, kH> a = load_groups<TV, kH>(t, pb, off + 64 * p);
    for (int r = 0; r < R; ++r) {
      const __m512i pr = _mm512_set1_epi32(t.pr[r][8 * i + p]);
      for (int v = 0; v < TV; ++v) C[r].z[v] = _mm512_dpwssd_epi32(C[r].z[v], pr, a.z[v]);
      if constexpr (kH) C[r].y = _mm256_dpwssd_epi32(C[r].y, _mm512_castsi512_si256(pr), a.y);
    }
  }
}

// The float scales da of the tile's tokens at panel offset `off`.
template <int TV, bool kH>
[[gnu::always_inline]] inline AccF<TV, kH> load_scales(const Tile& t, const uint8_t* pb, int64_t off) {
  AccF<TV, kH> a;
  for (int v = 0; v < TV; ++v) a.z[v] = _mm512_loadu_ps(reinterpret_cast<const float*>(pb + v * t.gstride + off));
  if constexpr (kH) a.y = _mm256_loadu_ps(reinterpret_cast<const float*>(pb + TV * t.gstride + off));
  return a;
}

// Q8_0 / Q4_0 / Q5_0: S = sum(u a) - 2^kShift sum(a) (offsets 128 / 8 / 16);
// sum = sum + (dw * da) * float(S).
template <int kShift, int R, int TV, bool kH>
void tile32(const Tile& t, AccF<TV, kH>* out) {
  AccF<TV, kH> facc[R];
  for (int r = 0; r < R; ++r) zero(facc[r]);
  for (int64_t i = 0; i < t.nb; ++i) {
    const uint8_t* pb = t.panel + i * kP32;
    Acc<TV, kH> acc[R];
    dot_groups<R, TV, kH, 8>(t, pb, 32 * i, 0, acc);
    const AccF<TV, kH> da = load_scales<TV, kH>(t, pb, kQ32);
    Acc<TV, kH> bias = load_groups<TV, kH>(t, pb, kQ32 + 64);
    for (int v = 0; v < TV; ++v) bias.z[v] = _mm512_slli_epi32(bias.z[v], kShift);
    if constexpr (kH) bias.y = _mm256_slli_epi32(bias.y, kShift);
    for (int r = 0; r < R; ++r) {
      const __m512 dw = _mm512_set1_ps(t.f0[r][i]);
      for (int v = 0; v < TV; ++v) {
        const __m512 s = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r].z[v], bias.z[v]));
        facc[r].z[v] = _mm512_add_ps(facc[r].z[v], _mm512_mul_ps(_mm512_mul_ps(dw, da.z[v]), s));
      }
      if constexpr (kH) {
        const __m256 s = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc[r].y, bias.y));
        facc[r].y = _mm256_add_ps(facc[r].y, _mm256_mul_ps(_mm256_mul_ps(_mm512_castps512_ps256(dw), da.y), s));
      }
    }
  }
  for (int r = 0; r < R; ++r) out[r] = facc[r];
}

// Q4_K / Q5_K: S = sum_s sc_s sum(u a), M = sum_s mn_s sum32_s;
// sum = sum + ((da * d) * float(S) - (da * dmin) * float(M)).
template <int R, int TV, bool kH>
void tile_k45(const Tile& t, AccF<TV, kH>* out) {
  AccF<TV, kH> facc[R];
  for (int r = 0; r < R; ++r) zero(facc[r]);
  for (int64_t i = 0; i < t.nb; ++i) {
    const uint8_t* pb = t.panel + i * kP256;
    Acc<TV, kH> S[R], M[R];
    scaled_subblocks<R, TV, kH, 8, 8>(t, pb, i, S);
    pair_sums<R, TV, kH, 4>(t, pb, kSum32, i, M);
    const AccF<TV, kH> da = load_scales<TV, kH>(t, pb, kQ256);
    for (int r = 0; r < R; ++r) {
      const __m512 d = _mm512_set1_ps(t.f0[r][i]), dmin = _mm512_set1_ps(t.f1[r][i]);
      for (int v = 0; v < TV; ++v) {
        const __m512 x = _mm512_mul_ps(_mm512_mul_ps(da.z[v], d), _mm512_cvtepi32_ps(S[r].z[v]));
        const __m512 y = _mm512_mul_ps(_mm512_mul_ps(da.z[v], dmin), _mm512_cvtepi32_ps(M[r].z[v]));
        facc[r].z[v] = _mm512_add_ps(facc[r].z[v], _mm512_sub_ps(x, y));
      }
      if constexpr (kH) {
        const __m256 x = _mm256_mul_ps(_mm256_mul_ps(da.y, _mm512_castps512_ps256(d)), _mm256_cvtepi32_ps(S[r].y));
        const __m256 y = _mm256_mul_ps(_mm256_mul_ps(da.y, _mm512_castps512_ps256(dmin)), _mm256_cvtepi32_ps(M[r].y));
        facc[r].y = _mm256_add_ps(facc[r].y, _mm256_sub_ps(x, y));
      }
    }
    facc_to_memory(facc);
  }
  for (int r = 0; r < R; ++r) out[r] = facc[r];
}

// Q6_K: S = sum_s sc_s sum(u a) - 32 sum_s sc_s sum16_s; sum = sum + (da * d) * float(S).
template <int R, int TV, bool kH>
void tile_q6k(const Tile& t, AccF<TV, kH>* out) {
  AccF<TV, kH> facc[R];
  for (int r = 0; r < R; ++r) zero(facc[r]);
  for (int64_t i = 0; i < t.nb; ++i) {
    const uint8_t* pb = t.panel + i * kP256;
    Acc<TV, kH> S[R], B[R];
    scaled_subblocks<R, TV, kH, 16, 4>(t, pb, i, S);
    pair_sums<R, TV, kH, 8>(t, pb, kSum16, i, B);
    const AccF<TV, kH> da = load_scales<TV, kH>(t, pb, kQ256);
    for (int r = 0; r < R; ++r) {
      const __m512 d = _mm512_set1_ps(t.f0[r][i]);
      for (int v = 0; v < TV; ++v) {
        const __m512i s = _mm512_sub_epi32(S[r].z[v], _mm512_slli_epi32(B[r].z[v], 5));
        facc[r].z[v] = _mm512_add_ps(facc[r].z[v], _mm512_mul_ps(_mm512_mul_ps(da.z[v], d), _mm512_cvtepi32_ps(s)));
      }
      if constexpr (kH) {
        const __m256i s = _mm256_sub_epi32(S[r].y, _mm256_slli_epi32(B[r].y, 5));
        facc[r].y = _mm256_add_ps(facc[r].y,
                                  _mm256_mul_ps(_mm256_mul_ps(da.y, _mm512_castps512_ps256(d)), _mm256_cvtepi32_ps(s)));
      }
    }
    facc_to_memory(facc);
  }
  for (int r = 0; r < R; ++r) out[r] = facc[r];
}

template <int R, int TV, bool kH>
void run_tile(GgmlType type, const Tile& t, AccF<TV, kH>* out) {
  switch (type) {
    case GgmlType::kQ8_0:
      return tile32<7, R, TV, kH>(t, out);
    case GgmlType::kQ4_0:
      return tile32<3, R, TV, kH>(t, out);
    case GgmlType::kQ5_0:
      return tile32<4, R, TV, kH>(t, out);
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
      return tile_k45<R, TV, kH>(t, out);
    case GgmlType::kQ6_K:
      return tile_q6k<R, TV, kH>(t, out);
    default:
      return;
  }
}

template <int TV, bool kH>
void run_tile_r(GgmlType type, int r, const Tile& t, AccF<TV, kH>* out) {
  switch (r) {
    case 4:
      return run_tile<4, TV, kH>(type, t, out);
    case 3:
      return run_tile<3, TV, kH>(type, t, out);
    case 2:
      return run_tile<2, TV, kH>(type, t, out);
    default:
      return run_tile<1, TV, kH>(type, t, out);
  }
}

// A tile's results per row as 512-bit vectors: res[r][v] for its TV groups, then (kH) the half
// group's in the low 256 bits of res[r][TV].
template <int TV, bool kH>
void run_tile_kept(GgmlType type, int rn, const Tile& t, __m512 (&res)[kMaxR][kMaxTv + 1]) {
  AccF<TV, kH> out[kMaxR];
  run_tile_r<TV, kH>(type, rn, t, out);
  for (int r = 0; r < rn; ++r) {
    for (int v = 0; v < TV; ++v) res[r][v] = out[r].z[v];
    if constexpr (kH) res[r][TV] = _mm512_castps256_ps512(out[r].y);
  }
}

// Writes a tile's results to ybuf ([token][chunk] floats): v[r] holds rows j + r (r < rn) for the
// tokens tok0 .. tok0 + n - 1 (lanes 0 .. n - 1). The rows are transposed 4 at a time in registers
// (4 x 4 blocks of floats), so each token gets one store of up to 4 consecutive floats.
inline void store_tile_rows(const __m512* v, int rn, int n, float* ybuf, int64_t chunk, int64_t tok0, int64_t j) {
  const __m512 z = _mm512_setzero_ps();
  const __m512 a = v[0], b = rn > 1 ? v[1] : z, c = rn > 2 ? v[2] : z, d = rn > 3 ? v[3] : z;
  const __m512 t0 = _mm512_unpacklo_ps(a, b), t1 = _mm512_unpackhi_ps(a, b);
  const __m512 t2 = _mm512_unpacklo_ps(c, d), t3 = _mm512_unpackhi_ps(c, d);
  // u[q], 128-bit lane k: token 4 k + q's rows j .. j + 3.
  const __m512 u[4] = {_mm512_shuffle_ps(t0, t2, 0x44), _mm512_shuffle_ps(t0, t2, 0xEE),
                       _mm512_shuffle_ps(t1, t3, 0x44), _mm512_shuffle_ps(t1, t3, 0xEE)};
  alignas(64) float buf[4][16];
  for (int q = 0; q < 4; ++q) _mm512_store_ps(buf[q], u[q]);
  const auto mask = static_cast<__mmask8>((1u << rn) - 1);
  for (int k = 0; k < n; ++k) {
    _mm_mask_storeu_ps(ybuf + (tok0 + k) * chunk + j, mask, _mm_load_ps(&buf[k % 4][4 * (k / 4)]));
  }
}

}  // namespace

int64_t q8_gemm_panel_bytes(ActQ8Kind kind, int64_t m, int64_t cols) {
  const bool k256 = kind == ActQ8Kind::kQ8_256;
  return q8_gemm_groups(m) * (cols / (k256 ? 256 : 32)) * (k256 ? kP256 : kP32);
}

void q8_gemm_pack_avx512(ActQ8Kind kind, const uint8_t* act, int64_t act_row_bytes, int64_t m, int64_t cols, int64_t g0,
                         int64_t g1, uint8_t* panel, const int32_t* rows) {
  const bool k256 = kind == ActQ8Kind::kQ8_256;
  const int64_t nb = cols / (k256 ? 256 : 32), pbytes = k256 ? kP256 : kP32;
  for (int64_t g = g0; g < g1; ++g) {
    for (int64_t i = 0; i < nb; ++i) {
      uint8_t* p = panel + (g * nb + i) * pbytes;
      std::memset(p, 0, static_cast<size_t>(pbytes));
      for (int t = 0; t < kTok && g * kTok + t < m; ++t) {
        const int64_t i_tok = g * kTok + t;
        const uint8_t* a = act + (rows != nullptr ? rows[i_tok] : i_tok) * act_row_bytes;
        if (!k256) {
          const ActQ8_32& b = reinterpret_cast<const ActQ8_32*>(a)[i];
          for (int k4 = 0; k4 < 8; ++k4) std::memcpy(p + 64 * k4 + 4 * t, b.q + 4 * k4, 4);
          const int32_t s = b.sum;
          std::memcpy(p + kQ32 + 4 * t, &b.d, 4);
          std::memcpy(p + kQ32 + 64 + 4 * t, &s, 4);
        } else {
          const ActQ8_256& b = reinterpret_cast<const ActQ8_256*>(a)[i];
          for (int k4 = 0; k4 < 64; ++k4) std::memcpy(p + 64 * k4 + 4 * t, b.q + 4 * k4, 4);
          std::memcpy(p + kQ256 + 4 * t, &b.d, 4);
          for (int q = 0; q < 4; ++q) std::memcpy(p + kSum32 + 64 * q + 4 * t, b.sum32 + 2 * q, 4);
          for (int q = 0; q < 8; ++q) std::memcpy(p + kSum16 + 64 * q + 4 * t, b.sum16 + 2 * q, 4);
        }
      }
    }
  }
}

namespace {

// Per-thread scratch of q8_gemm_rows_avx512, reserved up front (core/thread_scratch.h).
struct GemmScratch {
  Unpacked U;
  std::vector<float> ybuf;
};
GemmScratch& gemm_scratch() {
  thread_local GemmScratch s;
  return s;
}
const bool kGemmReserved = register_thread_scratch([] {
  GemmScratch& s = gemm_scratch();
  s.U.resize(kMaxR, 256, 1);  // (grows every array to its floor)
  s.ybuf.resize(64 * 64);
});

}  // namespace

void q8_gemm_rows_avx512(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* panel, int64_t m, float* y,
                         int64_t y_stride) {
  if (q8_gemm_amx_takes(w.type) && amx_available()) {
    q8_gemm_rows_amx(w, r0, r1, panel, m, y, y_stride);
    return;
  }
  const bool k256 = act_q8_kind(w.type) == ActQ8Kind::kQ8_256;
  const int64_t nb = w.cols / (k256 ? 256 : 32);
  const int64_t gstride = nb * (k256 ? kP256 : kP32);
  const int64_t groups = q8_gemm_groups(m);
  // A last group of at most 8 tokens runs on 256-bit vectors in the last pass.
  const bool half = m - kTok * (groups - 1) <= 8;
  const int64_t full = half ? groups - 1 : groups;
  // Rows unpacked at a time: their codes (~128 KiB) and a 32-token panel slice stay in L2.
  const int64_t chunk = std::max<int64_t>(kMaxR, std::min<int64_t>(64, 131072 / w.cols / kMaxR * kMaxR));
  Unpacked& U = gemm_scratch().U;
  U.resize(chunk, w.cols, nb);
  // The chunk's outputs as [token][chunk] first: y's rows are often a power of two apart (4096
  // floats), and column-wise stores at that stride thrash a few cache sets.
  std::vector<float>& ybuf = gemm_scratch().ybuf;
  // (sized for the largest chunk, 64 rows, so every weight shape fits once m has been seen, and for
  // at least 64 tokens, so that batched decode steps allocate nothing whichever thread gets which job)
  if (static_cast<int64_t>(ybuf.size()) < m * chunk) ybuf.resize(static_cast<size_t>(std::max<int64_t>(m, 64) * 64));
  // Passes over the chunk's rows: 3 full groups at a time (4 left: 2 + 2), so that 3 groups (33-48
  // tokens, a typical expert of a 512-token prompt) take one pass instead of a 2-group pass plus a
  // 1-group pass with half the weight reuse (m = 48: 0.31 -> 0.27 ms for a q4_K 1408x2048 expert,
  // bench/gemm_bench gemm_m). A half group joins the last pass, which then has at most 2 full
  // groups (registers): 3 + half runs as 2 + (1 + half).
  const auto pass_tv = [full, half](int64_t g) -> int {
    const int64_t left = full - g;
    if (half && left <= 2) return static_cast<int>(left);
    if (left == 4 || (half && left == 3)) return 2;
    return left >= 3 ? 3 : static_cast<int>(left);
  };
  const auto pass_half = [full, half, &pass_tv](int64_t g) { return half && g + pass_tv(g) == full; };
  int64_t passes = 0;
  for (int64_t g = 0;;) {
    ++passes;
    g += pass_tv(g);
    if (g >= full) break;
  }
  for (int64_t c0 = r0; c0 < r1; c0 += chunk) {
    const int64_t nr = std::min(chunk, r1 - c0);
    for (int64_t j = 0; j < nr; ++j) unpack_row(w.type, w.data + static_cast<uint64_t>(c0 + j) * w.row_stride, U, j);
    // The next chunk's weight bytes are fetched into L2 while this chunk's tiles run (spread over
    // the tiles), so its unpacking does not stall on memory.
    const char* next = reinterpret_cast<const char*>(w.data + static_cast<uint64_t>(c0 + nr) * w.row_stride);
    const int64_t next_lines =
        static_cast<int64_t>((static_cast<uint64_t>(std::min(chunk, r1 - c0 - nr)) * w.row_stride + 63) / 64);
    const int64_t n_tiles = passes * ((nr + kMaxR - 1) / kMaxR);
    int64_t tile = 0;
    int64_t g = 0;
    for (int64_t p = 0; p < passes; ++p) {
      const int tv = pass_tv(g);
      const bool h = pass_half(g);
      for (int64_t j = 0; j < nr; j += kMaxR, ++tile) {
        for (int64_t l = tile * next_lines / n_tiles; l < (tile + 1) * next_lines / n_tiles; ++l) {
          _mm_prefetch(next + 64 * l, _MM_HINT_T1);
        }
        const int rn = static_cast<int>(std::min<int64_t>(kMaxR, nr - j));
        Tile t;
        for (int r = 0; r < rn; ++r) {
          t.u[r] = U.u.data() + (j + r) * w.cols;
          t.f0[r] = U.f0.data() + (j + r) * nb;
          t.f1[r] = U.f1.data() + (j + r) * nb;
          t.sc[r] = U.sc.data() + (j + r) * nb * 16;
          t.pr[r] = U.pr.data() + (j + r) * nb * 8;
        }
        t.panel = panel + g * gstride;
        t.gstride = gstride;
        t.nb = nb;
        // Per row: the tv 16-token results, then the half group's (if any) in its low 256 bits.
        __m512 res[kMaxR][kMaxTv + 1];
        if (tv == 3) {
          run_tile_kept<3, false>(w.type, rn, t, res);
        } else if (tv == 2) {
          h ? run_tile_kept<2, true>(w.type, rn, t, res) : run_tile_kept<2, false>(w.type, rn, t, res);
        } else if (tv == 1) {
          h ? run_tile_kept<1, true>(w.type, rn, t, res) : run_tile_kept<1, false>(w.type, rn, t, res);
        } else {
          run_tile_kept<0, true>(w.type, rn, t, res);
        }
        for (int v = 0; v < tv + (h ? 1 : 0); ++v) {
          __m512 rows[kMaxR];
          for (int r = 0; r < rn; ++r) rows[r] = res[r][v];
          const int64_t tok0 = (g + v) * kTok;
          store_tile_rows(rows, rn, static_cast<int>(std::min<int64_t>(kTok, m - tok0)), ybuf.data(), chunk, tok0, j);
        }
      }
      g += tv;
    }
    // (vector copies: memcpy of these ~256-byte rows compiles to rep movsq, slow to start)
    const __mmask16 tail = static_cast<__mmask16>((1u << (nr % 16)) - 1);
    for (int64_t i = 0; i < m; ++i) {
      float* dst = y + i * y_stride + c0;
      const float* src = ybuf.data() + i * chunk;
      int64_t k = 0;
      for (; k + 16 <= nr; k += 16) _mm512_storeu_ps(dst + k, _mm512_loadu_ps(src + k));
      if (k < nr) _mm512_mask_storeu_ps(dst + k, tail, _mm512_maskz_loadu_ps(tail, src + k));
    }
  }
}

}  // namespace baleen
