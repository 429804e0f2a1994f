#include "engine/prefix_cache_disk.h"

#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace baleen {

static_assert(std::endian::native == std::endian::little, "block files are written in host order");

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'B', 'L', 'N', 'K', 'V', 'B', 'L', 'K'};
constexpr size_t kFixedHeader = 64;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

template <typename T>
void put(std::vector<uint8_t>& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof(T));
}
template <typename T>
T get(const std::vector<uint8_t>& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof(T));
  return v;
}

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, v);
  return buf;
}

// "0123456789abcdef.kvb" -> the hash; false for any other name.
bool parse_block_name(const std::string& name, uint64_t* hash) {
  if (name.size() != 20 || name.compare(16, 4, ".kvb") != 0) return false;
  uint64_t v = 0;
  for (int i = 0; i < 16; ++i) {
    const char c = name[static_cast<size_t>(i)];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else {
      return false;
    }
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *hash = v;
  return true;
}

}  // namespace

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}

uint64_t chain_hash(uint64_t parent, std::span<const TokenId> block) {
  uint64_t h = fnv1a64(&parent, sizeof(parent));
  return fnv1a64(block.data(), block.size_bytes(), h);
}

BlockStore::BlockStore(const std::string& root_dir, const std::string& fingerprint, int64_t block_tokens,
                       int64_t floats_per_token, uint64_t max_bytes, WarnFn warn)
    : fingerprint_(fingerprint),
      block_tokens_(block_tokens),
      floats_per_token_(floats_per_token),
      max_bytes_(max_bytes),
      warn_(std::move(warn)) {
  if (root_dir.empty()) return;
  if (fingerprint.empty() || fingerprint.size() > kMaxFingerprint) {
    warn_("disk tier disabled: the model fingerprint is empty or longer than 4096 bytes");
    return;
  }
  dir_ = (fs::path(root_dir) / hex16(fnv1a64(fingerprint.data(), fingerprint.size()))).string();
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec || !fs::is_directory(dir_, ec)) {
    warn_("disk tier disabled: cannot create " + dir_ + ": " + (ec ? ec.message() : "not a directory"));
    return;
  }
  enabled_ = true;
  index_dir();
}

uint64_t BlockStore::file_bytes() const {
  return kFixedHeader + fingerprint_.size() + static_cast<uint64_t>(block_tokens_) * sizeof(TokenId) +
         static_cast<uint64_t>(block_tokens_ * floats_per_token_) * sizeof(float) + sizeof(uint64_t);
}

std::string BlockStore::path_of(uint64_t hash) const { return dir_ + "/" + hex16(hash) + ".kvb"; }

void BlockStore::index_dir() {
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    uint64_t hash;
    if (!parse_block_name(it->path().filename().string(), &hash)) continue;
    std::error_code ec2;
    if (!it->is_regular_file(ec2)) continue;
    const uint64_t size = it->file_size(ec2);
    if (ec2) continue;
    index_[hash] = Entry{size, 0};
    bytes_ += size;
  }
  if (ec) warn_("cannot list " + dir_ + ": " + ec.message());
}

void BlockStore::reject(uint64_t hash, const std::string& why) {
  ++rejected_;
  warn_("ignoring " + path_of(hash) + ": " + why);
  auto it = index_.find(hash);
  if (it != index_.end()) {
    bytes_ -= it->second.bytes;
    index_.erase(it);
  }
}

void BlockStore::enforce_budget(uint64_t keep) {
  if (max_bytes_ == 0) return;
  while (bytes_ > max_bytes_ && index_.size() > 1) {
    auto victim = index_.end();
    for (auto it = index_.begin(); it != index_.end(); ++it) {
      if (it->first == keep) continue;
      if (victim == index_.end() || it->second.last_use < victim->second.last_use) victim = it;
    }
    if (victim == index_.end()) return;
    std::error_code ec;
    fs::remove(path_of(victim->first), ec);
    bytes_ -= victim->second.bytes;
    index_.erase(victim);
    ++deleted_;
  }
}

