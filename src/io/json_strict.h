// Strict JSON parsing for model files (safetensors headers, index.json, config.json).
// nlohmann-json silently keeps the last of duplicate object keys and reports parse errors by
// throwing; this wrapper rejects duplicate keys anywhere in the document and turns every problem
// into an Error that names it. No exceptions escape.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/status.h"

namespace baleen {

// Parses `text` as one JSON document (trailing whitespace allowed, nothing else). `what` names the
// document in error messages ("safetensors header of 'x'"). Errors (ErrorCode::kCorruptFile): invalid
// UTF-8, syntax errors (with nlohmann's position message), duplicate keys in any object (naming
// the key).
Result<nlohmann::json> parse_json_strict(std::string_view text, const std::string& what);

// Human-readable JSON type of a value for error messages ("string", "array", "integer", ...).
const char* json_type_name(const nlohmann::json& value);

}  // namespace baleen
