// A loaded model and the per-sequence state that runs it. `Model::load` opens a GGUF file or a
// Hugging Face folder (config.json + safetensors [+ tokenizer.json]), validates the architecture
// and binds every tensor by name (zero-copy views into the mapped files). `Session` holds one
// sequence's KV cache (for MLA: only the normalised latent and the rotated shared k_pe per token
// per layer) and evaluates tokens against it. `eval_batch` advances several sessions in one forward
// pass (prefill chunks and single-token decodes mixed; every weight matrix is read once per step for
// all of them); Session::eval is its one-item case. Used by the CLI (`run`, `chat`, `logits`,
// `bench`) and the engine's scheduler.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"
#include "tokenizer/tokenizer.h"

namespace baleen {

enum class ModelArch { kDeepseek2, kLlama, kQwen2 };
const char* model_arch_name(ModelArch arch);

// Architecture hyper-parameters, from GGUF metadata or config.json (names follow DeepSeek's).
struct ModelConfig {
  ModelArch arch = ModelArch::kLlama;
  int64_t n_vocab = 0;
  int64_t hidden_size = 0;
  int64_t n_layers = 0;  // main layers (MTP layers not counted)
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;         // llama/qwen2 (GQA); deepseek2: n_heads
  int64_t head_dim = 0;           // llama/qwen2
  int64_t intermediate_size = 0;  // dense FFN
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  // RoPE
  double rope_theta = 10000.0;
  std::string rope_scaling;  // "", "yarn", "llama3", "linear"
  double rope_factor = 1.0;
  double rope_original_ctx = 0.0;
  double yarn_beta_fast = 32.0, yarn_beta_slow = 1.0, yarn_mscale = 1.0, yarn_mscale_all_dim = 0.0;
  double llama3_low_freq_factor = 1.0, llama3_high_freq_factor = 4.0;
  // MLA
  int64_t q_lora_rank = 0;  // 0: plain q projection (V2-Lite)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  // DeepSeekMoE
  int64_t first_k_dense_replace = 0;
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t moe_intermediate_size = 0;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  bool scoring_sigmoid = false;  // sigmoid (V3 noaux_tc) vs softmax (V2)
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  int64_t n_mtp_layers = 0;  // MTP modules present in the loaded weights
  int64_t bos_token_id = -1;
  std::vector<int64_t> eos_token_ids;

  // KV-cache bytes per token for all layers at `bytes_per_element` (MLA: (kv_lora_rank +
  // qk_rope_head_dim) * n_layers; GQA: 2 * n_kv_heads * head_dim * n_layers).
  uint64_t kv_bytes_per_token(int bytes_per_element) const;
};

struct LoadOptions {
  bool load_mtp = true;  // bind the MTP module's tensors when present
};

class Model {
 public:
  // PATH: a .gguf file or an HF folder. Errors: unknown architecture, missing or mis-shaped tensor
  // (named), unsupported tensor type, corrupt file.
  static Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& opts = {});
  virtual ~Model() = default;

  virtual const ModelConfig& config() const = 0;
  // The model's tokenizer (from the GGUF or the folder's tokenizer.json); nullptr if it has none.
  virtual const Tokenizer* tokenizer() const = 0;
  // The chat template text stored with the model ("" if none).
  virtual const std::string& chat_template_text() const = 0;
  virtual bool has_mtp() const = 0;
};

enum class AttentionForm {
  kAuto,      // naive for prefill chunks of many tokens, absorbed for decode
  kNaive,     // expand K and V from the latent per head (MHA)
  kAbsorbed,  // fold k_b into the query and v_b into the output; attend over the latent (MQA)
};

struct SessionOptions {
  int64_t n_ctx = 4096;  // tokens this sequence may hold (<= the model's context)
  AttentionForm attention = AttentionForm::kAuto;
};

// One sequence. Not thread-safe; several sessions may share a Model and a ThreadPool when used
// from one thread at a time.
class Session {
 public:
  static Result<std::unique_ptr<Session>> create(const Model& model, ThreadPool& pool, const SessionOptions& opts = {});
  virtual ~Session() = default;

  // Appends `tokens` at positions n_past()..n_past()+n-1 and runs them through the model in one
  // pass (prefill) or one token (decode). logits: resized to [n, n_vocab] when all_logits, else
  // [n_vocab] for the last token. Errors: kOutOfRange when the sequence would exceed n_ctx
  // (nothing is appended), kInvalidArgument for an id outside the vocabulary.
  virtual Status eval(std::span<const TokenId> tokens, std::vector<float>* logits, bool all_logits = false) = 0;

