#include "model/weights.h"

#include <cmath>
#include <string>

#include "kernels/ref/dequant.h"

namespace baleen {
namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

Error shape_error(const std::string& name, const std::vector<int64_t>& want, const std::vector<int64_t>& got) {
  return make_error(ErrorCode::kCorruptFile, "tensor '%s': expected shape %s, got %s", name.c_str(),
                    shape_str(want).c_str(), shape_str(got).c_str());
}

Error missing(const std::string& name) {
  return make_error(ErrorCode::kNotFound, "tensor '%s' not found", name.c_str());
}

// Tensor access by name with shapes in numpy (row-major, outermost first) order.
class Binder {
 public:
  virtual ~Binder() = default;
  virtual bool has(const std::string& name) const = 0;
  virtual Result<WeightMatrix> matrix(const std::string& name, int64_t rows, int64_t cols) = 0;
  // A 3-D tensor [n, rows, cols] as n matrix views.
  virtual Result<std::vector<WeightMatrix>> stacked(const std::string& name, int64_t n, int64_t rows, int64_t cols) = 0;
  virtual Result<std::vector<float>> vec(const std::string& name, int64_t n) = 0;
};

class GgufBinder final : public Binder {
 public:
  explicit GgufBinder(const GgufFile& f) : f_(f) {}
  bool has(const std::string& name) const override { return f_.find_tensor(name) != nullptr; }

  Result<WeightMatrix> matrix(const std::string& name, int64_t rows, int64_t cols) override {
    BALEEN_ASSIGN_OR_RETURN(const GgufTensorInfo* t, get(name, {rows, cols}));
    return view(*t, rows, cols, 0);
  }
  Result<std::vector<WeightMatrix>> stacked(const std::string& name, int64_t n, int64_t rows, int64_t cols) override {
    BALEEN_ASSIGN_OR_RETURN(const GgufTensorInfo* t, get(name, {n, rows, cols}));
    std::vector<WeightMatrix> out;
    for (int64_t e = 0; e < n; ++e) out.push_back(view(*t, rows, cols, e * rows));
    return out;
  }
  Result<std::vector<float>> vec(const std::string& name, int64_t n) override {
    BALEEN_ASSIGN_OR_RETURN(const GgufTensorInfo* t, get(name, {n}));
    std::vector<float> out(static_cast<size_t>(n));
    weight_row_to_f32(view(*t, 1, n, 0), 0, out.data());
    return out;
  }

 private:
  Result<const GgufTensorInfo*> get(const std::string& name, const std::vector<int64_t>& want) {
    const GgufTensorInfo* t = f_.find_tensor(name);
    if (t == nullptr) return missing(name);
    std::vector<int64_t> got(t->ne.rbegin(), t->ne.rend());
    if (got != want) return shape_error(name, want, got);
    if (!ggml_type_info(t->type).has_dequantize) {
      return make_error(ErrorCode::kUnsupported, "tensor '%s': type %s is not supported", name.c_str(),
                        std::string(ggml_type_info(t->type).name).c_str());
    }
    return t;
  }
  static WeightMatrix view(const GgufTensorInfo& t, int64_t rows, int64_t cols, int64_t first_row) {
    WeightMatrix w;
    w.format = WeightFormat::kGgml;
    w.type = t.type;
    w.rows = rows;
    w.cols = cols;
    w.row_stride = ggml_row_bytes(t.type, static_cast<uint64_t>(cols));
    w.data = t.data + static_cast<uint64_t>(first_row) * w.row_stride;
    return w;
  }
  const GgufFile& f_;
};

class HfBinder final : public Binder {
 public:
  HfBinder(const SafetensorsModel& st, const HfModelConfig& hf, std::deque<std::vector<float>>& owned)
      : st_(st), owned_(owned) {
    if (hf.quantization) {
      block_rows_ = hf.quantization->block_rows;
      block_cols_ = hf.quantization->block_cols;
    }
  }
  bool has(const std::string& name) const override { return st_.find(name) != nullptr; }

