// eval_batch (several sessions advanced in one forward pass) against the same calls made one
// session at a time with Session::eval, the conformance-tested path: GGUF micro models of every
// architecture in several types and the Hugging Face folders (BF16, FP8), with prefill chunks and
// single-token decodes mixed in one step, different lengths and positions, per-session attention
// forms, last-row and all-row logits and items without logits. Also the MTP head after batched
// steps, the error cases (nothing is changed on error) and that steady-state steps do not allocate.
//
// Tolerance: exactly equal (max |diff| == 0). Every row of a step goes through the same float
// operations in the same order whether it shares the step with other rows or not: the matmul
// kernels keep one accumulator per activation row (kernels/x86/row_dot_body.inc; the scalar
// fallback dots each row alone; the 8-bit-activation path is batch-invariant bit for bit,
// kernels/matmul.h), the MoE adds a token's expert outputs in expert order whichever other tokens
// an expert serves, RMSNorm/RoPE are per row, and attention of a (sequence, head, token) item reads
// only that sequence's cache. The one exception is a path chosen by the number of rows: the opt-in
// BF16 GEMM (BALEEN_BF16_GEMM=1) for >= 32 rows of BF16 weights rounds activations to BF16, so a
// row batched into >= 32 can differ from the same row alone. Hence: on matmul's exact F32 paths
// (8-bit activations and BF16 GEMM off) every test is exact; on the default paths steps below 32
// rows are exact, and a 92-row step is checked to stay as close to the exact F32 result as the
// separate evals (normalised MSE).
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>

#include "io/gguf.h"
#include "kernels/matmul_bf16.h"
#include "model_test_util.h"

// Counts heap allocations while g_counting is set (any thread), for the steady-state check.
namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_allocations{0};
}  // namespace

