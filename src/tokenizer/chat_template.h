// Chat templates: turns a conversation into the exact prompt string a model was trained on.
// Baleen never executes a model's Jinja template. recognise_chat_template() identifies the family
// from distinctive markers in the template text, and render_chat() reproduces that family's output
// natively, byte-exact with Hugging Face `apply_chat_template` (jinja2) for the supported families.
// Used by the CLI and the server to build prompts; the tokenizer then encodes the result.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace baleen {

// One tool call made by the assistant (OpenAI shape; `type` is always "function").
struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments;  // JSON text, rendered verbatim
};

// One message of a conversation. `content` empty with non-empty `tool_calls` stands for the
// OpenAI `content: null` of a pure tool-call message.
struct ChatMessage {
  std::string role;  // "system", "user", "assistant", "tool" (Llama-3 also "ipython")
  std::string content;
  std::string reasoning_content;  // used by templates that render it (Qwen3); empty = absent
  std::vector<ToolCall> tool_calls;
  std::string tool_call_id;  // for role "tool"; no supported template renders it
  std::string name;
};

enum class ChatTemplateKind {
  kDeepSeekV2,   // DeepSeek-V2 / V2-Lite chat: "User: ...\n\nAssistant: ..."
  kDeepSeekV3,   // DeepSeek-V3 (Dec 2024)
  kDeepSeekR1,   // DeepSeek-R1-Distill-Qwen / -Llama (and R1 with the same template): forced <think>\n
  kDeepSeekV31,  // DeepSeek-V3.1 / V3.1-Terminus: hybrid thinking (`thinking` / `enable_thinking`)
  kQwen3,        // Qwen3 ChatML with <think> and `enable_thinking`
  kLlama3,       // Llama-3.0 instruct (header ids, no tools)
};

// Stable lower-case name, e.g. "deepseek-v3.1".
const char* chat_template_kind_name(ChatTemplateKind kind);

// Identifies the template family from its source text. Formatting does not matter (whitespace
// between and inside tags, Jinja trim markers, quote style, `a.b` vs `a['b']`), but every
// behaviour-defining construct of the family must be present, so a template that merely resembles
// a known one is rejected instead of being rendered wrongly.
// Errors: kUnsupported "unrecognised chat template: <first ~80 chars>" (with the closest family
// when one was close). Never executes the template.
Result<ChatTemplateKind> recognise_chat_template(std::string_view template_text);

struct ChatRenderOptions {
  bool add_generation_prompt = true;
  // Thinking switch: DeepSeek-V3.1 `thinking` (default off); Qwen3 `enable_thinking` (default on;
  // only an explicit false changes the output). Ignored by the other families.
  std::optional<bool> thinking;
  std::string bos_token;  // as in tokenizer_config.json; empty = none
  std::string eos_token;
  // Tool definitions (each one JSON object as text), for templates that list them in the system
  // prompt (Qwen3). DeepSeek V3/R1/V3.1 templates do not render definitions: the caller must put
  // them in a system message itself.
  std::vector<std::string> tools;
};

// Renders `messages` as `kind`'s template would. Errors (kInvalidArgument / kUnsupported): an
// unknown role, a tool message that does not follow a tool-call message or another tool result,
// tool calls on a template without a tool-call format, a message combining content and tool calls
// where the template would silently drop one of them, malformed tool JSON. Thread-safe.
Result<std::string> render_chat(ChatTemplateKind kind, std::span<const ChatMessage> messages,
                                const ChatRenderOptions& options);

// recognise_chat_template + render_chat in one call: the prompt string for a model's own template.
Result<std::string> apply_chat_template(std::string_view template_text, std::span<const ChatMessage> messages,
                                        const ChatRenderOptions& options);

// What a tokenizer_config.json says about chat formatting.
struct ChatTemplateConfig {
  std::string chat_template;  // the "default" template
  std::string bos_token;      // "" when absent or null
  std::string eos_token;
};

// Parses tokenizer_config.json text. `chat_template` may be a string or a list of
// {"name": ..., "template": ...} (the one named "default" is taken). `bos_token`/`eos_token` may be a
// string, null or an object with "content". Errors: kCorruptFile for malformed JSON or wrong
// types, kNotFound when there is no chat template (or no "default" entry in the list form).
Result<ChatTemplateConfig> parse_chat_template_config(std::string_view json_text);
Result<ChatTemplateConfig> load_chat_template_config(const std::string& tokenizer_config_path);
// Just the default chat template of a tokenizer_config.json file.
Result<std::string> chat_template_from_tokenizer_config(const std::string& tokenizer_config_path);

// The normalised form used for recognition (exposed for tests and diagnostics): comments dropped,
// whitespace outside string literals removed except between two identifier characters, trim
// markers dropped, string literals re-quoted canonically, attribute access written as subscript.
std::string normalise_chat_template(std::string_view template_text);

}  // namespace baleen