bool BlockStore::write(const BlockKey& key, const float* rows) {
  if (!enabled_) return false;
  const size_t head = kFixedHeader + fingerprint_.size() + static_cast<size_t>(block_tokens_) * sizeof(TokenId);
  const size_t payload = static_cast<size_t>(block_tokens_ * floats_per_token_) * sizeof(float);
  std::vector<uint8_t> h(head, 0);
  std::memcpy(h.data(), kMagic, sizeof(kMagic));
  put<uint32_t>(h, 8, kBlockFileVersion);
  put<uint32_t>(h, 12, static_cast<uint32_t>(block_tokens_));
  put<uint64_t>(h, 16, static_cast<uint64_t>(floats_per_token_));
  put<uint64_t>(h, 24, key.hash);
  put<uint64_t>(h, 32, key.parent_hash);
  put<uint64_t>(h, 40, static_cast<uint64_t>(key.depth));
  put<uint64_t>(h, 48, payload);
  put<uint32_t>(h, 56, static_cast<uint32_t>(fingerprint_.size()));
  std::memcpy(h.data() + kFixedHeader, fingerprint_.data(), fingerprint_.size());
  std::memcpy(h.data() + kFixedHeader + fingerprint_.size(), key.tokens.data(), key.tokens.size_bytes());
  const uint64_t sum = fnv1a64(rows, payload, fnv1a64(h.data(), h.size()));

  const std::string path = path_of(key.hash);
  const std::string tmp = path + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  bool ok = false;
  {
    File f(std::fopen(tmp.c_str(), "wb"));
    if (f) {
      ok = std::fwrite(h.data(), 1, h.size(), f.get()) == h.size() &&
           std::fwrite(rows, 1, payload, f.get()) == payload &&
           std::fwrite(&sum, 1, sizeof(sum), f.get()) == sizeof(sum);
      ok = (std::fclose(f.release()) == 0) && ok;
    }
  }
  if (ok) ok = std::rename(tmp.c_str(), path.c_str()) == 0;
  if (!ok) {
    const int err = errno;
    std::remove(tmp.c_str());
    ++write_errors_;
    warn_("cannot write " + path + ": " + std::strerror(err));
    return false;
  }
  const uint64_t size = head + payload + sizeof(sum);
  auto [it, inserted] = index_.try_emplace(key.hash);
  if (!inserted) bytes_ -= it->second.bytes;
  it->second = Entry{size, ++clock_};
  bytes_ += size;
  ++writes_;
  enforce_budget(key.hash);
  return true;
}

bool BlockStore::read(const BlockKey& key, std::vector<float>* rows) {
  if (!enabled_) return false;
  auto it = index_.find(key.hash);
  if (it == index_.end()) return false;
  const std::string path = path_of(key.hash);
  File f(std::fopen(path.c_str(), "rb"));
  if (!f) {
    // Deleted behind our back (or by another process sharing the folder): a plain miss.
    bytes_ -= it->second.bytes;
    index_.erase(it);
    return false;
  }
  const size_t head = kFixedHeader + fingerprint_.size() + static_cast<size_t>(block_tokens_) * sizeof(TokenId);
  const size_t payload = static_cast<size_t>(block_tokens_ * floats_per_token_) * sizeof(float);
  // The fixed part first: a file from another model may have a different fingerprint length.
  std::vector<uint8_t> h(kFixedHeader);
  if (std::fread(h.data(), 1, kFixedHeader, f.get()) != kFixedHeader) {
    reject(key.hash, "truncated header");
    return false;
  }
  if (std::memcmp(h.data(), kMagic, sizeof(kMagic)) != 0) {
    reject(key.hash, "not a Baleen KV block file (bad magic)");
    return false;
  }
  if (get<uint32_t>(h, 8) != kBlockFileVersion) {
    reject(key.hash,
           "format version " + std::to_string(get<uint32_t>(h, 8)) + ", expected " + std::to_string(kBlockFileVersion));
    return false;
  }
  const uint32_t fp_len = get<uint32_t>(h, 56);
  if (fp_len != fingerprint_.size()) {
    reject(key.hash, "written for another model (fingerprint length differs)");
    return false;
  }
  h.resize(head);
  if (std::fread(h.data() + kFixedHeader, 1, head - kFixedHeader, f.get()) != head - kFixedHeader) {
    reject(key.hash, "truncated header");
    return false;
  }
  if (std::memcmp(h.data() + kFixedHeader, fingerprint_.data(), fingerprint_.size()) != 0) {
    reject(key.hash, "written for another model (fingerprint differs)");
    return false;
  }
  if (get<uint32_t>(h, 12) != static_cast<uint32_t>(block_tokens_) ||
      get<uint64_t>(h, 16) != static_cast<uint64_t>(floats_per_token_) || get<uint64_t>(h, 48) != payload ||
      get<uint32_t>(h, 60) != 0) {
    reject(key.hash, "block geometry differs (block_tokens, floats per token or payload size)");
    return false;
  }
  if (get<uint64_t>(h, 24) != key.hash || get<uint64_t>(h, 32) != key.parent_hash ||
      get<uint64_t>(h, 40) != static_cast<uint64_t>(key.depth) ||
      std::memcmp(h.data() + kFixedHeader + fingerprint_.size(), key.tokens.data(), key.tokens.size_bytes()) != 0) {
    reject(key.hash, "holds a different token prefix (hash collision or renamed file)");
    return false;
  }
  rows->resize(payload / sizeof(float));
  uint64_t stored = 0;
  if (std::fread(rows->data(), 1, payload, f.get()) != payload ||
      std::fread(&stored, 1, sizeof(stored), f.get()) != sizeof(stored)) {
    reject(key.hash, "truncated payload");
    return false;
  }
  if (std::fgetc(f.get()) != EOF) {
    reject(key.hash, "trailing bytes after the checksum");
    return false;
  }
  if (fnv1a64(rows->data(), payload, fnv1a64(h.data(), h.size())) != stored) {
    reject(key.hash, "checksum mismatch");
    return false;
  }
  it->second.last_use = ++clock_;
  ++reads_;
  return true;
}

}  // namespace baleen
