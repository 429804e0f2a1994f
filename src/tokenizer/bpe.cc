#include "tokenizer/bpe.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <functional>

#include "core/utf8.h"
#include "tokenizer/byte_level.h"

namespace baleen {
namespace {

constexpr uint32_t kNoRank = 0xFFFFFFFFu;

// Per-thread buffers reused across calls so the merge loop never allocates in steady state.
struct Scratch {
  std::vector<TokenId> sym;
  std::vector<uint32_t> rank;
  std::vector<TokenId> merged;
  std::vector<int32_t> prev, next;
  std::vector<uint64_t> heap;
  std::string valid, norm, seg;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Replaces each byte that is not part of a well-formed UTF-8 sequence with U+FFFD.
void sanitize_utf8(std::string_view in, std::string* out) {
  out->clear();
  out->reserve(in.size() + 8);
  size_t pos = 0;
  while (pos < in.size()) {
    char32_t cp = 0;
    size_t len = utf8::decode(in, pos, &cp);
    if (cp == utf8::kReplacement) {
      utf8::append(*out, utf8::kReplacement);
    } else {
      out->append(in.substr(pos, len));
    }
    pos += len;
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Construction

void BpeTokenizer::insert_merge(TokenId a, TokenId b, uint32_t rank, TokenId merged) {
  uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  size_t i = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> merge_shift_);
  while (merge_table_[i].key != kEmptyKey && merge_table_[i].key != key) i = (i + 1) & merge_mask_;
  if (merge_table_[i].key == kEmptyKey) ++num_merges_;
  // A repeated pair keeps the later rank, as HF's map built from the merges list does.
  merge_table_[i] = MergeEntry{key, rank, merged};
}

Status BpeTokenizer::init_merges(const BpeTokenizerConfig& config) {
  size_t cap = 16;
  while (cap < config.merges.size() * 2 + 16) cap *= 2;
  merge_table_.assign(cap, MergeEntry{});
  merge_mask_ = cap - 1;
  merge_shift_ = 64 - std::countr_zero(cap);
  std::string joined;
  for (size_t r = 0; r < config.merges.size(); ++r) {
    const auto& [left, right] = config.merges[r];
    auto a = vocab_to_id_.find(left);
    auto b = vocab_to_id_.find(right);
    joined.assign(left).append(right);
    auto m = vocab_to_id_.find(joined);
    if (a == vocab_to_id_.end() || b == vocab_to_id_.end() || m == vocab_to_id_.end()) {
      if (!config.strict_merges) continue;
      const std::string& missing = a == vocab_to_id_.end() ? left : b == vocab_to_id_.end() ? right : joined;
      return make_error(ErrorCode::kCorruptFile,
                        "merge %zu ('%s %s') references token '%s' that is not in the vocabulary", r, left.c_str(),
                        right.c_str(), missing.c_str());
    }
    insert_merge(a->second, b->second, static_cast<uint32_t>(r), m->second);
  }
  return ok_status();
}

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::create(BpeTokenizerConfig config) {
  if (config.vocab.empty()) return make_error(ErrorCode::kInvalidArgument, "BPE vocabulary is empty");
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  size_t n = config.vocab.size();
  for (const AddedToken& a : config.added) {
    if (a.id < 0) return make_error(ErrorCode::kCorruptFile, "added token '%s' has a negative id", a.content.c_str());
    n = std::max(n, static_cast<size_t>(a.id) + 1);
  }
  t->text_.resize(n);
  t->bytes_.resize(n);
  t->flags_.assign(n, 0);
  t->vocab_to_id_.reserve(config.vocab.size() * 2);
  for (size_t id = 0; id < config.vocab.size(); ++id) {
    const std::string& s = config.vocab[id];
    if (s.empty()) continue;
    t->text_[id] = s;
    auto raw = byte_level::decode(s);
    t->bytes_[id] = raw ? *raw : s;
    t->vocab_to_id_.emplace(s, static_cast<TokenId>(id));  // first id wins for duplicated strings
    if (config.ignore_merges && raw) t->bytes_to_id_.emplace(*raw, static_cast<TokenId>(id));
  }
  for (const AddedToken& a : config.added) {
    t->text_[a.id] = a.content;
    t->bytes_[a.id] = a.content;  // added tokens decode to their content, byte-level or not
    t->flags_[a.id] |= kFlagAdded | (a.special ? kFlagSpecial : 0);
    t->added_to_id_[a.content] = a.id;  // token_id() prefers added tokens, as HF does
  }
  for (TokenId id : config.control_ids) {
    if (id >= 0 && static_cast<size_t>(id) < n) t->flags_[id] |= kFlagSpecial;
  }

  t->byte_id_.fill(-1);
  t->fallback_id_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    std::string s;
    utf8::append(s, byte_level::byte_to_code_point(static_cast<uint8_t>(b)));
    auto it = t->vocab_to_id_.find(s);
    if (it != t->vocab_to_id_.end()) t->byte_id_[b] = it->second;
    if (config.byte_fallback) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", b);
      auto f = t->vocab_to_id_.find(std::string_view(name));
      if (f != t->vocab_to_id_.end()) t->fallback_id_[b] = f->second;
    }
  }
  if (config.unk_token) {
    auto it = t->vocab_to_id_.find(*config.unk_token);
    if (it == t->vocab_to_id_.end()) {
      return make_error(ErrorCode::kCorruptFile, "unk_token '%s' is not in the vocabulary", config.unk_token->c_str());
    }
    t->unk_id_ = it->second;
  }
  BALEEN_TRY(t->init_merges(config));

