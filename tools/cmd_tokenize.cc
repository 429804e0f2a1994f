// `baleen tokenize`: text -> token ids with any supported tokenizer (tokenizer.json, GGUF, HF folder).
// With --json it prints exactly one JSON array of ids on one line, e.g. [0,19923,2058]; other
// programs rely on that form. Without --json it prints one "id<TAB>piece" line per token.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "core/mapped_file.h"
#include "tokenizer/tokenizer.h"

namespace baleen::cli {

Runner add_tokenize(CLI::App& app) {
  struct Opts {
    std::string tokenizer, prompt, file;
    bool add_bos = false, special = false, json = false;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = app.add_subcommand("tokenize", "Print the token ids of a text");
  sub->add_option("--tokenizer", o->tokenizer, "tokenizer.json, a GGUF file, or a Hugging Face folder")->required();
  auto* p = sub->add_option("-p,--prompt", o->prompt, "text to tokenize");
  auto* f = sub->add_option("-f,--file", o->file, "file whose contents to tokenize");
  p->excludes(f);
  sub->add_flag("--add-bos", o->add_bos, "prepend the BOS token");
  sub->add_flag("--special", o->special, "recognise special-token strings in the text (parse special)");
  sub->add_flag("--json", o->json, "print a JSON array of ids");
  return [o]() -> int {
    std::string text = o->prompt;
    if (!o->file.empty()) {
      auto r = read_file(o->file);
      if (!r.ok()) {
        std::fprintf(stderr, "baleen tokenize: error: %s\n", r.error().to_string().c_str());
        return 1;
      }
      text = std::move(*r);
    }
    auto tok = Tokenizer::load(o->tokenizer);
    if (!tok.ok()) {
      std::fprintf(stderr, "baleen tokenize: error: %s\n", tok.error().to_string().c_str());
      return 1;
    }
    std::vector<TokenId> ids = (*tok)->encode(text, o->add_bos, o->special);
    if (o->json) {
      std::printf("%s\n", nlohmann::json(ids).dump().c_str());
    } else {
      for (TokenId id : ids) {
        std::string piece =
            nlohmann::json((*tok)->token_to_bytes(id)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        std::printf("%d\t%s\n", id, piece.c_str());
      }
    }
    return 0;
  };
}

}  // namespace baleen::cli
