// Native renderers for the recognised chat-template families. Each follows its Jinja template
// statement by statement (including its quirks, e.g. the DeepSeek-V3 tool-call closing tags), so
// the output is byte-exact with jinja2 / Hugging Face apply_chat_template.
#include <cstdio>
#include <string>

#include <nlohmann/json.hpp>

#include "core/utf8.h"
#include "tokenizer/chat_template.h"

namespace baleen {
namespace {

constexpr std::string_view kEos = "<｜end▁of▁sentence｜>";

Error bad_role(size_t i, const ChatMessage& m, ChatTemplateKind kind) {
  return make_error(ErrorCode::kInvalidArgument, "message %zu: role '%s' is not supported by the %s chat template", i,
                    m.role.c_str(), chat_template_kind_name(kind));
}

// Checks roles and that every tool result follows a tool call (or another tool result).
Status validate(ChatTemplateKind kind, std::span<const ChatMessage> messages, bool has_tool_format) {
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    bool known = m.role == "system" || m.role == "user" || m.role == "assistant" ||
                 (m.role == "tool" && has_tool_format) || (kind == ChatTemplateKind::kLlama3 && m.role == "ipython");
    if (!known) return bad_role(i, m, kind);
    if (!m.tool_calls.empty()) {
      if (m.role != "assistant") {
        return make_error(ErrorCode::kInvalidArgument, "message %zu: only assistant messages may carry tool calls", i);
      }
      if (!has_tool_format) {
        return make_error(ErrorCode::kUnsupported, "message %zu: the %s chat template has no tool-call format", i,
                          chat_template_kind_name(kind));
      }
    }
    if (m.role == "tool") {
      bool after_call = false;
      for (size_t j = i; j-- > 0;) {
        if (messages[j].role == "tool") continue;
        after_call = messages[j].role == "assistant" && !messages[j].tool_calls.empty();
        break;
      }
      if (!after_call) {
        return make_error(ErrorCode::kInvalidArgument,
                          "message %zu: tool result without a preceding assistant tool call", i);
      }
    }
  }
  return ok_status();
}

// Python str.split(sep)[-1]: the text after the last occurrence (all of s when absent).
std::string_view after_last(std::string_view s, std::string_view sep) {
  size_t p = s.rfind(sep);
  return p == std::string_view::npos ? s : s.substr(p + sep.size());
}

std::string_view lstrip_char(std::string_view s, char c) {
  while (!s.empty() && s.front() == c) s.remove_prefix(1);
  return s;
}
std::string_view rstrip_char(std::string_view s, char c) {
  while (!s.empty() && s.back() == c) s.remove_suffix(1);
  return s;
}

// Python str.isspace() for one code point (what Jinja's `trim` strips).
bool is_unicode_space(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string_view python_strip(std::string_view s) {
  size_t b = 0;
  while (b < s.size()) {
    char32_t cp = 0;
    size_t n = utf8::decode(s, b, &cp);
    if (!is_unicode_space(cp)) break;
    b += n;
  }
  size_t e = s.size();
  while (e > b) {
    size_t start = e - 1;
    while (start > b && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    char32_t cp = 0;
    utf8::decode(s, start, &cp);
    if (!is_unicode_space(cp)) break;
    e = start;
  }
  return s.substr(b, e - b);
}

// Python json.dumps(x, ensure_ascii=False) (Hugging Face's `tojson`), keeping key order.
void python_json(const nlohmann::ordered_json& v, std::string& out) {
  switch (v.type()) {
    case nlohmann::ordered_json::value_t::object: {
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (!first) out += ", ";
        first = false;
        python_json(nlohmann::ordered_json(it.key()), out);
        out += ": ";
        python_json(it.value(), out);
      }
      out += '}';
      break;
    }
    case nlohmann::ordered_json::value_t::array: {
      out += '[';
      for (size_t i = 0; i < v.size(); ++i) {
        if (i > 0) out += ", ";
        python_json(v[i], out);
      }
      out += ']';
      break;
    }
    case nlohmann::ordered_json::value_t::string: {
      out += '"';
      for (char c : v.get_ref<const std::string&>()) {
        switch (c) {
          case '"':
            out += "\\\"";
            break;
          case '\\':
            out += "\\\\";
            break;
          case '\n':
            out += "\\n";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\t':
            out += "\\t";
            break;
          case '\b':
            out += "\\b";
            break;
          case '\f':
            out += "\\f";
            break;
          default:
            if (static_cast<unsigned char>(c) < 0x20) {
              char buf[8];
              std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(c));
              out += buf;
            } else {
              out += c;
            }
        }
      }
      out += '"';
      break;
    }
    case nlohmann::ordered_json::value_t::boolean:
      out += v.get<bool>() ? "true" : "false";
      break;
    case nlohmann::ordered_json::value_t::null:
      out += "null";
      break;
    case nlohmann::ordered_json::value_t::number_float: {
      double d = v.get<double>();
      std::string s = nlohmann::ordered_json(d).dump();
      // Python writes integral floats as "2.0", non-finite as NaN/Infinity (nlohmann: null).
      if (d != d)
        s = "NaN";
      else if (d == 1.0 / 0.0)
        s = "Infinity";
      else if (d == -1.0 / 0.0)
        s = "-Infinity";
      out += s;
      break;
    }
    default:
      out += v.dump();
      break;  // integers
  }
}

// ---- DeepSeek V3 / R1 (same structure; R1 keeps the last system prompt, strips reasoning from
// assistant history and forces "<think>\n" in the generation prompt) ----
Result<std::string> render_deepseek_v3_r1(bool r1, std::span<const ChatMessage> messages,
                                          const ChatRenderOptions& opt) {
  std::string system;
  bool first_sp = true;
  for (const ChatMessage& m : messages) {
    if (m.role != "system") continue;
    if (r1) {
      system = m.content;
    } else {
      if (!first_sp) system += "\n\n";
      system += m.content;
      first_sp = false;
    }
  }
  std::string out = opt.bos_token + system;
  bool is_first = false, is_tool = false, is_output_first = true;
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    if (m.role == "user") {
      is_tool = false;
      out += "<｜User｜>" + m.content;
    } else if (m.role == "assistant" && !m.tool_calls.empty()) {
      if (!m.content.empty()) {
        return make_error(ErrorCode::kUnsupported,
                          "message %zu: this DeepSeek template renders either content or tool calls, not both", i);
      }
      is_tool = false;
      for (const ToolCall& c : m.tool_calls) {
        std::string call = "function<｜tool▁sep｜>" + c.name + "\n```json\n" + c.arguments + "\n```<｜tool▁call▁end｜>";
        if (!is_first) {
          // The template never resets is_first, and closes the call list only on later calls.
          out += "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>" + call;
          is_first = true;
        } else {
          out += "\n<｜tool▁call▁begin｜>" + call + "<｜tool▁calls▁end｜>" + std::string(kEos);
        }
      }
    } else if (m.role == "assistant") {
      if (is_tool) {
        out += "<｜tool▁outputs▁end｜>" + m.content + std::string(kEos);
        is_tool = false;
      } else {
        std::string_view content = m.content;
        if (r1) content = after_last(content, "</think>");
        out += "<｜Assistant｜>";
        out += content;
        out += kEos;
      }
    } else if (m.role == "tool") {
      is_tool = true;
      if (is_output_first) {
        out += "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>" + m.content + "<｜tool▁output▁end｜>";
        is_output_first = false;
      } else {
        out += "\n<｜tool▁output▁begin｜>" + m.content + "<｜tool▁output▁end｜>";
      }
    }
  }
  if (is_tool) out += "<｜tool▁outputs▁end｜>";
  if (opt.add_generation_prompt && !is_tool) out += r1 ? "<｜Assistant｜><think>\n" : "<｜Assistant｜>";
  return out;
}

