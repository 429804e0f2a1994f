// AVX2 integer-activation kernels. Built with -mavx2 -mfma -mf16c (src/CMakeLists.txt); reached
// only through find_q8_kernels when the CPU has them. No VNNI: the u8 x s8 products go through
// vpmaddubsw (pairs to int16; every caller's pair sum stays below 2^15) and vpmaddwd.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/q8_dot.h"

namespace baleen {
namespace {

inline __m256i dpbusd(__m256i acc, __m256i u, __m256i s) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}
inline __m256i dpwssd(__m256i acc, __m256i a, __m256i b) { return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b)); }

#include "kernels/x86/q8_dot_body.inc"

}  // namespace

Q8Kernels q8_kernels_avx2(GgmlType type) {
  Q8Kernels k;
  k.rows = lookup(type);
  if (k.rows != nullptr) k.quantize = &quantize_act;
  return k;
}

}  // namespace baleen
