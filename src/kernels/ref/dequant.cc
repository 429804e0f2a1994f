// Reference dequantizers. Block layouts (byte offsets inside one block) are written out next to
// each function; they are the ggml formats (ggml-common.h), all little-endian.
#include "kernels/ref/dequant.h"

#include <cstring>

#include "core/assert.h"
#include "tensor/numeric.h"

namespace baleen {
namespace {

constexpr uint64_t kQK = 32;    // legacy quant block
constexpr uint64_t kQKK = 256;  // k-quant super-block

inline uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
inline uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
inline float load_f16(const uint8_t* p) { return f16_to_f32(load_u16(p)); }

void check_multiple(uint64_t n, uint64_t block) {
  BALEEN_ASSERT(n % block == 0, "n=%llu is not a multiple of the block size %llu", static_cast<unsigned long long>(n),
                static_cast<unsigned long long>(block));
}

}  // namespace

const int8_t kIq4NlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

void unpack_k4_scale_min(const uint8_t* s, int j, uint8_t* scale, uint8_t* min) {
  // Bytes 0..3: low 6 bits = scales 0..3, top 2 bits = high bits of scales 4..7.
  // Bytes 4..7: low 6 bits = mins 0..3, top 2 bits = high bits of mins 4..7.
  // Bytes 8..11: low nibble = low 4 bits of scale 4+k, high nibble = low 4 bits of min 4+k.
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

void unpack_q3_k_scales(const uint8_t* s, int8_t out[16]) {
  // Low 4 bits: scale i < 8 in the low nibble of byte i, scale i >= 8 in the high nibble of byte
  // i - 8. High 2 bits: bits 2*(i/4)..2*(i/4)+1 of byte 8 + i%4. Stored with an offset of 32.
  for (int i = 0; i < 16; ++i) {
    int low = i < 8 ? (s[i] & 0x0F) : (s[i - 8] >> 4);
    int high = (s[8 + (i % 4)] >> (2 * (i / 4))) & 3;
    out[i] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

uint64_t ggml_row_bytes(GgmlType type, uint64_t n) {
  const GgmlTypeInfo& t = ggml_type_info(type);
  check_multiple(n, t.block_size);
  return n / t.block_size * t.type_size;
}

void dequantize_row_f32(const void* src, float* dst, uint64_t n) { std::memcpy(dst, src, n * 4); }

void dequantize_row_f16(const void* src, float* dst, uint64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (uint64_t i = 0; i < n; ++i) dst[i] = load_f16(p + 2 * i);
}

void dequantize_row_bf16(const void* src, float* dst, uint64_t n) {
  const auto* p = static_cast<const uint8_t*>(src);
  for (uint64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(p + 2 * i));
}

// Q4_0 (18 B): [0] f16 d, [2..18) qs. Element j < 16 = low nibble of qs[j], j >= 16 = high nibble
// of qs[j-16]; value = (q - 8) * d.
void dequantize_row_q4_0(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 18, dst += kQK) {
    float d = load_f16(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>((qs[j] & 0x0F) - 8) * d;
      dst[j + 16] = static_cast<float>((qs[j] >> 4) - 8) * d;
    }
  }
}

// Q4_1 (20 B): [0] f16 d, [2] f16 m, [4..20) qs; value = q * d + m.
void dequantize_row_q4_1(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 20, dst += kQK) {
    float d = load_f16(b);
    float m = load_f16(b + 2);
    const uint8_t* qs = b + 4;
    for (int j = 0; j < 16; ++j) {
      dst[j] = static_cast<float>(qs[j] & 0x0F) * d + m;
      dst[j + 16] = static_cast<float>(qs[j] >> 4) * d + m;
    }
  }
}

// Q5_0 (22 B): [0] f16 d, [2..6) qh (u32 LE: bit j = 5th bit of element j), [6..22) qs nibbles
// as in Q4_0; value = (q - 16) * d.
void dequantize_row_q5_0(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 22, dst += kQK) {
    float d = load_f16(b);
    uint32_t qh = load_u32(b + 2);
    const uint8_t* qs = b + 6;
    for (int j = 0; j < 16; ++j) {
      int q0 = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      int q1 = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      dst[j] = static_cast<float>(q0 - 16) * d;
      dst[j + 16] = static_cast<float>(q1 - 16) * d;
    }
  }
}

// Q5_1 (24 B): [0] f16 d, [2] f16 m, [4..8) qh, [8..24) qs; value = q * d + m.
void dequantize_row_q5_1(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 24, dst += kQK) {
    float d = load_f16(b);
    float m = load_f16(b + 2);
    uint32_t qh = load_u32(b + 4);
    const uint8_t* qs = b + 8;
    for (int j = 0; j < 16; ++j) {
      int q0 = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      int q1 = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      dst[j] = static_cast<float>(q0) * d + m;
      dst[j + 16] = static_cast<float>(q1) * d + m;
    }
  }
}

