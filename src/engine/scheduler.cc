// EngineImpl's scheduler thread: admission, the per-step forward over every busy slot, sampling,
// delivery and finishing (see engine_impl.h).
#include <algorithm>
#include <utility>

#include "engine/engine_impl.h"

namespace baleen {
namespace {

size_t common_prefix(const std::vector<TokenId>& a, const std::vector<TokenId>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// Cached tokens a prompt can reuse: all but its last token, whose logits must be computed.
size_t reusable_prefix(const std::vector<TokenId>& cached, const std::vector<TokenId>& prompt) {
  return std::min(common_prefix(cached, prompt), prompt.size() - 1);
}

double ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

}  // namespace

Completion EngineImpl::completion_of(const Request& req, FinishReason reason) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point now = Clock::now(), none{};
  Completion c;
  c.reason = reason;
  c.prompt_tokens = static_cast<int64_t>(req.params.prompt.size());
  c.queue_ms = ms_between(req.submitted, req.admitted == none ? now : req.admitted);
  if (req.admitted != none) c.prefill_ms = ms_between(req.admitted, req.first_token == none ? now : req.first_token);
  if (req.first_token != none) c.decode_ms = ms_between(req.first_token, now);
  return c;
}

void EngineImpl::scheduler_loop() {
  while (step()) {
  }
}

int EngineImpl::choose_slot(const std::vector<TokenId>& prompt) const {
  int best = -1;
  size_t best_common = 0;
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    if (slot.active) continue;
    const size_t common = reusable_prefix(slot.tokens, prompt);
    const bool better = best < 0 || common > best_common ||
                        (common == best_common && slot.last_used < slots_[static_cast<size_t>(best)].last_used);
    if (better) {
      best = static_cast<int>(s);
      best_common = common;
    }
  }
  return best;
}

// The cross-slot prefix cache: when it holds a longer prefix of `prompt` than this slot's own cache
// shares with it (`in_slot`), load that into the slot. PrefixCache::restore wants an empty session;
// on an error or a shorter hit the slot is re-evaluated from what the cache gave (0 at worst).
// The result is <= prompt.size() - 1: the last prompt token is always evaluated, for its logits.
size_t EngineImpl::prefix_cache_lookup(Slot& slot, const std::vector<TokenId>& prompt, size_t in_slot) {
  if (!prefix_cache_) return in_slot;
  // Only a block-aligned prefix longer than what the slot already has can win.
  if (static_cast<size_t>(prefix_cache_->cached_prefix(prompt, slot.session->n_ctx())) <= in_slot) return in_slot;
  slot.session->truncate(0);
  slot.tokens.clear();
  Result<int64_t> got = prefix_cache_->restore(prompt, *slot.session);
  if (!got.ok() || *got == 0) {
    slot.session->truncate(0);
    return 0;
  }
  const auto n = static_cast<size_t>(*got);
  slot.tokens.assign(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(n));
  return n;
}

// Called once per request, when its whole prompt has been evaluated: slot.tokens is the prompt and
// the session holds exactly its KV. A failed insert only means a later miss.
void EngineImpl::prefix_cache_insert(const Slot& slot) {
  if (prefix_cache_) (void)prefix_cache_->insert(slot.tokens, *slot.session);
}

void EngineImpl::admit(int s, std::shared_ptr<Request> req) {
  Slot& slot = slots_[static_cast<size_t>(s)];
  const std::vector<TokenId>& prompt = req->params.prompt;
  const size_t common = prefix_cache_lookup(slot, prompt, reusable_prefix(slot.tokens, prompt));
  slot.session->truncate(static_cast<int64_t>(common));
  slot.tokens.resize(common);
  slot.prompt_pos = common;
  slot.cached = static_cast<int64_t>(common);
  slot.generated = 0;
  slot.last_used = ++admissions_;
  req->admitted = std::chrono::steady_clock::now();
  slot.sampler.emplace(req->params.sampling);
  slot.json.reset();
  slot.json_active = req->params.json_object && req->params.json_after_token < 0;
  for (TokenId id : prompt) slot.sampler->accept(id);
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.prompt_tokens_total += static_cast<int64_t>(prompt.size());
  stats_.prefix_cache_hit_tokens_total += slot.cached;
}

void EngineImpl::finish_slot(int s, FinishReason reason, std::string error) {
  Slot& slot = slots_[static_cast<size_t>(s)];
  std::shared_ptr<Request> req;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    req = std::move(slot.active);
    slot.active = nullptr;
    --slots_busy_;
    live_.erase(req->id);
  }
  slot.sampler.reset();
  Completion c = completion_of(*req, reason);
  c.cached_tokens = slot.cached;
  c.generated_tokens = slot.generated;
  c.error = std::move(error);
  req->sink->on_done(c);
}

void EngineImpl::finish_unstarted(const std::shared_ptr<Request>& req, FinishReason reason) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    live_.erase(req->id);
  }
  req->sink->on_done(completion_of(*req, reason));
}

const JsonTokenMask& EngineImpl::json_mask() {
  if (!json_mask_) {
    json_mask_ = std::make_unique<JsonTokenMask>(*model_.tokenizer(), model_.config().n_vocab, eos_ids_);
  }
  return *json_mask_;
}