// ---- DeepSeek V3.1 (hybrid thinking) ----
Result<std::string> render_deepseek_v31(std::span<const ChatMessage> messages, const ChatRenderOptions& opt) {
  const bool thinking = opt.thinking.value_or(false);
  std::string system;
  bool first_sp = true;
  for (const ChatMessage& m : messages) {
    if (m.role != "system") continue;
    if (!first_sp) system += "\n\n";
    system += m.content;
    first_sp = false;
  }
  std::string out = opt.bos_token + system;
  bool is_tool = false, is_last_user = false;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      is_tool = false;
      is_last_user = true;
      out += "<｜User｜>" + m.content;
    } else if (m.role == "assistant" && !m.tool_calls.empty()) {
      if (is_last_user) out += "<｜Assistant｜></think>";
      is_last_user = false;
      is_tool = false;
      for (size_t k = 0; k < m.tool_calls.size(); ++k) {
        const ToolCall& c = m.tool_calls[k];
        if (k == 0) out += m.content + "<｜tool▁calls▁begin｜>";
        out += "<｜tool▁call▁begin｜>" + c.name + "<｜tool▁sep｜>" + c.arguments + "<｜tool▁call▁end｜>";
      }
      out += "<｜tool▁calls▁end｜>";
      out += kEos;
    } else if (m.role == "assistant") {
      // A message `prefix` flag (continuation in thinking mode) is not modelled: always "</think>".
      if (is_last_user) out += "<｜Assistant｜></think>";
      is_last_user = false;
      if (is_tool) {
        out += m.content;
        is_tool = false;
      } else {
        std::string_view content = m.content;
        size_t p = content.find("</think>");
        if (p != std::string_view::npos) content = content.substr(p + 8);
        out += content;
      }
      out += kEos;
    } else if (m.role == "tool") {
      is_last_user = false;
      is_tool = true;
      out += "<｜tool▁output▁begin｜>" + m.content + "<｜tool▁output▁end｜>";
    }
  }
  if (opt.add_generation_prompt && is_last_user && !is_tool) {
    out += thinking ? "<｜Assistant｜><think>" : "<｜Assistant｜></think>";
  }
  return out;
}

