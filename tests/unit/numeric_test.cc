// Numeric conversions checked against formulas and IEEE facts (independent of the code under test).
#include <gtest/gtest.h>

#include <cmath>

#include "core/checked.h"
#include "core/utf8.h"
#include "tensor/numeric.h"

namespace baleen {
namespace {

TEST(Numeric, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7C00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
}

TEST(Numeric, F16RoundTripAllFinite) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    uint16_t v = static_cast<uint16_t>(h);
    if (((v >> 10) & 0x1F) == 0x1F) continue;  // inf/NaN
    ASSERT_EQ(f32_to_f16(f16_to_f32(v)), v) << std::hex << h;
  }
  // Ties round to even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10.
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(f32_to_f16(70000.0f), 0x7C00);
}

TEST(Numeric, Bf16) {
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: rounds to even (1).
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);
}

TEST(Numeric, E4m3) {
  // Formula: (-1)^s * 2^(e-7) * (1 + m/8), subnormal 2^-6 * m/8; 0x7F is NaN, max 448.
  for (int v = 0; v < 256; ++v) {
    int s = v >> 7, e = (v >> 3) & 15, m = v & 7;
    double want = (e == 0) ? std::ldexp(m / 8.0, -6) : std::ldexp(1.0 + m / 8.0, e - 7);
    if (s) want = -want;
    float got = e4m3_to_f32(static_cast<uint8_t>(v));
    if (e == 15 && m == 7) {
      EXPECT_TRUE(std::isnan(got));
    } else {
      EXPECT_EQ(got, static_cast<float>(want)) << v;
      EXPECT_EQ(f32_to_e4m3(got), v == 0x80 ? 0x80 : v) << v;
    }
  }
  EXPECT_EQ(e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(f32_to_e4m3(1000.0f), 0x7E);  // saturates
  EXPECT_EQ(f32_to_e4m3(-1000.0f), 0xFE);
}

TEST(Checked, Overflow) {
  uint64_t out = 0;
  EXPECT_FALSE(checked_mul(UINT64_MAX / 2 + 1, 2, &out));
  EXPECT_TRUE(checked_mul(1u << 20, 1u << 20, &out));
  EXPECT_EQ(out, 1ull << 40);
  EXPECT_FALSE(checked_add(UINT64_MAX, 1, &out));
  EXPECT_FALSE(range_inside(10, UINT64_MAX, 100));
  EXPECT_TRUE(range_inside(10, 90, 100));
  EXPECT_FALSE(range_inside(10, 91, 100));
  EXPECT_TRUE(checked_align_up(33, 32, &out));
  EXPECT_EQ(out, 64u);
  EXPECT_FALSE(checked_align_up(UINT64_MAX - 1, 32, &out));
}

TEST(Utf8, DecodeAndIncomplete) {
  std::string s = "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80";  // a é 中 😀
  auto u = utf8::to_u32(s);
  ASSERT_EQ(u.size(), 4u);
  EXPECT_EQ(u[1], 0xE9u);
  EXPECT_EQ(u[2], 0x4E2Du);
  EXPECT_EQ(u[3], 0x1F600u);
  EXPECT_EQ(utf8::incomplete_suffix_length("a\xF0\x9F\x98"), 3u);
  EXPECT_EQ(utf8::incomplete_suffix_length("a\xC3"), 1u);
  EXPECT_EQ(utf8::incomplete_suffix_length(s), 0u);
  EXPECT_FALSE(utf8::is_valid("\xC0\xAF"));      // overlong
  EXPECT_FALSE(utf8::is_valid("\xED\xA0\x80"));  // surrogate
  EXPECT_TRUE(utf8::is_valid(s));
  std::string enc;
  for (char32_t c : u) utf8::append(enc, c);
  EXPECT_EQ(enc, s);
}

}  // namespace
}  // namespace baleen
