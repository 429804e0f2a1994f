// GgufWriter -> GgufFile round trip: every metadata type (nested, empty arrays, empty strings),
// tensors of several types under several alignments, compared field by field; plus writer
// argument errors.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/gguf_writer.h"
#include "kernels/ref/dequant.h"
#include "testing.h"

namespace baleen {
namespace {

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

struct TensorSpec {
  std::string name;
  GgmlType type;
  std::vector<uint64_t> ne;
};

void expect_same_value(const GgufValue& a, const GgufValue& b, const std::string& where) {
  ASSERT_EQ(a.type, b.type) << where;
  switch (a.type) {
    case GgufType::kString:
      EXPECT_EQ(a.s, b.s) << where;
      break;
    case GgufType::kFloat32:
    case GgufType::kFloat64:
      EXPECT_EQ(a.f, b.f) << where;
      break;
    case GgufType::kArray:
      ASSERT_TRUE(a.arr && b.arr) << where;
      ASSERT_EQ(a.arr->elem_type, b.arr->elem_type) << where;
      ASSERT_EQ(a.arr->items.size(), b.arr->items.size()) << where;
      for (size_t k = 0; k < a.arr->items.size(); ++k) {
        expect_same_value(a.arr->items[k], b.arr->items[k], where + "[" + std::to_string(k) + "]");
      }
      break;
    default:
      EXPECT_EQ(a.u, b.u) << where;
      EXPECT_EQ(a.i, b.i) << where;
  }
}

class GgufRoundTrip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufRoundTrip, EveryTypeAndTensor) {
  const uint32_t alignment = GetParam();  // 0: no general.alignment key (default 32)
  GgufWriter w;
  w.set_string("general.architecture", "deepseek2");
  if (alignment != 0) w.set_alignment(alignment);
  w.set_u8("t.u8", 250);
  w.set_i8("t.i8", -120);
  w.set_u16("t.u16", 65000);
  w.set_i16("t.i16", -32000);
  w.set_u32("t.u32", 4000000000u);
  w.set_i32("t.i32", -2000000000);
  w.set_u64("t.u64", 0xFEDCBA9876543210ull);
  w.set_i64("t.i64", -0x123456789ABCDEFll);
  w.set_f32("t.f32", 0.1f);
  w.set_f64("t.f64", -1e300);
  w.set_bool("t.true", true);
  w.set_bool("t.false", false);
  w.set_string("t.empty_string", "");
  w.set_string("t.utf8", "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");
  w.set_string_array("t.strings", {"a", "", "<｜User｜>", std::string("nul\0inside", 10)});
  w.set_array("t.empty_array", GgufArray{GgufType::kFloat32, {}});
  w.set_value("t.empty_string_array", gguf_array(GgufType::kString, {}));
  w.set_value("t.f32s", gguf_array(GgufType::kFloat32, {gguf_f32(1.5f), gguf_f32(-0.0f), gguf_f32(3e38f)}));
  w.set_value("t.i64s", gguf_array(GgufType::kInt64, {gguf_i64(INT64_MIN), gguf_i64(INT64_MAX)}));
  w.set_value("t.bools", gguf_array(GgufType::kBool, {gguf_bool(true), gguf_bool(false)}));
  w.set_value("t.u16s", gguf_array(GgufType::kUint16, {gguf_u16(1), gguf_u16(65535)}));
  // Nested: [[1, 2], [], [[ "deep" ]]] is not homogeneous in depth, so use [[1,2],[]] and a
  // separate three-level array of strings.
  w.set_value("t.nested", gguf_array(GgufType::kArray, {gguf_array(GgufType::kInt32, {gguf_i32(1), gguf_i32(-2)}),
                                                        gguf_array(GgufType::kInt32, {})}));
  w.set_value(
      "t.nested3",
      gguf_array(GgufType::kArray,
                 {gguf_array(GgufType::kArray, {gguf_array(GgufType::kString, {gguf_string("deep"), gguf_string("")})}),
                  gguf_array(GgufType::kArray, {})}));
  w.set_u32("t.replaced", 1);
  w.set_u32("t.replaced", 2);  // replaces in place

  const std::vector<TensorSpec> specs = {
      {"token_embd.weight", GgmlType::kF32, {7, 3}},
      {"blk.0.attn_norm.weight", GgmlType::kF16, {5}},
      {"blk.0.attn_q.weight", GgmlType::kQ8_0, {64, 3}},
      {"blk.0.ffn_up.weight", GgmlType::kQ4_K, {256, 2, 1}},
      {"blk.0.ffn_down.weight", GgmlType::kQ6_K, {512, 1}},
      {"blk.0.ffn_gate_exps.weight", GgmlType::kQ5_0, {32, 2, 2, 2}},
      {"blk.0.empty", GgmlType::kBF16, {0, 4}},
      {"rope_freqs.weight", GgmlType::kI32, {3}},
      {"output.weight", GgmlType::kIQ4_NL, {32, 1}},
  };
  std::vector<std::string> payloads;
  for (size_t k = 0; k < specs.size(); ++k) {
    uint64_t n = 1;
    for (uint64_t d : specs[k].ne) n *= d;
    const GgmlTypeInfo& info = ggml_type_info(specs[k].type);
    payloads.push_back(random_bytes(n / info.block_size * info.type_size, static_cast<uint32_t>(k + 1)));
    ASSERT_TRUE(w.add_tensor(specs[k].name, specs[k].type, specs[k].ne, payloads.back()).ok());
  }

