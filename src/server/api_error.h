// OpenAI-style error objects ({"error": {"message", "type", "param", "code"}}) with their HTTP
// status, shared by request validation and the HTTP handlers. Messages never quote user text.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace baleen::server {

struct ApiError {
  int status = 400;
  std::string type = "invalid_request_error";
  std::string message;
  std::string param;  // "" -> null
  std::string code;   // "" -> null

  nlohmann::json to_json() const;
};

inline ApiError invalid_request(std::string message, std::string param = {}, std::string code = {}) {
  return ApiError{400, "invalid_request_error", std::move(message), std::move(param), std::move(code)};
}
// Maps an engine/library error to a status: kInvalidArgument/kOutOfRange 400, kUnsupported 400
// (not_supported_error), kUnavailable 503, anything else 500.
ApiError api_error_from(const Error& e);

}  // namespace baleen::server
