// Reference dequantizers checked on hand-built blocks: the test chooses quant codes, scales and
// mins, packs them by the byte layout written out from ggml's block definitions (its own packers,
// not the library's), and expects the values given by the format formula. Scales are powers of
// two so every product is exact. Also: the ggml type table, and quantize -> dequantize round
// trips of the reference quantizers within error bounds derived from each format.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/ref/dequant.h"
#include "kernels/ref/quantize.h"
#include "tensor/dtype.h"

namespace baleen {
namespace {

constexpr uint16_t kF16Half = 0x3800;      // 0.5
constexpr uint16_t kF16Quarter = 0x3400;   // 0.25
constexpr uint16_t kF16One = 0x3C00;       // 1.0
constexpr uint16_t kF16MinusOne = 0xBC00;  // -1.0
constexpr uint16_t kF16Eighth = 0x3000;    // 0.125

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
  b[at] = v & 0xFF;
  b[at + 1] = v >> 8;
}

std::vector<float> dequant(GgmlType t, const std::vector<uint8_t>& block, uint64_t n) {
  std::vector<float> out(n, -12345.0f);
  Status st = dequantize_row_ref(t, block.data(), out.data(), n);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().to_string());
  return out;
}

TEST(GgmlTypeTable, BlockSizesMatchGgml) {
  struct Row {
    uint32_t id;
    uint32_t block, bytes;
  };
  // ggml-common.h / gguf.md: ids and (elements, bytes) per block.
  const Row rows[] = {{0, 1, 4},      {1, 1, 2},      {30, 1, 2},     {2, 32, 18},   {3, 32, 20},    {6, 32, 22},
                      {7, 32, 24},    {8, 32, 34},    {9, 32, 36},    {10, 256, 84}, {11, 256, 110}, {12, 256, 144},
                      {13, 256, 176}, {14, 256, 210}, {15, 256, 292}, {20, 32, 18},  {24, 1, 1},     {25, 1, 2},
                      {26, 1, 4},     {27, 1, 8},     {28, 1, 8}};
  for (const Row& r : rows) {
    auto info = ggml_type_info(r.id);
    ASSERT_TRUE(info.has_value()) << r.id;
    EXPECT_EQ(info->block_size, r.block) << info->name;
    EXPECT_EQ(info->type_size, r.bytes) << info->name;
    EXPECT_EQ(static_cast<uint32_t>(info->type), r.id);
    EXPECT_EQ(&ggml_type_info(info->type), &ggml_type_info(info->type));
  }
  EXPECT_FALSE(ggml_type_info(4).has_value());   // removed Q4_2
  EXPECT_FALSE(ggml_type_info(16).has_value());  // IQ2_XXS: not handled
  EXPECT_FALSE(ggml_type_info(1000).has_value());
  EXPECT_EQ(ggml_type_info(GgmlType::kQ4_K).name, "q4_K");
}

TEST(DequantRef, PlainTypes) {
  std::vector<uint8_t> b(8);
  float f[2] = {1.5f, -3.25f};
  std::memcpy(b.data(), f, 8);
  auto y = dequant(GgmlType::kF32, b, 2);
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_EQ(y[1], -3.25f);
  put16(b, 0, 0x3E00);  // f16 1.5
  put16(b, 2, 0xC280);  // f16 -3.25
  y = dequant(GgmlType::kF16, b, 2);
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_EQ(y[1], -3.25f);
  put16(b, 0, 0x3FC0);  // bf16 1.5
  put16(b, 2, 0xC050);  // bf16 -3.25
  y = dequant(GgmlType::kBF16, b, 2);
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_EQ(y[1], -3.25f);
}

TEST(DequantRef, Q4_0) {
  std::vector<uint8_t> b(18);
  put16(b, 0, kF16Half);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  auto y = dequant(GgmlType::kQ4_0, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], (j - 8) * 0.5f) << j;
    EXPECT_EQ(y[j + 16], (15 - j - 8) * 0.5f) << j;
  }
}

TEST(DequantRef, Q4_1) {
  std::vector<uint8_t> b(20);
  put16(b, 0, kF16Quarter);
  put16(b, 2, kF16MinusOne);
  for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(((j * 5) % 16) | (((j * 3 + 1) % 16) << 4));
  auto y = dequant(GgmlType::kQ4_1, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], ((j * 5) % 16) * 0.25f - 1.0f);
    EXPECT_EQ(y[j + 16], ((j * 3 + 1) % 16) * 0.25f - 1.0f);
  }
}