void EngineImpl::after_logits(int s) {
  Slot& slot = slots_[static_cast<size_t>(s)];
  Request& req = *slot.active;
  if (slot.generated == 0) req.first_token = std::chrono::steady_clock::now();
  const JsonTokenMask* mask = slot.json_active ? &json_mask() : nullptr;
  if (mask && mask->apply(slot.json, slot.logits) == 0) {
    finish_slot(s, FinishReason::kError, "json_object: no token of the vocabulary continues the JSON text");
    return;
  }
  TokenId id = slot.sampler->sample(slot.logits);
  if (mask && !mask->allowed(slot.json, id)) {
    // Only when every allowed logit is NaN (the sampler then falls back to id 0): take the first
    // allowed token instead.
    id = 0;
    while (!mask->allowed(slot.json, id)) ++id;
  }
  slot.sampler->accept(id);
  if (!req.params.ignore_eos && std::find(eos_ids_.begin(), eos_ids_.end(), id) != eos_ids_.end()) {
    finish_slot(s, FinishReason::kStop);
    return;
  }
  TokenEvent event;
  event.id = id;
  if (req.params.top_logprobs >= 0) logprobs_.fill(slot.logits, req.params.top_logprobs, &event);
  ++slot.generated;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.generated_tokens_total;
  }
  const bool go_on = req.sink->on_token(event);
  if (!go_on || req.cancelled.load(std::memory_order_relaxed)) {
    finish_slot(s, FinishReason::kCancelled);
    return;
  }
  if (mask) {
    slot.json.advance(mask->bytes(id));  // accepted: the mask allowed it
    if (slot.json.complete()) {
      finish_slot(s, FinishReason::kStop);
      return;
    }
  } else if (req.params.json_object && id == req.params.json_after_token) {
    slot.json_active = true;
  }
  // The context holds prompt + generated tokens (the last one is evaluated by the next step).
  const int64_t total = static_cast<int64_t>(req.params.prompt.size()) + slot.generated;
  if (slot.generated >= req.params.max_tokens || total >= slot.session->n_ctx()) {
    finish_slot(s, FinishReason::kLength);
    return;
  }
  slot.last = id;
}

bool EngineImpl::step() {
  std::vector<std::shared_ptr<Request>> dropped;  // cancelled while queued (or stopping)
  std::vector<std::pair<int, std::shared_ptr<Request>>> admitted;
  bool stopping = false;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait(lock, [&] { return stop_ || !queue_.empty() || slots_busy_ > 0; });
    stopping = stop_;
    for (auto it = queue_.begin(); it != queue_.end();) {
      if (stopping || (*it)->cancelled.load(std::memory_order_relaxed)) {
        dropped.push_back(std::move(*it));
        it = queue_.erase(it);
      } else {
        ++it;
      }
    }
    // FIFO admission into free slots.
    while (!queue_.empty()) {
      const int s = choose_slot(queue_.front()->params.prompt);
      if (s < 0) break;
      slots_[static_cast<size_t>(s)].active = queue_.front();
      ++slots_busy_;
      admitted.emplace_back(s, std::move(queue_.front()));
      queue_.pop_front();
    }
  }
  for (auto& req : dropped) finish_unstarted(req, FinishReason::kCancelled);
  for (auto& [s, req] : admitted) admit(s, std::move(req));

  // Cancelled requests leave their slots before the forward.
  for (size_t s = 0; s < slots_.size(); ++s) {
    const Slot& slot = slots_[s];
    if (slot.active && (stopping || slot.active->cancelled.load(std::memory_order_relaxed))) {
      finish_slot(static_cast<int>(s), FinishReason::kCancelled);
    }
  }
  if (stopping) return false;

  // One forward for every busy slot: a prompt chunk or the last sampled token.
  std::vector<StepItem>& items = items_;
  std::vector<int>& item_slot = item_slot_;
  std::vector<uint8_t>& item_prefill = item_prefill_;
  items.clear();
  item_slot.clear();
  item_prefill.clear();
  for (size_t s = 0; s < slots_.size(); ++s) {
    Slot& slot = slots_[s];
    if (!slot.active) continue;
    StepItem item;
    item.session = slot.session.get();
    if (slot.prefilling()) {
      const std::vector<TokenId>& prompt = slot.active->params.prompt;
      const size_t n = std::min(static_cast<size_t>(opts_.prefill_chunk), prompt.size() - slot.prompt_pos);
      item.tokens = std::span<const TokenId>(prompt.data() + slot.prompt_pos, n);
      item.logits = slot.prompt_pos + n == prompt.size() ? &slot.logits : nullptr;
    } else {
      item.tokens = std::span<const TokenId>(&slot.last, 1);
      item.logits = &slot.logits;
    }
    items.push_back(item);
    item_slot.push_back(static_cast<int>(s));
    item_prefill.push_back(slot.prefilling());
  }
  if (items.empty()) return true;
  forward_.run(items);

  for (size_t i = 0; i < items.size(); ++i) {
    const int s = item_slot[i];
    Slot& slot = slots_[static_cast<size_t>(s)];
    if (!items[i].status.ok()) {
      // The session appended nothing; keep the mirror in step with it.
      slot.tokens.resize(static_cast<size_t>(std::min<int64_t>(slot.session->n_past(), slot.tokens.size())));
      slot.session->truncate(static_cast<int64_t>(slot.tokens.size()));
      finish_slot(s, FinishReason::kError, items[i].status.error().to_string());
      continue;
    }
    slot.tokens.insert(slot.tokens.end(), items[i].tokens.begin(), items[i].tokens.end());
    if (item_prefill[i]) {
      slot.prompt_pos += items[i].tokens.size();
      if (slot.prefilling()) continue;
      prefix_cache_insert(slot);
    }
    after_logits(s);
  }
  return true;
}

}  // namespace baleen
