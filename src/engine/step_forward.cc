#include "engine/step_forward.h"

namespace baleen {

void StepForward::run(std::span<StepItem> items) {
  batch_.clear();
  for (const StepItem& item : items) batch_.push_back({item.session, item.tokens, item.logits, item.all_logits});
  if (Status st = eval_batch(batch_, &scratch_); st.ok()) {
    for (StepItem& item : items) item.status = ok_status();
    return;
  }
  // A failed batch appends nothing anywhere (eval_batch validates every item first): evaluate the
  // items one by one so only the bad one fails and the others still advance this step.
  for (StepItem& item : items) {
    item.status =
        eval_batch(std::span<const BatchItem>(&batch_[static_cast<size_t>(&item - items.data())], 1), &scratch_);
  }
}

void step_forward(std::span<StepItem> items) {
  StepForward f;
  f.run(items);
}

}  // namespace baleen