  Result<WeightMatrix> matrix(const std::string& name, int64_t rows, int64_t cols) override {
    const SafetensorsTensor* t = st_.find(name);
    if (t == nullptr) return missing(name);
    if (t->shape != std::vector<int64_t>{rows, cols}) return shape_error(name, {rows, cols}, t->shape);
    WeightMatrix w;
    w.rows = rows;
    w.cols = cols;
    w.data = t->data;
    switch (t->dtype) {
      case SafetensorsDtype::kF32:
        w.type = GgmlType::kF32;
        w.row_stride = static_cast<uint64_t>(cols) * 4;
        return w;
      case SafetensorsDtype::kF16:
        w.type = GgmlType::kF16;
        w.row_stride = static_cast<uint64_t>(cols) * 2;
        return w;
      case SafetensorsDtype::kBF16:
        w.type = GgmlType::kBF16;
        w.row_stride = static_cast<uint64_t>(cols) * 2;
        return w;
      case SafetensorsDtype::kF8E4M3:
        break;
      default:
        return make_error(ErrorCode::kUnsupported, "tensor '%s': dtype %s is not supported for weights", name.c_str(),
                          safetensors_dtype_name(t->dtype));
    }
    // FP8 e4m3 with per-block scale_inv, used in place; the (small) scales are copied so that
    // they are float-aligned.
    const std::string sname = name + "_scale_inv";
    const SafetensorsTensor* s = st_.find(sname);
    if (s == nullptr) return missing(sname);
    const std::vector<int64_t> want = {(rows + block_rows_ - 1) / block_rows_, (cols + block_cols_ - 1) / block_cols_};
    if (s->shape != want) return shape_error(sname, want, s->shape);
    if (s->dtype != SafetensorsDtype::kF32) {
      return make_error(ErrorCode::kCorruptFile, "tensor '%s': expected F32, got %s", sname.c_str(),
                        safetensors_dtype_name(s->dtype));
    }
    BALEEN_ASSIGN_OR_RETURN(std::vector<float> scales, to_f32(*s));
    for (float v : scales) {
      if (!std::isfinite(v) || v < 0.0f) {
        return make_error(ErrorCode::kCorruptFile, "tensor '%s': scale %g is not finite and non-negative",
                          sname.c_str(), static_cast<double>(v));
      }
    }
    owned_.push_back(std::move(scales));
    w.format = WeightFormat::kFp8E4M3Block;
    w.row_stride = static_cast<uint64_t>(cols);
    w.scale_inv = owned_.back().data();
    w.scale_cols = want[1];
    w.block_rows = static_cast<int32_t>(block_rows_);
    w.block_cols = static_cast<int32_t>(block_cols_);
    return w;
  }
  Result<std::vector<WeightMatrix>> stacked(const std::string& name, int64_t, int64_t, int64_t) override {
    return make_error(ErrorCode::kInternal, "stacked tensor '%s' requested from a safetensors checkpoint",
                      name.c_str());
  }
  Result<std::vector<float>> vec(const std::string& name, int64_t n) override {
    const SafetensorsTensor* t = st_.find(name);
    if (t == nullptr) return missing(name);
    if (t->shape != std::vector<int64_t>{n}) return shape_error(name, {n}, t->shape);
    return to_f32(*t);
  }

