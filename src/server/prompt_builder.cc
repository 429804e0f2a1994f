#include "server/prompt_builder.h"

#include <random>

#include "engine/reasoning.h"

namespace baleen::server {
namespace {

std::string_view after(std::string_view s, size_t pos, size_t len) { return s.substr(pos + len); }

std::string_view lstrip_nl(std::string_view s) {
  while (!s.empty() && s.front() == '\n') s.remove_prefix(1);
  return s;
}
std::string_view rstrip_nl(std::string_view s) {
  while (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  return s;
}
std::string_view py_strip(std::string_view s) {
  const char* ws = " \t\n\r\f\v";
  size_t b = s.find_first_not_of(ws);
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

// The template's own rewriting of message text, done here before the text is wrapped in
// sentinels (the template cannot see through them). Mirrors tokenizer/chat_template.cc.
void pre_transform(ChatTemplateKind kind, ChatMessage& m) {
  if (kind == ChatTemplateKind::kLlama3) {
    m.content = std::string(py_strip(m.content));
    return;
  }
  if (m.role != "assistant") return;
  std::string_view c = m.content;
  switch (kind) {
    case ChatTemplateKind::kDeepSeekR1: {
      size_t p = c.rfind("</think>");
      if (p != std::string_view::npos) m.content = std::string(after(c, p, 8));
      break;
    }
    case ChatTemplateKind::kDeepSeekV31: {
      size_t p = c.find("</think>");
      if (p != std::string_view::npos) m.content = std::string(after(c, p, 8));
      break;
    }
    case ChatTemplateKind::kQwen3: {
      std::string reasoning = m.reasoning_content;
      std::string content = m.content;
      size_t p = c.rfind("</think>");
      if (reasoning.empty() && p != std::string_view::npos) {
        content = std::string(lstrip_nl(after(c, p, 8)));
        std::string_view before = rstrip_nl(c.substr(0, c.find("</think>")));
        size_t q = before.rfind("<think>");
        reasoning = std::string(lstrip_nl(q == std::string_view::npos ? before : after(before, q, 7)));
      }
      if (!reasoning.empty()) content = std::string(lstrip_nl(content));
      m.reasoning_content = std::string(rstrip_nl(lstrip_nl(reasoning)));
      m.content = std::move(content);
      break;
    }
    default:
      break;
  }
}

bool contains(const std::vector<ChatMessage>& ms, std::string_view needle) {
  for (const auto& m : ms) {
    if (m.content.find(needle) != std::string::npos || m.reasoning_content.find(needle) != std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace

PromptBuilder::PromptBuilder(const Tokenizer& tok, ChatTemplateKind kind, ChatRenderOptions base)
    : tok_(tok), kind_(kind), base_(std::move(base)) {
  // DeepSeek(-Coder/-V2/-V3) spellings, with full-width bars and U+2581.
  if (auto id = tok.token_id("<｜fim▁begin｜>")) fim_.begin = *id;
  if (auto id = tok.token_id("<｜fim▁hole｜>")) fim_.hole = *id;
  if (auto id = tok.token_id("<｜fim▁end｜>")) fim_.end = *id;
  if (!has_fim()) {  // Qwen / StarCoder-style spellings
    auto b = tok.token_id("<|fim_prefix|>"), s = tok.token_id("<|fim_suffix|>"), e = tok.token_id("<|fim_middle|>");
    if (b && s && e) fim_ = {*b, *s, *e};
  }
}

bool PromptBuilder::is_added_token(TokenId id) const {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = added_cache_.find(id);
    if (it != added_cache_.end()) return it->second;
  }
  // An added (special or user-defined) token: its text is that one token only when special-token
  // strings are parsed.
  const std::string bytes = tok_.token_to_bytes(id);
  bool added = false;
  if (bytes.size() >= 2) {
    auto with = tok_.encode(bytes, false, true);
    auto without = tok_.encode(bytes, false, false);
    added = with.size() == 1 && with[0] == id && !(without.size() == 1 && without[0] == id);
  }
  std::lock_guard<std::mutex> lock(mu_);
  added_cache_[id] = added;
  return added;
}

Result<std::vector<TokenId>> PromptBuilder::tokenize_marked(std::string_view marked, const std::string& open,
                                                            const std::string& close) const {
  std::vector<TokenId> out;
  std::string plain;  // pending text between special tokens
  auto flush_plain = [&] {
    if (plain.empty()) return;
    auto ids = tok_.encode(plain, false, false);
    out.insert(out.end(), ids.begin(), ids.end());
    plain.clear();
  };
  // Template text: its added-token strings become ids; the rest joins `plain`.
  auto template_text = [&](std::string_view seg) {
    if (seg.empty()) return;
    size_t cur = 0;
    for (TokenId id : tok_.encode(seg, false, true)) {
      if (!is_added_token(id)) continue;
      const std::string bytes = tok_.token_to_bytes(id);
      size_t pos = seg.find(bytes, cur);
      if (pos == std::string_view::npos) continue;
      plain.append(seg.substr(cur, pos - cur));
      flush_plain();
      out.push_back(id);
      cur = pos + bytes.size();
    }
    plain.append(seg.substr(cur));
  };
  size_t pos = 0;
  while (pos < marked.size()) {
    size_t o = marked.find(open, pos);
    size_t c = marked.find(close, pos);
    if (o == std::string_view::npos) {
      if (c != std::string_view::npos)
        return Error(ErrorCode::kInternal, "chat template rendering lost a message start");
      template_text(marked.substr(pos));
      break;
    }
    if (c != std::string_view::npos && c < o) {
      return Error(ErrorCode::kInternal, "chat template rendering lost a message start");
    }
    template_text(marked.substr(pos, o - pos));
    size_t body = o + open.size();
    size_t e = marked.find(close, body);
    if (e == std::string_view::npos) return Error(ErrorCode::kInternal, "chat template rendering lost a message end");
    std::string_view text = marked.substr(body, e - body);
    if (text.find(open) != std::string_view::npos) {
      return Error(ErrorCode::kInternal, "chat template rendering nested message texts");
    }
    plain.append(text);  // untrusted: never parsed for special tokens
    pos = e + close.size();
  }
  flush_plain();
  return out;
}

Result<ChatPrompt> PromptBuilder::chat(std::vector<ChatMessage> messages, std::optional<bool> thinking,
                                       bool continue_last) const {
  std::string prefix;
  if (continue_last) {
    prefix = messages.back().content;
    messages.pop_back();
  }
  for (auto& m : messages) pre_transform(kind_, m);
  // Sentinels that occur in no message text. \x01..\x03 rather than \x1c..\x1f: Python's str.strip()
  // (Llama-3's template trims content) treats the latter as whitespace.
  std::string open, close;
  std::mt19937_64 rng(std::random_device{}());
  for (;;) {
    char nonce[32];
    std::snprintf(nonce, sizeof nonce, "%016llx", static_cast<unsigned long long>(rng()));
    open = std::string("\x01") + nonce + "\x02";
    close = std::string("\x01") + nonce + "\x03";
    if (!contains(messages, nonce) && prefix.find(nonce) == std::string::npos) break;
  }
  ChatPrompt result;
  std::vector<ChatMessage> wrapped = messages;
  for (auto& m : wrapped) {
    m.content = open + m.content + close;
    if (!m.reasoning_content.empty()) m.reasoning_content = open + m.reasoning_content + close;
  }
  ChatRenderOptions ro = base_;
  ro.add_generation_prompt = true;
  ro.thinking = thinking;
  BALEEN_ASSIGN_OR_RETURN(std::string marked, render_chat(kind_, wrapped, ro));
  BALEEN_ASSIGN_OR_RETURN(std::string plain_render, render_chat(kind_, messages, ro));
  result.opens_reasoning = ReasoningSplitter::prompt_opens_reasoning(plain_render);
  if (continue_last) {
    marked += open + prefix + close;
    plain_render += prefix;
    if (prefix.find("</think>") != std::string::npos) result.opens_reasoning = false;
    if (prefix.find("<think>") != std::string::npos && prefix.find("</think>") == std::string::npos) {
      result.opens_reasoning = true;
    }
  }
  BALEEN_ASSIGN_OR_RETURN(result.tokens, tokenize_marked(marked, open, close));
  result.rendered = std::move(plain_render);
  return result;
}

std::vector<TokenId> PromptBuilder::text(std::string_view prompt) const {
  return tok_.encode(prompt, tok_.special_ids().add_bos, false);
}

Result<std::vector<TokenId>> PromptBuilder::fim(std::string_view prefix, std::string_view suffix) const {
  if (!has_fim()) {
    return Error(ErrorCode::kUnsupported,
                 "fill-in-the-middle (suffix) is not supported by this model: its vocabulary has no FIM tokens");
  }
  std::vector<TokenId> out;
  const SpecialTokenIds& sp = tok_.special_ids();
  if (sp.add_bos && sp.bos >= 0) out.push_back(sp.bos);
  out.push_back(fim_.begin);
  auto p = tok_.encode(prefix, false, false);
  out.insert(out.end(), p.begin(), p.end());
  out.push_back(fim_.hole);
  auto s = tok_.encode(suffix, false, false);
  out.insert(out.end(), s.begin(), s.end());
  out.push_back(fim_.end);
  return out;
}

}  // namespace baleen::server
