// `baleen inspect PATH`: what a model file or folder holds — architecture, config, tensor list with
// types and sizes, parameter count. PATH is a GGUF file or a Hugging Face folder (config.json +
// safetensors). A malformed file gives one error line and exit status 1.
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "commands.h"
#include "inspect_report.h"

namespace baleen::cli {

Runner add_inspect(CLI::App& app) {
  struct Opts {
    std::string path;
    bool all_metadata = false;
    bool no_tensors = false;
    int64_t ctx = 0;
  };
  auto o = std::make_shared<Opts>();
  auto* sub = app.add_subcommand("inspect", "Show the architecture, config and tensors of a GGUF file or HF folder");
  sub->add_option("path", o->path, "GGUF file or Hugging Face model folder")->required();
  sub->add_flag("--metadata", o->all_metadata, "print every metadata key (GGUF), not only the model's");
  sub->add_flag("--no-tensors", o->no_tensors, "omit the tensor list");
  sub->add_option("--ctx", o->ctx, "also report the KV-cache size for this many tokens")->check(CLI::PositiveNumber);
  return [o]() -> int {
    InspectOptions opts;
    opts.all_metadata = o->all_metadata;
    opts.tensors = !o->no_tensors;
    opts.ctx = o->ctx;
    Status st = std::filesystem::is_directory(o->path) ? inspect_hf_folder(o->path, opts, stdout)
                                                       : inspect_gguf(o->path, opts, stdout);
    if (!st.ok()) {
      std::fprintf(stderr, "baleen inspect: error: %s\n", st.error().to_string().c_str());
      return 1;
    }
    return 0;
  };
}

}  // namespace baleen::cli
