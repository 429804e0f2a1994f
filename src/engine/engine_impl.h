// The engine behind engine.h: a bounded FIFO of requests, n_slots sessions ("slots") and one
// scheduler thread. Each step admits queued requests into free slots (preferring the slot whose
// cached tokens share the longest prefix with the prompt), then advances every busy slot in one
// forward (step_forward): a slot still prefilling its prompt contributes its next chunk of at most
// prefill_chunk tokens, a decoding slot its last sampled token. Sampling state (engine/sampling.h)
// belongs to the request, seeded from its parameters, so a request's tokens do not depend on which
// slot runs it or what else runs beside it.
//
// Locking: mutex_ guards the queue, the live-request map, the slot busy flags and the stats;
// everything else in a Slot is touched only by the scheduler thread. Sinks are called on the
// scheduler thread with no lock held, so a sink may call submit() or cancel().
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/thread_pool.h"
#include "engine/engine.h"
#include "engine/json_constraint.h"
#include "engine/logprobs.h"
#include "engine/prefix_cache.h"
#include "engine/sampling.h"
#include "engine/step_forward.h"

namespace baleen {

class EngineImpl final : public Engine {
 public:
  EngineImpl(const Model& model, const EngineOptions& opts);
  ~EngineImpl() override;
  // Creates the slots' sessions and the prefix cache, then starts the scheduler.
  Status start();

  Result<RequestId> submit(GenerateRequest request, std::shared_ptr<StreamSink> sink) override;
  void cancel(RequestId id) override;
  EngineStats stats() const override;
  const Model& model() const override { return model_; }
  const EngineOptions& options() const override { return opts_; }

 private:
  // An accepted request, from submit() to on_done().
  struct Request {
    RequestId id = 0;
    GenerateRequest params;
    std::shared_ptr<StreamSink> sink;
    std::atomic<bool> cancelled{false};
    std::chrono::steady_clock::time_point submitted, admitted, first_token;
  };

  // One session and the request it runs. `tokens` mirrors what the session holds (its KV cache),
  // kept after the request ends so the next request can reuse a common prefix.
  struct Slot {
    std::unique_ptr<Session> session;
    std::vector<TokenId> tokens;      // == the session's first n_past() tokens
    std::shared_ptr<Request> active;  // nullptr: free (guarded by mutex_ for the busy count)
    std::optional<Sampler> sampler;
    size_t prompt_pos = 0;      // next prompt index to evaluate
    int64_t cached = 0;         // prompt tokens reused from `tokens`
    int64_t generated = 0;      // tokens delivered
    TokenId last = 0;           // last sampled token, evaluated by the next decode step
    uint64_t last_used = 0;     // admission counter, for least-recently-used slot choice
    std::vector<float> logits;  // [n_vocab] of the last evaluated token
    JsonRecognizer json;        // JSON mode: the generated text so far (reset per request)
    bool json_active = false;   // JSON mode and past json_after_token
    bool prefilling() const { return active && prompt_pos < active->params.prompt.size(); }
  };

  Status validate(const GenerateRequest& request) const;
  Status start_prefix_cache();
  void scheduler_loop();
  // One scheduler step; returns false when the engine is stopping.
  bool step();
  // Picks a free slot for `prompt` (longest common prefix, then least recently used); -1: none.
  int choose_slot(const std::vector<TokenId>& prompt) const;
  // The cross-slot prefix cache (engine/prefix_cache.h): restore before prefill, insert after it.
  size_t prefix_cache_lookup(Slot& slot, const std::vector<TokenId>& prompt, size_t in_slot);
  void prefix_cache_insert(const Slot& slot);
  // Binds `req` to slot `s` (truncating its cache to the common prefix). Called without the lock.
  void admit(int s, std::shared_ptr<Request> req);
  // Samples, reports and finishes as needed after slot s evaluated its last prompt token or its
  // last sampled token (its logits are in slot.logits).
  void after_logits(int s);
  // Frees slot s (the busy count and stats first), then calls on_done.
  void finish_slot(int s, FinishReason reason, std::string error = {});
  void finish_unstarted(const std::shared_ptr<Request>& req, FinishReason reason);
  static Completion completion_of(const Request& req, FinishReason reason);
  // JSON mode's per-vocabulary table, built on the first json_object request (scheduler thread).
  const JsonTokenMask& json_mask();

  const Model& model_;
  EngineOptions opts_;
  std::vector<int64_t> eos_ids_;
  ThreadPool pool_;
  std::vector<Slot> slots_;
  LogprobCalculator logprobs_;
  std::unique_ptr<PrefixCache> prefix_cache_;  // null when the model's sessions cannot export KV
  // One step's forward, reused across steps (scheduler thread only).
  std::vector<StepItem> items_;
  StepForward forward_;
  std::vector<int> item_slot_;
  std::vector<uint8_t> item_prefill_;
  uint64_t admissions_ = 0;
  std::unique_ptr<JsonTokenMask> json_mask_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Request>> queue_;
  std::unordered_map<RequestId, std::shared_ptr<Request>> live_;
  int32_t slots_busy_ = 0;
  bool stop_ = false;
  RequestId next_id_ = 1;
  EngineStats stats_;

  std::thread scheduler_;
};

}  // namespace baleen
