#include "engine/prefix_cache.h"

#include <algorithm>
#include <cstdio>

namespace baleen {

Result<std::unique_ptr<PrefixCache>> PrefixCache::create(const PrefixCacheOptions& opts) {
  if (opts.block_tokens <= 0 || opts.floats_per_token <= 0 || opts.max_memory_tokens < 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "prefix cache: block_tokens (%lld) and floats_per_token (%lld) must be positive, "
                      "max_memory_tokens (%lld) not negative",
                      static_cast<long long>(opts.block_tokens), static_cast<long long>(opts.floats_per_token),
                      static_cast<long long>(opts.max_memory_tokens));
  }
  return std::unique_ptr<PrefixCache>(new PrefixCache(opts));
}

PrefixCache::PrefixCache(const PrefixCacheOptions& opts) : opts_(opts) {
  if (!opts_.on_warning) {
    opts_.on_warning = [](const std::string& msg) { std::fprintf(stderr, "baleen: prefix cache: %s\n", msg.c_str()); };
  }
  disk_ = std::make_unique<BlockStore>(opts_.cache_dir, opts_.model_fingerprint, opts_.block_tokens,
                                       opts_.floats_per_token, opts_.max_disk_bytes, opts_.on_warning);
}

PrefixCache::~PrefixCache() = default;

void PrefixCache::warn(const std::string& msg) const { opts_.on_warning(msg); }

PrefixCache::Node* PrefixCache::find_child(Node* parent, uint64_t hash, std::span<const TokenId> block) const {
  auto it = parent->children.find(hash);
  if (it == parent->children.end()) return nullptr;
  Node* n = it->second.get();
  // A 64-bit hash collision is treated as a miss.
  return std::equal(block.begin(), block.end(), n->tokens.begin(), n->tokens.end()) ? n : nullptr;
}

PrefixCache::Node* PrefixCache::add_child(Node* parent, uint64_t hash, std::span<const TokenId> block,
                                          std::vector<float> rows) {
  auto node = std::make_unique<Node>();
  node->parent = parent;
  node->tokens.assign(block.begin(), block.end());
  node->rows = std::move(rows);
  node->hash = hash;
  node->depth = parent->depth + 1;
  Node* raw = node.get();
  auto& slot = parent->children[hash];
  if (slot) {  // a colliding block under the same parent: the newer one replaces it if it is a leaf
    if (!slot->children.empty()) return nullptr;
    lru_.erase(LruKey{slot->last_use, -slot->depth, slot.get()});
    --n_blocks_;
  }
  slot = std::move(node);
  lru_.insert(LruKey{raw->last_use, -raw->depth, raw});
  ++n_blocks_;
  return raw;
}

void PrefixCache::touch(std::span<Node* const> path) {
  const uint64_t stamp = ++clock_;
  for (Node* n : path) {
    lru_.erase(LruKey{n->last_use, -n->depth, n});
    n->last_use = stamp;
    lru_.insert(LruKey{n->last_use, -n->depth, n});
  }
}

void PrefixCache::evict_to_budget() {
  while (n_blocks_ * opts_.block_tokens > opts_.max_memory_tokens && !lru_.empty()) {
    Node* victim = std::get<2>(*lru_.begin());
    BALEEN_ASSERT(victim->children.empty(), "prefix cache: LRU victim is not a leaf");
    lru_.erase(lru_.begin());
    if (disk_->enabled() && !disk_->contains(victim->hash)) {
      disk_->write(BlockKey{victim->hash, victim->parent->hash, victim->depth, victim->tokens}, victim->rows.data());
    }
    victim->parent->children.erase(victim->hash);  // frees victim
    --n_blocks_;
    ++st_.evictions;
  }
}

int64_t PrefixCache::cached_prefix(std::span<const TokenId> tokens, int64_t n_ctx) const {
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t B = opts_.block_tokens;
  const auto n_tokens = static_cast<int64_t>(tokens.size());
  const int64_t max_blocks = std::min(n_tokens > 0 ? (n_tokens - 1) / B : 0, n_ctx / B);
  const Node* node = &root_;
  uint64_t hash = root_.hash;
  int64_t d = 0;
  for (; d < max_blocks; ++d) {
    const auto block = tokens.subspan(static_cast<size_t>(d * B), static_cast<size_t>(B));
    const uint64_t h = chain_hash(hash, block);
    const Node* next = node != nullptr ? find_child(const_cast<Node*>(node), h, block) : nullptr;
    if (next == nullptr && !disk_->contains(h)) break;
    node = next;  // null once the path continues on disk only
    hash = h;
  }
  return d * B;
}

