// Integer row kernels for few activation rows (decode: m = 1 per sequence, batched decode: a few)
// on AVX-512 cores that run each 512-bit operation as two 256-bit halves (AMD Zen 4: Avx512Variant::kSplit of
// kernels/x86/q8_dot.h). Measured there (2-core Zen 4 VM, bench/matmul_bench and stand-alone loops): one 512-bit load,
// one multiply (vpdpbusd, vpdpwssd, vpmaddubsw) and one shuffle per cycle, about two 512-bit operations of any kind per
// cycle in all. So a row at a time is bound by re-loading the activations, and the wide kernels'
// per-block shuffles and horizontal sums cost more than their multiplies. Here, for every type:
//  - 4 weight rows x up to 4 activation rows per pass: each activation block loaded once for the 4
//    weight rows, each weight block decoded once for the activation rows;
//  - the block sums of 4 rows x several blocks reduced together (transposing add trees), the float
//    steps as vectors, and the 4 rows' running sums advanced together, one block at a time;
//  - rows prefetched into L2 3 passes ahead: 4 interleaved row streams are not followed by the
//    hardware prefetchers (one thread streaming a Q4_K matrix from DRAM: 11 GB/s without, 21 with);
//    the prefetches are spread a few lines per block over the pass (LinePrefetch).
// Q4_K / Q5_K: u8 codes times s8 activation codes by vpdpbusd (4 per 256-element block), the
// sub-block scales applied once per 64 elements (packs to int16, then vpmaddwd / vpdpwssd), the
// activation codes permuted once per call to the weights' qs byte order (no per-block lane
// shuffles), and the 4 rows' block headers (d, dmin, 12 bytes of scales and mins) decoded together.
// Q6_K: the same 4 x M step as Q4_K, the codes' two top bits merged from a broadcast of qh.
// Q8_0 / Q4_0 / Q5_0: one 512-bit vpdpbusd per two blocks and activation row (a tail of an odd
// number of blocks: one 256-bit vpdpbusd per block), 8 blocks per step, the block scales picked
// from the row bytes with vpermt2d (a step's tail: vpermt2w).
// The integers are the exact block sums of kernels/ref/q8_act.cc, and each row's float terms are
// formed with the reference's operations and added to its running sum block by block, in block
// order: the outputs are bit-identical to dot_q8_ref.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/thread_scratch.h"
#include "kernels/ref/q8_act.h"
#include "kernels/x86/k45_codes_avx512.h"
#include "kernels/x86/q32_codes_avx512.h"
#include "kernels/x86/q8_dot.h"

namespace baleen {
namespace {

constexpr int kRows = 4;       // weight rows per pass: one 128-bit lane each in the header vectors
constexpr int kMaxAct = 4;     // activation rows per kernel call
constexpr int kMaxLayout = 8;  // activation rows laid out per call (more run as several calls)
constexpr int kStep = 4;       // 256-element blocks per reduction step

inline __m128i load16(const void* p) { return _mm_loadu_si128(static_cast<const __m128i*>(p)); }

// Per call activation layout of the 256-element kinds (per calling thread and slot < kMaxAct,
// grown as needed).
struct Act256 {
  const uint8_t* codes;  // [nb][256], 64-byte aligned. Q4_K / Q5_K: per half h, sub-blocks 4h | 4h + 2
                         // (the weights' low nibbles), then 4h + 1 | 4h + 3 (high nibbles); Q6_K:
                         // element order
  const int16_t* sums;   // [nb rounded up to kStep][8 or 16], 0 past nb: the activation's sum32
                         // (Q4_K / Q5_K) or sum16 (Q6_K)
  const float* da;       // [nb rounded up to kStep], 0 past nb
};

// The layouts' per-thread buffers, one set per activation slot, reserved up front
// (core/thread_scratch.h) for 32768 columns.
struct LayoutScratch {
  std::vector<uint8_t> codes[kMaxLayout];
  std::vector<int16_t> sums[kMaxLayout];  // per block: 8 or 16 (Act256::sums)
  std::vector<float> da[kMaxLayout];
  std::vector<int32_t> bias[kMaxLayout];
  // Grows every slot (all at once: which thread uses which slots varies from call to call) to
  // `blocks` blocks of `block_bytes` codes.
  void grow(int64_t blocks, int64_t block_bytes) {
    for (int k = 0; k < kMaxLayout; ++k) {
      const auto n = static_cast<size_t>(blocks);
      if (codes[k].size() < n * static_cast<size_t>(block_bytes) + 64) codes[k].resize(n * block_bytes + 64);
      if (sums[k].size() < n * 16) sums[k].resize(n * 16);
      if (da[k].size() < n) da[k].resize(n);
      if (bias[k].size() < n) bias[k].resize(n);
    }
  }
};
LayoutScratch& layout_scratch() {
  thread_local LayoutScratch s;
  return s;
}
const bool kLayoutReserved = register_thread_scratch([] {
  layout_scratch().grow(128, 256);  // 256-element blocks
  layout_scratch().grow(1024, 32);  // 32-element blocks
});

// element_order: Q6_K's layout, else Q4_K / Q5_K's.
Act256 act256_layout(const ActQ8_256* act, int64_t nb, int slot, bool element_order) {
  LayoutScratch& ls = layout_scratch();
  const int64_t nbs = (nb + kStep - 1) / kStep * kStep;
  ls.grow(nbs, 256);
  std::vector<uint8_t>& codes = ls.codes[slot];
  const int per_block = element_order ? 16 : 8;  // sums per block
  int16_t* sum = ls.sums[slot].data();
  std::vector<float>& da = ls.da[slot];
  uint8_t* c = codes.data() + (64 - reinterpret_cast<uintptr_t>(codes.data()) % 64) % 64;
  for (int64_t i = 0; i < nbs; ++i) {
    if (i >= nb) {
      std::fill_n(sum + i * per_block, per_block, int16_t{0});
      da[static_cast<size_t>(i)] = 0.0f;
      continue;
    }
    const ActQ8_256& a = act[i];
    if (element_order) {
      std::memcpy(c + 256 * i, a.q, 256);
      std::memcpy(sum + i * per_block, a.sum16, 32);
    } else {
      for (int h = 0; h < 2; ++h) {
        const __m512i a0 = _mm512_loadu_si512(a.q + 128 * h), a1 = _mm512_loadu_si512(a.q + 128 * h + 64);
        _mm512_store_si512(c + 256 * i + 128 * h, _mm512_shuffle_i64x2(a0, a1, 0x44));
        _mm512_store_si512(c + 256 * i + 128 * h + 64, _mm512_shuffle_i64x2(a0, a1, 0xEE));
      }
      std::memcpy(sum + i * per_block, a.sum32, 16);
    }
    da[static_cast<size_t>(i)] = a.d;
  }
  return Act256{c, sum, da.data()};
}

// Per 128-bit lane of a and b (4 int32 each): [a0 + a2, b0 + b2, a1 + a3, b1 + b3].
inline __m512i fold32(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
}
// Per 128-bit lane of x and y (as fold32 leaves them): [x0 + x2, x1 + x3, y0 + y2, y1 + y3].
inline __m512i fold64(__m512i x, __m512i y) {
  return _mm512_add_epi32(_mm512_unpacklo_epi64(x, y), _mm512_unpackhi_epi64(x, y));
}
// z[r] (r < 4): per 128-bit lane k, 4 partial sums of blocks 0..3 of row r -> 128-bit lane r =
// row r's 4 block sums (the 4 lanes of z[r] added).
inline __m512i gather_rows(const __m512i* z) {
  const __m512i u01 = _mm512_add_epi32(_mm512_shuffle_i64x2(z[0], z[1], 0x44), _mm512_shuffle_i64x2(z[0], z[1], 0xEE));
  const __m512i u23 = _mm512_add_epi32(_mm512_shuffle_i64x2(z[2], z[3], 0x44), _mm512_shuffle_i64x2(z[2], z[3], 0xEE));
  return _mm512_add_epi32(_mm512_shuffle_i64x2(u01, u23, 0x88), _mm512_shuffle_i64x2(u01, u23, 0xDD));
}

// tt: per 128-bit lane e, element r: row r's float term of block e. acc (lane r: row r's running
// sum) + block 0's terms, then block 1's, ... up to block n - 1 (n <= 4): each row's additions in
// block order, 4 rows per instruction.
inline void add_rows(__m512 tt, int n, __m128* acc) {
  *acc = _mm_add_ps(*acc, _mm512_castps512_ps128(tt));
  if (n > 1) *acc = _mm_add_ps(*acc, _mm512_extractf32x4_ps(tt, 1));
  if (n > 2) *acc = _mm_add_ps(*acc, _mm512_extractf32x4_ps(tt, 2));
  if (n > 3) *acc = _mm_add_ps(*acc, _mm512_extractf32x4_ps(tt, 3));
}

// The same for t with lane r, element e = row r's term of block e.
inline void add_blocks(__m512 t, int n, __m128* acc) {
  add_rows(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), t), n, acc);
}

