#include "model_shapes.h"

#include "kernels/ref/dequant.h"

namespace baleen::cli {

const std::vector<ModelShape>& model_shapes() {
  static const std::vector<ModelShape> shapes = [] {
    std::vector<ModelShape> v;
    // DeepSeek-V2-Lite: deepseek-spec 1.1, column V2-Lite (config_16B.json).
    ModelShape lite;
    lite.id = "deepseek-v2-lite";
    lite.display_name = "DeepSeek-V2-Lite shape (random weights, baleen gen-random)";
    lite.hidden = 2048, lite.n_layers = 27, lite.n_heads = 16;
    lite.q_lora_rank = 0, lite.kv_lora_rank = 512, lite.qk_nope = 128, lite.qk_rope = 64, lite.v_head = 128;
    lite.dense_ff = 10944, lite.first_dense = 1;
    lite.n_experts = 64, lite.n_experts_used = 6, lite.n_groups = 1, lite.n_groups_used = 1, lite.n_shared = 2;
    lite.moe_ff = 1408, lite.vocab = 102400;
    lite.sigmoid_gating = false, lite.norm_topk_prob = false, lite.routed_scaling = 1.0f;
    lite.mscale_all_dim = 0.707f;
    lite.tokenizer_pre = "deepseek-llm";
    v.push_back(lite);

    // deepseek-v3-mini: V3's structure (q LoRA 1536, MLA 512/128/64/128, 3 dense layers, sigmoid
    // noaux_tc routing with exp_probs_b, 8 groups of which 4 are kept, top-8, 1 shared expert,
    // renormalised x2.5, mscale 1.0, vocab 129280, no MTP layer as llama.cpp) scaled down to
    // hidden 2048, 12 layers (3 dense + 9 MoE), 64 experts of ff 1024, dense ff 8192:
    // 4.50e9 parameters, 9.0 GB at BF16 (fits 16 GB at every supported type), 4.8 GB Q8_0,
    // 2.6 GB Q4_K_M (`gen-random --dry-run` prints the exact sizes).
    ModelShape mini;
    mini.id = "deepseek-v3-mini";
    mini.display_name = "DeepSeek-V3 mini shape (random weights, baleen gen-random)";
    mini.hidden = 2048, mini.n_layers = 12, mini.n_heads = 16;
    mini.q_lora_rank = 1536, mini.kv_lora_rank = 512, mini.qk_nope = 128, mini.qk_rope = 64, mini.v_head = 128;
    mini.dense_ff = 8192, mini.first_dense = 3;
    mini.n_experts = 64, mini.n_experts_used = 8, mini.n_groups = 8, mini.n_groups_used = 4, mini.n_shared = 1;
    mini.moe_ff = 1024, mini.vocab = 129280;
    mini.sigmoid_gating = true, mini.norm_topk_prob = true, mini.routed_scaling = 2.5f;
    mini.mscale_all_dim = 1.0f;
    mini.tokenizer_pre = "deepseek-v3";
    v.push_back(mini);
    return v;
  }();
  return shapes;
}

const ModelShape* find_model_shape(const std::string& id) {
  for (const ModelShape& s : model_shapes()) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

std::optional<QuantMix> parse_quant_mix(const std::string& name) {
  if (name == "q4_k_m" || name == "Q4_K_M") return QuantMix::kQ4_K_M;
  if (name == "q8_0" || name == "Q8_0") return QuantMix::kQ8_0;
  if (name == "bf16" || name == "BF16") return QuantMix::kBF16;
  return std::nullopt;
}

uint32_t quant_mix_file_type(QuantMix mix) {
  switch (mix) {
    case QuantMix::kQ4_K_M:
      return 15;  // LLAMA_FTYPE_MOSTLY_Q4_K_M
    case QuantMix::kQ8_0:
      return 7;
    case QuantMix::kBF16:
      return 32;
  }
  return 0;
}

uint64_t TensorPlan::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : ne) n *= d;
  return n;
}

uint64_t TensorPlan::n_bytes() const { return ggml_row_bytes(type, ne[0]) * (n_elements() / ne[0]); }

