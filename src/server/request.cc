#include "server/request.h"

#include <cmath>
#include <limits>

#include "core/utf8.h"

namespace baleen::server {
namespace {

using json = nlohmann::json;

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::boolean:
      return "a boolean";
    case json::value_t::string:
      return "a string";
    case json::value_t::array:
      return "an array";
    case json::value_t::object:
      return "an object";
    case json::value_t::number_float:
      return "a float";
    default:
      return "an integer";
  }
}

ApiError wrong_type(const std::string& param, const char* want, const json& got) {
  return invalid_request("'" + param + "' must be " + want + ", got " + type_name(got), param);
}

// Reads an optional number field (absent or null: untouched). Rejects NaN/Inf and [lo, hi] misses.
std::optional<ApiError> get_number(const json& j, const char* key, double lo, double hi, float* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) return wrong_type(key, "a number", *it);
  double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "'%s' must be a finite number in [%g, %g]", key, lo, hi);
    return invalid_request(buf, key);
  }
  *out = static_cast<float>(v);
  return std::nullopt;
}

std::optional<ApiError> get_int(const json& j, const char* key, int64_t lo, int64_t hi, int64_t* out,
                                bool* given = nullptr) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_number_integer()) {
    // 3.0 is accepted as an integer; 3.5 is not.
    if (it->is_number_float()) {
      double d = it->get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) {
        json copy = static_cast<int64_t>(d);
        json tmp = {{key, copy}};
        return get_int(tmp, key, lo, hi, out, given);
      }
    }
    return wrong_type(key, "an integer", *it);
  }
  int64_t v;
  if (it->is_number_unsigned()) {
    uint64_t u = it->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      v = std::numeric_limits<int64_t>::max();
    } else {
      v = static_cast<int64_t>(u);
    }
  } else {
    v = it->get<int64_t>();
  }
  if (v < lo || v > hi) {
    return invalid_request(
        "'" + std::string(key) + "' must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]",
        key);
  }
  *out = v;
  if (given) *given = true;
  return std::nullopt;
}

std::optional<ApiError> get_bool(const json& j, const char* key, bool* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) return wrong_type(key, "a boolean", *it);
  *out = it->get<bool>();
  return std::nullopt;
}

#define BALEEN_API_TRY(expr)          \
  do {                                \
    if (auto _e = (expr)) return *_e; \
  } while (0)

