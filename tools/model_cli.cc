#include "model_cli.h"

#include <algorithm>
#include <cstdio>
#include <random>

namespace baleen::cli {

void add_model_options(CLI::App* sub, ModelOptions* o) {
  sub->add_option("-m,--model", o->model, "model: a .gguf file or a Hugging Face folder")->required();
  sub->add_option("-t,--threads", o->threads, "worker threads (default: one per CPU)");
  sub->add_option("-c,--ctx", o->ctx, "context length in tokens");
  sub->add_option("--attention", o->attention, "MLA attention form: auto, naive or absorbed");
}

Result<LoadedModel> load_model(const ModelOptions& o, int64_t default_ctx, const LoadOptions& lo) {
  SessionOptions so;
  if (o.attention == "auto") {
    so.attention = AttentionForm::kAuto;
  } else if (o.attention == "naive") {
    so.attention = AttentionForm::kNaive;
  } else if (o.attention == "absorbed") {
    so.attention = AttentionForm::kAbsorbed;
  } else {
    return make_error(ErrorCode::kInvalidArgument, "--attention must be auto, naive or absorbed (got '%s')",
                      o.attention.c_str());
  }
  if (o.ctx < 0) return make_error(ErrorCode::kInvalidArgument, "--ctx must be positive");
  if (o.threads < 0) return make_error(ErrorCode::kInvalidArgument, "--threads must be >= 0");

  LoadedModel lm;
  BALEEN_ASSIGN_OR_RETURN(lm.model, Model::load(o.model, lo));
  const int64_t model_ctx = lm.model->config().max_position_embeddings;
  so.n_ctx = o.ctx > 0 ? o.ctx : default_ctx;
  if (model_ctx > 0 && so.n_ctx > model_ctx) {
    if (o.ctx > 0) {
      return make_error(ErrorCode::kInvalidArgument, "--ctx %lld exceeds the model's context of %lld tokens",
                        static_cast<long long>(o.ctx), static_cast<long long>(model_ctx));
    }
    so.n_ctx = model_ctx;
  }
  lm.pool = std::make_unique<ThreadPool>(o.threads);
  BALEEN_ASSIGN_OR_RETURN(lm.session, Session::create(*lm.model, *lm.pool, so));
  return lm;
}

void add_sampling_options(CLI::App* sub, SamplingOptions* o) {
  SamplerParams& p = o->params;
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.min_p = 0.05f;
  sub->add_option("--temp", p.temperature, "temperature; 0 = greedy (argmax)")->capture_default_str();
  sub->add_option("--top-k", p.top_k, "keep the k most probable tokens; 0 = off")->capture_default_str();
  sub->add_option("--top-p", p.top_p, "nucleus: smallest set with this much probability; 1 = off")
      ->capture_default_str();
  sub->add_option("--min-p", p.min_p, "drop tokens below min-p x the top probability; 0 = off")->capture_default_str();
  sub->add_option("--repeat-penalty", p.repetition_penalty, "penalty on recently seen tokens; 1 = off")
      ->capture_default_str();
  sub->add_option("--repeat-last-n", p.repetition_window, "how many recent tokens the penalty looks at")
      ->capture_default_str();
  o->seed_option = sub->add_option("--seed", o->seed, "random seed (default: random)");
}

Result<SamplerParams> sampler_params(const SamplingOptions& o) {
  SamplerParams p = o.params;
  if (o.seed_option != nullptr && o.seed_option->count() > 0) {
    p.seed = o.seed;
  } else {
    std::random_device rd;
    p.seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  BALEEN_TRY(validate_sampler_params(p));
  return p;
}

namespace {

constexpr ChatTemplateKind kAllKinds[] = {ChatTemplateKind::kDeepSeekV2, ChatTemplateKind::kDeepSeekV3,
                                          ChatTemplateKind::kDeepSeekR1, ChatTemplateKind::kDeepSeekV31,
                                          ChatTemplateKind::kQwen3,      ChatTemplateKind::kLlama3};

std::string template_names() {
  std::string s;
  for (ChatTemplateKind k : kAllKinds) s += std::string(s.empty() ? "" : "|") + chat_template_kind_name(k);
  return s;
}

}  // namespace

Result<ChatTemplateKind> chat_template_by_name(const std::string& name) {
  for (ChatTemplateKind k : kAllKinds) {
    if (name == chat_template_kind_name(k)) return k;
  }
  return make_error(ErrorCode::kInvalidArgument, "unknown --template '%s' (one of %s)", name.c_str(),
                    template_names().c_str());
}

Result<ChatTemplateKind> choose_chat_template(const Model& model, const std::string& name) {
  if (!name.empty()) return chat_template_by_name(name);
  const std::string& text = model.chat_template_text();
  if (text.empty()) {
    return make_error(ErrorCode::kUnsupported, "the model has no chat template; pass --template %s",
                      template_names().c_str());
  }
  auto kind = recognise_chat_template(text);
  if (!kind.ok()) {
    return make_error(ErrorCode::kUnsupported, "%s; pass --template %s to choose one", kind.error().message().c_str(),
                      template_names().c_str());
  }
  return *kind;
}

ChatRenderOptions render_options(const Tokenizer& tok) {
  ChatRenderOptions ro;
  const SpecialTokenIds& sp = tok.special_ids();
  if (sp.bos >= 0) ro.bos_token = std::string(tok.token_text(sp.bos));
  if (sp.eos >= 0) ro.eos_token = std::string(tok.token_text(sp.eos));
  return ro;
}

std::vector<TokenId> stop_tokens(const Model& model, const Tokenizer& tok, std::optional<ChatTemplateKind> kind) {
  std::vector<TokenId> stops;
  auto add = [&](int64_t id) {
    if (id >= 0 && std::find(stops.begin(), stops.end(), id) == stops.end()) stops.push_back(static_cast<TokenId>(id));
  };
  for (int64_t id : model.config().eos_token_ids) add(id);
  add(tok.special_ids().eos);
  if (kind.has_value()) {
    std::vector<const char*> names;
    switch (*kind) {
      case ChatTemplateKind::kDeepSeekV2:
      case ChatTemplateKind::kDeepSeekV3:
      case ChatTemplateKind::kDeepSeekR1:
      case ChatTemplateKind::kDeepSeekV31:
        names = {"<｜end▁of▁sentence｜>"};
        break;
      case ChatTemplateKind::kQwen3:
        names = {"<|im_end|>", "<|endoftext|>"};
        break;
      case ChatTemplateKind::kLlama3:
        names = {"<|eot_id|>", "<|end_of_text|>"};
        break;
    }
    for (const char* n : names) {
      if (auto id = tok.token_id(n)) add(*id);
    }
  }
  return stops;
}

void print_error(const char* cmd, const std::string& message) {
  std::string line = message;
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::fprintf(stderr, "baleen %s: error: %s\n", cmd, line.c_str());
}

}  // namespace baleen::cli
