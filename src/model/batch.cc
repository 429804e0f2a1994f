// The forward pass of one step over one or more sequences (Session::eval is the one-item case of
// eval_batch): validate every item, lay the rows out (sequences using absorbed MLA first, so their
// W_UK / W_UV products run once over contiguous rows), embed, run the decoder layers over all rows
// with per-sequence attention, normalise, record each session's tokens (and for MTP models its
// final hidden states), then put only the rows that need logits through the output head in one
// product.
#include <algorithm>

#include "kernels/matmul.h"
#include "model/session_impl.h"

namespace baleen {

BatchScratch::BatchScratch() : impl_(std::make_unique<Scratch>()) {}
BatchScratch::~BatchScratch() = default;
BatchScratch::BatchScratch(BatchScratch&&) noexcept = default;
BatchScratch& BatchScratch::operator=(BatchScratch&&) noexcept = default;
uint64_t BatchScratch::steps() const { return impl_->steps; }
uint64_t BatchScratch::routed_expert_bytes() const { return impl_->routed_expert_bytes; }

Status eval_batch(std::span<const BatchItem> items, BatchScratch* scratch) {
  return SessionImpl::step(items, scratch != nullptr ? &scratch->impl() : nullptr);
}

Status SessionImpl::step(std::span<const BatchItem> items, Scratch* scratch) {
  if (items.empty()) return make_error(ErrorCode::kInvalidArgument, "eval_batch: no items");
  // Validate everything before touching any session.
  const SessionImpl* first = nullptr;
  for (size_t i = 0; i < items.size(); ++i) {
    const BatchItem& it = items[i];
    const auto* si = dynamic_cast<const SessionImpl*>(it.session);
    if (si == nullptr) return make_error(ErrorCode::kInvalidArgument, "batch item %zu: no session", i);
    if (first == nullptr) first = si;
    if (&si->model_ != &first->model_) {
      return make_error(ErrorCode::kInvalidArgument, "batch item %zu: session of a different model than item 0", i);
    }
    if (&si->pool_ != &first->pool_) {
      return make_error(ErrorCode::kInvalidArgument, "batch item %zu: session of a different thread pool than item 0",
                        i);
    }
    for (size_t k = 0; k < i; ++k) {
      if (items[k].session == it.session) {
        return make_error(ErrorCode::kInvalidArgument, "batch items %zu and %zu: the same session", k, i);
      }
    }
    const auto n = static_cast<int64_t>(it.tokens.size());
    if (n == 0) return make_error(ErrorCode::kInvalidArgument, "batch item %zu: no tokens", i);
    if (n > si->n_ctx_ - si->n_past_) {
      return make_error(ErrorCode::kOutOfRange, "batch item %zu: context full: %lld tokens + %lld new > n_ctx %lld", i,
                        static_cast<long long>(si->n_past_), static_cast<long long>(n),
                        static_cast<long long>(si->n_ctx_));
    }
    const int64_t n_vocab = si->model_.config().n_vocab;
    for (TokenId id : it.tokens) {
      if (id < 0 || id >= n_vocab) {
        return make_error(ErrorCode::kInvalidArgument, "batch item %zu: token id %d outside the vocabulary [0, %lld)",
                          i, id, static_cast<long long>(n_vocab));
      }
    }
  }

  const ModelImpl& model = first->model_;
  ThreadPool& pool = first->pool_;
  const ModelConfig& cfg = model.config();
  const ModelWeights& w = model.weights();
  const int64_t E = cfg.hidden_size, V = cfg.n_vocab;
  Scratch& s = scratch != nullptr ? *scratch : static_cast<SessionImpl*>(items[0].session)->s_;
  ++s.steps;

  // Row layout: absorbed sequences first, each in item order.
  s.seqs.clear();
  s.seq_item.clear();
  int64_t n_rows = 0;
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < items.size(); ++i) {
      auto* si = static_cast<SessionImpl*>(items[i].session);
      const auto n = static_cast<int64_t>(items[i].tokens.size());
      const bool absorbed = cfg.arch == ModelArch::kDeepseek2 && si->use_absorbed(n);
      if (absorbed != (pass == 0)) continue;
      s.seqs.push_back(SeqRows{&si->cache_, n_rows, n, si->n_past_, absorbed});
      s.seq_item.push_back(static_cast<int32_t>(i));
      n_rows += n;
    }
  }
  const std::span<const SeqRows> seqs(s.seqs);

  float* x = grow(s.x, n_rows * E);  // [n_rows, hidden_size]
  for (size_t j = 0; j < seqs.size(); ++j) {
    const std::span<const TokenId> tokens = items[static_cast<size_t>(s.seq_item[j])].tokens;
    for (int64_t t = 0; t < seqs[j].n; ++t) weight_row_to_f32(w.tok_embd, tokens[t], x + (seqs[j].row0 + t) * E);
  }
  fill_rope_table(model.rope(), seqs, s);
  for (int64_t il = 0; il < cfg.n_layers; ++il) decoder_layer(model, w.layers[il], il, seqs, x, n_rows, s, pool);
  rms_norm_rows(x, w.output_norm.data(), n_rows, E, static_cast<float>(cfg.rms_norm_eps), x);

  // Commit: tokens, hidden states, positions.
  int64_t n_out = 0;  // rows that need logits
  const float* only_rows = nullptr;
  std::vector<float>* only_logits = nullptr;
  for (size_t j = 0; j < seqs.size(); ++j) {
    const BatchItem& it = items[static_cast<size_t>(s.seq_item[j])];
    auto* si = static_cast<SessionImpl*>(it.session);
    const SeqRows& sq = seqs[j];
    if (!si->hidden_.empty()) std::copy_n(x + sq.row0 * E, sq.n * E, si->hidden_.data() + sq.pos0 * E);
    std::copy(it.tokens.begin(), it.tokens.end(), si->tokens_.begin() + sq.pos0);
    si->n_past_ += sq.n;
    if (it.logits != nullptr) {
      const int64_t rows = it.all_logits ? sq.n : 1;
      it.logits->resize(static_cast<size_t>(rows * V));
      only_rows = x + (sq.row0 + sq.n - rows) * E;
      only_logits = it.logits;
      n_out += rows;
    }
  }
  if (n_out == 0) return ok_status();
  const int64_t n_wanting = static_cast<int64_t>(
      std::count_if(items.begin(), items.end(), [](const BatchItem& it) { return it.logits != nullptr; }));
  if (n_wanting == 1) {  // one item: its rows are contiguous, straight into its vector
    matmul(w.output, only_rows, n_out, only_logits->data(), pool);
    return ok_status();
  }
  // Several items: gather their rows, one product, then hand each item its rows.
  float* ox = grow(s.out_x, n_out * E);  // [n_out, hidden_size]
  int64_t at = 0;
  for (size_t j = 0; j < seqs.size(); ++j) {
    const BatchItem& it = items[static_cast<size_t>(s.seq_item[j])];
    if (it.logits == nullptr) continue;
    const int64_t rows = it.all_logits ? seqs[j].n : 1;
    std::copy_n(x + (seqs[j].row0 + seqs[j].n - rows) * E, rows * E, ox + at * E);
    at += rows;
  }
  float* ol = grow(s.out_logits, n_out * V);  // [n_out, n_vocab]
  matmul(w.output, ox, n_out, ol, pool);
  at = 0;
  for (size_t j = 0; j < seqs.size(); ++j) {
    const BatchItem& it = items[static_cast<size_t>(s.seq_item[j])];
    if (it.logits == nullptr) continue;
    const int64_t rows = it.all_logits ? seqs[j].n : 1;
    std::copy_n(ol + at * V, rows * V, it.logits->data());
    at += rows;
  }
  return ok_status();
}

}  // namespace baleen
