// Parsing and validation of OpenAI/DeepSeek request bodies into typed requests. Every field is
// checked (type, range, NaN, size) and rejected with a 400 naming the parameter; unknown fields
// are ignored. The body itself is checked first: size is httplib's limit, then UTF-8 validity and
// JSON nesting depth, then syntax.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/sampling.h"
#include "server/api_error.h"
#include "tokenizer/chat_template.h"

namespace baleen::server {

struct RequestLimits {
  int max_depth = 64;           // JSON nesting
  int max_n = 8;                // choices per request
  int max_stop = 16;            // stop strings (DeepSeek's limit)
  size_t max_stop_bytes = 256;  // per stop string
  int max_top_logprobs = 20;    // OpenAI's limit
  size_t max_messages = 4096;
};

// Fields shared by chat and completions.
struct GenerationParams {
  int64_t max_tokens = -1;  // -1: until the context is full
  SamplerParams sampling;   // temperature 1, top_p 1 (OpenAI's defaults) unless given
  bool seed_given = false;
  int n = 1;
  std::vector<std::string> stop;
  int top_logprobs = -1;  // -1: no logprobs
  bool stream = false;
  bool include_usage = false;
  bool json_object = false;  // response_format {"type": "json_object"}
  bool ignore_eos = false;   // "ignore_eos" (vLLM/llama.cpp extension): generate max_tokens tokens
};

struct ChatRequest {
  GenerationParams gen;
  std::vector<ChatMessage> messages;
  bool continue_last = false;  // last assistant message has prefix: true
  std::optional<bool> thinking;
};

struct CompletionRequest {
  GenerationParams gen;
  std::string prompt;
  std::optional<std::string> suffix;  // FIM
};

// Body -> JSON object. Errors: invalid UTF-8, nesting deeper than limits.max_depth, malformed JSON,
// not an object.
std::optional<ApiError> parse_body(std::string_view body, const RequestLimits& limits, nlohmann::json* out);

std::optional<ApiError> parse_chat_request(const nlohmann::json& j, const RequestLimits& limits, ChatRequest* out);
std::optional<ApiError> parse_completion_request(const nlohmann::json& j, const RequestLimits& limits,
                                                 CompletionRequest* out);

// Maximum nesting depth of JSON text (brackets outside strings); stops counting past `limit`.
int json_depth(std::string_view text, int limit);

}  // namespace baleen::server
