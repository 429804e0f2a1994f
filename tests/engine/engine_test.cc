// Engine tests on small real models from the conformance data (ds2-micro and ds3-micro:
// DeepSeek-V2 / V3 style MLA + MoE with random weights and the 512-token stories260K vocabulary).
// Expected tokens come from an independent greedy loop over one Session (eval + argmax in this
// file), expected logprobs from a log-softmax computed here in double over that loop's logits.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "engine/sampling.h"
#include "testing.h"

namespace baleen {
namespace {

using Ids = std::vector<TokenId>;

const char* kDs2 = "models/micro/ds2-micro/ds2-micro-f32.gguf";
const char* kDs3 = "models/micro/ds3-micro/ds3-micro-f32.gguf";
// Conformance README section 2: BOS + the first 23 tokens of stories260K's greedy output.
const Ids kFixed = {1,   403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315,
                    421, 395, 317, 426, 338, 401, 396, 267, 337, 410, 408, 419};

const Model* load_cached(const char* rel) {
  static std::mutex m;
  static std::vector<std::pair<std::string, std::unique_ptr<Model>>> models;
  std::lock_guard<std::mutex> lock(m);
  for (auto& [name, model] : models) {
    if (name == rel) return model.get();
  }
  auto loaded = Model::load(testing::conformance_path(rel));
  EXPECT_TRUE(loaded.ok()) << rel << ": " << (loaded.ok() ? "" : loaded.error().to_string());
  if (!loaded.ok()) return nullptr;
  models.emplace_back(rel, std::move(loaded).value());
  return models.back().second.get();
}

ThreadPool& ref_pool() {
  static ThreadPool p(2);
  return p;
}

// Reference: greedy continuation by one Session, the prompt in one eval then one token at a time
// (argmax ties to the lower id). Stops after `steps` tokens or at the first id in `stop_ids`
// (which is included). logits_out: the logits each token was chosen from, [n, n_vocab].
Ids greedy_reference(const Model& model, const Ids& prompt, int steps, int64_t n_ctx,
                     const std::vector<int64_t>& stop_ids = {}, std::vector<std::vector<float>>* logits_out = nullptr) {
  SessionOptions so;
  so.n_ctx = n_ctx;
  auto s = Session::create(model, ref_pool(), so);
  EXPECT_TRUE(s.ok());
  Ids out;
  std::vector<float> logits;
  Status st = (*s)->eval(prompt, &logits, false);
  EXPECT_TRUE(st.ok()) << (st.ok() ? "" : st.error().to_string());
  for (int i = 0; i < steps && st.ok(); ++i) {
    TokenId best = 0;
    for (size_t v = 1; v < logits.size(); ++v) {
      if (logits[v] > logits[static_cast<size_t>(best)]) best = static_cast<TokenId>(v);
    }
    out.push_back(best);
    if (logits_out) logits_out->push_back(logits);
    if (std::find(stop_ids.begin(), stop_ids.end(), best) != stop_ids.end()) break;
    if (i + 1 < steps) st = (*s)->eval(std::span<const TokenId>(&best, 1), &logits, false);
  }
  return out;
}

// Records everything a request delivers; wait() blocks until on_done.
class RecordingSink : public StreamSink {
 public:
  bool on_token(const TokenEvent& e) override {
    std::function<bool(int)> hook;
    int n;
    {
      std::lock_guard<std::mutex> lock(m_);
      events_.push_back(e);
      n = static_cast<int>(events_.size());
      hook = on_token_hook;
    }
    return hook ? hook(n) : true;
  }
  void on_done(const Completion& c) override {
    if (on_done_hook) on_done_hook(c);
    std::lock_guard<std::mutex> lock(m_);
    completion_ = c;
    ++n_done_;
    cv_.notify_all();
  }
  // Waits up to a minute (a hang is a failure, not a timing measurement).
  Completion wait() {
    std::unique_lock<std::mutex> lock(m_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(60), [&] { return n_done_ > 0; })) << "no on_done";
    return completion_;
  }
  Ids ids() {
    std::lock_guard<std::mutex> lock(m_);
    Ids out;
    for (const TokenEvent& e : events_) out.push_back(e.id);
    return out;
  }
  std::vector<TokenEvent> events() {
    std::lock_guard<std::mutex> lock(m_);
    return events_;
  }
  int n_done() {
    std::lock_guard<std::mutex> lock(m_);
    return n_done_;
  }
  // Called on the scheduler thread with the number of tokens received so far; its result is
  // on_token's. Set before submitting.
  std::function<bool(int)> on_token_hook;
  std::function<void(const Completion&)> on_done_hook;

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<TokenEvent> events_;
  Completion completion_;
  int n_done_ = 0;
};

// Holds the scheduler thread inside a sink's on_token when the request's n-th token arrives, so
// what a test does meanwhile happens at a known point: install hook() as on_token_hook, wait for
// reached(), act, then release(). Waits are bounded (a hang is a failure, not a measurement).
class TokenGate {
 public:
  explicit TokenGate(int n) : n_(n) {}
  std::function<bool(int)> hook() {
    return [this](int n) {
      if (n == n_) {
        std::unique_lock<std::mutex> lock(m_);
        reached_ = true;
        cv_.notify_all();
        cv_.wait_for(lock, std::chrono::seconds(60), [&] { return released_; });
      }
      return true;
    };
  }
  // Waits up to a minute for the n-th token; false if it never came.
  bool reached() {
    std::unique_lock<std::mutex> lock(m_);
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return reached_; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(m_);
      released_ = true;
    }
    cv_.notify_all();
  }

