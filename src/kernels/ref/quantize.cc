// Reference quantizers; the block layouts are those documented in kernels/ref/dequant.cc.
#include "kernels/ref/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/ref/dequant.h"
#include "tensor/numeric.h"

namespace baleen {
namespace {

constexpr uint64_t kQK = 32;
constexpr uint64_t kQKK = 256;

inline void store_u16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v & 0xFF);
  p[1] = static_cast<uint8_t>(v >> 8);
}
inline void store_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
// Stores f as f16 and returns the value the dequantizer will see.
inline float store_f16(uint8_t* p, float f) {
  uint16_t h = f32_to_f16(f);
  store_u16(p, h);
  return f16_to_f32(h);
}
inline int round_clamp(float v, int lo, int hi) {
  if (!(v == v)) return lo;  // NaN input: any code is as good; keep deterministic
  float r = std::nearbyint(v);
  if (r < static_cast<float>(lo)) return lo;
  if (r > static_cast<float>(hi)) return hi;
  return static_cast<int>(r);
}
void check_multiple(uint64_t n, uint64_t block) {
  BALEEN_ASSERT(n % block == 0, "n=%llu is not a multiple of the block size %llu", static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(block));
}
// The element with the largest magnitude, with its sign.
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// Symmetric blocks of 32 with `levels` = 16 (Q4_0) or 32 (Q5_0): d = max / -(levels/2).
void quantize_sym32(const float* x, uint8_t* b, int levels, int* q) {
  float max = signed_absmax(x, 32);
  float d = store_f16(b, max / static_cast<float>(-levels / 2));
  float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) q[j] = round_clamp(x[j] * id + static_cast<float>(levels / 2), 0, levels - 1);
}

// Asymmetric blocks of 32 (Q4_1 / Q5_1): value = q * d + m.
void quantize_asym32(const float* x, uint8_t* b, int levels, int* q) {
  float mn = x[0], mx = x[0];
  for (int j = 1; j < 32; ++j) {
    mn = std::min(mn, x[j]);
    mx = std::max(mx, x[j]);
  }
  float d = store_f16(b, (mx - mn) / static_cast<float>(levels - 1));
  float m = store_f16(b + 2, mn);
  float id = d != 0.0f ? 1.0f / d : 0.0f;
  for (int j = 0; j < 32; ++j) q[j] = round_clamp((x[j] - m) * id, 0, levels - 1);
}

void pack_nibbles(const int* q, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 0x0F) | ((q[j + 16] & 0x0F) << 4));
}
uint32_t high_bits(const int* q) {
  uint32_t qh = 0;
  for (int j = 0; j < 32; ++j) qh |= static_cast<uint32_t>((q[j] >> 4) & 1) << j;
  return qh;
}

// Shared by Q4_K (levels 16) and Q5_K (levels 32): fills d, dmin, the 12 scale bytes and q[256].
void quantize_k_scales(const float* x, uint8_t* b, int levels, int* q) {
  float offs[8], ranges[8], mx_sub[8];
  for (int s = 0; s < 8; ++s) {
    float mn = 0.0f, mx = x[32 * s];
    for (int l = 0; l < 32; ++l) {
      mn = std::min(mn, x[32 * s + l]);
      mx = std::max(mx, x[32 * s + l]);
    }
    offs[s] = -mn;  // >= 0
    mx_sub[s] = std::max(mx, 0.0f);
  }
  float max_off = *std::max_element(offs, offs + 8);
  float dmin = store_f16(b + 2, max_off / 63.0f);
  uint8_t mq[8], sq[8];
  for (int s = 0; s < 8; ++s) {
    mq[s] = dmin > 0.0f ? static_cast<uint8_t>(std::min(63.0f, std::ceil(offs[s] / dmin))) : 0;
    ranges[s] = (mx_sub[s] + dmin * mq[s]) / static_cast<float>(levels - 1);
  }
  float max_range = *std::max_element(ranges, ranges + 8);
  float d = store_f16(b, max_range / 63.0f);
  for (int s = 0; s < 8; ++s) sq[s] = d > 0.0f ? static_cast<uint8_t>(std::min(63.0f, std::ceil(ranges[s] / d))) : 0;
  uint8_t* sc = b + 4;
  for (int j = 0; j < 4; ++j) {
    sc[j] = static_cast<uint8_t>((sq[j] & 63) | ((sq[j + 4] >> 4) << 6));
    sc[j + 4] = static_cast<uint8_t>((mq[j] & 63) | ((mq[j + 4] >> 4) << 6));
    sc[j + 8] = static_cast<uint8_t>((sq[j + 4] & 0x0F) | ((mq[j + 4] & 0x0F) << 4));
  }
  for (int s = 0; s < 8; ++s) {
    float step = d * sq[s];
    float off = dmin * mq[s];
    for (int l = 0; l < 32; ++l) {
      q[32 * s + l] = step > 0.0f ? round_clamp((x[32 * s + l] + off) / step, 0, levels - 1) : 0;
    }
  }
}

}  // namespace