// The next rows' prefetch (pf's pf_bytes, nullptr for none) in `slices` slices of equal whole lines,
// one per call of slice(): a few lines at a time between the loads of the data already there, one
// slice per 256-element block (Q4_K / Q5_K / Q6_K) or per row of an 8-block step (32-element types).
// Issued per 4-block step (the earlier scheme: bursts of ~36 lines for a 2048-column Q4_K pass), the
// prefetches held back the demand loads behind them, presumably competing for the same fill
// buffers. On the 2-core Emerald Rapids VM, matmul_bench m = 1 from DRAM, per step -> spread:
//  - 2 threads: Q4_K 8192 x 2048 26.7-27.5 -> 30.7 GB/s, Q6_K 25.4-27.2 -> 31.3-32.4; Q4_K 4096 x
//    4096 30.0-30.4 -> 32.2-32.6; Q8_0 2048 x 1408 30.1-32.9 -> 32.0-34.3, Q5_0 24.4 -> 25.3-25.6;
//  - one thread, Q4_K 8192 x 2048 14.0-14.3 -> 15.6 (a slice per block and row: 15.3-15.5);
//  - hot (512 x 2048, one thread): Q4_K 31.2 -> 33.9, Q6_K 33.9 -> 38.0 (no division per step).
class LinePrefetch {
 public:
  LinePrefetch(const char* pf, int64_t pf_bytes, int64_t slices)
      : pf_(pf), end_(pf == nullptr ? 0 : pf_bytes), chunk_((pf_bytes + 64 * slices - 1) / (64 * slices) * 64) {}

  [[gnu::always_inline]] void slice() {
    const int64_t to = std::min(at_ + chunk_, end_);
    for (; at_ < to; at_ += 64) _mm_prefetch(pf_ + at_, _MM_HINT_T1);
  }

 private:
  const char* pf_;
  int64_t end_, chunk_;
  int64_t at_ = 0;
};

// ---- 256-element blocks: Q4_K, Q5_K, Q6_K ----

// Block i of 4 weight rows against M activation rows (the kinds' block()): s[k][r] (16 lanes
// summing to row r's scaled sub-block sums S against activation row k), mq[k] (128-bit lane r: 4
// partial sums of row r's second integer term M), hd (128-bit lane r: row r's header, its scale
// word in element 0).
template <int M>
struct Block256 {
  __m512i s[M][kRows], mq[M], hd;
  static Block256 zero() {
    Block256 b;
    for (int k = 0; k < M; ++k) {
      for (int r = 0; r < kRows; ++r) b.s[k][r] = _mm512_setzero_si512();
      b.mq[k] = _mm512_setzero_si512();
    }
    b.hd = _mm512_setzero_si512();
    return b;
  }
};

// 4 rows' 16 bytes at offset off, one row per 128-bit lane.
[[gnu::always_inline]] inline __m512i row_lanes16(const uint8_t* const* row, int64_t off) {
  __m512i h = _mm512_castsi128_si512(load16(row[0] + off));
  h = _mm512_inserti32x4(h, load16(row[1] + off), 1);
  h = _mm512_inserti32x4(h, load16(row[2] + off), 2);
  return _mm512_inserti32x4(h, load16(row[3] + off), 3);
}

// A row's block codes (lo_h, hi_h: half h's two code vectors, in the activation layout's order)
// against the activation codes at ac: per 64 elements, vpdpbusd's 4-element sums packed to int16
// (exact: each |.| < 2^15, asserted by the kinds) times the int16 sub-block scales sc_h (vpmaddwd,
// then vpdpwssd): 16 lanes summing to S.
[[gnu::always_inline]] inline __m512i scaled_sums(const uint8_t* ac, __m512i lo0, __m512i hi0, __m512i lo1, __m512i hi1,
                                                  __m512i sc0, __m512i sc1) {
  const auto dot = [&](__m512i u, int q) {
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_load_si512(ac + 64 * q));
  };
  const __m512i p0 = _mm512_packs_epi32(dot(lo0, 0), dot(hi0, 1));
  const __m512i p1 = _mm512_packs_epi32(dot(lo1, 2), dot(hi1, 3));
  return _mm512_dpwssd_epi32(_mm512_madd_epi16(p0, sc0), p1, sc1);
}

// Q4_K (144 B / 256) and Q5_K (176 B / 256): [0] f16 d, [2] f16 dmin, [4..16) scales and mins,
// Q5_K [16..48) qh, then qs (kernels/ref/dequant.cc). S = sum_s sc_s sum(q a), M = sum_s mn_s sum32_s;
// sum = sum + ((da d) float(S) - (da dmin) float(M)).
template <bool kQ5>
struct K45Codes {
  static constexpr int kBytes = kQ5 ? 176 : 144;
  static constexpr bool kElementOrder = false;  // act256_layout's order