namespace {

// llama.cpp's use_more_bits(i_layer, n_layers): the layers Q4_K_M gives q6_K down projections.
bool use_more_bits(uint32_t i, uint32_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

// Rows (ne[0]) that are not a multiple of the 256-element K-quant superblock fall back like
// llama-quantize: q4_K -> q5_0, q6_K -> q8_0.
GgmlType with_fallback(GgmlType t, uint64_t ne0) {
  if (ne0 % 256 == 0) return t;
  if (t == GgmlType::kQ4_K) return GgmlType::kQ5_0;
  if (t == GgmlType::kQ6_K) return GgmlType::kQ8_0;
  return t;
}

}  // namespace

// Types per mix. F32 always for 1-D tensors (norms, exp_probs_b) and the router ffn_gate_inp.
// Q4_K_M (llama-quantize's mix reduced to the tensors deepseek2 has; conformance README 6.3):
//  - q4_K by default (token_embd, attn_q / attn_q_a / attn_q_b, attn_kv_a_mqa, attn_k_b, attn_v_b,
//    attn_output, ffn_gate/up, *_exps, *_shexp);
//  - q6_K for `output` and for the ffn_down* tensors of the layers use_more_bits(layer, n) picks,
//    where n counts ffn_down tensors (llama.cpp's n_ffn_down: 1 per dense layer, 2 per MoE layer
//    with shared experts) and the layer comes from the name. V2-Lite (n = 53): layers 0-5, 8, 11,
//    14, 17, 20, 23, 26;
//  - rows not a multiple of 256 fall back: q4_K -> q5_0, q6_K -> q8_0 (attn_k_b rows are 128;
//    V2-Lite ffn_down_exps rows 1408 and the dense ffn_down rows 10944).
// Q8_0 / BF16: that type for every 2-D/3-D weight but the router.
std::vector<TensorPlan> plan_tensors(const ModelShape& s, QuantMix mix) {
  std::vector<TensorPlan> out;
  const uint32_t moe_layers = s.n_experts > 0 && s.n_layers > s.first_dense ? s.n_layers - s.first_dense : 0;
  const uint32_t n_ffn_down = (s.n_layers - moe_layers) + moe_layers * (s.n_shared > 0 ? 2 : 1);
  auto weight_type = [&](const std::string& name, uint64_t ne0, int layer) {
    switch (mix) {
      case QuantMix::kQ8_0:
        return GgmlType::kQ8_0;
      case QuantMix::kBF16:
        return GgmlType::kBF16;
      case QuantMix::kQ4_K_M:
        break;
    }
    GgmlType t = GgmlType::kQ4_K;
    if (name == "output.weight") t = GgmlType::kQ6_K;
    if (layer >= 0 && name.find("ffn_down") != std::string::npos &&
        use_more_bits(static_cast<uint32_t>(layer), n_ffn_down)) {
      t = GgmlType::kQ6_K;
    }
    return with_fallback(t, ne0);
  };
  auto matrix = [&](const std::string& name, std::vector<uint64_t> ne, int layer, uint64_t fan_in = 0) {
    TensorPlan p;
    p.name = name;
    p.type = weight_type(name, ne[0], layer);
    p.fan_in = fan_in != 0 ? fan_in : ne[0];
    p.ne = std::move(ne);
    p.init = TensorInit::kMatrix;
    out.push_back(std::move(p));
  };
  auto f32 = [&](const std::string& name, std::vector<uint64_t> ne, TensorInit init) {
    TensorPlan p;
    p.name = name;
    p.type = GgmlType::kF32;
    p.fan_in = ne[0];
    p.ne = std::move(ne);
    p.init = init;
    out.push_back(std::move(p));
  };
  const uint64_t E = s.hidden, H = s.n_heads, qk = s.qk_nope + s.qk_rope;

  out.push_back(
      TensorPlan{"token_embd.weight", weight_type("token_embd.weight", E, -1), {E, s.vocab}, TensorInit::kEmbed, E});
  for (uint32_t l = 0; l < s.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    const int L = static_cast<int>(l);
    f32(p + "attn_norm.weight", {E}, TensorInit::kOnes);
    if (s.q_lora_rank > 0) {
      matrix(p + "attn_q_a.weight", {E, s.q_lora_rank}, L);
      f32(p + "attn_q_a_norm.weight", {s.q_lora_rank}, TensorInit::kOnes);
      matrix(p + "attn_q_b.weight", {s.q_lora_rank, H * qk}, L);
    } else {
      matrix(p + "attn_q.weight", {E, H * qk}, L);
    }
    matrix(p + "attn_kv_a_mqa.weight", {E, uint64_t{s.kv_lora_rank} + s.qk_rope}, L);
    f32(p + "attn_kv_a_norm.weight", {s.kv_lora_rank}, TensorInit::kOnes);
    // kv_b_proj split per head; its fan-in is kv_lora_rank (k_b is stored transposed).
    matrix(p + "attn_k_b.weight", {s.qk_nope, s.kv_lora_rank, H}, L, s.kv_lora_rank);
    matrix(p + "attn_v_b.weight", {s.kv_lora_rank, s.v_head, H}, L);
    matrix(p + "attn_output.weight", {H * s.v_head, E}, L);
    f32(p + "ffn_norm.weight", {E}, TensorInit::kOnes);
    if (l < s.first_dense || s.n_experts == 0) {
      matrix(p + "ffn_gate.weight", {E, s.dense_ff}, L);
      matrix(p + "ffn_up.weight", {E, s.dense_ff}, L);
      matrix(p + "ffn_down.weight", {s.dense_ff, E}, L);
    } else {
      f32(p + "ffn_gate_inp.weight", {E, s.n_experts}, TensorInit::kMatrix);
      if (s.sigmoid_gating) f32(p + "exp_probs_b.bias", {s.n_experts}, TensorInit::kBias);
      matrix(p + "ffn_gate_exps.weight", {E, s.moe_ff, s.n_experts}, L);
      matrix(p + "ffn_up_exps.weight", {E, s.moe_ff, s.n_experts}, L);
      matrix(p + "ffn_down_exps.weight", {s.moe_ff, E, s.n_experts}, L);
      if (s.n_shared > 0) {
        const uint64_t sh = uint64_t{s.moe_ff} * s.n_shared;
        matrix(p + "ffn_gate_shexp.weight", {E, sh}, L);
        matrix(p + "ffn_up_shexp.weight", {E, sh}, L);
        matrix(p + "ffn_down_shexp.weight", {sh, E}, L);
      }
    }
  }
  f32("output_norm.weight", {E}, TensorInit::kOnes);
  matrix("output.weight", {E, s.vocab}, -1);
  return out;
}

}  // namespace baleen::cli
