// Measurements behind `baleen bench` that do not run the model: the machine's DRAM read bandwidth
// (a multithreaded streaming sum over a buffer far larger than the last-level cache), the bytes of
// weights a decoded token reads (from the file's tensor list and the config), and the median/min/max
// of repeated timings. CLI-only; the model layer is not involved.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_pool.h"

namespace baleen {
struct ModelConfig;
}

namespace baleen::cli {

// Median (mean of the two middle values for an even count), min and max. Empty input: all zero.
struct Spread {
  double median = 0, min = 0, max = 0;
};
Spread spread_of(std::vector<double> values);

// Size in bytes of the largest CPU cache of cpu0 (from /sys/devices/system/cpu/cpu0/cache); 0 when
// unknown.
uint64_t last_level_cache_bytes();

struct Bandwidth {
  double gbs = 0;  // median over passes, 1e9 bytes/s
  double min_gbs = 0, max_gbs = 0;
  uint64_t buffer_bytes = 0;  // size of the buffer streamed
  int threads = 0;
  int passes = 0;
  bool prefetched = false;     // the figures are the prefetching sum's (faster than the plain one)
  double plain_gbs = 0;        // the plain sum's median (on the figures' pages)
  bool huge_pages = false;     // the figures are from the buffer advised to take 2 MiB pages
  double small_pages_gbs = 0;  // the faster sum's median on the buffer of small (4 KiB) pages
};
// Streams two buffers of `buffer_bytes` (0: max(1 GiB, 8 x the last-level cache), capped at an
// eighth of the available memory), one on small pages and one advised to take transparent huge
// pages, `passes` times with every thread of `pool`, summing 64-bit words, each buffer in each pass
// twice: plainly and with software prefetch into L2 4 KiB ahead; each pass is timed, and the way
// with the highest median gives the figures. Errors: kOutOfRange when a buffer cannot be mapped.
Result<Bandwidth> measure_read_bandwidth(ThreadPool& pool, uint64_t buffer_bytes = 0, int passes = 5);

struct WeightBytes {
  uint64_t file_bytes = 0;              // the .gguf file, or the folder's .safetensors files
  uint64_t tensor_bytes = 0;            // every tensor in the file(s)
  uint64_t per_token_bytes = 0;         // weights read to decode one token (see weight_bytes_per_token)
  uint64_t routed_per_token_bytes = 0;  // of which the top-k routed experts
  uint64_t embedding_row_bytes = 0;     // of which the token embedding's row (0 when tied to the head)
};
// Bytes of weights read per decoded token, from the tensor list of `path` (a .gguf file or a Hugging
// Face folder): every tensor of the main layers, the final norm and the output head in full; of the
// routed-expert tensors only num_experts_per_tok / n_routed_experts (the top-k experts one token
// uses; shared experts in full); of the token embedding one row (all of it when it is tied to the
// output head); MTP layers (index >= n_layers) not at all. The KV cache is not counted.
// Errors: the file's parse errors.
Result<WeightBytes> weight_bytes_per_token(const std::string& path, const ModelConfig& config);

}  // namespace baleen::cli
