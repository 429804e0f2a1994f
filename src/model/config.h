// Building a ModelConfig from the two places a model describes itself: GGUF metadata
// (llama.cpp's `<arch>.*` keys) and a parsed Hugging Face config.json (io/hf_config.h). Also the
// derived RoPE tables and attention scale every forward pass needs. Used by model.cc when loading.
#pragma once

#include <vector>

#include "io/gguf.h"
#include "io/hf_config.h"
#include "kernels/ref/ops.h"
#include "model/model.h"

namespace baleen {

// Errors: kUnsupported naming an unknown general.architecture or a legacy (non-MLA) deepseek2
// file; kNotFound / kCorruptFile naming a missing or mistyped required key.
Result<ModelConfig> config_from_gguf(const GgufFile& gguf);
// Infallible: parse_hf_config already validated the fields.
ModelConfig config_from_hf(const HfModelConfig& hf);

// What attention needs beyond the config: per-pair inverse frequencies (length rope_dims / 2),
// the pair layout, and the softmax scale.
struct RopeSetup {
  int64_t rope_dims = 0;        // qk_rope_head_dim (MLA) or head_dim
  std::vector<float> inv_freq;  // [rope_dims / 2]
  RopeStyle style = RopeStyle::kAdjacentPairs;
  float attn_scale = 1.0f;  // softmax scale on q.k
};
// freq_factors: llama.cpp's rope_freqs.weight (inv_freq[i] /= factor[i]); empty when absent.
RopeSetup make_rope_setup(const ModelConfig& cfg, RopeStyle style, const std::vector<float>& freq_factors);

}  // namespace baleen
