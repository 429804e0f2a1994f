// Token sampling: turns one row of logits into the next token id. Greedy (argmax, ties to the
// lowest id) when temperature == 0; otherwise temperature, top-k, top-p (nucleus) and min-p in the
// order Hugging Face's warpers apply them, then a draw from a seeded std::mt19937_64, so a given
// seed always gives the same sequence. Used by the CLI (`run`, `chat`) and later by the server.
// Buffers are sized on the first call and reused: no allocation per token.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "core/status.h"
#include "tokenizer/tokenizer.h"

namespace baleen {

struct SamplerParams {
  float temperature = 1.0f;  // 0: greedy; otherwise logits are divided by it
  int32_t top_k = 0;         // keep the k most probable tokens; 0: off
  float top_p = 1.0f;        // keep the smallest most-probable set with mass >= top_p; 1: off
  float min_p = 0.0f;        // keep tokens with p >= min_p * p_max; 0: off
  // CTRL-style penalty on tokens among the last `repetition_window` accepted ones: a positive
  // logit is divided by it, a negative one multiplied. 1: off. Applied before everything else
  // (greedy included).
  float repetition_penalty = 1.0f;
  int32_t repetition_window = 64;
  uint64_t seed = 0;
};

// Checks ranges: temperature finite and >= 0, top_k >= 0, top_p in (0, 1], min_p in [0, 1],
// repetition_penalty finite and > 0, repetition_window >= 0. Errors: kInvalidArgument naming the
// parameter.
Status validate_sampler_params(const SamplerParams& params);

// One candidate of the filtered distribution.
struct TokenProb {
  TokenId id;
  float p;
};

// Not thread-safe: one per sequence.
class Sampler {
 public:
  // `params` must pass validate_sampler_params (asserted).
  explicit Sampler(const SamplerParams& params);

  // Picks the next token from `logits` ([n_vocab]). NaN logits count as -inf; if every logit is
  // -inf the result is the greedy choice (id 0 when all are equal).
  TokenId sample(std::span<const float> logits);

  // The distribution sample() draws from, without drawing: the kept tokens with renormalised
  // probabilities (summing to 1), most probable first (ties: lower id first). Greedy mode gives the
  // single argmax with p = 1. The span stays valid until the next call.
  std::span<const TokenProb> distribution(std::span<const float> logits);

  // Records a token of the sequence (prompt or generated) for the repetition penalty.
  void accept(TokenId id);
  // Forgets the accepted tokens (keeps the random state).
  void reset_history();
  const SamplerParams& params() const { return params_; }

 private:
  void apply_penalty(std::span<const float> logits);
  void filter();

  SamplerParams params_;
  std::mt19937_64 rng_;
  std::vector<float> logits_;    // [n_vocab] penalised copy of the input
  std::vector<TokenProb> cand_;  // [n_vocab] working set; the kept prefix is the distribution
  size_t n_kept_ = 0;
  std::vector<TokenId> history_;  // ring buffer of the last repetition_window accepted ids
  size_t history_pos_ = 0;
  std::vector<uint8_t> penalised_;  // [n_vocab] marks while applying the penalty
};

// Index of the largest value, ties to the lowest index; NaN never wins. 0 for an empty span.
TokenId argmax(std::span<const float> logits);

}  // namespace baleen
