// Pieces shared by the subcommands that run a model (`run`, `chat`, `logits`): the model/session
// options and loading, the sampling flags, choosing a chat template, the stop tokens and error
// printing. CLI-only glue; the logic they call lives in src/model and src/engine.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "core/status.h"
#include "core/thread_pool.h"
#include "engine/sampling.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"

namespace baleen::cli {

struct ModelOptions {
  std::string model;
  int threads = 0;  // 0: one per CPU
  int64_t ctx = 0;  // 0: the command's default
  std::string attention = "auto";
};
// -m/--model (required), -t/--threads, -c/--ctx, --attention.
void add_model_options(CLI::App* sub, ModelOptions* o);

struct LoadedModel {
  std::unique_ptr<Model> model;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Session> session;
};
// Loads the model and creates one session of o.ctx tokens (default_ctx when o.ctx is 0, then
// capped at the model's context). Errors: the model's and the session's, kInvalidArgument for a
// context larger than the model's or an unknown --attention.
Result<LoadedModel> load_model(const ModelOptions& o, int64_t default_ctx, const LoadOptions& lo = {});

struct SamplingOptions {
  SamplerParams params;
  uint64_t seed = 0;
  const CLI::Option* seed_option = nullptr;  // not given: a random seed
};
// --temp, --top-k, --top-p, --min-p, --repeat-penalty, --repeat-last-n, --seed; defaults
// temperature 0.8, top-k 40, top-p 0.95, min-p 0.05 (llama.cpp's), no repetition penalty.
void add_sampling_options(CLI::App* sub, SamplingOptions* o);
// The parameters with the seed filled in; errors from validate_sampler_params.
Result<SamplerParams> sampler_params(const SamplingOptions& o);

// "deepseek-v3", "deepseek-r1", "deepseek-v3.1", "qwen3", "llama3", "deepseek-v2".
Result<ChatTemplateKind> chat_template_by_name(const std::string& name);
// The template to use: `name` when given, else the model's own. Errors: no template in the model,
// unrecognised template, unknown name (each says what to pass).
Result<ChatTemplateKind> choose_chat_template(const Model& model, const std::string& name);
inline ChatMessage make_message(std::string role, std::string content) {
  ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}
// bos/eos strings for rendering, from the tokenizer's special tokens.
ChatRenderOptions render_options(const Tokenizer& tok);

// Token ids that end generation: config eos ids, the tokenizer's eos, and the end-of-turn tokens of
// the chat template when one is used (<|im_end|>, <|eot_id|>, ...) where the vocabulary has them.
std::vector<TokenId> stop_tokens(const Model& model, const Tokenizer& tok, std::optional<ChatTemplateKind> kind);

// "baleen <cmd>: error: <message>" on stderr, one line.
void print_error(const char* cmd, const std::string& message);
inline void print_error(const char* cmd, const Error& e) { print_error(cmd, e.to_string()); }

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace baleen::cli
