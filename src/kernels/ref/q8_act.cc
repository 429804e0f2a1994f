#include "kernels/ref/q8_act.h"

#include <cmath>
#include <cstring>

#include "core/assert.h"
#include "kernels/ref/dequant.h"
#include "tensor/numeric.h"

namespace baleen {
namespace {

inline float load_f16(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// q[i] = nearbyint(x[i] * 127 / amax); returns d = amax / 127.
float quantize_block(const float* x, int n, int8_t* q) {
  float amax = 0.0f;
  for (int i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  const float id = amax > 0.0f ? 127.0f / amax : 0.0f;
  for (int i = 0; i < n; ++i) q[i] = static_cast<int8_t>(std::nearbyint(x[i] * id));
  return amax / 127.0f;
}

int32_t sum_q(const int8_t* q, int n) {
  int32_t s = 0;
  for (int i = 0; i < n; ++i) s += q[i];
  return s;
}

float dot_q8_0(const uint8_t* b, const ActQ8_32* a, int64_t nb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i, b += 34) {
    int32_t s = 0;
    for (int j = 0; j < 32; ++j) s += static_cast<int8_t>(b[2 + j]) * a[i].q[j];
    sum += load_f16(b) * a[i].d * static_cast<float>(s);
  }
  return sum;
}

float dot_q4_0(const uint8_t* b, const ActQ8_32* a, int64_t nb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i, b += 18) {
    int32_t s = 0;
    for (int j = 0; j < 16; ++j) s += (b[2 + j] & 0x0F) * a[i].q[j] + (b[2 + j] >> 4) * a[i].q[j + 16];
    s -= 8 * a[i].sum;
    sum += load_f16(b) * a[i].d * static_cast<float>(s);
  }
  return sum;
}

float dot_q5_0(const uint8_t* b, const ActQ8_32* a, int64_t nb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i, b += 22) {
    uint32_t qh;
    std::memcpy(&qh, b + 2, 4);
    int32_t s = 0;
    for (int j = 0; j < 16; ++j) {
      const int q0 = (b[6 + j] & 0x0F) | static_cast<int>(((qh >> j) & 1) << 4);
      const int q1 = (b[6 + j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1) << 4);
      s += q0 * a[i].q[j] + q1 * a[i].q[j + 16];
    }
    s -= 16 * a[i].sum;
    sum += load_f16(b) * a[i].d * static_cast<float>(s);
  }
  return sum;
}

// Q4_K and Q5_K (q5: the 5th bits at [16..48), qs at [48..176)).
float dot_k45(const uint8_t* b, const ActQ8_256* a, int64_t nb, bool q5) {
  const int bytes = q5 ? 176 : 144;
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i, b += bytes) {
    const uint8_t* qh = b + 16;
    const uint8_t* qs = b + (q5 ? 48 : 16);
    int32_t S = 0, M = 0;
    for (int s = 0; s < 8; ++s) {
      uint8_t sc, mn;
      unpack_k4_scale_min(b + 4, s, &sc, &mn);
      const uint8_t* q = qs + 32 * (s / 2);
      int32_t p = 0;
      for (int l = 0; l < 32; ++l) {
        int v = s % 2 == 0 ? (q[l] & 0x0F) : (q[l] >> 4);
        if (q5) v |= ((qh[l] >> s) & 1) << 4;
        p += v * a[i].q[32 * s + l];
      }
      S += sc * p;
      M += mn * a[i].sum32[s];
    }
    sum += a[i].d * load_f16(b) * static_cast<float>(S) - a[i].d * load_f16(b + 2) * static_cast<float>(M);
  }
  return sum;
}

