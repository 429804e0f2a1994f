// Round trips through SafetensorsWriter and the reader: dtypes, shapes, metadata, zero-copy views,
// to_f32 conversions, sharded folders with an index, and FP8 block dequantization against values
// computed by hand in the test.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "io/fp8_weights.h"
#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "kernels/ref/fp8_dequant.h"
#include "tensor/numeric.h"
#include "testing.h"

namespace baleen {
namespace {

std::string raw(const void* p, size_t n) { return std::string(static_cast<const char*>(p), n); }

TEST(SafetensorsDtype, NamesAndSizes) {
  struct Case {
    const char* name;
    uint32_t size;
  } cases[] = {{"F32", 4},  {"F16", 2}, {"BF16", 2}, {"F8_E4M3", 1}, {"I32", 4}, {"I64", 8},
               {"BOOL", 1}, {"U8", 1},  {"I8", 1},   {"I16", 2},     {"F64", 8}};
  for (const Case& c : cases) {
    auto d = parse_safetensors_dtype(c.name);
    ASSERT_TRUE(d.has_value()) << c.name;
    EXPECT_EQ(safetensors_dtype_size(*d), c.size) << c.name;
    EXPECT_STREQ(safetensors_dtype_name(*d), c.name);
  }
  EXPECT_FALSE(parse_safetensors_dtype("F4").has_value());
  EXPECT_FALSE(parse_safetensors_dtype("f32").has_value());
}

TEST(Safetensors, RoundTripSingleFile) {
  std::string dir = testing::scratch_dir("safetensors_roundtrip");
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  const float f32[6] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, -7.0f};
  ASSERT_TRUE(w.add("a.f32", SafetensorsDtype::kF32, {2, 3}, raw(f32, sizeof(f32))).ok());
  // BF16 0x3FC0 = 1.5, 0xC000 = -2; F16 0x3C00 = 1, 0xC500 = -5.
  const uint16_t bf16[2] = {0x3FC0, 0xC000};
  ASSERT_TRUE(w.add("b.bf16", SafetensorsDtype::kBF16, {2}, raw(bf16, sizeof(bf16))).ok());
  const uint16_t f16[2] = {0x3C00, 0xC500};
  ASSERT_TRUE(w.add("c.f16", SafetensorsDtype::kF16, {1, 2}, raw(f16, sizeof(f16))).ok());
  // e4m3fn: 0x38 = 1.0, 0x40 = 2.0, 0xC8 = -4.0, 0x7E = 448, 0x01 = 2^-9.
  const uint8_t e4m3[5] = {0x38, 0x40, 0xC8, 0x7E, 0x01};
  ASSERT_TRUE(w.add("d.fp8", SafetensorsDtype::kF8E4M3, {5}, raw(e4m3, sizeof(e4m3))).ok());
  const int32_t i32[3] = {-1, 0, 123456};
  ASSERT_TRUE(w.add("e.i32", SafetensorsDtype::kI32, {3}, raw(i32, sizeof(i32))).ok());
  const int64_t i64[2] = {-5, 1LL << 40};
  ASSERT_TRUE(w.add("f.i64", SafetensorsDtype::kI64, {2}, raw(i64, sizeof(i64))).ok());
  ASSERT_TRUE(w.add("g.empty", SafetensorsDtype::kF32, {0, 4}, "").ok());
  const float scalar = 42.0f;
  ASSERT_TRUE(w.add("h.scalar", SafetensorsDtype::kF32, {}, raw(&scalar, 4)).ok());
  // Writer rejects bad input.
  EXPECT_FALSE(w.add("a.f32", SafetensorsDtype::kF32, {1}, raw(f32, 4)).ok());
  EXPECT_FALSE(w.add("bad", SafetensorsDtype::kF32, {2}, raw(f32, 4)).ok());
  EXPECT_FALSE(w.add("__metadata__", SafetensorsDtype::kF32, {1}, raw(f32, 4)).ok());

  const std::string path = dir + "/x.safetensors";
  ASSERT_TRUE(w.write(path).ok());
  auto f = SafetensorsFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->tensors().size(), 8u);
  EXPECT_EQ(f->header_bytes() % 8, 0u);
  ASSERT_EQ(f->metadata().count("format"), 1u);
  EXPECT_EQ(f->metadata().at("format"), "pt");
  EXPECT_EQ(f->find("nope"), nullptr);