// GCC cannot see that these replacements pair malloc with free (-Wmismatched-new-delete).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
// The nothrow and array forms too, so every global new pairs with a delete of the same family
// (std::stable_sort's temporary buffer uses new(nothrow); AddressSanitizer checks the pairing).
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(n == 0 ? 1 : n);
}
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace baleen {
namespace {

// matmul's exact F32 paths for the lifetime of the guard (restores the previous settings;
// set_matmul_bf16_enabled returns the new availability, so the old one is read first).
class ExactPaths {
 public:
  ExactPaths() : act_q8_(set_matmul_act_q8(false)), bf16_(matmul_bf16_available()) { set_matmul_bf16_enabled(false); }
  ~ExactPaths() {
    set_matmul_act_q8(act_q8_);
    set_matmul_bf16_enabled(bf16_);
  }

 private:
  bool act_q8_, bf16_;
};

// One session's part of a step.
struct Call {
  int seq;
  int n_tokens;
  bool all_logits = false;
  bool want_logits = true;
};
using Step = std::vector<Call>;

// Mixed steps over 4 sessions: prefill chunks of 20 (and 16, 17: naive MLA under kAuto) next to
// single-token decodes and short chunks (absorbed), sessions idle in some steps, some items without
// logits, some with all rows.
const std::vector<Step>& mixed_steps() {
  static const std::vector<Step> steps = {
      {{0, 20, true}, {1, 5}, {2, 1}, {3, 3, false, false}},
      {{0, 1}, {1, 1}, {2, 20}, {3, 1, true}},
      {{0, 1}, {1, 16, true}, {3, 1}},
      {{0, 1}, {1, 1}, {2, 1}, {3, 1}},
      {{3, 1}, {2, 1}, {1, 1}, {0, 1, false, false}},
      {{0, 1}, {1, 1}, {2, 1}, {3, 1}},
      {{0, 3, true}, {1, 1}, {2, 1}, {3, 17}},
  };
  return steps;
}

// Deterministic ids: sequence `seq`'s k-th token.
TokenId token_of(int seq, int64_t k, int64_t n_vocab) {
  return static_cast<TokenId>((1 + 97 * seq + 37 * k + (k * k) % 11) % n_vocab);
}

std::vector<TokenId> tokens_for(int seq, int64_t from, int n, int64_t n_vocab) {
  std::vector<TokenId> t;
  for (int i = 0; i < n; ++i) t.push_back(token_of(seq, from + i, n_vocab));
  return t;
}

std::vector<std::unique_ptr<Session>> make_sessions(const Model& m, const std::vector<AttentionForm>& forms,
                                                    int64_t n_ctx = 96) {
  std::vector<std::unique_ptr<Session>> out;
  for (AttentionForm f : forms) {
    SessionOptions so;
    so.n_ctx = n_ctx;
    so.attention = f;
    auto s = Session::create(m, model_test::pool(), so);
    EXPECT_TRUE(s.ok());
    out.push_back(std::move(s).value());
  }
  return out;
}

// Runs `steps` on two sets of sessions, one item at a time (Session::eval) and batched
// (eval_batch), and returns the largest |difference| of any logit (or 1e30 on a size mismatch or
// an error). `scratch`: passed to eval_batch (nullptr: the first item's session's buffers).
// Logits of every item of every step, in order, separately and batched.
struct Outputs {
  std::vector<std::vector<float>> separate, batched;
};

double batched_vs_separate(const Model& m, const std::vector<AttentionForm>& forms, const std::vector<Step>& steps,
                           BatchScratch* scratch, std::vector<std::unique_ptr<Session>>* sep_out = nullptr,
                           std::vector<std::unique_ptr<Session>>* bat_out = nullptr, Outputs* outputs = nullptr,
                           bool first_step_separately = false) {
  const int64_t V = m.config().n_vocab;
  auto sep = make_sessions(m, forms);
  auto bat = make_sessions(m, forms);
  double worst = 0.0;
  for (size_t k = 0; k < steps.size(); ++k) {
    const Step& step = steps[k];
    std::vector<std::vector<TokenId>> toks;
    for (const Call& c : step) toks.push_back(tokens_for(c.seq, sep[c.seq]->n_past(), c.n_tokens, V));
    std::vector<std::vector<float>> want(step.size()), got(step.size());
    for (size_t i = 0; i < step.size(); ++i) {
      const Call& c = step[i];
      Status st = sep[c.seq]->eval(toks[i], c.want_logits ? &want[i] : nullptr, c.all_logits);
      EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().to_string());
    }
    std::vector<BatchItem> items;
    for (size_t i = 0; i < step.size(); ++i) {
      const Call& c = step[i];
      got[i].assign(3, -1.0f);  // eval_batch must resize it
      items.push_back(BatchItem{bat[c.seq].get(), toks[i], c.want_logits ? &got[i] : nullptr, c.all_logits});
    }
    Status st = ok_status();
    if (k == 0 && first_step_separately) {
      for (const BatchItem& it : items) {
        if (st.ok()) st = eval_batch(std::span<const BatchItem>(&it, 1), scratch);
      }
    } else {
      st = eval_batch(items, scratch);
    }
    EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().to_string());
    if (!st.ok()) return 1e30;
    for (size_t i = 0; i < step.size(); ++i) {
      const Call& c = step[i];
      EXPECT_EQ(bat[c.seq]->n_past(), sep[c.seq]->n_past()) << "step " << k << " seq " << c.seq;
      if (!c.want_logits) continue;
      const size_t rows = c.all_logits ? static_cast<size_t>(c.n_tokens) : 1;
      EXPECT_EQ(got[i].size(), rows * static_cast<size_t>(V)) << "step " << k << " seq " << c.seq;
      if (got[i].size() != want[i].size()) return 1e30;
      worst = std::max(worst, model_test::max_abs_diff(want[i], got[i]));
      if (outputs != nullptr) {
        outputs->separate.push_back(want[i]);
        outputs->batched.push_back(got[i]);
      }
    }
  }
  if (sep_out != nullptr) *sep_out = std::move(sep);
  if (bat_out != nullptr) *bat_out = std::move(bat);
  return worst;
}

std::string model_path(const std::string& p) {
  if (p.rfind("hf/", 0) == 0 || p.rfind("models/", 0) == 0) return testing::conformance_path(p);
  const std::string arch = p.substr(0, p.rfind('-'));  // "ds2-micro-q8_0" -> "ds2-micro"
  return testing::conformance_path("models/micro/" + arch + "/" + p + ".gguf");
}

class BatchPerModel : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<Model> load() { return model_test::load_or_fail(model_path(GetParam())); }
};

