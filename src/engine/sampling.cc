#include "engine/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace baleen {
namespace {

// Most probable first; equal probabilities by lower id, so every order here is deterministic.
bool more_probable(const TokenProb& a, const TokenProb& b) { return a.p > b.p || (a.p == b.p && a.id < b.id); }

}  // namespace

Status validate_sampler_params(const SamplerParams& p) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f) {
    return make_error(ErrorCode::kInvalidArgument, "temperature must be a finite number >= 0 (got %g)",
                      static_cast<double>(p.temperature));
  }
  if (p.top_k < 0) return make_error(ErrorCode::kInvalidArgument, "top-k must be >= 0 (got %d)", p.top_k);
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return make_error(ErrorCode::kInvalidArgument, "top-p must be in (0, 1] (got %g)", static_cast<double>(p.top_p));
  }
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) {
    return make_error(ErrorCode::kInvalidArgument, "min-p must be in [0, 1] (got %g)", static_cast<double>(p.min_p));
  }
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0.0f) {
    return make_error(ErrorCode::kInvalidArgument, "repetition penalty must be a finite number > 0 (got %g)",
                      static_cast<double>(p.repetition_penalty));
  }
  if (p.repetition_window < 0) {
    return make_error(ErrorCode::kInvalidArgument, "repetition window must be >= 0 (got %d)", p.repetition_window);
  }
  return ok_status();
}

TokenId argmax(std::span<const float> logits) {
  size_t best = 0;
  float best_v = -std::numeric_limits<float>::infinity();
  bool found = false;
  for (size_t i = 0; i < logits.size(); ++i) {
    float v = logits[i];
    if (std::isnan(v)) continue;
    if (!found || v > best_v) {
      best = i;
      best_v = v;
      found = true;
    }
  }
  return static_cast<TokenId>(best);
}

Sampler::Sampler(const SamplerParams& params) : params_(params), rng_(params.seed) {
  Status st = validate_sampler_params(params);
  BALEEN_ASSERT(st.ok(), "invalid sampler parameters: %s", st.ok() ? "" : st.error().message().c_str());
  history_.reserve(static_cast<size_t>(params_.repetition_window));
}

void Sampler::accept(TokenId id) {
  const size_t window = static_cast<size_t>(params_.repetition_window);
  if (window == 0) return;
  if (history_.size() < window) {
    history_.push_back(id);
  } else {
    history_[history_pos_] = id;
    history_pos_ = (history_pos_ + 1) % window;
  }
}

void Sampler::reset_history() {
  history_.clear();
  history_pos_ = 0;
}

// Fills logits_ with the input, penalising tokens seen in the history (each once).
void Sampler::apply_penalty(std::span<const float> logits) {
  logits_.assign(logits.begin(), logits.end());
  const float penalty = params_.repetition_penalty;
  if (penalty == 1.0f || history_.empty()) return;
  penalised_.resize(logits.size());
  for (TokenId id : history_) {
    if (id < 0 || static_cast<size_t>(id) >= logits_.size() || penalised_[id]) continue;
    penalised_[id] = 1;
    float& v = logits_[id];
    v = v > 0.0f ? v / penalty : v * penalty;
  }
  for (TokenId id : history_) {
    if (id >= 0 && static_cast<size_t>(id) < penalised_.size()) penalised_[id] = 0;
  }
}

// From logits_ to the kept prefix cand_[0, n_kept_) with unnormalised probabilities.
void Sampler::filter() {
  const size_t n_vocab = logits_.size();
  cand_.resize(n_vocab);
  n_kept_ = 0;
  if (n_vocab == 0) return;
  TokenId best = argmax(logits_);
  const float max_logit = logits_[best];
  if (params_.temperature == 0.0f || std::isnan(max_logit) || max_logit == -std::numeric_limits<float>::infinity()) {
    cand_[0] = {best, 1.0f};
    n_kept_ = 1;
    return;
  }

  // Softmax numerators of logits / T; the most probable token has exactly 1.
  const float inv_t = 1.0f / params_.temperature;
  for (size_t i = 0; i < n_vocab; ++i) {
    float v = logits_[i];
    float p = std::isnan(v) ? 0.0f : std::exp((v - max_logit) * inv_t);
    cand_[i] = {static_cast<TokenId>(i), p};
  }
  size_t n = n_vocab;

  // top-k: the k most probable (ties by lower id) to the front, unordered.
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    n = static_cast<size_t>(params_.top_k);
    std::nth_element(cand_.begin(), cand_.begin() + static_cast<ptrdiff_t>(n), cand_.end(), more_probable);
  }

  // top-p over the (renormalised) top-k set: the shortest most-probable prefix whose mass reaches
  // top_p. Sorts a growing prefix only as far as needed, so a peaked distribution over a large
  // vocabulary costs about one pass.
  if (params_.top_p < 1.0f) {
    double total = 0.0;
    for (size_t i = 0; i < n; ++i) total += cand_[i].p;
    const double target = static_cast<double>(params_.top_p) * total;
    double cum = 0.0;
    size_t sorted = 0, cut = n;
    size_t chunk = std::min<size_t>(n, 64);
    for (;;) {
      auto first = cand_.begin() + static_cast<ptrdiff_t>(sorted);
      auto mid = cand_.begin() + static_cast<ptrdiff_t>(chunk);
      auto last = cand_.begin() + static_cast<ptrdiff_t>(n);
      if (mid < last) std::nth_element(first, mid, last, more_probable);
      std::sort(first, mid, more_probable);
      bool done = false;
      for (size_t i = sorted; i < chunk; ++i) {
        cum += cand_[i].p;
        if (cum >= target) {
          cut = i + 1;
          done = true;
          break;
        }
      }
      if (done || chunk == n) break;
      sorted = chunk;
      chunk = std::min(n, chunk * 4);
    }
    n = cut;
  }

  // min-p: p / p_max >= min_p, and p_max is 1 here.
  if (params_.min_p > 0.0f) {
    auto keep_end = std::partition(cand_.begin(), cand_.begin() + static_cast<ptrdiff_t>(n),
                                   [&](const TokenProb& c) { return c.p >= params_.min_p; });
    n = static_cast<size_t>(keep_end - cand_.begin());
  }
  n_kept_ = n;  // >= 1: the most probable token survives every filter
}

std::span<const TokenProb> Sampler::distribution(std::span<const float> logits) {
  apply_penalty(logits);
  filter();
  auto end = cand_.begin() + static_cast<ptrdiff_t>(n_kept_);
  std::sort(cand_.begin(), end, more_probable);
  double total = 0.0;
  for (size_t i = 0; i < n_kept_; ++i) total += cand_[i].p;
  for (size_t i = 0; i < n_kept_; ++i) cand_[i].p = static_cast<float>(cand_[i].p / total);
  return {cand_.data(), n_kept_};
}

TokenId Sampler::sample(std::span<const float> logits) {
  apply_penalty(logits);
  filter();
  if (n_kept_ == 0) return 0;
  if (n_kept_ == 1) return cand_[0].id;
  double total = 0.0;
  for (size_t i = 0; i < n_kept_; ++i) total += cand_[i].p;
  // 53 random bits -> uniform in [0, 1), the same on every platform (unlike the std distributions).
  const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53;
  const double r = u * total;
  double cum = 0.0;
  for (size_t i = 0; i < n_kept_; ++i) {
    cum += cand_[i].p;
    if (r < cum) return cand_[i].id;
  }
  return cand_[n_kept_ - 1].id;
}

}  // namespace baleen