  const std::string dir = testing::scratch_dir("gguf_roundtrip_" + std::to_string(alignment));
  const std::string path = dir + "/rt.gguf";
  Status st = w.write(path);
  ASSERT_TRUE(st.ok()) << st.error().to_string();
  auto g = GgufFile::open(path);
  ASSERT_TRUE(g.ok()) << g.error().to_string();

  EXPECT_EQ(g->version(), 3u);
  const uint64_t expect_align = alignment == 0 ? 32 : alignment;
  EXPECT_EQ(g->alignment(), expect_align);
  EXPECT_EQ(g->data_offset() % expect_align, 0u);
  EXPECT_EQ(g->architecture(), "deepseek2");
  ASSERT_EQ(g->metadata().size(), w.n_metadata());

  // Keys come back in insertion order (a replaced key keeps its first position).
  const std::vector<std::string> keys = {"general.architecture",
                                         "t.u8",
                                         "t.i8",
                                         "t.u16",
                                         "t.i16",
                                         "t.u32",
                                         "t.i32",
                                         "t.u64",
                                         "t.i64",
                                         "t.f32",
                                         "t.f64",
                                         "t.true",
                                         "t.false",
                                         "t.empty_string",
                                         "t.utf8",
                                         "t.strings",
                                         "t.empty_array",
                                         "t.empty_string_array",
                                         "t.f32s",
                                         "t.i64s",
                                         "t.bools",
                                         "t.u16s",
                                         "t.nested",
                                         "t.nested3",
                                         "t.replaced"};
  std::vector<std::string> got_keys;
  for (const auto& kv : g->metadata()) {
    if (kv.first != "general.alignment") got_keys.push_back(kv.first);
  }
  EXPECT_EQ(got_keys, keys);
  EXPECT_EQ(g->get_int("t.u8").value(), 250);
  EXPECT_EQ(g->find("t.u8")->type, GgufType::kUint8);
  EXPECT_EQ(g->get_int("t.i8").value(), -120);
  EXPECT_EQ(g->find("t.i8")->type, GgufType::kInt8);
  EXPECT_EQ(g->get_int("t.u16").value(), 65000);
  EXPECT_EQ(g->get_int("t.i16").value(), -32000);
  EXPECT_EQ(g->get_int("t.u32").value(), 4000000000ll);
  EXPECT_EQ(g->get_int("t.i32").value(), -2000000000);
  EXPECT_EQ(g->find("t.u64")->u, 0xFEDCBA9876543210ull);
  EXPECT_EQ(g->get_int("t.u64").error().code(), ErrorCode::kOutOfRange);
  EXPECT_EQ(g->get_int("t.i64").value(), -0x123456789ABCDEFll);
  EXPECT_EQ(g->get_number("t.f32").value(), static_cast<double>(0.1f));
  EXPECT_EQ(g->get_number("t.f64").value(), -1e300);
  EXPECT_TRUE(g->get_bool("t.true").value());
  EXPECT_FALSE(g->get_bool("t.false").value());
  EXPECT_EQ(g->get_string("t.empty_string").value(), "");
  EXPECT_EQ(g->get_string("t.utf8").value(), "caf\xC3\xA9 \xE2\x9C\x93 \xF0\x9F\x98\x80");
  auto strs = g->get_string_array("t.strings").value();
  ASSERT_EQ(strs.size(), 4u);
  EXPECT_EQ(strs[1], "");
  EXPECT_EQ(strs[2], "<｜User｜>");
  EXPECT_EQ(strs[3], std::string("nul\0inside", 10));
  EXPECT_TRUE(g->get_number_array("t.empty_array").value().empty());
  EXPECT_EQ(g->find("t.empty_array")->arr->elem_type, GgufType::kFloat32);
  EXPECT_TRUE(g->get_string_array("t.empty_string_array").value().empty());
  auto f32s = g->get_number_array("t.f32s").value();
  ASSERT_EQ(f32s.size(), 3u);
  EXPECT_EQ(f32s[0], 1.5);
  EXPECT_TRUE(std::signbit(f32s[1]));
  EXPECT_EQ(f32s[2], static_cast<double>(3e38f));
  auto i64s = g->get_int_array("t.i64s").value();
  EXPECT_EQ(i64s, (std::vector<int64_t>{INT64_MIN, INT64_MAX}));
  EXPECT_EQ(g->get_int_array("t.u16s").value(), (std::vector<int64_t>{1, 65535}));
  EXPECT_EQ(g->get_int("t.replaced").value(), 2);
  // Wrong-type getters name the key.
  auto bad = g->get_string_array("t.f32s");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorruptFile);
  EXPECT_NE(bad.error().message().find("t.f32s"), std::string::npos);
  // Array values compared structurally with freshly built copies of what the writer was given.
  expect_same_value(*g->find("t.bools"), gguf_array(GgufType::kBool, {gguf_bool(true), gguf_bool(false)}), "t.bools");
  expect_same_value(*g->find("t.nested"),
                    gguf_array(GgufType::kArray, {gguf_array(GgufType::kInt32, {gguf_i32(1), gguf_i32(-2)}),
                                                  gguf_array(GgufType::kInt32, {})}),
                    "t.nested");
  const GgufValue* nested = g->find("t.nested");
  ASSERT_NE(nested, nullptr);
  ASSERT_EQ(nested->arr->items.size(), 2u);
  EXPECT_EQ(nested->arr->items[0].arr->items[1].i, -2);
  EXPECT_TRUE(nested->arr->items[1].arr->items.empty());
  const GgufValue* nested3 = g->find("t.nested3");
  ASSERT_NE(nested3, nullptr);
  EXPECT_EQ(nested3->arr->items[0].arr->items[0].arr->items[0].s, "deep");
  EXPECT_EQ(nested3->arr->items[0].arr->items[0].arr->items[1].s, "");
  EXPECT_FALSE(nested3->to_display_string().empty());