std::optional<ApiError> parse_generation(const json& j, const RequestLimits& lim, bool chat, GenerationParams* g) {
  g->sampling = SamplerParams{};
  g->sampling.temperature = 1.0f;
  g->sampling.top_p = 1.0f;
  g->sampling.top_k = 0;
  g->sampling.min_p = 0.0f;
  BALEEN_API_TRY(get_bool(j, "stream", &g->stream));
  BALEEN_API_TRY(get_bool(j, "ignore_eos", &g->ignore_eos));
  if (auto it = j.find("stream_options"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return wrong_type("stream_options", "an object", *it);
    BALEEN_API_TRY(get_bool(*it, "include_usage", &g->include_usage));
  }
  // max_completion_tokens wins when both are sent (it is the newer name).
  const int64_t kMaxTokens = int64_t{1} << 40;
  BALEEN_API_TRY(get_int(j, "max_tokens", 1, kMaxTokens, &g->max_tokens));
  BALEEN_API_TRY(get_int(j, "max_completion_tokens", 1, kMaxTokens, &g->max_tokens));
  BALEEN_API_TRY(get_number(j, "temperature", 0.0, 2.0, &g->sampling.temperature));
  BALEEN_API_TRY(get_number(j, "top_p", 0.0, 1.0, &g->sampling.top_p));
  if (g->sampling.top_p == 0.0f) {
    return invalid_request("'top_p' must be greater than 0 (use temperature 0 for greedy decoding)", "top_p");
  }
  BALEEN_API_TRY(get_number(j, "min_p", 0.0, 1.0, &g->sampling.min_p));
  int64_t top_k = 0;
  BALEEN_API_TRY(get_int(j, "top_k", 0, std::numeric_limits<int32_t>::max(), &top_k));
  g->sampling.top_k = static_cast<int32_t>(top_k);
  // repetition_penalty (vLLM) / repeat_penalty (llama.cpp)
  BALEEN_API_TRY(get_number(j, "repetition_penalty", 0.01, 100.0, &g->sampling.repetition_penalty));
  BALEEN_API_TRY(get_number(j, "repeat_penalty", 0.01, 100.0, &g->sampling.repetition_penalty));
  if (auto it = j.find("seed"); it != j.end() && !it->is_null()) {
    if (it->is_number_unsigned()) {
      g->sampling.seed = it->get<uint64_t>();
    } else if (it->is_number_integer()) {
      g->sampling.seed = static_cast<uint64_t>(it->get<int64_t>());  // negative seeds wrap, as in C
    } else {
      return wrong_type("seed", "an integer", *it);
    }
    g->seed_given = true;
  }
  int64_t n = 1;
  BALEEN_API_TRY(get_int(j, "n", 1, lim.max_n, &n));
  g->n = static_cast<int>(n);
  if (auto it = j.find("stop"); it != j.end() && !it->is_null()) {
    std::vector<std::string> stops;
    if (it->is_string()) {
      stops.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      if (it->size() > static_cast<size_t>(lim.max_stop)) {
        return invalid_request("'stop' may hold at most " + std::to_string(lim.max_stop) + " strings", "stop");
      }
      for (const auto& s : *it) {
        if (!s.is_string()) return wrong_type("stop", "a string or an array of strings", s);
        stops.push_back(s.get<std::string>());
      }
    } else {
      return wrong_type("stop", "a string or an array of strings", *it);
    }
    for (const auto& s : stops) {
      if (s.empty()) return invalid_request("'stop' strings must not be empty", "stop");
      if (s.size() > lim.max_stop_bytes) {
        return invalid_request("each 'stop' string must be at most " + std::to_string(lim.max_stop_bytes) + " bytes",
                               "stop");
      }
    }
    g->stop = std::move(stops);
  }
  if (chat) {
    bool logprobs = false;
    BALEEN_API_TRY(get_bool(j, "logprobs", &logprobs));
    int64_t top = -1;
    BALEEN_API_TRY(get_int(j, "top_logprobs", 0, lim.max_top_logprobs, &top));
    if (top >= 0 && !logprobs) return invalid_request("'top_logprobs' requires 'logprobs': true", "top_logprobs");
    g->top_logprobs = logprobs ? static_cast<int>(std::max<int64_t>(top, 0)) : -1;
  } else {
    // Legacy completions: logprobs is the number of alternatives (0..5 in OpenAI's API; 20 here).
    int64_t lp = -1;
    BALEEN_API_TRY(get_int(j, "logprobs", 0, lim.max_top_logprobs, &lp));
    g->top_logprobs = static_cast<int>(lp);
    bool echo = false;
    BALEEN_API_TRY(get_bool(j, "echo", &echo));
    if (echo) return ApiError{400, "not_supported_error", "'echo' is not supported", "echo", ""};
    int64_t best_of = 1;
    BALEEN_API_TRY(get_int(j, "best_of", 1, 1, &best_of));
  }
  if (auto it = j.find("response_format"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return wrong_type("response_format", "an object", *it);
    auto t = it->find("type");
    if (t == it->end() || !t->is_string()) {
      return invalid_request("'response_format.type' must be a string", "response_format");
    }
    const std::string type = t->get<std::string>();
    if (type == "json_object") {
      g->json_object = true;
    } else if (type == "json_schema") {
      return ApiError{400, "not_supported_error",
                      "response_format 'json_schema' is not supported (no schema constraint); use 'json_object'",
                      "response_format", ""};
    } else if (type != "text") {
      return invalid_request("'response_format.type' must be 'text' or 'json_object'", "response_format");
    }
  }
  if (auto it = j.find("logit_bias"); it != j.end() && !it->is_null() && !(it->is_object() && it->empty())) {
    return ApiError{400, "not_supported_error", "'logit_bias' is not supported", "logit_bias", ""};
  }
  return std::nullopt;
}

// Message content: a string, or an array of {"type": "text", "text": ...} parts (joined).
std::optional<ApiError> get_content(const json& m, size_t i, bool allow_null, std::string* out) {
  const std::string param = "messages[" + std::to_string(i) + "].content";
  auto it = m.find("content");
  if (it == m.end() || it->is_null()) {
    if (allow_null) return std::nullopt;
    return invalid_request("'" + param + "' is required", param);
  }
  if (it->is_string()) {
    *out = it->get<std::string>();
    return std::nullopt;
  }
  if (!it->is_array()) return wrong_type(param, "a string or an array of content parts", *it);
  for (const auto& part : *it) {
    if (!part.is_object()) return wrong_type(param, "an array of content part objects", part);
    auto t = part.find("type");
    if (t == part.end() || !t->is_string()) return invalid_request("'" + param + "[].type' must be a string", param);
    if (t->get<std::string>() != "text") {
      return ApiError{400, "not_supported_error", "only text content parts are supported", param, ""};
    }
    auto tx = part.find("text");
    if (tx == part.end() || !tx->is_string()) {
      return invalid_request("'" + param + "[].text' must be a string", param);
    }
    *out += tx->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace

int json_depth(std::string_view text, int limit) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escape = false;
  for (char c : text) {
    if (in_string) {
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > limit) return max_depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

std::optional<ApiError> parse_body(std::string_view body, const RequestLimits& limits, nlohmann::json* out) {
  if (!utf8::is_valid(body)) return invalid_request("the request body is not valid UTF-8");
  if (json_depth(body, limits.max_depth) > limits.max_depth) {
    return invalid_request("the request JSON is nested deeper than " + std::to_string(limits.max_depth) + " levels");
  }
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return invalid_request("the request body is not valid JSON");
  if (!j.is_object()) return invalid_request("the request body must be a JSON object");
  *out = std::move(j);
  return std::nullopt;
}

std::optional<ApiError> parse_chat_request(const json& j, const RequestLimits& lim, ChatRequest* out) {
  BALEEN_API_TRY(parse_generation(j, lim, /*chat=*/true, &out->gen));
  auto it = j.find("messages");
  if (it == j.end()) return invalid_request("'messages' is required", "messages");
  if (!it->is_array()) return wrong_type("messages", "an array", *it);
  if (it->empty()) return invalid_request("'messages' must not be empty", "messages");
  if (it->size() > lim.max_messages) {
    return invalid_request("'messages' may hold at most " + std::to_string(lim.max_messages) + " messages", "messages");
  }
  const json& ms = *it;
  bool mentions_json = false;
  for (size_t i = 0; i < ms.size(); ++i) {
    const json& m = ms[i];
    const std::string p = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return wrong_type(p, "an object", m);
    auto r = m.find("role");
    if (r == m.end()) return invalid_request("'" + p + ".role' is required", p + ".role");
    if (!r->is_string()) return wrong_type(p + ".role", "a string", *r);
    ChatMessage cm;
    cm.role = r->get<std::string>();
    if (cm.role == "developer") cm.role = "system";
    if (cm.role == "tool" || cm.role == "function") {
      return ApiError{400, "not_supported_error", "tool messages are not supported by this server", p + ".role", ""};
    }
    if (cm.role != "system" && cm.role != "user" && cm.role != "assistant") {
      return invalid_request("'" + p + ".role' must be one of system, developer, user, assistant", p + ".role");
    }
    if (auto tc = m.find("tool_calls"); tc != m.end() && !tc->is_null() && !(tc->is_array() && tc->empty())) {
      return ApiError{400, "not_supported_error", "tool calls are not supported by this server", p + ".tool_calls", ""};
    }
    BALEEN_API_TRY(get_content(m, i, cm.role == "assistant", &cm.content));
    if (auto rc = m.find("reasoning_content"); rc != m.end() && !rc->is_null()) {
      if (!rc->is_string()) return wrong_type(p + ".reasoning_content", "a string", *rc);
      if (cm.role == "assistant") cm.reasoning_content = rc->get<std::string>();
    }
    if (auto nm = m.find("name"); nm != m.end() && !nm->is_null()) {
      if (!nm->is_string()) return wrong_type(p + ".name", "a string", *nm);
      cm.name = nm->get<std::string>();
    }
    bool prefix = false;
    BALEEN_API_TRY(get_bool(m, "prefix", &prefix));
    if (prefix) {
      if (i + 1 != ms.size() || cm.role != "assistant") {
        return invalid_request("'prefix': true is only allowed on the last message, which must be an assistant one",
                               p + ".prefix");
      }
      out->continue_last = true;
    }
    if (cm.role == "assistant" && !out->messages.empty() && out->messages.back().role == "assistant") {
      return invalid_request("two assistant messages in a row", p);
    }
    if (cm.content.find("json") != std::string::npos || cm.content.find("JSON") != std::string::npos) {
      mentions_json = true;
    }
    out->messages.push_back(std::move(cm));
  }
  if (out->gen.json_object && !mentions_json) {
    // DeepSeek's rule: JSON mode needs the word "json" in the prompt (the output is constrained to
    // JSON, but the model should still be asked for it).
    return invalid_request("response_format json_object requires the word 'json' in the messages", "response_format");
  }
  if (auto t = j.find("thinking"); t != j.end() && !t->is_null()) {
    if (!t->is_object()) return wrong_type("thinking", "an object", *t);
    auto ty = t->find("type");
    if (ty == t->end() || !ty->is_string() ||
        (ty->get<std::string>() != "enabled" && ty->get<std::string>() != "disabled")) {
      return invalid_request("'thinking.type' must be 'enabled' or 'disabled'", "thinking");
    }
    out->thinking = ty->get<std::string>() == "enabled";
  }
  if (auto k = j.find("chat_template_kwargs"); k != j.end() && !k->is_null()) {
    if (!k->is_object()) return wrong_type("chat_template_kwargs", "an object", *k);
    for (const char* key : {"thinking", "enable_thinking"}) {
      bool v = false;
      if (auto f = k->find(key); f != k->end() && !f->is_null()) {
        BALEEN_API_TRY(get_bool(*k, key, &v));
        out->thinking = v;
      }
    }
  }
  if (auto t = j.find("tools"); t != j.end() && !t->is_null() && !(t->is_array() && t->empty())) {
    auto tc = j.find("tool_choice");
    if (!(tc != j.end() && tc->is_string() && tc->get<std::string>() == "none")) {
      return ApiError{400, "not_supported_error", "'tools' (function calling) is not supported by this server", "tools",
                      ""};
    }
  }
  return std::nullopt;
}

std::optional<ApiError> parse_completion_request(const json& j, const RequestLimits& lim, CompletionRequest* out) {
  BALEEN_API_TRY(parse_generation(j, lim, /*chat=*/false, &out->gen));
  auto it = j.find("prompt");
  if (it == j.end() || it->is_null()) return invalid_request("'prompt' is required", "prompt");
  if (it->is_string()) {
    out->prompt = it->get<std::string>();
  } else if (it->is_array() && it->size() == 1 && (*it)[0].is_string()) {
    out->prompt = (*it)[0].get<std::string>();
  } else {
    return wrong_type("prompt", "a string (or an array of one string)", *it);
  }
  if (auto s = j.find("suffix"); s != j.end() && !s->is_null()) {
    if (!s->is_string()) return wrong_type("suffix", "a string", *s);
    out->suffix = s->get<std::string>();
  }
  return std::nullopt;
}

}  // namespace baleen::server
