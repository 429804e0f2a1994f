// `baleen gen-random`: writes a full-size GGUF of a known model shape (tools/model_shapes.h) with
// deterministic random weights, for benchmarking and load testing without downloading a model.
// Weights: per tensor a seed from (--seed, tensor name), per row a stream derived from it, so the
// file does not depend on the thread count; matrices N(0, 1/fan_in), token embedding N(0, 1), norms
// 1, exp_probs_b N(0, 0.01); quantized with the reference quantizers (kernels/ref/quantize.h) in
// the chosen mix. The file is streamed tensor by tensor (io/gguf_stream_writer.h): memory holds one
// tensor. Tokenizer: every tokenizer.* key of --vocab-from, or a synthetic byte-level vocabulary
// (256 byte tokens, BOS, EOS, "tok_N" fillers; no merges).
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.h"
#include "core/thread_pool.h"
#include "io/gguf.h"
#include "io/gguf_stream_writer.h"
#include "kernels/ref/dequant.h"
#include "kernels/ref/quantize.h"
#include "model_shapes.h"
#include "tokenizer/byte_level.h"

namespace baleen::cli {
namespace {

struct GenOptions {
  std::string shape;
  std::string type = "q4_k_m";
  std::string out;
  uint64_t seed = 1;
  std::string vocab_from;
  int threads = 0;
  bool dry_run = false;
  uint32_t layers = 0;  // hidden test overrides: 0 = the shape's
  uint32_t vocab = 0;
  uint32_t experts = 0;
};

uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t fnv1a64(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// Fills v with N(0, std^2) from a xorshift-style generator (Box-Muller on pairs).
void fill_normal(float* v, uint64_t n, uint64_t stream, float std) {
  uint64_t state = stream;
  constexpr double kTwoPi = 6.283185307179586;
  for (uint64_t i = 0; i < n; i += 2) {
    uint64_t a = splitmix64(state), b = splitmix64(state);
    double u1 = (static_cast<double>(a >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    double u2 = static_cast<double>(b >> 11) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(u1)) * std;
    v[i] = static_cast<float>(r * std::cos(kTwoPi * u2));
    if (i + 1 < n) v[i + 1] = static_cast<float>(r * std::sin(kTwoPi * u2));
  }
}

std::string shape_string(const std::vector<uint64_t>& ne) {
  std::string s = "{";
  for (size_t k = 0; k < ne.size(); ++k) s += (k ? ", " : "") + std::to_string(ne[k]);
  return s + "}";
}

// Synthetic tokenizer: byte tokens 0-255 (byte-level notation), BOS 256, EOS 257, then fillers.
void set_synthetic_vocab(GgufStreamWriter& w, const ModelShape& shape, uint32_t n_vocab) {
  std::vector<std::string> tokens;
  std::vector<GgufValue> types;
  tokens.reserve(n_vocab);
  types.reserve(n_vocab);
  for (int b = 0; b < 256; ++b) {
    tokens.push_back(byte_level::encode(std::string(1, static_cast<char>(b))));
    types.push_back(gguf_i32(1));
  }
  tokens.push_back("<｜begin▁of▁sentence｜>");
  tokens.push_back("<｜end▁of▁sentence｜>");
  types.push_back(gguf_i32(3));
  types.push_back(gguf_i32(3));
  while (tokens.size() < n_vocab) {
    tokens.push_back("tok_" + std::to_string(tokens.size()));
    types.push_back(gguf_i32(1));
  }
  w.set_string("tokenizer.ggml.model", "gpt2");
  w.set_string("tokenizer.ggml.pre", shape.tokenizer_pre);
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  w.set_array("tokenizer.ggml.token_type", GgufArray{GgufType::kInt32, std::move(types)});
  w.set_string_array("tokenizer.ggml.merges", {});
  w.set_u32("tokenizer.ggml.bos_token_id", 256);
  w.set_u32("tokenizer.ggml.eos_token_id", 257);
  w.set_u32("tokenizer.ggml.padding_token_id", 257);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_bool("tokenizer.ggml.add_eos_token", false);
}

void set_model_metadata(GgufStreamWriter& w, const ModelShape& s, QuantMix mix, uint32_t n_vocab) {
  const std::string a = "deepseek2.";
  w.set_string("general.architecture", "deepseek2");
  w.set_string("general.name", s.display_name);
  w.set_u32(a + "block_count", s.n_layers);
  w.set_u32(a + "context_length", s.context_length);
  w.set_u32(a + "embedding_length", s.hidden);
  w.set_u32(a + "feed_forward_length", s.dense_ff);
  w.set_u32(a + "attention.head_count", s.n_heads);
  w.set_u32(a + "attention.head_count_kv", 1);
  w.set_f32(a + "rope.freq_base", s.rope_theta);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", s.rms_eps);
  w.set_u32(a + "expert_used_count", s.n_experts_used);
  w.set_u32(a + "expert_group_count", s.n_groups);
  w.set_u32(a + "expert_group_used_count", s.n_groups_used);
  w.set_u32(a + "vocab_size", n_vocab);
  w.set_u32(a + "leading_dense_block_count", s.first_dense);
  if (s.q_lora_rank > 0) w.set_u32(a + "attention.q_lora_rank", s.q_lora_rank);
  w.set_u32(a + "attention.kv_lora_rank", s.kv_lora_rank);
  w.set_u32(a + "attention.key_length", s.kv_lora_rank + s.qk_rope);
  w.set_u32(a + "attention.value_length", s.kv_lora_rank);
  w.set_u32(a + "attention.key_length_mla", s.qk_nope + s.qk_rope);
  w.set_u32(a + "attention.value_length_mla", s.v_head);
  w.set_u32(a + "expert_feed_forward_length", s.moe_ff);
  w.set_u32(a + "expert_count", s.n_experts);
  w.set_u32(a + "expert_shared_count", s.n_shared);
  w.set_f32(a + "expert_weights_scale", s.routed_scaling);
  if (s.norm_topk_prob) w.set_bool(a + "expert_weights_norm", true);
  w.set_u32(a + "expert_gating_func", s.sigmoid_gating ? 2 : 1);
  w.set_u32(a + "rope.dimension_count", s.qk_rope);
  w.set_string(a + "rope.scaling.type", "yarn");
  w.set_f32(a + "rope.scaling.factor", s.yarn_factor);
  w.set_u32(a + "rope.scaling.original_context_length", s.yarn_original_ctx);
  w.set_f32(a + "rope.scaling.yarn_beta_fast", 32.0f);
  w.set_f32(a + "rope.scaling.yarn_beta_slow", 1.0f);
  w.set_f32(a + "rope.scaling.yarn_log_multiplier", 0.1f * s.mscale_all_dim);
  w.set_u32("general.file_type", quant_mix_file_type(mix));
  w.set_u32("general.quantization_version", 2);
}

int fail(const char* what) {
  std::fprintf(stderr, "baleen gen-random: error: %s\n", what);
  return 1;
}
int fail(const Error& e) { return fail(e.message().c_str()); }

int run_gen_random(const GenOptions& o) {
  const ModelShape* base = find_model_shape(o.shape);
  if (base == nullptr) return fail(("unknown --shape '" + o.shape + "'").c_str());
  std::optional<QuantMix> mix = parse_quant_mix(o.type);
  if (!mix) return fail(("unknown --type '" + o.type + "' (q4_k_m, q8_0 or bf16)").c_str());
  if (!o.dry_run && o.out.empty()) return fail("-o FILE is required (or --dry-run)");
  ModelShape shape = *base;
  if (o.layers != 0) {
    shape.n_layers = o.layers;
    if (shape.first_dense > o.layers) shape.first_dense = o.layers;
  }
  if (o.experts != 0) {
    if (o.experts < shape.n_experts_used || o.experts % shape.n_groups != 0) {
      return fail("--experts must be at least the experts used per token and a multiple of the group count");
    }
    shape.n_experts = o.experts;
  }

  GgufStreamWriter w;
  uint32_t n_vocab = shape.vocab;
  if (!o.vocab_from.empty()) {
    if (o.vocab != 0) return fail("--vocab and --vocab-from exclude each other");
    auto src = GgufFile::open(o.vocab_from);
    if (!src.ok()) return fail(src.error());
    auto tokens = src->get_string_array("tokenizer.ggml.tokens");
    if (!tokens.ok()) return fail(tokens.error());
    n_vocab = static_cast<uint32_t>(tokens->size());
    if (n_vocab != shape.vocab) {
      std::fprintf(stderr, "baleen gen-random: note: %s has %u tokens; the model's vocabulary follows it (shape: %u)\n",
                   o.vocab_from.c_str(), n_vocab, shape.vocab);
    }
    shape.vocab = n_vocab;
    set_model_metadata(w, shape, *mix, n_vocab);
    for (const auto& [key, value] : src->metadata()) {
      if (key.rfind("tokenizer.", 0) == 0) w.set_value(key, value);
    }
  } else {
    if (o.vocab != 0) {
      if (o.vocab < 258) return fail("--vocab must be at least 258 (256 bytes, BOS, EOS)");
      n_vocab = o.vocab;
    }
    shape.vocab = n_vocab;
    set_model_metadata(w, shape, *mix, n_vocab);
    set_synthetic_vocab(w, shape, n_vocab);
  }

  std::vector<TensorPlan> plan = plan_tensors(shape, *mix);
  uint64_t n_params = 0, max_bytes = 0;
  for (const TensorPlan& t : plan) {
    Status st = w.declare_tensor(t.name, t.type, t.ne);
    if (!st.ok()) return fail(st.error());
    n_params += t.n_elements();
    max_bytes = std::max(max_bytes, t.n_bytes());
  }
  auto layout = w.layout();
  if (!layout.ok()) return fail(layout.error());

  std::printf("shape %s, type %s: %u layers (%u dense), %u routed experts (top %u), %u shared, vocab %u\n",
              shape.id.c_str(), o.type.c_str(), shape.n_layers, shape.first_dense, shape.n_experts,
              shape.n_experts_used, shape.n_shared, n_vocab);
  if (o.dry_run) {
    for (const TensorPlan& t : plan) {
      std::printf("  %-34s %-5s %-22s %12llu\n", t.name.c_str(), std::string(ggml_type_info(t.type).name).c_str(),
                  shape_string(t.ne).c_str(), static_cast<unsigned long long>(t.n_bytes()));
    }
  }
  std::printf("tensors: %zu\nparameters: %llu\nfile bytes: %llu (%.2f GiB)\n", plan.size(),
              static_cast<unsigned long long>(n_params), static_cast<unsigned long long>(layout->file_size()),
              static_cast<double>(layout->file_size()) / (1024.0 * 1024.0 * 1024.0));
  std::fflush(stdout);
  if (o.dry_run) return 0;

  Status st = w.open(o.out);
  if (!st.ok()) return fail(st.error());
  ThreadPool pool(o.threads);
  std::vector<char> buf(max_bytes);
  uint64_t seed_state = o.seed;
  const uint64_t seed_mix = splitmix64(seed_state);
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t written = 0;
  for (size_t k = 0; k < plan.size(); ++k) {
    const TensorPlan& t = plan[k];
    const uint64_t ne0 = t.ne[0];
    const uint64_t rows = t.n_elements() / ne0;
    const uint64_t row_bytes = ggml_row_bytes(t.type, ne0);
    const uint64_t tensor_seed = fnv1a64(t.name) ^ seed_mix;
    float std = 0.0f;
    if (t.init == TensorInit::kMatrix) std = 1.0f / std::sqrt(static_cast<float>(t.fan_in));
    if (t.init == TensorInit::kEmbed) std = 1.0f;
    if (t.init == TensorInit::kBias) std = 0.1f;
    std::atomic<bool> ok{true};
    pool.parallel_for(static_cast<int64_t>(rows), 1, [&](int64_t b, int64_t e, int) {
      std::vector<float> row(ne0);
      for (int64_t r = b; r < e; ++r) {
        if (t.init == TensorInit::kOnes) {
          std::fill(row.begin(), row.end(), 1.0f);
        } else {
          uint64_t s = tensor_seed ^ (static_cast<uint64_t>(r) * 0xD1B54A32D192ED03ull);
          fill_normal(row.data(), ne0, splitmix64(s), std);
        }
        if (!quantize_row_ref(t.type, row.data(), buf.data() + static_cast<uint64_t>(r) * row_bytes, ne0).ok()) {
          ok = false;
        }
      }
    });
    if (!ok) return fail(("quantizing " + t.name + " failed").c_str());
    st = w.write_tensor(t.name, buf.data(), t.n_bytes());
    if (!st.ok()) return fail(st.error());
    written += t.n_bytes();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[%zu/%zu] %-34s %-5s %-22s %8.1f MiB  %6.1f s  (%.0f MiB/s)\n", k + 1, plan.size(), t.name.c_str(),
                std::string(ggml_type_info(t.type).name).c_str(), shape_string(t.ne).c_str(),
                static_cast<double>(t.n_bytes()) / (1024.0 * 1024.0), secs,
                secs > 0 ? static_cast<double>(written) / (1024.0 * 1024.0) / secs : 0.0);
    std::fflush(stdout);
  }
  st = w.finish();
  if (!st.ok()) return fail(st.error());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("wrote %s: %llu bytes in %.1f s\n", o.out.c_str(), static_cast<unsigned long long>(layout->file_size()),
              secs);
  return 0;
}

}  // namespace

Runner add_gen_random(CLI::App& app) {
  auto o = std::make_shared<GenOptions>();
  CLI::App* sub = app.add_subcommand("gen-random", "write a full-size GGUF of a known shape with random weights");
  sub->add_option("--shape", o->shape, "deepseek-v2-lite or deepseek-v3-mini")->required();
  sub->add_option("--type", o->type, "q4_k_m (llama-quantize's mix), q8_0 or bf16")->capture_default_str();
  sub->add_option("-o,--out", o->out, "output GGUF file");
  sub->add_option("--seed", o->seed, "random seed")->capture_default_str();
  sub->add_option("--vocab-from", o->vocab_from, "copy every tokenizer.* key (and the vocabulary size) from this GGUF");
  sub->add_option("-t,--threads", o->threads, "worker threads (default: one per CPU)");
  sub->add_flag("--dry-run", o->dry_run, "print the tensor plan and the file size; write nothing");
  // Test-only overrides (hidden): fewer layers, routed experts, a smaller synthetic vocabulary.
  sub->add_option("--layers", o->layers, "override the layer count")->group("");
  sub->add_option("--experts", o->experts, "override the routed expert count")->group("");
  sub->add_option("--vocab", o->vocab, "override the synthetic vocabulary size")->group("");
  return [o] { return run_gen_random(*o); };
}

}  // namespace baleen::cli