  // Added-token matchers. Normalized tokens are matched by their normalized content.
  t->added_ = std::move(config.added);
  std::vector<AddedToken> match_tokens = t->added_;
  std::vector<size_t> raw_idx, norm_idx;
  bool has_normalizer = config.normalizer != NormalizerKind::kNone;
  for (size_t i = 0; i < match_tokens.size(); ++i) {
    AddedToken& a = match_tokens[i];
    bool apply_normalizer = a.normalized && has_normalizer;
    if (apply_normalizer) {
      std::string tmp;
      normalize(config.normalizer, a.content, &tmp);
      a.content = std::move(tmp);
    }
    // With an identity normalizer HF still matches normalized tokens in a second pass.
    (a.normalized ? norm_idx : raw_idx).push_back(i);
  }
  t->raw_.build(match_tokens, raw_idx);
  t->norm_.build(match_tokens, norm_idx);
  t->added_ = std::move(match_tokens);
  // token_text() must show the original content: restore it (matching uses the matchers' copies).
  for (size_t i = 0; i < t->added_.size(); ++i) t->added_[i].content = t->text_[t->added_[i].id];

  t->pre_ = std::move(config.pre_tokenizer);
  t->add_prefix_space_ = config.add_prefix_space;
  t->normalizer_ = config.normalizer;
  t->ignore_merges_ = config.ignore_merges;
  t->special_ = config.special;
  return t;
}

// ---------------------------------------------------------------------------------------------
// Encoding

std::vector<TokenId> BpeTokenizer::encode(std::string_view text, bool add_bos, bool parse_special) const {
  std::vector<TokenId> out;
  out.reserve(text.size() / 3 + 4);
  if (add_bos && special_.bos >= 0) out.push_back(special_.bos);
  if (utf8::is_valid(text)) {
    encode_segment(text, parse_special, out);
  } else {
    std::string valid;
    sanitize_utf8(text, &valid);
    encode_segment(valid, parse_special, out);
  }
  return out;
}

void BpeTokenizer::encode_segment(std::string_view text, bool parse_special, std::vector<TokenId>& out) const {
  if (!parse_special) {  // no added token is recognised: everything is text
    if (normalizer_ == NormalizerKind::kNone || is_normalized(normalizer_, text)) {
      encode_plain(text, out);
    } else {
      std::string norm;
      normalize(normalizer_, text, &norm);
      encode_plain(norm, out);
    }
    return;
  }
  raw_.split(
      text, added_,
      [&](std::string_view gap) {
        if (normalizer_ == NormalizerKind::kNone || is_normalized(normalizer_, gap)) {
          encode_normalized(gap, out);
        } else {
          std::string norm;
          normalize(normalizer_, gap, &norm);
          encode_normalized(norm, out);
        }
      },
      [&](size_t idx) { out.push_back(added_[idx].id); });
}

void BpeTokenizer::encode_normalized(std::string_view text, std::vector<TokenId>& out) const {
  norm_.split(
      text, added_, [&](std::string_view gap) { encode_plain(gap, out); },
      [&](size_t idx) { out.push_back(added_[idx].id); });
}

void BpeTokenizer::encode_plain(std::string_view text, std::vector<TokenId>& out) const {
  if (add_prefix_space_ && !text.empty() && text[0] != ' ') {
    std::string with_space;
    with_space.reserve(text.size() + 1);
    with_space.push_back(' ');
    with_space.append(text);
    pre_.split(with_space, [&](std::string_view piece) { encode_piece(piece, out); });
    return;
  }
  pre_.split(text, [&](std::string_view piece) { encode_piece(piece, out); });
}

void BpeTokenizer::encode_piece(std::string_view bytes, std::vector<TokenId>& out) const {
  if (bytes.empty()) return;
  if (ignore_merges_) {
    auto it = bytes_to_id_.find(bytes);
    if (it != bytes_to_id_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  Scratch& sc = scratch();
  sc.sym.clear();
  TokenId last_unk = -2;
  for (char c : bytes) {
    uint8_t b = static_cast<uint8_t>(c);
    TokenId id = byte_id_[b];
    if (id >= 0) {
      sc.sym.push_back(id);
      last_unk = -2;
    } else if (fallback_id_[b] >= 0) {
      sc.sym.push_back(fallback_id_[b]);
      last_unk = -2;
    } else if (unk_id_ >= 0) {
      if (last_unk != unk_id_) sc.sym.push_back(unk_id_);  // consecutive unknowns become one
      last_unk = unk_id_;
    }
    // else: a byte with no token and no unk is dropped, as HF does for unknown characters
  }
  size_t n = sc.sym.size();
  if (n == 0) return;
  if (n == 1) {
    out.push_back(sc.sym[0]);
    return;
  }
  // Short pieces merge with a plain rank array (a few cache lines; O(n^2) scans beat a heap there),
  // long ones with a linked list and a min-heap.
  if (n <= small_word_limit_) {
    merge_small(n, out);
  } else {
    merge_large(n, out);
  }
}

// Repeatedly merges the lowest-rank adjacent pair (leftmost on ties) in sc.sym[0..n).
void BpeTokenizer::merge_small(size_t n, std::vector<TokenId>& out) const {
  Scratch& sc = scratch();
  TokenId* sym = sc.sym.data();
  sc.rank.resize(n);
  sc.merged.resize(n);
  uint32_t* rank = sc.rank.data();
  TokenId* merged = sc.merged.data();
  for (size_t i = 0; i + 1 < n; ++i) {
    if (!find_merge(sym[i], sym[i + 1], &rank[i], &merged[i])) rank[i] = kNoRank;
  }
  while (n > 1) {
    size_t best = 0;
    uint32_t best_rank = rank[0];
    for (size_t i = 1; i + 1 < n; ++i) {
      if (rank[i] < best_rank) best_rank = rank[i], best = i;
    }
    if (best_rank == kNoRank) break;
    sym[best] = merged[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      sym[i] = sym[i + 1];
      rank[i] = rank[i + 1];
      merged[i] = merged[i + 1];
    }
    --n;
    if (best + 1 < n && !find_merge(sym[best], sym[best + 1], &rank[best], &merged[best])) rank[best] = kNoRank;
    if (best > 0 && !find_merge(sym[best - 1], sym[best], &rank[best - 1], &merged[best - 1])) rank[best - 1] = kNoRank;
  }
  out.insert(out.end(), sym, sym + n);
}

// Same result as merge_small for long words: symbols in a linked list, candidate pairs in a min-heap
// ordered by (rank, position); stale entries are dropped when popped.
void BpeTokenizer::merge_large(size_t n, std::vector<TokenId>& out) const {
  Scratch& sc = scratch();
  TokenId* sym = sc.sym.data();
  sc.prev.resize(n);
  sc.next.resize(n);
  int32_t* prev = sc.prev.data();
  int32_t* next = sc.next.data();
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  auto& heap = sc.heap;
  heap.clear();
  auto push = [&](int32_t pos) {
    uint32_t r = 0;
    TokenId m = 0;
    if (pos >= 0 && next[pos] >= 0 && find_merge(sym[pos], sym[next[pos]], &r, &m)) {
      heap.push_back((static_cast<uint64_t>(r) << 32) | static_cast<uint32_t>(pos));
      std::push_heap(heap.begin(), heap.end(), std::greater<>());
    }
  };
  for (size_t i = 0; i + 1 < n; ++i) push(static_cast<int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<>());
    uint64_t top = heap.back();
    heap.pop_back();
    int32_t pos = static_cast<int32_t>(top & 0xFFFFFFFFu);
    uint32_t want = static_cast<uint32_t>(top >> 32);
    if (sym[pos] < 0 || next[pos] < 0) continue;  // merged away, or now the last symbol
    uint32_t r = 0;
    TokenId m = 0;
    if (!find_merge(sym[pos], sym[next[pos]], &r, &m) || r != want) continue;  // stale
    int32_t right = next[pos];
    sym[pos] = m;
    sym[right] = -1;
    next[pos] = next[right];
    if (next[right] >= 0) prev[next[right]] = pos;
    push(prev[pos]);
    push(pos);
  }
  for (int32_t i = 0; i >= 0; i = next[i]) out.push_back(sym[i]);
}

// ---------------------------------------------------------------------------------------------
// Decoding and lookups

std::string BpeTokenizer::token_to_bytes(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= bytes_.size()) return {};
  return bytes_[id];
}

std::string BpeTokenizer::decode(std::span<const TokenId> ids, bool skip_special) const {
  std::string out;
  for (TokenId id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= bytes_.size()) continue;
    if (skip_special && (flags_[id] & kFlagSpecial)) continue;
    out += bytes_[id];
  }
  return out;
}

std::string_view BpeTokenizer::token_text(TokenId id) const {
  if (id < 0 || static_cast<size_t>(id) >= text_.size()) return {};
  return text_[id];
}

std::optional<TokenId> BpeTokenizer::token_id(std::string_view text) const {
  auto a = added_to_id_.find(text);
  if (a != added_to_id_.end()) return a->second;
  auto it = vocab_to_id_.find(text);
  if (it == vocab_to_id_.end()) return std::nullopt;
  return it->second;
}

bool BpeTokenizer::is_special(TokenId id) const {
  return id >= 0 && static_cast<size_t>(id) < flags_.size() && (flags_[id] & kFlagSpecial);
}

}  // namespace baleen