// Q8_0 (34 B): [0] f16 d, [2..34) int8 q; value = q * d.
void dequantize_row_q8_0(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 34, dst += kQK) {
    float d = load_f16(b);
    for (uint64_t j = 0; j < kQK; ++j) dst[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
  }
}

// Q8_1 (36 B): [0] f16 d, [2] f16 s (d * sum(q), unused here), [4..36) int8 q; value = q * d.
void dequantize_row_q8_1(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 36, dst += kQK) {
    float d = load_f16(b);
    for (uint64_t j = 0; j < kQK; ++j) dst[j] = static_cast<float>(static_cast<int8_t>(b[4 + j])) * d;
  }
}

// Q2_K (84 B): [0..16) scales (low nibble = scale, high nibble = min, one per 16 elements),
// [16..80) qs (2 bits each), [80] f16 d, [82] f16 dmin. Each 128-element half uses 32 qs bytes;
// within it, bit pair `shift` (0,2,4,6) of qs[l] (l < 32) is element 32*(shift/2) + l.
// value = d * scale * q - dmin * min.
void dequantize_row_q2_k(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQKK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQKK; ++blk, b += 84, dst += kQKK) {
    const uint8_t* sc = b;
    const uint8_t* qs = b + 16;
    float d = load_f16(b + 80);
    float dmin = load_f16(b + 82);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = qs + 32 * half;
      for (int k = 0; k < 4; ++k) {  // four 32-element groups, each two 16-element sub-blocks
        for (int sub = 0; sub < 2; ++sub) {
          int si = half * 8 + k * 2 + sub;
          float dl = d * static_cast<float>(sc[si] & 0x0F);
          float ml = dmin * static_cast<float>(sc[si] >> 4);
          float* y = dst + half * 128 + k * 32 + sub * 16;
          for (int l = 0; l < 16; ++l) y[l] = dl * static_cast<float>((q[sub * 16 + l] >> (2 * k)) & 3) - ml;
        }
      }
    }
  }
}

// Q3_K (110 B): [0..32) hmask (3rd bit: bit k of hmask[l] for element 32*k + l within the whole
// block), [32..96) qs (2 low bits, same order as Q2_K), [96..108) 16 6-bit scales, [108] f16 d.
// value = d * (scale - 32) * ((q2 | hbit << 2) - 4), i.e. q in [-4, 3].
void dequantize_row_q3_k(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQKK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQKK; ++blk, b += 110, dst += kQKK) {
    const uint8_t* hmask = b;
    const uint8_t* qs = b + 32;
    int8_t scales[16];
    unpack_q3_k_scales(b + 96, scales);
    float d = load_f16(b + 108);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* q = qs + 32 * half;
      for (int k = 0; k < 4; ++k) {
        int hbit = half * 4 + k;  // bit of hmask for this 32-element group
        for (int sub = 0; sub < 2; ++sub) {
          int si = half * 8 + k * 2 + sub;
          float dl = d * static_cast<float>(scales[si]);
          float* y = dst + half * 128 + k * 32 + sub * 16;
          for (int l = 0; l < 16; ++l) {
            int idx = sub * 16 + l;
            int low = (q[idx] >> (2 * k)) & 3;
            int high = (hmask[idx] >> hbit) & 1;
            y[l] = dl * static_cast<float>(low + 4 * high - 4);
          }
        }
      }
    }
  }
}