  // The constants of the block step.
  struct Consts {
    __m512i sh_a, sh_b, a_shift, m1, m2, mins_to_16, sel0, sel1, sel2, sel3;
    Consts() {
      // Header decode, one row per 128-bit lane of 16 header bytes: w0, w1, w2 = the scale field's
      // words at bytes 4, 8, 12. A = [w0, w2, w1, w2 >> 4], B = [0, w0 >> 2, 0, w1 >> 2];
      // (A & m1) | (B & 0x30) = bytes 0..7 the scales, 8..15 the mins (the bits of k4_scales_mins).
      sh_a = _mm512_broadcast_i32x4(_mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
      sh_b = _mm512_broadcast_i32x4(_mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11));
      a_shift = _mm512_broadcast_i32x4(_mm_setr_epi32(0, 0, 0, 4));
      m1 = _mm512_broadcast_i32x4(_mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
      m2 = _mm512_set1_epi8(0x30);
      mins_to_16 = _mm512_broadcast_i32x4(_mm_setr_epi8(8, -1, 9, -1, 10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1));
      // The int16 scales of packs(P_lo, P_hi) for half 0: in 128-bit lanes 0 and 1 int16 0-3 come
      // from sub-block 0 and 4-7 from sub-block 1, in lanes 2 and 3 from sub-blocks 2 and 3
      // (pshufb index into the scale bytes, -1: zero high byte); half 1 (sel1): sub-blocks + 4;
      // sel2 and sel3: the same for the odd row, whose scales are bytes 8-15.
      alignas(64) static constexpr int8_t kSel0[64] = {0, -1, 0, -1, 0, -1, 0, -1, 1, -1, 1, -1, 1, -1, 1, -1,
                                                       0, -1, 0, -1, 0, -1, 0, -1, 1, -1, 1, -1, 1, -1, 1, -1,
                                                       2, -1, 2, -1, 2, -1, 2, -1, 3, -1, 3, -1, 3, -1, 3, -1,
                                                       2, -1, 2, -1, 2, -1, 2, -1, 3, -1, 3, -1, 3, -1, 3, -1};
      sel0 = _mm512_load_si512(kSel0);
      sel1 = _mm512_add_epi16(sel0, _mm512_set1_epi16(4));
      sel2 = _mm512_add_epi16(sel0, _mm512_set1_epi16(8));
      sel3 = _mm512_add_epi16(sel0, _mm512_set1_epi16(12));
    }
  };

  // hd: the first 16 block bytes (element 0: d | dmin << 16).
  template <int M>
  [[gnu::always_inline]] static inline Block256<M> block(const uint8_t* const* row, int64_t i, const Act256* act,
                                                         const Consts& c) {
    Block256<M> o;
    const int64_t off = i * kBytes;
    const __m512i h = row_lanes16(row, off);
    o.hd = h;
    const __m512i sa = _mm512_srlv_epi32(_mm512_shuffle_epi8(h, c.sh_a), c.a_shift);
    const __m512i sb = _mm512_srli_epi32(_mm512_shuffle_epi8(h, c.sh_b), 2);
    const __m512i sm = _mm512_ternarylogic_epi32(_mm512_and_si512(sa, c.m1), sb, c.m2, 0xF8);  // a | (b & c)
    const __m512i mins16 = _mm512_shuffle_epi8(sm, c.mins_to_16);
    for (int k = 0; k < M; ++k) {
      o.mq[k] = _mm512_madd_epi16(mins16, _mm512_broadcast_i32x4(load16(act[k].sums + 8 * i)));
    }
    // The 8 scale bytes of rows 0 and 1 (sm01: bytes 0-7 row 0, 8-15 row 1) and of rows 2 and 3
    // (sm23) in every 128-bit lane.
    const __m512i sm01 = _mm512_permutexvar_epi64(_mm512_setr_epi64(0, 2, 0, 2, 0, 2, 0, 2), sm);
    const __m512i sm23 = _mm512_permutexvar_epi64(_mm512_setr_epi64(4, 6, 4, 6, 4, 6, 4, 6), sm);
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const __m512i smr = r < 2 ? sm01 : sm23;
      const __m512i sc0 = _mm512_shuffle_epi8(smr, r % 2 == 0 ? c.sel0 : c.sel2);
      const __m512i sc1 = _mm512_shuffle_epi8(smr, r % 2 == 0 ? c.sel1 : c.sel3);
      __m512i lo0, hi0, lo1, hi1;
      k45_codes_half_avx512<kQ5>(row[r] + off, 0, &lo0, &hi0);
      k45_codes_half_avx512<kQ5>(row[r] + off, 1, &lo1, &hi1);
      // (4 products of codes <= 31 and |a| <= 127 per lane: packs is exact.)
#pragma GCC unroll 4
      for (int k = 0; k < M; ++k) o.s[k][r] = scaled_sums(act[k].codes + i * 256, lo0, hi0, lo1, hi1, sc0, sc1);
    }
    return o;
  }

  // Per 128-bit lane r, element e: row r's float term of block e (D: header words, da: the blocks'
  // activation scales).
  static inline __m512 terms(__m512i S, __m512i Mn, __m512i D, __m512 da) {
    const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(D));
    const __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(D, 16)));
    return _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(da, d), _mm512_cvtepi32_ps(S)),
                         _mm512_mul_ps(_mm512_mul_ps(da, dmin), _mm512_cvtepi32_ps(Mn)));
  }
};

// Q6_K (210 B / 256, kernels/ref/dequant.cc): [0..128) ql, [128..192) qh, [192..208) int8 scales of
// the 16 sub-blocks of 16, [208] f16 d; half h (elements 128 h ..): ql[64 h + l] low nibble element
// l, ql[64 h + 32 + l] low nibble element 32 + l, their high nibbles elements 64 + l and 96 + l, bits
// 2k, 2k + 1 of qh[32 h + l] the top bits of element 32 k + l. S = sum_s sc_s sum(u a), u = the 6-bit
// codes 0..63, M = sum_s sc_s sum16_s; sum = sum + (da d) float(S - 32 M), as dot_q6_k. Per block:
// the 4 rows' scales (one row per 128-bit lane) sign-extended together, each half's codes in element
// order from one 64-byte load of ql and a broadcast of its 32 qh bytes, M through the same vpmaddwd
// as K45Codes' mins.
struct Q6KCodes {
  static constexpr int kBytes = 210;
  static constexpr bool kElementOrder = true;

  struct Consts {
    __m512i m4, m30, sh_lo, sh_hi, sel;
    Consts() {
      m4 = _mm512_set1_epi8(0x0F);
      m30 = _mm512_set1_epi8(0x30);
      // qh of a half broadcast to both 256-bit halves: elements 0..31 take bits 0-1, 32..63 bits
      // 2-3 (to bits 4-5: shifted left 4 and 2); elements 64..95 bits 4-5, 96..127 bits 6-7
      // (shifted right 0 and 2). 64-bit lane shifts: the bits pulled in from the next byte are
      // masked off by 0x30.
      sh_lo = _mm512_set_epi64(2, 2, 2, 2, 4, 4, 4, 4);
      sh_hi = _mm512_set_epi64(2, 2, 2, 2, 0, 0, 0, 0);
      // Per 128-bit lane k, the int16 scales of packs(dot(lo), dot(hi)): 4 x sub-block k, then
      // 4 x sub-block 4 + k of the half (pshufb index into the half's 8 int16 scales).
      alignas(64) static constexpr int8_t kSel[64] = {0, 1, 0, 1, 0, 1, 0, 1, 8,  9,  8,  9,  8,  9,  8,  9,
                                                      2, 3, 2, 3, 2, 3, 2, 3, 10, 11, 10, 11, 10, 11, 10, 11,
                                                      4, 5, 4, 5, 4, 5, 4, 5, 12, 13, 12, 13, 12, 13, 12, 13,
                                                      6, 7, 6, 7, 6, 7, 6, 7, 14, 15, 14, 15, 14, 15, 14, 15};
      sel = _mm512_load_si512(kSel);
    }
  };

