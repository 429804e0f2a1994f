#include "bench_measure.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/model.h"

namespace baleen::cli {
namespace {

// "32768K", "1024K", "48K", "2M" -> bytes; 0 when unreadable.
uint64_t parse_cache_size(const std::string& s) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (end == s.c_str()) return 0;
  if (*end == 'K') v *= 1024ull;
  if (*end == 'M') v *= 1024ull * 1024ull;
  if (*end == 'G') v *= 1024ull * 1024ull * 1024ull;
  return v;
}

std::string read_first_line(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::string line;
  std::getline(f, line);
  return line;
}

// MemAvailable from /proc/meminfo in bytes; 0 when unknown.
uint64_t available_memory_bytes() {
  std::ifstream f("/proc/meminfo");
  std::string key;
  uint64_t kib = 0;
  std::string unit;
  while (f >> key >> kib >> unit) {
    if (key == "MemAvailable:") return kib * 1024ull;
  }
  return 0;
}

// Sums `n` 64-bit words with four independent accumulators (lets the compiler keep several loads
// in flight and vectorise), a 64-byte line per iteration. kPrefetch: each iteration also prefetches
// the line 4 KiB ahead into L2. Some machines stream faster with software prefetch than with their
// hardware prefetchers alone, and the decode kernels prefetch: on the 2-core Emerald Rapids VM (2
// threads, 1 GiB) the plain sum read 20.8-22.5 GB/s, the prefetching one 30.2-30.7 (16 KiB ahead:
// 28.6-31.2, 1 KiB: no gain), and V2-Lite decode streamed 23.3 GB/s of weights, 112% of the plain
// figure.
template <bool kPrefetch>
uint64_t sum_words(const uint64_t* p, size_t n) {
  constexpr size_t kAhead = 4096 / sizeof(uint64_t);
  uint64_t a = 0, b = 0, c = 0, d = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    if constexpr (kPrefetch) __builtin_prefetch(p + i + kAhead, 0, 2);  // (past the end: does not fault)
    a += p[i] + p[i + 4];
    b += p[i + 1] + p[i + 5];
    c += p[i + 2] + p[i + 6];
    d += p[i + 3] + p[i + 7];
  }
  for (; i < n; ++i) a += p[i];
  return a + b + c + d;
}

// Layer index of "blk.N." (GGUF) or "model.layers.N." (HF); -1 when the name has neither.
int64_t layer_index(std::string_view name) {
  for (std::string_view prefix : {std::string_view("blk."), std::string_view("model.layers.")}) {
    if (name.substr(0, prefix.size()) != prefix) continue;
    std::string_view rest = name.substr(prefix.size());
    int64_t v = 0;
    size_t i = 0;
    while (i < rest.size() && rest[i] >= '0' && rest[i] <= '9') v = v * 10 + (rest[i++] - '0');
    return i > 0 ? v : -1;
  }
  return -1;
}

bool is_routed_expert(std::string_view name) {
  return name.find("_exps.") != std::string_view::npos || name.find(".mlp.experts.") != std::string_view::npos;
}

struct TensorEntry {
  std::string_view name;
  uint64_t n_bytes;
};

// The rule of weight_bytes_per_token over a tensor list (fills the per-token fields of wb).
void per_token_bytes(const std::vector<TensorEntry>& tensors, const ModelConfig& c, std::string_view embd_name,
                     bool tied, WeightBytes* wb) {
  uint64_t total = 0;
  for (const TensorEntry& t : tensors) {
    const int64_t layer = layer_index(t.name);
    if (layer >= c.n_layers) continue;  // MTP module: not run while decoding
    if (t.name == embd_name) {
      if (tied || c.n_vocab <= 0) {
        total += t.n_bytes;
      } else {
        wb->embedding_row_bytes = t.n_bytes / static_cast<uint64_t>(c.n_vocab);
        total += wb->embedding_row_bytes;
      }
    } else if (is_routed_expert(t.name) && c.n_routed_experts > 0) {
      const uint64_t k = static_cast<uint64_t>(std::min(c.num_experts_per_tok, c.n_routed_experts));
      const uint64_t part = t.n_bytes / static_cast<uint64_t>(c.n_routed_experts) * k;
      wb->routed_per_token_bytes += part;
      total += part;
    } else {
      total += t.n_bytes;
    }
  }
  wb->per_token_bytes = total;
}

}  // namespace

