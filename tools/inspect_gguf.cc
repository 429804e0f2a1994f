#include <cinttypes>
#include <map>
#include <string>

#include "inspect_report.h"
#include "io/gguf.h"
#include "model/config.h"

namespace baleen::cli {

std::string human_count(uint64_t n) {
  char buf[32];
  if (n >= 1000000000ull) {
    std::snprintf(buf, sizeof(buf), "%.2f B", static_cast<double>(n) / 1e9);
  } else if (n >= 1000000ull) {
    std::snprintf(buf, sizeof(buf), "%.2f M", static_cast<double>(n) / 1e6);
  } else if (n >= 1000ull) {
    std::snprintf(buf, sizeof(buf), "%.2f K", static_cast<double>(n) / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%" PRIu64, n);
  }
  return buf;
}

std::string human_bytes(uint64_t n) {
  char buf[32];
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000.0 && u < 4) v /= 1000.0, ++u;
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

void print_kv_cache(const ModelConfig& config, int64_t ctx, FILE* out) {
  const uint64_t bf16 = config.kv_bytes_per_token(2);
  const uint64_t f32 = config.kv_bytes_per_token(4);
  const char* layout = config.arch == ModelArch::kDeepseek2 ? "MLA latent: (kv_lora_rank + qk_rope_head_dim) x layers"
                                                            : "K and V: 2 x kv_heads x head_dim x layers";
  std::fprintf(out, "kv cache:      %" PRIu64 " bytes/token at BF16, %" PRIu64 " at F32 (%s)\n", bf16, f32, layout);
  std::fprintf(out, "kv cache:      %" PRId64 " tokens: %s at BF16, %s at F32\n", ctx,
               human_bytes(bf16 * static_cast<uint64_t>(ctx)).c_str(),
               human_bytes(f32 * static_cast<uint64_t>(ctx)).c_str());
}

static std::string shape_string(const std::vector<uint64_t>& ne) {
  std::string s = "[";
  for (size_t i = 0; i < ne.size(); ++i) s += (i ? ", " : "") + std::to_string(ne[i]);
  return s + "]";
}

Status inspect_gguf(const std::string& path, const InspectOptions& opts, FILE* out) {
  BALEEN_ASSIGN_OR_RETURN(GgufFile f, GgufFile::open(path));
  std::string arch = f.architecture();
  std::fprintf(out, "file:          %s (%s)\n", path.c_str(), human_bytes(f.file_size()).c_str());
  std::fprintf(out, "format:        GGUF v%u, alignment %" PRIu64 ", %zu metadata keys, %zu tensors\n", f.version(),
               f.alignment(), f.metadata().size(), f.tensors().size());
  std::fprintf(out, "architecture:  %s\n", arch.empty() ? "(none)" : arch.c_str());
  if (auto name = f.get_string("general.name"); name.ok()) std::fprintf(out, "name:          %s\n", name->c_str());

  std::fprintf(out, "config:\n");
  for (const auto& [key, value] : f.metadata()) {
    bool model_key = !arch.empty() && key.rfind(arch + ".", 0) == 0;
    bool tokenizer_key = key.rfind("tokenizer.", 0) == 0;
    if (!opts.all_metadata && !model_key) continue;
    if (!opts.all_metadata && tokenizer_key) continue;
    std::fprintf(out, "  %-48s %s\n", key.c_str(), value.to_display_string().c_str());
  }
  if (auto model = f.get_string("tokenizer.ggml.model"); model.ok()) {
    std::string pre = f.get_string("tokenizer.ggml.pre").ok() ? *f.get_string("tokenizer.ggml.pre") : "-";
    const GgufValue* toks = f.find("tokenizer.ggml.tokens");
    size_t n = (toks != nullptr && toks->arr) ? toks->arr->items.size() : 0;
    std::fprintf(out, "tokenizer:     %s (pre %s), %zu tokens\n", model->c_str(), pre.c_str(), n);
  }

  uint64_t n_params = 0, n_bytes = 0;
  std::map<std::string, std::pair<size_t, uint64_t>> by_type;  // type -> (tensors, bytes)
  for (const auto& t : f.tensors()) {
    n_params += t.n_elements;
    n_bytes += t.n_bytes;
    auto& e = by_type[std::string(ggml_type_info(t.type).name)];
    e.first += 1;
    e.second += t.n_bytes;
  }
  if (opts.tensors) {
    std::fprintf(out, "tensors:\n");
    for (const auto& t : f.tensors()) {
      std::fprintf(out, "  %-40s %-6s %-24s %s\n", t.name.c_str(), std::string(ggml_type_info(t.type).name).c_str(),
                   shape_string(t.ne).c_str(), human_bytes(t.n_bytes).c_str());
    }
  }
  std::fprintf(out, "types:        ");
  for (const auto& [type, e] : by_type)
    std::fprintf(out, " %s x%zu (%s)", type.c_str(), e.first, human_bytes(e.second).c_str());
  std::fprintf(out, "\n");
  double bpw = n_params ? 8.0 * static_cast<double>(n_bytes) / static_cast<double>(n_params) : 0.0;
  std::fprintf(out, "parameters:    %" PRIu64 " (%s), %s of tensor data, %.2f bits per weight\n", n_params,
               human_count(n_params).c_str(), human_bytes(n_bytes).c_str(), bpw);
  if (opts.ctx > 0) {
    BALEEN_ASSIGN_OR_RETURN(ModelConfig config, config_from_gguf(f));
    print_kv_cache(config, opts.ctx, out);
  }
  return ok_status();
}

}  // namespace baleen::cli
