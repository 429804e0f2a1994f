#include "core/cpu_features.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define BALEEN_X86 1
#endif
#if defined(BALEEN_X86) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
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

// Linux (5.16+) hands out the 8 KiB tile data state only on request, once per process; without it
// the first tile instruction faults. ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18
// (arch/x86/include/uapi/asm/prctl.h, the kernel's Documentation/arch/x86/xstate.rst).
bool request_tile_permission() {
#ifdef __linux__
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
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
  const bool os_ymm = (xcr0 & 0x6) == 0x6;    // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;  // + opmask, ZMM_Hi256, Hi16_ZMM
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
  const bool amx_cpu = (edx >> 24) & 1;
  const bool amx_bf16_cpu = (edx >> 22) & 1;
  const bool amx_int8_cpu = (edx >> 25) & 1;
  if (max_sub7 >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avx512bf16 = f.avx512f && ((eax >> 5) & 1);
  }
  // AMD family 19h with AVX-512 is Zen 4, whose 256-bit datapaths run each 512-bit operation as
  // two halves (family = base 0xF + extended 0xA; CPUID.0: "AuthenticAMD" in EBX, EDX, ECX).
  __cpuid(0, eax, ebx, ecx, edx);
  const bool amd = ebx == 0x68747541u && edx == 0x69746E65u && ecx == 0x444D4163u;
  f.intel = ebx == 0x756E6547u && edx == 0x49656E69u && ecx == 0x6C65746Eu;  // "Genu" "ineI" "ntel"
  __cpuid(1, eax, ebx, ecx, edx);
  const unsigned family = ((eax >> 8) & 0xF) + (((eax >> 8) & 0xF) == 0xF ? ((eax >> 20) & 0xFF) : 0);
  f.avx512_split = f.avx512f && amd && family == 0x19;
  const bool os_tiles = (xcr0 & 0x60000) == 0x60000;  // XTILECFG (17) + XTILEDATA (18)
  if (amx_cpu && os_tiles && f.avx512f && request_tile_permission()) {
    f.amx_tile = true;
    f.amx_bf16 = amx_bf16_cpu;
    f.amx_int8 = amx_int8_cpu;
  }
  return f;
}
#else
CpuFeatures detect() { return {}; }
#endif

// BALEEN_DISPATCH, read once: the level and whether the AMX switch starts on.
struct InitialDispatch {
  DispatchLevel level;
  bool amx;
};

InitialDispatch initial_dispatch() {
  InitialDispatch d{max_dispatch_level(cpu_features()), true};
  if (const char* env = std::getenv("BALEEN_DISPATCH"); env != nullptr && *env != '\0') {
    if (std::string_view(env) == "amx") {
      // Top level plus AMX: nothing to lower.
    } else if (auto parsed = parse_dispatch_level(env)) {
      d.level = clamp_dispatch_level(*parsed, cpu_features());
      d.amx = false;
    } else {
      std::fprintf(stderr, "baleen: ignoring BALEEN_DISPATCH=%s (expected scalar, avx2, avx512 or amx)\n", env);
    }
  }
  return d;
}

const InitialDispatch& initial() {
  static const InitialDispatch d = initial_dispatch();
  return d;
}

std::atomic<int>& level_slot() {
  static std::atomic<int> slot{static_cast<int>(initial().level)};
  return slot;
}

std::atomic<bool>& amx_slot() {
  static std::atomic<bool> slot{initial().amx};
  return slot;
}

bool amx_supported() {
  const CpuFeatures& f = cpu_features();
  return f.amx_tile && f.amx_bf16 && f.amx_int8;
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

bool amx_available() {
  return amx_supported() && amx_slot().load(std::memory_order_relaxed) && dispatch_level() == DispatchLevel::kAvx512;
}

bool set_amx_enabled(bool enabled) {
  amx_slot().store(enabled, std::memory_order_relaxed);
  return amx_available();
}

}  // namespace baleen
