#include "kernels/x86/q8_dot.h"

namespace baleen {

Q8Kernels find_q8_kernels(GgmlType type, DispatchLevel level) {
  // Clamp again: a caller-supplied level must never reach ISA code the CPU lacks.
  switch (clamp_dispatch_level(level, cpu_features())) {
    case DispatchLevel::kAvx512:
      return q8_kernels_avx512(type);
    case DispatchLevel::kAvx2:
      return q8_kernels_avx2(type);
    case DispatchLevel::kScalar:
      return {};
  }
  return {};
}

}  // namespace baleen