  // mq: sum_s sc_s sum16_s; hd: element 0 = d (bytes [194, 210) shifted down by 14).
  template <int M>
  [[gnu::always_inline]] static inline Block256<M> block(const uint8_t* const* row, int64_t i, const Act256* act,
                                                         const Consts& c) {
    Block256<M> o;
    const int64_t off = i * kBytes;
    const __m512i hs = row_lanes16(row, off + 192);
    o.hd = _mm512_bsrli_epi128(row_lanes16(row, off + 194), 14);
    // Per 128-bit lane r: row r's scales 0-7 and 8-15 as int16 (byte doubled, arithmetic shift).
    const __m512i sc_lo = _mm512_srai_epi16(_mm512_unpacklo_epi8(hs, hs), 8);
    const __m512i sc_hi = _mm512_srai_epi16(_mm512_unpackhi_epi8(hs, hs), 8);
    for (int k = 0; k < M; ++k) {
      const int16_t* s16 = act[k].sums + 16 * i;
      o.mq[k] = _mm512_dpwssd_epi32(_mm512_madd_epi16(sc_lo, _mm512_broadcast_i32x4(load16(s16))), sc_hi,
                                    _mm512_broadcast_i32x4(load16(s16 + 8)));
    }
#pragma GCC unroll 4
    for (int r = 0; r < kRows; ++r) {
      const uint8_t* b = row[r] + off;
      __m512i sc[2], lo[2], hi[2];
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        // Row r's 8 int16 scales of half h in every 128-bit lane, then each lane's pattern.
        const __m512i scr = h == 0 ? sc_lo : sc_hi;
        sc[h] = _mm512_shuffle_epi8(_mm512_shuffle_i64x2(scr, scr, r * 0x55), c.sel);
        const __m512i v = _mm512_loadu_si512(b + 64 * h);
        const __m512i qh =
            _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 128 + 32 * h)));
        lo[h] = _mm512_ternarylogic_epi32(_mm512_and_si512(v, c.m4), _mm512_sllv_epi64(qh, c.sh_lo), c.m30, 0xF8);
        hi[h] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(v, 4), c.m4),
                                          _mm512_srlv_epi64(qh, c.sh_hi), c.m30, 0xF8);
      }
      // (4 products of codes <= 63 and |a| <= 128 per lane: packs is exact.)
#pragma GCC unroll 4
      for (int k = 0; k < M; ++k) {
        o.s[k][r] = scaled_sums(act[k].codes + i * 256, lo[0], hi[0], lo[1], hi[1], sc[0], sc[1]);
      }
    }
    return o;
  }

  // Exact integers: |S| < 16 * 16 * 63 * 128 * 128, |32 M| < 32 * 16 * 128 * 16 * 128.
  static inline __m512 terms(__m512i S, __m512i Mn, __m512i D, __m512 da) {
    const __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(D));
    return _mm512_mul_ps(_mm512_mul_ps(da, d), _mm512_cvtepi32_ps(_mm512_sub_epi32(S, _mm512_slli_epi32(Mn, 5))));
  }
};

// 4 weight rows x M activation rows of a 256-element kind K (K45Codes, Q6KCodes), 4 blocks per
// step: K::block per block, the 4 rows' block sums reduced together, the float terms as vectors.
template <class K, int M>
struct Rows256 {
  // 4 blocks from i0 (blocks >= n read nothing and count zero): per 128-bit lane r, element e:
  // S[k], Mn[k] (activation row k) and the header word D of row r, block i0 + e. The sums are
  // folded in pairs of blocks as they come, so that few vectors are live.
  [[gnu::always_inline]] static inline void step(const uint8_t* const* row, int64_t i0, int n, const Act256* act,
                                                 const typename K::Consts& c, LinePrefetch& pf, __m512i* S, __m512i* Mn,
                                                 __m512i* D) {
    __m512i xs[2][M][kRows], xm[2][M], xd[2];
#pragma GCC unroll 2
    for (int p = 0; p < 2; ++p) {
      // (Each block issues a slice of the prefetch first.)
      if (2 * p < n) pf.slice();
      const Block256<M> b0 = 2 * p < n ? K::template block<M>(row, i0 + 2 * p, act, c) : Block256<M>::zero();
      if (2 * p + 1 < n) pf.slice();
      const Block256<M> b1 = 2 * p + 1 < n ? K::template block<M>(row, i0 + 2 * p + 1, act, c) : Block256<M>::zero();
      for (int k = 0; k < M; ++k) {
        for (int r = 0; r < kRows; ++r) xs[p][k][r] = fold32(b0.s[k][r], b1.s[k][r]);
        xm[p][k] = fold32(b0.mq[k], b1.mq[k]);
      }
      xd[p] = _mm512_unpacklo_epi32(b0.hd, b1.hd);
    }
    for (int k = 0; k < M; ++k) {
      __m512i z[kRows];
      for (int r = 0; r < kRows; ++r) z[r] = fold64(xs[0][k][r], xs[1][k][r]);
      S[k] = gather_rows(z);
      Mn[k] = fold64(xm[0][k], xm[1][k]);
    }
    *D = _mm512_unpacklo_epi64(xd[0], xd[1]);
  }

  // Rows row[r] (r < kRows; nb blocks each) times the activation rows act[k] (k < M);
  // out[k * kRows + r]. `pf`, `pf_bytes`: memory to prefetch into L2 over the pass (the next rows),
  // nullptr for none.
  static void run(const uint8_t* const* row, const Act256* act, int64_t nb, const char* pf, int64_t pf_bytes,
                  float* out) {
    const typename K::Consts c;
    __m128 acc[M];  // lane r: row r's running sum
    for (int k = 0; k < M; ++k) acc[k] = _mm_setzero_ps();
    LinePrefetch prefetch(pf, pf_bytes, nb);  // a slice per block
    for (int64_t i0 = 0; i0 < nb; i0 += kStep) {
      const int n = static_cast<int>(std::min<int64_t>(kStep, nb - i0));
      __m512i S[M], Mn[M], D;
      if (n == kStep) {
        step(row, i0, kStep, act, c, prefetch, S, Mn, &D);
      } else {
        step(row, i0, n, act, c, prefetch, S, Mn, &D);
      }
      for (int k = 0; k < M; ++k) {
        add_blocks(K::terms(S[k], Mn[k], D, _mm512_broadcast_f32x4(_mm_loadu_ps(act[k].da + i0))), n, &acc[k]);
      }
    }
    for (int k = 0; k < M; ++k) _mm_storeu_ps(out + k * kRows, acc[k]);
  }
};

// ---- 32-element blocks: Q8_0, Q4_0, Q5_0 ----

// Per call activation layout of the 32-element kind for a weight type with code offset `off`.
struct Act32L {
  const uint8_t* codes;  // [nb8][32], 32-byte aligned
  const float* da;       // [nb8], 0 past nb
  const int32_t* bias;   // [nb8]: -off * sum(a), 0 past nb
};

Act32L act32_layout(const ActQ8_32* act, int64_t nb, int off, int slot) {
  LayoutScratch& ls = layout_scratch();
  const int64_t nb8 = (nb + 7) / 8 * 8;
  ls.grow(nb8, 32);
  std::vector<uint8_t>& codes = ls.codes[slot];
  std::vector<float>& da = ls.da[slot];
  std::vector<int32_t>& bias = ls.bias[slot];
  uint8_t* c = codes.data() + (32 - reinterpret_cast<uintptr_t>(codes.data()) % 32) % 32;
  for (int64_t i = 0; i < nb8; ++i) {
    if (i < nb) {
      std::memcpy(c + 32 * i, act[i].q, 32);
      da[static_cast<size_t>(i)] = act[i].d;
      bias[static_cast<size_t>(i)] = -off * static_cast<int32_t>(act[i].sum);
    } else {
      da[static_cast<size_t>(i)] = 0.0f;
      bias[static_cast<size_t>(i)] = 0;
    }
  }
  return Act32L{c, da.data(), bias.data()};
}

