// DeepSeek FP8 checkpoints in safetensors: looks up `<name>_scale_inv` beside an F8_E4M3 weight,
// validates it (shape exactly [ceil(out/128), ceil(in/128)], finite non-negative values, powers of two
// when the config says scale_fmt ue8m0) and dequantizes to float32 with the reference kernel
// (kernels/ref/fp8_dequant.h). Used by HF-folder loading and convert.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "io/safetensors.h"

namespace baleen {

struct Fp8BlockFormat {
  int64_t block_rows = 128;   // quantization_config.weight_block_size[0]
  int64_t block_cols = 128;   // quantization_config.weight_block_size[1]
  bool ue8m0_scales = false;  // quantization_config.scale_fmt == "ue8m0": every scale is 2^k
};

// Name of the scale tensor of a weight: "<name>_scale_inv".
std::string fp8_scale_name(std::string_view weight_name);

// True when `weight_name` is F8_E4M3 in `model` (whether or not its scale is valid).
bool is_fp8_weight(const SafetensorsModel& model, std::string_view weight_name);

// Dequantized float32 [out, in] weight of the F8_E4M3 tensor `weight_name`. Errors: kNotFound (weight
// or its _scale_inv missing), kCorruptFile (weight not 2-D F8_E4M3, scale not F32 of the exact block
// shape, a non-finite or negative scale, a non-power-of-two scale with ue8m0, NaN codes in the weight).
Result<std::vector<float>> dequantize_fp8_weight(const SafetensorsModel& model, std::string_view weight_name,
                                                 const Fp8BlockFormat& format = {});

// Any weight as float32: F8_E4M3 via dequantize_fp8_weight, everything else via to_f32.
Result<std::vector<float>> load_weight_f32(const SafetensorsModel& model, std::string_view name,
                                           const Fp8BlockFormat& format = {});

}  // namespace baleen
