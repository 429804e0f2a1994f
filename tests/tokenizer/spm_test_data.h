// Test-only readers for the SPM tests: llama2.c's tokenizer.bin format (tok512.bin, an independent
// source of stories260K's vocabulary), the llama.cpp .inp/.out vector files and small file helpers.
// Deliberately independent of the code under test.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/spm.h"

namespace baleen::spm_test {

inline std::optional<std::string> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  size_t pos = 0;
  while ((pos = s.find(from, pos)) != std::string::npos) {
    s.replace(pos, from.size(), to);
    pos += to.size();
  }
  return s;
}

// llama2.c tokenizer.bin: int32 max_token_length, then per token float score, int32 len, bytes.
// llama2.c's export writes spaces instead of U+2581 and "\n<s>\n" / "\n</s>\n" for BOS/EOS; this
// maps them back to SentencePiece pieces. Types: 0 unknown, 1-2 control, <0xNN> byte, else normal.
inline std::optional<SpmVocab> read_llama2c_tokenizer(const std::string& path, size_t n_vocab) {
  auto data = slurp(path);
  if (!data || data->size() < 4) return std::nullopt;
  SpmVocab v;
  size_t off = 4;
  for (size_t i = 0; i < n_vocab; ++i) {
    float score = 0;
    int32_t len = 0;
    if (off + 8 > data->size()) return std::nullopt;
    std::memcpy(&score, data->data() + off, 4);
    std::memcpy(&len, data->data() + off + 4, 4);
    off += 8;
    if (len < 0 || off + static_cast<size_t>(len) > data->size()) return std::nullopt;
    std::string text = data->substr(off, len);
    off += len;
    int32_t type = 1;
    if (i == 0) {
      type = 2;
    } else if (i == 1 || i == 2) {
      type = 3;
      text = i == 1 ? "<s>" : "</s>";
    } else if (text.size() == 6 && text.rfind("<0x", 0) == 0 && text[5] == '>') {
      type = 6;
    } else {
      text = replace_all(text, " ", "\xE2\x96\x81");
    }
    v.tokens.push_back(text);
    v.scores.push_back(score);
    v.types.push_back(type);
  }
  if (off != data->size()) return std::nullopt;
  v.special = {.bos = 1, .eos = 2, .pad = -1, .unk = 0, .add_bos = true, .add_eos = false};
  return v;
}

// llama.cpp test-tokenizer-0 vectors: .inp split on "\n__ggml_vocab_test__\n" (no trailing empty
// piece), .out one line per string of " %d" ids.
struct VocabTestCase {
  std::string text;
  std::vector<int32_t> ids;
};

inline std::optional<std::vector<VocabTestCase>> read_vocab_tests(const std::string& inp_path,
                                                                  const std::string& out_path) {
  auto inp = slurp(inp_path);
  auto out = slurp(out_path);
  if (!inp || !out) return std::nullopt;
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t pos = 0; pos < inp->size();) {
    size_t next = inp->find(sep, pos);
    if (next == std::string::npos) {
      texts.push_back(inp->substr(pos));
      break;
    }
    texts.push_back(inp->substr(pos, next - pos));
    pos = next + sep.size();
  }
  std::vector<std::vector<int32_t>> ids;
  std::istringstream lines(*out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream nums(line);
    std::vector<int32_t> row;
    for (int32_t x; nums >> x;) row.push_back(x);
    ids.push_back(row);
  }
  if (texts.size() != ids.size()) return std::nullopt;
  std::vector<VocabTestCase> cases;
  for (size_t i = 0; i < texts.size(); ++i) cases.push_back({texts[i], ids[i]});
  return cases;
}

}  // namespace baleen::spm_test