Spread spread_of(std::vector<double> values) {
  Spread s;
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  s.median = n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
  s.min = values.front();
  s.max = values.back();
  return s;
}

uint64_t last_level_cache_bytes() {
  uint64_t best = 0;
  std::error_code ec;
  std::filesystem::directory_iterator it("/sys/devices/system/cpu/cpu0/cache", ec);
  if (ec) return 0;
  for (const auto& entry : it) {
    if (entry.path().filename().string().rfind("index", 0) != 0) continue;
    best = std::max(best, parse_cache_size(read_first_line(entry.path() / "size")));
  }
  return best;
}

// An anonymous mapping of `bytes`, 2 MiB aligned, advised to take transparent huge pages (`huge`)
// or not; unmapped on destruction. data() is nullptr when the mapping failed.
class ProbeBuffer {
 public:
  static constexpr uint64_t kHuge = uint64_t{2} << 20;
  ProbeBuffer(uint64_t bytes, bool huge) : bytes_(bytes + kHuge) {
    void* r = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) return;
    base_ = static_cast<uint8_t*>(r);
    data_ = reinterpret_cast<uint64_t*>(base_ + (kHuge - reinterpret_cast<uintptr_t>(base_) % kHuge) % kHuge);
    // (Advice only: where transparent huge pages are off, both buffers take small pages.)
    ::madvise(data_, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
  }
  ProbeBuffer(const ProbeBuffer&) = delete;
  ProbeBuffer& operator=(const ProbeBuffer&) = delete;
  ~ProbeBuffer() {
    if (base_ != nullptr) ::munmap(base_, bytes_);
  }
  uint64_t* data() const { return data_; }

 private:
  uint64_t bytes_;
  uint8_t* base_ = nullptr;
  uint64_t* data_ = nullptr;
};

