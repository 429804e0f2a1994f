#include <cinttypes>
#include <filesystem>
#include <map>
#include <string>

#include "inspect_report.h"
#include "io/hf_config.h"
#include "io/safetensors.h"
#include "model/config.h"

namespace baleen::cli {

static std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Status inspect_hf_folder(const std::string& dir, const InspectOptions& opts, FILE* out) {
  BALEEN_ASSIGN_OR_RETURN(HfModelConfig config, load_hf_config(dir));
  BALEEN_ASSIGN_OR_RETURN(SafetensorsModel model, SafetensorsModel::open_folder(dir));

  uint64_t n_params = 0, n_bytes = 0, n_file_bytes = 0;
  std::map<std::string, std::pair<size_t, uint64_t>> by_dtype;  // dtype -> (tensors, bytes)
  for (const SafetensorsTensor* t : model.tensors()) {
    bool is_scale = t->name.size() > 10 && t->name.ends_with("_scale_inv");
    if (!is_scale) n_params += t->n_elements();
    n_bytes += t->n_bytes;
    auto& e = by_dtype[safetensors_dtype_name(t->dtype)];
    e.first += 1;
    e.second += t->n_bytes;
  }
  for (const auto& shard : model.shards()) {
    std::error_code ec;
    auto sz = std::filesystem::file_size(shard.path(), ec);
    if (!ec) n_file_bytes += sz;
  }
  std::fprintf(out, "folder:        %s (%zu safetensors file%s, %s)\n", dir.c_str(), model.shards().size(),
               model.shards().size() == 1 ? "" : "s", human_bytes(n_file_bytes).c_str());
  std::string arch = config.architectures.empty() ? "" : config.architectures.front();
  std::fprintf(out, "architecture:  %s\n", arch.empty() ? "(none)" : arch.c_str());
  std::fprintf(out, "config:        %s\n", hf_config_summary(config).c_str());
  if (opts.tensors) {
    std::fprintf(out, "tensors:\n");
    for (const SafetensorsTensor* t : model.tensors()) {
      std::fprintf(out, "  %-56s %-8s %-20s %s\n", t->name.c_str(), safetensors_dtype_name(t->dtype),
                   shape_string(t->shape).c_str(), human_bytes(t->n_bytes).c_str());
    }
  }
  std::fprintf(out, "dtypes:       ");
  for (const auto& [dtype, e] : by_dtype) {
    std::fprintf(out, " %s x%zu (%s)", dtype.c_str(), e.first, human_bytes(e.second).c_str());
  }
  std::fprintf(out, "\n");
  std::fprintf(out, "parameters:    %" PRIu64 " (%s), %s of tensor data%s\n", n_params, human_count(n_params).c_str(),
               human_bytes(n_bytes).c_str(),
               config.quantization ? " (FP8 block scales not counted as parameters)" : "");
  if (config.num_nextn_predict_layers > 0) {
    std::fprintf(out, "mtp:           %" PRId64 " next-token-prediction layer(s) after the %" PRId64 " main layers\n",
                 config.num_nextn_predict_layers, config.num_hidden_layers);
  }
  if (opts.ctx > 0) print_kv_cache(config_from_hf(config), opts.ctx, out);
  return ok_status();
}

}  // namespace baleen::cli
