// `baleen run`: generates text from a prompt and streams it to stdout, one token at a time. The
// prompt is used raw (BOS added when the tokenizer asks for it, special-token strings recognised)
// and echoed before the continuation; control tokens in the output are not printed; with --chat it becomes a single
// user message rendered with the model's chat template (or --template), and only the reply is printed. Generation stops
// at an end-of-sequence token or after -n tokens; the counts and speeds go to stderr afterwards.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "engine/cached_sequence.h"
#include "engine/sampling.h"
#include "model_cli.h"

namespace baleen::cli {
namespace {

struct RunOpts {
  ModelOptions model;
  SamplingOptions sampling;
  std::string prompt;
  int64_t n_predict = 256;
  bool chat = false;
  std::string chat_template;
  std::string system;
};

void write_out(const std::string& s) {
  if (s.empty()) return;
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

Status run_generate(const RunOpts& o) {
  if (o.n_predict < 0) return Error(ErrorCode::kInvalidArgument, "-n must be >= 0");
  BALEEN_ASSIGN_OR_RETURN(SamplerParams sp, sampler_params(o.sampling));
  BALEEN_ASSIGN_OR_RETURN(LoadedModel lm, load_model(o.model, 4096));
  const Tokenizer* tok = lm.model->tokenizer();
  if (tok == nullptr) return Error(ErrorCode::kUnsupported, "the model has no tokenizer");

  std::vector<TokenId> prompt;
  std::optional<ChatTemplateKind> kind;
  if (o.chat) {
    BALEEN_ASSIGN_OR_RETURN(kind, choose_chat_template(*lm.model, o.chat_template));
    std::vector<ChatMessage> messages;
    if (!o.system.empty()) messages.push_back(make_message("system", o.system));
    messages.push_back(make_message("user", o.prompt));
    BALEEN_ASSIGN_OR_RETURN(std::string rendered, render_chat(*kind, messages, render_options(*tok)));
    prompt = tok->encode(rendered, /*add_bos=*/false, /*parse_special=*/true);
  } else {
    prompt = tok->encode(o.prompt, tok->special_ids().add_bos, /*parse_special=*/true);
  }
  if (prompt.empty()) {
    // An empty raw prompt with a tokenizer that adds no BOS: start from BOS if there is one.
    if (tok->special_ids().bos < 0) {
      return Error(ErrorCode::kInvalidArgument, "empty prompt and the tokenizer has no BOS token to start from");
    }
    prompt.push_back(tok->special_ids().bos);
  }
  if (static_cast<int64_t>(prompt.size()) > lm.session->n_ctx()) {
    return make_error(ErrorCode::kOutOfRange, "the prompt (%zu tokens) does not fit the context of %lld tokens",
                      prompt.size(), static_cast<long long>(lm.session->n_ctx()));
  }
  const std::vector<TokenId> stops = stop_tokens(*lm.model, *tok, kind);
  auto is_stop = [&](TokenId id) { return std::find(stops.begin(), stops.end(), id) != stops.end(); };

  Sampler sampler(sp);
  for (TokenId id : prompt) sampler.accept(id);
  StreamDecoder decoder(*tok, /*skip_special=*/true);  // control tokens are not text
  if (!o.chat && !o.prompt.empty()) {
    // Echo the prompt, and let the decoder see its text so that the continuation keeps its
    // leading space (an SPM decoder strips the space of the first text it produces).
    write_out(o.prompt);
    for (TokenId id : prompt) {
      if (!tok->is_special(id)) (void)decoder.push(id);
    }
    (void)decoder.flush();
  }

  CachedSequence seq(*lm.session);
  std::vector<float> logits;
  auto t0 = std::chrono::steady_clock::now();
  BALEEN_TRY(seq.prefill(prompt, &logits));
  const double prefill_s = seconds_since(t0);

  int64_t n_gen = 0, n_decode = 0;
  bool context_full = false;
  auto t1 = std::chrono::steady_clock::now();
  while (n_gen < o.n_predict) {
    TokenId id = sampler.sample(logits);
    if (is_stop(id)) break;
    write_out(decoder.push(id));
    sampler.accept(id);
    ++n_gen;
    if (n_gen == o.n_predict) break;
    if (static_cast<int64_t>(seq.tokens().size()) >= lm.session->n_ctx()) {
      context_full = true;
      break;
    }
    BALEEN_TRY(seq.decode(id, &logits));
    ++n_decode;
  }
  const double decode_s = seconds_since(t1);
  write_out(decoder.flush());
  write_out("\n");

  if (context_full) {
    std::fprintf(stderr, "stopped: the context of %lld tokens is full\n", static_cast<long long>(lm.session->n_ctx()));
  }
  std::fprintf(stderr, "prompt tokens: %zu, %.1f tokens/s\n", prompt.size(),
               prefill_s > 0 ? static_cast<double>(prompt.size()) / prefill_s : 0.0);
  std::fprintf(stderr, "generated tokens: %lld, %.1f tokens/s\n", static_cast<long long>(n_gen),
               decode_s > 0 && n_decode > 0 ? static_cast<double>(n_decode) / decode_s : 0.0);
  return ok_status();
}

}  // namespace

Runner add_run(CLI::App& app) {
  auto o = std::make_shared<RunOpts>();
  auto* sub = app.add_subcommand("run", "Generate text from a prompt, streamed to stdout");
  add_model_options(sub, &o->model);
  sub->add_option("-p,--prompt", o->prompt, "prompt text (raw unless --chat)");
  sub->add_option("-n,--n-predict", o->n_predict, "maximum number of tokens to generate")->capture_default_str();
  add_sampling_options(sub, &o->sampling);
  sub->add_flag("--chat", o->chat, "send the prompt as one user message through the chat template");
  sub->add_option("--template", o->chat_template,
                  "chat template for --chat: deepseek-v3|deepseek-r1|deepseek-v3.1|qwen3|llama3 (default: the "
                  "model's own)");
  sub->add_option("--system", o->system, "system message for --chat");
  return [o]() -> int {
    Status st = run_generate(*o);
    if (!st.ok()) {
      std::fflush(stdout);
      print_error("run", st.error());
      return 1;
    }
    return 0;
  };
}

}  // namespace baleen::cli
