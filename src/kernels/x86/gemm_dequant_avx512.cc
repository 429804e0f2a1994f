// Direct BF16 decoders for the GEMM's weight panels (kernels/x86/gemm_bf16.h): each block is decoded
// in registers with the reference dequantizer's exact F32 arithmetic (kernels/ref/dequant.cc, same
// operation order; -ffp-contract=off) and rounded to BF16 (nearest even). Types: F32, F16, BF16,
// Q8_0, Q4_K, Q6_K; others return false and the caller goes through weight_row_to_f32.
#include <immintrin.h>

#include <cstring>

#include "kernels/ref/dequant.h"
#include "kernels/x86/f16_load.h"
#include "kernels/x86/gemm_bf16.h"
#include "tensor/numeric.h"

namespace baleen {
namespace {

inline void store16(uint16_t* dst, __m512 v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), (__m256i)_mm512_cvtneps_pbh(v));
}
inline __m512 u8x16(const uint8_t* p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

void row_q8_0(const uint8_t* b, int64_t n, uint16_t* dst) {
  for (int64_t c = 0; c < n; c += 32, b += 34) {
    const __m512 d = _mm512_set1_ps(f16_at(b));
    for (int h = 0; h < 2; ++h) {
      const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 2 + 16 * h));
      store16(dst + c + 16 * h, _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(q)), d));
    }
  }
}

void row_q4_k(const uint8_t* b, int64_t n, uint16_t* dst) {
  const __m512i low4 = _mm512_set1_epi32(0x0F);
  for (int64_t c = 0; c < n; c += 256, b += 144) {
    const float d = f16_at(b), dmin = f16_at(b + 2);
    for (int g = 0; g < 4; ++g) {
      uint8_t s0, m0, s1, m1;
      unpack_k4_scale_min(b + 4, 2 * g, &s0, &m0);
      unpack_k4_scale_min(b + 4, 2 * g + 1, &s1, &m1);
      const __m512 d0 = _mm512_set1_ps(d * s0), mm0 = _mm512_set1_ps(dmin * m0);
      const __m512 d1 = _mm512_set1_ps(d * s1), mm1 = _mm512_set1_ps(dmin * m1);
      const uint8_t* q = b + 16 + 32 * g;
      uint16_t* y = dst + c + 64 * g;
      for (int l = 0; l < 32; l += 16) {
        const __m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + l)));
        const __m512 lo = _mm512_cvtepi32_ps(_mm512_and_si512(v, low4));
        const __m512 hi = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));
        store16(y + l, _mm512_sub_ps(_mm512_mul_ps(d0, lo), mm0));
        store16(y + 32 + l, _mm512_sub_ps(_mm512_mul_ps(d1, hi), mm1));
      }
    }
  }
}

void row_q6_k(const uint8_t* b, int64_t n, uint16_t* dst) {
  const __m512i low4 = _mm512_set1_epi32(0x0F), three = _mm512_set1_epi32(3), k32 = _mm512_set1_epi32(32);
  for (int64_t c = 0; c < n; c += 256, b += 210) {
    const float d = f16_at(b + 208);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b + 64 * half;
      const uint8_t* qh = b + 128 + 32 * half;
      const auto* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * half);
      uint16_t* y = dst + c + 128 * half;
      for (int l = 0; l < 32; l += 16) {
        const __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + l)));
        const __m512i a2 = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ql + l + 32)));
        const __m512i h = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qh + l)));
        const __m512i q[4] = {
            _mm512_or_si512(_mm512_and_si512(a, low4), _mm512_slli_epi32(_mm512_and_si512(h, three), 4)),
            _mm512_or_si512(_mm512_and_si512(a2, low4),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 2), three), 4)),
            _mm512_or_si512(_mm512_srli_epi32(a, 4),
                            _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(h, 4), three), 4)),
            _mm512_or_si512(_mm512_srli_epi32(a2, 4), _mm512_slli_epi32(_mm512_srli_epi32(h, 6), 4))};
        for (int k = 0; k < 4; ++k) {
          const int elem = 32 * k + l;
          const __m512 ds = _mm512_set1_ps(d * static_cast<float>(sc[elem / 16]));
          store16(y + elem, _mm512_mul_ps(ds, _mm512_cvtepi32_ps(_mm512_sub_epi32(q[k], k32))));
        }
      }
    }
  }
}

void row_f32(const uint8_t* b, int64_t n, uint16_t* dst) {
  gemm_f32_to_bf16_row_avx512(reinterpret_cast<const float*>(b), n, n, dst);
}

void row_f16(const uint8_t* b, int64_t n, uint16_t* dst) {
  int64_t c = 0;
  for (; c + 16 <= n; c += 16)
    store16(dst + c, _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2 * c))));
  for (; c < n; ++c) dst[c] = f32_to_bf16(f16_at(b + 2 * c));
}

void row_bf16(const uint8_t* b, int64_t n, uint16_t* dst) { std::memcpy(dst, b, static_cast<size_t>(n) * 2); }

}  // namespace

bool gemm_dequant_rows_bf16_avx512(const WeightMatrix& w, int64_t r0, int64_t n, int64_t kp, uint16_t* dst) {
  if (w.format != WeightFormat::kGgml) return false;
  void (*row)(const uint8_t*, int64_t, uint16_t*) = nullptr;
  switch (w.type) {
    case GgmlType::kF32:
      row = row_f32;
      break;
    case GgmlType::kF16:
      row = row_f16;
      break;
    case GgmlType::kBF16:
      row = row_bf16;
      break;
    case GgmlType::kQ8_0:
      row = row_q8_0;
      break;
    case GgmlType::kQ4_K:
      row = row_q4_k;
      break;
    case GgmlType::kQ6_K:
      row = row_q6_k;
      break;
    default:
      return false;
  }
  for (int64_t i = 0; i < n; ++i) {
    uint16_t* d = dst + i * kp;
    row(w.data + static_cast<uint64_t>(r0 + i) * w.row_stride, w.cols, d);
    if (kp > w.cols) std::memset(d + w.cols, 0, static_cast<size_t>(kp - w.cols) * 2);
  }
  return true;
}

}  // namespace baleen