TEST_P(BatchPerModel, MixedStepsEqualSeparateEvals) {
  BALEEN_REQUIRE_CONFORMANCE();
  ExactPaths exact;
  auto m = load();
  ASSERT_TRUE(m);
  const std::vector<AttentionForm> autos(4, AttentionForm::kAuto);
  BatchScratch scratch;
  const double d = batched_vs_separate(*m, autos, mixed_steps(), &scratch);
  std::printf("MAXDIFF %s batched-vs-separate %.3g\n", GetParam().c_str(), d);
  EXPECT_EQ(d, 0.0);
  // The same through the first session's own buffers.
  EXPECT_EQ(batched_vs_separate(*m, autos, mixed_steps(), nullptr), 0.0);
}

TEST_P(BatchPerModel, PerSessionAttentionForms) {
  BALEEN_REQUIRE_CONFORMANCE();
  ExactPaths exact;
  auto m = load();
  ASSERT_TRUE(m);
  // Forced forms per session (ignored by GQA models), so one step mixes naive single-token
  // decodes, absorbed 20-token chunks and automatic choices.
  const std::vector<AttentionForm> forms = {AttentionForm::kNaive, AttentionForm::kAbsorbed, AttentionForm::kAuto,
                                            AttentionForm::kNaive};
  BatchScratch scratch;
  const double d = batched_vs_separate(*m, forms, mixed_steps(), &scratch);
  std::printf("MAXDIFF %s batched-vs-separate (mixed forms) %.3g\n", GetParam().c_str(), d);
  EXPECT_EQ(d, 0.0);
}

// Prompts of different lengths for 8 sessions, then 4 steps of 8 single-token decodes (the
// server's steady state).
std::vector<Step> eight_decode_steps() {
  std::vector<Step> steps;
  Step prompts;
  for (int s = 0; s < 8; ++s) prompts.push_back({s, 1 + 3 * s});
  steps.push_back(prompts);
  for (int k = 0; k < 4; ++k) {
    Step decode;
    for (int s = 0; s < 8; ++s) decode.push_back({s, 1});
    steps.push_back(decode);
  }
  return steps;
}

TEST_P(BatchPerModel, EightDecodes) {
  BALEEN_REQUIRE_CONFORMANCE();
  ExactPaths exact;
  auto m = load();
  ASSERT_TRUE(m);
  BatchScratch scratch;
  EXPECT_EQ(
      batched_vs_separate(*m, std::vector<AttentionForm>(8, AttentionForm::kAuto), eight_decode_steps(), &scratch),
      0.0);
}

// Default matmul paths: with the prompts evaluated one at a time on both sides, the batched decode
// steps (8 rows) are exact too.
TEST_P(BatchPerModel, EightDecodesDefaultPathsExact) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = load();
  ASSERT_TRUE(m);
  BatchScratch scratch;
  EXPECT_EQ(batched_vs_separate(*m, std::vector<AttentionForm>(8, AttentionForm::kAuto), eight_decode_steps(), &scratch,
                                nullptr, nullptr, nullptr, /*first_step_separately=*/true),
            0.0);
}

// Default matmul paths, mixed steps (at most 29 rows per step, below the BF16 GEMM's 32): exact.
TEST_P(BatchPerModel, MixedStepsDefaultPathsExact) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = load();
  ASSERT_TRUE(m);
  BatchScratch scratch;
  const double d =
      batched_vs_separate(*m, std::vector<AttentionForm>(4, AttentionForm::kAuto), mixed_steps(), &scratch);
  std::printf("MAXDIFF %s batched-vs-separate (default paths) %.3g\n", GetParam().c_str(), d);
  EXPECT_EQ(d, 0.0);
}