  const SafetensorsTensor* a = f->find("a.f32");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, SafetensorsDtype::kF32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a->n_bytes, 24u);
  EXPECT_EQ(a->n_elements(), 6u);
  EXPECT_EQ(std::memcmp(a->data, f32, 24), 0);
  EXPECT_EQ(a->describe(), "a.f32 F32 [2, 3]");

  auto check = [&](const char* name, std::vector<float> want) {
    const SafetensorsTensor* t = f->find(name);
    ASSERT_NE(t, nullptr) << name;
    auto v = to_f32(*t);
    ASSERT_TRUE(v.ok()) << v.error().to_string();
    EXPECT_EQ(*v, want) << name;
  };
  check("a.f32", {1.5f, -2.0f, 0.0f, 3.25f, 1e-3f, -7.0f});
  check("b.bf16", {1.5f, -2.0f});
  check("c.f16", {1.0f, -5.0f});
  check("d.fp8", {1.0f, 2.0f, -4.0f, 448.0f, std::ldexp(1.0f, -9)});
  check("e.i32", {-1.0f, 0.0f, 123456.0f});
  check("f.i64", {-5.0f, std::ldexp(1.0f, 40)});
  check("g.empty", {});
  check("h.scalar", {42.0f});
  EXPECT_EQ(f->find("h.scalar")->shape.size(), 0u);

  // The same file through SafetensorsModel (file path and folder path).
  auto m = SafetensorsModel::open(path);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->tensors().size(), 8u);
  EXPECT_EQ(m->tensors().front()->name, "a.f32");  // sorted by name
  std::filesystem::rename(path, dir + "/model.safetensors");
  auto m2 = SafetensorsModel::open_folder(dir);
  ASSERT_TRUE(m2.ok()) << m2.error().to_string();
  ASSERT_NE(m2->find("e.i32"), nullptr);
  SafetensorsModel moved = std::move(m2).value();  // views survive a move
  EXPECT_EQ(to_f32(*moved.find("e.i32"))->at(2), 123456.0f);
}

TEST(Safetensors, AddF32Conversions) {
  std::string dir = testing::scratch_dir("safetensors_addf32");
  SafetensorsWriter w;
  ASSERT_TRUE(w.add_f32("bf", SafetensorsDtype::kBF16, {3}, {1.0f, -0.5f, 3.0f}).ok());
  ASSERT_TRUE(w.add_f32("h", SafetensorsDtype::kF16, {2}, {0.25f, 65504.0f}).ok());
  ASSERT_TRUE(w.add_f32("q", SafetensorsDtype::kF8E4M3, {3}, {1.0f, 1000.0f, -0.0625f}).ok());
  EXPECT_FALSE(w.add_f32("i", SafetensorsDtype::kI32, {1}, {1.0f}).ok());
  ASSERT_TRUE(w.write(dir + "/a.safetensors").ok());
  auto f = SafetensorsFile::open(dir + "/a.safetensors");
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(*to_f32(*f->find("bf")), (std::vector<float>{1.0f, -0.5f, 3.0f}));
  EXPECT_EQ(*to_f32(*f->find("h")), (std::vector<float>{0.25f, 65504.0f}));
  EXPECT_EQ(*to_f32(*f->find("q")), (std::vector<float>{1.0f, 448.0f, -0.0625f}));  // saturates
}

// Two shards plus an index; the model sees the union and each view points into its own shard.
TEST(Safetensors, ShardedFolder) {
  std::string dir = testing::scratch_dir("safetensors_sharded");
  SafetensorsWriter s1, s2;
  ASSERT_TRUE(s1.add_f32("model.embed_tokens.weight", SafetensorsDtype::kF32, {2, 2}, {1, 2, 3, 4}).ok());
  ASSERT_TRUE(s1.add_f32("model.norm.weight", SafetensorsDtype::kBF16, {2}, {0.5f, 0.25f}).ok());
  ASSERT_TRUE(s2.add_f32("lm_head.weight", SafetensorsDtype::kF32, {2, 2}, {5, 6, 7, 8}).ok());
  ASSERT_TRUE(s1.write(dir + "/model-00001-of-00002.safetensors").ok());
  ASSERT_TRUE(s2.write(dir + "/model-00002-of-00002.safetensors").ok());
  ASSERT_TRUE(write_safetensors_index(dir + "/model.safetensors.index.json",
                                      {{"model.embed_tokens.weight", "model-00001-of-00002.safetensors"},
                                       {"model.norm.weight", "model-00001-of-00002.safetensors"},
                                       {"lm_head.weight", "model-00002-of-00002.safetensors"}},
                                      s1.data_bytes() + s2.data_bytes())
                  .ok());
  auto m = SafetensorsModel::open_folder(dir);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->shards().size(), 2u);
  ASSERT_EQ(m->tensors().size(), 3u);
  EXPECT_EQ(m->tensors()[0]->name, "lm_head.weight");
  EXPECT_EQ(*to_f32(*m->find("lm_head.weight")), (std::vector<float>{5, 6, 7, 8}));
  EXPECT_EQ(*to_f32(*m->find("model.norm.weight")), (std::vector<float>{0.5f, 0.25f}));
  EXPECT_NE(m->find("lm_head.weight")->file.find("00002"), std::string::npos);
  EXPECT_EQ(m->index_metadata().at("total_size"), std::to_string(16 + 4 + 16));
  // The index file itself is accepted as the path too.
  EXPECT_TRUE(SafetensorsModel::open(dir + "/model.safetensors.index.json").ok());
}

