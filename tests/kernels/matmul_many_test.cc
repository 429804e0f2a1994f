// matmul_many (kernels/matmul_many.h) against matmul run job by job: every output is bit-identical
// (memcmp) at every dispatch level, with the integer-activation path on and off, for pools of 1-3
// threads, on a mix of weight types, token counts (row dots and the GEMM), shared and per-head
// inputs with strides, and gathered inputs (x_rows) against matmul of the rows copied out. Outputs
// are written only inside their rows (sentinels around them). matmul itself is held against the
// scalar reference in matmul_dispatch_test / matmul_q8_test.
#include "kernels/matmul_many.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "kernel_test_util.h"
#include "kernels/matmul.h"
#include "kernels/x86/q8_dot.h"

namespace baleen {
namespace {

constexpr float kSentinel = -7777.0f;

class MatmulManyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    set_dispatch_level(DispatchLevel::kAvx512);
    set_matmul_act_q8(true);
  }
};

struct Case {
  GgmlType type;
  int64_t rows, cols;
};

// One job list the way the model builds them: products sharing an input (gate/up, q/kv_a), per-head
// products over a strided input, single-token and multi-token jobs, mixed types.
struct Fixture {
  std::vector<kernel_test::QuantizedWeights> weights;
  std::vector<std::vector<float>> inputs;
  std::vector<MatmulJob> jobs;  // y pointers filled per run
  std::vector<int64_t> y_size;
  std::vector<std::vector<int32_t>> index_lists;  // of the gathering jobs (reserved: pointers stay valid)

  void add_weight(GgmlType type, int64_t rows, int64_t cols) {
    weights.push_back(kernel_test::make_quantized(type, rows, cols, static_cast<uint32_t>(weights.size() * 7 + 1)));
  }
  const float* add_input(int64_t m, int64_t stride, std::mt19937& rng) {
    std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
    inputs.emplace_back(static_cast<size_t>(m * stride));
    for (float& v : inputs.back()) v = uni(rng);
    return inputs.back().data();
  }
};

