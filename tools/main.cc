// Entry point of the `baleen` command line.
#include <cstdio>
#include <map>
#include <string>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"Baleen: DeepSeek-family models on the hardware you have", "baleen"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "baleen 0.1.0");

  std::map<std::string, baleen::cli::Runner> runners;
  runners["inspect"] = baleen::cli::add_inspect(app);
  runners["tokenize"] = baleen::cli::add_tokenize(app);
  runners["demo"] = baleen::cli::add_demo(app);
  runners["run"] = baleen::cli::add_run(app);
  runners["chat"] = baleen::cli::add_chat(app);
  runners["logits"] = baleen::cli::add_logits(app);
  runners["bench"] = baleen::cli::add_bench(app);
  runners["gen-random"] = baleen::cli::add_gen_random(app);
  runners["serve"] = baleen::cli::add_serve(app);

  // llama.cpp's two-letter short flag `-np` (CLI11 only has one-letter short names).
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "-np") argv[i] = const_cast<char*>("--np");
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  for (auto& [name, run] : runners) {
    if (app.got_subcommand(name)) return run();
  }
  return 1;
}
