// EngineImpl's front half: creation, validation and the thread-safe calls (submit, cancel, stats).
// The scheduler's step is in scheduler.cc.
#include "engine/engine_impl.h"

#include <algorithm>
#include <utility>

#include "engine/model_fingerprint.h"

namespace baleen {

constexpr int32_t kMaxTopLogprobs = 20;

Result<std::unique_ptr<Engine>> Engine::create(const Model& model, const EngineOptions& opts) {
  if (opts.n_slots < 1) return make_error(ErrorCode::kInvalidArgument, "n_slots must be >= 1 (got %d)", opts.n_slots);
  if (opts.max_queue < 0) {
    return make_error(ErrorCode::kInvalidArgument, "max_queue must be >= 0 (got %d)", opts.max_queue);
  }
  if (opts.prefill_chunk < 1) {
    return make_error(ErrorCode::kInvalidArgument, "prefill_chunk must be >= 1 (got %lld)",
                      static_cast<long long>(opts.prefill_chunk));
  }
  if (opts.n_ctx < 2) {
    return make_error(ErrorCode::kInvalidArgument, "n_ctx must be >= 2 (got %lld)", static_cast<long long>(opts.n_ctx));
  }
  auto engine = std::make_unique<EngineImpl>(model, opts);
  BALEEN_TRY(engine->start());
  return std::unique_ptr<Engine>(std::move(engine));
}

EngineImpl::EngineImpl(const Model& model, const EngineOptions& opts)
    : model_(model), opts_(opts), eos_ids_(model.config().eos_token_ids), pool_(opts.n_threads) {
  stats_.n_slots = opts.n_slots;
}

Status EngineImpl::start() {
  SessionOptions so;
  so.n_ctx = opts_.n_ctx;
  slots_.resize(static_cast<size_t>(opts_.n_slots));
  for (Slot& slot : slots_) {
    BALEEN_ASSIGN_OR_RETURN(slot.session, Session::create(model_, pool_, so));
    slot.logits.reserve(static_cast<size_t>(model_.config().n_vocab));
  }
  BALEEN_TRY(start_prefix_cache());
  scheduler_ = std::thread([this] { scheduler_loop(); });
  return ok_status();
}

// Default memory budget of the prefix cache when EngineOptions::cache_tokens is 0: 512 MiB of rows,
// at most 16384 tokens and at least one context's worth of blocks.
constexpr int64_t kDefaultCacheBytes = int64_t{512} << 20;
constexpr int64_t kDefaultCacheMaxTokens = 16384;

Status EngineImpl::start_prefix_cache() {
  const int64_t floats = slots_.front().session->kv_floats_per_token();
  if (floats <= 0) return ok_status();  // sessions that cannot export their rows: no cross-slot cache
  PrefixCacheOptions po;
  po.floats_per_token = floats;
  po.max_memory_tokens = opts_.cache_tokens;
  if (po.max_memory_tokens == 0) {
    const int64_t by_bytes = kDefaultCacheBytes / (floats * static_cast<int64_t>(sizeof(float)));
    po.max_memory_tokens = std::max(std::min(by_bytes, kDefaultCacheMaxTokens), po.block_tokens);
  }
  po.cache_dir = opts_.cache_dir;
  if (!po.cache_dir.empty()) {
    BALEEN_ASSIGN_OR_RETURN(po.model_fingerprint, model_fingerprint(model_, pool_));
  }
  BALEEN_ASSIGN_OR_RETURN(prefix_cache_, PrefixCache::create(po));
  return ok_status();
}

EngineImpl::~EngineImpl() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
}

Status EngineImpl::validate(const GenerateRequest& r) const {
  const int64_t n_vocab = model_.config().n_vocab;
  if (r.prompt.empty()) return make_error(ErrorCode::kInvalidArgument, "empty prompt");
  for (size_t i = 0; i < r.prompt.size(); ++i) {
    if (r.prompt[i] < 0 || r.prompt[i] >= n_vocab) {
      return make_error(ErrorCode::kInvalidArgument, "prompt token %zu: id %d outside the vocabulary [0, %lld)", i,
                        r.prompt[i], static_cast<long long>(n_vocab));
    }
  }
  if (r.max_tokens < 1) {
    return make_error(ErrorCode::kInvalidArgument, "max_tokens must be >= 1 (got %lld)",
                      static_cast<long long>(r.max_tokens));
  }
  BALEEN_TRY(validate_sampler_params(r.sampling));
  if (r.top_logprobs < -1 || r.top_logprobs > kMaxTopLogprobs) {
    return make_error(ErrorCode::kInvalidArgument, "top_logprobs must be in [0, %d] (got %d)", kMaxTopLogprobs,
                      r.top_logprobs);
  }
  if (r.json_object && model_.tokenizer() == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "json_object needs a model with a tokenizer");
  }
  if (r.json_after_token < -1 || r.json_after_token >= n_vocab) {
    return make_error(ErrorCode::kInvalidArgument, "json_after_token %d outside the vocabulary [0, %lld)",
                      r.json_after_token, static_cast<long long>(n_vocab));
  }
  const auto n_prompt = static_cast<int64_t>(r.prompt.size());
  if (n_prompt + 1 > opts_.n_ctx) {
    return make_error(ErrorCode::kOutOfRange,
                      "prompt of %lld tokens leaves no room to generate: prompt + 1 must be <= the context of %lld "
                      "tokens",
                      static_cast<long long>(n_prompt), static_cast<long long>(opts_.n_ctx));
  }
  return ok_status();
}

Result<RequestId> EngineImpl::submit(GenerateRequest request, std::shared_ptr<StreamSink> sink) {
  if (!sink) return make_error(ErrorCode::kInvalidArgument, "submit: no sink");
  BALEEN_TRY(validate(request));
  auto req = std::make_shared<Request>();
  req->params = std::move(request);
  req->sink = std::move(sink);
  req->submitted = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stop_) return make_error(ErrorCode::kUnavailable, "the engine is shutting down");
    // Requests that free slots will take at the next step do not count against the queue bound.
    const int64_t free_slots = opts_.n_slots - slots_busy_;
    if (static_cast<int64_t>(queue_.size()) >= opts_.max_queue + free_slots) {
      return make_error(ErrorCode::kUnavailable, "request queue full (%zu waiting, at most %d): retry later",
                        queue_.size(), opts_.max_queue);
    }
    req->id = next_id_++;
    live_.emplace(req->id, req);
    queue_.push_back(req);
    ++stats_.requests_total;
  }
  wake_.notify_one();
  return req->id;
}

void EngineImpl::cancel(RequestId id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(id);
    if (it == live_.end()) return;
    it->second->cancelled.store(true, std::memory_order_relaxed);
  }
  wake_.notify_one();
}

EngineStats EngineImpl::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  EngineStats s = stats_;
  s.requests_active = static_cast<int64_t>(live_.size());
  s.queue_depth = static_cast<int64_t>(queue_.size());
  s.slots_busy = slots_busy_;
  s.n_slots = opts_.n_slots;
  return s;
}

}  // namespace baleen