// ---- DeepSeek V2 ----
std::string render_deepseek_v2(std::span<const ChatMessage> messages, const ChatRenderOptions& opt) {
  std::string out = opt.bos_token;
  for (const ChatMessage& m : messages) {
    if (m.role == "user") {
      out += "User: " + m.content + "\n\n";
    } else if (m.role == "assistant") {
      out += "Assistant: " + m.content + opt.eos_token;
    } else if (m.role == "system") {
      out += m.content + "\n\n";
    }
  }
  if (opt.add_generation_prompt) out += "Assistant:";
  return out;
}

// ---- Qwen3 ----
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

Result<std::string> render_qwen3(std::span<const ChatMessage> messages, const ChatRenderOptions& opt) {
  if (messages.empty()) {
    return Error(ErrorCode::kInvalidArgument, "the qwen3 chat template needs at least one message");
  }
  std::string out;
  const bool first_is_system = messages[0].role == "system";
  if (!opt.tools.empty()) {
    out += "<|im_start|>system\n";
    if (first_is_system) out += messages[0].content + "\n\n";
    out +=
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with "
        "function signatures within <tools></tools> XML tags:\n<tools>";
    for (size_t i = 0; i < opt.tools.size(); ++i) {
      nlohmann::ordered_json t = nlohmann::ordered_json::parse(opt.tools[i], nullptr, /*allow_exceptions=*/false);
      if (t.is_discarded()) return make_error(ErrorCode::kInvalidArgument, "tool definition %zu is not valid JSON", i);
      out += "\n";
      python_json(t, out);
    }
    out +=
        "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
        "<args-json-object>}\n</tool_call><|im_end|>\n";
  } else if (first_is_system) {
    out += "<|im_start|>system\n" + messages[0].content + "<|im_end|>\n";
  }
  // The last user message that is a real query (not a wrapped tool response).
  size_t last_query = messages.size() - 1;
  for (size_t i = messages.size(); i-- > 0;) {
    const ChatMessage& m = messages[i];
    if (m.role == "user" && !(starts_with(m.content, "<tool_response>") && ends_with(m.content, "</tool_response>"))) {
      last_query = i;
      break;
    }
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage& m = messages[i];
    const bool first = i == 0, last = i + 1 == messages.size();
    if (m.role == "user" || (m.role == "system" && !first)) {
      out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    } else if (m.role == "assistant") {
      std::string_view content = m.content;
      std::string_view reasoning;
      if (!m.reasoning_content.empty()) {
        reasoning = m.reasoning_content;
      } else if (m.content.find("</think>") != std::string::npos) {
        std::string_view c = m.content;
        content = lstrip_char(after_last(c, "</think>"), '\n');
        std::string_view before = rstrip_char(c.substr(0, c.find("</think>")), '\n');
        reasoning = lstrip_char(after_last(before, "<think>"), '\n');
      }
      if (i > last_query && (last || !reasoning.empty())) {
        out += "<|im_start|>assistant\n<think>\n";
        out += rstrip_char(lstrip_char(reasoning, '\n'), '\n');
        out += "\n</think>\n\n";
        out += lstrip_char(content, '\n');
      } else {
        out += "<|im_start|>assistant\n";
        out += content;
      }
      for (size_t k = 0; k < m.tool_calls.size(); ++k) {
        if ((k == 0 && !content.empty()) || k > 0) out += "\n";
        out += "<tool_call>\n{\"name\": \"" + m.tool_calls[k].name + "\", \"arguments\": " + m.tool_calls[k].arguments +
               "}\n</tool_call>";
      }
      out += "<|im_end|>\n";
    } else if (m.role == "tool") {
      if (first || messages[i - 1].role != "tool") out += "<|im_start|>user";
      out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
      if (last || messages[i + 1].role != "tool") out += "<|im_end|>\n";
    }
  }
  if (opt.add_generation_prompt) {
    out += "<|im_start|>assistant\n";
    if (opt.thinking.has_value() && !*opt.thinking) out += "<think>\n\n</think>\n\n";
  }
  return out;
}

