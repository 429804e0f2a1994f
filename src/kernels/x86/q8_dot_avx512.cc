// AVX-512 integer-activation kernels: the VNNI instructions vpdpbusd (u8 x s8, 4 products per
// int32 lane) and vpdpwssd (i16 x i16, 2 per lane) on 256-bit vectors (AVX-512 VL). Built with the
// avx512 flags of src/CMakeLists.txt; reached only through find_q8_kernels (DispatchLevel::kAvx512).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/q8_dot.h"

namespace baleen {
namespace {

inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) { return _mm256_dpbusd_epi32(acc, u, s); }
inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) { return _mm256_dpwssd_epi32(acc, a, b); }

#include "kernels/x86/q8_dot_body.inc"

}  // namespace

Q8Kernels q8_kernels_avx512(GgmlType type) {
  Q8Kernels k;
  k.rows = lookup(type);
  if (k.rows != nullptr) k.quantize = &quantize_act;
  return k;
}

}  // namespace baleen
