#include "kernels/matmul_many.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/aligned_vector.h"
#include "core/cpu_features.h"
#include "kernels/matmul.h"
#include "kernels/matmul_bf16.h"
#include "kernels/matmul_q8.h"
#include "kernels/ref/q8_act.h"
#include "kernels/x86/q8_dot.h"
#include "kernels/x86/q8_gemm.h"
#include "kernels/x86/row_dot.h"

namespace baleen {
namespace {

// How each job runs. kSeparate: through matmul on its own (BF16 GEMM, the scalar level, formats
// without a row kernel); the others are the row loops matmul itself would run, pooled here.
enum class Path : uint8_t { kSeparate, kQ8Rows, kQ8Gemm, kRowDot };

struct JobPlan {
  Path path = Path::kSeparate;
  int32_t act = -1;  // kQ8*: index into acts
  Q8RowsFn q8_rows = nullptr;
  RowDotFn row_dot = nullptr;
  const float* x = nullptr;  // kRowDot / kSeparate: the input rows (a gathered copy for x_rows jobs)
  int64_t x_stride = 0, y_stride = 0;
  double row_cost = 0.0;  // estimated ns per weight row (only relative values matter)
};

// One quantized input, shared by every job with the same x, stride, m, kind, columns and row
// selection. A gathered input (job.x_rows) is not quantized itself: its source plan quantizes every
// row of x once (the routed experts of an MoE step share the step's tokens), and the gathered plan
// packs its GEMM panel straight from the source's rows, or for the row kernels copies them (or,
// when they are consecutive, points into the source).
struct ActPlan {
  const float* x = nullptr;
  const int32_t* rows = nullptr;  // gathered: input row i is x's row rows[i]
  int64_t x_stride = 0, m = 0, cols = 0, row_bytes = 0;
  ActQ8Kind kind = ActQ8Kind::kNone;
  Q8QuantizeFn quantize = nullptr;
  bool gemm = false;
  int32_t src = -1;                    // gathered: the source plan
  bool alias = false;                  // gathered rows that are consecutive source rows: nothing to prepare
  int64_t act_off = 0, panel_off = 0;  // into the arena
  int64_t unit0 = 0;                   // its first preparation unit (in its phase)
};

// A position in the concatenated rows of all pooled jobs.
struct Cut {
  size_t job = 0;
  int64_t row = 0;
};

struct ManyScratch {
  std::vector<JobPlan> plans;
  std::vector<ActPlan> acts;
  std::vector<Cut> cuts;
  AlignedVector<uint8_t> arena;  // (64-byte aligned: AMX tile loads of the panels)
  std::vector<float> gathered;   // float copies of gathered inputs for the row-dot and separate paths
};

// Rows per preparation unit (quantize, and pack one GEMM group) and the granularity of row cuts.
constexpr int64_t kUnitRows = 16;
// Below this many activation elements in all, preparation runs on the calling thread (a pool round
// trip costs more than quantizing a few decode rows).
constexpr int64_t kInlinePrepElems = 1 << 15;

int64_t align64(int64_t v) { return (v + 63) / 64 * 64; }

int64_t units_of(const ActPlan& a) {
  if (a.alias) return 0;
  return a.gemm ? q8_gemm_groups(a.m) : (a.m + kUnitRows - 1) / kUnitRows;
}

void prepare_unit(const ActPlan* acts, const ActPlan& a, int64_t u, uint8_t* arena) {
  uint8_t* act = arena + a.act_off;
  if (a.src >= 0) {  // gathered from the (already quantized) source rows
    const uint8_t* src = arena + acts[a.src].act_off;
    if (a.gemm) {
      q8_gemm_pack_avx512(a.kind, src, a.row_bytes, a.m, a.cols, u, u + 1, arena + a.panel_off, a.rows);
      return;
    }
    const int64_t i1 = std::min(a.m, (u + 1) * kUnitRows);
    for (int64_t i = u * kUnitRows; i < i1; ++i) {
      std::memcpy(act + i * a.row_bytes, src + static_cast<int64_t>(a.rows[i]) * a.row_bytes,
                  static_cast<size_t>(a.row_bytes));
    }
    return;
  }
  const int64_t i1 = std::min(a.m, (u + 1) * kUnitRows);
  for (int64_t i = u * kUnitRows; i < i1; ++i) a.quantize(a.kind, a.x + i * a.x_stride, a.cols, act + i * a.row_bytes);
  if (a.gemm) q8_gemm_pack_avx512(a.kind, act, a.row_bytes, a.m, a.cols, u, u + 1, arena + a.panel_off);
}

bool consecutive(const int32_t* rows, int64_t m) {
  for (int64_t i = 1; i < m; ++i) {
    if (rows[i] != rows[0] + i) return false;
  }
  return true;
}

void run_rows(const MatmulJob& j, const JobPlan& p, const ActPlan* acts, const uint8_t* arena, int64_t r0, int64_t r1) {
  if (r0 >= r1) return;
  switch (p.path) {
    case Path::kQ8Rows: {
      const ActPlan& a = acts[p.act];
      p.q8_rows(*j.w, r0, r1, arena + a.act_off, a.row_bytes, j.m, j.y, p.y_stride);
      break;
    }
    case Path::kQ8Gemm:
      q8_gemm_rows_avx512(*j.w, r0, r1, arena + acts[p.act].panel_off, j.m, j.y, p.y_stride);
      break;
    case Path::kRowDot:
      row_dot_rows(p.row_dot, *j.w, r0, r1, p.x, p.x_stride, j.m, j.y, p.y_stride);
      break;
    case Path::kSeparate:
      break;
  }
}

}  // namespace

void matmul_many(std::span<const MatmulJob> jobs, ThreadPool& pool) {
  thread_local ManyScratch s;
  s.plans.assign(jobs.size(), JobPlan{});
  s.acts.clear();
  const DispatchLevel level = dispatch_level();
  const bool act_q8 = matmul_act_q8_enabled();

  // Plan every job with matmul's own choice of kernel (kernels/matmul.cc). Preparation runs in two
  // phases: quantizing (and packing) plain inputs, then the gathered inputs built from them.
  int64_t arena_bytes = 0, prep_elems = 0, gathered_floats = 0;
  int64_t phase_units[2] = {0, 0};
  // The plan of (x, stride, m, cols, kind, gemm, rows), added if new.
  const auto act_plan = [&](const float* x, int64_t x_stride, int64_t m, int64_t cols, ActQ8Kind kind,
                            Q8QuantizeFn quantize, bool gemm, const int32_t* rows, int32_t src) -> int32_t {
    for (size_t a = 0; a < s.acts.size(); ++a) {
      const ActPlan& o = s.acts[a];
      if (o.x == x && o.x_stride == x_stride && o.m == m && o.cols == cols && o.kind == kind && o.gemm == gemm &&
          o.rows == rows) {
        return static_cast<int32_t>(a);
      }
    }
    ActPlan n;
    n.x = x;
    n.rows = rows;
    n.x_stride = x_stride;
    n.m = m;
    n.cols = cols;
    n.kind = kind;
    n.quantize = quantize;
    n.gemm = gemm;
    n.src = src;
    n.row_bytes = act_q8_row_bytes(kind, cols);
    if (src >= 0 && !gemm && consecutive(rows, m)) {
      n.alias = true;
      n.act_off = s.acts[static_cast<size_t>(src)].act_off + static_cast<int64_t>(rows[0]) * n.row_bytes;
    } else if (src < 0 || !gemm) {
      n.act_off = arena_bytes;
      arena_bytes = align64(arena_bytes + n.row_bytes * m);
    }
    if (gemm) {
      n.panel_off = arena_bytes;
      arena_bytes = align64(arena_bytes + q8_gemm_panel_bytes(kind, m, cols));
    }
    int64_t& units = phase_units[src >= 0 ? 1 : 0];
    n.unit0 = units;
    units += units_of(n);
    prep_elems += m * cols;
    s.acts.push_back(n);
    return static_cast<int32_t>(s.acts.size() - 1);
  };
  for (size_t i = 0; i < jobs.size(); ++i) {
    const MatmulJob& j = jobs[i];
    JobPlan& p = s.plans[i];
    if (j.m <= 0 || j.w->rows <= 0) continue;
    const WeightMatrix& w = *j.w;
    p.x = j.x;
    p.x_stride = j.x_stride != 0 ? j.x_stride : w.cols;
    p.y_stride = j.y_stride != 0 ? j.y_stride : w.rows;
    const auto stride = static_cast<double>(w.row_stride);
    if (w.format == WeightFormat::kGgml && w.type == GgmlType::kBF16 && matmul_bf16_available()) {
      if (j.x_rows != nullptr) gathered_floats += j.m * w.cols;
      continue;
    }
    if (matmul_q8_applies(w, j.m) && act_q8) {
      const Q8Kernels k = find_q8_kernels(w.type, level);
      if (k.rows != nullptr) {
        const ActQ8Kind kind = act_q8_kind(w.type);
        const bool gemm = q8_gemm_takes(w.type, j.m);
        int32_t src = -1;
        if (j.x_rows != nullptr) {
          src = act_plan(j.x, p.x_stride, j.x_src_rows, w.cols, kind, k.quantize, false, nullptr, -1);
        }
        p.act = act_plan(j.x, p.x_stride, j.m, w.cols, kind, k.quantize, gemm, j.x_rows, src);
        p.path = gemm ? Path::kQ8Gemm : Path::kQ8Rows;
        p.q8_rows = k.rows;
        // Streaming the row (~19 GB/s per thread) plus the integer work: ~135 G multiply-adds/s in
        // the GEMM, ~30 G per extra token in the row dots (bench/gemm_bench, matmul_bench).
        const auto cols = static_cast<double>(w.cols);
        p.row_cost = gemm ? stride / 19.0 + static_cast<double>(j.m) * cols / 135.0
                          : stride / 19.0 + static_cast<double>(j.m - 1) * cols / 30.0;
        continue;
      }
    }
    if (j.x_rows != nullptr) gathered_floats += j.m * w.cols;
    if (const RowDotFn rd = find_row_dot(w, level); rd != nullptr) {
      p.path = Path::kRowDot;
      p.row_dot = rd;
      p.row_cost = stride / 10.0 * (1.0 + 0.5 * static_cast<double>(j.m - 1));
    }
  }

  // Gathered inputs of the float paths: copied rows (exact mode, BF16 / F16 / F32 weights), each
  // job's at its own offset, on the pool when there are a prefill's worth.
  if (gathered_floats > 0) {
    if (static_cast<int64_t>(s.gathered.size()) < gathered_floats) {
      s.gathered.resize(static_cast<size_t>(gathered_floats));
    }
    // (s is thread_local: the pool's threads reach it through these pointers)
    JobPlan* plans = s.plans.data();
    float* gathered = s.gathered.data();
    const auto float_gather = [&](size_t i) {
      const MatmulJob& j = jobs[i];
      const Path path = plans[i].path;
      return j.m > 0 && j.w->rows > 0 && j.x_rows != nullptr && path != Path::kQ8Rows && path != Path::kQ8Gemm;
    };
    int64_t off = 0;
    for (size_t i = 0; i < jobs.size(); ++i) {
      if (!float_gather(i)) continue;
      plans[i].x = gathered + off;  // filled below; jobs[i].x keeps the source rows
      off += jobs[i].m * jobs[i].w->cols;
    }
    const auto copy = [&](int64_t i0, int64_t i1, int) {
      for (auto i = static_cast<size_t>(i0); i < static_cast<size_t>(i1); ++i) {
        if (!float_gather(i)) continue;
        const MatmulJob& j = jobs[i];
        JobPlan& p = plans[i];
        const int64_t cols = j.w->cols;
        float* g = gathered + (p.x - gathered);
        for (int64_t r = 0; r < j.m; ++r) {
          std::copy_n(j.x + static_cast<int64_t>(j.x_rows[r]) * p.x_stride, cols, g + r * cols);
        }
        p.x_stride = cols;
      }
    };
    if (gathered_floats < kInlinePrepElems) {
      copy(0, static_cast<int64_t>(jobs.size()), 0);
    } else {
      pool.parallel_for(static_cast<int64_t>(jobs.size()), 1, copy);
    }
  }

  // Jobs matmul runs its own way go first, one after another.
  for (size_t i = 0; i < jobs.size(); ++i) {
    const MatmulJob& j = jobs[i];
    const JobPlan& p = s.plans[i];
    if (p.path == Path::kSeparate && j.m > 0 && j.w->rows > 0) {
      matmul(*j.w, p.x, j.m, j.y, pool, p.x_stride, j.y_stride);
    }
  }

  // Quantize (and pack) every distinct input once, then build the gathered ones from theirs.
  if (static_cast<int64_t>(s.arena.size()) < arena_bytes) s.arena.resize(static_cast<size_t>(arena_bytes));
  uint8_t* arena = s.arena.data();
  const ActPlan* acts = s.acts.data();
  const size_t n_acts = s.acts.size();
  for (int phase = 0; phase < 2; ++phase) {
    if (phase_units[phase] == 0) continue;
    const auto prep = [&](int64_t u0, int64_t u1, int) {
      size_t a = 0;
      for (int64_t u = u0; u < u1; ++u) {
        // the plan of this phase holding unit u
        while (a < n_acts && ((acts[a].src >= 0) != (phase == 1) || acts[a].unit0 + units_of(acts[a]) <= u)) ++a;
        prepare_unit(acts, acts[a], u - acts[a].unit0, arena);
      }
    };
    if (prep_elems < kInlinePrepElems) {
      prep(0, phase_units[phase], 0);
    } else {
      pool.parallel_for(phase_units[phase], 1, prep);
    }
  }

  // Split the rows of all pooled jobs into contiguous parts of equal estimated cost, kPartsPerThread
  // per thread; the pool claims them in guided runs of consecutive parts (core/thread_pool.h), long
  // ones first, so a thread that runs slow takes fewer and the threads finish together.
  double total = 0.0;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (s.plans[i].path != Path::kSeparate) total += s.plans[i].row_cost * static_cast<double>(jobs[i].w->rows);
  }
  if (total <= 0.0) return;
  constexpr int kPartsPerThread = 64;
  const int n_parts = pool.size() == 1 ? 1 : kPartsPerThread * pool.size();
  s.cuts.assign(static_cast<size_t>(n_parts) + 1, Cut{jobs.size(), 0});
  s.cuts[0] = Cut{0, 0};
  {
    double before = 0.0;  // cost of the jobs before i
    size_t i = 0;
    for (int t = 1; t < n_parts; ++t) {
      const double target = total * t / n_parts;
      for (; i < jobs.size(); ++i) {
        if (s.plans[i].path == Path::kSeparate) continue;
        const double c = s.plans[i].row_cost * static_cast<double>(jobs[i].w->rows);
        if (before + c > target) break;
        before += c;
      }
      if (i == jobs.size()) break;
      const int64_t rows = jobs[i].w->rows;
      auto r = static_cast<int64_t>((target - before) / s.plans[i].row_cost);
      r = std::min(rows, (r + kUnitRows / 2) / kUnitRows * kUnitRows);
      s.cuts[static_cast<size_t>(t)] = Cut{i, r};
    }
  }
  const JobPlan* plans = s.plans.data();
  const Cut* cuts = s.cuts.data();
  // Rows [r0, r1) of job j as the row kernels' next-rows hint (kernels/x86/q8_dot.h): none unless a
  // row kernel runs them.
  const auto hint = [&](size_t j, int64_t r0, int64_t r1) {
    if (plans[j].path != Path::kQ8Rows || r0 >= r1) return NextRows{};
    const WeightMatrix& w = *jobs[j].w;
    return NextRows{w.data + static_cast<uint64_t>(r0) * w.row_stride, r1 - r0, static_cast<int64_t>(w.row_stride)};
  };
  pool.parallel_for(n_parts, 1, [&](int64_t t0, int64_t t1, int) {
    // parts t0 .. t1 - 1: one contiguous span of rows
    const Cut from = cuts[t0], to = cuts[t1];
    const auto in_span = [&](size_t i) { return i < jobs.size() && (i < to.job || (i == to.job && to.row > 0)); };
    const auto end_row = [&](size_t i) { return i == to.job ? to.row : jobs[i].w->rows; };
    for (size_t i = from.job; in_span(i); ++i) {
      if (plans[i].path == Path::kSeparate) continue;
      const int64_t r0 = i == from.job ? from.row : 0;
      const int64_t r1 = end_row(i);
      if (plans[i].path == Path::kQ8Rows) {
        // What this thread most likely reads next: the span's next job, or past the span's end the
        // first part no thread has claimed yet. V2-Lite decode on the 2-core Zen 4 VM, with and
        // without the hint alternating every ~81 calls within a run: matmul_many's time per call
        // 0.4-2.7% lower in 6 of 6 runs (median 1.1%); batch 8 unchanged (1.002, 0.994).
        size_t j = i + 1;
        while (in_span(j) && plans[j].path == Path::kSeparate) ++j;
        NextRows next;
        if (in_span(j)) {
          next = hint(j, 0, end_row(j));
        } else if (const int64_t u = pool.unclaimed_begin(); u >= 0) {
          Cut c = cuts[static_cast<size_t>(u)];
          while (c.job < jobs.size() && (plans[c.job].path == Path::kSeparate || c.row >= jobs[c.job].w->rows)) {
            ++c.job;
            c.row = 0;
          }
          if (c.job < jobs.size()) next = hint(c.job, c.row, jobs[c.job].w->rows);
        }
        set_next_rows(next);
      }
      run_rows(jobs[i], plans[i], acts, arena, r0, r1);
    }
    set_next_rows(NextRows{});
  });
}

}  // namespace baleen
