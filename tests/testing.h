// Shared helpers for Baleen's tests: where the conformance data lives, a scratch directory, and the
// "CONFORMANCE:" summary lines that scripts/test.sh collects into the closing report.
#pragma once

#include <string>

namespace baleen::testing {

// Absolute path of ../shared/conformance (env BALEEN_CONFORMANCE_DIR overrides the CMake default).
std::string conformance_dir();
// True when the conformance directory exists.
bool have_conformance();
// conformance_dir() + "/" + rel.
std::string conformance_path(const std::string& rel);
// A fresh empty directory under the build tree for this test's files.
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