// 256-bit versions of fold32 / fold64.
inline __m256i fold32(__m256i a, __m256i b) {
  return _mm256_add_epi32(_mm256_unpacklo_epi32(a, b), _mm256_unpackhi_epi32(a, b));
}
inline __m256i fold64(__m256i x, __m256i y) {
  return _mm256_add_epi32(_mm256_unpacklo_epi64(x, y), _mm256_unpackhi_epi64(x, y));
}

// Lane j of the result = the sum of the 8 int32 lanes of v[j].
inline __m256i sum8x8(const __m256i* v) {
  const __m256i y0 = fold64(fold32(v[0], v[1]), fold32(v[2], v[3]));
  const __m256i y1 = fold64(fold32(v[4], v[5]), fold32(v[6], v[7]));
  return _mm256_add_epi32(_mm256_permute2x128_si256(y0, y1, 0x20), _mm256_permute2x128_si256(y0, y1, 0x31));
}

// The f16 scales d of a step's blocks at b + kBytes j: a whole step's 8 blocks two rows at a time
// (get8x2, dword permutes of plain loads); a tail's blocks 0..n-1, 0 past n (get: words picked
// from at most two 128-byte windows by vpermt2w, read with masked loads so that nothing past the
// blocks is read).
template <int kBytes>
struct BlockScales8 {
  static constexpr int kJ1 = std::min(8, 126 / kBytes + 1);  // blocks whose d lies in bytes [0, 128)
  // Word index of block j's d in window 1 (j < kJ1) or window 2 (from block kJ1; j >= kJ1).
  struct Idx {
    alignas(64) int16_t w1[32];
    alignas(64) int16_t w2[32];
  };
  static constexpr Idx make_idx() {
    Idx x{};
    for (int j = 0; j < 8; ++j) {
      if (j < kJ1) {
        x.w1[j] = static_cast<int16_t>(kBytes * j / 2);
      } else {
        x.w2[j] = static_cast<int16_t>(kBytes * (j - kJ1) / 2);
      }
    }
    return x;
  }
  static constexpr Idx kIdx = make_idx();

  static __m128i window(const uint8_t* p, int words, const int16_t* idx) {
    const __mmask32 m0 = words >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((uint64_t{1} << words) - 1);
    const __mmask32 m1 = words <= 32 ? 0 : static_cast<__mmask32>((uint64_t{1} << (words - 32)) - 1);
    const __m512i lo = _mm512_maskz_loadu_epi16(m0, p), hi = _mm512_maskz_loadu_epi16(m1, p + 64);
    return _mm512_castsi512_si128(_mm512_permutex2var_epi16(lo, _mm512_load_si512(idx), hi));
  }

  // A whole step's 8 blocks (get8x2): plain loads of windows inside the 8 blocks' bytes (masked loads
  // and runtime masks cost more), window 2 = [kB2, kB2 + 128).
  static constexpr int kSpan = 8 * kBytes;
  static constexpr int kB2 = std::min(kBytes * kJ1, kSpan - 128);
  static_assert(kJ1 == 8 || (kB2 >= 0 && kB2 <= kBytes * kJ1 && 7 * kBytes + 2 <= kB2 + 128), "window 2");

  // Two rows' 8 scales (rows at b0, b1 as lanes 0-7, 8-15; 16 f16 values) with dword permutes
  // (vpermt2d, one operation; the word permute vpermt2w is three on Intel, and a row's scales by
  // two vpermt2w took ~20% of the 512-bit Q5_0 step's time): each scale's dword, shifted right by 0
  // or 16 bits, then narrowed to words (vpmovdw). When the scales of blocks kJ1..7 lie in the
  // span's last 64 bytes (Q5_0), one permute picks them for both rows.
  static constexpr int kTail = kSpan - 64;  // the span's last 64 bytes: [kTail, kSpan)
  static constexpr bool kTail2 = kJ1 == 8 || kBytes * kJ1 >= kTail;
  struct Idx32 {
    alignas(64) int32_t w1[16];
    alignas(64) int32_t w2[16];
    alignas(64) int32_t shift[16];
  };
  static constexpr Idx32 make_idx32() {
    Idx32 x{};
    for (int l = 0; l < 16; ++l) {
      const int j = l % 8;
      if (j < kJ1) {
        x.w1[l] = kBytes * j / 4;
        x.shift[l] = kBytes * j % 4 * 8;
      } else if (kTail2) {  // both rows' window 2 is [kTail, kSpan): lanes 8-15 from the second source
        x.w2[l] = (kBytes * j - kTail) / 4 + (l >= 8 ? 16 : 0);
        x.shift[l] = (kBytes * j - kTail) % 4 * 8;
      } else {
        x.w2[l] = (kBytes * j - kB2) / 4;
        x.shift[l] = (kBytes * j - kB2) % 4 * 8;
      }
    }
    return x;
  }
  static constexpr Idx32 kIdx32 = make_idx32();
  static __m512i load64(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static __m256i get8x2(const uint8_t* b0, const uint8_t* b1) {
    const __m512i i1 = _mm512_load_si512(kIdx32.w1);
    __m512i d = _mm512_mask_blend_epi32(0xFF00, _mm512_permutex2var_epi32(load64(b0), i1, load64(b0 + 64)),
                                        _mm512_permutex2var_epi32(load64(b1), i1, load64(b1 + 64)));
    if constexpr (kJ1 < 8) {
      const __m512i i2 = _mm512_load_si512(kIdx32.w2);
      __m512i e;
      if constexpr (kTail2) {
        e = _mm512_permutex2var_epi32(load64(b0 + kTail), i2, load64(b1 + kTail));
      } else {
        e = _mm512_mask_blend_epi32(0xFF00, _mm512_permutex2var_epi32(load64(b0 + kB2), i2, load64(b0 + kB2 + 64)),
                                    _mm512_permutex2var_epi32(load64(b1 + kB2), i2, load64(b1 + kB2 + 64)));
      }
      constexpr auto kLater = static_cast<__mmask16>((0xFF << kJ1 & 0xFF) * 0x101);  // lanes j >= kJ1
      d = _mm512_mask_blend_epi32(kLater, d, e);
    }
    return _mm512_cvtepi32_epi16(_mm512_srlv_epi32(d, _mm512_load_si512(kIdx32.shift)));
  }

  // Blocks 0..n-1 (a step's tail, n < 8).
  static __m128i get(const uint8_t* b, int n) {
    const int n1 = std::min(n, kJ1);
    __m128i d = window(b, (kBytes * (n1 - 1) + 2) / 2, kIdx.w1);
    if (n > kJ1) {
      const __m128i d2 = window(b + kBytes * kJ1, (kBytes * (n - kJ1 - 1) + 2) / 2, kIdx.w2);
      d = _mm_mask_mov_epi16(d, static_cast<__mmask8>(0xFF << kJ1), d2);
    }
    return _mm_maskz_mov_epi16(static_cast<__mmask8>((1u << n) - 1), d);
  }
};

// [x | y] as one 512-bit vector.
inline __m512 pair256(__m256 x, __m256 y) {
  return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(x)), _mm256_castps_pd(y), 1));
}

