#include "model/session_impl.h"

#include <algorithm>

#include "kernels/matmul.h"

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
  s_.thread_scores.assign(static_cast<size_t>(pool.size()), std::vector<float>(static_cast<size_t>(n_ctx)));
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
  const ModelConfig& cfg = model_.config();
  const ModelWeights& w = model_.weights();
  const auto n = static_cast<int64_t>(tokens.size());
  if (n == 0) return make_error(ErrorCode::kInvalidArgument, "eval: no tokens");
  if (n > n_ctx_ - n_past_) {
    return make_error(ErrorCode::kOutOfRange, "context full: %lld tokens + %lld new > n_ctx %lld",
                      static_cast<long long>(n_past_), static_cast<long long>(n), static_cast<long long>(n_ctx_));
  }
  for (TokenId id : tokens) {
    if (id < 0 || id >= cfg.n_vocab) {
      return make_error(ErrorCode::kInvalidArgument, "token id %d outside the vocabulary [0, %lld)", id,
                        static_cast<long long>(cfg.n_vocab));
    }
  }
  const int64_t E = cfg.hidden_size, pos0 = n_past_;
  float* x = grow(s_.x, n * E);  // [n_tokens, hidden_size]
  for (int64_t t = 0; t < n; ++t) weight_row_to_f32(w.tok_embd, tokens[t], x + t * E);
  const bool absorbed = use_absorbed(n);
  for (int64_t il = 0; il < cfg.n_layers; ++il) {
    decoder_layer(model_, w.layers[il], cache_.layer(il), x, n, pos0, absorbed, s_, pool_);
  }
  rms_norm_rows(x, w.output_norm.data(), n, E, static_cast<float>(cfg.rms_norm_eps), x);
  if (!hidden_.empty()) std::copy_n(x, n * E, hidden_.data() + pos0 * E);
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + pos0);
  n_past_ += n;
  if (logits != nullptr) {
    if (all_logits) {
      logits->resize(static_cast<size_t>(n * cfg.n_vocab));
      matmul(w.output, x, n, logits->data(), pool_);
    } else {
      logits->resize(static_cast<size_t>(cfg.n_vocab));
      matmul(w.output, x + (n - 1) * E, 1, logits->data(), pool_);
    }
  }
  return ok_status();
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
