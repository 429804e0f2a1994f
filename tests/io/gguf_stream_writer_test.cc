// GgufStreamWriter: files are byte-identical to GgufWriter's for the same metadata and tensors
// (several alignments, types, odd sizes needing padding, zero tensors), read back by GgufFile;
// misuse (out of order, wrong size, missing tensors, declare after open) is an error and leaves
// no partial file behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/mapped_file.h"
#include "io/gguf.h"
#include "io/gguf_stream_writer.h"
#include "io/gguf_writer.h"
#include "kernels/ref/dequant.h"
#include "testing.h"

namespace baleen {
namespace {

struct Spec {
  std::string name;
  GgmlType type;
  std::vector<uint64_t> ne;
};

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

template <typename W>
void set_metadata(W& w, uint32_t alignment) {
  if (alignment != 0) w.set_alignment(alignment);
  w.set_string("general.architecture", "deepseek2");
  w.set_u32("deepseek2.block_count", 3);
  w.set_f32("deepseek2.rope.freq_base", 10000.0f);
  w.set_bool("deepseek2.expert_weights_norm", true);
  w.set_string_array("tokenizer.ggml.tokens", {"a", "b", "", "\xc4\xa0the"});
  w.set_array("nested", GgufArray{GgufType::kArray, {gguf_array(GgufType::kInt32, {gguf_i32(-1), gguf_i32(2)})}});
  w.set_u32("deepseek2.block_count", 4);  // replaced in place
}

const std::vector<Spec>& specs() {
  static const std::vector<Spec> s = {
      {"token_embd.weight", GgmlType::kQ4_K, {256, 3}},
      {"blk.0.attn_norm.weight", GgmlType::kF32, {7}},  // 28 bytes: needs padding after it
      {"blk.0.attn_k_b.weight", GgmlType::kQ5_0, {32, 2, 3}},
      {"blk.0.ffn_down_exps.weight", GgmlType::kQ8_0, {64, 5, 2}},
      {"output.weight", GgmlType::kQ6_K, {256, 1}},
      {"bf16", GgmlType::kBF16, {3}},
  };
  return s;
}

std::string data_of(const Spec& s, size_t k) {
  uint64_t n = 1;
  for (uint64_t d : s.ne) n *= d;
  return random_bytes(ggml_row_bytes(s.type, s.ne[0]) * (n / s.ne[0]), 100 + static_cast<uint32_t>(k));
}

TEST(GgufStreamWriter, ByteIdenticalToGgufWriter) {
  std::string dir = testing::scratch_dir("gguf_stream_writer");
  for (uint32_t alignment : {0u, 1u, 32u, 64u, 4096u}) {
    for (bool with_tensors : {true, false}) {
      SCOPED_TRACE("alignment " + std::to_string(alignment) + (with_tensors ? " with tensors" : " no tensors"));
      GgufWriter a;
      GgufStreamWriter b;
      set_metadata(a, alignment);
      set_metadata(b, alignment);
      if (with_tensors) {
        for (size_t k = 0; k < specs().size(); ++k) {
          const Spec& s = specs()[k];
          ASSERT_TRUE(a.add_tensor(s.name, s.type, s.ne, data_of(s, k)).ok());
          ASSERT_TRUE(b.declare_tensor(s.name, s.type, s.ne).ok());
        }
      }
      auto want = a.serialize();
      ASSERT_TRUE(want.ok()) << want.error().message();
      auto lay = b.layout();
      ASSERT_TRUE(lay.ok());
      EXPECT_EQ(lay->file_size(), want->size());  // the size is known before writing (dry run)

      const std::string path = dir + "/stream.gguf";
      ASSERT_TRUE(b.open(path).ok());
      if (with_tensors) {
        for (size_t k = 0; k < specs().size(); ++k) {
          std::string d = data_of(specs()[k], k);
          Status st = b.write_tensor(specs()[k].name, d.data(), d.size());
          ASSERT_TRUE(st.ok()) << st.error().message();
        }
      }
      ASSERT_TRUE(b.finish().ok());
      auto got = read_file(path);
      ASSERT_TRUE(got.ok());
      EXPECT_TRUE(*got == *want) << "sizes " << got->size() << " vs " << want->size();

      auto f = GgufFile::open(path);
      ASSERT_TRUE(f.ok()) << f.error().message();
      EXPECT_EQ(f->tensors().size(), with_tensors ? specs().size() : 0u);
      EXPECT_EQ(*f->get_int("deepseek2.block_count"), 4);
      if (with_tensors) {
        for (size_t k = 0; k < specs().size(); ++k) {
          const GgufTensorInfo& t = f->tensors()[k];
          EXPECT_EQ(t.name, specs()[k].name);
          std::string d = data_of(specs()[k], k);
          ASSERT_EQ(t.n_bytes, d.size());
          EXPECT_EQ(std::string(reinterpret_cast<const char*>(t.data), t.n_bytes), d);
        }
      }
    }
  }
}

// A writer with the standard metadata and specs() declared, opened at `path`.
void open_writer(GgufStreamWriter& w, const std::string& path) {
  set_metadata(w, 32);
  for (const Spec& s : specs()) ASSERT_TRUE(w.declare_tensor(s.name, s.type, s.ne).ok());
  ASSERT_TRUE(w.open(path).ok());
}

TEST(GgufStreamWriter, OutOfOrderIsAnErrorAndRemovesTheFile) {
  const std::string path = testing::scratch_dir("gguf_stream_writer") + "/order.gguf";
  GgufStreamWriter w;
  open_writer(w, path);
  EXPECT_TRUE(std::filesystem::exists(path));
  std::string d1 = data_of(specs()[1], 1);
  Status st = w.write_tensor(specs()[1].name, d1.data(), d1.size());  // #0 comes first
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(st.error().message().find("out of order"), std::string::npos) << st.error().message();
  EXPECT_FALSE(std::filesystem::exists(path));
  std::string d0 = data_of(specs()[0], 0);
  EXPECT_FALSE(w.write_tensor(specs()[0].name, d0.data(), d0.size()).ok());  // writer stays failed
  EXPECT_FALSE(w.finish().ok());
}

TEST(GgufStreamWriter, WrongSizeIsAnError) {
  const std::string path = testing::scratch_dir("gguf_stream_writer") + "/size.gguf";
  GgufStreamWriter w;
  open_writer(w, path);
  std::string d0 = data_of(specs()[0], 0);
  Status st = w.write_tensor(specs()[0].name, d0.data(), d0.size() - 1);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message().find("bytes given"), std::string::npos) << st.error().message();
  EXPECT_FALSE(std::filesystem::exists(path));
}

TEST(GgufStreamWriter, TooManyAndMissingTensorsAreErrors) {
  const std::string dir = testing::scratch_dir("gguf_stream_writer");
  {
    GgufStreamWriter w;
    open_writer(w, dir + "/missing.gguf");
    std::string d0 = data_of(specs()[0], 0);
    ASSERT_TRUE(w.write_tensor(specs()[0].name, d0.data(), d0.size()).ok());
    Status st = w.finish();
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find(specs()[1].name), std::string::npos) << st.error().message();
    EXPECT_FALSE(std::filesystem::exists(dir + "/missing.gguf"));
  }
  {
    GgufStreamWriter w;
    set_metadata(w, 32);
    ASSERT_TRUE(w.declare_tensor("only", GgmlType::kF32, {4}).ok());
    ASSERT_TRUE(w.open(dir + "/extra.gguf").ok());
    float v[4] = {1, 2, 3, 4};
    ASSERT_TRUE(w.write_tensor("only", v, sizeof(v)).ok());
    EXPECT_FALSE(w.write_tensor("only", v, sizeof(v)).ok());
  }
  {  // destroyed before finish(): no partial file
    GgufStreamWriter w;
    open_writer(w, dir + "/abandoned.gguf");
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/abandoned.gguf"));
}

TEST(GgufStreamWriter, DeclarationErrors) {
  GgufStreamWriter w;
  EXPECT_FALSE(w.declare_tensor("t", GgmlType::kQ4_K, {128}).ok());  // not a multiple of 256
  EXPECT_FALSE(w.declare_tensor("t", GgmlType::kF32, {1, 1, 1, 1, 1}).ok());
  EXPECT_FALSE(w.declare_tensor(std::string(65, 'x'), GgmlType::kF32, {1}).ok());
  ASSERT_TRUE(w.declare_tensor("t", GgmlType::kF32, {2}).ok());
  EXPECT_FALSE(w.declare_tensor("t", GgmlType::kF32, {2}).ok());  // duplicate
  float v[2] = {0, 0};
  EXPECT_FALSE(w.write_tensor("t", v, sizeof(v)).ok());  // not open
  const std::string path = testing::scratch_dir("gguf_stream_writer") + "/decl.gguf";
  ASSERT_TRUE(w.open(path).ok());
  EXPECT_FALSE(w.declare_tensor("u", GgmlType::kF32, {2}).ok());  // after the header
  EXPECT_FALSE(w.open(path).ok());
  ASSERT_TRUE(w.write_tensor("t", v, sizeof(v)).ok());
  ASSERT_TRUE(w.finish().ok());
  auto f = GgufFile::open(path);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->tensors().size(), 1u);
}

}  // namespace
}  // namespace baleen
