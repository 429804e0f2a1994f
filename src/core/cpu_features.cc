#include "core/cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define BALEEN_X86 1
#endif

namespace baleen {
namespace {

#ifdef BALEEN_X86
// XCR0: which register states the OS saves on context switch. Read only when CPUID says OSXSAVE.
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(1, 0, eax, ebx, ecx, edx);
  const bool osxsave = (ecx >> 27) & 1;
  const bool avx_cpu = (ecx >> 28) & 1;
  const bool fma = (ecx >> 12) & 1;
  const bool f16c = (ecx >> 29) & 1;
  const uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const bool os_ymm = (xcr0 & 0x6) == 0x6;      // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;    // + opmask, ZMM_Hi256, Hi16_ZMM
  f.avx = avx_cpu && os_ymm;
  f.fma = f.avx && fma;
  f.f16c = f.avx && f16c;

  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned max_sub7 = eax;
  f.avx2 = f.avx && ((ebx >> 5) & 1);
  f.avx512f = f.avx && os_zmm && ((ebx >> 16) & 1);
  f.avx512bw = f.avx512f && ((ebx >> 30) & 1);
  f.avx512vl = f.avx512f && ((ebx >> 31) & 1);
  f.avx512vnni = f.avx512f && ((ecx >> 11) & 1);
  if (max_sub7 >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avx512bf16 = f.avx512f && ((eax >> 5) & 1);
  }
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

DispatchLevel initial_level() {
  DispatchLevel level = max_dispatch_level(cpu_features());
  if (const char* env = std::getenv("BALEEN_DISPATCH"); env != nullptr && *env != '\0') {
    if (auto parsed = parse_dispatch_level(env)) {
      level = clamp_dispatch_level(*parsed, cpu_features());
    } else {
      std::fprintf(stderr, "baleen: ignoring BALEEN_DISPATCH=%s (expected scalar, avx2 or avx512)\n", env);
    }
  }
  return level;
}

std::atomic<int>& level_slot() {
  static std::atomic<int> slot{static_cast<int>(initial_level())};
  return slot;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

const char* dispatch_level_name(DispatchLevel level) {
  switch (level) {
    case DispatchLevel::kScalar:
      return "scalar";
    case DispatchLevel::kAvx2:
      return "avx2";
    case DispatchLevel::kAvx512:
      return "avx512";
  }
  return "?";
}

std::optional<DispatchLevel> parse_dispatch_level(std::string_view name) {
  if (name == "scalar") return DispatchLevel::kScalar;
  if (name == "avx2") return DispatchLevel::kAvx2;
  if (name == "avx512") return DispatchLevel::kAvx512;
  return std::nullopt;
}

DispatchLevel max_dispatch_level(const CpuFeatures& f) {
  if (!(f.avx2 && f.fma && f.f16c)) return DispatchLevel::kScalar;
  if (!(f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni && f.avx512bf16)) return DispatchLevel::kAvx2;
  return DispatchLevel::kAvx512;
}

DispatchLevel clamp_dispatch_level(DispatchLevel requested, const CpuFeatures& f) {
  const DispatchLevel best = max_dispatch_level(f);
  return static_cast<int>(requested) > static_cast<int>(best) ? best : requested;
}

DispatchLevel dispatch_level() { return static_cast<DispatchLevel>(level_slot().load(std::memory_order_relaxed)); }

DispatchLevel set_dispatch_level(DispatchLevel requested) {
  const DispatchLevel level = clamp_dispatch_level(requested, cpu_features());
  level_slot().store(static_cast<int>(level), std::memory_order_relaxed);
  return level;
}

}  // namespace baleen
