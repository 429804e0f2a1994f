// `baleen chat`: an interactive conversation. Each line read from stdin is a user message (EOF
// ends the chat; works with piped stdin and no terminal). The whole conversation is re-rendered
// with the chat template every turn, and only the tokens after the part already in the session's
// KV cache are evaluated (engine/cached_sequence.h). R1-style reasoning (`<think>` ... `</think>`)
// is shown apart from the answer, in a "[thinking]" block (dim on a terminal), kept in the
// message's reasoning_content and not sent back as content.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "engine/cached_sequence.h"
#include "engine/reasoning.h"
#include "engine/sampling.h"
#include "model_cli.h"

namespace baleen::cli {
namespace {

struct ChatOpts {
  ModelOptions model;
  SamplingOptions sampling;
  std::string system;
  std::string chat_template;
  std::string thinking;  // "", "on", "off"
  int64_t n_predict = 4096;
  bool stats = false;
};

void write_out(std::string_view s) {
  if (s.empty()) return;
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fflush(stdout);
}

// Prints reasoning and answer pieces: reasoning inside "[thinking]" ... "[/thinking]", dim when
// stdout is a terminal.
class TurnPrinter {
 public:
  explicit TurnPrinter(bool tty) : tty_(tty) {}
  void print(const ReasoningSplitter::Piece& p) {
    if (p.reasoning && !in_block_) {
      write_out(tty_ ? "\033[2m[thinking]\n" : "[thinking]\n");
      in_block_ = true;
    } else if (!p.reasoning && in_block_) {
      close_block();
    }
    write_out(p.text);
  }
  // Ends the reply with exactly one newline.
  void end_turn() {
    if (in_block_) {
      close_block();
    } else {
      write_out("\n");
    }
  }
  void close_block() {
    if (!in_block_) return;
    write_out(tty_ ? "\n[/thinking]\033[0m\n" : "\n[/thinking]\n");
    in_block_ = false;
  }

