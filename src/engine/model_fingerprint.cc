#include "engine/model_fingerprint.h"

#include <cinttypes>
#include <cstdio>
#include <vector>

#include "engine/prefix_cache_disk.h"

namespace baleen {

Result<std::string> model_fingerprint(const Model& model, ThreadPool& pool) {
  const ModelConfig& c = model.config();
  char buf[512];
  std::snprintf(
      buf, sizeof(buf),
      "baleen-kv1 arch=%s vocab=%lld hidden=%lld layers=%lld heads=%lld kv_heads=%lld head_dim=%lld "
      "q_lora=%lld kv_lora=%lld nope=%lld rope=%lld v=%lld experts=%lld mtp=%d",
      model_arch_name(c.arch), static_cast<long long>(c.n_vocab), static_cast<long long>(c.hidden_size),
      static_cast<long long>(c.n_layers), static_cast<long long>(c.n_heads), static_cast<long long>(c.n_kv_heads),
      static_cast<long long>(c.head_dim), static_cast<long long>(c.q_lora_rank), static_cast<long long>(c.kv_lora_rank),
      static_cast<long long>(c.qk_nope_head_dim), static_cast<long long>(c.qk_rope_head_dim),
      static_cast<long long>(c.v_head_dim), static_cast<long long>(c.n_routed_experts), model.has_mtp() ? 1 : 0);
  std::string fp = buf;

  // Probe: 4 fixed ids (clamped into the vocabulary), evaluated in one chunk.
  SessionOptions so;
  so.n_ctx = 4;
  BALEEN_ASSIGN_OR_RETURN(auto session, Session::create(model, pool, so));
  std::vector<TokenId> ids;
  for (int64_t id : {1, 2, 3, 4}) ids.push_back(static_cast<TokenId>(id % c.n_vocab));
  std::vector<float> logits;
  BALEEN_TRY(session->eval(ids, &logits, true));
  const int64_t F = session->kv_floats_per_token();
  std::vector<float> kv(static_cast<size_t>(F * 4));
  BALEEN_TRY(session->export_kv(0, 4, kv.data()));
  uint64_t h = fnv1a64(fp.data(), fp.size());
  h = fnv1a64(logits.data(), logits.size() * sizeof(float), h);
  h = fnv1a64(kv.data(), kv.size() * sizeof(float), h);
  std::snprintf(buf, sizeof(buf), " probe=%016" PRIx64, h);
  return fp + buf;
}

}  // namespace baleen