// Q4_K (144 B): [0] f16 d, [2] f16 dmin, [4..16) 8 packed 6-bit (scale, min) pairs, [16..144) qs.
// Each 64 elements use 32 qs bytes: the low nibbles are the first 32 (pair 2i), the high nibbles
// the next 32 (pair 2i+1). value = d * scale * q - dmin * min.
void dequantize_row_q4_k(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQKK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQKK; ++blk, b += 144, dst += kQKK) {
    float d = load_f16(b);
    float dmin = load_f16(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qs = b + 16;
    for (int g = 0; g < 4; ++g) {
      uint8_t s0, m0, s1, m1;
      unpack_k4_scale_min(scales, 2 * g, &s0, &m0);
      unpack_k4_scale_min(scales, 2 * g + 1, &s1, &m1);
      float d0 = d * s0, mm0 = dmin * m0, d1 = d * s1, mm1 = dmin * m1;
      const uint8_t* q = qs + 32 * g;
      float* y = dst + 64 * g;
      for (int l = 0; l < 32; ++l) {
        y[l] = d0 * static_cast<float>(q[l] & 0x0F) - mm0;
        y[l + 32] = d1 * static_cast<float>(q[l] >> 4) - mm1;
      }
    }
  }
}

// Q5_K (176 B): [0] f16 d, [2] f16 dmin, [4..16) scales as Q4_K, [16..48) qh, [48..176) qs.
// The 5th bit of element 32*p + l (p = 0..7) is bit p of qh[l]. value = d*scale*q - dmin*min.
void dequantize_row_q5_k(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQKK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQKK; ++blk, b += 176, dst += kQKK) {
    float d = load_f16(b);
    float dmin = load_f16(b + 2);
    const uint8_t* scales = b + 4;
    const uint8_t* qh = b + 16;
    const uint8_t* qs = b + 48;
    for (int g = 0; g < 4; ++g) {
      uint8_t s0, m0, s1, m1;
      unpack_k4_scale_min(scales, 2 * g, &s0, &m0);
      unpack_k4_scale_min(scales, 2 * g + 1, &s1, &m1);
      float d0 = d * s0, mm0 = dmin * m0, d1 = d * s1, mm1 = dmin * m1;
      const uint8_t* q = qs + 32 * g;
      float* y = dst + 64 * g;
      for (int l = 0; l < 32; ++l) {
        int q0 = (q[l] & 0x0F) | (((qh[l] >> (2 * g)) & 1) << 4);
        int q1 = (q[l] >> 4) | (((qh[l] >> (2 * g + 1)) & 1) << 4);
        y[l] = d0 * static_cast<float>(q0) - mm0;
        y[l + 32] = d1 * static_cast<float>(q1) - mm1;
      }
    }
  }
}

// Q6_K (210 B): [0..128) ql (low 4 bits), [128..192) qh (high 2 bits), [192..208) int8 scales
// (one per 16 elements), [208] f16 d. Each 128-element half uses 64 ql and 32 qh bytes: for
// l < 32, element l = low nibble ql[l], l+32 = low nibble ql[l+32], l+64 = high nibble ql[l],
// l+96 = high nibble ql[l+32]; their high bits are bit pairs 0,2,4,6 of qh[l].
// value = d * scale * (q - 32).
void dequantize_row_q6_k(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQKK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQKK; ++blk, b += 210, dst += kQKK) {
    float d = load_f16(b + 208);
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b + 64 * half;
      const uint8_t* qh = b + 128 + 32 * half;
      const auto* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * half);
      float* y = dst + 128 * half;
      for (int l = 0; l < 32; ++l) {
        int q[4] = {(ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4), (ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4),
                    (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4), (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)};
        for (int k = 0; k < 4; ++k) {
          int elem = 32 * k + l;
          y[elem] = d * static_cast<float>(sc[elem / 16]) * static_cast<float>(q[k] - 32);
        }
      }
    }
  }
}