 private:
  const int n_;
  std::mutex m_;
  std::condition_variable cv_;
  bool reached_ = false, released_ = false;
};

std::unique_ptr<Engine> make_engine(const Model& model, EngineOptions opts) {
  if (opts.n_threads == 0) opts.n_threads = 2;
  auto e = Engine::create(model, opts);
  EXPECT_TRUE(e.ok()) << (e.ok() ? "" : e.error().to_string());
  return e.ok() ? std::move(e).value() : nullptr;
}

GenerateRequest greedy_request(const Ids& prompt, int64_t max_tokens) {
  GenerateRequest r;
  r.prompt = prompt;
  r.max_tokens = max_tokens;
  r.sampling.temperature = 0.0f;
  return r;
}

// Runs one request to completion.
std::pair<Ids, Completion> run_one(Engine& engine, GenerateRequest r) {
  auto sink = std::make_shared<RecordingSink>();
  auto id = engine.submit(std::move(r), sink);
  EXPECT_TRUE(id.ok()) << (id.ok() ? "" : id.error().to_string());
  if (!id.ok()) return {};
  Completion c = sink->wait();
  EXPECT_EQ(sink->n_done(), 1);
  return {sink->ids(), c};
}

#define LOAD_OR_SKIP(var, rel)         \
  BALEEN_REQUIRE_CONFORMANCE();        \
  const Model* var = load_cached(rel); \
  ASSERT_NE(var, nullptr)

TEST(Engine, GreedyMatchesSessionLoop) {
  LOAD_OR_SKIP(model, kDs2);
  const Ids ref = greedy_reference(*model, kFixed, 16, 256);
  for (int64_t chunk : {256, 5}) {  // whole prompt in one step, and in chunks of 5
    EngineOptions o;
    o.n_slots = 2;
    o.n_ctx = 256;
    o.prefill_chunk = chunk;
    auto engine = make_engine(*model, o);
    ASSERT_NE(engine, nullptr);
    auto [ids, c] = run_one(*engine, greedy_request(kFixed, 16));
    EXPECT_EQ(ids, ref) << "prefill_chunk " << chunk;
    EXPECT_EQ(c.reason, FinishReason::kLength);
    EXPECT_EQ(c.prompt_tokens, 24);
    EXPECT_EQ(c.cached_tokens, 0);
    EXPECT_EQ(c.generated_tokens, 16);
    EXPECT_GE(c.queue_ms, 0.0);  // phases are reported (values not checked: no timing in tests)
    EXPECT_GE(c.prefill_ms, 0.0);
    EXPECT_GE(c.decode_ms, 0.0);
  }
}

