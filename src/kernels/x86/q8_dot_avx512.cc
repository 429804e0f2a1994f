// AVX-512 integer-activation kernels: the VNNI instructions vpdpbusd (u8 x s8, 4 products per
// int32 lane) and vpdpwssd (i16 x i16, 2 per lane) on 256-bit vectors (AVX-512 VL). Built with the
// avx512 flags of src/CMakeLists.txt; reached only through find_q8_kernels (DispatchLevel::kAvx512).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/x86/k45_codes_avx512.h"
#include "kernels/x86/q8_dot.h"

namespace baleen {
namespace {

inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_epi32(acc, a, b); }
// One 128-bit load broadcast to both halves, the high half shifted right by 4 (vpsrlvw).
inline __m256i nibbles_lo_hi(const uint8_t* q) {
  const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q)));
  const __m256i shift = _mm256_setr_epi16(0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4);
  return _mm256_and_si256(_mm256_srlv_epi16(v, shift), _mm256_set1_epi8(0x0F));
}
// The bits straight into a byte mask (kmovd), then a masked add.
inline __m256i add_bit4(__m256i v, uint32_t bits) {
  return _mm256_mask_add_epi8(v, static_cast<__mmask32>(bits), v, _mm256_set1_epi8(0x10));
}
// VNNI accumulates in int32 without saturation, so Q8_0 can take q + 128 as the unsigned side.
constexpr int kQ8_0Offset = 128;
inline __m256i q8_0_decode(const uint8_t* q) {
  return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q)),
                          _mm256_set1_epi8(static_cast<char>(0x80)));
}
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

}  // namespace

Q8Kernels q8_kernels_avx512(GgmlType type) {
  Q8Kernels k;
  k.rows = lookup<K45Dot512>(type);
  if (k.rows != nullptr) k.quantize = &quantize_act;
  return k;
}

}  // namespace baleen
