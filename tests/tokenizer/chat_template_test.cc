// Chat templates: recognition of the real template texts in ../shared/conformance and byte-exact
// renders against references made by executing those templates with python jinja2 (the
// conformance renders, plus tests/tokenizer/data/chat_template_cases.json made by
// gen_chat_template_cases.py). Also checks that unknown and tampered templates are rejected.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/mapped_file.h"
#include "testing.h"
#include "tokenizer/chat_template.h"

namespace baleen {
namespace {

using Json = nlohmann::ordered_json;

Json load_json(const std::string& path) {
  Result<std::string> text = read_file(path);
  EXPECT_TRUE(text.ok()) << path << ": " << (text.ok() ? "" : text.error().to_string());
  if (!text.ok()) return Json();
  return Json::parse(*text, nullptr, false);
}

std::vector<ChatMessage> to_messages(const Json& arr) {
  std::vector<ChatMessage> out;
  for (const Json& m : arr) {
    ChatMessage msg;
    msg.role = m.value("role", "");
    if (m.contains("content") && m["content"].is_string()) msg.content = m["content"].get<std::string>();
    if (m.contains("reasoning_content")) msg.reasoning_content = m["reasoning_content"].get<std::string>();
    if (m.contains("tool_call_id")) msg.tool_call_id = m["tool_call_id"].get<std::string>();
    if (m.contains("tool_calls")) {
      for (const Json& c : m["tool_calls"]) {
        msg.tool_calls.push_back(ToolCall{c.value("id", ""), c["function"]["name"].get<std::string>(),
                                          c["function"]["arguments"].get<std::string>()});
      }
    }
    out.push_back(std::move(msg));
  }
  return out;
}

ChatRenderOptions to_options(const Json& r) {
  ChatRenderOptions opt;
  opt.add_generation_prompt = r.value("add_generation_prompt", false);
  if (r.contains("bos_token") && r["bos_token"].is_string()) opt.bos_token = r["bos_token"].get<std::string>();
  if (r.contains("eos_token") && r["eos_token"].is_string()) opt.eos_token = r["eos_token"].get<std::string>();
  const Json& extra = r["extra_vars"];
  if (extra.contains("thinking")) opt.thinking = extra["thinking"].get<bool>();
  if (extra.contains("enable_thinking")) opt.thinking = extra["enable_thinking"].get<bool>();
  if (r.contains("tools")) {
    for (const Json& t : r["tools"]) opt.tools.push_back(t.dump());
  }
  return opt;
}

std::string config_template(const std::string& model) {
  Result<std::string> t =
      chat_template_from_tokenizer_config(testing::conformance_path("tokenizers/" + model + "/tokenizer_config.json"));
  EXPECT_TRUE(t.ok()) << model << ": " << (t.ok() ? "" : t.error().to_string());
  return t.ok() ? *t : "";
}

std::string jinja_template(const std::string& rel) {
  Result<std::string> t = read_file(testing::conformance_path(rel));
  EXPECT_TRUE(t.ok()) << rel;
  return t.ok() ? *t : "";
}

// The template texts in the conformance data and the family each must be recognised as.
std::vector<std::pair<std::string, ChatTemplateKind>> known_templates() {
  return {
      {config_template("deepseek-v3"), ChatTemplateKind::kDeepSeekV3},
      {config_template("deepseek-r1-distill-qwen"), ChatTemplateKind::kDeepSeekR1},
      {jinja_template("tokenizers/chat-templates/deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"),
       ChatTemplateKind::kDeepSeekR1},
      {jinja_template("tokenizers/chat-templates/deepseek-ai-DeepSeek-V3.1.jinja"), ChatTemplateKind::kDeepSeekV31},
      {config_template("qwen3"), ChatTemplateKind::kQwen3},
      {config_template("llama3"), ChatTemplateKind::kLlama3},
  };
}

TEST(ChatTemplate, RecognisesConformanceTemplates) {
  BALEEN_REQUIRE_CONFORMANCE();
  for (const auto& [text, kind] : known_templates()) {
    Result<ChatTemplateKind> k = recognise_chat_template(text);
    ASSERT_TRUE(k.ok()) << k.error().to_string();
    EXPECT_EQ(*k, kind) << chat_template_kind_name(*k) << " vs " << chat_template_kind_name(kind);
  }
}

// Reformatting (whitespace, trim markers, quote style, attribute syntax) keeps the family.
TEST(ChatTemplate, RecognitionIgnoresFormatting) {
  BALEEN_REQUIRE_CONFORMANCE();
  for (const auto& [text, kind] : known_templates()) {
    std::string t = text;
    // Spread tags over lines and drop every trim marker.
    std::string r;
    for (size_t i = 0; i < t.size(); ++i) {
      if ((t.compare(i, 3, "{%-") == 0 || t.compare(i, 3, "{{-") == 0)) {
        r += "\n  ";
        r += t.substr(i, 2);
        r += "  ";
        i += 2;
      } else if (t.compare(i, 3, "-%}") == 0 || t.compare(i, 3, "-}}") == 0) {
        r += " ";
        r += t.substr(i + 1, 2);
        i += 2;
      } else {
        r += t[i];
      }
    }
    Result<ChatTemplateKind> k = recognise_chat_template(r);
    ASSERT_TRUE(k.ok()) << chat_template_kind_name(kind) << ": " << k.error().to_string();
    EXPECT_EQ(*k, kind);
  }
  // message['role'] vs message.role, and quote style.
  std::string v3 = config_template("deepseek-v3");
  std::string alt;
  const std::string subscript = "message['content']";
  for (size_t i = 0; i < v3.size(); ++i) {
    if (v3.compare(i, subscript.size(), subscript) == 0) {
      alt += "message.content";
      i += subscript.size() - 1;
    } else {
      alt += v3[i];
    }
  }
  ASSERT_TRUE(alt != v3);
  Result<ChatTemplateKind> k = recognise_chat_template(alt);
  ASSERT_TRUE(k.ok()) << k.error().to_string();
  EXPECT_EQ(*k, ChatTemplateKind::kDeepSeekV3);
  EXPECT_EQ(normalise_chat_template("{{- \"a\\nb\" -}}"), normalise_chat_template("{{'a\nb'}}"));
}

void expect_rejected(const std::string& text, const std::string& why) {
  Result<ChatTemplateKind> k = recognise_chat_template(text);
  ASSERT_FALSE(k.ok()) << why << ": recognised as " << chat_template_kind_name(*k);
  EXPECT_EQ(k.error().code(), ErrorCode::kUnsupported);
  EXPECT_NE(k.error().message().find("unrecognised chat template"), std::string::npos) << k.error().message();
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  size_t p = s.find(from);
  EXPECT_NE(p, std::string::npos) << "marker not in template: " << from;
  if (p != std::string::npos) s.replace(p, from.size(), to);
  return s;
}

TEST(ChatTemplate, RejectsUnknownTemplates) {
  expect_rejected("", "empty");
  expect_rejected("{% for m in messages %}{{ m.content }}{% endfor %}", "generic loop");
  expect_rejected(
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
      "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
      "plain ChatML (Qwen2.5 style)");
  expect_rejected("Hello {{ user }}, {{ ''.__class__.__mro__ }}", "random jinja");
  expect_rejected("not a template at all", "text");
  Result<ChatTemplateKind> k = recognise_chat_template(std::string(200, 'x'));
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().message().find(std::string(80, 'x')), std::string::npos);
  EXPECT_EQ(k.error().message().find(std::string(81, 'x')), std::string::npos);
}

TEST(ChatTemplate, RejectsPerturbedTemplates) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string v3 = config_template("deepseek-v3");
  const std::string r1 = config_template("deepseek-r1-distill-qwen");
  const std::string v31 = jinja_template("tokenizers/chat-templates/deepseek-ai-DeepSeek-V3.1.jinja");
  const std::string qwen3 = config_template("qwen3");
  const std::string llama3 = config_template("llama3");
  // Generation prompt changed: R1 without the forced newline, V3 emitting a think tag.
  expect_rejected(replace_once(r1, "'<｜Assistant｜><think>\\n'", "'<｜Assistant｜><think>'"), "R1 without \\n");
  expect_rejected(replace_once(v3, "{{'<｜Assistant｜>'}}{% endif %}", "{{'<｜Assistant｜><think>'}}{% endif %}"),
                  "V3 with think");
  // Reasoning stripping removed or changed.
  expect_rejected(replace_once(r1, "content.split('</think>')[-1]", "content"), "R1 without strip");
  expect_rejected(replace_once(v31, "content.split('</think>', 1)[1]", "content.split('</think>')[-1]"),
                  "V3.1 strip last");
  // System prompt handling switched between families.
  expect_rejected(replace_once(v3, "ns.system_prompt + '\n\n' + message['content']", "message['content']"),
                  "V3 last system only");
  // Tool call format changed (no fenced json).
  expect_rejected(replace_once(v3, "'```json'", "'```'"), "V3 tool fence");
  // Special token renamed.
  expect_rejected(replace_once(v31, "'<｜User｜>' + message['content']", "'<｜user｜>' + message['content']"),
                  "V3.1 user token");
  // Extra output text inserted.
  expect_rejected(replace_once(v3, "{{bos_token}}", "{{bos_token}}{{'You are DeepSeek. '}}"), "V3 extra text");
  expect_rejected(replace_once(llama3, "{{ content }}", "{{ content }}{{ 'x' }}"), "Llama-3 extra text");
  // Qwen3 thinking switch removed.
  expect_rejected(replace_once(qwen3, "'<think>\\n\\n</think>\\n\\n'", "''"), "Qwen3 no-think");
  // Markers removed entirely.
  expect_rejected(replace_once(v3, "<｜tool▁outputs▁begin｜>", ""), "V3 tool outputs marker");
  expect_rejected(replace_once(llama3, "| trim", ""), "Llama-3 without trim");
}

