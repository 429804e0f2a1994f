// Multi-token prediction, depth 1 (deepseek-spec 5.2, conformance README 7.4): for every position
// i < n_past - 1, m_i = eh_proj · [enorm(Emb(token[i+1])) ; hnorm(h_i)] with h_i the main model's
// final normed hidden state; the MTP decoder block runs causally over m_0.. at positions 0..; the
// draft logits are shared_head.head · shared_head.norm(out). Recomputed over the whole sequence
// on each call, in the MTP block's own latent cache.
#include <algorithm>

#include "kernels/matmul.h"
#include "model/session_impl.h"

namespace baleen {

Status SessionImpl::mtp_logits(std::vector<float>* logits) {
  if (!model_.has_mtp()) return make_error(ErrorCode::kUnsupported, "the model has no MTP module");
  const ModelConfig& cfg = model_.config();
  const MtpWeights& m = model_.weights().mtp;
  const int64_t n = n_past_ - 1, E = cfg.hidden_size;
  if (n <= 0) {
    logits->clear();
    return ok_status();
  }
  const auto eps = static_cast<float>(cfg.rms_norm_eps);
  float* in = grow(s_.mtp_in, n * 2 * E);  // [n, 2 * hidden_size]: embedding first, then hidden
  for (int64_t i = 0; i < n; ++i) {
    float* row = in + i * 2 * E;
    weight_row_to_f32(m.embed, tokens_[i + 1], row);
    rms_norm_rows(row, m.enorm.data(), 1, E, eps, row);
    rms_norm_rows(hidden_.data() + i * E, m.hnorm.data(), 1, E, eps, row + E);
  }
  float* x = grow(s_.x, n * E);  // [n, hidden_size]
  matmul(m.eh_proj, in, n, x, pool_);
  const SeqRows seq{&mtp_cache_, 0, n, 0, use_absorbed(n)};
  fill_rope_table(model_.rope(), std::span<const SeqRows>(&seq, 1), s_);
  decoder_layer(model_, m.block, 0, std::span<const SeqRows>(&seq, 1), x, n, s_, pool_);
  rms_norm_rows(x, m.head_norm.data(), n, E, eps, x);
  logits->resize(static_cast<size_t>(n * cfg.n_vocab));
  matmul(m.head, x, n, logits->data(), pool_);
  return ok_status();
}

}  // namespace baleen
