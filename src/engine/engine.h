// The narrow interface between the server (or any front end) and the inference engine: submit a
// tokenized generation request, receive its tokens through a sink, cancel it. The engine owns the
// model's sessions ("slots"), a bounded request queue and one scheduler thread that advances every
// active sequence in one batched forward per step (prefill chunks and decodes mixed), and the
// prefix cache that lets requests sharing a prompt prefix skip recomputing it.
// Text concerns (chat templates, stop strings, reasoning split, JSON) stay in the server.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/sampling.h"
#include "model/model.h"

namespace baleen {

using RequestId = uint64_t;

struct GenerateRequest {
  std::vector<TokenId> prompt;  // non-empty; must fit the slot context with max_tokens >= 1
  int64_t max_tokens = 256;     // generated tokens at most (>= 1)
  SamplerParams sampling;       // validated by submit (validate_sampler_params)
  int32_t top_logprobs = -1;    // -1: no logprobs; 0..20: logprob of the chosen token + this many
  bool ignore_eos = false;      // keep going past end-of-sequence tokens
};

struct TopLogprob {
  TokenId id;
  float logprob;  // natural log of the probability under the model's (temperature-1) softmax
};

struct TokenEvent {
  TokenId id;
  float logprob = 0.0f;         // set when top_logprobs >= 0
  std::vector<TopLogprob> top;  // top_logprobs entries, most probable first
};

enum class FinishReason {
  kStop,       // an end-of-sequence token (not delivered as a token)
  kLength,     // max_tokens reached or the slot's context is full (prompt + generated == n_ctx)
  kCancelled,  // cancel() or the sink asked to stop
  kError,      // see Completion::error
};

struct Completion {
  FinishReason reason = FinishReason::kStop;
  int64_t prompt_tokens = 0;
  int64_t cached_tokens = 0;     // prompt tokens reused from the prefix cache
  int64_t generated_tokens = 0;  // tokens delivered through on_token (an end-of-sequence token is not)
  std::string error;             // when reason == kError
  // Wall-clock phases of the request, in milliseconds: waiting in the queue, from taking a slot to
  // the first sampled token (prefill), from there to the end (decode).
  double queue_ms = 0.0;
  double prefill_ms = 0.0;
  double decode_ms = 0.0;
};

// Receives a request's output. Called on the engine's scheduler thread: implementations must only
// queue the event and return (never block on a client socket), so one slow reader cannot stall
// other streams.
class StreamSink {
 public:
  virtual ~StreamSink() = default;
  // Return false to stop generation (e.g. a stop string was seen or the client went away); the
  // request then finishes with kCancelled unless the server decides otherwise.
  virtual bool on_token(const TokenEvent& event) = 0;
  // Called exactly once per accepted request, last.
  virtual void on_done(const Completion& completion) = 0;
};

struct EngineOptions {
  int32_t n_slots = 4;          // sequences decoded concurrently (-np)
  int64_t n_ctx = 4096;         // per-slot context
  int32_t max_queue = 64;       // waiting requests beyond the slots; more -> kUnavailable
  int64_t prefill_chunk = 256;  // prompt tokens per slot per step
  int32_t n_threads = 0;        // thread pool size (0: all CPUs)
  std::string cache_dir;        // prefix cache disk tier ("" : memory only)
  int64_t cache_tokens = 0;     // memory budget of the prefix cache in tokens (0: a default)
};

struct EngineStats {
  int64_t requests_total = 0;   // accepted by submit
  int64_t requests_active = 0;  // accepted and not yet done (queued + running)
  int64_t queue_depth = 0;      // waiting for a slot
  int64_t prompt_tokens_total = 0;
  int64_t generated_tokens_total = 0;
  int64_t prefix_cache_hit_tokens_total = 0;
  int32_t slots_busy = 0;  // slots running a request (a finished request's slot is free before on_done)
  int32_t n_slots = 0;
};

class Engine {
 public:
  // `model` must outlive the engine. Starts the scheduler thread.
  static Result<std::unique_ptr<Engine>> create(const Model& model, const EngineOptions& opts);
  virtual ~Engine() = default;  // cancels everything, joins the scheduler

  // Queues a request. Its tokens may reach the sink (on the scheduler thread) before submit returns.
  // Errors (nothing queued, the sink is not called): kInvalidArgument for a bad
  // request (empty prompt, token id outside the vocabulary, max_tokens < 1, bad sampling values,
  // top_logprobs > 20); kOutOfRange when prompt + 1 exceeds the slot context; kUnavailable when
  // the queue is full.
  virtual Result<RequestId> submit(GenerateRequest request, std::shared_ptr<StreamSink> sink) = 0;
  // Cancels a queued or running request (no-op if finished). Its slot is freed before the next
  // step; on_done(kCancelled) follows.
  virtual void cancel(RequestId id) = 0;
  virtual EngineStats stats() const = 0;
  virtual const Model& model() const = 0;
  virtual const EngineOptions& options() const = 0;
};

}  // namespace baleen