TEST(Safetensors, MissingFolderContents) {
  std::string dir = testing::scratch_dir("safetensors_empty_folder");
  auto m = SafetensorsModel::open_folder(dir);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), ErrorCode::kNotFound);
  auto f = SafetensorsFile::open(dir + "/absent.safetensors");
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.error().code(), ErrorCode::kIo);
}

// Kernel: hand-computed values with partial edge blocks (block 2x2 over a 3x3 weight).
TEST(Fp8Dequant, ReferenceKernelPartialBlocks) {
  const uint8_t q[9] = {0x38, 0x40, 0x38,           // 1 2 1
                        0x38, 0x38, 0xB8,           // 1 1 -1
                        0x40, 0x38, 0x30};          // 2 1 0.5
  const float scale[4] = {0.5f, 2.0f, 4.0f, 8.0f};  // [ceil(3/2), ceil(3/2)]
  float out[9];
  fp8_block_dequant_ref(q, scale, 3, 3, 2, 2, out);
  const float want[9] = {0.5f, 1.0f, 2.0f, 0.5f, 0.5f, -2.0f, 8.0f, 4.0f, 4.0f};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(out[i], want[i]) << i;
}

// io layer: 130x260 weight (partial 128-blocks in both directions), scales looked up by name.
TEST(Fp8Dequant, ModelWeightWithScale) {
  std::string dir = testing::scratch_dir("fp8_model");
  const int64_t rows = 130, cols = 260;
  std::vector<uint8_t> q(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i) q[i] = static_cast<uint8_t>((i * 37) % 0x7E);  // no NaN codes
  const std::vector<float> scale = {0.5f, 0.25f, 2.0f, 1.0f, 4.0f, 0.125f};                // [2, 3]
  SafetensorsWriter w;
  ASSERT_TRUE(w.add("w.weight", SafetensorsDtype::kF8E4M3, {rows, cols}, raw(q.data(), q.size())).ok());
  ASSERT_TRUE(w.add_f32("w.weight_scale_inv", SafetensorsDtype::kF32, {2, 3}, scale).ok());
  ASSERT_TRUE(w.add_f32("bad.weight", SafetensorsDtype::kF8E4M3, {rows, cols}, std::vector<float>(rows * cols)).ok());
  ASSERT_TRUE(w.add_f32("bad.weight_scale_inv", SafetensorsDtype::kF32, {2, 2}, {1, 1, 1, 1}).ok());
  ASSERT_TRUE(w.add_f32("ue.weight", SafetensorsDtype::kF8E4M3, {1, 1}, {1.0f}).ok());
  ASSERT_TRUE(w.add_f32("ue.weight_scale_inv", SafetensorsDtype::kF32, {1, 1}, {0.75f}).ok());
  ASSERT_TRUE(w.add_f32("plain.weight", SafetensorsDtype::kBF16, {2}, {1.0f, 2.0f}).ok());
  ASSERT_TRUE(w.add_f32("noscale.weight", SafetensorsDtype::kF8E4M3, {1, 1}, {1.0f}).ok());
  ASSERT_TRUE(w.write(dir + "/model.safetensors").ok());
  auto m = SafetensorsModel::open_folder(dir);
  ASSERT_TRUE(m.ok()) << m.error().to_string();

  EXPECT_EQ(fp8_scale_name("w.weight"), "w.weight_scale_inv");
  EXPECT_TRUE(is_fp8_weight(*m, "w.weight"));
  EXPECT_FALSE(is_fp8_weight(*m, "plain.weight"));
  auto d = dequantize_fp8_weight(*m, "w.weight");
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  for (int64_t i : {0, 127, 128, 129}) {
    for (int64_t j : {0, 127, 128, 255, 256, 259}) {
      float want = e4m3_to_f32(q[i * cols + j]) * scale[(i / 128) * 3 + j / 128];
      EXPECT_EQ((*d)[i * cols + j], want) << i << "," << j;
    }
  }
  auto bad = dequantize_fp8_weight(*m, "bad.weight");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorruptFile);
  EXPECT_NE(bad.error().message().find("bad.weight_scale_inv"), std::string::npos) << bad.error().message();
  EXPECT_TRUE(dequantize_fp8_weight(*m, "ue.weight").ok());
  auto ue = dequantize_fp8_weight(*m, "ue.weight", Fp8BlockFormat{128, 128, true});
  ASSERT_FALSE(ue.ok());
  EXPECT_NE(ue.error().message().find("power of two"), std::string::npos) << ue.error().message();
  auto ns = dequantize_fp8_weight(*m, "noscale.weight");
  ASSERT_FALSE(ns.ok());
  EXPECT_EQ(ns.error().code(), ErrorCode::kNotFound);
  auto pl = load_weight_f32(*m, "plain.weight");
  ASSERT_TRUE(pl.ok());
  EXPECT_EQ(*pl, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_FALSE(dequantize_fp8_weight(*m, "plain.weight").ok());
}

}  // namespace
}  // namespace baleen