// Q8_K (292 B): [0] f32 d, [4..260) int8 q, [260..292) int16 bsums (unused); value = q * d.
void dequantize_row_q8_k(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQKK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQKK; ++blk, b += 292, dst += kQKK) {
    float d = f32_from_bits(load_u32(b));
    for (uint64_t j = 0; j < kQKK; ++j) dst[j] = static_cast<float>(static_cast<int8_t>(b[4 + j])) * d;
  }
}

// IQ4_NL (18 B): [0] f16 d, [2..18) nibbles ordered as Q4_0; value = d * kIq4NlValues[q].
void dequantize_row_iq4_nl(const void* src, float* dst, uint64_t n) {
  check_multiple(n, kQK);
  const auto* b = static_cast<const uint8_t*>(src);
  for (uint64_t blk = 0; blk < n / kQK; ++blk, b += 18, dst += kQK) {
    float d = load_f16(b);
    const uint8_t* qs = b + 2;
    for (int j = 0; j < 16; ++j) {
      dst[j] = d * static_cast<float>(kIq4NlValues[qs[j] & 0x0F]);
      dst[j + 16] = d * static_cast<float>(kIq4NlValues[qs[j] >> 4]);
    }
  }
}

Status dequantize_row_ref(GgmlType type, const void* src, float* dst, uint64_t n) {
  const GgmlTypeInfo& t = ggml_type_info(type);
  if (n % t.block_size != 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "dequantize %s: %llu elements is not a multiple of the block size %u",
                      std::string(t.name).c_str(), static_cast<unsigned long long>(n), t.block_size);
  }
  switch (type) {
    case GgmlType::kF32:
      dequantize_row_f32(src, dst, n);
      break;
    case GgmlType::kF16:
      dequantize_row_f16(src, dst, n);
      break;
    case GgmlType::kBF16:
      dequantize_row_bf16(src, dst, n);
      break;
    case GgmlType::kQ4_0:
      dequantize_row_q4_0(src, dst, n);
      break;
    case GgmlType::kQ4_1:
      dequantize_row_q4_1(src, dst, n);
      break;
    case GgmlType::kQ5_0:
      dequantize_row_q5_0(src, dst, n);
      break;
    case GgmlType::kQ5_1:
      dequantize_row_q5_1(src, dst, n);
      break;
    case GgmlType::kQ8_0:
      dequantize_row_q8_0(src, dst, n);
      break;
    case GgmlType::kQ8_1:
      dequantize_row_q8_1(src, dst, n);
      break;
    case GgmlType::kQ2_K:
      dequantize_row_q2_k(src, dst, n);
      break;
    case GgmlType::kQ3_K:
      dequantize_row_q3_k(src, dst, n);
      break;
    case GgmlType::kQ4_K:
      dequantize_row_q4_k(src, dst, n);
      break;
    case GgmlType::kQ5_K:
      dequantize_row_q5_k(src, dst, n);
      break;
    case GgmlType::kQ6_K:
      dequantize_row_q6_k(src, dst, n);
      break;
    case GgmlType::kQ8_K:
      dequantize_row_q8_k(src, dst, n);
      break;
    case GgmlType::kIQ4_NL:
      dequantize_row_iq4_nl(src, dst, n);
      break;
    default:
      return make_error(ErrorCode::kUnsupported, "no dequantizer for tensor type %s", std::string(t.name).c_str());
  }
  return ok_status();
}

}  // namespace baleen