// Reference for sampled decoding: one Session and one Sampler (engine/sampling.h, tested on its
// own) driven directly, the prompt accepted into the sampler's history first.
Ids sampled_reference(const Model& model, const GenerateRequest& r, int64_t n_ctx) {
  SessionOptions so;
  so.n_ctx = n_ctx;
  auto s = Session::create(model, ref_pool(), so);
  EXPECT_TRUE(s.ok());
  Sampler sampler(r.sampling);
  for (TokenId id : r.prompt) sampler.accept(id);
  Ids out;
  std::vector<float> logits;
  Status st = (*s)->eval(r.prompt, &logits, false);
  for (int64_t i = 0; i < r.max_tokens && st.ok(); ++i) {
    const TokenId id = sampler.sample(logits);
    sampler.accept(id);
    out.push_back(id);
    if (i + 1 < r.max_tokens) st = (*s)->eval(std::span<const TokenId>(&id, 1), &logits, false);
  }
  EXPECT_TRUE(st.ok());
  return out;
}

// Eight different requests, greedy and sampled, submitted at once. The last two share a 20-token
// prefix, so with few slots the second reuses the first's cache.
std::vector<GenerateRequest> mixed_requests() {
  std::vector<GenerateRequest> out;
  const float temps[] = {0.0f, 0.8f, 1.0f, 0.0f, 1.3f, 0.6f, 1.0f, 1.0f};
  for (int i = 0; i < 8; ++i) {
    GenerateRequest r;
    const size_t len = i < 6 ? 4 + 5 * static_cast<size_t>(i) : 26;  // 4..29 tokens
    r.prompt.push_back(1);
    for (size_t k = 1; k < len; ++k) {
      if (i < 6) {
        r.prompt.push_back(kFixed[(k + 3 * i) % kFixed.size()]);
      } else {
        r.prompt.push_back(k < 20 ? kFixed[k] : static_cast<TokenId>(300 + i + k));
      }
    }
    r.max_tokens = 10 + 3 * i;
    r.sampling.temperature = temps[i];
    r.sampling.seed = 1000 + static_cast<uint64_t>(i);
    if (i == 2) r.sampling.top_k = 40;
    if (i == 4) r.sampling.top_p = 0.9f;
    if (i == 5) r.sampling.repetition_penalty = 1.3f;
    if (i == 7) r.sampling.min_p = 0.05f;
    if (i == 1) r.top_logprobs = 3;
    r.ignore_eos = true;
    out.push_back(r);
  }
  return out;
}

struct RunAll {
  std::vector<std::pair<Ids, Completion>> results;
  EngineStats stats;
};

RunAll run_all(const Model& model, int32_t n_slots, int64_t prefill_chunk) {
  EngineOptions o;
  o.n_slots = n_slots;
  o.n_ctx = 128;
  o.prefill_chunk = prefill_chunk;  // 7: prompts take several steps, mixed with other slots' decodes
  auto engine = make_engine(model, o);
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (GenerateRequest& r : mixed_requests()) {
    sinks.push_back(std::make_shared<RecordingSink>());
    EXPECT_TRUE(engine->submit(r, sinks.back()).ok());
  }
  RunAll out;
  for (auto& s : sinks) {
    Completion c = s->wait();
    out.results.emplace_back(s->ids(), c);
  }
  out.stats = engine->stats();
  return out;
}

TEST(Engine, SameStreamsWithOneOrFourSlots) {
  LOAD_OR_SKIP(model, kDs2);
  const auto reqs = mixed_requests();
  const RunAll one = run_all(*model, 1, 7);
  for (auto [n_slots, chunk] : {std::pair<int32_t, int64_t>{4, 7}, {3, 256}}) {
    const RunAll many = run_all(*model, n_slots, chunk);
    ASSERT_EQ(one.results.size(), many.results.size());
    for (size_t i = 0; i < one.results.size(); ++i) {
      EXPECT_EQ(one.results[i].first, many.results[i].first) << "request " << i << ", " << n_slots << " slots";
      EXPECT_EQ(many.results[i].second.reason, FinishReason::kLength) << "request " << i;
    }
    EXPECT_EQ(many.stats.generated_tokens_total, one.stats.generated_tokens_total);
    EXPECT_EQ(many.stats.requests_total, 8);
  }
  int64_t generated = 0, prompt = 0;
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(one.results[i].second.reason, FinishReason::kLength) << "request " << i;
    EXPECT_EQ(static_cast<int64_t>(one.results[i].first.size()), reqs[i].max_tokens) << "request " << i;
    generated += reqs[i].max_tokens;
    prompt += static_cast<int64_t>(reqs[i].prompt.size());
  }
  // One slot: request 7 reuses the 20-token prefix it shares with request 6 (the slot's previous
  // occupant); the others share only BOS with their predecessor.
  EXPECT_EQ(one.results[7].second.cached_tokens, 20);
  EXPECT_EQ(one.stats.generated_tokens_total, generated);
  EXPECT_EQ(one.stats.prompt_tokens_total, prompt);
  EXPECT_EQ(one.stats.prefix_cache_hit_tokens_total, 6 + 20);
  // Every stream also matches an independent loop over one Session (greedy or sampled).
  for (size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(one.results[i].first, sampled_reference(*model, reqs[i], 128)) << "request " << i;
  }
  EXPECT_EQ(one.results[0].first, greedy_reference(*model, reqs[0].prompt, static_cast<int>(reqs[0].max_tokens), 128));
}

