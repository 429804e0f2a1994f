// The prefix cache's disk tier: one file per KV block, named by the chain hash of the token prefix
// it ends, in a folder per model fingerprint (CACHE_DIR/<fnv64(fingerprint)>/<chain hash>.kvb).
// Files are found by name (no index file), so they survive restarts; every read verifies the whole
// file before its rows are used, and anything that does not verify is ignored with a warning.
//
// Block file layout (little-endian):
//   0   8  magic "BLNKVBLK"
//   8   4  u32 format version (kBlockFileVersion)
//   12  4  u32 block_tokens
//   16  8  u64 floats_per_token
//   24  8  u64 chain hash of the prefix up to and including this block
//   32  8  u64 chain hash of the parent prefix (kChainSeed for the first block)
//   40  8  u64 depth (0 for the first block of a prompt)
//   48  8  u64 payload bytes (block_tokens * floats_per_token * 4)
//   56  4  u32 fingerprint length L (<= kMaxFingerprint)
//   60  4  u32 reserved, 0
//   64  L  model fingerprint (engine/model_fingerprint.h)
//   ..     i32 token ids [block_tokens]
//   ..     f32 rows [block_tokens, floats_per_token] (Session::export_kv layout)
//   end 8  u64 FNV-1a 64 of every byte before it
// Chain hash: h(block d) = FNV-1a 64 over the 8 bytes of h(block d-1) then the block's token ids;
// the header repeats the parent hash and the tokens, so a name collision is caught unless both
// 64-bit hashes and the tokens collide.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace baleen {

inline constexpr uint32_t kBlockFileVersion = 1;
inline constexpr uint64_t kChainSeed = 0xcbf29ce484222325ull;  // FNV-1a 64 offset basis
inline constexpr size_t kMaxFingerprint = 4096;

// FNV-1a 64 of `n` bytes, continuing from `h`.
uint64_t fnv1a64(const void* data, size_t n, uint64_t h = kChainSeed);
// The chain hash of a block whose parent prefix hashes to `parent`.
uint64_t chain_hash(uint64_t parent, std::span<const TokenId> block);

using WarnFn = std::function<void(const std::string&)>;

// Identity of one block: what a file must repeat to be trusted.
struct BlockKey {
  uint64_t hash = 0;
  uint64_t parent_hash = kChainSeed;
  int64_t depth = 0;
  std::span<const TokenId> tokens;  // [block_tokens]
};

// Not thread-safe (PrefixCache's mutex covers it). Counters are cumulative.
class BlockStore {
 public:
  // root_dir "" disables the tier. Creates root_dir/<fnv64(fingerprint)> and indexes the *.kvb files
  // already there by name and size (contents are verified when read). max_bytes 0: no limit; over
  // it, the least recently used files are deleted.
  BlockStore(const std::string& root_dir, const std::string& fingerprint, int64_t block_tokens,
             int64_t floats_per_token, uint64_t max_bytes, WarnFn warn);

  bool enabled() const { return enabled_; }
  const std::string& dir() const { return dir_; }
  // A file for `hash` is indexed (written by this process or found at startup).
  bool contains(uint64_t hash) const { return index_.count(hash) != 0; }
  // Writes the block (to a temporary name, then renamed). false after a warning on I/O failure.
  bool write(const BlockKey& key, const float* rows);
  // Reads and verifies the block's file into rows [block_tokens * floats_per_token]. false when it
  // is not indexed, unreadable or does not verify (those two with a warning, and the file is
  // dropped from the index so that a later write replaces it).
  bool read(const BlockKey& key, std::vector<float>* rows);

  int64_t n_files() const { return static_cast<int64_t>(index_.size()); }
  uint64_t bytes() const { return bytes_; }
  int64_t writes() const { return writes_; }
  int64_t reads() const { return reads_; }
  int64_t rejected() const { return rejected_; }
  int64_t write_errors() const { return write_errors_; }
  int64_t deleted() const { return deleted_; }

  // Size in bytes of a block file.
  uint64_t file_bytes() const;
  std::string path_of(uint64_t hash) const;

 private:
  struct Entry {
    uint64_t bytes = 0;
    uint64_t last_use = 0;
  };
  void index_dir();
  void enforce_budget(uint64_t keep);
  void reject(uint64_t hash, const std::string& why);

  bool enabled_ = false;
  std::string dir_;
  std::string fingerprint_;
  int64_t block_tokens_;
  int64_t floats_per_token_;
  uint64_t max_bytes_;
  WarnFn warn_;
  std::unordered_map<uint64_t, Entry> index_;
  uint64_t bytes_ = 0;
  uint64_t clock_ = 0;
  int64_t writes_ = 0, reads_ = 0, rejected_ = 0, write_errors_ = 0, deleted_ = 0;
};

}  // namespace baleen
