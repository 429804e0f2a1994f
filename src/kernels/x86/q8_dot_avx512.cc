// AVX-512 integer-activation kernels: the VNNI instructions vpdpbusd (u8 x s8, 4 products per
// int32 lane) and vpdpwssd (i16 x i16, 2 per lane) on 256-bit vectors (AVX-512 VL). Built with the
// avx512 flags of src/CMakeLists.txt; reached only through find_q8_kernels (DispatchLevel::kAvx512).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

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

}  // namespace

Q8Kernels q8_kernels_avx512(GgmlType type) {
  Q8Kernels k;
  k.rows = lookup(type);
  if (k.rows != nullptr) k.quantize = &quantize_act;
  return k;
}

}  // namespace baleen