TEST(Engine, MaxTokensAndContextFullGiveLength) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 1;
  o.n_ctx = 32;
  auto engine = make_engine(*model, o);
  auto [ids, c] = run_one(*engine, greedy_request(kFixed, 5));
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(c.reason, FinishReason::kLength);
  EXPECT_EQ(c.generated_tokens, 5);

  // 24 prompt tokens in a context of 32: 8 generated tokens fill it.
  GenerateRequest r = greedy_request(kFixed, 1000);
  r.ignore_eos = true;
  auto [ids2, c2] = run_one(*engine, r);
  EXPECT_EQ(c2.reason, FinishReason::kLength);
  EXPECT_EQ(ids2.size(), 8u);
  EXPECT_EQ(c2.generated_tokens, 8);
  EXPECT_EQ(ids2, greedy_reference(*model, kFixed, 8, 32));

  // A prompt of n_ctx - 1 tokens still gets its one token.
  Ids long_prompt(31, 261);
  long_prompt[0] = 1;
  auto [ids3, c3] = run_one(*engine, greedy_request(long_prompt, 10));
  EXPECT_EQ(ids3.size(), 1u);
  EXPECT_EQ(c3.reason, FinishReason::kLength);
}

TEST(Engine, EndOfSequenceStopsUnlessIgnored) {
  // ds3-micro's random weights reach </s> (id 2) under greedy decoding from some two-token prompts
  // [BOS, x]: take the first x whose continuation ends with it after a few tokens.
  LOAD_OR_SKIP(model, kDs3);
  const std::vector<int64_t>& eos = model->config().eos_token_ids;
  ASSERT_FALSE(eos.empty());
  Ids prompt, ref;
  for (TokenId x = 3; x < 512 && prompt.empty(); ++x) {
    Ids r = greedy_reference(*model, {1, x}, 30, 64, eos);
    if (r.size() >= 4 && std::find(eos.begin(), eos.end(), r.back()) != eos.end()) {
      prompt = {1, x};
      ref = r;
    }
  }
  ASSERT_FALSE(prompt.empty()) << "no greedy continuation of [BOS, x] reaches EOS";
  EngineOptions o;
  o.n_slots = 2;
  o.n_ctx = 64;
  auto engine = make_engine(*model, o);
  auto [ids, c] = run_one(*engine, greedy_request(prompt, 100));
  EXPECT_EQ(c.reason, FinishReason::kStop);
  EXPECT_EQ(ids, Ids(ref.begin(), ref.end() - 1));  // the EOS itself is not delivered
  EXPECT_EQ(c.generated_tokens, static_cast<int64_t>(ref.size()) - 1);

  GenerateRequest r = greedy_request(prompt, static_cast<int64_t>(ref.size()) + 2);
  r.ignore_eos = true;
  auto [ids2, c2] = run_one(*engine, r);
  EXPECT_EQ(c2.reason, FinishReason::kLength);
  ASSERT_EQ(ids2.size(), ref.size() + 2);
  EXPECT_EQ(Ids(ids2.begin(), ids2.begin() + static_cast<ptrdiff_t>(ref.size())), ref);  // EOS delivered
}