// Truncated or broken template text must give an answer (usually an error), never crash or hang.
TEST(ChatTemplate, TruncatedTemplatesAreHandled) {
  BALEEN_REQUIRE_CONFORMANCE();
  for (const auto& [text, kind] : known_templates()) {
    int recognised = 0;
    for (size_t n = 0; n < text.size(); n += 7) {
      Result<ChatTemplateKind> k = recognise_chat_template(std::string_view(text).substr(0, n));
      if (k.ok()) ++recognised;
    }
    // Only prefixes that end in trailing whitespace/closing text of the last tag can still match.
    EXPECT_LE(recognised, 2) << chat_template_kind_name(kind);
  }
  for (const char* broken : {"{{", "{%", "{#", "{{ 'unterminated", "{% if %}{{ x -", "{", "}}%}", "{{-}}"}) {
    EXPECT_FALSE(recognise_chat_template(broken).ok()) << broken;
  }
}

// Every render in the conformance data, with the template chosen by recognition.
TEST(ChatTemplate, ConformanceRenders) {
  BALEEN_REQUIRE_CONFORMANCE();
  int passed = 0, total = 0;
  auto check = [&](const std::string& template_text, const Json& r, const Json& messages_json) {
    ++total;
    std::vector<ChatMessage> messages = to_messages(messages_json);
    Result<std::string> out = apply_chat_template(template_text, messages, to_options(r));
    ASSERT_TRUE(out.ok()) << r.value("template", "") << ": " << out.error().to_string();
    EXPECT_EQ(*out, r["rendered"].get<std::string>()) << r.value("template", "");
    if (*out == r["rendered"].get<std::string>()) ++passed;
  };

  // deepseek-v3/reference/extra-cases.json: bos/eos from the DeepSeek-V3 tokenizer_config.json.
  Result<ChatTemplateConfig> v3cfg =
      load_chat_template_config(testing::conformance_path("tokenizers/deepseek-v3/tokenizer_config.json"));
  ASSERT_TRUE(v3cfg.ok()) << v3cfg.error().to_string();
  EXPECT_EQ(v3cfg->bos_token, "<｜begin▁of▁sentence｜>");
  EXPECT_EQ(v3cfg->eos_token, "<｜end▁of▁sentence｜>");
  Json extra = load_json(testing::conformance_path("tokenizers/deepseek-v3/reference/extra-cases.json"));
  ASSERT_TRUE(extra.contains("chat_renders"));
  for (Json r : extra["chat_renders"]) {
    std::string name = r["template"].get<std::string>();
    std::string text;
    if (name.rfind("tokenizer_config", 0) == 0) {
      text = v3cfg->chat_template;
    } else {
      std::string rel = "tokenizers/" + name.substr(0, name.find(' '));
      text = jinja_template(rel);
    }
    r["bos_token"] = v3cfg->bos_token;
    r["eos_token"] = v3cfg->eos_token;
    check(text, r, extra["chat_messages"]);
  }
  // {r1-distill-qwen,qwen3,llama3}/reference/chat-renders.json
  for (const std::string model : {"deepseek-r1-distill-qwen", "qwen3", "llama3"}) {
    Result<ChatTemplateConfig> cfg =
        load_chat_template_config(testing::conformance_path("tokenizers/" + model + "/tokenizer_config.json"));
    ASSERT_TRUE(cfg.ok()) << cfg.error().to_string();
    Json renders = load_json(testing::conformance_path("tokenizers/" + model + "/reference/chat-renders.json"));
    ASSERT_TRUE(renders.contains("renders")) << model;
    for (const Json& r : renders["renders"]) {
      // The reference used the bos/eos strings of tokenizer_config.json; so must the loader.
      EXPECT_EQ(cfg->bos_token, r["bos_token"].is_string() ? r["bos_token"].get<std::string>() : "") << model;
      EXPECT_EQ(cfg->eos_token, r["eos_token"].get<std::string>()) << model;
      check(cfg->chat_template, r, r["messages"]);
    }
  }
  testing::report_conformance("chat template renders", passed, total);
  EXPECT_EQ(total, 8);  // 4 in extra-cases.json, 1 + 2 + 1 in chat-renders.json
}