// Packs 32 five-bit codes: low nibbles as Q4_0, bit 4 of element e at bit e of the u32 qh.
void pack_q5(const int* q, uint8_t* qh, uint8_t* qs) {
  uint32_t h = 0;
  for (int e = 0; e < 32; ++e) h |= static_cast<uint32_t>((q[e] >> 4) & 1) << e;
  for (int k = 0; k < 4; ++k) qh[k] = static_cast<uint8_t>(h >> (8 * k));
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((q[j] & 15) | ((q[j + 16] & 15) << 4));
}

TEST(DequantRef, Q5_0AndQ5_1) {
  int q[32];
  for (int e = 0; e < 32; ++e) q[e] = (e * 11 + 3) % 32;
  std::vector<uint8_t> b0(22);
  put16(b0, 0, kF16Eighth);
  pack_q5(q, &b0[2], &b0[6]);
  auto y = dequant(GgmlType::kQ5_0, b0, 32);
  for (int e = 0; e < 32; ++e) EXPECT_EQ(y[e], (q[e] - 16) * 0.125f) << e;

  std::vector<uint8_t> b1(24);
  put16(b1, 0, kF16Half);
  put16(b1, 2, kF16One);
  pack_q5(q, &b1[4], &b1[8]);
  y = dequant(GgmlType::kQ5_1, b1, 32);
  for (int e = 0; e < 32; ++e) EXPECT_EQ(y[e], q[e] * 0.5f + 1.0f) << e;
}

TEST(DequantRef, Q8_0Q8_1Q8_K) {
  std::vector<uint8_t> b(34);
  put16(b, 0, kF16Quarter);
  for (int j = 0; j < 32; ++j) b[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(j * 8 - 128));
  auto y = dequant(GgmlType::kQ8_0, b, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], (j * 8 - 128) * 0.25f);

  std::vector<uint8_t> b1(36);
  put16(b1, 0, kF16Half);
  put16(b1, 2, 0x7BFF);  // s: ignored by dequantization
  for (int j = 0; j < 32; ++j) b1[4 + j] = static_cast<uint8_t>(static_cast<int8_t>(127 - j * 7));
  y = dequant(GgmlType::kQ8_1, b1, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], (127 - j * 7) * 0.5f);

  std::vector<uint8_t> bk(292);
  float d = 0.0625f;
  std::memcpy(bk.data(), &d, 4);
  for (int j = 0; j < 256; ++j) bk[4 + j] = static_cast<uint8_t>(static_cast<int8_t>((j * 37) % 256 - 128));
  y = dequant(GgmlType::kQ8_K, bk, 256);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(y[j], ((j * 37) % 256 - 128) * 0.0625f);
}

TEST(DequantRef, Iq4Nl) {
  // kvalues_iq4nl from ggml-common.h.
  const int kv[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
  std::vector<uint8_t> b(18);
  put16(b, 0, kF16Quarter);
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(j | ((j * 7 % 16) << 4));
  auto y = dequant(GgmlType::kIQ4_NL, b, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], kv[j] * 0.25f);
    EXPECT_EQ(y[j + 16], kv[j * 7 % 16] * 0.25f);
  }
}

// Q2_K / Q3_K 2-bit placement: element e = 128*h + 32*k + l sits in bits 2k..2k+1 of qs[32h + l].
void pack_2bit(const int* low2, uint8_t* qs) {
  std::memset(qs, 0, 64);
  for (int e = 0; e < 256; ++e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    qs[32 * h + l] |= static_cast<uint8_t>((low2[e] & 3) << (2 * k));
  }
}

TEST(DequantRef, Q2_K) {
  std::vector<uint8_t> b(84);
  int q[256], sc[16], mn[16];
  for (int e = 0; e < 256; ++e) q[e] = (e * 3 + e / 7) % 4;
  for (int s = 0; s < 16; ++s) {
    sc[s] = (s * 5 + 1) % 16;
    mn[s] = (s * 3 + 2) % 16;
    b[s] = static_cast<uint8_t>(sc[s] | (mn[s] << 4));
  }
  pack_2bit(q, &b[16]);
  put16(b, 80, kF16Half);     // d
  put16(b, 82, kF16Quarter);  // dmin
  auto y = dequant(GgmlType::kQ2_K, b, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.5f * sc[e / 16] * q[e] - 0.25f * mn[e / 16]) << e;
}

