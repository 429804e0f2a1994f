// Scalar reference dequantizers (GGML block formats -> float32): the ground truth that SIMD
// kernels and the GGUF conformance tests compare against. Layouts and formulas follow ggml's
// ggml-common.h / ggml-quants.c (read as a format description; no code taken from it).
// Thread-safe (pure functions). Callers: weight loading, tests, `baleen inspect`.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "tensor/dtype.h"

namespace baleen {

// Dequantizes `n` elements of `type` stored at `src` (n / block_size whole blocks, no alignment
// requirement) into dst[0..n). Errors: kInvalidArgument when n is not a multiple of the type's
// block size, kUnsupported when the type has no reference dequantizer (I8..I64, F64).
Status dequantize_row_ref(GgmlType type, const void* src, float* dst, uint64_t n);

// Bytes occupied by n elements of `type` (n must be a multiple of the block size).
uint64_t ggml_row_bytes(GgmlType type, uint64_t n);

// Per-type kernels: `n` must be a multiple of the block size (asserted: programmer error).
void dequantize_row_f32(const void* src, float* dst, uint64_t n);
void dequantize_row_f16(const void* src, float* dst, uint64_t n);
void dequantize_row_bf16(const void* src, float* dst, uint64_t n);
void dequantize_row_q4_0(const void* src, float* dst, uint64_t n);
void dequantize_row_q4_1(const void* src, float* dst, uint64_t n);
void dequantize_row_q5_0(const void* src, float* dst, uint64_t n);
void dequantize_row_q5_1(const void* src, float* dst, uint64_t n);
void dequantize_row_q8_0(const void* src, float* dst, uint64_t n);
void dequantize_row_q8_1(const void* src, float* dst, uint64_t n);
void dequantize_row_q2_k(const void* src, float* dst, uint64_t n);
void dequantize_row_q3_k(const void* src, float* dst, uint64_t n);
void dequantize_row_q4_k(const void* src, float* dst, uint64_t n);
void dequantize_row_q5_k(const void* src, float* dst, uint64_t n);
void dequantize_row_q6_k(const void* src, float* dst, uint64_t n);
void dequantize_row_q8_k(const void* src, float* dst, uint64_t n);
void dequantize_row_iq4_nl(const void* src, float* dst, uint64_t n);

// The 16 non-linear levels of IQ4_NL (ggml `kvalues_iq4nl`).
extern const int8_t kIq4NlValues[16];

// Unpacks the 6-bit (scale, min) pair `j` (0..7) of a Q4_K / Q5_K 12-byte scales field.
void unpack_k4_scale_min(const uint8_t* scales12, int j, uint8_t* scale, uint8_t* min);
// Unpacks the 16 signed 6-bit scales (already minus 32) of a Q3_K 12-byte scales field.
void unpack_q3_k_scales(const uint8_t* scales12, int8_t out[16]);

}  // namespace baleen