TEST(Engine, InvalidRequestsAreRejectedWithNothingDelivered) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 1;
  o.n_ctx = 16;
  auto engine = make_engine(*model, o);
  const int64_t n_vocab = model->config().n_vocab;
  struct Case {
    const char* what;
    std::function<void(GenerateRequest&)> edit;
    ErrorCode code;
  };
  const std::vector<Case> cases = {
      {"empty prompt", [](GenerateRequest& r) { r.prompt.clear(); }, ErrorCode::kInvalidArgument},
      {"id >= n_vocab", [&](GenerateRequest& r) { r.prompt[1] = static_cast<TokenId>(n_vocab); },
       ErrorCode::kInvalidArgument},
      {"negative id", [](GenerateRequest& r) { r.prompt[0] = -1; }, ErrorCode::kInvalidArgument},
      {"max_tokens 0", [](GenerateRequest& r) { r.max_tokens = 0; }, ErrorCode::kInvalidArgument},
      {"temperature < 0", [](GenerateRequest& r) { r.sampling.temperature = -0.5f; }, ErrorCode::kInvalidArgument},
      {"top_p 0", [](GenerateRequest& r) { r.sampling.top_p = 0.0f; }, ErrorCode::kInvalidArgument},
      {"top_logprobs 21", [](GenerateRequest& r) { r.top_logprobs = 21; }, ErrorCode::kInvalidArgument},
      {"top_logprobs -2", [](GenerateRequest& r) { r.top_logprobs = -2; }, ErrorCode::kInvalidArgument},
      {"prompt == n_ctx", [](GenerateRequest& r) { r.prompt.assign(16, 261); }, ErrorCode::kOutOfRange},
  };
  for (const Case& c : cases) {
    GenerateRequest r = greedy_request({1, 403, 407}, 4);
    c.edit(r);
    auto sink = std::make_shared<RecordingSink>();
    auto id = engine->submit(r, sink);
    ASSERT_FALSE(id.ok()) << c.what;
    EXPECT_EQ(id.error().code(), c.code) << c.what << ": " << id.error().to_string();
    if (c.code == ErrorCode::kOutOfRange) {
      EXPECT_NE(id.error().message().find("16"), std::string::npos) << id.error().message();
    }
    EXPECT_TRUE(sink->events().empty()) << c.what;
    EXPECT_EQ(sink->n_done(), 0) << c.what;
  }
  EXPECT_FALSE(engine->submit(greedy_request({1}, 1), nullptr).ok());
  EXPECT_EQ(engine->stats().requests_total, 0);
  // The largest prompt that fits is accepted.
  auto [ids, c] = run_one(*engine, greedy_request(Ids(15, 261), 4));
  EXPECT_EQ(ids.size(), 1u);
}

// A running request whose sink holds the scheduler at its third token (deliberately, so what the
// test does meanwhile happens at a known point): the queue fills, then the request is cancelled.
TEST(Engine, QueueFullThenCancelFreesTheSlot) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 1;
  o.max_queue = 1;
  o.n_ctx = 256;
  auto engine = make_engine(*model, o);

  TokenGate held(3);
  auto a = std::make_shared<RecordingSink>();
  a->on_token_hook = held.hook();
  EngineStats at_done;
  a->on_done_hook = [&](const Completion&) { at_done = engine->stats(); };
  GenerateRequest long_req = greedy_request(kFixed, 200);
  long_req.ignore_eos = true;
  auto id_a = engine->submit(long_req, a);
  ASSERT_TRUE(id_a.ok());
  ASSERT_TRUE(held.reached());
  auto b = std::make_shared<RecordingSink>();
  auto id_b = engine->submit(greedy_request(kFixed, 4), b);
  EXPECT_TRUE(id_b.ok());
  auto c = std::make_shared<RecordingSink>();
  auto id_c = engine->submit(greedy_request(kFixed, 4), c);
  ASSERT_FALSE(id_c.ok());
  EXPECT_EQ(id_c.error().code(), ErrorCode::kUnavailable);
  EngineStats s = engine->stats();
  EXPECT_EQ(s.queue_depth, 1);
  EXPECT_EQ(s.slots_busy, 1);
  EXPECT_EQ(s.requests_active, 2);

  engine->cancel(*id_a);
  held.release();
  Completion ca = a->wait();
  EXPECT_EQ(ca.reason, FinishReason::kCancelled);
  EXPECT_EQ(ca.generated_tokens, 3);
  EXPECT_EQ(a->ids().size(), 3u);
  EXPECT_EQ(at_done.slots_busy, 0);  // freed before on_done

  Completion cb = b->wait();
  EXPECT_EQ(cb.reason, FinishReason::kLength);
  EXPECT_EQ(b->ids(), greedy_reference(*model, kFixed, 4, 256));
  EXPECT_EQ(c->n_done(), 0);
  engine->cancel(*id_a);  // finished: no-op
  s = engine->stats();
  EXPECT_EQ(s.requests_total, 2);
  EXPECT_EQ(s.requests_active, 0);
  EXPECT_EQ(s.slots_busy, 0);
  EXPECT_EQ(s.queue_depth, 0);
}