// Extra conversations (tools, reasoning, whitespace, thinking switches) rendered by jinja2.
TEST(ChatTemplate, GeneratedCases) {
  BALEEN_REQUIRE_CONFORMANCE();
  Json data = load_json(std::string(BALEEN_SOURCE_DIR) + "/tests/tokenizer/data/chat_template_cases.json");
  ASSERT_TRUE(data.contains("cases"));
  std::map<std::string, std::string> texts;
  for (const auto& [name, src] : data["templates"].items()) {
    if (src.contains("config")) {
      Result<std::string> t =
          chat_template_from_tokenizer_config(testing::conformance_path(src["config"].get<std::string>()));
      ASSERT_TRUE(t.ok()) << t.error().to_string();
      texts[name] = *t;
    } else if (src.contains("jinja")) {
      texts[name] = jinja_template(src["jinja"].get<std::string>());
    } else {
      texts[name] = src["text"].get<std::string>();
    }
  }
  int passed = 0, total = 0;
  for (const Json& c : data["cases"]) {
    ++total;
    std::string label = c["template"].get<std::string>() + "/" + c["conversation"].get<std::string>() +
                        (c["add_generation_prompt"].get<bool>() ? " +gen" : "") + " " + c["extra_vars"].dump() +
                        (c.contains("tools") ? " +tools" : "");
    std::vector<ChatMessage> messages = to_messages(data["conversations"][c["conversation"].get<std::string>()]);
    Result<std::string> out = apply_chat_template(texts[c["template"].get<std::string>()], messages, to_options(c));
    if (c.contains("expect_error")) {
      EXPECT_FALSE(out.ok()) << label << " should be rejected: " << c["expect_error"];
      if (!out.ok()) ++passed;
      continue;
    }
    ASSERT_TRUE(out.ok()) << label << ": " << out.error().to_string();
    EXPECT_EQ(*out, c["rendered"].get<std::string>()) << label;
    if (*out == c["rendered"].get<std::string>()) ++passed;
  }
  testing::report_conformance("chat template generated cases", passed, total);
}

