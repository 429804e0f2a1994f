// A Session plus the token ids it holds, so that a new prompt sharing a prefix with what is cached
// (the next turn of a chat re-rendered in full, a retried request) evaluates only the tokens after
// the common prefix: truncate to it, then prefill the rest. Used by `baleen chat` and `run`, later
// by the server's per-conversation cache.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/status.h"
#include "model/model.h"

namespace baleen {

class CachedSequence {
 public:
  explicit CachedSequence(Session& session) : session_(session) {}

  // Makes the session hold exactly `prompt` and puts the logits of its last token in *logits
  // ([n_vocab]). Evaluates only what follows the longest common prefix with tokens(); when the
  // whole prompt is cached, its last token is evaluated again (its logits are not kept). Errors:
  // kInvalidArgument for an empty prompt; the session's errors (kOutOfRange when the prompt does
  // not fit the context). On error tokens() still matches the session.
  Status prefill(std::span<const TokenId> prompt, std::vector<float>* logits);

  // Appends one token and puts the logits after it in *logits.
  Status decode(TokenId id, std::vector<float>* logits);

  const std::vector<TokenId>& tokens() const { return tokens_; }
  // Tokens reused from the cache by the last prefill() and tokens it evaluated.
  int64_t last_reused() const { return last_reused_; }
  int64_t last_evaluated() const { return last_evaluated_; }
  Session& session() { return session_; }

 private:
  // After a failed eval the session may hold fewer tokens than expected; trust n_past().
  void resync();

  Session& session_;
  std::vector<TokenId> tokens_;
  int64_t last_reused_ = 0;
  int64_t last_evaluated_ = 0;
};

}  // namespace baleen
