// Tokenizer::load: picks the loader from the path (GGUF file, tokenizer.json, or an HF folder).
#include <cstring>
#include <filesystem>
#include <fstream>

#include "io/gguf.h"
#include "tokenizer/tokenizer.h"

namespace baleen {
namespace {

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::memcmp(magic, "GGUF", 4) == 0;
}

}  // namespace

Result<std::unique_ptr<Tokenizer>> Tokenizer::load(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    fs::path json = fs::path(path) / "tokenizer.json";
    if (!fs::is_regular_file(json, ec)) {
      return make_error(ErrorCode::kNotFound, "'%s' is a folder without tokenizer.json", path.c_str());
    }
    return from_tokenizer_json(json.string());
  }
  if (!fs::exists(path, ec)) return make_error(ErrorCode::kNotFound, "tokenizer file '%s' not found", path.c_str());
  if (fs::path(path).extension() == ".gguf" || has_gguf_magic(path)) {
    auto gguf = GgufFile::open(path);
    if (!gguf.ok()) return gguf.error();
    return from_gguf(*gguf);
  }
  return from_tokenizer_json(path);
}

}  // namespace baleen