ChatMessage msg(std::string role, std::string content) {
  ChatMessage m;
  m.role = std::move(role);
  m.content = std::move(content);
  return m;
}

TEST(ChatTemplate, InvalidConversations) {
  ChatRenderOptions opt;
  auto render = [&](ChatTemplateKind kind, std::vector<ChatMessage> msgs) { return render_chat(kind, msgs, opt); };
  for (ChatTemplateKind kind :
       {ChatTemplateKind::kDeepSeekV2, ChatTemplateKind::kDeepSeekV3, ChatTemplateKind::kDeepSeekR1,
        ChatTemplateKind::kDeepSeekV31, ChatTemplateKind::kQwen3, ChatTemplateKind::kLlama3}) {
    Result<std::string> r = render(kind, {msg("wizard", "hi")});
    ASSERT_FALSE(r.ok()) << chat_template_kind_name(kind);
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    r = render(kind, {msg("user", "q"), msg("tool", "orphan result")});
    EXPECT_FALSE(r.ok()) << chat_template_kind_name(kind);
  }
  Result<std::string> r = render(ChatTemplateKind::kQwen3, {});
  EXPECT_FALSE(r.ok());
  opt.tools = {"{\"type\": \"function\"}"};
  r = render(ChatTemplateKind::kDeepSeekV3, {msg("user", "q")});
  EXPECT_FALSE(r.ok()) << "DeepSeek templates do not render tool definitions";
  opt.tools = {"{not json"};
  r = render(ChatTemplateKind::kQwen3, {msg("user", "q")});
  EXPECT_FALSE(r.ok());
}

