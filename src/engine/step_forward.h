// The engine's one batched forward per scheduler step: every active slot contributes a prefill
// chunk or its last sampled token, and all of them run through the model together. Kept in one
// small class so the scheduler does not depend on how the model batches sequences.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "model/model.h"

namespace baleen {

struct StepItem {
  Session* session = nullptr;
  std::span<const TokenId> tokens;       // appended at session->n_past()..; non-empty
  std::vector<float>* logits = nullptr;  // [n_vocab] of the last token; nullptr: not needed
  Status status;                         // set by step_forward: this item's outcome
  bool all_logits = false;               // logits of every row ([n, n_vocab]) instead of the last
};

// Runs every item's tokens through its session. An item that fails (kOutOfRange when it does not
// fit, kInvalidArgument for a bad id) gets the error in its `status` with nothing appended; the
// others are unaffected.
// One forward over all items (model eval_batch), with the step's buffers kept between calls so a
// steady-state step allocates nothing. Used by the scheduler thread only.
class StepForward {
 public:
  void run(std::span<StepItem> items);

 private:
  BatchScratch scratch_;
  std::vector<BatchItem> batch_;
};

// The same with fresh buffers (tests, one-off use).
void step_forward(std::span<StepItem> items);

}  // namespace baleen