 private:
  const SafetensorsModel& st_;
  std::deque<std::vector<float>>& owned_;
  int64_t block_rows_ = 128, block_cols_ = 128;
};

Result<FfnWeights> bind_ffn(Binder& b, const std::string& gate, const std::string& up, const std::string& down,
                            int64_t hidden, int64_t ff) {
  FfnWeights f;
  BALEEN_ASSIGN_OR_RETURN(f.gate, b.matrix(gate, ff, hidden));
  BALEEN_ASSIGN_OR_RETURN(f.up, b.matrix(up, ff, hidden));
  BALEEN_ASSIGN_OR_RETURN(f.down, b.matrix(down, hidden, ff));
  return f;
}

// ---- GGUF ----

Status bind_gguf_layer(Binder& b, const ModelConfig& c, int64_t il, LayerWeights* L) {
  const std::string p = "blk." + std::to_string(il) + ".";
  const int64_t E = c.hidden_size, H = c.n_heads;
  BALEEN_ASSIGN_OR_RETURN(L->attn_norm, b.vec(p + "attn_norm.weight", E));
  BALEEN_ASSIGN_OR_RETURN(L->ffn_norm, b.vec(p + "ffn_norm.weight", E));
  if (c.arch == ModelArch::kDeepseek2) {
    const int64_t qk = c.qk_nope_head_dim + c.qk_rope_head_dim;
    if (c.q_lora_rank > 0) {
      BALEEN_ASSIGN_OR_RETURN(L->wq_a, b.matrix(p + "attn_q_a.weight", c.q_lora_rank, E));
      BALEEN_ASSIGN_OR_RETURN(L->q_a_norm, b.vec(p + "attn_q_a_norm.weight", c.q_lora_rank));
      BALEEN_ASSIGN_OR_RETURN(L->wq_b, b.matrix(p + "attn_q_b.weight", H * qk, c.q_lora_rank));
    } else {
      BALEEN_ASSIGN_OR_RETURN(L->wq_plain, b.matrix(p + "attn_q.weight", H * qk, E));
    }
    BALEEN_ASSIGN_OR_RETURN(L->wkv_a, b.matrix(p + "attn_kv_a_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, E));
    BALEEN_ASSIGN_OR_RETURN(L->kv_a_norm, b.vec(p + "attn_kv_a_norm.weight", c.kv_lora_rank));
    BALEEN_ASSIGN_OR_RETURN(L->k_b, b.stacked(p + "attn_k_b.weight", H, c.kv_lora_rank, c.qk_nope_head_dim));
    L->k_b_latent_rows = true;
    if (KbQ8::applies(L->k_b)) L->k_b_q8 = std::make_shared<KbQ8>();
    BALEEN_ASSIGN_OR_RETURN(L->v_b, b.stacked(p + "attn_v_b.weight", H, c.v_head_dim, c.kv_lora_rank));
    BALEEN_ASSIGN_OR_RETURN(L->wo, b.matrix(p + "attn_output.weight", E, H * c.v_head_dim));
  } else {
    const int64_t hd = c.head_dim, KV = c.n_kv_heads;
    BALEEN_ASSIGN_OR_RETURN(L->wq, b.matrix(p + "attn_q.weight", H * hd, E));
    BALEEN_ASSIGN_OR_RETURN(L->wk, b.matrix(p + "attn_k.weight", KV * hd, E));
    BALEEN_ASSIGN_OR_RETURN(L->wv, b.matrix(p + "attn_v.weight", KV * hd, E));
    BALEEN_ASSIGN_OR_RETURN(L->wo, b.matrix(p + "attn_output.weight", E, H * hd));
    if (c.arch == ModelArch::kQwen2) {
      BALEEN_ASSIGN_OR_RETURN(L->bq, b.vec(p + "attn_q.bias", H * hd));
      BALEEN_ASSIGN_OR_RETURN(L->bk, b.vec(p + "attn_k.bias", KV * hd));
      BALEEN_ASSIGN_OR_RETURN(L->bv, b.vec(p + "attn_v.bias", KV * hd));
    }
  }
  L->is_moe = c.arch == ModelArch::kDeepseek2 && c.n_routed_experts > 0 && il >= c.first_k_dense_replace;
  if (!L->is_moe) {
    BALEEN_ASSIGN_OR_RETURN(
        L->ffn, bind_ffn(b, p + "ffn_gate.weight", p + "ffn_up.weight", p + "ffn_down.weight", E, c.intermediate_size));
    return ok_status();
  }
  const int64_t X = c.n_routed_experts, ff = c.moe_intermediate_size;
  BALEEN_ASSIGN_OR_RETURN(L->moe.router, b.matrix(p + "ffn_gate_inp.weight", X, E));
  if (b.has(p + "exp_probs_b.bias")) {
    BALEEN_ASSIGN_OR_RETURN(L->moe.score_bias, b.vec(p + "exp_probs_b.bias", X));
  }
  BALEEN_ASSIGN_OR_RETURN(std::vector<WeightMatrix> g, b.stacked(p + "ffn_gate_exps.weight", X, ff, E));
  BALEEN_ASSIGN_OR_RETURN(std::vector<WeightMatrix> u, b.stacked(p + "ffn_up_exps.weight", X, ff, E));
  BALEEN_ASSIGN_OR_RETURN(std::vector<WeightMatrix> d, b.stacked(p + "ffn_down_exps.weight", X, E, ff));
  L->moe.experts.resize(static_cast<size_t>(X));
  for (int64_t e = 0; e < X; ++e) L->moe.experts[e] = FfnWeights{g[e], u[e], d[e]};
  if (c.n_shared_experts > 0) {
    BALEEN_ASSIGN_OR_RETURN(L->moe.shared, bind_ffn(b, p + "ffn_gate_shexp.weight", p + "ffn_up_shexp.weight",
                                                    p + "ffn_down_shexp.weight", E, c.n_shared_experts * ff));
  }
  return ok_status();
}

// ---- Hugging Face ----

Status bind_hf_layer(Binder& b, const HfModelConfig& hf, const ModelConfig& c, int64_t il, bool is_moe,
                     LayerWeights* L) {
  const std::string p = "model.layers." + std::to_string(il) + ".";
  const int64_t E = c.hidden_size, H = c.n_heads;
  BALEEN_ASSIGN_OR_RETURN(L->attn_norm, b.vec(p + "input_layernorm.weight", E));
  BALEEN_ASSIGN_OR_RETURN(L->ffn_norm, b.vec(p + "post_attention_layernorm.weight", E));
  if (c.arch == ModelArch::kDeepseek2) {
    const int64_t qk = c.qk_nope_head_dim + c.qk_rope_head_dim, nope = c.qk_nope_head_dim, v = c.v_head_dim;
    const std::string a = p + "self_attn.";
    if (c.q_lora_rank > 0) {
      BALEEN_ASSIGN_OR_RETURN(L->wq_a, b.matrix(a + "q_a_proj.weight", c.q_lora_rank, E));
      BALEEN_ASSIGN_OR_RETURN(L->q_a_norm, b.vec(a + "q_a_layernorm.weight", c.q_lora_rank));
      BALEEN_ASSIGN_OR_RETURN(L->wq_b, b.matrix(a + "q_b_proj.weight", H * qk, c.q_lora_rank));
    } else {
      BALEEN_ASSIGN_OR_RETURN(L->wq_plain, b.matrix(a + "q_proj.weight", H * qk, E));
    }
    BALEEN_ASSIGN_OR_RETURN(L->wkv_a,
                            b.matrix(a + "kv_a_proj_with_mqa.weight", c.kv_lora_rank + c.qk_rope_head_dim, E));
    BALEEN_ASSIGN_OR_RETURN(L->kv_a_norm, b.vec(a + "kv_a_layernorm.weight", c.kv_lora_rank));
    BALEEN_ASSIGN_OR_RETURN(L->kv_b, b.matrix(a + "kv_b_proj.weight", H * (nope + v), c.kv_lora_rank));
    // Row views per head: rows [h*(nope+v), +nope) are W_UK[h], the next v rows W_UV[h].
    L->k_b_latent_rows = false;
    for (int64_t h = 0; h < H; ++h) {
      L->k_b.push_back(L->kv_b.row_slice(h * (nope + v), nope));
      L->v_b.push_back(L->kv_b.row_slice(h * (nope + v) + nope, v));
    }
    BALEEN_ASSIGN_OR_RETURN(L->wo, b.matrix(a + "o_proj.weight", E, H * v));
  } else {
    const int64_t hd = c.head_dim, KV = c.n_kv_heads;
    const std::string a = p + "self_attn.";
    BALEEN_ASSIGN_OR_RETURN(L->wq, b.matrix(a + "q_proj.weight", H * hd, E));
    BALEEN_ASSIGN_OR_RETURN(L->wk, b.matrix(a + "k_proj.weight", KV * hd, E));
    BALEEN_ASSIGN_OR_RETURN(L->wv, b.matrix(a + "v_proj.weight", KV * hd, E));
    BALEEN_ASSIGN_OR_RETURN(L->wo, b.matrix(a + "o_proj.weight", E, H * hd));
    if (hf.qkv_bias) {
      BALEEN_ASSIGN_OR_RETURN(L->bq, b.vec(a + "q_proj.bias", H * hd));
      BALEEN_ASSIGN_OR_RETURN(L->bk, b.vec(a + "k_proj.bias", KV * hd));
      BALEEN_ASSIGN_OR_RETURN(L->bv, b.vec(a + "v_proj.bias", KV * hd));
    }
  }
  const std::string m = p + "mlp.";
  L->is_moe = is_moe;
  if (!is_moe) {
    BALEEN_ASSIGN_OR_RETURN(L->ffn, bind_ffn(b, m + "gate_proj.weight", m + "up_proj.weight", m + "down_proj.weight", E,
                                             c.intermediate_size));
    return ok_status();
  }
  const int64_t X = c.n_routed_experts, ff = c.moe_intermediate_size;
  BALEEN_ASSIGN_OR_RETURN(L->moe.router, b.matrix(m + "gate.weight", X, E));
  if (hf.topk_method == TopkMethod::kNoauxTc) {
    BALEEN_ASSIGN_OR_RETURN(L->moe.score_bias, b.vec(m + "gate.e_score_correction_bias", X));
  }
  for (int64_t e = 0; e < X; ++e) {
    const std::string ep = m + "experts." + std::to_string(e) + ".";
    BALEEN_ASSIGN_OR_RETURN(
        FfnWeights f, bind_ffn(b, ep + "gate_proj.weight", ep + "up_proj.weight", ep + "down_proj.weight", E, ff));
    L->moe.experts.push_back(f);
  }
  if (c.n_shared_experts > 0) {
    const std::string sp = m + "shared_experts.";
    BALEEN_ASSIGN_OR_RETURN(L->moe.shared, bind_ffn(b, sp + "gate_proj.weight", sp + "up_proj.weight",
                                                    sp + "down_proj.weight", E, c.n_shared_experts * ff));
  }
  return ok_status();
}

}  // namespace

Result<ModelWeights> bind_gguf_weights(const GgufFile& gguf, const ModelConfig& c) {
  GgufBinder b(gguf);
  ModelWeights w;
  BALEEN_ASSIGN_OR_RETURN(w.tok_embd, b.matrix("token_embd.weight", c.n_vocab, c.hidden_size));
  BALEEN_ASSIGN_OR_RETURN(w.output_norm, b.vec("output_norm.weight", c.hidden_size));
  if (b.has("output.weight")) {
    BALEEN_ASSIGN_OR_RETURN(w.output, b.matrix("output.weight", c.n_vocab, c.hidden_size));
  } else {
    w.output = w.tok_embd;
  }
  if (b.has("rope_freqs.weight")) {
    const int64_t dims = c.arch == ModelArch::kDeepseek2 ? c.qk_rope_head_dim : c.head_dim;
    BALEEN_ASSIGN_OR_RETURN(w.rope_freq_factors, b.vec("rope_freqs.weight", dims / 2));
  }
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t il = 0; il < c.n_layers; ++il) BALEEN_TRY(bind_gguf_layer(b, c, il, &w.layers[il]));
  return w;
}

Result<ModelWeights> bind_hf_weights(const SafetensorsModel& st, const HfModelConfig& hf, const ModelConfig& c,
                                     bool load_mtp) {
  ModelWeights w;
  HfBinder b(st, hf, w.owned);
  BALEEN_ASSIGN_OR_RETURN(w.tok_embd, b.matrix("model.embed_tokens.weight", c.n_vocab, c.hidden_size));
  BALEEN_ASSIGN_OR_RETURN(w.output_norm, b.vec("model.norm.weight", c.hidden_size));
  if (b.has("lm_head.weight") || !hf.tie_word_embeddings) {
    BALEEN_ASSIGN_OR_RETURN(w.output, b.matrix("lm_head.weight", c.n_vocab, c.hidden_size));
  } else {
    w.output = w.tok_embd;
  }
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t il = 0; il < c.n_layers; ++il) {
    BALEEN_TRY(bind_hf_layer(b, hf, c, il, hf.is_moe_layer(il), &w.layers[il]));
  }
  if (load_mtp && c.arch == ModelArch::kDeepseek2 && hf.num_nextn_predict_layers > 0) {
    const int64_t il = hf.num_hidden_layers;
    const std::string p = "model.layers." + std::to_string(il) + ".";
    const int64_t E = c.hidden_size;
    MtpWeights& m = w.mtp;
    BALEEN_ASSIGN_OR_RETURN(m.enorm, b.vec(p + "enorm.weight", E));
    BALEEN_ASSIGN_OR_RETURN(m.hnorm, b.vec(p + "hnorm.weight", E));
    BALEEN_ASSIGN_OR_RETURN(m.eh_proj, b.matrix(p + "eh_proj.weight", E, 2 * E));
    BALEEN_ASSIGN_OR_RETURN(m.head_norm, b.vec(p + "shared_head.norm.weight", E));
    if (b.has(p + "shared_head.head.weight")) {
      BALEEN_ASSIGN_OR_RETURN(m.head, b.matrix(p + "shared_head.head.weight", c.n_vocab, E));
    } else {
      m.head = w.output;  // shared with the main head (README_WEIGHTS)
    }
    if (b.has(p + "embed_tokens.weight")) {
      BALEEN_ASSIGN_OR_RETURN(m.embed, b.matrix(p + "embed_tokens.weight", c.n_vocab, E));
    } else {
      m.embed = w.tok_embd;
    }
    BALEEN_TRY(bind_hf_layer(b, hf, c, il, c.n_routed_experts > 0, &m.block));
    w.has_mtp = true;
  }
  return w;
}

}  // namespace baleen