TEST(DequantRef, Q3_K) {
  std::vector<uint8_t> b(110);
  int q[256], low[256], sc[16];
  for (int e = 0; e < 256; ++e) {
    q[e] = (e * 5 + e / 9) % 8 - 4;  // [-4, 3]
    low[e] = (q[e] + 4) & 3;
  }
  // hmask: bit (4h + k) of hmask[l] is the third bit of element 128h + 32k + l.
  for (int e = 0; e < 256; ++e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    if (((q[e] + 4) >> 2) & 1) b[l] |= static_cast<uint8_t>(1 << (4 * h + k));
  }
  pack_2bit(low, &b[32]);
  // 16 six-bit scales stored as s + 32: low nibbles (i < 8: byte i low, else byte i-8 high),
  // high 2 bits in byte 8 + i%4 at bit 2*(i/4).
  uint8_t* s12 = &b[96];
  for (int i = 0; i < 16; ++i) {
    sc[i] = (i * 13) % 64 - 32;
    int u = sc[i] + 32;
    if (i < 8) {
      s12[i] |= static_cast<uint8_t>(u & 15);
    } else {
      s12[i - 8] |= static_cast<uint8_t>((u & 15) << 4);
    }
    s12[8 + i % 4] |= static_cast<uint8_t>((u >> 4) << (2 * (i / 4)));
  }
  put16(b, 108, kF16Quarter);
  auto y = dequant(GgmlType::kQ3_K, b, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.25f * sc[e / 16] * q[e]) << e;
}

// Q4_K / Q5_K scales: 8 (scale, min) 6-bit pairs in 12 bytes.
void pack_k4_scales(const int* sc, const int* mn, uint8_t* s) {
  std::memset(s, 0, 12);
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
  }
}

TEST(DequantRef, Q4_KAndQ5_K) {
  int sc[8], mn[8], q[256];
  for (int j = 0; j < 8; ++j) {
    sc[j] = (j * 23 + 5) % 64;  // exercises both the low and the high (>= 16) 6-bit values
    mn[j] = (j * 41 + 60) % 64;
  }
  for (int e = 0; e < 256; ++e) q[e] = (e * 7 + e / 13) % 32;
  {
    std::vector<uint8_t> b(144);
    put16(b, 0, kF16Eighth);
    put16(b, 2, kF16Half);
    pack_k4_scales(sc, mn, &b[4]);
    // 64 elements per 32 qs bytes: first 32 in low nibbles, next 32 in high nibbles.
    for (int e = 0; e < 256; ++e)
      b[16 + 32 * (e / 64) + e % 32] |= static_cast<uint8_t>((q[e] & 15) << (((e % 64) / 32) * 4));
    auto y = dequant(GgmlType::kQ4_K, b, 256);
    for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.125f * sc[e / 32] * (q[e] & 15) - 0.5f * mn[e / 32]) << e;
  }
  {
    std::vector<uint8_t> b(176);
    put16(b, 0, kF16Eighth);
    put16(b, 2, kF16Half);
    pack_k4_scales(sc, mn, &b[4]);
    for (int e = 0; e < 256; ++e) {
      b[48 + 32 * (e / 64) + e % 32] |= static_cast<uint8_t>((q[e] & 15) << (((e % 64) / 32) * 4));
      b[16 + e % 32] |= static_cast<uint8_t>(((q[e] >> 4) & 1) << (e / 32));  // 5th bit
    }
    auto y = dequant(GgmlType::kQ5_K, b, 256);
    for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.125f * sc[e / 32] * q[e] - 0.5f * mn[e / 32]) << e;
  }
}

TEST(DequantRef, Q6_K) {
  std::vector<uint8_t> b(210);
  int q[256], sc[16];
  for (int e = 0; e < 256; ++e) q[e] = (e * 29 + e / 5) % 64;
  for (int s = 0; s < 16; ++s) {
    sc[s] = (s * 37) % 256 - 128;
    b[192 + s] = static_cast<uint8_t>(static_cast<int8_t>(sc[s]));
  }
  // Element e = 128h + 32k + l: low nibble in ql[64h + l + 32*(k%2)] (k < 2 low nibble, k >= 2
  // high nibble); high 2 bits in qh[32h + l] at bit 2k.
  for (int e = 0; e < 256; ++e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    b[64 * h + l + 32 * (k % 2)] |= static_cast<uint8_t>((q[e] & 15) << (k >= 2 ? 4 : 0));
    b[128 + 32 * h + l] |= static_cast<uint8_t>((q[e] >> 4) << (2 * k));
  }
  put16(b, 208, kF16Quarter);
  auto y = dequant(GgmlType::kQ6_K, b, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.25f * sc[e / 16] * (q[e] - 32)) << e;
}

TEST(DequantRef, Errors) {
  std::vector<uint8_t> b(64);
  std::vector<float> y(64);
  Status st = dequantize_row_ref(GgmlType::kQ4_0, b.data(), y.data(), 31);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message().find("q4_0"), std::string::npos);
  st = dequantize_row_ref(GgmlType::kI32, b.data(), y.data(), 4);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kUnsupported);
  st = quantize_row_ref(GgmlType::kQ2_K, y.data(), b.data(), 256);
  EXPECT_FALSE(st.ok());
}

