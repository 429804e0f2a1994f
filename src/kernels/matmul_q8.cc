#include "kernels/matmul_q8.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/aligned_vector.h"
#include "core/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/ref/q8_act.h"
#include "kernels/x86/q8_dot.h"
#include "kernels/x86/q8_gemm.h"

namespace baleen {
namespace {

// -1: not read yet; 0 / 1 off / on.
std::atomic<int> g_act_q8{-1};

int read_env() {
  const char* v = std::getenv("BALEEN_ACT_Q8");
  return v != nullptr && std::strcmp(v, "0") == 0 ? 0 : 1;
}

// Per calling thread, grown as needed (no allocation once large enough).
uint8_t* act_buffer(int64_t bytes) {
  thread_local std::vector<uint8_t> buf;
  if (static_cast<int64_t>(buf.size()) < bytes) buf.resize(static_cast<size_t>(bytes));
  return buf.data();
}

}  // namespace

bool matmul_act_q8_enabled() {
  int v = g_act_q8.load(std::memory_order_relaxed);
  if (v < 0) {
    int expected = -1;
    g_act_q8.compare_exchange_strong(expected, read_env());
    v = g_act_q8.load(std::memory_order_relaxed);
  }
  return v != 0;
}

bool set_matmul_act_q8(bool on) {
  const bool was = matmul_act_q8_enabled();
  g_act_q8.store(on ? 1 : 0, std::memory_order_relaxed);
  return was;
}

bool q8_gemm_takes(GgmlType type, int64_t m) {
  const bool k256 = act_q8_kind(type) == ActQ8Kind::kQ8_256;
  // (Q6_K at m = 8 on the split kernels: 163-178 GFLOP/s in the GEMM, 215-237 in the rows, 2 threads
  // from DRAM, matmul_bench 16384 x 2048.)
  const bool split = avx512_variant() == Avx512Variant::kSplit;
  const int64_t min_m = split ? (k256 ? 9 : 5) : (k256 ? 6 : 4);
  return m >= min_m && clamp_dispatch_level(dispatch_level(), cpu_features()) == DispatchLevel::kAvx512;
}

bool matmul_q8_applies(const WeightMatrix& w, int64_t m) {
  if (w.format != WeightFormat::kGgml || m < 1) return false;
  const ActQ8Kind kind = act_q8_kind(w.type);
  return kind != ActQ8Kind::kNone && w.cols > 0 && w.cols % act_q8_block_elems(kind) == 0;
}

void matmul_q8(const WeightMatrix& w, const float* x, int64_t m, float* y, ThreadPool& pool, int64_t x_stride,
               int64_t y_stride) {
  const ActQ8Kind kind = act_q8_kind(w.type);
  const int64_t row_bytes = act_q8_row_bytes(kind, w.cols);
  uint8_t* act = act_buffer(row_bytes * m);
  const Q8Kernels k = find_q8_kernels(w.type, dispatch_level());
  constexpr int64_t kMinRows = 16;
  if (k.rows == nullptr) {
    for (int64_t i = 0; i < m; ++i) quantize_act_q8_ref(kind, x + i * x_stride, w.cols, act + i * row_bytes);
    pool.parallel_for(w.rows, kMinRows, [&](int64_t r0, int64_t r1, int) {
      for (int64_t r = r0; r < r1; ++r) {
        const uint8_t* row = w.data + static_cast<uint64_t>(r) * w.row_stride;
        for (int64_t i = 0; i < m; ++i) y[i * y_stride + r] = dot_q8_ref(w.type, row, act + i * row_bytes, w.cols);
      }
    });
    return;
  }
  if (q8_gemm_takes(w.type, m)) {
    // Integer GEMM: each 16-token group is quantized and packed by one task, then rows split.
    thread_local AlignedVector<uint8_t> panel_buf;  // (64-byte aligned: AMX tile loads)
    const int64_t panel_bytes = q8_gemm_panel_bytes(kind, m, w.cols);
    if (static_cast<int64_t>(panel_buf.size()) < panel_bytes) panel_buf.resize(static_cast<size_t>(panel_bytes));
    uint8_t* panel = panel_buf.data();
    pool.parallel_for(q8_gemm_groups(m), 1, [&](int64_t g0, int64_t g1, int) {
      for (int64_t i = g0 * 16; i < m && i < g1 * 16; ++i)
        k.quantize(kind, x + i * x_stride, w.cols, act + i * row_bytes);
      q8_gemm_pack_avx512(kind, act, row_bytes, m, w.cols, g0, g1, panel);
    });
    pool.parallel_for(w.rows, kMinRows,
                      [&](int64_t r0, int64_t r1, int) { q8_gemm_rows_avx512(w, r0, r1, panel, m, y, y_stride); });
    return;
  }
  for (int64_t i = 0; i < m; ++i) k.quantize(kind, x + i * x_stride, w.cols, act + i * row_bytes);
  pool.parallel_for(w.rows, kMinRows, [&](int64_t r0, int64_t r1, int) {
    // The next chunk nobody has claimed yet: probably this thread's next rows (q8_dot.h NextRows).
    const int64_t u = pool.unclaimed_begin();
    set_next_rows(u < 0 ? NextRows{}
                        : NextRows{w.data + static_cast<uint64_t>(u) * w.row_stride, w.rows - u,
                                   static_cast<int64_t>(w.row_stride)});
    k.rows(w, r0, r1, act, row_bytes, m, y, y_stride);
    set_next_rows(NextRows{});
  });
}

void matmul_q8_ref(const WeightMatrix& w, const float* x, int64_t m, float* y, int64_t x_stride, int64_t y_stride) {
  if (x_stride == 0) x_stride = w.cols;
  if (y_stride == 0) y_stride = w.rows;
  const ActQ8Kind kind = act_q8_kind(w.type);
  const int64_t row_bytes = act_q8_row_bytes(kind, w.cols);
  std::vector<uint8_t> act(static_cast<size_t>(row_bytes * m));
  for (int64_t i = 0; i < m; ++i) quantize_act_q8_ref(kind, x + i * x_stride, w.cols, act.data() + i * row_bytes);
  for (int64_t r = 0; r < w.rows; ++r) {
    const uint8_t* row = w.data + static_cast<uint64_t>(r) * w.row_stride;
    for (int64_t i = 0; i < m; ++i) y[i * y_stride + r] = dot_q8_ref(w.type, row, act.data() + i * row_bytes, w.cols);
  }
}

}  // namespace baleen