  // MTP head (depth 1, deepseek-spec section 5 / conformance README 7.4) over everything evaluated
  // so far: row i (i < n_past() - 1) predicts token i + 2 from the main model's final normed hidden
  // state at i and the embedding of token i + 1. logits: [n_past() - 1, n_vocab]. Errors:
  // kUnsupported when the model has no MTP module.
  virtual Status mtp_logits(std::vector<float>* logits) = 0;

  virtual int64_t n_past() const = 0;
  virtual int64_t n_ctx() const = 0;
  // Drops everything after the first n tokens (n <= n_past()).
  virtual void truncate(int64_t n) = 0;

  // Per-position state of positions [pos0, pos0 + n) as opaque floats, token-major: every layer's
  // KV row (MLA: [latent | k_pe]; GQA: K then V), plus the MTP layer's row and the final normed
  // hidden state when the model has MTP; kv_floats_per_token() floats per position. Used by the
  // prefix cache (engine/prefix_cache.h). The defaults (for sessions that cannot export: test
  // fakes) report 0 floats and kUnsupported.
  virtual int64_t kv_floats_per_token() const { return 0; }
  // out: [n, kv_floats_per_token()]. Errors: kOutOfRange unless 0 <= pos0 <= pos0 + n <= n_past().
  virtual Status export_kv(int64_t pos0, int64_t n, float* out) const;
  // Appends n = tokens.size() positions at n_past() from `kv` (as produced by export_kv for the
  // same model), with the tokens they belong to. Errors: kOutOfRange if it does not fit (nothing is
  // appended), kInvalidArgument for an id outside the vocabulary.
  virtual Status import_kv(std::span<const TokenId> tokens, const float* kv);
};

// One sequence's part of a batched step.
struct BatchItem {
  Session* session = nullptr;
  std::span<const TokenId> tokens;  // appended at positions session->n_past() ... (not empty)
  // nullptr: no logits. Otherwise resized to [n_vocab] for the item's last token, or to
  // [n_tokens, n_vocab] when all_logits (e.g. for prompt logprobs).
  std::vector<float>* logits = nullptr;
  bool all_logits = false;
};

struct Scratch;  // model/forward.h

// The buffers of batched steps (activations, attention and FFN temporaries, logits rows), grown to
// the largest step seen and never shrunk, so that steady-state steps allocate nothing. Owned by
// whoever drives eval_batch (one per scheduler thread); not tied to a model.
class BatchScratch {
 public:
  BatchScratch();
  ~BatchScratch();
  BatchScratch(BatchScratch&&) noexcept;
  BatchScratch& operator=(BatchScratch&&) noexcept;
  Scratch& impl() { return *impl_; }  // for the model's own code

  // For measuring batched decode (baleen bench): the eval_batch steps run through this scratch so
  // far, and the bytes of routed-expert weight matrices (gate, up, down) their MoE layers ran, each
  // expert counted once per step and layer however many of the step's tokens chose it (what one
  // batched step reads of the experts; MTP layers included when they run; rows x row stride, so
  // without the FP8 block scales).
  uint64_t steps() const;
  uint64_t routed_expert_bytes() const;

 private:
  std::unique_ptr<Scratch> impl_;
};

// Evaluates every item in ONE forward pass: the rows of all items go through each projection,
// expert and the output head together; attention runs per sequence against its own cache (each
// session keeps its own MLA form choice: naive for chunks of >= 16 tokens under kAuto). Rows are
// independent: the results equal, bit for bit, those of evaluating the items one by one with
// Session::eval, except where matmul picks its path by the number of rows (today only the opt-in
// BF16 GEMM, BALEEN_BF16_GEMM=1, for >= 32 rows of BF16 weights, kernels/matmul.h), where a row
// batched into a large step is rounded as in a long prefill.
// scratch: nullptr uses the first item's session's own buffers.
// Errors (checked for every item before anything is evaluated: on error no session is changed):
// kInvalidArgument for no items, a null or repeated session, sessions from different models or
// thread pools, an empty token list, or an id outside the vocabulary; kOutOfRange when an item
// would exceed its session's n_ctx. Each message names the item index.
Status eval_batch(std::span<const BatchItem> items, BatchScratch* scratch = nullptr);

}  // namespace baleen