// Round trip on Gaussian data (with a few blocks scaled, shifted and constant). Per-element
// bounds follow from each quantizer's construction (see kernels/ref/quantize.h): rounding to
// nearest gives half a step; symmetric types clamp the opposite extreme (one step); f16 storage
// of the scale adds a relative 2^-11.
TEST(QuantizeRef, RoundTripWithinFormatBounds) {
  std::mt19937 rng(1234);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  const uint64_t n = 256 * 16;
  std::vector<float> x(n);
  for (uint64_t k = 0; k < n; ++k) x[k] = nd(rng);
  for (uint64_t k = 256; k < 512; ++k) x[k] = x[k] * 0.01f + 3.0f;    // all positive
  for (uint64_t k = 512; k < 768; ++k) x[k] = x[k] * 100.0f - 50.0f;  // large
  for (uint64_t k = 768; k < 1024; ++k) x[k] = 0.0f;                  // all zero
  for (uint64_t k = 1024; k < 1280; ++k) x[k] = -0.75f;               // constant negative

  struct Case {
    GgmlType type;
    double nmse_max;  // over the Gaussian part; 4-bit uniform grids give ~1e-2, each bit /4
  };
  const Case cases[] = {{GgmlType::kQ8_0, 1e-4}, {GgmlType::kQ4_0, 2e-2},   {GgmlType::kQ4_1, 1.5e-2},
                        {GgmlType::kQ5_0, 5e-3}, {GgmlType::kQ5_1, 4e-3},   {GgmlType::kQ4_K, 1.5e-2},
                        {GgmlType::kQ5_K, 4e-3}, {GgmlType::kQ6_K, 1.5e-3}, {GgmlType::kF16, 1e-7},
                        {GgmlType::kBF16, 1e-4}};
  for (const Case& c : cases) {
    const GgmlTypeInfo& info = ggml_type_info(c.type);
    std::vector<uint8_t> q(ggml_row_bytes(c.type, n));
    ASSERT_TRUE(quantize_row_ref(c.type, x.data(), q.data(), n).ok());
    std::vector<float> y(n);
    ASSERT_TRUE(dequantize_row_ref(c.type, q.data(), y.data(), n).ok());
    const uint64_t bs = info.block_size == 1 ? 32 : info.block_size;
    double err2 = 0, ref2 = 0;
    for (uint64_t blk = 0; blk < n / bs; ++blk) {
      const float* xb = &x[blk * bs];
      const float* yb = &y[blk * bs];
      float mn = xb[0], mx = xb[0], amax = 0;
      for (uint64_t j = 0; j < bs; ++j) {
        mn = std::min(mn, xb[j]);
        mx = std::max(mx, xb[j]);
        amax = std::max(amax, std::fabs(xb[j]));
      }
      double bound = 0;
      switch (c.type) {
        case GgmlType::kQ8_0:
          bound = 0.501 * amax / 127;
          break;
        case GgmlType::kQ4_0:
          bound = 1.002 * amax / 8;
          break;
        case GgmlType::kQ5_0:
          bound = 1.002 * amax / 16;
          break;
        case GgmlType::kQ4_1:
          bound = 0.51 * (mx - mn) / 15 + std::fabs(mn) * 1e-3;
          break;
        case GgmlType::kQ5_1:
          bound = 0.51 * (mx - mn) / 31 + std::fabs(mn) * 1e-3;
          break;
        // K-quants: offset min(0, min) and range up to max(0, max); scales rounded up on a 6-bit
        // grid add at most 1/63 of the largest range, so half a step is <= 0.52 range/(L-1).
        case GgmlType::kQ4_K:
          bound = 0.55 * (std::max(mx, 0.0f) - std::min(mn, 0.0f)) / 15;
          break;
        case GgmlType::kQ5_K:
          bound = 0.55 * (std::max(mx, 0.0f) - std::min(mn, 0.0f)) / 31;
          break;
        case GgmlType::kQ6_K:
          bound = 1.02 * amax / 32;
          break;
        default:
          bound = amax * (c.type == GgmlType::kF16 ? 1e-3 : 4e-3);
          break;
      }
      for (uint64_t j = 0; j < bs; ++j) {
        double e = std::fabs(static_cast<double>(yb[j]) - xb[j]);
        ASSERT_LE(e, bound + 1e-6) << info.name << " block " << blk << " elem " << j << " x=" << xb[j]
                                   << " y=" << yb[j];
        if (blk * bs >= 1280) {
          err2 += e * e;
          ref2 += static_cast<double>(xb[j]) * xb[j];
        }
      }
    }
    double nmse = err2 / ref2;
    EXPECT_LT(nmse, c.nmse_max) << info.name;
    std::printf("quantize round trip %-6s NMSE %.3g (threshold %.3g)\n", std::string(info.name).c_str(), nmse,
                c.nmse_max);
  }
}

}  // namespace
}  // namespace baleen