Result<int64_t> PrefixCache::restore(std::span<const TokenId> tokens, Session& session) {
  if (session.n_past() != 0) {
    return make_error(ErrorCode::kInvalidArgument, "prefix cache restore: the session holds %lld tokens, expected 0",
                      static_cast<long long>(session.n_past()));
  }
  if (session.kv_floats_per_token() != opts_.floats_per_token) {
    return make_error(
        ErrorCode::kInvalidArgument, "prefix cache restore: the session has %lld floats per token, the cache %lld",
        static_cast<long long>(session.kv_floats_per_token()), static_cast<long long>(opts_.floats_per_token));
  }
  std::lock_guard<std::mutex> lock(mu_);
  ++st_.lookups;
  const int64_t B = opts_.block_tokens;
  const auto n_tokens = static_cast<int64_t>(tokens.size());
  const int64_t max_blocks = std::min(n_tokens > 0 ? (n_tokens - 1) / B : 0, session.n_ctx() / B);
  std::vector<Node*> path;
  int64_t from_disk = 0;
  Node* node = &root_;
  for (int64_t d = 0; d < max_blocks; ++d) {
    const auto block = tokens.subspan(static_cast<size_t>(d * B), static_cast<size_t>(B));
    const uint64_t h = chain_hash(node->hash, block);
    Node* next = find_child(node, h, block);
    if (next == nullptr && disk_->contains(h)) {
      std::vector<float> rows;
      if (disk_->read(BlockKey{h, node->hash, d, block}, &rows)) {
        next = add_child(node, h, block, std::move(rows));
        if (next != nullptr) from_disk += B;
      }
    }
    if (next == nullptr) break;
    path.push_back(next);
    node = next;
  }
  int64_t reused = 0;
  for (Node* n : path) {
    Status st = session.import_kv(n->tokens, n->rows.data());
    if (!st.ok()) {
      session.truncate(0);
      touch(path);
      evict_to_budget();
      return st.error();
    }
    reused += B;
  }
  touch(path);
  if (reused > 0) {
    ++st_.hits;
    st_.hit_tokens += reused;
    st_.disk_hit_tokens += from_disk;
  } else {
    ++st_.misses;
  }
  evict_to_budget();
  return reused;
}

Status PrefixCache::insert(std::span<const TokenId> tokens, const Session& session) {
  const int64_t n = session.n_past();
  if (static_cast<int64_t>(tokens.size()) < n) {
    return make_error(ErrorCode::kInvalidArgument, "prefix cache insert: %lld token ids for a session holding %lld",
                      static_cast<long long>(tokens.size()), static_cast<long long>(n));
  }
  if (session.kv_floats_per_token() != opts_.floats_per_token) {
    return make_error(
        ErrorCode::kInvalidArgument, "prefix cache insert: the session has %lld floats per token, the cache %lld",
        static_cast<long long>(session.kv_floats_per_token()), static_cast<long long>(opts_.floats_per_token));
  }
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t B = opts_.block_tokens;
  std::vector<Node*> path;
  Node* node = &root_;
  Status result = ok_status();
  for (int64_t d = 0; d < n / B; ++d) {
    const auto block = tokens.subspan(static_cast<size_t>(d * B), static_cast<size_t>(B));
    const uint64_t h = chain_hash(node->hash, block);
    Node* next = find_child(node, h, block);
    if (next == nullptr) {
      std::vector<float> rows(static_cast<size_t>(B * opts_.floats_per_token));
      Status st = session.export_kv(d * B, B, rows.data());
      if (!st.ok()) {
        result = st;
        break;
      }
      next = add_child(node, h, block, std::move(rows));
      if (next == nullptr) break;
      ++st_.inserted_blocks;
    }
    path.push_back(next);
    node = next;
  }
  touch(path);
  evict_to_budget();
  return result;
}

PrefixCacheStats PrefixCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  PrefixCacheStats s = st_;
  s.blocks_in_memory = n_blocks_;
  s.bytes_in_memory = n_blocks_ * opts_.block_tokens * opts_.floats_per_token * static_cast<int64_t>(sizeof(float));
  s.disk_enabled = disk_->enabled();
  s.blocks_on_disk = disk_->n_files();
  s.bytes_on_disk = static_cast<int64_t>(disk_->bytes());
  s.disk_writes = disk_->writes();
  s.disk_reads = disk_->reads();
  s.disk_rejected = disk_->rejected();
  s.disk_write_errors = disk_->write_errors();
  s.disk_deleted = disk_->deleted();
  return s;
}

}  // namespace baleen
