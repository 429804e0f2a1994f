// Writes the small model `baleen demo` runs on until the trained default model exists: a
// DeepSeek-V3-style `deepseek2` GGUF (MLA with q/kv LoRA, DeepSeekMoE with sigmoid group routing and
// a shared expert, YaRN) with random Q8_0 weights, and a byte-level BPE vocabulary whose merges
// Baleen learns on the spot from a short embedded text. Nothing is downloaded.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace baleen::cli {

struct DemoModelInfo {
  uint64_t n_params = 0;
  size_t n_tensors = 0;
  size_t n_vocab = 0;
  size_t n_merges = 0;
};

// Learns up to `n_merges` byte-level BPE merges from `text` (most frequent adjacent pair first,
// ties broken by the pair's text). Returns merges as "left right" in byte-level notation.
std::vector<std::string> learn_bpe_merges(const std::string& text, size_t n_merges);

Result<DemoModelInfo> write_demo_model(const std::string& path, uint64_t seed);

}  // namespace baleen::cli
