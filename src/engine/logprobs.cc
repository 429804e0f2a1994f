#include "engine/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace baleen {
namespace {

float clean(float v) { return std::isnan(v) ? -std::numeric_limits<float>::infinity() : v; }

}  // namespace

void LogprobCalculator::fill(std::span<const float> logits, int32_t n_top, TokenEvent* event) {
  const size_t n_vocab = logits.size();
  event->top.clear();
  if (n_vocab == 0) return;
  // log p_i = l_i - max - log(sum_j exp(l_j - max)), the sum in double.
  float max_v = -std::numeric_limits<float>::infinity();
  for (float v : logits) max_v = std::max(max_v, clean(v));
  double sum = 0.0;
  if (std::isfinite(max_v)) {
    for (float v : logits) sum += std::exp(static_cast<double>(clean(v)) - max_v);
  }
  const double log_z = std::isfinite(max_v) ? static_cast<double>(max_v) + std::log(sum) : 0.0;
  auto logprob = [&](size_t i) { return static_cast<float>(static_cast<double>(clean(logits[i])) - log_z); };

  if (event->id >= 0 && static_cast<size_t>(event->id) < n_vocab) event->logprob = logprob(event->id);
  const size_t k = std::min(static_cast<size_t>(std::max(n_top, 0)), n_vocab);
  if (k == 0) return;
  order_.resize(n_vocab);
  for (size_t i = 0; i < n_vocab; ++i) order_[i] = static_cast<int32_t>(i);
  auto higher = [&](int32_t a, int32_t b) {
    const float va = clean(logits[a]), vb = clean(logits[b]);
    return va > vb || (va == vb && a < b);
  };
  std::partial_sort(order_.begin(), order_.begin() + static_cast<ptrdiff_t>(k), order_.end(), higher);
  event->top.reserve(k);
  for (size_t i = 0; i < k; ++i) event->top.push_back({order_[i], logprob(order_[i])});
}

}  // namespace baleen
