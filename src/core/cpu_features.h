// x86 CPU feature detection (CPUID + XGETBV: the CPU has the instructions *and* the OS saves the
// registers) and the SIMD dispatch level chosen from it. The level is picked once, on first use,
// as the best the CPU supports, lowered by env BALEEN_DISPATCH=scalar|avx2|avx512 if set; tests and
// benchmarks may change it with set_dispatch_level (always clamped to what the CPU supports, so ISA
// code never runs on a CPU without it). Users: kernels/matmul.cc, kernel tests, benchmarks.
//
// AMX (Intel tile units: AMX-TILE + AMX-BF16 + AMX-INT8) is not a level of its own but a switch on
// top of kAvx512: amx_available() is true when the CPU has it, the OS saves tile state (XCR0 bits
// 17/18), Linux granted this process tile data (arch_prctl ARCH_REQ_XCOMP_PERM), the level is
// kAvx512, and the switch is on. The switch starts on; BALEEN_DISPATCH=amx asks for it explicitly
// (top level + AMX), any other BALEEN_DISPATCH value (scalar/avx2/avx512) turns it off.
#pragma once

#include <optional>
#include <string_view>

namespace baleen {

struct CpuFeatures {
  bool avx = false;  // AVX and OS support for YMM state
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;  // AVX-512 foundation and OS support for ZMM/opmask state
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  bool avx512_split = false;  // 512-bit operations run as two 256-bit halves (AMD Zen 4): kernels
                              // whose speed depends on it pick their variant by it (same results)
  bool intel = false;         // CPUID.0 vendor "GenuineIntel" (kernels/x86/q8_dot.h picks by it too)
  bool amx_tile = false;      // CPUID.7.0:EDX bit 24, OS saves XTILECFG/XTILEDATA, and Linux granted
  bool amx_bf16 = false;      // XTILEDATA to this process (arch_prctl); bits 22 (BF16) and 25 (INT8)
  bool amx_int8 = false;
};

// What this CPU and OS support (detected once; thread-safe).
const CpuFeatures& cpu_features();

// Ordered: a higher level needs everything a lower one does.
//   kAvx2:   AVX2 + FMA + F16C
//   kAvx512: kAvx2 + AVX-512 F/BW/VL/VNNI/BF16 (the flags the *_avx512.cc files are built with)
enum class DispatchLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

const char* dispatch_level_name(DispatchLevel level);
// "scalar" / "avx2" / "avx512" -> level; anything else -> nullopt.
std::optional<DispatchLevel> parse_dispatch_level(std::string_view name);

// The best level `f` allows, and `requested` lowered to it. Pure: testable with made-up features.
DispatchLevel max_dispatch_level(const CpuFeatures& f);
DispatchLevel clamp_dispatch_level(DispatchLevel requested, const CpuFeatures& f);

// The level kernels use now. Thread-safe (atomic); the first call reads BALEEN_DISPATCH.
DispatchLevel dispatch_level();
// Sets the level (clamped to cpu_features()) and returns the level actually set. For tests and
// benchmarks; do not call while kernels run on other threads if you need a consistent level.
DispatchLevel set_dispatch_level(DispatchLevel requested);

// True when AMX tile code may run now (see the top of this file). Thread-safe.
bool amx_available();
// Turns the AMX switch on or off (on only takes effect where the CPU/OS support it) and returns
// amx_available(). For tests and benchmarks, same caveat as set_dispatch_level.
bool set_amx_enabled(bool enabled);

}  // namespace baleen