TEST(ChatTemplate, SpecStringsV2) {
  // deepseek-spec.md 9.3: {bos}{system}\n\nUser: {u1}\n\nAssistant: {a1}{eos}User: {u2}\n\nAssistant:
  ChatRenderOptions opt;
  opt.bos_token = "<B>";
  opt.eos_token = "<E>";
  std::vector<ChatMessage> msgs = {msg("system", "S"), msg("user", "U1"), msg("assistant", "A1"), msg("user", "U2")};
  Result<std::string> r = render_chat(ChatTemplateKind::kDeepSeekV2, msgs, opt);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "<B>S\n\nUser: U1\n\nAssistant: A1<E>User: U2\n\nAssistant:");
}

TEST(ChatTemplate, ConfigParsing) {
  Result<ChatTemplateConfig> c = parse_chat_template_config(
      R"({"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": null,
          "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->chat_template, "D");
  EXPECT_EQ(c->bos_token, "<s>");
  EXPECT_EQ(c->eos_token, "");
  c = parse_chat_template_config(R"({"chat_template": [{"name": "rag", "template": "R"}]})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kNotFound);
  c = parse_chat_template_config(R"({"bos_token": "<s>"})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kNotFound);
  c = parse_chat_template_config(R"({"chat_template": 5})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kCorruptFile);
  c = parse_chat_template_config("{not json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kCorruptFile);
  Result<std::string> missing = chat_template_from_tokenizer_config("/nonexistent/tokenizer_config.json");
  EXPECT_FALSE(missing.ok());
}

}  // namespace
}  // namespace baleen
