// Prefix cache for one model: KV rows of prompt prefixes already evaluated, kept in fixed-size
// blocks of block_tokens tokens in a radix tree keyed by token ids, so a request whose prompt
// starts with a cached prefix copies those rows into its session (Session::import_kv, a memcpy)
// instead of recomputing them. Sessions do not share memory: the cache holds its own copies.
// Least recently used leaf blocks are evicted when the memory budget is exceeded; with a cache_dir
// they are written to disk first (engine/prefix_cache_disk.h) and read back by later lookups, also
// after a restart. MLA's small latent (kv_lora_rank + qk_rope_head_dim floats per layer per token)
// is what makes keeping and storing many prefixes cheap. Thread-safe (one mutex); the engine's
// scheduler thread calls restore/insert, HTTP threads read stats().
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/prefix_cache_disk.h"
#include "model/model.h"

namespace baleen {

struct PrefixCacheOptions {
  int64_t block_tokens = 32;         // tokens per block (> 0)
  int64_t floats_per_token = 0;      // Session::kv_floats_per_token() of the model's sessions (> 0)
  int64_t max_memory_tokens = 8192;  // memory budget in tokens (blocks * block_tokens); 0: disk only
  std::string cache_dir;             // disk tier root ("" : memory only)
  uint64_t max_disk_bytes = 0;       // disk tier budget (0: unlimited)
  // Identity of the model's computation (engine/model_fingerprint.h); required for the disk tier.
  std::string model_fingerprint;
  // Receives warnings (corrupt or foreign files, I/O failures), called with the cache's mutex held.
  // Default: "baleen: prefix cache: ..." on stderr.
  WarnFn on_warning;
};

struct PrefixCacheStats {
  int64_t lookups = 0;          // restore() calls
  int64_t hits = 0;             // restore() calls that reused at least one block
  int64_t misses = 0;           // restore() calls that reused nothing
  int64_t hit_tokens = 0;       // tokens restored in total
  int64_t disk_hit_tokens = 0;  // of which read back from disk
  int64_t inserted_blocks = 0;  // blocks added by insert()
  int64_t blocks_in_memory = 0;
  int64_t bytes_in_memory = 0;  // rows held (excluding tree bookkeeping)
  int64_t evictions = 0;        // blocks dropped from memory (written to disk first when enabled)
  int64_t blocks_on_disk = 0;   // block files indexed (found at startup or written)
  int64_t bytes_on_disk = 0;
  int64_t disk_writes = 0;
  int64_t disk_reads = 0;     // block files read back and verified
  int64_t disk_rejected = 0;  // files ignored as corrupt, truncated or foreign
  int64_t disk_write_errors = 0;
  int64_t disk_deleted = 0;  // files removed to stay within max_disk_bytes
  bool disk_enabled = false;
};

class PrefixCache {
 public:
  // Errors: kInvalidArgument for block_tokens or floats_per_token <= 0, max_memory_tokens < 0. A
  // cache_dir that cannot be created only disables the disk tier (with a warning).
  static Result<std::unique_ptr<PrefixCache>> create(const PrefixCacheOptions& opts);
  ~PrefixCache();

  // Longest cached prefix of `tokens`: a multiple of block_tokens, shorter than tokens.size() (so
  // at least one token is left to evaluate) and within session.n_ctx(). Copies its rows into
  // `session` via import_kv and returns the number of tokens reused (0 on a miss). Errors:
  // kInvalidArgument when the session is not empty (n_past() != 0) or its kv_floats_per_token()
  // differs from the options'; import_kv's errors (the session is then truncated back to 0).
  Result<int64_t> restore(std::span<const TokenId> tokens, Session& session);

  // How many tokens restore() would reuse for `tokens` in a session of n_ctx, without changing
  // anything (blocks on disk count when their file is indexed; a file found corrupt on reading
  // makes the real restore shorter).
  int64_t cached_prefix(std::span<const TokenId> tokens, int64_t n_ctx) const;

  // Stores the full blocks of the first session.n_past() positions, whose token ids are the first
  // n_past() of `tokens` (tokens.size() >= n_past(); the caller keeps them in step), that are not
  // cached yet, then evicts down to the memory budget. Errors: kInvalidArgument for a size
  // mismatch; export_kv's errors.
  Status insert(std::span<const TokenId> tokens, const Session& session);

  PrefixCacheStats stats() const;
  const PrefixCacheOptions& options() const { return opts_; }

 private:
  struct Node {
    Node* parent = nullptr;
    std::vector<TokenId> tokens;  // [block_tokens] (empty for the root)
    std::vector<float> rows;      // [block_tokens, floats_per_token]
    uint64_t hash = kChainSeed;   // chain hash of the prefix ending with this block
    int64_t depth = -1;           // block index along the path (root: -1)
    uint64_t last_use = 0;
    std::unordered_map<uint64_t, std::unique_ptr<Node>> children;  // by chain hash
  };
  // Eviction order: least recently used first, deepest first among equals (a path is touched with
  // one stamp, so the first entry is always a leaf).
  using LruKey = std::tuple<uint64_t, int64_t, Node*>;

  explicit PrefixCache(const PrefixCacheOptions& opts);
  Node* find_child(Node* parent, uint64_t hash, std::span<const TokenId> block) const;
  Node* add_child(Node* parent, uint64_t hash, std::span<const TokenId> block, std::vector<float> rows);
  void touch(std::span<Node* const> path);
  void evict_to_budget();
  void warn(const std::string& msg) const;

  PrefixCacheOptions opts_;
  mutable std::mutex mu_;
  Node root_;
  std::set<LruKey> lru_;
  std::unique_ptr<BlockStore> disk_;
  uint64_t clock_ = 0;
  int64_t n_blocks_ = 0;
  PrefixCacheStats st_;
};

}  // namespace baleen