// t01 = [t0 | t1], t23 = [t2 | t3], t[r]: row r's float terms of 8 blocks; acc (lane r: row r's
// running sum) + the terms of blocks 0..n-1 (n <= 8) in block order, 4 rows per addition (t to
// 128-bit lanes of 4 rows first).
inline void add_row_pair_terms(__m512 t01, __m512 t23, int n, __m128* acc) {
  const __m512i idx_lo = _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
  const __m512i idx_hi = _mm512_add_epi32(idx_lo, _mm512_set1_epi32(4));
  add_rows(_mm512_permutex2var_ps(t01, idx_lo, t23), std::min(n, 4), acc);
  if (n > 4) add_rows(_mm512_permutex2var_ps(t01, idx_hi, t23), n - 4, acc);
}
// The same with the 4 rows' terms apart.
inline void add_row_terms(__m256 t0, __m256 t1, __m256 t2, __m256 t3, int n, __m128* acc) {
  add_row_pair_terms(pair256(t0, t1), pair256(t2, t3), n, acc);
}

// M activation rows (decode: 1; batched decode: up to kMaxAct), the 8-block steps of 4 weight rows,
// two blocks per 512-bit vector: each weight pair decoded once, 4 vpdpbusd per row, activation row
// and step, and two rows' 8 block sums out of one reduction per activation row (fold32 / fold64 per
// row, then two lane shuffles and a lane permute for the pair), in straight-line code (the
// activations' codes, scales and biases loaded once per step for the 4 rows). The same integer
// sums and the same float operations per block as Q32Rows4's tail step: the same bits.
// History: as a 256-bit step of one vpdpbusd per block (sum8x8), this straight-line step took the
// 2-core Zen 4 VM's hot Q5_0 from 14.3 to 17.6 GB/s (matmul_bench, BALEEN_BENCH_HOT=1, 512 x 2048,
// one thread), Q8_0 26.1 -> 35.0, Q4_0 14.8 -> 17.9. On the 2-core Emerald Rapids VM, 256-bit ->
// 512-bit step (same bench): Q5_0 15.3-16.2 -> 22.5-22.8 GB/s, Q8_0 33.6-33.8 -> 41.2-43.0, Q4_0
// 16.9-17.1 -> 23.4-24.5; the tails of 2, 4, 6 blocks here too (1408 columns: Q5_0 19.7 -> 21.6),
// then the scales by get8x2: Q5_0 25.7, Q8_0 46.1, Q4_0 25.6. Not measured on Zen 4, where a
// 512-bit operation is two: per block it issues about as many 256-bit halves as the 256-bit step.
// M = 2..4 here too, instead of the 256-bit step of 2 activation rows per call (Emerald Rapids,
// matmul_bench, before -> after): hot 512 x 2048, one thread, Q5_0 m = 2 11.4-11.6 -> 16.8-17.4
// GB/s, m = 4 5.8 -> 10.0; Q8_0 m = 2 19.3 -> 28.4-28.7, m = 4 9.7-9.8 -> 16.5-16.9; Q4_0 m = 2
// 10.3-10.4 -> 15.8-15.9, m = 4 5.25 -> 8.7-8.9; 8192 x 1408 (V2-Lite's expert down) from DRAM, 2
// threads: Q5_0 m = 2 18.9-19.4 -> 21.8-23.6, m = 4 9.0-9.2 -> 15.6-16.2; Q8_0 m = 4 14.0-16.6 ->
// 23.2-24.0 (m = 2 at the bandwidth before and after).
template <class B>
struct Q32Zmm {
  // Per 128-bit lane L of y[k], the 4 partial sums over lane L of blocks (2j, 2j + 1), j = 0..3,
  // of the row at b against activation row k's blocks a[k][j] (blocks 2j, 2j + 1); the sums of
  // pairs j >= kPairs are 0 (a step's tail of 2 kPairs blocks). Each weight pair decoded once.
  template <int kPairs, int M>
  [[gnu::always_inline]] static void partial(const uint8_t* b, const __m512i (*a)[4], __m512i* y) {
    __m512i z[M][4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      if (j < kPairs) {
        const __m512i u = B::decode2(b + 2 * j * B::kBytes);
#pragma GCC unroll 4
        for (int k = 0; k < M; ++k) z[k][j] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, a[k][j]);
      } else {
        for (int k = 0; k < M; ++k) z[k][j] = _mm512_setzero_si512();
      }
    }
#pragma GCC unroll 4
    for (int k = 0; k < M; ++k) {
      if constexpr (kPairs <= 2) {
        y[k] = fold64(fold32(z[k][0], z[k][1]), _mm512_setzero_si512());
      } else {
        y[k] = fold64(fold32(z[k][0], z[k][1]), fold32(z[k][2], z[k][3]));
      }
    }
  }
  // t[k], lanes 0-7: the float terms of the 8 blocks of the row at b0 against activation row k (0
  // past 2 kPairs), lanes 8-15 those of the row at b1.
  template <int kPairs, int M>
  [[gnu::always_inline]] static void pair_terms(const uint8_t* b0, const uint8_t* b1, const __m512i (*a)[4],
                                                const __m512* da, const __m512i* bias, __m512* t) {
    __m512i y0[M], y1[M];
    partial<kPairs, M>(b0, a, y0);
    partial<kPairs, M>(b1, a, y1);
    using Scales = BlockScales8<B::kBytes>;
    __m256i d;
    if constexpr (kPairs == 4) {
      d = Scales::get8x2(b0, b1);
    } else {
      d = _mm256_inserti128_si256(_mm256_castsi128_si256(Scales::get(b0, 2 * kPairs)), Scales::get(b1, 2 * kPairs), 1);
    }
    const __m512 dw = _mm512_cvtph_ps(d);
    const __m512i order = _mm512_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15);
#pragma GCC unroll 4
    for (int k = 0; k < M; ++k) {
      // [row 0 blocks 0 2 4 6 | 1 3 5 7 | row 1 blocks 0 2 4 6 | 1 3 5 7], then in block order.
      const __m512i s =
          _mm512_add_epi32(_mm512_shuffle_i64x2(y0[k], y1[k], 0x88), _mm512_shuffle_i64x2(y0[k], y1[k], 0xDD));
      const __m512i sums = _mm512_permutexvar_epi32(order, s);
      t[k] = _mm512_mul_ps(_mm512_mul_ps(dw, da[k]), _mm512_cvtepi32_ps(_mm512_add_epi32(sums, bias[k])));
    }
  }
  // The 2 kPairs blocks from i0 of rows row[0..3] against act[0..M-1] into acc[k] (lane r: row r).
  template <int kPairs, int M>
  [[gnu::always_inline]] static void step(const uint8_t* const* row, const Act32L* act, int64_t i0,
                                          LinePrefetch& prefetch, __m128* acc) {
    __m512i a[M][4];
    __m512 da[M];
    __m512i bias[M];
#pragma GCC unroll 4
    for (int k = 0; k < M; ++k) {
      const uint8_t* ac = act[k].codes + 32 * i0;
      for (int j = 0; j < kPairs; ++j) a[k][j] = _mm512_loadu_si512(ac + 64 * j);
      for (int j = kPairs; j < 4; ++j) a[k][j] = _mm512_setzero_si512();
      // The layout's da and bias are 0 from block nb to the next multiple of 8.
      da[k] =
          _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_loadu_pd(reinterpret_cast<const double*>(act[k].da + i0))));
      bias[k] = _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[k].bias + i0)));
    }
    const int64_t off = i0 * B::kBytes;
    __m512 t01[M], t23[M];
    prefetch.slice();
    prefetch.slice();
    pair_terms<kPairs, M>(row[0] + off, row[1] + off, a, da, bias, t01);
    prefetch.slice();
    prefetch.slice();
    pair_terms<kPairs, M>(row[2] + off, row[3] + off, a, da, bias, t23);
