// Shared helpers for Baleen's tests: where the conformance data lives, a scratch directory, and the
// "CONFORMANCE:" summary lines that scripts/test.sh collects into the closing report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace baleen::testing {

// A conformance `.logits` file (conformance README section 3): header keys, then float32 rows.
struct ReferenceLogits {
  std::vector<int32_t> tokens;  // the input ids
  std::vector<int32_t> greedy;  // greedy continuation (or per-row argmax for MTP files)
  int64_t n_rows = 0;
  int64_t n_vocab = 0;
  std::vector<float> data;  // [n_rows, n_vocab]
  std::string source;
  const float* row(int64_t i) const { return data.data() + i * n_vocab; }
};
// Result of running the built `baleen` binary.
struct RunResult {
  int status = -1;  // exit status; -1 when it did not exit normally
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs BALEEN_BINARY_DIR/baleen with `args` (shell-quoted), stdin fed from a file holding
// `stdin_text` (no terminal on either side); stdin/stderr files live in `scratch`.
RunResult run_baleen(const std::vector<std::string>& args, const std::string& scratch,
                     const std::string& stdin_text = "");
// Number of '\n' in s.
size_t count_lines(const std::string& s);

// Reads a .logits file; on failure returns false and sets *error.
bool read_reference_logits(const std::string& path, ReferenceLogits* out, std::string* error);

// Absolute path of ../shared/conformance (env BALEEN_CONFORMANCE_DIR overrides the CMake default).
std::string conformance_dir();
// True when the conformance directory exists.
bool have_conformance();
// conformance_dir() + "/" + rel.
std::string conformance_path(const std::string& rel);
// A fresh empty directory under the build tree for this test's files (unique per running test).
std::string scratch_dir(const std::string& name);
// Prints "CONFORMANCE: <what> <passed>/<total> passed" on stdout (scripts/test.sh collects these).
void report_conformance(const std::string& what, int passed, int total);

}  // namespace baleen::testing

// Skips the current test (reported as skipped by ctest) when the conformance data is missing.
#define BALEEN_REQUIRE_CONFORMANCE()                                                           \
  do {                                                                                         \
    if (!::baleen::testing::have_conformance())                                                \
      GTEST_SKIP() << "conformance data not found at " << ::baleen::testing::conformance_dir() \
                   << " (set -DBALEEN_CONFORMANCE_DIR or env BALEEN_CONFORMANCE_DIR)";         \
  } while (0)
