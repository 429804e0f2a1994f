// GGUF reader and reference dequantizers against ../shared/conformance (README sections 5, 6):
// stories260K.gguf, the 32 micro-model GGUFs written by llama.cpp (tensor counts and types checked
// against models/micro/summary.json) and the 5 llama.cpp vocab GGUFs. Every tensor of every
// quantized micro file is dequantized and compared with the same tensor of the model's -f32.gguf,
// an independent source (the generator's float weights; llama.cpp did the quantizing).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "kernels/ref/dequant.h"
#include "tensor/numeric.h"
#include "testing.h"

namespace baleen {
namespace {

using testing::conformance_path;
using testing::report_conformance;

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::vector<float> dequant_all(const GgufTensorInfo& t) {
  std::vector<float> out(t.n_elements);
  Status st = dequantize_row_ref(t.type, t.data, out.data(), t.n_elements);
  EXPECT_TRUE(st.ok()) << t.name << ": " << (st.ok() ? "" : st.error().to_string());
  return out;
}

nlohmann::json load_summary() {
  std::ifstream in(conformance_path("models/micro/summary.json"));
  return nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
}

TEST(GgufConformance, Stories260K) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto g = GgufFile::open(conformance_path("models/stories260K/stories260K.gguf"));
  ASSERT_TRUE(g.ok()) << g.error().to_string();
  EXPECT_EQ(g->architecture(), "llama");
  EXPECT_EQ(g->tensors().size(), 48u);
  int f32 = 0;
  for (const GgufTensorInfo& t : g->tensors()) f32 += t.type == GgmlType::kF32;
  EXPECT_EQ(f32, 48);
  const GgufTensorInfo* out = g->find_tensor("output.weight");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(out->ne.size(), 2u);
  EXPECT_EQ(out->ne[0], 64u);   // dim 64
  EXPECT_EQ(out->ne[1], 512u);  // vocab 512
  EXPECT_EQ(out->n_bytes, 64u * 512 * 4);
  auto tokens = g->get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.error().to_string();
  EXPECT_EQ(tokens->size(), 512u);
  auto scores = g->get_number_array("tokenizer.ggml.scores");
  ASSERT_TRUE(scores.ok());
  ASSERT_EQ(scores->size(), 512u);
  // README 5 says "all scores 0.0"; the file (read independently with a few lines of Python
  // struct code) has 0 for ids 0..259 and -(id - 259) for ids 259..511.
  for (size_t k = 0; k < scores->size(); ++k)
    EXPECT_EQ((*scores)[k], k < 259 ? 0.0 : -static_cast<double>(k - 259)) << k;
  EXPECT_EQ(g->get_int("tokenizer.ggml.bos_token_id").value(), 1);
  EXPECT_EQ(g->get_int("tokenizer.ggml.eos_token_id").value(), 2);
  EXPECT_EQ(g->find("llama.rope.freq_base"), nullptr);
  EXPECT_EQ(g->get_int("llama.embedding_length").value(), 64);
  EXPECT_EQ(g->get_string("tokenizer.ggml.model").value(), "llama");
  EXPECT_FALSE(g->get_string("nope").ok());
  EXPECT_EQ(g->get_string("nope").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(g->get_string("llama.embedding_length").error().code(), ErrorCode::kCorruptFile);
  report_conformance("gguf parse stories260K", HasFailure() ? 0 : 1, 1);
}

TEST(GgufConformance, MicroFilesMatchSummary) {
  BALEEN_REQUIRE_CONFORMANCE();
  nlohmann::json summary = load_summary();
  ASSERT_TRUE(summary.is_object()) << "cannot parse summary.json";
  int passed = 0, total = 0;
  for (const auto& f : summary["files"]) {
    ++total;
    std::string rel = f["file"].get<std::string>();
    auto g = GgufFile::open(conformance_path("models/micro/" + rel));
    if (!g.ok()) {
      ADD_FAILURE() << rel << ": " << g.error().to_string();
      continue;
    }
    bool ok = true;
    const auto& types = f["tensor_types"];
    if (g->tensors().size() != types.size()) {
      ADD_FAILURE() << rel << ": " << g->tensors().size() << " tensors, summary lists " << types.size();
      ok = false;
    }
    std::map<std::string, int> counts;
    for (const GgufTensorInfo& t : g->tensors()) {
      std::string ty = upper(ggml_type_info(t.type).name);
      ++counts[ty];
      if (!types.contains(t.name) || types[t.name].get<std::string>() != ty) {
        ADD_FAILURE() << rel << ": tensor " << t.name << " has type " << ty;
        ok = false;
      }
    }
    for (const auto& [ty, n] : f["tensor_type_counts"].items()) {
      if (counts[ty] != n.get<int>()) {
        ADD_FAILURE() << rel << ": " << counts[ty] << " tensors of " << ty << ", summary says " << n.get<int>();
        ok = false;
      }
    }
    std::string model = f["model"].get<std::string>();
    std::string arch = model.rfind("ds", 0) == 0 ? "deepseek2" : model.substr(0, model.find('-'));
    if (g->architecture() != arch) {
      ADD_FAILURE() << rel << ": architecture '" << g->architecture() << "', expected " << arch;
      ok = false;
    }
    auto tokens = g->get_string_array("tokenizer.ggml.tokens");
    if (!tokens.ok() || tokens->size() != 512) {
      ADD_FAILURE() << rel << ": tokenizer.ggml.tokens missing or not 512 long";
      ok = false;
    }
    passed += ok;
  }
  EXPECT_EQ(total, 32);
  report_conformance("gguf parse micro models", passed, total);
}

TEST(GgufConformance, VocabFiles) {
  BALEEN_REQUIRE_CONFORMANCE();
  // Token counts from README 4; architecture and tokenizer model as read with an independent
  // Python reader (README 4 says arch `llama` for all five; the qwen2 file says `qwen2`).
  struct Vocab {
    const char* name;
    size_t n_tokens;
    const char* arch;
    const char* model;
  };
  const Vocab vocabs[] = {{"deepseek-llm", 102400, "llama", "gpt2"},
                          {"deepseek-coder", 32256, "llama", "gpt2"},
                          {"qwen2", 151936, "qwen2", "gpt2"},
                          {"llama-bpe", 128256, "llama", "gpt2"},
                          {"llama-spm", 32000, "llama", "llama"}};
  int passed = 0;
  for (const Vocab& v : vocabs) {
    auto g = GgufFile::open(conformance_path(std::string("tokenizers/llamacpp-vocab/ggml-vocab-") + v.name + ".gguf"));
    if (!g.ok()) {
      ADD_FAILURE() << v.name << ": " << g.error().to_string();
      continue;
    }
    bool ok = g->tensors().empty() && g->architecture() == v.arch;
    auto tokens = g->get_string_array("tokenizer.ggml.tokens");
    ok = ok && tokens.ok() && tokens->size() == v.n_tokens;
    auto model = g->get_string("tokenizer.ggml.model");
    ok = ok && model.ok() && *model == v.model;
    EXPECT_TRUE(ok) << v.name;
    passed += ok;
  }
  report_conformance("gguf parse llama.cpp vocab files", passed, 5);
}

// Per-element bound for the legacy types, from llama.cpp's reference quantizers (ggml-quants.c,
// round to nearest with the float scale) and f16 storage of d (relative error <= 2^-11):
//   Q8_0: d = amax/127, |x - q d16| <= d16/2 + 127 |d - d16|.
//   Q4_0 / Q5_0: d = signed max / -8 (-16); the opposite extreme clamps to 7 (15): one step, so
//   |err| <= d16 + 8 (16) |d - d16|.
//   Q5_1 (Q4_1): d = (max-min)/31 (15), m = min: |err| <= d16/2 + 31 (15) |d - d16| + |m - m16|.
// The block's own stored d (and m) are read from the block bytes.
double legacy_bound(GgmlType type, const uint8_t* block) {
  const double rel = std::ldexp(1.0, -11) * 1.01;
  auto f16 = [&](int off) {
    return std::fabs(static_cast<double>(f16_to_f32(static_cast<uint16_t>(block[off] | (block[off + 1] << 8)))));
  };
  switch (type) {
    case GgmlType::kQ8_0:
      return f16(0) * (0.5 + 127 * rel);
    case GgmlType::kQ4_0:
      return f16(0) * (1.0 + 8 * rel);
    case GgmlType::kQ5_0:
      return f16(0) * (1.0 + 16 * rel);
    case GgmlType::kQ4_1:
      return f16(0) * (0.5 + 15 * rel) + f16(2) * rel;
    case GgmlType::kQ5_1:
      return f16(0) * (0.5 + 31 * rel) + f16(2) * rel;
    default:
      return -1;
  }
}

// Normalised MSE (sum err^2 / sum x^2 over a tensor) thresholds for every quantized type. A
// uniform grid with step s has MSE s^2/12; for Gaussian weights a 32-value block spans about
// 4.5 sigma, so 4 bits (s ~ 0.3 sigma) give NMSE ~ 7e-3, each further bit divides by 4. The
// thresholds are ~2x those estimates (llama.cpp's searched scales only do better).
double nmse_threshold(GgmlType type) {
  switch (type) {
    case GgmlType::kQ8_0:
      return 1e-4;
    case GgmlType::kQ6_K:
      return 1.5e-3;
    case GgmlType::kQ5_0:
    case GgmlType::kQ5_1:
    case GgmlType::kQ5_K:
      return 5e-3;
    case GgmlType::kQ4_0:
    case GgmlType::kQ4_1:
    case GgmlType::kQ4_K:
      return 1.5e-2;
    default:
      return 0;  // F32 / F16 / BF16: exact comparisons instead
  }
}

TEST(GgufConformance, DequantMatchesF32Weights) {
  BALEEN_REQUIRE_CONFORMANCE();
  nlohmann::json summary = load_summary();
  ASSERT_TRUE(summary.is_object());
  std::map<std::string, std::pair<int, int>> per_type;  // type -> (passed, total)
  std::map<std::string, double> worst_nmse;
  for (const auto& f : summary["files"]) {
    std::string quant = f["quant"].get<std::string>();
    std::string model = f["model"].get<std::string>();
    if (quant == "f32") continue;
    auto g = GgufFile::open(conformance_path("models/micro/" + f["file"].get<std::string>()));
    auto ref = GgufFile::open(conformance_path("models/micro/" + model + "/" + model + "-f32.gguf"));
    ASSERT_TRUE(g.ok() && ref.ok());
    for (const GgufTensorInfo& t : g->tensors()) {
      std::string ty(ggml_type_info(t.type).name);
      auto& [passed, total] = per_type[ty];
      ++total;
      const GgufTensorInfo* r = ref->find_tensor(t.name);
      if (r == nullptr || r->ne != t.ne || r->type != GgmlType::kF32) {
        ADD_FAILURE() << f["file"] << ": " << t.name << " has no F32 counterpart of the same shape";
        continue;
      }
      std::vector<float> y = dequant_all(t);
      std::vector<float> x(r->n_elements);
      std::memcpy(x.data(), r->data, r->n_bytes);
      bool ok = true;
      if (t.type == GgmlType::kF32 || t.type == GgmlType::kBF16) {
        // The generated weights are bfloat16 values, so BF16 storage is exact (README 6).
        ok = std::memcmp(x.data(), y.data(), x.size() * 4) == 0;
      } else if (t.type == GgmlType::kF16) {
        // Exact where f16 can represent the value, otherwise f16's round-to-nearest-even of it.
        for (size_t k = 0; k < x.size() && ok; ++k) ok = y[k] == f16_to_f32(f32_to_f16(x[k]));
      } else {
        const GgmlTypeInfo& info = ggml_type_info(t.type);
        double err2 = 0, ref2 = 0;
        for (uint64_t k = 0; k < x.size(); ++k) {
          double e = static_cast<double>(y[k]) - x[k];
          err2 += e * e;
          ref2 += static_cast<double>(x[k]) * x[k];
          double bound = legacy_bound(t.type, t.data + (k / info.block_size) * info.type_size);
          if (bound >= 0 && std::fabs(e) > bound + 1e-12) {
            if (ok) ADD_FAILURE() << f["file"] << ": " << t.name << "[" << k << "] error " << e << " > bound " << bound;
            ok = false;
          }
        }
        double nmse = ref2 > 0 ? err2 / ref2 : err2;
        worst_nmse[ty] = std::max(worst_nmse[ty], nmse);
        if (nmse > nmse_threshold(t.type)) {
          ADD_FAILURE() << f["file"] << ": " << t.name << " NMSE " << nmse << " > " << nmse_threshold(t.type);
          ok = false;
        }
      }
      if (!ok) ADD_FAILURE() << f["file"] << ": tensor " << t.name << " (" << ty << ") does not match the F32 weights";
      passed += ok;
    }
  }
  for (const auto& [ty, pt] : per_type) {
    if (worst_nmse.count(ty)) std::printf("gguf dequant %s: worst tensor NMSE %.3g\n", ty.c_str(), worst_nmse[ty]);
    report_conformance("gguf dequant " + ty, pt.first, pt.second);
  }
  EXPECT_GE(per_type.size(), 9u);  // f32 f16 bf16 q8_0 q4_0 q5_0 q5_1 q4_K q5_K q6_K
}

}  // namespace
}  // namespace baleen