#pragma GCC unroll 4
    for (int k = 0; k < M; ++k) add_row_pair_terms(t01[k], t23[k], 2 * kPairs, &acc[k]);
  }

  // Blocks [0, nb / 8 * 8) of rows row[0..3] against act[0..M-1] into acc[k] (lane r: row r), and
  // a tail of 2, 4 or 6 blocks. Returns the blocks done.
  template <int M>
  static int64_t run(const uint8_t* const* row, const Act32L* act, int64_t nb, LinePrefetch& prefetch, __m128* acc) {
    int64_t i0 = 0;
    for (; i0 + 8 <= nb; i0 += 8) step<4, M>(row, act, i0, prefetch, acc);
    switch (nb - i0) {
      case 2:
        step<1, M>(row, act, i0, prefetch, acc);
        return nb;
      case 4:
        step<2, M>(row, act, i0, prefetch, acc);
        return nb;
      case 6:
        step<3, M>(row, act, i0, prefetch, acc);
        return nb;
      default:
        return i0;
    }
  }
};

// One activation row, rows of 4 blocks (128 columns: MLA's attn_k_b, W_UK, one row per latent
// column of a head) stored back to back: two rows are one 8-block span, so Q32Row1Zmm's pair step
// runs on rows [r, r + 8) as 4 spans (two pairs) against the activation's 4 blocks twice, instead of the
// general step's 4-block tail. matmul_bench, 8192 x 128 Q5_0 (one layer of V2-Lite's W_UK): hot, one
// thread 8.6 -> 20.6 GB/s (Q8_0 14.9 -> 43.8); from DRAM, 2 threads 52 -> 25 us (~86% of the
// measured read bandwidth). Each row's 4 terms are added to its sum from 0 in block order, as in the
// general step: the same bits. Rows [r0, r0 + 8k) are done here; returns r0 + 8k.
template <class B>
int64_t q32_short_rows(const WeightMatrix& w, int64_t r0, int64_t r1, const Act32L& act, float* y) {
  constexpr int64_t kBlocks = 4, kSpanRows = 8 / kBlocks, kPassRows = kRows * kSpanRows;
  constexpr int64_t kSpanBytes = 8 * B::kBytes;
  // Bytes prefetched (into L2, within the range) ahead of the pass that reads them, ~6 passes: the
  // rows are one stream, which the hardware prefetchers follow too.
  constexpr int64_t kAhead = 4096;
  alignas(64) uint8_t codes[8 * 32];
  alignas(32) float da[8];
  alignas(32) int32_t bias[8];
  for (int j = 0; j < 8; ++j) {
    std::memcpy(codes + 32 * j, act.codes + 32 * (j % kBlocks), 32);
    da[j] = act.da[j % kBlocks];
    bias[j] = act.bias[j % kBlocks];
  }
  const __m512 vda = _mm512_castpd_ps(_mm512_broadcast_f64x4(_mm256_load_pd(reinterpret_cast<const double*>(da))));
  const __m512i vbias = _mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(bias)));
  __m512i a[1][4];
  for (int k = 0; k < 4; ++k) a[0][k] = _mm512_load_si512(codes + 64 * k);
  const int64_t end = r1 * kBlocks * B::kBytes;  // bytes of the range's last row's end from w.data
  int64_t r = r0;
  for (; r + kPassRows <= r1; r += kPassRows) {
    const int64_t at = r * kBlocks * B::kBytes;
    const uint8_t* b = w.data + at;
    for (int64_t o = at + kAhead; o < std::min(end, at + kAhead + kRows * kSpanBytes); o += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(w.data) + o, _MM_HINT_T1);
    }
    __m512 t01, t23;
    Q32Zmm<B>::template pair_terms<4, 1>(b, b + kSpanBytes, a, &vda, &vbias, &t01);
    Q32Zmm<B>::template pair_terms<4, 1>(b + 2 * kSpanBytes, b + 3 * kSpanBytes, a, &vda, &vbias, &t23);
    // Span v's terms 0-3 are row 2v's blocks, 4-7 row 2v + 1's: as 4 rows x 8 blocks' "lane r,
    // element e" for rows 0-3 (spans 0, 1) and 4-7 (spans 2, 3).
    __m128 lo = _mm_setzero_ps(), hi = _mm_setzero_ps();
    add_blocks(t01, kBlocks, &lo);
    add_blocks(t23, kBlocks, &hi);
    _mm_storeu_ps(y + r, lo);
    _mm_storeu_ps(y + r + 4, hi);
  }
  return r;
}

// 4 weight rows x M activation rows: Q32Zmm's steps, then a tail of 1, 3, 5 or 7 blocks (Q32Zmm
// reads blocks in pairs) as one step of one 256-bit vpdpbusd per block, weight row and activation
// row (each weight block decoded once), each row's block sums reduced together (sum8x8), the float
// steps (dw da) float(S) as vectors, then the 4 rows' running sums advanced block by block
// (add_rows' order).
template <class B, int M>
struct Q32Rows4 {
  // Rows row[r] (r < kRows) times the activation rows act[k] (k < M); out[k * kRows + r].
  static void run(const uint8_t* const* row, const Act32L* act, int64_t nb, const char* pf, int64_t pf_bytes,
                  float* out) {
    __m128 acc[M];
    for (int k = 0; k < M; ++k) acc[k] = _mm_setzero_ps();
    LinePrefetch prefetch(pf, pf_bytes, (nb + 7) / 8 * kRows);  // a slice per 8-block step and row
    const int64_t i0 = Q32Zmm<B>::template run<M>(row, act, nb, prefetch, acc);
    if (i0 < nb) {
      const int n = static_cast<int>(nb - i0);  // < 8
      const int64_t off = i0 * B::kBytes;
      __m256 t[M][kRows];
#pragma GCC unroll 4
      for (int r = 0; r < kRows; ++r) {
        prefetch.slice();
        const uint8_t* b = row[r] + off;
        const __m256 dw = _mm256_cvtph_ps(BlockScales8<B::kBytes>::get(b, n));
        __m256i v[M][8];
        for (int j = 0; j < 8; ++j) {
          if (j >= n) {
            for (int k = 0; k < M; ++k) v[k][j] = _mm256_setzero_si256();
            continue;
          }
          const __m256i u = B::decode(b + j * B::kBytes);
          for (int k = 0; k < M; ++k) {
            const auto* a = reinterpret_cast<const __m256i*>(act[k].codes + 32 * (i0 + j));
            v[k][j] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, _mm256_load_si256(a));
          }
        }
        for (int k = 0; k < M; ++k) {
          const __m256 da = _mm256_loadu_ps(act[k].da + i0);
          const __m256i bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(act[k].bias + i0));
          t[k][r] = _mm256_mul_ps(_mm256_mul_ps(dw, da), _mm256_cvtepi32_ps(_mm256_add_epi32(sum8x8(v[k]), bias)));
        }
      }
      for (int k = 0; k < M; ++k) add_row_terms(t[k][0], t[k][1], t[k][2], t[k][3], n, &acc[k]);
    }
    for (int k = 0; k < M; ++k) _mm_storeu_ps(out + k * kRows, acc[k]);
  }
};

