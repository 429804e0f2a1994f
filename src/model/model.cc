// Model::load: a .gguf file or a Hugging Face folder -> ModelImpl (config, bound weights,
// tokenizer, chat template, RoPE setup).
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/model_impl.h"

namespace baleen {
namespace {

Result<std::unique_ptr<Model>> load_gguf(const std::string& path, const LoadOptions&) {
  BALEEN_ASSIGN_OR_RETURN(GgufFile file, GgufFile::open(path));
  auto m = std::make_unique<ModelImpl>();
  m->gguf_.emplace(std::move(file));
  const GgufFile& g = *m->gguf_;
  BALEEN_ASSIGN_OR_RETURN(m->config_, config_from_gguf(g));
  BALEEN_ASSIGN_OR_RETURN(m->weights_, bind_gguf_weights(g, m->config_));
  // llama.cpp's converter permutes llama q/k rows into adjacent pairs; qwen2 keeps NeoX halves.
  const RopeStyle style = m->config_.arch == ModelArch::kQwen2 ? RopeStyle::kHalves : RopeStyle::kAdjacentPairs;
  m->rope_ = make_rope_setup(m->config_, style, m->weights_.rope_freq_factors);
  if (g.find("tokenizer.ggml.model") != nullptr) {
    auto tok = Tokenizer::from_gguf(g);
    if (!tok.ok()) return tok.error().with_context("tokenizer");
    m->tokenizer_ = std::move(tok).value();
  }
  if (g.find("tokenizer.chat_template") != nullptr) {
    BALEEN_ASSIGN_OR_RETURN(m->chat_template_, g.get_string("tokenizer.chat_template"));
  }
  return std::unique_ptr<Model>(std::move(m));
}

std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

Result<std::unique_ptr<Model>> load_hf(const std::string& dir, const LoadOptions& opts) {
  BALEEN_ASSIGN_OR_RETURN(HfModelConfig hf, load_hf_config(dir));
  auto m = std::make_unique<ModelImpl>();
  m->config_ = config_from_hf(hf);
  BALEEN_ASSIGN_OR_RETURN(SafetensorsModel st, SafetensorsModel::open(dir));
  m->safetensors_.emplace(std::move(st));
  BALEEN_ASSIGN_OR_RETURN(m->weights_, bind_hf_weights(*m->safetensors_, hf, m->config_, opts.load_mtp));
  m->config_.n_mtp_layers = m->weights_.has_mtp ? hf.num_nextn_predict_layers : 0;
  // DeepSeek checkpoints rotate adjacent pairs (deepseek-spec 3.2); HF llama/qwen2 rotate halves.
  const RopeStyle style = m->config_.arch == ModelArch::kDeepseek2 ? RopeStyle::kAdjacentPairs : RopeStyle::kHalves;
  m->rope_ = make_rope_setup(m->config_, style, {});
  const std::filesystem::path folder(dir);
  if (std::filesystem::exists(folder / "tokenizer.json")) {
    auto tok = Tokenizer::load(dir);
    if (!tok.ok()) return tok.error().with_context("tokenizer");
    m->tokenizer_ = std::move(tok).value();
  }
  if (std::filesystem::exists(folder / "tokenizer_config.json")) {
    auto j = nlohmann::json::parse(read_text(folder / "tokenizer_config.json"), nullptr, false);
    if (!j.is_discarded() && j.is_object()) {
      auto it = j.find("chat_template");
      if (it != j.end() && it->is_string()) m->chat_template_ = it->get<std::string>();
    }
  }
  return std::unique_ptr<Model>(std::move(m));
}

}  // namespace

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const LoadOptions& opts) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    auto r = load_hf(path, opts);
    if (!r.ok()) return r.error().with_context(path);
    return r;
  }
  auto r = load_gguf(path, opts);
  if (!r.ok()) return r.error().with_context(path);
  return r;
}

}  // namespace baleen