Fixture make_fixture() {
  Fixture f;
  f.inputs.reserve(32);  // pointers into inputs stay valid
  f.index_lists.reserve(8);
  std::mt19937 rng(42);
  const Case cases[] = {
      {GgmlType::kQ4_K, 160, 512}, {GgmlType::kQ4_K, 160, 512}, {GgmlType::kQ6_K, 96, 512}, {GgmlType::kQ5_0, 64, 256},
      {GgmlType::kQ8_0, 48, 256},  {GgmlType::kQ4_0, 40, 256},  {GgmlType::kQ5_K, 72, 512}, {GgmlType::kF32, 40, 256},
      {GgmlType::kF16, 32, 512},   {GgmlType::kBF16, 24, 512},
  };
  for (const Case& c : cases) f.add_weight(c.type, c.rows, c.cols);
  // Shared inputs: 512 columns with m = 1, 5, 37; 256 columns with m = 2, 19.
  for (int64_t m : {int64_t{1}, int64_t{5}, int64_t{37}}) {
    const float* x = f.add_input(m, 512, rng);
    for (size_t wi : {size_t{0}, size_t{1}, size_t{2}, size_t{6}, size_t{8}, size_t{9}}) {
      f.jobs.push_back(MatmulJob{&f.weights[wi].w, x, m, nullptr, 0, 0});
    }
  }
  for (int64_t m : {int64_t{2}, int64_t{19}}) {
    const float* x = f.add_input(m, 256, rng);
    for (size_t wi : {size_t{3}, size_t{4}, size_t{5}, size_t{7}}) {
      f.jobs.push_back(MatmulJob{&f.weights[wi].w, x, m, nullptr, 0, 0});
    }
  }
  // Per-head products: 3 heads of 256 columns read from one strided input, outputs interleaved.
  for (int64_t m : {int64_t{1}, int64_t{17}}) {
    const int64_t xs = 3 * 256 + 5;
    const float* x = f.add_input(m, xs, rng);
    for (int64_t h = 0; h < 3; ++h) {
      f.jobs.push_back(MatmulJob{&f.weights[3 + static_cast<size_t>(h)].w, x + h * 256, m, nullptr, xs, 0});
    }
  }
  // Gathered inputs (MoE experts): rows picked by index from a strided source, in any order and
  // with repeats, consecutive runs (the row kernels read the source's quantized rows in place) and
  // single rows; GEMM and row-dot sizes; every weight kind, float ones included.
  {
    const int64_t n_src = 40, xs = 512 + 3;
    const float* x = f.add_input(n_src, xs, rng);
    f.index_lists.push_back({39, 0, 7, 7, 21, 3, 38, 12, 30, 1, 2, 5, 8, 13, 34, 17, 25, 9, 11});  // m = 19
    f.index_lists.push_back({6, 2, 31});                                                           // m = 3
    f.index_lists.push_back({10, 11, 12, 13});                                                     // consecutive
    f.index_lists.push_back({27});
    for (size_t li = 0; li < 4; ++li) {
      const std::vector<int32_t>& idx = f.index_lists[li];
      for (size_t wi : {size_t{0}, size_t{1}, size_t{2}, size_t{6}, size_t{8}, size_t{9}}) {
        f.jobs.push_back(
            MatmulJob{&f.weights[wi].w, x, static_cast<int64_t>(idx.size()), nullptr, xs, 0, idx.data(), n_src});
      }
    }
    const float* x256 = f.add_input(n_src, 256, rng);
    f.index_lists.push_back({1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, 37, 39, 0});  // m = 21
    f.index_lists.push_back({4, 5});
    for (size_t li = 4; li < 6; ++li) {
      const std::vector<int32_t>& idx = f.index_lists[li];
      for (size_t wi : {size_t{3}, size_t{4}, size_t{5}, size_t{7}}) {
        f.jobs.push_back(
            MatmulJob{&f.weights[wi].w, x256, static_cast<int64_t>(idx.size()), nullptr, 0, 0, idx.data(), n_src});
      }
    }
  }
  // A job with no tokens is skipped.
  f.jobs.push_back(MatmulJob{&f.weights[0].w, f.inputs[0].data(), 0, nullptr, 0, 0});
  return f;
}

// Output buffer per job: m rows of y_stride = rows + 3 (sentinel padding between rows and after).
std::vector<std::vector<float>> run(Fixture& f, bool many, ThreadPool& pool) {
  std::vector<std::vector<float>> out;
  std::vector<MatmulJob> jobs = f.jobs;
  for (MatmulJob& j : jobs) {
    const int64_t ys = j.w->rows + 3;
    out.emplace_back(static_cast<size_t>(std::max<int64_t>(j.m, 1) * ys + 3), kSentinel);
    j.y = out.back().data();
    j.y_stride = ys;
  }
  if (many) {
    matmul_many(jobs, pool);
  } else {
    for (const MatmulJob& j : jobs) {
      if (j.m <= 0) continue;
      if (j.x_rows == nullptr) {
        matmul(*j.w, j.x, j.m, j.y, pool, j.x_stride, j.y_stride);
        continue;
      }
      // The gather spelled out: the picked rows copied, then matmul.
      const int64_t cols = j.w->cols, xs = j.x_stride != 0 ? j.x_stride : cols;
      std::vector<float> rows(static_cast<size_t>(j.m * cols));
      for (int64_t i = 0; i < j.m; ++i) {
        EXPECT_LT(j.x_rows[i], j.x_src_rows);
        std::copy_n(j.x + j.x_rows[i] * xs, cols, rows.data() + i * cols);
      }
      matmul(*j.w, rows.data(), j.m, j.y, pool, 0, j.y_stride);
    }
  }
  return out;
}