// Rows are prefetched into L2 kPrefetchPasses passes (of kRows rows) ahead of the pass that reads
// them: the first pass of a range issues the prefetches of passes 1 .. kPrefetchPasses - 1 at once,
// and each pass spreads those of the pass kPrefetchPasses ahead over its blocks (the returned
// pointer, nullptr past the range). Decode on the 2-core Zen 4 VM at ~35 GB/s: 79 -> 84% of the
// bandwidth against 1 pass ahead (bench, 5 interleaved rounds).
constexpr int64_t kPrefetchPasses = 3;

inline const char* prefetch_ahead(const WeightMatrix& w, int64_t r0, int64_t r1, int64_t r) {
  const int64_t bytes = kRows * static_cast<int64_t>(w.row_stride);
  const auto pass_start = [&](int64_t k) {
    return reinterpret_cast<const char*>(w.data) + (r + k * kRows) * w.row_stride;
  };
  if (r == r0) {
    for (int64_t k = 1; k < kPrefetchPasses && r + (k + 1) * kRows <= r1; ++k) {
      for (int64_t o = 0; o < bytes; o += 64) _mm_prefetch(pass_start(k) + o, _MM_HINT_T1);
    }
  }
  return r + (kPrefetchPasses + 1) * kRows <= r1 ? pass_start(kPrefetchPasses) : nullptr;
}

// Rows [r0, r1) times the m activation rows of acts (m <= kMaxLayout): y[k * y_stride + r]. Per
// pass of kRows weight rows, the activation rows go `per_call` at a time through Kernel<M>::run, so
// the later calls read the pass's weights from L1.
template <template <int> class Kernel, class Act>
void rows_pass(const WeightMatrix& w, int64_t r0, int64_t r1, const Act* acts, int m, int per_call, int64_t nb,
               float* y, int64_t y_stride) {
  const auto stride = static_cast<int64_t>(w.row_stride);
  // The next call's first rows (next_rows()) are prefetched over this range's last `tail` passes,
  // those that prefetch nothing of their own: a slice of them per pass.
  const NextRows next = next_rows();
  const int64_t next_bytes = std::min<int64_t>(next.rows, kPrefetchPasses * kRows) * next.row_stride;
  const int64_t tail = std::min<int64_t>(kPrefetchPasses, (r1 - r0 + kRows - 1) / kRows);
  for (int64_t r = r0; r < r1; r += kRows) {
    const int nr = static_cast<int>(std::min<int64_t>(kRows, r1 - r));
    // A short last pass repeats its last row in the missing lanes (computed, not stored).
    const uint8_t* rows[kRows];
    for (int k = 0; k < kRows; ++k) rows[k] = w.data + static_cast<uint64_t>(r + std::min(k, nr - 1)) * w.row_stride;
    const char* pf = prefetch_ahead(w, r0, r1, r);
    int64_t pf_bytes = kRows * stride;
    if (const int64_t j = tail - (r1 - r + kRows - 1) / kRows; pf == nullptr && next_bytes > 0 && j >= 0) {
      const int64_t b0 = next_bytes * j / tail;  // slice j of `tail`
      pf = reinterpret_cast<const char*>(next.data) + b0;
      pf_bytes = next_bytes * (j + 1) / tail - b0;
    }
    for (int k0 = 0; k0 < m; k0 += per_call) {
      const int mk = std::min(per_call, m - k0);
      const char* p = k0 == 0 ? pf : nullptr;
      float out[kMaxAct * kRows];
      switch (mk) {
        case 1:
          Kernel<1>::run(rows, acts + k0, nb, p, pf_bytes, out);
          break;
        case 2:
          Kernel<2>::run(rows, acts + k0, nb, p, pf_bytes, out);
          break;
        case 3:
          Kernel<3>::run(rows, acts + k0, nb, p, pf_bytes, out);
          break;
        default:
          Kernel<4>::run(rows, acts + k0, nb, p, pf_bytes, out);
          break;
      }
      for (int k = 0; k < mk; ++k) std::copy_n(out + k * kRows, nr, y + (k0 + k) * y_stride + r);
    }
  }
}

template <class K>
struct R256 {
  template <int M>
  using Rows = Rows256<K, M>;
};
template <class B>
struct Q32 {
  template <int M>
  using Rows = Q32Rows4<B, M>;
};

// Up to 4 activation rows per kernel call (kMaxAct), for every type. (The 32-element types' earlier
// 256-bit step kept 8 sums per activation row in registers and took 2 per call.)
template <class K>
void rows256(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* act, int64_t act_row_bytes, int m, float* y,
             int64_t y_stride) {
  const int64_t nb = w.cols / 256;
  Act256 acts[kMaxLayout];
  for (int k = 0; k < m; ++k) {
    acts[k] = act256_layout(reinterpret_cast<const ActQ8_256*>(act + k * act_row_bytes), nb, k, K::kElementOrder);
  }
  rows_pass<R256<K>::template Rows>(w, r0, r1, acts, m, kMaxAct, nb, y, y_stride);
}

template <class B>
void q32_rows(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* act, int64_t act_row_bytes, int m, float* y,
              int64_t y_stride) {
  const int64_t nb = w.cols / 32;
  Act32L acts[kMaxLayout];
  for (int k = 0; k < m; ++k) {
    acts[k] = act32_layout(reinterpret_cast<const ActQ8_32*>(act + k * act_row_bytes), nb, B::kOffset, k);
  }
  if (m == 1 && nb == 4 && w.row_stride == uint64_t{4} * B::kBytes) r0 = q32_short_rows<B>(w, r0, r1, acts[0], y);
  if (r0 >= r1) return;
  rows_pass<Q32<B>::template Rows>(w, r0, r1, acts, m, kMaxAct, nb, y, y_stride);
}

}  // namespace

void q8_rows_split_avx512(const WeightMatrix& w, int64_t r0, int64_t r1, const uint8_t* act, int64_t act_row_bytes,
                          int64_t m, float* y, int64_t y_stride) {
  if (r0 >= r1) return;
  // Up to kMaxLayout activation rows per pass over the weights (more: several passes).
  for (int64_t k0 = 0; k0 < m; k0 += kMaxLayout) {
    const int mk = static_cast<int>(std::min<int64_t>(kMaxLayout, m - k0));
    const uint8_t* a = act + k0 * act_row_bytes;
    float* yk = y + k0 * y_stride;
    switch (w.type) {
      case GgmlType::kQ4_K:
        rows256<K45Codes<false>>(w, r0, r1, a, act_row_bytes, mk, yk, y_stride);
        break;
      case GgmlType::kQ5_K:
        rows256<K45Codes<true>>(w, r0, r1, a, act_row_bytes, mk, yk, y_stride);
        break;
      case GgmlType::kQ6_K:
        rows256<Q6KCodes>(w, r0, r1, a, act_row_bytes, mk, yk, y_stride);
        break;
      case GgmlType::kQ8_0:
        q32_rows<Q8_0Codes>(w, r0, r1, a, act_row_bytes, mk, yk, y_stride);
        break;
      case GgmlType::kQ4_0:
        q32_rows<Q4_0Codes>(w, r0, r1, a, act_row_bytes, mk, yk, y_stride);
        break;
      case GgmlType::kQ5_0:
        q32_rows<Q5_0Codes>(w, r0, r1, a, act_row_bytes, mk, yk, y_stride);
        break;
      default:
        return;
    }
  }
}

}  // namespace baleen
