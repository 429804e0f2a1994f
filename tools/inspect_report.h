// The text reports behind `baleen inspect`, one function per container format. Each prints to
// `out` and returns the parser's error unchanged (nothing is printed for a file that fails to
// parse), so the caller can print it as one line.
#pragma once

#include <cstdio>
#include <string>

#include "core/status.h"

namespace baleen {
struct ModelConfig;
}

namespace baleen::cli {

struct InspectOptions {
  bool all_metadata = false;  // GGUF: print every key, not just the architecture's and general.*
  bool tensors = true;        // print the tensor list
  int64_t ctx = 0;            // > 0: also report the KV-cache size for this many tokens
};

Status inspect_gguf(const std::string& path, const InspectOptions& opts, FILE* out);
Status inspect_hf_folder(const std::string& dir, const InspectOptions& opts, FILE* out);

// "1.69 M", "671 B": parameter counts the way model cards write them.
std::string human_count(uint64_t n);
// "6.76 MB"
std::string human_bytes(uint64_t n);

// "kv cache:" lines: bytes per token and for opts.ctx tokens, at BF16 and F32.
void print_kv_cache(const ModelConfig& config, int64_t ctx, FILE* out);

}  // namespace baleen::cli
