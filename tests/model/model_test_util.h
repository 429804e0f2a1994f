// Helpers shared by the model tests: load a model, run the fixed 24-id input (conformance README
// section 2) in one eval, greedy-decode one token at a time, and compare logits with a reference.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "testing.h"

namespace baleen::model_test {

inline ThreadPool& pool() {
  static ThreadPool p(2);
  return p;
}

inline std::unique_ptr<Model> load_or_fail(const std::string& path) {
  auto m = Model::load(path);
  EXPECT_TRUE(m.ok()) << path << ": " << (m.ok() ? "" : m.error().to_string());
  if (!m.ok()) return nullptr;
  return std::move(m).value();
}

inline testing::ReferenceLogits read_ref(const std::string& path) {
  testing::ReferenceLogits r;
  std::string err;
  EXPECT_TRUE(testing::read_reference_logits(path, &r, &err)) << err;
  return r;
}

inline int32_t argmax(const float* x, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (x[i] > x[best]) best = i;
  }
  return static_cast<int32_t>(best);
}

// Per-row max |a - b| and argmax agreement of [n_rows, n_vocab] logits.
struct Comparison {
  std::vector<double> row_max;
  int argmax_equal = 0;
  double max() const { return row_max.empty() ? 0.0 : *std::max_element(row_max.begin(), row_max.end()); }
  double median() const {
    std::vector<double> v = row_max;
    std::sort(v.begin(), v.end());
    if (v.empty()) return 0.0;
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  }
};

inline Comparison compare(const std::vector<float>& got, const testing::ReferenceLogits& ref) {
  Comparison c;
  const int64_t V = ref.n_vocab;
  for (int64_t r = 0; r < ref.n_rows && (r + 1) * V <= static_cast<int64_t>(got.size()); ++r) {
    double m = 0.0;
    for (int64_t i = 0; i < V; ++i) m = std::max(m, std::fabs(static_cast<double>(got[r * V + i]) - ref.row(r)[i]));
    c.row_max.push_back(m);
    if (argmax(got.data() + r * V, V) == argmax(ref.row(r), V)) ++c.argmax_equal;
  }
  return c;
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0.0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    m = std::max(m, std::fabs(static_cast<double>(a[i]) - b[i]));
  return m;
}

// All-position logits of `ids` in one eval on a fresh session.
inline std::vector<float> eval_all(const Model& model, const std::vector<TokenId>& ids,
                                   AttentionForm form = AttentionForm::kAuto, Session** keep = nullptr) {
  SessionOptions so;
  so.n_ctx = 256;
  so.attention = form;
  auto s = Session::create(model, pool(), so);
  EXPECT_TRUE(s.ok());
  std::vector<float> logits;
  Status st = (*s)->eval(ids, &logits, true);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().to_string());
  return logits;
}

// Greedy continuation of `ids`: prefill in one eval, then `steps` one-token evals.
inline std::vector<int32_t> greedy(Session& s, const std::vector<TokenId>& ids, int steps, int64_t n_vocab) {
  std::vector<float> logits;
  std::vector<int32_t> out;
  Status st = s.eval(ids, &logits, false);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().to_string());
  if (!st.ok()) return out;
  for (int i = 0; i < steps; ++i) {
    const int32_t next = argmax(logits.data(), n_vocab);
    out.push_back(next);
    if (i + 1 == steps) break;
    const TokenId tok = next;
    st = s.eval(std::span<const TokenId>(&tok, 1), &logits, false);
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().to_string());
    if (!st.ok()) break;
  }
  return out;
}

inline std::vector<int32_t> greedy_fresh(const Model& model, const std::vector<TokenId>& ids, int steps,
                                         AttentionForm form = AttentionForm::kAuto) {
  SessionOptions so;
  so.n_ctx = 256;
  so.attention = form;
  auto s = Session::create(model, pool(), so);
  EXPECT_TRUE(s.ok());
  return greedy(**s, ids, steps, model.config().n_vocab);
}

// Conformance README section 8 A (exact math vs the numpy reference) and B (vs llama.cpp) for one
// GGUF micro model file; prints "MAXDIFF <name> numpy <max> llamacpp <max> (median <m>)".
// Returns the number of passed checks (out of 3: numpy logits, greedy, llama.cpp).
inline int check_micro_file(const std::string& model_name, const std::string& type) {
  const std::string dir = "models/micro/" + model_name + "/";
  const std::string name = model_name + "-" + type;
  auto model = load_or_fail(testing::conformance_path(dir + name + ".gguf"));
  if (!model) return 0;
  const auto np = read_ref(testing::conformance_path(dir + "ref/" + name + ".numpy.logits"));
  const auto lc = read_ref(testing::conformance_path(dir + "ref/" + name + ".llamacpp.logits"));
  const std::vector<TokenId> ids(np.tokens.begin(), np.tokens.end());
  // A is exact math: matmul's exact F32-activation path (small batches of quantized weights would
  // otherwise take the 8-bit-activation path, kernels/matmul.h). B runs the default path.
  const bool act_q8 = set_matmul_act_q8(false);
  const std::vector<float> logits = eval_all(*model, ids);
  const std::vector<int32_t> g = greedy_fresh(*model, ids, 16);
  set_matmul_act_q8(act_q8);
  const std::vector<float> logits_default = act_q8 ? eval_all(*model, ids) : logits;
  const Comparison cn = compare(logits, np);
  const Comparison cl = compare(logits_default, lc);
  std::printf("MAXDIFF %s numpy %.3g llamacpp %.3g (median %.3g, argmax %d/24)\n", name.c_str(), cn.max(), cl.max(),
              cl.median(), cl.argmax_equal);
  int passed = 0;
  // A: every row within 1e-4 and every argmax equal.
  EXPECT_LE(cn.max(), 1e-4) << name;
  EXPECT_EQ(cn.argmax_equal, np.n_rows) << name;
  passed += cn.max() <= 1e-4 && cn.argmax_equal == np.n_rows;
  EXPECT_EQ(g, np.greedy) << name << " greedy";
  passed += g == np.greedy;
  // B: tolerances by model kind and type.
  const bool moe = model_name.rfind("ds", 0) == 0;
  bool ok_lc;
  if (type == "f32" || type == "f16") {
    ok_lc = cl.max() <= 1e-2 && cl.argmax_equal >= 22;
  } else if (moe) {
    ok_lc = cl.median() <= 0.15 && cl.argmax_equal >= 16;
  } else {
    const double tol = type == "bf16" ? 5e-2 : 0.15;
    ok_lc = cl.max() <= tol && cl.argmax_equal >= 22;
  }
  EXPECT_TRUE(ok_lc) << name << " vs llama.cpp: max " << cl.max() << " median " << cl.median() << " argmax "
                     << cl.argmax_equal;
  passed += ok_lc;
  return passed;
}

inline const std::vector<std::string>& micro_types() {
  static const std::vector<std::string> t = {"f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k"};
  return t;
}

}  // namespace baleen::model_test
