// Test-only readers for the SPM tests: llama2.c's tokenizer.bin format (tok512.bin), a minimal
// GGUF metadata reader for the vocab keys (STOPGAP until the GGUF reader on branch `gguf` lands in
// main; then read the files through GgufFile and make_spm_tokenizer(const GgufFile&)), the
// llama.cpp .inp/.out vector files and small file helpers. Deliberately independent of the code
// under test.
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

// Minimal GGUF v2/v3 metadata reader: enough for tokenizer.ggml.* (string/number arrays, integer
// and bool scalars). Tensors are not read.
struct MiniGguf {
  std::map<std::string, std::vector<std::string>> string_arrays;
  std::map<std::string, std::vector<double>> number_arrays;
  std::map<std::string, int64_t> ints;  // integer and bool scalars
  std::map<std::string, std::string> strings;
};

inline std::optional<MiniGguf> read_mini_gguf(const std::string& path) {
  auto data = slurp(path);
  if (!data) return std::nullopt;
  const std::string& d = *data;
  size_t off = 0;
  bool ok = true;
  auto take = [&](void* dst, size_t n) {
    if (!ok || off + n > d.size()) {
      ok = false;
      std::memset(dst, 0, n);
      return;
    }
    std::memcpy(dst, d.data() + off, n);
    off += n;
  };
  auto u32 = [&] { uint32_t v; take(&v, 4); return v; };
  auto u64 = [&] { uint64_t v; take(&v, 8); return v; };
  auto str = [&] {
    uint64_t n = u64();
    if (!ok || n > d.size() - off) { ok = false; return std::string(); }
    std::string s = d.substr(off, n);
    off += n;
    return s;
  };
  auto scalar = [&](uint32_t t, double* num, int64_t* i) -> bool {
    static const size_t kSize[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (t > 12 || t == 8 || t == 9) return false;
    uint8_t buf[8] = {};
    take(buf, kSize[t]);
    switch (t) {
      case 0: *i = buf[0]; break;
      case 1: *i = static_cast<int8_t>(buf[0]); break;
      case 2: { uint16_t v; std::memcpy(&v, buf, 2); *i = v; break; }
      case 3: { int16_t v; std::memcpy(&v, buf, 2); *i = v; break; }
      case 4: { uint32_t v; std::memcpy(&v, buf, 4); *i = v; break; }
      case 5: { int32_t v; std::memcpy(&v, buf, 4); *i = v; break; }
      case 6: { float v; std::memcpy(&v, buf, 4); *num = v; *i = static_cast<int64_t>(v); return true; }
      case 7: *i = buf[0] != 0; break;
      case 10: { uint64_t v; std::memcpy(&v, buf, 8); *i = static_cast<int64_t>(v); break; }
      case 11: { int64_t v; std::memcpy(&v, buf, 8); *i = v; break; }
      case 12: { double v; std::memcpy(&v, buf, 8); *num = v; *i = static_cast<int64_t>(v); return true; }
    }
    *num = static_cast<double>(*i);
    return true;
  };
  char magic[4];
  take(magic, 4);
  if (!ok || std::memcmp(magic, "GGUF", 4) != 0) return std::nullopt;
  uint32_t version = u32();
  if (version < 2) return std::nullopt;
  u64();  // tensor count
  uint64_t n_kv = u64();
  MiniGguf g;
  for (uint64_t k = 0; k < n_kv && ok; ++k) {
    std::string key = str();
    uint32_t type = u32();
    if (type == 8) {
      g.strings[key] = str();
    } else if (type == 9) {
      uint32_t elem = u32();
      uint64_t n = u64();
      if (n > d.size()) return std::nullopt;
      for (uint64_t j = 0; j < n && ok; ++j) {
        if (elem == 8) {
          g.string_arrays[key].push_back(str());
        } else {
          double num = 0;
          int64_t i = 0;
          if (!scalar(elem, &num, &i)) return std::nullopt;
          g.number_arrays[key].push_back(num);
        }
      }
    } else {
      double num = 0;
      int64_t i = 0;
      if (!scalar(type, &num, &i)) return std::nullopt;
      g.ints[key] = i;
    }
  }
  if (!ok) return std::nullopt;
  return g;
}

// SpmVocab from a MiniGguf of a well-formed llama vocab (llama.cpp's defaults for absent keys).
inline std::optional<SpmVocab> spm_vocab_from_mini_gguf(const MiniGguf& g) {
  auto tokens = g.string_arrays.find("tokenizer.ggml.tokens");
  if (tokens == g.string_arrays.end()) return std::nullopt;
  SpmVocab v;
  v.tokens = tokens->second;
  if (auto it = g.number_arrays.find("tokenizer.ggml.scores"); it != g.number_arrays.end()) {
    for (double s : it->second) v.scores.push_back(static_cast<float>(s));
  }
  if (auto it = g.number_arrays.find("tokenizer.ggml.token_type"); it != g.number_arrays.end()) {
    for (double t : it->second) v.types.push_back(static_cast<int32_t>(t));
  }
  auto get = [&](const char* key, int64_t fallback) {
    auto it = g.ints.find(key);
    return it == g.ints.end() ? fallback : it->second;
  };
  auto id = [&](const char* key, int64_t fallback) -> TokenId {
    int64_t x = get(key, fallback);
    return x == 0xFFFFFFFF ? -1 : static_cast<TokenId>(x);
  };
  v.special.bos = id("tokenizer.ggml.bos_token_id", 1);
  v.special.eos = id("tokenizer.ggml.eos_token_id", 2);
  v.special.unk = id("tokenizer.ggml.unknown_token_id", 0);
  v.special.pad = id("tokenizer.ggml.padding_token_id", -1);
  v.special.add_bos = get("tokenizer.ggml.add_bos_token", 1) != 0;
  v.special.add_eos = get("tokenizer.ggml.add_eos_token", 0) != 0;
  v.add_space_prefix = get("tokenizer.ggml.add_space_prefix", 1) != 0;
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
