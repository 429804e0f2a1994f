// The AMX tile configuration (LDTILECFG's 64-byte operand) and its loading, shared by the AMX kernel
// files (kernels/x86/*_amx.cc; include only from those, built with the AMX flags of
// src/CMakeLists.txt). Layout from the Intel SDM vol. 2 (LDTILECFG): byte 0 palette, byte 1
// start_row, bytes 16..47 colsb[16] (bytes per tile row), bytes 48..63 rows[16]; palette 1 has 8
// tiles of at most 16 rows x 64 bytes.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace baleen {

struct alignas(64) AmxTileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
static_assert(sizeof(AmxTileConfig) == 64);

// A palette-1 configuration with every tile unused; set_tile fills one.
inline AmxTileConfig amx_config_empty() {
  AmxTileConfig cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.palette_id = 1;
  return cfg;
}
inline void amx_config_set_tile(AmxTileConfig& cfg, int tile, int rows, int colsb) {
  cfg.rows[tile] = static_cast<uint8_t>(rows);
  cfg.colsb[tile] = static_cast<uint16_t>(colsb);
}

// Loads cfg into the calling thread's tile state. GCC 12's _tile_loadconfig declares only 8 bytes
// of its 64-byte operand, so stores to the struct could be dropped as dead; the asm makes the whole
// struct visibly read first.
inline void amx_load_config(const AmxTileConfig& cfg) {
  asm volatile("" : : "m"(cfg) : "memory");
  _tile_loadconfig(&cfg);
}

}  // namespace baleen
