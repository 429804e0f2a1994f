// Recognition of chat-template families from template source, and tokenizer_config.json loading.
// The template is only lexed (tags, identifiers, string literals), never evaluated.
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "tokenizer/chat_template.h"

namespace baleen {
namespace {

bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string quote_literal(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\'':
        out += "\\'";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  out += '\'';
  return out;
}

// Lexer state shared by the normaliser; collects the decoded string literals it meets.
struct Normaliser {
  std::string_view t;
  std::string out;
  std::vector<std::string> literals;

  size_t skip_space(size_t i) const {
    while (i < t.size() && is_space(t[i])) ++i;
    return i;
  }

  // Reads a quoted literal starting at t[i] (a quote); returns the index after it.
  size_t read_string(size_t i, std::string* decoded) const {
    char q = t[i++];
    while (i < t.size() && t[i] != q) {
      if (t[i] == '\\' && i + 1 < t.size()) {
        char e = t[i + 1];
        switch (e) {
          case 'n':
            *decoded += '\n';
            break;
          case 't':
            *decoded += '\t';
            break;
          case 'r':
            *decoded += '\r';
            break;
          case '\\':
            *decoded += '\\';
            break;
          case '\'':
            *decoded += '\'';
            break;
          case '"':
            *decoded += '"';
            break;
          default:
            *decoded += '\\';
            *decoded += e;
        }
        i += 2;
      } else {
        *decoded += t[i++];
      }
    }
    return i < t.size() ? i + 1 : i;  // an unterminated literal runs to the end
  }

  // True when t[i..] closes the current tag (optionally with a trim marker).
  bool at_close(size_t i, std::string_view close, size_t* after) const {
    size_t j = i;
    if (j < t.size() && (t[j] == '-' || t[j] == '+')) ++j;
    if (t.substr(j, close.size()) == close) {
      *after = j + close.size();
      return true;
    }
    return false;
  }

  void emit_raw(std::string_view raw) {
    size_t b = 0, e = raw.size();
    while (b < e && is_space(raw[b])) ++b;
    while (e > b && is_space(raw[e - 1])) --e;
    if (b == e) return;
    // Raw text is output; keep it, but quoted so it can never pose as template code.
    out += "{{RAW";
    out += quote_literal(raw.substr(b, e - b));
    out += "}}";
  }

  // Lexes one tag body starting at t[i] (after the opener and its trim marker).
  size_t emit_tag(size_t i, std::string_view close) {
    bool pending_space = false;
    while (i < t.size()) {
      size_t after = 0;
      if (at_close(i, close, &after)) {
        out += close;
        return after;
      }
      char c = t[i];
      if (is_space(c)) {
        pending_space = true;
        ++i;
        continue;
      }
      if (c == '\'' || c == '"') {
        std::string decoded;
        i = read_string(i, &decoded);
        out += quote_literal(decoded);
        literals.push_back(std::move(decoded));
      } else if (is_ident_start(c) || (c >= '0' && c <= '9')) {
        size_t j = i;
        bool number = !is_ident_start(c);
        while (j < t.size() && (is_ident_char(t[j]) || (number && t[j] == '.'))) ++j;
        if (pending_space && !out.empty() && is_ident_char(out.back())) out += ' ';
        out.append(t.substr(i, j - i));
        i = j;
      } else if (c == '.' && !out.empty() && (is_ident_char(out.back()) || out.back() == ']' || out.back() == ')')) {
        // Attribute access: a.b -> a['b'] unless it is a method call a.b(...).
        size_t j = skip_space(i + 1);
        size_t k = j;
        while (k < t.size() && is_ident_char(t[k])) ++k;
        if (k > j && is_ident_start(t[j]) && skip_space(k) < t.size() && t[skip_space(k)] != '(') {
          out += '[';
          out += quote_literal(t.substr(j, k - j));
          out += ']';
          i = k;
        } else {
          out += '.';
          ++i;
        }
      } else {
        out += c;
        ++i;
      }
      pending_space = false;
    }
    return i;
  }

