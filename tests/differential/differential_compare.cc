// Differential tokenizer test: compares Baleen's encoder with Hugging Face's (ids produced by
// hf_reference.js with the npm `tokenizers` package) on every line of a JSONL file, and checks that
// decoding Baleen's ids gives the text back (or HF's decode of it, for normalizing tokenizers). Exit 0 only when every
// string matches exactly. Usage: differential_compare TOKENIZER_JSON HF_JSONL NAME
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tokenizer/tokenizer.h"

namespace {

std::string ids_to_string(const std::vector<int32_t>& ids, size_t max_n = 40) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size() && i < max_n; ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  if (ids.size() > max_n) s += ",...";
  return s + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s TOKENIZER_JSON HF_JSONL NAME\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[2]);
  if (!in) {
    // The fixture was skipped (no node package or no conformance data) or failed; ctest reports 77
    // as skipped, and a failed fixture separately as a failure.
    std::printf("SKIPPED: %s not found (the hf_reference fixture did not produce it)\n", argv[2]);
    return 77;
  }
  auto tok = baleen::Tokenizer::load(argv[1]);
  if (!tok.ok()) {
    std::fprintf(stderr, "cannot load tokenizer: %s\n", tok.error().to_string().c_str());
    return 1;
  }
  int total = 0, passed = 0, decode_ok = 0, shown = 0;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line);
    std::string text = j.at("text").get<std::string>();
    std::vector<int32_t> want = j.at("ids").get<std::vector<int32_t>>();
    // HF's encode(add_special_tokens=False) matches added-token strings in the text.
    std::vector<int32_t> got = (*tok)->encode(text, /*add_bos=*/false, /*parse_special=*/true);
    ++total;
    if (got == want) {
      ++passed;
    } else if (shown++ < 10) {
      std::printf("MISMATCH #%d (%s) text=%s\n  hf     =%s\n  baleen =%s\n", j.at("i").get<int>(),
                  j.at("kind").get<std::string>().c_str(), nlohmann::json(text).dump().c_str(),
                  ids_to_string(want).c_str(), ids_to_string(got).c_str());
    }
    // Decoding must give the text back, or what HF's decode gives (NFC tokenizers return the
    // normalized text).
    std::string back = (*tok)->decode(got, /*skip_special=*/false);
    if (back == text || (j.contains("decoded") && back == j["decoded"].get<std::string>())) ++decode_ok;
  }
  std::printf("CONFORMANCE: differential %s vs HF tokenizers: %d/%d passed\n", argv[3], passed, total);
  std::printf("CONFORMANCE: differential %s decode round trip: %d/%d passed\n", argv[3], decode_ok, total);
  return (total > 0 && passed == total && decode_ok == total) ? 0 : 1;
}