// Cancels from this thread while the scheduler is held inside the running request's first
// on_token: the queued request is dropped without output, the running one stops after that token.
TEST(Engine, CancelQueuedAndRunningRequests) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 1;
  o.n_ctx = 4096;
  auto engine = make_engine(*model, o);
  GenerateRequest long_req = greedy_request(kFixed, 4000);
  long_req.ignore_eos = true;
  TokenGate held(1);
  auto a = std::make_shared<RecordingSink>();
  a->on_token_hook = held.hook();
  auto b = std::make_shared<RecordingSink>();
  auto id_a = engine->submit(long_req, a);
  auto id_b = engine->submit(long_req, b);
  ASSERT_TRUE(id_a.ok() && id_b.ok());
  ASSERT_TRUE(held.reached());
  engine->cancel(*id_b);  // still queued behind a
  engine->cancel(*id_a);
  held.release();
  Completion ca = a->wait();
  EXPECT_EQ(ca.reason, FinishReason::kCancelled);
  EXPECT_EQ(ca.generated_tokens, 1);
  Completion cb = b->wait();
  EXPECT_EQ(cb.reason, FinishReason::kCancelled);
  EXPECT_TRUE(b->ids().empty());
  EXPECT_EQ(cb.generated_tokens, 0);
  EXPECT_EQ(a->n_done(), 1);
  EXPECT_EQ(b->n_done(), 1);
  const EngineStats s = engine->stats();
  EXPECT_EQ(s.slots_busy, 0);
  EXPECT_EQ(s.requests_active, 0);
  EXPECT_EQ(s.queue_depth, 0);
}

// Cancelling during a chunked prefill: a 100-token prompt takes 25 steps of 4 tokens; a short
// request in the other slot holds the scheduler at its third token (step 3 or 4) while the long one
// is cancelled, which then ends before its prompt is complete, with nothing delivered.
TEST(Engine, CancelBetweenPrefillChunks) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 2;
  o.n_ctx = 256;
  o.prefill_chunk = 4;
  auto engine = make_engine(*model, o);
  Ids long_prompt;
  for (int i = 0; i < 100; ++i) long_prompt.push_back(kFixed[static_cast<size_t>(i) % kFixed.size()]);
  TokenGate held(3);
  auto gate = std::make_shared<RecordingSink>();
  gate->on_token_hook = held.hook();
  auto p = std::make_shared<RecordingSink>();
  auto id_p = engine->submit(greedy_request(long_prompt, 10), p);
  ASSERT_TRUE(id_p.ok());
  ASSERT_TRUE(engine->submit(greedy_request({1, 403}, 6), gate).ok());
  ASSERT_TRUE(held.reached());
  engine->cancel(*id_p);
  held.release();
  const Completion cp = p->wait();
  EXPECT_EQ(cp.reason, FinishReason::kCancelled);
  EXPECT_EQ(cp.generated_tokens, 0);
  EXPECT_TRUE(p->ids().empty());
  const Completion cg = gate->wait();
  EXPECT_EQ(cg.reason, FinishReason::kLength);
  EXPECT_EQ(gate->ids(), greedy_reference(*model, {1, 403}, 6, 256));
  EXPECT_EQ(engine->stats().slots_busy, 0);
}

// cancel() and submit() called from inside a sink (on the scheduler thread) must not deadlock.
TEST(Engine, CancelAndSubmitFromInsideASink) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 2;
  o.n_ctx = 256;
  auto engine = make_engine(*model, o);
  std::mutex m;
  std::condition_variable cv;
  RequestId id = 0;  // set once submit returns; the first on_token waits for it
  auto inner = std::make_shared<RecordingSink>();
  auto sink = std::make_shared<RecordingSink>();
  sink->on_token_hook = [&](int n) {
    std::unique_lock<std::mutex> lock(m);
    cv.wait_for(lock, std::chrono::seconds(60), [&] { return id != 0; });
    if (n == 2) {
      EXPECT_TRUE(engine->submit(greedy_request(kFixed, 3), inner).ok());
      engine->cancel(id);
    }
    return true;
  };
  GenerateRequest r = greedy_request(kFixed, 100);
  r.ignore_eos = true;
  auto got = engine->submit(r, sink);
  ASSERT_TRUE(got.ok());
  {
    std::lock_guard<std::mutex> lock(m);
    id = *got;
  }
  cv.notify_all();
  Completion c = sink->wait();
  EXPECT_EQ(c.reason, FinishReason::kCancelled);
  EXPECT_EQ(c.generated_tokens, 2);
  EXPECT_EQ(inner->wait().reason, FinishReason::kLength);
  EXPECT_EQ(inner->ids(), greedy_reference(*model, kFixed, 3, 256));
}

