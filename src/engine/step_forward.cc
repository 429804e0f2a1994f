#include "engine/step_forward.h"

namespace baleen {

// TODO(merge): becomes one Session eval_batch (model/model.h BatchItem) over all items:
//   std::vector<BatchItem> batch;  // {item.session, item.tokens, item.logits, false} per item
//   Status st = eval_batch(batch);
//   if (st.ok()) { for (auto& item : items) item.status = ok_status(); return; }
//   // A failed batch appends nothing: fall back to the loop below, which isolates the bad item.
// Until then each item is evaluated on its own, one after the other.
void step_forward(std::span<StepItem> items) {
  for (StepItem& item : items) {
    item.status = item.session->eval(item.tokens, item.logits, /*all_logits=*/false);
  }
}

}  // namespace baleen
