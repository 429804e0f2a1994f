// Scalar reference quantizers (float32 -> GGML block formats) for the GGUF writer (`baleen
// convert`) and for generating test fixtures. These are plain round-to-nearest quantizers with
// simple per-block scale choices (documented per function); they are NOT llama.cpp's
// imatrix / error-search quantizers, so their output is valid but not bit-identical to
// llama-quantize's. Thread-safe (pure functions).
#pragma once

#include <cstdint>

#include "core/status.h"
#include "tensor/dtype.h"

namespace baleen {

// Quantizes n floats into dst, which must hold ggml_row_bytes(type, n) bytes. Supported: F32,
// F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K. Errors: kInvalidArgument when n is
// not a multiple of the block size, kUnsupported for other types.
Status quantize_row_ref(GgmlType type, const float* src, void* dst, uint64_t n);

// Per-type quantizers; n must be a multiple of the block size (asserted).
void quantize_row_q4_0_ref(const float* src, void* dst, uint64_t n);  // d = signed absmax / -8
void quantize_row_q4_1_ref(const float* src, void* dst, uint64_t n);  // d = (max - min) / 15, m = min
void quantize_row_q5_0_ref(const float* src, void* dst, uint64_t n);  // d = signed absmax / -16
void quantize_row_q5_1_ref(const float* src, void* dst, uint64_t n);  // d = (max - min) / 31, m = min
void quantize_row_q8_0_ref(const float* src, void* dst, uint64_t n);  // d = absmax / 127
// K-quants: per sub-block offset min(0, min x) and range, scales and mins rounded UP to the 6-bit
// grid so every value lies inside the representable range (error <= half a step + f16 rounding).
void quantize_row_q4_k_ref(const float* src, void* dst, uint64_t n);
void quantize_row_q5_k_ref(const float* src, void* dst, uint64_t n);
// Q6_K: per 16 elements a symmetric scale (signed absmax / -32), int8 scales relative to
// d = max |scale| / 127, their magnitudes rounded up (error <= one step at the opposite extreme).
void quantize_row_q6_k_ref(const float* src, void* dst, uint64_t n);

}  // namespace baleen
