// Several independent matrix products in one pass over the thread pool: the experts of an MoE
// layer (gate and up of every routed and shared expert, then every down), the per-head W_UK / W_UV
// products of MLA, q and kv_a of one layer. A decoded token otherwise runs ~60 small products per
// layer, each a pool round trip whose two halves finish at different times; here the activations of
// every job are quantized first (once per distinct input), then the rows of all jobs are split
// between the threads by estimated cost, so each thread streams its share of the weights without
// waiting in between.
//
// Results: each job's y is bit-identical to matmul(job) (the same kernel runs on every row with the
// same quantized activations; only which thread runs which rows changes), so the batch invariance of
// kernels/matmul.h holds.
#pragma once

#include <cstdint>
#include <span>

#include "core/thread_pool.h"
#include "tensor/weight.h"

namespace baleen {

struct MatmulJob {
  const WeightMatrix* w = nullptr;
  const float* x = nullptr;  // [m, w->cols], rows x_stride apart (0 = w->cols)
  int64_t m = 0;
  float* y = nullptr;  // [m, w->rows], rows y_stride apart (0 = w->rows); overwritten
  int64_t x_stride = 0;
  int64_t y_stride = 0;
  // Optional gather: input row i is x's row x_rows[i] (0 <= x_rows[i] < x_src_rows), x holding
  // x_src_rows rows. Jobs that gather from the same x quantize its rows once between them (an MoE
  // step's experts each take some of the step's tokens) instead of each copying and quantizing its
  // own; the products are the same bits as with the rows copied out.
  const int32_t* x_rows = nullptr;
  int64_t x_src_rows = 0;
};

// y_j = x_j . W_j^T for every job (m = 0 jobs are skipped). Outputs must not overlap each other or
// any input. Steady-state calls allocate nothing (scratch is per calling thread and only grows).
void matmul_many(std::span<const MatmulJob> jobs, ThreadPool& pool);

}  // namespace baleen
