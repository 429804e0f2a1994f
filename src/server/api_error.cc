#include "server/api_error.h"

namespace baleen::server {

nlohmann::json ApiError::to_json() const {
  nlohmann::json e;
  e["message"] = message;
  e["type"] = type;
  e["param"] = param.empty() ? nlohmann::json(nullptr) : nlohmann::json(param);
  e["code"] = code.empty() ? nlohmann::json(nullptr) : nlohmann::json(code);
  return nlohmann::json{{"error", std::move(e)}};
}

ApiError api_error_from(const Error& e) {
  switch (e.code()) {
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kOutOfRange:
      return ApiError{400, "invalid_request_error", e.message(), "", ""};
    case ErrorCode::kUnsupported:
      return ApiError{400, "not_supported_error", e.message(), "", ""};
    case ErrorCode::kUnavailable:
      return ApiError{503, "unavailable_error", e.message(), "", ""};
    default:
      return ApiError{500, "server_error", e.message(), "", ""};
  }
}

}  // namespace baleen::server