void quantize_row_q4_0_ref(const float* src, void* dst, uint64_t n) {
  check_multiple(n, kQK);
  auto* b = static_cast<uint8_t*>(dst);
  int q[32];
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 18, src += kQK) {
    quantize_sym32(src, b, 16, q);
    pack_nibbles(q, b + 2);
  }
}

void quantize_row_q4_1_ref(const float* src, void* dst, uint64_t n) {
  check_multiple(n, kQK);
  auto* b = static_cast<uint8_t*>(dst);
  int q[32];
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 20, src += kQK) {
    quantize_asym32(src, b, 16, q);
    pack_nibbles(q, b + 4);
  }
}

void quantize_row_q5_0_ref(const float* src, void* dst, uint64_t n) {
  check_multiple(n, kQK);
  auto* b = static_cast<uint8_t*>(dst);
  int q[32];
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 22, src += kQK) {
    quantize_sym32(src, b, 32, q);
    store_u32(b + 2, high_bits(q));
    pack_nibbles(q, b + 6);
  }
}

void quantize_row_q5_1_ref(const float* src, void* dst, uint64_t n) {
  check_multiple(n, kQK);
  auto* b = static_cast<uint8_t*>(dst);
  int q[32];
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 24, src += kQK) {
    quantize_asym32(src, b, 32, q);
    store_u32(b + 4, high_bits(q));
    pack_nibbles(q, b + 8);
  }
}

void quantize_row_q8_0_ref(const float* src, void* dst, uint64_t n) {
  check_multiple(n, kQK);
  auto* b = static_cast<uint8_t*>(dst);
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 34, src += kQK) {
    float amax = std::fabs(signed_absmax(src, 32));
    float d = store_f16(b, amax / 127.0f);
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (uint64_t j = 0; j < kQK; ++j)
      b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(round_clamp(src[j] * id, -127, 127)));
  }
}

void quantize_row_q4_k_ref(const float* src, void* dst, uint64_t n) {
  check_multiple(n, kQKK);
  auto* b = static_cast<uint8_t*>(dst);
  int q[256];
  for (uint64_t blk = 0; blk < n / kQKK; ++blk, b += 144, src += kQKK) {
    quantize_k_scales(src, b, 16, q);
    uint8_t* qs = b + 16;
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) qs[32 * g + l] = static_cast<uint8_t>(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
    }
  }
}

void quantize_row_q5_k_ref(const float* src, void* dst, uint64_t n) {
  check_multiple(n, kQKK);
  auto* b = static_cast<uint8_t*>(dst);
  int q[256];
  for (uint64_t blk = 0; blk < n / kQKK; ++blk, b += 176, src += kQKK) {
    quantize_k_scales(src, b, 32, q);
    uint8_t* qh = b + 16;
    uint8_t* qs = b + 48;
    std::memset(qh, 0, 32);
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        int q0 = q[64 * g + l], q1 = q[64 * g + 32 + l];
        qs[32 * g + l] = static_cast<uint8_t>((q0 & 0x0F) | ((q1 & 0x0F) << 4));
        qh[l] |= static_cast<uint8_t>(((q0 >> 4) & 1) << (2 * g));
        qh[l] |= static_cast<uint8_t>(((q1 >> 4) & 1) << (2 * g + 1));
      }
    }
  }
}

