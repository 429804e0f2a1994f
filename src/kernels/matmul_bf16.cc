#include "kernels/matmul_bf16.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/aligned_vector.h"
#include "core/cpu_features.h"
#include "kernels/x86/gemm_bf16.h"

namespace baleen {
namespace {

std::atomic<bool>& enabled_slot() {
  static std::atomic<bool> slot{[] {
    // Off by default: rounding activations to BF16 moves the logits of BF16 models by ~0.02-0.04
    // against exact math and flipped an MoE routing decision on the FP8 conformance model (whose
    // non-FP8 tensors are BF16). BALEEN_BF16_GEMM=1 opts in (prefill on BF16 weights ~5x faster).
    const char* env = std::getenv("BALEEN_BF16_GEMM");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }()};
  return slot;
}

// Weight rows per panel: the BF16 panel (rows x kp x 2 bytes) should stay in L2 while every token
// block streams past it; at least 32 rows (2 AMX A tiles), at most 128.
int64_t panel_rows(int64_t kp) {
  int64_t r = (256 * 1024) / (kp * 2) / kGemmRowAlign * kGemmRowAlign;
  if (r < kGemmRowAlign) r = kGemmRowAlign;
  if (r > 128) r = 128;
  return r;
}

// Rows [r0, r0 + n) of w as BF16 into wp (row stride kp), rows n .. n_pad - 1 zeroed.
void dequant_panel(const WeightMatrix& w, int64_t r0, int64_t n, int64_t n_pad, int64_t kp, uint16_t* wp) {
  if (!gemm_dequant_rows_bf16_avx512(w, r0, n, kp, wp)) {
    thread_local std::vector<float> row;
    if (static_cast<int64_t>(row.size()) < w.cols) row.resize(static_cast<size_t>(w.cols));
    for (int64_t i = 0; i < n; ++i) {
      weight_row_to_f32(w, r0 + i, row.data());
      gemm_f32_to_bf16_row_avx512(row.data(), w.cols, kp, wp + i * kp);
    }
  }
  if (n_pad > n) std::memset(wp + n * kp, 0, static_cast<size_t>((n_pad - n) * kp) * 2);
}

}  // namespace

bool matmul_bf16_available() {
  return enabled_slot().load(std::memory_order_relaxed) && dispatch_level() == DispatchLevel::kAvx512;
}

bool set_matmul_bf16_enabled(bool enabled) {
  enabled_slot().store(enabled, std::memory_order_relaxed);
  return matmul_bf16_available();
}

void matmul_bf16(const WeightMatrix& w, const float* x, int64_t m, float* y, ThreadPool& pool, int64_t x_stride,
                 int64_t y_stride) {
  if (x_stride == 0) x_stride = w.cols;
  if (y_stride == 0) y_stride = w.rows;
  if (m <= 0 || w.rows <= 0) return;
  const int64_t kp = gemm_round_up(w.cols, kGemmKAlign);
  const bool amx = amx_available();
  // Few tokens on BF16 weights without AMX: weight rows read in place, same bits as the GEMM below.
  if (!amx && m <= kMatmulBf16GemvMaxM && w.format == WeightFormat::kGgml && w.type == GgmlType::kBF16) {
    thread_local std::vector<uint16_t> xb_buf;
    if (static_cast<int64_t>(xb_buf.size()) < m * kp) xb_buf.resize(static_cast<size_t>(m * kp));
    uint16_t* xb = xb_buf.data();
    for (int64_t t = 0; t < m; ++t) gemm_f32_to_bf16_row_avx512(x + t * x_stride, w.cols, kp, xb + t * kp);
    const int64_t n_blocks = (w.rows + 15) / 16;
    pool.parallel_for(n_blocks, 4, [&](int64_t b0, int64_t b1, int) {
      const int64_t r0 = b0 * 16, r1 = b1 * 16 < w.rows ? b1 * 16 : w.rows;
      gemv_bf16_avx512(w.data + static_cast<uint64_t>(r0) * w.row_stride, w.row_stride, r1 - r0, w.cols, kp, xb, m,
                       y + r0, y_stride);
    });
    return;
  }
  const int64_t n_blocks = (m + kGemmTokenBlock - 1) / kGemmTokenBlock;

  // Activations: packed once, shared read-only by all threads.
  thread_local AlignedVector<uint16_t> xp_buf;  // (64-byte aligned rows: AMX tile loads)
  const size_t xp_size = static_cast<size_t>(n_blocks * kGemmTokenBlock * kp);
  if (xp_buf.size() < xp_size) xp_buf.resize(xp_size);
  uint16_t* xp = xp_buf.data();
  pool.parallel_for(n_blocks, 1, [&](int64_t b0, int64_t b1, int) {
    gemm_pack_x_avx512(x, x_stride, m, w.cols, kp, b0 * kGemmTokenBlock, b1 * kGemmTokenBlock, xp);
  });

  const int64_t np = panel_rows(kp);
  const int64_t n_panels = (w.rows + np - 1) / np;
  pool.parallel_for(n_panels, 1, [&](int64_t p0, int64_t p1, int) {
    thread_local AlignedVector<uint16_t> wp_buf;
    if (static_cast<int64_t>(wp_buf.size()) < np * kp) wp_buf.resize(static_cast<size_t>(np * kp));
    uint16_t* wp = wp_buf.data();
    if (amx) gemm_amx_begin();
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t r0 = p * np;
      const int64_t n = w.rows - r0 < np ? w.rows - r0 : np;
      const int64_t n_pad = gemm_round_up(n, kGemmRowAlign);
      dequant_panel(w, r0, n, n_pad, kp, wp);
      if (amx) {
        gemm_panel_amx(wp, n, kp, xp, m, y + r0, y_stride);
      } else {
        gemm_panel_avx512(wp, n, kp, xp, m, y + r0, y_stride);
      }
    }
    if (amx) gemm_amx_end();
  });
}

}  // namespace baleen
