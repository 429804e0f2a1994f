// The `baleen` command line: each subcommand registers its options on a CLI11 app and returns the
// callback that runs it. Subcommands return a process exit code; errors are printed as one line
// ("baleen <cmd>: error: ...") by the subcommand itself.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>

namespace baleen::cli {

using Runner = std::function<int()>;

Runner add_inspect(CLI::App& app);
Runner add_tokenize(CLI::App& app);
Runner add_demo(CLI::App& app);
Runner add_run(CLI::App& app);
Runner add_chat(CLI::App& app);
Runner add_logits(CLI::App& app);
Runner add_bench(CLI::App& app);
Runner add_gen_random(CLI::App& app);
Runner add_serve(CLI::App& app);

}  // namespace baleen::cli