void quantize_row_q6_k_ref(const float* src, void* dst, uint64_t n) {
  check_multiple(n, kQKK);
  auto* b = static_cast<uint8_t*>(dst);
  for (uint64_t blk = 0; blk < n / kQKK; ++blk, b += 210, src += kQKK) {
    float scales[16];
    float amax_scale = 0.0f, max_scale = 0.0f;
    for (int s = 0; s < 16; ++s) {
      scales[s] = signed_absmax(src + 16 * s, 16) / -32.0f;
      if (std::fabs(scales[s]) > amax_scale) {
        amax_scale = std::fabs(scales[s]);
        max_scale = scales[s];
      }
    }
    float d = store_f16(b + 208, max_scale / -127.0f);
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    auto* sc = reinterpret_cast<int8_t*>(b + 192);
    int q[256];
    for (int s = 0; s < 16; ++s) {
      // Magnitude rounded up so the sub-block's extreme value stays inside the 6-bit grid.
      float mag = std::min(127.0f, std::ceil(std::fabs(scales[s]) * std::fabs(id)));
      sc[s] = static_cast<int8_t>(scales[s] * d < 0.0f ? -mag : mag);
      float step = d * static_cast<float>(sc[s]);
      for (int l = 0; l < 16; ++l)
        q[16 * s + l] = step != 0.0f ? round_clamp(src[16 * s + l] / step + 32.0f, 0, 63) : 32;
    }
    for (int half = 0; half < 2; ++half) {
      uint8_t* ql = b + 64 * half;
      uint8_t* qh = b + 128 + 32 * half;
      const int* qq = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        int q0 = qq[l], q1 = qq[l + 32], q2 = qq[l + 64], q3 = qq[l + 96];
        ql[l] = static_cast<uint8_t>((q0 & 0x0F) | ((q2 & 0x0F) << 4));
        ql[l + 32] = static_cast<uint8_t>((q1 & 0x0F) | ((q3 & 0x0F) << 4));
        qh[l] = static_cast<uint8_t>((q0 >> 4) | ((q1 >> 4) << 2) | ((q2 >> 4) << 4) | ((q3 >> 4) << 6));
      }
    }
  }
}

Status quantize_row_ref(GgmlType type, const float* src, void* dst, uint64_t n) {
  const GgmlTypeInfo& t = ggml_type_info(type);
  if (n % t.block_size != 0) {
    return make_error(ErrorCode::kInvalidArgument, "quantize %s: %llu elements is not a multiple of the block size %u",
                      std::string(t.name).c_str(), static_cast<unsigned long long>(n), t.block_size);
  }
  auto* b = static_cast<uint8_t*>(dst);
  switch (type) {
    case GgmlType::kF32:
      std::memcpy(dst, src, n * 4);
      break;
    case GgmlType::kF16:
      for (uint64_t i = 0; i < n; ++i) store_u16(b + 2 * i, f32_to_f16(src[i]));
      break;
    case GgmlType::kBF16:
      for (uint64_t i = 0; i < n; ++i) store_u16(b + 2 * i, f32_to_bf16(src[i]));
      break;
    case GgmlType::kQ4_0:
      quantize_row_q4_0_ref(src, dst, n);
      break;
    case GgmlType::kQ4_1:
      quantize_row_q4_1_ref(src, dst, n);
      break;
    case GgmlType::kQ5_0:
      quantize_row_q5_0_ref(src, dst, n);
      break;
    case GgmlType::kQ5_1:
      quantize_row_q5_1_ref(src, dst, n);
      break;
    case GgmlType::kQ8_0:
      quantize_row_q8_0_ref(src, dst, n);
      break;
    case GgmlType::kQ4_K:
      quantize_row_q4_k_ref(src, dst, n);
      break;
    case GgmlType::kQ5_K:
      quantize_row_q5_k_ref(src, dst, n);
      break;
    case GgmlType::kQ6_K:
      quantize_row_q6_k_ref(src, dst, n);
      break;
    default:
      return make_error(ErrorCode::kUnsupported, "no reference quantizer for tensor type %s",
                        std::string(t.name).c_str());
  }
  return ok_status();
}

}  // namespace baleen
