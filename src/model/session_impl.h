// The concrete Session: KV cache, scratch, the tokens and (for MTP) the final normed hidden
// states of everything evaluated so far. The forward pass of eval() and eval_batch() is
// SessionImpl::step in batch.cc, mtp_logits() is in mtp.cc.
#pragma once

#include <vector>

#include "model/forward.h"
#include "model/kv_cache.h"
#include "model/model_impl.h"

namespace baleen {

class SessionImpl final : public Session {
 public:
  SessionImpl(const ModelImpl& model, ThreadPool& pool, const SessionOptions& opts, int64_t n_ctx);

  Status eval(std::span<const TokenId> tokens, std::vector<float>* logits, bool all_logits) override;
  Status mtp_logits(std::vector<float>* logits) override;
  int64_t n_past() const override { return n_past_; }
  int64_t n_ctx() const override { return n_ctx_; }
  void truncate(int64_t n) override;
  // session_kv.cc
  int64_t kv_floats_per_token() const override;
  Status export_kv(int64_t pos0, int64_t n, float* out) const override;
  Status import_kv(std::span<const TokenId> tokens, const float* kv) override;

  // One forward pass of `items` (validated here first; see eval_batch). scratch: nullptr uses the
  // first item's session's buffers.
  static Status step(std::span<const BatchItem> items, Scratch* scratch);

 private:
  // Naive MLA for chunks of at least this many tokens under AttentionForm::kAuto.
  static constexpr int64_t kNaiveMinTokens = 16;
  bool use_absorbed(int64_t n_tokens) const;

  const ModelImpl& model_;
  ThreadPool& pool_;
  SessionOptions opts_;
  int64_t n_ctx_;
  int64_t n_past_ = 0;
  KvCache cache_;
  KvCache mtp_cache_;  // the MTP block's own latent cache (one layer)
  Scratch s_;
  std::vector<TokenId> tokens_;  // [n_ctx]
  std::vector<float> hidden_;    // [n_ctx, hidden_size] final normed hidden states (MTP models only)
};

}  // namespace baleen