  void run() {
    size_t i = 0;
    while (i < t.size()) {
      size_t open = t.find('{', i);
      while (open != std::string_view::npos && open + 1 < t.size() && t[open + 1] != '{' && t[open + 1] != '%' &&
             t[open + 1] != '#') {
        open = t.find('{', open + 1);
      }
      if (open == std::string_view::npos || open + 1 >= t.size()) {
        emit_raw(t.substr(i));
        return;
      }
      emit_raw(t.substr(i, open - i));
      char kind = t[open + 1];
      size_t body = open + 2;
      if (kind == '#') {
        size_t end = t.find("#}", body);
        i = end == std::string_view::npos ? t.size() : end + 2;
        continue;
      }
      if (body < t.size() && (t[body] == '-' || t[body] == '+')) ++body;
      out += kind == '{' ? "{{" : "{%";
      i = emit_tag(body, kind == '{' ? "}}" : "%}");
    }
  }
};

// A normalised fragment of template code: either a whole-tag fragment or a bare expression.
std::string frag(std::string_view tags) { return normalise_chat_template(tags); }
std::string expr(std::string_view e) {
  std::string n = normalise_chat_template("{{" + std::string(e) + "}}");
  return n.substr(2, n.size() - 4);
}

struct Family {
  ChatTemplateKind kind;
  std::vector<std::string> required;   // normalised fragments that must all occur
  std::vector<std::string> forbidden;  // normalised fragments that must not occur
  std::set<std::string> literals;      // every string literal of the template must be one of these
};

const std::vector<Family>& families() {
  static const std::vector<Family> table = [] {
    const std::string ds_tool_call_rest =
        "'<｜tool▁sep｜>' + tool['function']['name'] + '\\n' + '```json' + '\\n' + tool['function']['arguments'] + "
        "'\\n' + '```' + '<｜tool▁call▁end｜>'";
    const std::vector<std::string> ds_common = {
        frag("{{bos_token}}{{ns.system_prompt}}"),
        expr("'<｜User｜>' + message['content']"),
        expr("message['role'] == 'assistant' and message['content'] is none"),
        expr("message['role'] == 'assistant' and message['content'] is not none"),
        expr("'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + " + ds_tool_call_rest),
        frag("{{'\\n' + '<｜tool▁call▁begin｜>' + tool['type'] + " + ds_tool_call_rest +
             "}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}"),
        expr("'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'"),
        expr("'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'"),
        expr("'\\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'"),
        frag("{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}"),
    };
    const std::set<std::string> ds_literals = {"\n\n",
                                               "\n",
                                               "\n<｜tool▁output▁begin｜>",
                                               "",
                                               "<｜Assistant｜>",
                                               "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>",
                                               "<｜User｜>",
                                               "<｜end▁of▁sentence｜>",
                                               "<｜tool▁calls▁end｜><｜end▁of▁sentence｜>",
                                               "<｜tool▁call▁begin｜>",
                                               "<｜tool▁call▁end｜>",
                                               "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>",
                                               "<｜tool▁outputs▁end｜>",
                                               "<｜tool▁output▁end｜>",
                                               "<｜tool▁sep｜>",
                                               "```",
                                               "```json",
                                               "arguments",
                                               "assistant",
                                               "content",
                                               "function",
                                               "name",
                                               "role",
                                               "system",
                                               "tool",
                                               "tool_calls",
                                               "type",
                                               "user"};

    std::vector<Family> t;
    {  // DeepSeek-V3 (Dec 2024)
      Family f{ChatTemplateKind::kDeepSeekV3, ds_common, {}, ds_literals};
      f.required.push_back(expr("ns.system_prompt + '\\n\\n' + message['content']"));
      f.required.push_back(expr("'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'"));
      f.required.push_back(frag("{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}"));
      f.forbidden = {"think>"};
      t.push_back(std::move(f));
    }
    {  // DeepSeek-R1 / R1-Distill
      Family f{ChatTemplateKind::kDeepSeekR1, ds_common, {}, ds_literals};
      f.literals.insert({"</think>", "<｜Assistant｜><think>\n"});
      f.required.push_back(frag("{% set ns.system_prompt = message['content'] %}"));
      f.required.push_back(
          frag("{% set content = message['content'] %}{% if '</think>' in content %}"
               "{% set content = content.split('</think>')[-1] %}{% endif %}"
               "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}"));
      f.required.push_back(
          frag("{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}"));
      f.forbidden = {expr("ns.system_prompt + '\\n\\n'")};
      t.push_back(std::move(f));
    }
    {  // DeepSeek-V3.1
      const std::string call =
          "'<｜tool▁call▁begin｜>'+ tool['function']['name'] + '<｜tool▁sep｜>' + "
          "tool['function']['arguments'] + '<｜tool▁call▁end｜>'";
      Family f{ChatTemplateKind::kDeepSeekV31, {}, {}, {}};
      f.required = {
          frag("{{bos_token}}{{ns.system_prompt}}"),
          expr("ns.system_prompt + '\\n\\n' + message['content']"),
          frag("{% if not thinking is defined %}{% if enable_thinking is defined %}"
               "{% set thinking = enable_thinking %}{% else %}{% set thinking = false %}{% endif %}{% endif %}"),
          frag("{% set ns.is_tool = false %}{% set ns.is_first = false %}{% set ns.is_last_user = true %}"
               "{{'<｜User｜>' + message['content']}}"),
          expr("message['role'] == 'assistant' and message['tool_calls'] is defined and "
               "message['tool_calls'] is not none"),
          frag("{% if ns.is_last_user %}{{'<｜Assistant｜></think>'}}{% endif %}"),
          frag(
              "{% if message['content'] is none %}{{'<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>'+ "
              "tool['function']['name'] + '<｜tool▁sep｜>' + tool['function']['arguments'] + "
              "'<｜tool▁call▁end｜>'}}{% else %}{{message['content'] + '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + "
              "tool['function']['name'] + '<｜tool▁sep｜>' + tool['function']['arguments'] + "
              "'<｜tool▁call▁end｜>'}}{% endif %}"),
          frag("{% else %}{{" + call + "}}{% endif %}{% endfor %}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}"),
          frag("{% if ns.is_last_user %}{{'<｜Assistant｜>'}}{% if message['prefix'] is defined and "
               "message['prefix'] and thinking %}{{'<think>'}}{% else %}{{'</think>'}}{% endif %}{% endif %}"),
          frag("{% if ns.is_tool %}{{message['content'] + '<｜end▁of▁sentence｜>'}}"),
          frag("{% if '</think>' in content %}{% set content = content.split('</think>', 1)[1] %}{% endif %}"
               "{{content + '<｜end▁of▁sentence｜>'}}"),
          frag("{% set ns.is_tool = true %}{{'<｜tool▁output▁begin｜>' + message['content'] + "
               "'<｜tool▁output▁end｜>'}}"),
          frag("{% if add_generation_prompt and ns.is_last_user and not ns.is_tool %}{{'<｜Assistant｜>'}}"
               "{% if not thinking %}{{'</think>'}}{% else %}{{'<think>'}}{% endif %}{% endif %}"),
      };
      f.literals = {"\n\n",
                    "",
                    "</think>",
                    "<think>",
                    "<｜Assistant｜>",
                    "<｜Assistant｜></think>",
                    "<｜User｜>",
                    "<｜end▁of▁sentence｜>",
                    "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>",
                    "<｜tool▁calls▁end｜><｜end▁of▁sentence｜>",
                    "<｜tool▁call▁begin｜>",
                    "<｜tool▁call▁end｜>",
                    "<｜tool▁output▁begin｜>",
                    "<｜tool▁output▁end｜>",
                    "<｜tool▁sep｜>",
                    "arguments",
                    "assistant",
                    "content",
                    "function",
                    "name",
                    "prefix",
                    "role",
                    "system",
                    "tool",
                    "tool_calls",
                    "user"};
      t.push_back(std::move(f));
    }
    {  // DeepSeek-V2 / V2-Lite chat
      Family f{ChatTemplateKind::kDeepSeekV2, {}, {}, {}};
      f.required = {
          frag("{{bos_token}}"),
          frag("{% if message['role'] == 'user' %}{{'User: ' + message['content'] + '\\n\\n'}}"),
          frag("{% elif message['role'] == 'assistant' %}{{'Assistant: ' + message['content'] + eos_token}}"),
          frag("{% elif message['role'] == 'system' %}{{message['content'] + '\\n\\n'}}{% endif %}"),
          frag("{% if add_generation_prompt %}{{'Assistant:'}}{% endif %}"),
      };
      f.literals = {"User: ", "Assistant: ", "Assistant:", "\n\n", "user", "assistant", "system", "role", "content"};
      t.push_back(std::move(f));
    }
    {  // Qwen3
      Family f{ChatTemplateKind::kQwen3, {}, {}, {}};
      f.required = {
          frag("{% if tools %}{{'<|im_start|>system\\n'}}{% if messages[0].role == 'system' %}"
               "{{messages[0].content + '\\n\\n'}}{% endif %}"),
          frag("{% for tool in tools %}{{'\\n'}}{{tool | tojson}}{% endfor %}"),
          frag("{% else %}{% if messages[0].role == 'system' %}"
               "{{'<|im_start|>system\\n' + messages[0].content + '<|im_end|>\\n'}}{% endif %}{% endif %}"),
          frag("{% set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}"
               "{% for message in messages[::-1] %}{% set index = (messages|length - 1) - loop.index0 %}"
               "{% if ns.multi_step_tool and message.role == 'user' and not(message.content.startswith("
               "'<tool_response>') and message.content.endswith('</tool_response>')) %}"
               "{% set ns.multi_step_tool = false %}{% set ns.last_query_index = index %}{% endif %}{% endfor %}"),
          frag("{% if (message.role == 'user') or (message.role == 'system' and not loop.first) %}"
               "{{'<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n'}}"),
          frag("{% if message.reasoning_content is defined and message.reasoning_content is not none %}"
               "{% set reasoning_content = message.reasoning_content %}{% else %}"
               "{% if '</think>' in message.content %}"
               "{% set content = message.content.split('</think>')[-1].lstrip('\\n') %}"
               "{% set reasoning_content = message.content.split('</think>')[0].rstrip('\\n')"
               ".split('<think>')[-1].lstrip('\\n') %}{% endif %}{% endif %}"),
          frag("{% if loop.index0 > ns.last_query_index %}{% if loop.last or (not loop.last and reasoning_content) %}"
               "{{'<|im_start|>' + message.role + '\\n<think>\\n' + reasoning_content.strip('\\n') + "
               "'\\n</think>\\n\\n' + content.lstrip('\\n')}}{% else %}{{'<|im_start|>' + message.role + '\\n' + "
               "content}}{% endif %}{% else %}{{'<|im_start|>' + message.role + '\\n' + content}}{% endif %}"),
          frag("{% if (loop.first and content) or (not loop.first) %}{{'\\n'}}{% endif %}"
               "{% if tool_call.function %}{% set tool_call = tool_call.function %}{% endif %}"
               "{{'<tool_call>\\n{\"name\": \"'}}{{tool_call.name}}{{'\", \"arguments\": '}}"
               "{% if tool_call.arguments is string %}{{tool_call.arguments}}{% else %}"
               "{{tool_call.arguments | tojson}}{% endif %}{{'}\\n</tool_call>'}}{% endfor %}{% endif %}"
               "{{'<|im_end|>\\n'}}"),
          frag("{% elif message.role == 'tool' %}{% if loop.first or (messages[loop.index0 - 1].role != 'tool') %}"
               "{{'<|im_start|>user'}}{% endif %}{{'\\n<tool_response>\\n'}}{{message.content}}"
               "{{'\\n</tool_response>'}}{% if loop.last or (messages[loop.index0 + 1].role != 'tool') %}"
               "{{'<|im_end|>\\n'}}{% endif %}{% endif %}{% endfor %}"),
          frag("{% if add_generation_prompt %}{{'<|im_start|>assistant\\n'}}"
               "{% if enable_thinking is defined and enable_thinking is false %}{{'<think>\\n\\n</think>\\n\\n'}}"
               "{% endif %}{% endif %}"),
      };
      f.literals = {
          "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with "
          "function signatures within <tools></tools> XML tags:\n<tools>",
          "\n",
          "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
          "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
          "<args-json-object>}\n</tool_call><|im_end|>\n",
          "assistant",
          "system",
          "tool",
          "user",
          "\", \"arguments\": ",
          "",
          "</think>",
          "</tool_response>",
          "<think>",
          "<think>\n\n</think>\n\n",
          "<tool_call>\n{\"name\": \"",
          "<tool_response>",
          "<|im_end|>",
          "<|im_end|>\n",
          "<|im_start|>",
          "<|im_start|>assistant\n",
          "<|im_start|>system\n",
          "<|im_start|>user",
          "\n</think>\n\n",
          "\n</tool_response>",
          "\n<think>\n",
          "\n<tool_response>\n",
          "\n\n",
          "}\n</tool_call>"};
      t.push_back(std::move(f));
    }
    {  // Llama-3.0 instruct
      Family f{ChatTemplateKind::kLlama3, {}, {}, {}};
      f.required = {
          frag("{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + "
               "'<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}"
               "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{content}}{% endfor %}"),
          frag("{% if add_generation_prompt %}{{'<|start_header_id|>assistant<|end_header_id|>\\n\\n'}}{% endif %}"),
      };
      f.literals = {"<|end_header_id|>\n\n",
                    "<|eot_id|>",
                    "<|start_header_id|>",
                    "<|start_header_id|>assistant<|end_header_id|>\n\n",
                    "content",
                    "role"};
      t.push_back(std::move(f));
    }
    return t;
  }();
  return table;
}

std::string excerpt(std::string_view text) {
  std::string s(text.substr(0, 80));
  for (char& c : s) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  // Do not cut a UTF-8 sequence in half.
  while (!s.empty() && (static_cast<unsigned char>(s.back()) & 0xC0) == 0x80) s.pop_back();
  if (!s.empty() && (static_cast<unsigned char>(s.back()) & 0x80) != 0) s.pop_back();
  return s + (text.size() > 80 ? "..." : "");
}

std::string token_string(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  return "";
}

}  // namespace

std::string normalise_chat_template(std::string_view template_text) {
  Normaliser n{template_text, {}, {}};
  n.run();
  return std::move(n.out);
}

const char* chat_template_kind_name(ChatTemplateKind kind) {
  switch (kind) {
    case ChatTemplateKind::kDeepSeekV2:
      return "deepseek-v2";
    case ChatTemplateKind::kDeepSeekV3:
      return "deepseek-v3";
    case ChatTemplateKind::kDeepSeekR1:
      return "deepseek-r1";
    case ChatTemplateKind::kDeepSeekV31:
      return "deepseek-v3.1";
    case ChatTemplateKind::kQwen3:
      return "qwen3";
    case ChatTemplateKind::kLlama3:
      return "llama3";
  }
  return "unknown";
}

Result<ChatTemplateKind> recognise_chat_template(std::string_view template_text) {
  Normaliser n{template_text, {}, {}};
  n.run();
  const std::string& norm = n.out;

  const Family* best = nullptr;
  std::string best_problem;
  double best_score = 0.0;
  for (const Family& f : families()) {
    size_t present = 0;
    std::string problem;
    for (const std::string& r : f.required) {
      if (norm.find(r) != std::string::npos) {
        ++present;
      } else if (problem.empty()) {
        problem = "missing " + excerpt(r);
      }
    }
    for (const std::string& x : f.forbidden) {
      if (norm.find(x) != std::string::npos && problem.empty()) problem = "unexpected " + excerpt(x);
    }
    for (const std::string& lit : n.literals) {
      if (!f.literals.contains(lit) && problem.empty()) problem = "unexpected string " + excerpt(quote_literal(lit));
    }
    if (problem.empty()) return f.kind;
    double score = static_cast<double>(present) / static_cast<double>(f.required.size());
    if (score > best_score) {
      best_score = score;
      best = &f;
      best_problem = problem;
    }
  }
  std::string msg = "unrecognised chat template: \"" + excerpt(template_text) + "\"";
  if (best != nullptr && best_score >= 0.5) {
    msg += std::string(" (closest: ") + chat_template_kind_name(best->kind) + ", " + best_problem + ")";
  }
  return Error(ErrorCode::kUnsupported, msg);
}

Result<ChatTemplateConfig> parse_chat_template_config(std::string_view json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Error(ErrorCode::kCorruptFile, "tokenizer_config.json is not a JSON object");
  }
  ChatTemplateConfig cfg;
  if (j.contains("bos_token")) cfg.bos_token = token_string(j["bos_token"]);
  if (j.contains("eos_token")) cfg.eos_token = token_string(j["eos_token"]);
  if (!j.contains("chat_template") || j["chat_template"].is_null()) {
    return Error(ErrorCode::kNotFound, "tokenizer_config.json has no chat_template");
  }
  const nlohmann::json& ct = j["chat_template"];
  if (ct.is_string()) {
    cfg.chat_template = ct.get<std::string>();
  } else if (ct.is_array()) {
    bool found = false;
    for (const nlohmann::json& e : ct) {
      if (!e.is_object() || !e.contains("name") || !e.contains("template") || !e["name"].is_string() ||
          !e["template"].is_string()) {
        return Error(ErrorCode::kCorruptFile, "chat_template list entries must be {\"name\", \"template\"} strings");
      }
      if (e["name"].get<std::string>() == "default") {
        cfg.chat_template = e["template"].get<std::string>();
        found = true;
        break;
      }
    }
    if (!found) return Error(ErrorCode::kNotFound, "chat_template list has no entry named \"default\"");
  } else {
    return Error(ErrorCode::kCorruptFile, "chat_template must be a string or a list of named templates");
  }
  return cfg;
}

Result<ChatTemplateConfig> load_chat_template_config(const std::string& tokenizer_config_path) {
  BALEEN_ASSIGN_OR_RETURN(std::string text, read_file(tokenizer_config_path));
  Result<ChatTemplateConfig> cfg = parse_chat_template_config(text);
  if (!cfg.ok()) return cfg.error().with_context(tokenizer_config_path);
  return cfg;
}

Result<std::string> chat_template_from_tokenizer_config(const std::string& tokenizer_config_path) {
  BALEEN_ASSIGN_OR_RETURN(ChatTemplateConfig cfg, load_chat_template_config(tokenizer_config_path));
  return std::move(cfg.chat_template);
}

}  // namespace baleen
