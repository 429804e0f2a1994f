#include "kernels/x86/q8_dot.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace baleen {
namespace {

std::atomic<int>& variant_slot() {
  static std::atomic<int> slot{[] {
    // Split cores (Zen 4) and Intel take kSplit; see q8_dot.h for the Intel measurements.
    const CpuFeatures& f = cpu_features();
    Avx512Variant v = f.avx512_split || f.intel ? Avx512Variant::kSplit : Avx512Variant::kWide;
    if (const char* env = std::getenv("BALEEN_AVX512_VARIANT"); env != nullptr) {
      const std::string_view e(env);
      if (e == "wide") {
        v = Avx512Variant::kWide;
      } else if (e == "split") {
        v = Avx512Variant::kSplit;
      } else {
        std::fprintf(stderr, "baleen: ignoring BALEEN_AVX512_VARIANT=%s (expected wide or split)\n", env);
      }
    }
    return static_cast<int>(v);
  }()};
  return slot;
}

thread_local NextRows t_next_rows;

}  // namespace

void set_next_rows(NextRows next) { t_next_rows = next; }
NextRows next_rows() { return t_next_rows; }

Avx512Variant avx512_variant() { return static_cast<Avx512Variant>(variant_slot().load(std::memory_order_relaxed)); }

void set_avx512_variant(Avx512Variant variant) {
  variant_slot().store(static_cast<int>(variant), std::memory_order_relaxed);
}

Q8Kernels find_q8_kernels(GgmlType type, DispatchLevel level) {
  // Clamp again: a caller-supplied level must never reach ISA code the CPU lacks.
  switch (clamp_dispatch_level(level, cpu_features())) {
    case DispatchLevel::kAvx512:
      return q8_kernels_avx512(type, avx512_variant());
    case DispatchLevel::kAvx2:
      return q8_kernels_avx2(type);
    case DispatchLevel::kScalar:
      return {};
  }
  return {};
}

}  // namespace baleen
