#include "io/fp8_weights.h"

#include <cmath>
#include <cstring>

#include "kernels/ref/fp8_dequant.h"
#include "tensor/numeric.h"

namespace baleen {

std::string fp8_scale_name(std::string_view weight_name) { return std::string(weight_name) + "_scale_inv"; }

bool is_fp8_weight(const SafetensorsModel& model, std::string_view weight_name) {
  const SafetensorsTensor* t = model.find(weight_name);
  return t != nullptr && t->dtype == SafetensorsDtype::kF8E4M3;
}

Result<std::vector<float>> dequantize_fp8_weight(const SafetensorsModel& model, std::string_view weight_name,
                                                 const Fp8BlockFormat& format) {
  const std::string name(weight_name);
  const SafetensorsTensor* w = model.find(name);
  if (w == nullptr) return make_error(ErrorCode::kNotFound, "FP8 weight '%s' not found", name.c_str());
  if (w->dtype != SafetensorsDtype::kF8E4M3 || w->shape.size() != 2) {
    return make_error(ErrorCode::kCorruptFile, "FP8 weight '%s' must be a 2-D F8_E4M3 tensor, got %s", name.c_str(),
                      w->describe().c_str());
  }
  if (format.block_rows <= 0 || format.block_cols <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "FP8 block size %lldx%lld",
                      static_cast<long long>(format.block_rows), static_cast<long long>(format.block_cols));
  }
  const std::string sname = fp8_scale_name(name);
  const SafetensorsTensor* s = model.find(sname);
  if (s == nullptr) {
    return make_error(ErrorCode::kNotFound, "FP8 weight '%s' has no scale tensor '%s'", name.c_str(), sname.c_str());
  }
  const int64_t rows = w->shape[0];
  const int64_t cols = w->shape[1];
  const int64_t srows = (rows + format.block_rows - 1) / format.block_rows;
  const int64_t scols = (cols + format.block_cols - 1) / format.block_cols;
  if (s->dtype != SafetensorsDtype::kF32 || s->shape.size() != 2 || s->shape[0] != srows || s->shape[1] != scols) {
    return make_error(ErrorCode::kCorruptFile, "scale '%s' must be F32 [%lld, %lld] for weight [%lld, %lld], got %s",
                      sname.c_str(), static_cast<long long>(srows), static_cast<long long>(scols),
                      static_cast<long long>(rows), static_cast<long long>(cols), s->describe().c_str());
  }
  std::vector<float> scale(static_cast<size_t>(srows * scols));
  if (!scale.empty()) std::memcpy(scale.data(), s->data, scale.size() * sizeof(float));
  for (size_t i = 0; i < scale.size(); ++i) {
    const float v = scale[i];
    if (!std::isfinite(v) || v < 0.0f) {
      return make_error(ErrorCode::kCorruptFile, "scale '%s' block %zu is %g (must be finite and >= 0)", sname.c_str(),
                        i, static_cast<double>(v));
    }
    if (format.ue8m0_scales) {
      // A power of two in fp32: zero mantissa and a normal exponent.
      const uint32_t bits = bits_from_f32(v);
      const uint32_t exponent = (bits >> 23) & 0xFF;
      if ((bits & 0x7FFFFF) != 0 || exponent == 0) {
        return make_error(ErrorCode::kCorruptFile, "scale '%s' block %zu is %g, not a power of two (scale_fmt ue8m0)",
                          sname.c_str(), i, static_cast<double>(v));
      }
    }
  }
  for (uint64_t i = 0; i < w->n_bytes; ++i) {
    if ((w->data[i] & 0x7F) == 0x7F) {
      return make_error(ErrorCode::kCorruptFile, "FP8 weight '%s' holds a NaN code at element %llu", name.c_str(),
                        static_cast<unsigned long long>(i));
    }
  }
  std::vector<float> out(static_cast<size_t>(rows * cols));
  fp8_block_dequant_ref(w->data, scale.data(), rows, cols, format.block_rows, format.block_cols, out.data());
  return out;
}

Result<std::vector<float>> load_weight_f32(const SafetensorsModel& model, std::string_view name,
                                           const Fp8BlockFormat& format) {
  const SafetensorsTensor* t = model.find(name);
  if (t == nullptr) return make_error(ErrorCode::kNotFound, "tensor '%s' not found", std::string(name).c_str());
  if (t->dtype == SafetensorsDtype::kF8E4M3) return dequantize_fp8_weight(model, name, format);
  return to_f32(*t);
}

}  // namespace baleen
