// Builds prompt token ids for the server from untrusted request text. Chat messages are rendered
// with the model's chat template (tokenizer/chat_template.h), but only the template's own markers
// may become special tokens: every message text is wrapped in random sentinels before rendering,
// located again in the rendered string, and tokenized with parse_special off, so a user who types
// "<｜User｜>" or "<｜end▁of▁sentence｜>" gets those characters as plain text, not a role switch.
// Plain text between two special tokens (template text and message text together) is tokenized
// in one piece, exactly as Hugging Face tokenizes the whole rendered string. Also: raw prompts for
// /v1/completions and fill-in-the-middle prompts with the vocabulary's FIM tokens. Thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"

namespace baleen::server {

struct ChatPrompt {
  std::vector<TokenId> tokens;
  std::string rendered;          // the prompt text (for logs and /apply-template)
  bool opens_reasoning = false;  // the prompt leaves the model inside a <think> block
};

struct FimTokens {
  TokenId begin = -1, hole = -1, end = -1;
};

class PromptBuilder {
 public:
  PromptBuilder(const Tokenizer& tok, ChatTemplateKind kind, ChatRenderOptions base);

  // `messages` as validated by the request parser. thinking: the V3.1/Qwen3 switch. continue_last:
  // the last message is an assistant prefix to continue (DeepSeek chat prefix completion).
  Result<ChatPrompt> chat(std::vector<ChatMessage> messages, std::optional<bool> thinking, bool continue_last) const;
  // A raw completion prompt: special-token strings stay text; BOS as the tokenizer adds by default.
  std::vector<TokenId> text(std::string_view prompt) const;
  // FIM prompt: [BOS] <fim_begin> prefix <fim_hole> suffix <fim_end>. kUnsupported when the
  // vocabulary has no FIM tokens.
  Result<std::vector<TokenId>> fim(std::string_view prefix, std::string_view suffix) const;
  bool has_fim() const { return fim_.begin >= 0 && fim_.hole >= 0 && fim_.end >= 0; }
  ChatTemplateKind kind() const { return kind_; }

 private:
  // Tokenizes a rendered string whose untrusted parts are wrapped in open/close sentinels.
  Result<std::vector<TokenId>> tokenize_marked(std::string_view marked, const std::string& open,
                                               const std::string& close) const;
  bool is_added_token(TokenId id) const;

  const Tokenizer& tok_;
  ChatTemplateKind kind_;
  ChatRenderOptions base_;
  FimTokens fim_;
  mutable std::mutex mu_;
  mutable std::unordered_map<TokenId, bool> added_cache_;
};

}  // namespace baleen::server
