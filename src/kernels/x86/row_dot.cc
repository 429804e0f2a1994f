#include "kernels/x86/row_dot.h"

namespace baleen {

RowDotFn find_row_dot(const WeightMatrix& w, DispatchLevel level) {
  // Clamp again: a caller-supplied level must never reach ISA code the CPU lacks.
  switch (clamp_dispatch_level(level, cpu_features())) {
    case DispatchLevel::kAvx512:
      return row_dot_avx512(w);
    case DispatchLevel::kAvx2:
      return row_dot_avx2(w);
    case DispatchLevel::kScalar:
      return nullptr;
  }
  return nullptr;
}

}  // namespace baleen
