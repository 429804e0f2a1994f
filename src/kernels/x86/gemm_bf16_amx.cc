// AMX pieces of the BF16 GEMM (kernels/x86/gemm_bf16.h): TDPBF16PS on 2 x 2 tiles of F32
// accumulators (32 weight rows x 32 tokens), A tiles = 16 weight rows x 32 k read straight from the
// panel (row stride kp * 2 bytes), B tiles = 16 k pairs x 16 tokens from the VNNI activation slab
// (row stride 64 bytes). Tile state is per thread: gemm_amx_begin loads the configuration (all 8
// tiles 16 rows x 64 bytes; kernels/x86/amx_tile_config.h), gemm_amx_end releases it.
#include <immintrin.h>

#include "kernels/x86/amx_tile_config.h"
#include "kernels/x86/gemm_bf16.h"

namespace baleen {
namespace {

// Tiles 0..3: C (weight-row tile a, token tile b) at 2a + b; 4, 5: A; 6, 7: B.
template <int NB>
void kernel_32xnb(const uint16_t* w, int64_t kp, const uint16_t* xp, int64_t xbs, float* out) {
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  const int64_t a_stride = kp * 2;  // bytes
  const uint16_t* w1 = w + 16 * kp;
  for (int64_t k = 0; k < kp; k += 32) {
    _tile_loadd(4, w + k, a_stride);
    _tile_loadd(5, w1 + k, a_stride);
    _tile_loadd(6, xp + k * 16, 64);  // pair row k / 2 of the slab: (k / 2) * 16 tokens * 2 bf16
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(2, 5, 6);
    if constexpr (NB == 2) {
      _tile_loadd(7, xp + xbs + k * 16, 64);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(3, 5, 7);
    }
  }
  // out: [2 row tiles][NB token tiles][16 rows][16 tokens]
  _tile_stored(0, out, 64);
  _tile_stored(2, out + NB * 256, 64);
  if constexpr (NB == 2) {
    _tile_stored(1, out + 256, 64);
    _tile_stored(3, out + 3 * 256, 64);
  }
}

}  // namespace

void gemm_amx_begin() {
  AmxTileConfig cfg = amx_config_empty();
  for (int t = 0; t < 8; ++t) amx_config_set_tile(cfg, t, 16, 64);
  amx_load_config(cfg);
}

void gemm_amx_end() { _tile_release(); }

void gemm_panel_amx(const uint16_t* wp, int64_t rows, int64_t kp, const uint16_t* xp, int64_t m, float* y,
                    int64_t y_stride) {
  const int64_t xbs = kp * kGemmTokenBlock;
  const int64_t n_blocks = (m + kGemmTokenBlock - 1) / kGemmTokenBlock;
  alignas(64) float out[4 * 256];
  for (int64_t b = 0; b < n_blocks; b += 2) {
    const int nb = n_blocks - b >= 2 ? 2 : 1;
    for (int64_t r0 = 0; r0 < rows; r0 += 32) {
      if (nb == 2) {
        kernel_32xnb<2>(wp + r0 * kp, kp, xp + b * xbs, xbs, out);
      } else {
        kernel_32xnb<1>(wp + r0 * kp, kp, xp + b * xbs, xbs, out);
      }
      const int64_t nrow = rows - r0 < 32 ? rows - r0 : 32;
      for (int64_t j = 0; j < nb; ++j) {
        for (int64_t l = 0; l < kGemmTokenBlock; ++l) {
          const int64_t t = (b + j) * kGemmTokenBlock + l;
          if (t >= m) break;
          float* yt = y + t * y_stride + r0;
          for (int64_t i = 0; i < nrow; ++i) yt[i] = out[((i / 16) * nb + j) * 256 + (i % 16) * 16 + l];
        }
      }
    }
  }
}

}  // namespace baleen