// Default matmul paths with the 8 prompts batched into one 92-row step: with the BF16 GEMM enabled
// (BALEEN_BF16_GEMM=1, where available) BF16 weights take it batched (>= 32 rows) but not alone (<= 22 rows), and
// differ by its rounding of the activations to BF16 (relative error <= 2^-9, an NMSE of about 1.3e-6 per product),
// which the layers and the random micro models' MoE routing amplify. Check that batching moves the logits from the
// exact F32 result by no more than the fast paths already do for the separate evals plus that BF16 rounding: normalised
// MSE over all logits <= 4x that of the separate evals + 1e-4 (measured: at most 1.5e-5 on the BF16 models, 1.3e-8 on
// FP8 (BF16 non-expert tensors), and equal to the separate evals' on the quantized ones, whose 8-bit-activation path is
// batch-invariant).
TEST_P(BatchPerModel, EightDecodesDefaultPathsStayAsCloseToExact) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto m = load();
  ASSERT_TRUE(m);
  const std::vector<AttentionForm> autos(8, AttentionForm::kAuto);
  BatchScratch scratch;
  Outputs fast, exact;
  batched_vs_separate(*m, autos, eight_decode_steps(), &scratch, nullptr, nullptr, &fast);
  {
    ExactPaths guard;
    EXPECT_EQ(batched_vs_separate(*m, autos, eight_decode_steps(), &scratch, nullptr, nullptr, &exact), 0.0);
  }
  ASSERT_EQ(fast.batched.size(), exact.separate.size());
  double sep_sq = 0.0, bat_sq = 0.0, ref_sq = 0.0, sep_max = 0.0, bat_max = 0.0;
  for (size_t i = 0; i < exact.separate.size(); ++i) {
    const std::vector<float>& e = exact.separate[i];
    for (size_t k = 0; k < e.size(); ++k) {
      const double ds = fast.separate[i][k] - e[k], db = fast.batched[i][k] - e[k];
      sep_sq += ds * ds;
      bat_sq += db * db;
      ref_sq += static_cast<double>(e[k]) * e[k];
      sep_max = std::max(sep_max, std::fabs(ds));
      bat_max = std::max(bat_max, std::fabs(db));
    }
  }
  const double sep_nmse = sep_sq / ref_sq, bat_nmse = bat_sq / ref_sq;
  std::printf("MAXDIFF %s default paths vs exact: separate max %.3g nmse %.3g, batched max %.3g nmse %.3g\n",
              GetParam().c_str(), sep_max, sep_nmse, bat_max, bat_nmse);
  EXPECT_LE(bat_nmse, 4.0 * sep_nmse + 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Models, BatchPerModel,
                         ::testing::Values("ds2-micro-f32", "ds2-micro-q8_0", "ds2-micro-q4_k_m", "ds2-micro-bf16",
                                           "ds3-micro-f32", "ds3-micro-q4_0", "ds3-micro-q6_k", "llama-micro-f32",
                                           "llama-micro-q4_k_m", "qwen2-micro-f32", "qwen2-micro-q8_0",
                                           "hf/ds2-micro-bf16", "hf/ds3-micro-bf16", "hf/ds3-micro-fp8"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) {
                             if (c == '-' || c == '/') c = '_';
                           }
                           return n;
                         });

// The MTP head reads each session's final hidden states: after batched steps it equals the one
// after the same steps made separately.
TEST(Batch, MtpLogitsAfterBatchedSteps) {
  BALEEN_REQUIRE_CONFORMANCE();
  ExactPaths exact;
  for (const char* name : {"hf/ds3-micro-bf16", "hf/ds3-micro-fp8"}) {
    auto m = model_test::load_or_fail(testing::conformance_path(name));
    ASSERT_TRUE(m);
    ASSERT_TRUE(m->has_mtp());
    std::vector<std::unique_ptr<Session>> sep, bat;
    BatchScratch scratch;
    EXPECT_EQ(batched_vs_separate(*m, std::vector<AttentionForm>(4, AttentionForm::kAuto), mixed_steps(), &scratch,
                                  &sep, &bat),
              0.0);
    ASSERT_EQ(sep.size(), 4u);
    ASSERT_EQ(bat.size(), 4u);
    for (int s = 0; s < 4; ++s) {
      std::vector<float> want, got;
      ASSERT_TRUE(sep[s]->mtp_logits(&want).ok());
      ASSERT_TRUE(bat[s]->mtp_logits(&got).ok());
      ASSERT_EQ(want.size(), static_cast<size_t>((sep[s]->n_past() - 1) * m->config().n_vocab));
      EXPECT_EQ(model_test::max_abs_diff(want, got), 0.0) << name << " session " << s;
    }
  }
}

