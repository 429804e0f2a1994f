// Session::export_kv / import_kv: a sequence's per-position state as flat floats, so that the
// prefix cache (engine/prefix_cache.h) can keep copies of KV rows and put them into another
// session instead of recomputing them. Layout per position (token-major, so any position range is
// one contiguous span):
//   for each main layer: MLA row [kv_lora_rank + qk_rope_head_dim]  |  GQA K row, then V row
//   MTP models only:     the MTP block's row (same shape), then the final normed hidden state
//                        [hidden_size] (the MTP head's input)
#include <algorithm>

#include "model/session_impl.h"

namespace baleen {

Status Session::export_kv(int64_t, int64_t, float*) const {
  return make_error(ErrorCode::kUnsupported, "this session cannot export its KV cache");
}

Status Session::import_kv(std::span<const TokenId>, const float*) {
  return make_error(ErrorCode::kUnsupported, "this session cannot import a KV cache");
}

namespace {

// Floats of one position in one cache layer (both rows for GQA).
int64_t layer_floats(const KvLayer& l) { return l.split_kv ? 2 * l.width : l.width; }

// Copies position `pos` of layer `l` to `out` (export) or from `in` (import); returns the floats moved.
int64_t copy_out(const KvLayer& l, int64_t pos, float* out) {
  if (l.split_kv) {
    std::copy_n(l.k_row(pos), l.width, out);
    std::copy_n(l.v_row(pos), l.width, out + l.width);
  } else {
    std::copy_n(l.row(pos), l.width, out);
  }
  return layer_floats(l);
}

int64_t copy_in(const KvLayer& l, int64_t pos, const float* in) {
  if (l.split_kv) {
    std::copy_n(in, l.width, l.k_row(pos));
    std::copy_n(in + l.width, l.width, l.v_row(pos));
  } else {
    std::copy_n(in, l.width, l.row(pos));
  }
  return layer_floats(l);
}

}  // namespace

int64_t SessionImpl::kv_floats_per_token() const {
  const ModelConfig& cfg = model_.config();
  // KvCache::layer() is non-const only because it hands out writable views.
  auto& cache = const_cast<KvCache&>(cache_);
  int64_t n = cfg.n_layers * layer_floats(cache.layer(0));
  if (model_.has_mtp()) n += layer_floats(const_cast<KvCache&>(mtp_cache_).layer(0)) + cfg.hidden_size;
  return n;
}

Status SessionImpl::export_kv(int64_t pos0, int64_t n, float* out) const {
  if (pos0 < 0 || n < 0 || pos0 + n > n_past_) {
    return make_error(ErrorCode::kOutOfRange, "export_kv: positions [%lld, %lld) outside [0, %lld)",
                      static_cast<long long>(pos0), static_cast<long long>(pos0 + n), static_cast<long long>(n_past_));
  }
  const ModelConfig& cfg = model_.config();
  auto& cache = const_cast<KvCache&>(cache_);
  auto& mtp_cache = const_cast<KvCache&>(mtp_cache_);
  const int64_t E = cfg.hidden_size;
  for (int64_t p = pos0; p < pos0 + n; ++p) {
    for (int64_t il = 0; il < cfg.n_layers; ++il) out += copy_out(cache.layer(il), p, out);
    if (model_.has_mtp()) {
      out += copy_out(mtp_cache.layer(0), p, out);
      std::copy_n(hidden_.data() + p * E, E, out);
      out += E;
    }
  }
  return ok_status();
}

Status SessionImpl::import_kv(std::span<const TokenId> tokens, const float* kv) {
  const ModelConfig& cfg = model_.config();
  const auto n = static_cast<int64_t>(tokens.size());
  if (n > n_ctx_ - n_past_) {
    return make_error(ErrorCode::kOutOfRange, "import_kv: %lld tokens + %lld new > n_ctx %lld",
                      static_cast<long long>(n_past_), static_cast<long long>(n), static_cast<long long>(n_ctx_));
  }
  for (TokenId id : tokens) {
    if (id < 0 || id >= cfg.n_vocab) {
      return make_error(ErrorCode::kInvalidArgument, "import_kv: token id %d outside the vocabulary [0, %lld)", id,
                        static_cast<long long>(cfg.n_vocab));
    }
  }
  const int64_t E = cfg.hidden_size;
  for (int64_t p = n_past_; p < n_past_ + n; ++p) {
    for (int64_t il = 0; il < cfg.n_layers; ++il) kv += copy_in(cache_.layer(il), p, kv);
    if (model_.has_mtp()) {
      kv += copy_in(mtp_cache_.layer(0), p, kv);
      std::copy_n(kv, E, hidden_.data() + p * E);
      kv += E;
    }
  }
  std::copy(tokens.begin(), tokens.end(), tokens_.begin() + n_past_);
  n_past_ += n;
  return ok_status();
}

}  // namespace baleen
