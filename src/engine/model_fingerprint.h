// Identity of a model's computation, for the prefix cache's disk tier (engine/prefix_cache.h):
// block files carry it and are only trusted by a cache with the same fingerprint. Built from the
// architecture hyper-parameters and a hash of the logits and exported KV rows of a fixed 4-token
// probe, so another model, another quantization of the same model, or another kernel path (whose
// rows would differ in their last bits) gets a different fingerprint. Costs one 4-token eval.
#pragma once

#include <string>

#include "core/status.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace baleen {

// "baleen-kv1 arch=deepseek2 vocab=512 hidden=64 layers=2 ... probe=0123456789abcdef". Errors:
// the probe session's (e.g. kUnsupported when sessions cannot export their KV rows).
Result<std::string> model_fingerprint(const Model& model, ThreadPool& pool);

}  // namespace baleen