TEST_F(MatmulManyTest, BitIdenticalToMatmulPerJob) {
  Fixture f = make_fixture();
  for (DispatchLevel level : kernel_test::supported_levels()) {
    ASSERT_EQ(set_dispatch_level(level), level);
    for (bool act_q8 : {true, false}) {
      set_matmul_act_q8(act_q8);
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        const auto want = run(f, false, pool);
        const auto got = run(f, true, pool);
        for (size_t j = 0; j < f.jobs.size(); ++j) {
          SCOPED_TRACE(testing::Message()
                       << dispatch_level_name(level) << " act_q8 " << act_q8 << " threads " << threads << " job " << j
                       << " (" << ggml_type_info(f.jobs[j].w->type).name << ", m " << f.jobs[j].m << ")");
          ASSERT_EQ(got[j].size(), want[j].size());
          EXPECT_EQ(std::memcmp(got[j].data(), want[j].data(), got[j].size() * sizeof(float)), 0);
          // Padding untouched (and, for the skipped job, everything).
          const int64_t ys = f.jobs[j].w->rows + 3;
          for (int64_t i = 0; i < std::max<int64_t>(f.jobs[j].m, 1); ++i) {
            for (int64_t r = f.jobs[j].m > 0 ? f.jobs[j].w->rows : 0; r < ys; ++r) {
              ASSERT_EQ(got[j][static_cast<size_t>(i * ys + r)], kSentinel) << "row " << i << " col " << r;
            }
          }
        }
      }
    }
  }
}

// The shares are cut by cost, not job count: one large job among small ones is still split, and
// many tiny jobs with a pool larger than the work still cover every row exactly once.
TEST_F(MatmulManyTest, CoversEveryRowWhateverTheSplit) {
  std::vector<kernel_test::QuantizedWeights> ws;
  ws.push_back(kernel_test::make_quantized(GgmlType::kQ4_K, 1000, 256, 3));
  for (int i = 0; i < 9; ++i) ws.push_back(kernel_test::make_quantized(GgmlType::kQ8_0, 1 + i, 64, 10 + i));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> x(256);
  for (float& v : x) v = uni(rng);
  for (int threads : {1, 2, 3, 4, 7}) {
    ThreadPool pool(threads);
    std::vector<std::vector<float>> want(ws.size()), got(ws.size());
    std::vector<MatmulJob> jobs;
    for (size_t i = 0; i < ws.size(); ++i) {
      want[i].assign(static_cast<size_t>(ws[i].w.rows), kSentinel);
      got[i].assign(static_cast<size_t>(ws[i].w.rows), kSentinel);
      matmul(ws[i].w, x.data(), 1, want[i].data(), pool);
      jobs.push_back(MatmulJob{&ws[i].w, x.data(), 1, got[i].data()});
    }
    matmul_many(jobs, pool);
    for (size_t i = 0; i < ws.size(); ++i) {
      EXPECT_EQ(std::memcmp(got[i].data(), want[i].data(), got[i].size() * sizeof(float)), 0)
          << "threads " << threads << " job " << i;
    }
  }
}

// matmul_many sets the row kernels' next-rows hint (kernels/x86/q8_dot.h) per job on whichever
// thread runs it, and clears it before returning: no hint outlives the call on the caller, so a
// later plain call does not prefetch another call's weights. Checked with the fixture's mix and
// with GEMM-only jobs (m = 32, where no row kernel runs to overwrite a stale hint).
TEST_F(MatmulManyTest, LeavesNoNextRowsHintBehind) {
  Fixture f = make_fixture();
  const kernel_test::QuantizedWeights g = kernel_test::make_quantized(GgmlType::kQ4_K, 64, 256, 5);
  std::vector<float> x(32 * 256, 0.25f), y(32 * 64);
  const MatmulJob gemm_only[] = {MatmulJob{&g.w, x.data(), 32, y.data()}};
  for (int threads : {1, 2}) {
    ThreadPool pool(threads);
    const NextRows stale{g.w.data, 4, static_cast<int64_t>(g.w.row_stride)};
    set_next_rows(stale);
    run(f, true, pool);
    EXPECT_EQ(next_rows().rows, 0) << "threads " << threads;
    EXPECT_EQ(next_rows().data, nullptr) << "threads " << threads;
    set_next_rows(stale);
    matmul_many(gemm_only, pool);
    EXPECT_EQ(next_rows().rows, 0) << "threads " << threads << ", GEMM only";
  }
}

}  // namespace
}  // namespace baleen