TEST(Engine, SinkReturningFalseStops) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 2;
  o.n_ctx = 128;
  auto engine = make_engine(*model, o);
  auto sink = std::make_shared<RecordingSink>();
  sink->on_token_hook = [](int n) { return n < 4; };
  ASSERT_TRUE(engine->submit(greedy_request(kFixed, 50), sink).ok());
  Completion c = sink->wait();
  EXPECT_EQ(c.reason, FinishReason::kCancelled);
  EXPECT_EQ(sink->ids().size(), 4u);
  EXPECT_EQ(c.generated_tokens, 4);
}

TEST(Engine, PrefixReuseMatchesColdRun) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 2;
  o.n_ctx = 128;
  auto engine = make_engine(*model, o);
  auto [first, c1] = run_one(*engine, greedy_request(kFixed, 6));
  EXPECT_EQ(c1.cached_tokens, 0);

  // The next turn: the first prompt, what was generated, then new tokens.
  Ids next = kFixed;
  next.insert(next.end(), first.begin(), first.end());
  next.insert(next.end(), {300, 301, 302});
  auto [second, c2] = run_one(*engine, greedy_request(next, 8));
  // The slot holds the prompt and all generated tokens but the last (never evaluated).
  EXPECT_EQ(c2.cached_tokens, 24 + 5);
  EXPECT_EQ(second, greedy_reference(*model, next, 8, 128));

  // Exactly the same prompt again: all but its last token are reused.
  auto [third, c3] = run_one(*engine, greedy_request(next, 8));
  EXPECT_EQ(c3.cached_tokens, static_cast<int64_t>(next.size()) - 1);
  EXPECT_EQ(third, second);
  EXPECT_EQ(engine->stats().prefix_cache_hit_tokens_total, 29 + static_cast<int64_t>(next.size()) - 1);
}

// The cross-slot prefix cache (engine/prefix_cache.h): a prompt evaluated once, then evicted from
// the only slot by another prompt, comes back from the cache in whole 32-token blocks, and the
// greedy continuation equals a cold Session::eval run's.
TEST(Engine, PrefixCacheRestoresAnEvictedPrompt) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 1;
  o.n_ctx = 128;
  auto engine = make_engine(*model, o);
  Ids a = kFixed;  // 24 + 16 = 40 tokens: one full block of 32
  for (int i = 0; i < 16; ++i) a.push_back(300 + i);
  Ids b = {1, 500, 501, 502, 503, 504};
  auto [first, c1] = run_one(*engine, greedy_request(a, 4));
  EXPECT_EQ(c1.cached_tokens, 0);
  auto [other, c2] = run_one(*engine, greedy_request(b, 4));
  EXPECT_EQ(c2.cached_tokens, 1);  // the shared BOS, from the slot itself
  auto [again, c3] = run_one(*engine, greedy_request(a, 4));
  EXPECT_EQ(c3.cached_tokens, 32);
  EXPECT_EQ(again, greedy_reference(*model, a, 4, 128));
  EXPECT_EQ(again, first);
}

