// `baleen demo`: the interim main job until the trained default model exists. It writes a small
// random-weight DeepSeek-V3-style model of its own (tools/demo_model.h), loads it back through the
// same readers real models use, shows what it holds and how its tokenizer and the DeepSeek-V3 chat
// template handle a prompt, and runs the real forward pass (MLA + MoE) to generate a few tokens.
// It says plainly that the weights are random, so the generated text is noise.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "demo_model.h"
#include "engine/sampling.h"
#include "inspect_report.h"
#include "io/gguf.h"
#include "model/model.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace baleen::cli {

Runner add_demo(CLI::App& app) {
  struct Opts {
    std::string out;
    std::string prompt = "Hello! What do baleen whales eat?";
    uint64_t seed = 20250120;
    int n_generate = 24;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = app.add_subcommand("demo", "Generate a small random-weight model and show Baleen's input side on it");
  sub->add_option("--out", o->out, "where to write the generated GGUF (default: a temporary directory)");
  sub->add_option("-p,--prompt", o->prompt, "user message to render and tokenize");
  sub->add_option("--seed", o->seed, "random seed of the weights");
  sub->add_option("-n,--n-generate", o->n_generate, "tokens to generate (greedy)")->check(CLI::NonNegativeNumber);
  return [o]() -> int {
    std::string path = o->out;
    if (path.empty()) path = (std::filesystem::temp_directory_path() / "baleen-demo-ds3.gguf").string();
    std::printf(
        "Baleen demo\n"
        "NOTE: Baleen has no trained default model yet, nor a server (issue #5). This demo runs on a\n"
        "small RANDOM-WEIGHT DeepSeek-V3-style model that Baleen generates right now: the file format,\n"
        "tokenizer, chat template and forward pass (MLA + MoE) are real, but the weights are noise, so\n"
        "the generated text is noise too.\n\n");

    auto t0 = std::chrono::steady_clock::now();
    auto info = write_demo_model(path, o->seed);
    if (!info.ok()) {
      std::fprintf(stderr, "baleen demo: error: %s\n", info.error().to_string().c_str());
      return 1;
    }
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    std::printf("wrote %s in %.0f ms: %zu tensors, %s parameters (Q8_0), vocab %zu (%zu merges learned)\n\n",
                path.c_str(), ms, info->n_tensors, human_count(info->n_params).c_str(), info->n_vocab, info->n_merges);

    InspectOptions iopts;
    iopts.tensors = false;
    if (Status st = inspect_gguf(path, iopts, stdout); !st.ok()) {
      std::fprintf(stderr, "baleen demo: error: %s\n", st.error().to_string().c_str());
      return 1;
    }

    auto gguf = GgufFile::open(path);
    if (!gguf.ok()) {
      std::fprintf(stderr, "baleen demo: error: %s\n", gguf.error().to_string().c_str());
      return 1;
    }
    auto tok = Tokenizer::from_gguf(*gguf);
    if (!tok.ok()) {
      std::fprintf(stderr, "baleen demo: error: %s\n", tok.error().to_string().c_str());
      return 1;
    }
    std::vector<ChatMessage> messages(1);
    messages[0].role = "user";
    messages[0].content = o->prompt;
    ChatRenderOptions ropts;
    ropts.bos_token = "<｜begin▁of▁sentence｜>";
    ropts.eos_token = "<｜end▁of▁sentence｜>";
    auto rendered = render_chat(ChatTemplateKind::kDeepSeekV3, messages, ropts);
    if (!rendered.ok()) {
      std::fprintf(stderr, "baleen demo: error: %s\n", rendered.error().to_string().c_str());
      return 1;
    }
    std::vector<TokenId> ids = (*tok)->encode(*rendered, /*add_bos=*/false, /*parse_special=*/true);
    std::string back = (*tok)->decode(ids, /*skip_special=*/false);
    std::printf("\nprompt (DeepSeek-V3 chat template): %s\n", nlohmann::json(*rendered).dump().c_str());
    std::printf("tokens (%zu): %s\n", ids.size(), nlohmann::json(ids).dump().c_str());
    std::printf("decoded back: %s\n", back == *rendered ? "identical to the prompt" : "DIFFERENT (bug)");
    if (back != *rendered) return 1;

    // The forward pass on the random weights: greedy, a few tokens.
    auto model = Model::load(path);
    if (!model.ok()) {
      std::fprintf(stderr, "baleen demo: error: %s\n", model.error().to_string().c_str());
      return 1;
    }
    ThreadPool pool;
    auto session = Session::create(**model, pool);
    if (!session.ok()) {
      std::fprintf(stderr, "baleen demo: error: %s\n", session.error().to_string().c_str());
      return 1;
    }
    std::vector<float> logits;
    auto t1 = std::chrono::steady_clock::now();
    Status st = (*session)->eval(ids, &logits);
    std::vector<TokenId> out;
    for (int i = 0; st.ok() && i < o->n_generate; ++i) {
      TokenId next = argmax(logits);
      out.push_back(next);
      if (next == (*tok)->special_ids().eos) break;
      st = (*session)->eval(std::span<const TokenId>(&next, 1), &logits);
    }
    if (!st.ok()) {
      std::fprintf(stderr, "baleen demo: error: %s\n", st.error().to_string().c_str());
      return 1;
    }
    double gen_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
    std::printf("\ngenerated (greedy, random weights): %s\n",
                nlohmann::json((*tok)->decode(out, true))
                    .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                    .c_str());
    std::printf("forward pass: %zu prompt + %zu generated tokens in %.0f ms on %d threads\n", ids.size(), out.size(),
                gen_ms, pool.size());
    return 0;
  };
}

}  // namespace baleen::cli
