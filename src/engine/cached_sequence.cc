#include "engine/cached_sequence.h"

#include <algorithm>

namespace baleen {

void CachedSequence::resync() {
  int64_t n = std::clamp<int64_t>(session_.n_past(), 0, static_cast<int64_t>(tokens_.size()));
  tokens_.resize(static_cast<size_t>(n));
  session_.truncate(n);
}

Status CachedSequence::prefill(std::span<const TokenId> prompt, std::vector<float>* logits) {
  last_reused_ = last_evaluated_ = 0;
  if (prompt.empty()) return Error(ErrorCode::kInvalidArgument, "empty prompt: nothing to evaluate");
  size_t common = 0;
  const size_t limit = std::min(prompt.size(), tokens_.size());
  while (common < limit && prompt[common] == tokens_[common]) ++common;
  // Something must be evaluated to get the logits of the last prompt token.
  if (common == prompt.size()) --common;
  session_.truncate(static_cast<int64_t>(common));
  tokens_.resize(common);

  std::span<const TokenId> rest = prompt.subspan(common);
  Status st = session_.eval(rest, logits, /*all_logits=*/false);
  if (!st.ok()) {
    resync();
    return st;
  }
  tokens_.insert(tokens_.end(), rest.begin(), rest.end());
  last_reused_ = static_cast<int64_t>(common);
  last_evaluated_ = static_cast<int64_t>(rest.size());
  return ok_status();
}

Status CachedSequence::decode(TokenId id, std::vector<float>* logits) {
  Status st = session_.eval(std::span<const TokenId>(&id, 1), logits, /*all_logits=*/false);
  if (!st.ok()) {
    resync();
    return st;
  }
  tokens_.push_back(id);
  return ok_status();
}

}  // namespace baleen