 private:
  bool tty_;
  bool in_block_ = false;
};

Status run_chat(const ChatOpts& o) {
  if (o.n_predict <= 0) return Error(ErrorCode::kInvalidArgument, "-n must be > 0");
  if (!o.thinking.empty() && o.thinking != "on" && o.thinking != "off") {
    return make_error(ErrorCode::kInvalidArgument, "--thinking must be on or off (got '%s')", o.thinking.c_str());
  }
  BALEEN_ASSIGN_OR_RETURN(SamplerParams sp, sampler_params(o.sampling));
  BALEEN_ASSIGN_OR_RETURN(LoadedModel lm, load_model(o.model, 4096));
  const Tokenizer* tok = lm.model->tokenizer();
  if (tok == nullptr) return Error(ErrorCode::kUnsupported, "the model has no tokenizer");
  BALEEN_ASSIGN_OR_RETURN(ChatTemplateKind kind, choose_chat_template(*lm.model, o.chat_template));
  ChatRenderOptions ropts = render_options(*tok);
  if (!o.thinking.empty()) ropts.thinking = o.thinking == "on";
  const std::vector<TokenId> stops = stop_tokens(*lm.model, *tok, kind);
  auto is_stop = [&](TokenId id) { return std::find(stops.begin(), stops.end(), id) != stops.end(); };

  const bool tty_in = ::isatty(STDIN_FILENO) != 0;
  const bool tty_out = ::isatty(STDOUT_FILENO) != 0;
  if (tty_in) {
    std::fprintf(stderr, "chat template: %s, context %lld tokens. One message per line; Ctrl-D ends.\n",
                 chat_template_kind_name(kind), static_cast<long long>(lm.session->n_ctx()));
  }

  std::vector<ChatMessage> messages;
  if (!o.system.empty()) messages.push_back(make_message("system", o.system));
  Sampler sampler(sp);
  CachedSequence seq(*lm.session);
  std::vector<float> logits;
  std::vector<ReasoningSplitter::Piece> pieces;
  std::string line;
  int turn = 0;
  for (;;) {
    if (tty_in) write_out("> ");
    if (!std::getline(std::cin, line)) break;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    messages.push_back(make_message("user", line));

    BALEEN_ASSIGN_OR_RETURN(std::string rendered, render_chat(kind, messages, ropts));
    std::vector<TokenId> prompt = tok->encode(rendered, /*add_bos=*/false, /*parse_special=*/true);
    if (static_cast<int64_t>(prompt.size()) >= lm.session->n_ctx()) {
      return make_error(ErrorCode::kOutOfRange,
                        "the conversation (%zu tokens) no longer fits the context of %lld tokens (raise --ctx)",
                        prompt.size(), static_cast<long long>(lm.session->n_ctx()));
    }
    ++turn;
    auto t0 = std::chrono::steady_clock::now();
    BALEEN_TRY(seq.prefill(prompt, &logits));
    const double prefill_s = seconds_since(t0);
    sampler.reset_history();
    for (TokenId id : prompt) sampler.accept(id);

    ReasoningSplitter splitter(ReasoningSplitter::prompt_opens_reasoning(rendered));
    StreamDecoder decoder(*tok, /*skip_special=*/true);  // control tokens are not text
    TurnPrinter printer(tty_out);
    ChatMessage reply = make_message("assistant", "");
    auto consume = [&](const std::string& text, bool end) {
      pieces.clear();
      splitter.push(text, &pieces);
      if (end) splitter.flush(&pieces);
      for (const auto& p : pieces) {
        printer.print(p);
        (p.reasoning ? reply.reasoning_content : reply.content) += p.text;
      }
    };

    bool context_full = false;
    int64_t n_gen = 0, n_decode = 0;
    auto t1 = std::chrono::steady_clock::now();
    for (int64_t n = 0; n < o.n_predict; ++n) {
      TokenId id = sampler.sample(logits);
      if (is_stop(id)) break;
      sampler.accept(id);
      const std::string_view piece = tok->token_text(id);
      if (tok->is_special(id) && (piece == "<think>" || piece == "</think>")) {
        // A vocabulary that marks the reasoning tags as control tokens: the splitter needs them.
        consume(decoder.flush() + std::string(piece), false);
      } else {
        consume(decoder.push(id), false);
      }
      ++n_gen;
      if (static_cast<int64_t>(seq.tokens().size()) >= lm.session->n_ctx()) {
        context_full = true;
        break;
      }
      if (n + 1 < o.n_predict) {
        BALEEN_TRY(seq.decode(id, &logits));
        ++n_decode;
      }
    }
    const double decode_s = seconds_since(t1);
    consume(decoder.flush(), true);
    printer.end_turn();
    if (context_full) std::fprintf(stderr, "(reply cut: the context is full)\n");
    if (o.stats) {
      std::fprintf(stderr,
                   "turn %d: prompt %zu tokens (reused %lld from the cache, evaluated %lld, %.1f tokens/s), "
                   "generated %lld tokens (%.1f tokens/s)\n",
                   turn, prompt.size(), static_cast<long long>(seq.last_reused()),
                   static_cast<long long>(seq.last_evaluated()),
                   prefill_s > 0 ? static_cast<double>(seq.last_evaluated()) / prefill_s : 0.0,
                   static_cast<long long>(n_gen), decode_s > 0 && n_decode > 0 ? n_decode / decode_s : 0.0);
    }
    messages.push_back(std::move(reply));
  }
  if (tty_in) write_out("\n");
  return ok_status();
}

}  // namespace

Runner add_chat(CLI::App& app) {
  auto o = std::make_shared<ChatOpts>();
  auto* sub = app.add_subcommand("chat", "Chat with a model: one user message per line of stdin");
  add_model_options(sub, &o->model);
  add_sampling_options(sub, &o->sampling);
  sub->add_option("--system", o->system, "system message");
  sub->add_option("--template", o->chat_template,
                  "chat template when the model has none or it is not recognised: "
                  "deepseek-v3|deepseek-r1|deepseek-v3.1|qwen3|llama3");
  sub->add_option("--thinking", o->thinking, "on|off: thinking switch of the deepseek-v3.1 and qwen3 templates");
  sub->add_option("-n,--n-predict", o->n_predict, "maximum tokens per reply")->capture_default_str();
  sub->add_flag("--stats", o->stats, "after each reply, print token counts, cache reuse and speed to stderr");
  return [o]() -> int {
    Status st = run_chat(*o);
    if (!st.ok()) {
      std::fflush(stdout);
      print_error("chat", st.error());
      return 1;
    }
    return 0;
  };
}

}  // namespace baleen::cli
