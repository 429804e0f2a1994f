// The conformance HF folders (hf/ds2-micro-bf16, hf/ds3-micro-bf16, hf/ds3-micro-fp8): every tensor
// name, shape and dtype is derived here from config.json (conformance/README.md 7.2, 7.3 and
// deepseek-spec.md 8.1) and must match the file exactly; the FP8 folder's dequantized weights must
// agree with the BF16 folder within the e4m3 rounding bound derived below.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "io/fp8_weights.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "testing.h"

namespace baleen {
namespace {

struct Expected {
  std::vector<int64_t> shape;
  SafetensorsDtype dtype;
};

bool is_fp8_linear(const std::string& name) {
  for (const char* s :
       {"q_a_proj.weight", "q_b_proj.weight", "q_proj.weight", "kv_a_proj_with_mqa.weight", "kv_b_proj.weight",
        "o_proj.weight", "gate_proj.weight", "up_proj.weight", "down_proj.weight"}) {
    const std::string suffix = std::string(".") + s;
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return true;
    }
  }
  return false;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// name -> shape/dtype implied by the config for a DeepSeek checkpoint (main layers + MTP layers).
std::map<std::string, Expected> expected_tensors(const HfModelConfig& c, bool fp8) {
  const auto bf16 = SafetensorsDtype::kBF16;
  const int64_t E = c.hidden_size, V = c.vocab_size, H = c.num_attention_heads;
  std::map<std::string, Expected> m;
  auto lin = [&](const std::string& name, int64_t out, int64_t in) {
    if (fp8) {
      m[name] = {{out, in}, SafetensorsDtype::kF8E4M3};
      m[name + "_scale_inv"] = {{ceil_div(out, 128), ceil_div(in, 128)}, SafetensorsDtype::kF32};
    } else {
      m[name] = {{out, in}, bf16};
    }
  };
  m["model.embed_tokens.weight"] = {{V, E}, bf16};
  m["model.norm.weight"] = {{E}, bf16};
  m["lm_head.weight"] = {{V, E}, bf16};
  for (int64_t L = 0; L < c.num_hidden_layers + c.num_nextn_predict_layers; ++L) {
    const std::string p = "model.layers." + std::to_string(L) + ".";
    m[p + "input_layernorm.weight"] = {{E}, bf16};
    m[p + "post_attention_layernorm.weight"] = {{E}, bf16};
    const int64_t qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
    if (c.q_lora_rank == 0) {
      lin(p + "self_attn.q_proj.weight", H * qk, E);
    } else {
      lin(p + "self_attn.q_a_proj.weight", c.q_lora_rank, E);
      m[p + "self_attn.q_a_layernorm.weight"] = {{c.q_lora_rank}, bf16};
      lin(p + "self_attn.q_b_proj.weight", H * qk, c.q_lora_rank);
    }
    lin(p + "self_attn.kv_a_proj_with_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, E);
    m[p + "self_attn.kv_a_layernorm.weight"] = {{c.kv_lora_rank}, bf16};
    lin(p + "self_attn.kv_b_proj.weight", H * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank);
    lin(p + "self_attn.o_proj.weight", E, H * c.v_head_dim);
    if (c.is_moe_layer(L)) {
      m[p + "mlp.gate.weight"] = {{c.n_routed_experts, E}, bf16};
      if (c.topk_method == TopkMethod::kNoauxTc) {
        m[p + "mlp.gate.e_score_correction_bias"] = {{c.n_routed_experts}, SafetensorsDtype::kF32};
      }
      for (int64_t x = 0; x < c.n_routed_experts; ++x) {
        const std::string e = p + "mlp.experts." + std::to_string(x) + ".";
        lin(e + "gate_proj.weight", c.moe_intermediate_size, E);
        lin(e + "up_proj.weight", c.moe_intermediate_size, E);
        lin(e + "down_proj.weight", E, c.moe_intermediate_size);
      }
      if (c.n_shared_experts > 0) {
        const int64_t I = c.moe_intermediate_size * c.n_shared_experts;
        lin(p + "mlp.shared_experts.gate_proj.weight", I, E);
        lin(p + "mlp.shared_experts.up_proj.weight", I, E);
        lin(p + "mlp.shared_experts.down_proj.weight", E, I);
      }
    } else {
      lin(p + "mlp.gate_proj.weight", c.intermediate_size, E);
      lin(p + "mlp.up_proj.weight", c.intermediate_size, E);
      lin(p + "mlp.down_proj.weight", E, c.intermediate_size);
    }
    if (L >= c.num_hidden_layers) {  // MTP block extras (README 7.2)
      m[p + "enorm.weight"] = {{E}, bf16};
      m[p + "hnorm.weight"] = {{E}, bf16};
      m[p + "eh_proj.weight"] = {{E, 2 * E}, bf16};
      m[p + "shared_head.norm.weight"] = {{E}, bf16};
      m[p + "shared_head.head.weight"] = {{V, E}, bf16};
      m[p + "embed_tokens.weight"] = {{V, E}, bf16};
    }
  }
  return m;
}

void check_folder(const std::string& rel, bool fp8) {
  const std::string dir = testing::conformance_path(rel);
  auto config = load_hf_config(dir);
  ASSERT_TRUE(config.ok()) << config.error().to_string();
  EXPECT_EQ(config->quantization.has_value(), fp8);
  auto model = SafetensorsModel::open_folder(dir);
  ASSERT_TRUE(model.ok()) << model.error().to_string();
  const auto want = expected_tensors(*config, fp8);
  int matched = 0;
  for (const auto& [name, e] : want) {
    const SafetensorsTensor* t = model->find(name);
    if (t == nullptr) {
      ADD_FAILURE() << rel << ": missing " << name;
      continue;
    }
    bool ok = t->shape == e.shape && t->dtype == e.dtype;
    EXPECT_TRUE(ok) << rel << ": " << t->describe() << " vs expected dtype " << safetensors_dtype_name(e.dtype);
    matched += ok ? 1 : 0;
  }
  for (const SafetensorsTensor* t : model->tensors()) {
    EXPECT_EQ(want.count(t->name), 1u) << rel << ": unexpected tensor " << t->describe();
  }
  EXPECT_EQ(model->tensors().size(), want.size()) << rel;
  ASSERT_EQ(model->shards().size(), 1u);
  EXPECT_EQ(model->shards()[0].metadata().count("format"), 1u);
  testing::report_conformance(rel + " tensor names/shapes/dtypes from config", matched, static_cast<int>(want.size()));
}

TEST(SafetensorsConformance, Ds2MicroBf16Layout) {
  BALEEN_REQUIRE_CONFORMANCE();
  check_folder("hf/ds2-micro-bf16", false);
}

TEST(SafetensorsConformance, Ds3MicroBf16Layout) {
  BALEEN_REQUIRE_CONFORMANCE();
  check_folder("hf/ds3-micro-bf16", false);
}

TEST(SafetensorsConformance, Ds3MicroFp8Layout) {
  BALEEN_REQUIRE_CONFORMANCE();
  check_folder("hf/ds3-micro-fp8", true);
}

// Error bound for W' = e4m3(Q) * s versus the BF16 weight W, where the file was made with
// s = blockmax / 448 and Q = round_e4m3(W / s) (README 7.3), so |W / s| <= 448:
//  - e4m3 has 3 mantissa bits, so for a normal |x| in [2^-6, 448] the spacing is 2^(e-3) with
//    2^e <= |x|, and rounding to nearest errs by at most half of it: |x - Q| <= 2^-4 |x|;
//  - for subnormal |x| < 2^-6 the spacing is 2^-9, so |x - Q| <= 2^-10;
//  - multiplying by s: |W - W'| <= 2^-4 |W| + 2^-10 s = 2^-4 |W| + 2^-10 blockmax / 448,
//    so in particular |W - W'| <= (2^-4 + 2^-10/448) blockmax;
//  - fp32 rounding of s and of Q * s adds a few 2^-24 relative, covered by 1e-6 blockmax.
// Also the element holding the block maximum maps to exactly 448 (448 * s = blockmax up to fp32
// rounding), so max|W'| over a block equals blockmax to within 1e-6.
TEST(SafetensorsConformance, Fp8DequantMatchesBf16) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto fp8 = SafetensorsModel::open_folder(testing::conformance_path("hf/ds3-micro-fp8"));
  auto bf16 = SafetensorsModel::open_folder(testing::conformance_path("hf/ds3-micro-bf16"));
  auto config = load_hf_config(testing::conformance_path("hf/ds3-micro-fp8"));
  ASSERT_TRUE(fp8.ok() && bf16.ok() && config.ok());
  ASSERT_TRUE(config->quantization.has_value());
  const Fp8BlockFormat format{config->quantization->block_rows, config->quantization->block_cols,
                              config->quantization->ue8m0_scales};
  int n_weights = 0, n_good = 0, n_same = 0, n_other = 0;
  double worst_ratio = 0;  // max |W - W'| / blockmax seen
  for (const SafetensorsTensor* t : fp8->tensors()) {
    const SafetensorsTensor* ref = bf16->find(t->name);
    if (t->name.ends_with("_scale_inv")) {
      EXPECT_EQ(ref, nullptr) << t->name;
      continue;
    }
    ASSERT_NE(ref, nullptr) << t->name;
    if (t->dtype != SafetensorsDtype::kF8E4M3) {
      // Unquantized tensors are the same weights, bit for bit.
      ++n_other;
      EXPECT_EQ(t->dtype, ref->dtype) << t->name;
      EXPECT_EQ(t->bytes(), ref->bytes()) << t->name;
      n_same += t->bytes() == ref->bytes() ? 1 : 0;
      continue;
    }
    ++n_weights;
    EXPECT_TRUE(is_fp8_linear(t->name)) << t->name;
    const SafetensorsTensor* scale = fp8->find(fp8_scale_name(t->name));
    ASSERT_NE(scale, nullptr) << t->name;
    EXPECT_EQ(scale->shape, (std::vector<int64_t>{ceil_div(t->shape[0], 128), ceil_div(t->shape[1], 128)}));
    auto w = dequantize_fp8_weight(*fp8, t->name, format);
    ASSERT_TRUE(w.ok()) << w.error().to_string();
    auto r = to_f32(*ref);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(ref->shape, t->shape);
    const int64_t rows = t->shape[0], cols = t->shape[1];
    bool good = true;
    for (int64_t bi = 0; bi < rows; bi += 128) {
      for (int64_t bj = 0; bj < cols; bj += 128) {
        const int64_t ei = std::min(rows, bi + 128), ej = std::min(cols, bj + 128);
        double blockmax = 0, deqmax = 0;
        for (int64_t i = bi; i < ei; ++i) {
          for (int64_t j = bj; j < ej; ++j) {
            blockmax = std::max(blockmax, std::fabs(static_cast<double>((*r)[i * cols + j])));
            deqmax = std::max(deqmax, std::fabs(static_cast<double>((*w)[i * cols + j])));
          }
        }
        for (int64_t i = bi; i < ei && good; ++i) {
          for (int64_t j = bj; j < ej; ++j) {
            const double ref_v = (*r)[i * cols + j], got = (*w)[i * cols + j];
            const double err = std::fabs(got - ref_v);
            const double bound = std::fabs(ref_v) / 16 + blockmax * (std::ldexp(1.0, -10) / 448 + 1e-6);
            if (blockmax > 0) worst_ratio = std::max(worst_ratio, err / blockmax);
            if (err > bound) {
              ADD_FAILURE() << t->name << "[" << i << "," << j << "]: " << got << " vs " << ref_v << " (bound " << bound
                            << ")";
              good = false;
              break;
            }
          }
        }
        if (std::fabs(deqmax - blockmax) > 1e-6 * blockmax) {
          ADD_FAILURE() << t->name << " block (" << bi << "," << bj << "): max " << deqmax << " vs " << blockmax;
          good = false;
        }
      }
    }
    n_good += good ? 1 : 0;
  }
  std::printf("fp8: %d weights, worst |W - W'| / blockmax = %.4f (bound %.4f)\n", n_weights, worst_ratio,
              1.0 / 16 + std::ldexp(1.0, -10) / 448);
  EXPECT_GT(worst_ratio, 0.0);  // the FP8 weights really differ from BF16 (we compared two things)
  EXPECT_GT(n_weights, 50);
  EXPECT_EQ(n_same, n_other);
  testing::report_conformance("ds3-micro-fp8 dequantized weights within e4m3 bound of BF16", n_good, n_weights);
}

}  // namespace
}  // namespace baleen