Result<Bandwidth> measure_read_bandwidth(ThreadPool& pool, uint64_t buffer_bytes, int passes) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  constexpr uint64_t kBlock = uint64_t{1} << 20;  // work unit: 1 MiB
  if (buffer_bytes == 0) {
    buffer_bytes = std::max(kGiB, 8 * last_level_cache_bytes());
    const uint64_t avail = available_memory_bytes();
    if (avail > 0) buffer_bytes = std::min(buffer_bytes, avail / 8);  // two buffers
  }
  buffer_bytes = std::max(kBlock, buffer_bytes / kBlock * kBlock);
  // Small pages (kSmall) and 2 MiB pages (kHugePages): a model's weights can sit in either (the
  // page cache's folios; see core/mapped_file.cc), and the machine's bandwidth is the faster.
  enum { kSmall, kHugePages };
  const ProbeBuffer bufs[2] = {ProbeBuffer(buffer_bytes, false), ProbeBuffer(buffer_bytes, true)};
  for (const ProbeBuffer& b : bufs) {
    if (b.data() == nullptr) {
      return make_error(ErrorCode::kOutOfRange, "cannot allocate %llu bytes to measure memory bandwidth",
                        static_cast<unsigned long long>(buffer_bytes));
    }
  }
  const int64_t n_blocks = static_cast<int64_t>(buffer_bytes / kBlock);
  const size_t words_per_block = static_cast<size_t>(kBlock / sizeof(uint64_t));
  // First touch from the same threads that read (pages land near them), non-zero so no page is the
  // shared zero page.
  for (const ProbeBuffer& buf : bufs) {
    uint64_t* data = buf.data();
    pool.parallel_for(n_blocks, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t blk = b; blk < e; ++blk) {
        uint64_t* p = data + static_cast<size_t>(blk) * words_per_block;
        for (size_t i = 0; i < words_per_block; ++i) p[i] = static_cast<uint64_t>(blk) + i;
      }
    });
  }

  std::atomic<uint64_t> sink{0};
  std::vector<double> gbs[2][2];                   // [pages][plain, prefetched]
  for (int pass = 0; pass < passes + 1; ++pass) {  // pass 0 warms up
    for (int pages = 0; pages < 2; ++pages) {
      const uint64_t* data = bufs[pages].data();
      for (int pf = 0; pf < 2; ++pf) {
        auto t0 = std::chrono::steady_clock::now();
        pool.parallel_for(n_blocks, 1, [&](int64_t b, int64_t e, int) {
          const uint64_t* p = data + static_cast<size_t>(b) * words_per_block;
          const size_t n = static_cast<size_t>(e - b) * words_per_block;
          sink.fetch_add(pf != 0 ? sum_words<true>(p, n) : sum_words<false>(p, n), std::memory_order_relaxed);
        });
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        if (pass > 0 && s > 0) gbs[pages][pf].push_back(static_cast<double>(buffer_bytes) / s / 1e9);
      }
    }
  }
  if (sink.load() == 1) std::fputs("", stderr);  // keeps the sums observable

  // The fastest of the four ways (by median) is what the machine can stream.
  Spread best;
  int best_pages = kSmall, best_pf = 0;
  for (int pages = 0; pages < 2; ++pages) {
    for (int pf = 0; pf < 2; ++pf) {
      const Spread sp = spread_of(gbs[pages][pf]);
      if (sp.median > best.median) {
        best = sp;
        best_pages = pages;
        best_pf = pf;
      }
    }
  }
  Bandwidth bw;
  bw.prefetched = best_pf != 0;
  bw.huge_pages = best_pages == kHugePages;
  bw.plain_gbs = spread_of(gbs[best_pages][0]).median;
  bw.small_pages_gbs = std::max(spread_of(gbs[kSmall][0]).median, spread_of(gbs[kSmall][1]).median);
  bw.gbs = best.median;
  bw.min_gbs = best.min;
  bw.max_gbs = best.max;
  bw.buffer_bytes = buffer_bytes;
  bw.threads = pool.size();
  bw.passes = static_cast<int>(gbs[best_pages][best_pf].size());
  return bw;
}

Result<WeightBytes> weight_bytes_per_token(const std::string& path, const ModelConfig& config) {
  WeightBytes wb;
  std::error_code ec;
  std::vector<TensorEntry> entries;
  if (std::filesystem::is_directory(path, ec)) {
    BALEEN_ASSIGN_OR_RETURN(SafetensorsModel st, SafetensorsModel::open(path));
    std::set<std::string> files;
    for (const SafetensorsTensor* t : st.tensors()) {
      entries.push_back({t->name, t->n_bytes});
      wb.tensor_bytes += t->n_bytes;
      files.insert(t->file);
    }
    for (const std::string& f : files) {
      const auto size = std::filesystem::file_size(f, ec);
      if (!ec) wb.file_bytes += size;
    }
    const bool tied = st.find("lm_head.weight") == nullptr;
    per_token_bytes(entries, config, "model.embed_tokens.weight", tied, &wb);
    return wb;
  }
  BALEEN_ASSIGN_OR_RETURN(GgufFile gguf, GgufFile::open(path));
  wb.file_bytes = gguf.file_size();
  for (const GgufTensorInfo& t : gguf.tensors()) {
    entries.push_back({t.name, t.n_bytes});
    wb.tensor_bytes += t.n_bytes;
  }
  const bool tied = gguf.find_tensor("output.weight") == nullptr;
  per_token_bytes(entries, config, "token_embd.weight", tied, &wb);
  return wb;
}

}  // namespace baleen::cli
