#include "kernels/rms_norm.h"

#include "core/cpu_features.h"
#include "kernels/ref/ops.h"

namespace baleen {

void rms_norm(const float* x, const float* weight, int64_t n, float eps, float* out) {
  if (dispatch_level() == DispatchLevel::kAvx512) return rms_norm_avx512(x, weight, n, eps, out);
  rms_norm_ref(x, weight, n, eps, out);
}

}  // namespace baleen