// BatchScratch's counters (what `baleen bench` reports as the weights a batched step reads): a step
// counts each routed expert once per MoE layer however many of its tokens chose it. Sessions given
// the same token at the same position route alike, so three of them in one step run exactly one
// token's experts: the routed bytes of the file's top-k rule (each *_exps tensor's bytes x k /
// n_experts, from the tensor list), not three times them. Three different tokens run at least
// one token's worth and at most min(n_experts, 3 k) experts per layer.
TEST(Batch, CountsEachRoutedExpertOncePerStep) {
  BALEEN_REQUIRE_CONFORMANCE();
  const std::string path = model_path("ds3-micro-q4_k_m");
  auto gguf = GgufFile::open(path);
  ASSERT_TRUE(gguf.ok()) << gguf.error().to_string();
  auto m = model_test::load_or_fail(path);
  ASSERT_TRUE(m);
  const int64_t X = m->config().n_routed_experts, K = m->config().num_experts_per_tok;
  ASSERT_GT(X, 3 * K);  // (so that three tokens' experts need not cover them all)
  uint64_t routed = 0;
  for (const GgufTensorInfo& t : gguf->tensors()) {
    if (t.name.find("_exps.weight") != std::string::npos) routed += t.n_bytes / X * K;
  }
  ASSERT_GT(routed, 0u);

  auto sessions = make_sessions(*m, std::vector<AttentionForm>(3, AttentionForm::kAuto), 8);
  BatchScratch scratch;
  EXPECT_EQ(scratch.steps(), 0u);
  EXPECT_EQ(scratch.routed_expert_bytes(), 0u);
  const TokenId same[] = {7}, diff[3][1] = {{11}, {230}, {97}};
  std::vector<BatchItem> items;
  for (auto& s : sessions) items.push_back(BatchItem{s.get(), same});
  ASSERT_TRUE(eval_batch(items, &scratch).ok());
  EXPECT_EQ(scratch.steps(), 1u);
  EXPECT_EQ(scratch.routed_expert_bytes(), routed);

  for (size_t i = 0; i < items.size(); ++i) items[i].tokens = diff[i];
  ASSERT_TRUE(eval_batch(items, &scratch).ok());
  EXPECT_EQ(scratch.steps(), 2u);
  const uint64_t second = scratch.routed_expert_bytes() - routed;
  EXPECT_GE(second, routed);
  EXPECT_LE(second, routed * static_cast<uint64_t>(std::min(X, 3 * K)) / static_cast<uint64_t>(K));
}

class BatchErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    BALEEN_REQUIRE_CONFORMANCE();
    exact_ = std::make_unique<ExactPaths>();
    model_ = model_test::load_or_fail(model_path("ds3-micro-f32"));
    ASSERT_TRUE(model_);
    sessions_ = make_sessions(*model_, std::vector<AttentionForm>(3, AttentionForm::kAuto), 8);
    // Each session holds 2 tokens of its own.
    for (int s = 0; s < 3; ++s) {
      ASSERT_TRUE(sessions_[s]->eval(tokens_for(s, 0, 2, model_->config().n_vocab), nullptr).ok());
    }
  }
  // The error's code, after checking that no session moved and that each still continues exactly
  // like a fresh session given the same tokens (nothing was written to its cache either).
  ErrorCode expect_rejected(const std::vector<BatchItem>& items) {
    Status st = eval_batch(items);
    EXPECT_FALSE(st.ok());
    if (st.ok()) return ErrorCode::kInternal;
    std::printf("error: %s\n", st.error().to_string().c_str());
    for (auto& s : sessions_) EXPECT_EQ(s->n_past(), 2);
    return st.error().code();
  }
  std::unique_ptr<ExactPaths> exact_;
  std::unique_ptr<Model> model_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<float> l0_, l1_, l2_;
};

TEST_F(BatchErrors, ContextOverflowInOneItemChangesNoSession) {
  const std::vector<TokenId> one = {5}, seven = {1, 2, 3, 4, 5, 6, 7};  // 2 + 7 > n_ctx 8
  EXPECT_EQ(expect_rejected(
                {{sessions_[0].get(), one, &l0_}, {sessions_[1].get(), seven, &l1_}, {sessions_[2].get(), one, &l2_}}),
            ErrorCode::kOutOfRange);
  EXPECT_TRUE(l0_.empty());  // no logits written either
  // Afterwards the sessions go on exactly as separate ones do.
  std::vector<float> want;
  auto fresh = make_sessions(*model_, {AttentionForm::kAuto}, 8);
  ASSERT_TRUE(fresh[0]->eval(tokens_for(1, 0, 2, model_->config().n_vocab), nullptr).ok());
  ASSERT_TRUE(fresh[0]->eval(std::span<const TokenId>(seven.data(), 6), &want).ok());
  const std::vector<BatchItem> retry = {{sessions_[1].get(), std::span<const TokenId>(seven.data(), 6), &l1_}};
  ASSERT_TRUE(eval_batch(retry).ok());
  EXPECT_EQ(model_test::max_abs_diff(want, l1_), 0.0);
  EXPECT_EQ(sessions_[1]->n_past(), 8);
}

