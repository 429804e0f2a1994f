// The model's weights as the forward pass reads them: per-layer WeightMatrix views bound by name
// into the mapped GGUF or safetensors files (quantized / FP8 weights are used in place), plus
// small owned F32 vectors for norms and biases. `bind_gguf_weights` / `bind_hf_weights` check
// every tensor's presence, type and shape and name the tensor in their errors. Used by model.cc;
// read by the attention / FFN code (mla.cc, dense.cc, moe.cc, mtp.cc).
#pragma once

#include <deque>
#include <memory>
#include <vector>

#include "io/gguf.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "model/k_b_q8.h"
#include "model/model.h"
#include "tensor/weight.h"

namespace baleen {

// SwiGLU: down · (silu(gate · x) ⊙ (up · x)).
struct FfnWeights {
  WeightMatrix gate;  // [ff, hidden_size]
  WeightMatrix up;    // [ff, hidden_size]
  WeightMatrix down;  // [hidden_size, ff]
  bool empty() const { return gate.empty(); }
};

struct MoeWeights {
  WeightMatrix router;              // [n_routed_experts, hidden_size]
  std::vector<float> score_bias;    // [n_routed_experts] (V3 e_score_correction_bias) or empty
  std::vector<FfnWeights> experts;  // [n_routed_experts], each of width moe_intermediate_size
  FfnWeights shared;                // width n_shared_experts * moe_intermediate_size; empty if none
};

struct LayerWeights {
  std::vector<float> attn_norm;  // [hidden_size]
  std::vector<float> ffn_norm;   // [hidden_size]
  WeightMatrix wo;               // [hidden_size, n_heads * v_head_dim] (MLA) or [hidden, n_heads * head_dim]

  // llama / qwen2 (GQA)
  WeightMatrix wq, wk, wv;        // [n_heads * head_dim | n_kv_heads * head_dim, hidden_size]
  std::vector<float> bq, bk, bv;  // qwen2 biases (empty otherwise)

  // MLA
  WeightMatrix wq_plain;         // [n_heads * qk_head_dim, hidden_size] when q_lora_rank == 0
  WeightMatrix wq_a;             // [q_lora_rank, hidden_size]
  std::vector<float> q_a_norm;   // [q_lora_rank]
  WeightMatrix wq_b;             // [n_heads * qk_head_dim, q_lora_rank]
  WeightMatrix wkv_a;            // [kv_lora_rank + qk_rope_head_dim, hidden_size]
  std::vector<float> kv_a_norm;  // [kv_lora_rank]
  // W_UK per head. k_b_latent_rows: [kv_lora_rank, qk_nope_head_dim] (GGUF attn_k_b, = W_UK^T);
  // otherwise [qk_nope_head_dim, kv_lora_rank] (row views of HF kv_b_proj, = W_UK).
  std::vector<WeightMatrix> k_b;
  bool k_b_latent_rows = true;
  // GGUF k_b of a quantized type: its transposes requantized to Q8_0 on first naive prefill
  // (model/k_b_q8.h); null otherwise.
  std::shared_ptr<KbQ8> k_b_q8;
  std::vector<WeightMatrix> v_b;  // W_UV per head: [v_head_dim, kv_lora_rank]
  WeightMatrix kv_b;              // HF only: [n_heads * (nope + v), kv_lora_rank] (whole kv_b_proj)

  bool is_moe = false;
  FfnWeights ffn;  // dense FFN
  MoeWeights moe;
};

struct MtpWeights {
  std::vector<float> enorm, hnorm, head_norm;  // [hidden_size]
  WeightMatrix embed;                          // [n_vocab, hidden_size]
  WeightMatrix eh_proj;                        // [hidden_size, 2 * hidden_size]
  WeightMatrix head;                           // [n_vocab, hidden_size]
  LayerWeights block;                          // MLA + MoE decoder block
};

struct ModelWeights {
  WeightMatrix tok_embd;  // [n_vocab, hidden_size]
  WeightMatrix output;    // [n_vocab, hidden_size] (token embedding when tied)
  std::vector<float> output_norm;
  std::vector<float> rope_freq_factors;  // llama.cpp rope_freqs.weight; empty when absent
  std::vector<LayerWeights> layers;
  bool has_mtp = false;
  MtpWeights mtp;
  std::deque<std::vector<float>> owned;  // buffers views point into (FP8 scales); deque: stable addresses
};

// Binds every tensor of a GGUF file for `cfg`. Errors name the tensor (missing, wrong shape with
// expected and actual, or a type without a dequantizer).
Result<ModelWeights> bind_gguf_weights(const GgufFile& gguf, const ModelConfig& cfg);
// Same for an HF checkpoint (BF16/F16/F32, or FP8 e4m3 with 128x128 block scales used in place).
// load_mtp: also bind layer `num_hidden_layers` as the MTP module (when the config has one).
Result<ModelWeights> bind_hf_weights(const SafetensorsModel& st, const HfModelConfig& hf, const ModelConfig& cfg,
                                     bool load_mtp);

}  // namespace baleen