// The prefix cache's disk tier through the engine (EngineOptions::cache_dir, `baleen serve
// --cache-dir`): with a one-block memory budget, a second prompt evicts the first prompt's block to
// disk; a new engine over the same folder (as after a restart) reuses it, with the cold run's output.
TEST(Engine, PrefixCacheDiskTierSurvivesARestart) {
  LOAD_OR_SKIP(model, kDs2);
  const std::string dir = baleen::testing::scratch_dir("engine_prefix_disk");
  Ids a = kFixed;
  for (int i = 0; i < 16; ++i) a.push_back(300 + i);
  Ids b = {1, 500, 501, 502};
  for (int i = 0; i < 36; ++i) b.push_back(320 + i);
  EngineOptions o;
  o.n_slots = 1;
  o.n_ctx = 128;
  o.cache_dir = dir;
  o.cache_tokens = 32;
  Ids first;
  {
    auto engine = make_engine(*model, o);
    first = run_one(*engine, greedy_request(a, 4)).first;
    run_one(*engine, greedy_request(b, 4));  // its block pushes a's out of memory, onto disk
  }
  auto engine = make_engine(*model, o);
  auto [again, c] = run_one(*engine, greedy_request(a, 4));
  EXPECT_EQ(c.cached_tokens, 32);
  EXPECT_EQ(again, first);
  EXPECT_EQ(again, greedy_reference(*model, a, 4, 128));
}

TEST(Engine, LogprobsAreTheLogSoftmaxOfTheLogits) {
  LOAD_OR_SKIP(model, kDs2);
  std::vector<std::vector<float>> ref_logits;
  const Ids ref = greedy_reference(*model, kFixed, 6, 128, {}, &ref_logits);
  EngineOptions o;
  o.n_slots = 1;
  o.n_ctx = 128;
  auto engine = make_engine(*model, o);
  GenerateRequest r = greedy_request(kFixed, 6);
  r.top_logprobs = 5;
  auto sink = std::make_shared<RecordingSink>();
  ASSERT_TRUE(engine->submit(r, sink).ok());
  sink->wait();
  const auto events = sink->events();
  ASSERT_EQ(events.size(), ref.size());
  for (size_t t = 0; t < events.size(); ++t) {
    const std::vector<float>& l = ref_logits[t];
    double mx = -INFINITY, sum = 0.0;
    for (float v : l) mx = std::max(mx, static_cast<double>(v));
    for (float v : l) sum += std::exp(v - mx);
    auto lp = [&](TokenId id) { return l[static_cast<size_t>(id)] - mx - std::log(sum); };
    EXPECT_EQ(events[t].id, ref[t]);
    EXPECT_NEAR(events[t].logprob, lp(events[t].id), 1e-4) << "token " << t;
    ASSERT_EQ(events[t].top.size(), 5u);
    EXPECT_EQ(events[t].top[0].id, events[t].id);  // greedy: the chosen token is the most probable
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_NEAR(events[t].top[k].logprob, lp(events[t].top[k].id), 1e-4);
      if (k > 0) {
        EXPECT_GE(events[t].top[k - 1].logprob, events[t].top[k].logprob);
      }
    }
    // Nothing outside the list is more probable than its last entry.
    size_t more = 0;
    for (size_t v = 0; v < l.size(); ++v) more += lp(static_cast<TokenId>(v)) > events[t].top[4].logprob + 1e-4;
    EXPECT_LE(more, 4u);
  }
  // Without top_logprobs: no list.
  r.top_logprobs = 0;
  auto sink0 = std::make_shared<RecordingSink>();
  ASSERT_TRUE(engine->submit(r, sink0).ok());
  sink0->wait();
  for (const TokenEvent& e : sink0->events()) EXPECT_TRUE(e.top.empty());
}

TEST(Engine, DestructionCancelsEverything) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 1;
  o.n_ctx = 1024;
  auto engine = make_engine(*model, o);
  GenerateRequest r = greedy_request(kFixed, 900);
  r.ignore_eos = true;
  std::vector<std::shared_ptr<RecordingSink>> sinks;
  for (int i = 0; i < 3; ++i) {
    sinks.push_back(std::make_shared<RecordingSink>());
    ASSERT_TRUE(engine->submit(r, sinks.back()).ok());
  }
  engine.reset();
  for (auto& s : sinks) {
    EXPECT_EQ(s->n_done(), 1);
  }
  EXPECT_EQ(sinks[2]->wait().reason, FinishReason::kCancelled);
}

TEST(Engine, BadOptionsAreRejected) {
  LOAD_OR_SKIP(model, kDs2);
  EngineOptions o;
  o.n_slots = 0;
  EXPECT_FALSE(Engine::create(*model, o).ok());
  o.n_slots = 1;
  o.prefill_chunk = 0;
  EXPECT_FALSE(Engine::create(*model, o).ok());
}

}  // namespace
}  // namespace baleen
