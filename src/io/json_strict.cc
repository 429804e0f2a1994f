#include "io/json_strict.h"

#include <set>
#include <vector>

#include "core/utf8.h"

namespace baleen {
namespace {

using json = nlohmann::json;

// SAX pass that only looks for duplicate keys and remembers the first syntax error.
class DuplicateKeyFinder {
 public:
  bool null() { return true; }
  bool boolean(bool) { return true; }
  bool number_integer(json::number_integer_t) { return true; }
  bool number_unsigned(json::number_unsigned_t) { return true; }
  bool number_float(json::number_float_t, const json::string_t&) { return true; }
  bool string(json::string_t&) { return true; }
  bool binary(json::binary_t&) { return true; }
  bool start_object(std::size_t) {
    keys_.emplace_back();
    return true;
  }
  bool key(json::string_t& k) {
    if (!keys_.back().insert(k).second) {
      duplicate_ = k;
      has_duplicate_ = true;
      return false;  // stop parsing
    }
    return true;
  }
  bool end_object() {
    keys_.pop_back();
    return true;
  }
  bool start_array(std::size_t) { return true; }
  bool end_array() { return true; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    error_ = ex.what();
    return false;
  }

  bool has_duplicate_ = false;
  std::string duplicate_;
  std::string error_;

 private:
  std::vector<std::set<std::string>> keys_;
};

// Keeps a key printable in an error message (keys are valid UTF-8 here, but may be long).
std::string shorten(const std::string& s) { return s.size() <= 200 ? s : s.substr(0, 200) + "..."; }

}  // namespace

Result<json> parse_json_strict(std::string_view text, const std::string& what) {
  if (!utf8::is_valid(text)) return make_error(ErrorCode::kCorruptFile, "%s is not valid UTF-8", what.c_str());
  DuplicateKeyFinder finder;
  bool ok = json::sax_parse(text, &finder, json::input_format_t::json, /*strict=*/true);
  if (finder.has_duplicate_) {
    return make_error(ErrorCode::kCorruptFile, "%s has a duplicate key '%s'", what.c_str(),
                      shorten(finder.duplicate_).c_str());
  }
  if (!ok) {
    return make_error(ErrorCode::kCorruptFile, "%s is not valid JSON: %s", what.c_str(),
                      finder.error_.empty() ? "parse failed" : finder.error_.c_str());
  }
  json value = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return make_error(ErrorCode::kCorruptFile, "%s is not valid JSON", what.c_str());
  return value;
}

const char* json_type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
      return "integer";
    case json::value_t::number_unsigned:
      return "integer";
    case json::value_t::number_float:
      return "float";
    case json::value_t::binary:
      return "binary";
    case json::value_t::discarded:
      return "discarded";
  }
  return "unknown";
}

}  // namespace baleen