TEST_F(BatchErrors, BadTokenId) {
  const std::vector<TokenId> ok = {5}, bad = {3, static_cast<TokenId>(model_->config().n_vocab)}, neg = {-1};
  EXPECT_EQ(expect_rejected(
                {{sessions_[0].get(), ok, &l0_}, {sessions_[1].get(), ok, &l1_}, {sessions_[2].get(), bad, &l2_}}),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(expect_rejected({{sessions_[0].get(), neg, &l0_}}), ErrorCode::kInvalidArgument);
}

TEST_F(BatchErrors, EmptyItemsNullAndRepeatedSessions) {
  const std::vector<TokenId> ok = {5}, none;
  EXPECT_EQ(expect_rejected({}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(expect_rejected({{sessions_[0].get(), ok, &l0_}, {sessions_[1].get(), none, &l1_}}),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(expect_rejected({{sessions_[0].get(), ok, &l0_}, {nullptr, ok, &l1_}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ(
      expect_rejected({{sessions_[0].get(), ok, &l0_}, {sessions_[1].get(), ok, &l1_}, {sessions_[0].get(), ok, &l2_}}),
      ErrorCode::kInvalidArgument);
}

TEST_F(BatchErrors, SessionsOfDifferentModelsOrPools) {
  const std::vector<TokenId> ok = {5};
  // Another load of the same file is another model.
  auto other = model_test::load_or_fail(model_path("ds3-micro-f32"));
  ASSERT_TRUE(other);
  auto s_other = Session::create(*other, model_test::pool(), {});
  ASSERT_TRUE(s_other.ok());
  EXPECT_EQ(expect_rejected({{sessions_[0].get(), ok, &l0_}, {s_other->get(), ok, &l1_}}), ErrorCode::kInvalidArgument);
  EXPECT_EQ((*s_other)->n_past(), 0);
  ThreadPool pool2(1);
  auto s_pool = Session::create(*model_, pool2, {});
  ASSERT_TRUE(s_pool.ok());
  EXPECT_EQ(expect_rejected({{sessions_[0].get(), ok, &l0_}, {s_pool->get(), ok, &l1_}}), ErrorCode::kInvalidArgument);
}

// Once the buffers have grown to a step's shape, further steps of that shape allocate nothing
// (decode steps of 4 sessions; one MLA model with a prefill chunk before, one GQA model).
TEST(Batch, SteadyStateDecodeStepsDoNotAllocate) {
  BALEEN_REQUIRE_CONFORMANCE();
  for (const char* name : {"ds3-micro-q4_k_m", "llama-micro-f32", "hf/ds3-micro-bf16"}) {
    auto m = model_test::load_or_fail(model_path(name));
    ASSERT_TRUE(m);
    const int64_t V = m->config().n_vocab;
    auto sessions = make_sessions(*m, std::vector<AttentionForm>(4, AttentionForm::kAuto), 64);
    BatchScratch scratch;
    std::vector<std::vector<float>> logits(4);
    std::vector<std::vector<TokenId>> prompts;
    for (int s = 0; s < 4; ++s) prompts.push_back(tokens_for(s, 0, 4 + 5 * s, V));
    std::vector<BatchItem> items;
    for (int s = 0; s < 4; ++s) items.push_back({sessions[s].get(), prompts[s], &logits[s]});
    ASSERT_TRUE(eval_batch(items, &scratch).ok());
    std::vector<TokenId> next(4);
    for (int s = 0; s < 4; ++s) items[s].tokens = std::span<const TokenId>(&next[s], 1);
    int64_t allocations = 0;
    for (int k = 0; k < 6; ++k) {
      for (int s = 0; s < 4; ++s) next[s] = model_test::argmax(logits[s].data(), V);
      g_allocations = 0;
      g_counting = k >= 1;  // the first decode step may still grow buffers
      Status st = eval_batch(items, &scratch);
      g_counting = false;
      ASSERT_TRUE(st.ok());
      if (k >= 1) allocations += g_allocations.load();
    }
    EXPECT_EQ(allocations, 0) << name;
  }
}

}  // namespace
}  // namespace baleen