float dot_q6_k(const uint8_t* b, const ActQ8_256* a, int64_t nb) {
  float sum = 0.0f;
  for (int64_t i = 0; i < nb; ++i, b += 210) {
    const auto* sc = reinterpret_cast<const int8_t*>(b + 192);
    int32_t p[16] = {};
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = b + 64 * half;
      const uint8_t* qh = b + 128 + 32 * half;
      for (int l = 0; l < 32; ++l) {
        const int q[4] = {(ql[l] & 0x0F) | (((qh[l] >> 0) & 3) << 4), (ql[l + 32] & 0x0F) | (((qh[l] >> 2) & 3) << 4),
                          (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4), (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)};
        for (int k = 0; k < 4; ++k) {
          const int elem = 128 * half + 32 * k + l;
          p[elem / 16] += q[k] * a[i].q[elem];
        }
      }
    }
    int32_t S = 0;
    for (int s = 0; s < 16; ++s) S += sc[s] * (p[s] - 32 * a[i].sum16[s]);
    sum += a[i].d * load_f16(b + 208) * static_cast<float>(S);
  }
  return sum;
}

}  // namespace

ActQ8Kind act_q8_kind(GgmlType type) {
  switch (type) {
    case GgmlType::kQ4_0:
    case GgmlType::kQ5_0:
    case GgmlType::kQ8_0:
      return ActQ8Kind::kQ8_32;
    case GgmlType::kQ4_K:
    case GgmlType::kQ5_K:
    case GgmlType::kQ6_K:
      return ActQ8Kind::kQ8_256;
    default:
      return ActQ8Kind::kNone;
  }
}

int act_q8_block_elems(ActQ8Kind kind) { return kind == ActQ8Kind::kQ8_256 ? 256 : 32; }
int act_q8_block_bytes(ActQ8Kind kind) {
  return kind == ActQ8Kind::kQ8_256 ? static_cast<int>(sizeof(ActQ8_256)) : static_cast<int>(sizeof(ActQ8_32));
}
int64_t act_q8_row_bytes(ActQ8Kind kind, int64_t cols) {
  return cols / act_q8_block_elems(kind) * act_q8_block_bytes(kind);
}

void quantize_act_q8_ref(ActQ8Kind kind, const float* x, int64_t cols, void* out) {
  BALEEN_ASSERT(kind != ActQ8Kind::kNone && cols % act_q8_block_elems(kind) == 0, "bad kind or cols");
  if (kind == ActQ8Kind::kQ8_32) {
    auto* a = static_cast<ActQ8_32*>(out);
    for (int64_t i = 0; i < cols / 32; ++i, x += 32) {
      a[i].d = quantize_block(x, 32, a[i].q);
      a[i].sum = static_cast<int16_t>(sum_q(a[i].q, 32));
      a[i].pad = 0;
    }
    return;
  }
  auto* a = static_cast<ActQ8_256*>(out);
  for (int64_t i = 0; i < cols / 256; ++i, x += 256) {
    a[i].d = quantize_block(x, 256, a[i].q);
    for (int s = 0; s < 16; ++s) a[i].sum16[s] = static_cast<int16_t>(sum_q(a[i].q + 16 * s, 16));
    for (int s = 0; s < 8; ++s) a[i].sum32[s] = static_cast<int16_t>(sum_q(a[i].q + 32 * s, 32));
  }
}

float dot_q8_ref(GgmlType type, const uint8_t* w_row, const void* act, int64_t cols) {
  const auto* a32 = static_cast<const ActQ8_32*>(act);
  const auto* a256 = static_cast<const ActQ8_256*>(act);
  switch (type) {
    case GgmlType::kQ8_0:
      return dot_q8_0(w_row, a32, cols / 32);
    case GgmlType::kQ4_0:
      return dot_q4_0(w_row, a32, cols / 32);
    case GgmlType::kQ5_0:
      return dot_q5_0(w_row, a32, cols / 32);
    case GgmlType::kQ4_K:
      return dot_k45(w_row, a256, cols / 256, false);
    case GgmlType::kQ5_K:
      return dot_k45(w_row, a256, cols / 256, true);
    case GgmlType::kQ6_K:
      return dot_q6_k(w_row, a256, cols / 256);
    default:
      BALEEN_ASSERT(false, "dot_q8_ref: type without an integer path");
      return 0.0f;
  }
}

}  // namespace baleen
