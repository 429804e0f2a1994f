#include "model/session_impl.h"

#include <algorithm>

namespace baleen {

SessionImpl::SessionImpl(const ModelImpl& model, ThreadPool& pool, const SessionOptions& opts, int64_t n_ctx)
    : model_(model), pool_(pool), opts_(opts), n_ctx_(n_ctx) {
  const ModelConfig& cfg = model.config();
  cache_.init(cfg, cfg.n_layers, n_ctx);
  tokens_.assign(static_cast<size_t>(n_ctx), 0);
  if (model.has_mtp()) {
    mtp_cache_.init(cfg, 1, n_ctx);
    hidden_.assign(static_cast<size_t>(n_ctx * cfg.hidden_size), 0.0f);
  }
}

bool SessionImpl::use_absorbed(int64_t n_tokens) const {
  switch (opts_.attention) {
    case AttentionForm::kNaive:
      return false;
    case AttentionForm::kAbsorbed:
      return true;
    case AttentionForm::kAuto:
      break;
  }
  return n_tokens < kNaiveMinTokens;
}

Status SessionImpl::eval(std::span<const TokenId> tokens, std::vector<float>* logits, bool all_logits) {
  const BatchItem item{this, tokens, logits, all_logits};
  return step(std::span<const BatchItem>(&item, 1), &s_);
}

void SessionImpl::truncate(int64_t n) {
  BALEEN_ASSERT(n >= 0 && n <= n_past_, "truncate(%lld) with n_past %lld", static_cast<long long>(n),
                static_cast<long long>(n_past_));
  n_past_ = n;
}

Result<std::unique_ptr<Session>> Session::create(const Model& model, ThreadPool& pool, const SessionOptions& opts) {
  const auto* impl = dynamic_cast<const ModelImpl*>(&model);
  BALEEN_ASSERT(impl != nullptr, "Session::create: model not made by Model::load");
  if (opts.n_ctx <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "n_ctx must be positive, got %lld",
                      static_cast<long long>(opts.n_ctx));
  }
  // Longer than the model was trained for: clamp to its context.
  int64_t n_ctx = opts.n_ctx;
  const int64_t max_ctx = model.config().max_position_embeddings;
  if (max_ctx > 0) n_ctx = std::min(n_ctx, max_ctx);
  return std::unique_ptr<Session>(new SessionImpl(*impl, pool, opts, n_ctx));
}

}  // namespace baleen