  ASSERT_EQ(g->tensors().size(), specs.size());
  auto file = read_file(path).value();
  for (size_t k = 0; k < specs.size(); ++k) {
    const GgufTensorInfo& t = g->tensors()[k];
    EXPECT_EQ(t.name, specs[k].name);
    EXPECT_EQ(t.type, specs[k].type);
    EXPECT_EQ(t.ne, specs[k].ne);
    EXPECT_EQ(t.n_bytes, payloads[k].size());
    EXPECT_EQ(t.offset % expect_align, 0u) << t.name;
    ASSERT_TRUE(t.data != nullptr);
    EXPECT_EQ(std::memcmp(t.data, payloads[k].data(), payloads[k].size()), 0) << t.name;
    EXPECT_EQ(file.compare(g->data_offset() + t.offset, payloads[k].size(), payloads[k]), 0) << t.name;
    EXPECT_EQ(g->find_tensor(t.name), &t);
  }
  // Zero-copy: tensor pointers are the mapping's bytes at data_offset + offset.
  const GgufTensorInfo& t0 = g->tensors()[0];
  const GgufTensorInfo& t1 = g->tensors()[1];
  EXPECT_EQ(t1.data - t0.data, static_cast<std::ptrdiff_t>(t1.offset - t0.offset));
  EXPECT_EQ(g->find_tensor("missing"), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Alignments, GgufRoundTrip, ::testing::Values(0u, 1u, 8u, 64u, 4096u));

TEST(GgufWriter, RejectsBadInput) {
  GgufWriter w;
  std::string bytes(34, '\0');
  EXPECT_TRUE(w.add_tensor("a", GgmlType::kQ8_0, {32}, bytes).ok());
  EXPECT_EQ(w.add_tensor("a", GgmlType::kQ8_0, {32}, bytes).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(w.add_tensor("b", GgmlType::kQ8_0, {16, 2}, bytes).ok());  // ne0 not a multiple of 32
  EXPECT_FALSE(w.add_tensor("c", GgmlType::kQ8_0, {64}, bytes).ok());     // byte count mismatch
  EXPECT_FALSE(w.add_tensor("d", GgmlType::kF32, {1, 1, 1, 1, 1}, std::string(4, '\0')).ok());  // 5 dims
  EXPECT_FALSE(w.add_tensor(std::string(65, 'x'), GgmlType::kF32, {1}, std::string(4, '\0')).ok());
  w.set_u32("general.alignment", 48);
  EXPECT_FALSE(w.serialize().ok());
  w.set_alignment(16);
  EXPECT_TRUE(w.serialize().ok());
  w.set_value("mixed", gguf_array(GgufType::kUint8, {gguf_u8(1), gguf_i8(2)}));
  EXPECT_FALSE(w.serialize().ok());
}

TEST(GgufWriter, QuantizedTensorSurvivesRoundTrip) {
  // A tensor written by the writer reads back and dequantizes to the same floats.
  std::vector<float> x(256);
  for (int k = 0; k < 256; ++k) x[k] = static_cast<float>(k % 17) * 0.25f - 2.0f;
  std::string f32(reinterpret_cast<const char*>(x.data()), x.size() * 4);
  GgufWriter w;
  ASSERT_TRUE(w.add_tensor("x", GgmlType::kF32, {256}, f32).ok());
  const std::string path = testing::scratch_dir("gguf_roundtrip_q") + "/x.gguf";
  ASSERT_TRUE(w.write(path).ok());
  auto g = GgufFile::open(path);
  ASSERT_TRUE(g.ok());
  std::vector<float> y(256);
  ASSERT_TRUE(dequantize_row_ref(GgmlType::kF32, g->tensors()[0].data, y.data(), 256).ok());
  EXPECT_EQ(x, y);
}

}  // namespace
}  // namespace baleen
