#include "kernels/swiglu.h"

#include "core/cpu_features.h"
#include "kernels/ref/ops.h"

namespace baleen {

void swiglu(const float* gate, const float* up, int64_t n, float* out) {
  if (dispatch_level() == DispatchLevel::kAvx512) return swiglu_avx512(gate, up, n, out);
  swiglu_ref(gate, up, n, out);
}

}  // namespace baleen
