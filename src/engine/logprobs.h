// Log-probabilities reported with generated tokens (OpenAI `logprobs` / `top_logprobs`): the
// log-softmax of the model's raw logits at temperature 1, whatever the sampler's settings.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "engine/engine.h"

namespace baleen {

// Computes log-softmax over one row of logits. Reuses its buffers: no allocation per token once
// sized. Not thread-safe.
class LogprobCalculator {
 public:
  // Fills event->logprob for event->id and event->top with the `n_top` most probable tokens
  // (descending logprob, ties by lower id). logits: [n_vocab]; NaN counts as -inf.
  void fill(std::span<const float> logits, int32_t n_top, TokenEvent* event);

 private:
  std::vector<int32_t> order_;  // [n_vocab] candidate ids for the partial sort
};

}  // namespace baleen
