// The concrete Model: the mapped files, the config, the bound weights and the derived RoPE setup.
// Sessions (session.cc) read it; Model::load (model.cc) builds it.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/config.h"
#include "model/model.h"
#include "model/weights.h"

namespace baleen {

class ModelImpl final : public Model {
 public:
  const ModelConfig& config() const override { return config_; }
  const Tokenizer* tokenizer() const override { return tokenizer_.get(); }
  const std::string& chat_template_text() const override { return chat_template_; }
  bool has_mtp() const override { return weights_.has_mtp; }

  const ModelWeights& weights() const { return weights_; }
  const RopeSetup& rope() const { return rope_; }

  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::string chat_template_;
  // Owners of the mappings the weights point into (declared before weights_, destroyed after).
  std::optional<GgufFile> gguf_;
  std::optional<SafetensorsModel> safetensors_;
  ModelWeights weights_;
  RopeSetup rope_;
};

}  // namespace baleen