// ---- Llama-3.0 ----
std::string render_llama3(std::span<const ChatMessage> messages, const ChatRenderOptions& opt) {
  std::string out;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i == 0) out += opt.bos_token;
    out += "<|start_header_id|>" + messages[i].role + "<|end_header_id|>\n\n";
    out += python_strip(messages[i].content);
    out += "<|eot_id|>";
  }
  if (opt.add_generation_prompt) out += "<|start_header_id|>assistant<|end_header_id|>\n\n";
  return out;
}

}  // namespace

Result<std::string> render_chat(ChatTemplateKind kind, std::span<const ChatMessage> messages,
                                const ChatRenderOptions& options) {
  const bool has_tool_format = kind == ChatTemplateKind::kDeepSeekV3 || kind == ChatTemplateKind::kDeepSeekR1 ||
                               kind == ChatTemplateKind::kDeepSeekV31 || kind == ChatTemplateKind::kQwen3;
  BALEEN_TRY(validate(kind, messages, has_tool_format));
  if (kind != ChatTemplateKind::kQwen3 && !options.tools.empty()) {
    return make_error(ErrorCode::kUnsupported,
                      "the %s chat template does not render tool definitions (put them in a system message)",
                      chat_template_kind_name(kind));
  }
  switch (kind) {
    case ChatTemplateKind::kDeepSeekV2:
      return render_deepseek_v2(messages, options);
    case ChatTemplateKind::kDeepSeekV3:
      return render_deepseek_v3_r1(false, messages, options);
    case ChatTemplateKind::kDeepSeekR1:
      return render_deepseek_v3_r1(true, messages, options);
    case ChatTemplateKind::kDeepSeekV31:
      return render_deepseek_v31(messages, options);
    case ChatTemplateKind::kQwen3:
      return render_qwen3(messages, options);
    case ChatTemplateKind::kLlama3:
      return render_llama3(messages, options);
  }
  return Error(ErrorCode::kInternal, "unhandled chat template kind");
}

Result<std::string> apply_chat_template(std::string_view template_text, std::span<const ChatMessage> messages,
                                        const ChatRenderOptions& options) {
  BALEEN_ASSIGN_OR_RETURN(ChatTemplateKind kind, recognise_chat_template(template_text));
  return render_chat(kind, messages, options);
}

}  // namespace baleen
