#include "testing.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>

namespace baleen::testing {

std::string conformance_dir() {
  const char* env = std::getenv("BALEEN_CONFORMANCE_DIR");
  if (env != nullptr && env[0] != '\0') return env;
  return BALEEN_CONFORMANCE_DIR_DEFAULT;
}

bool have_conformance() { return std::filesystem::is_directory(conformance_dir()); }

std::string conformance_path(const std::string& rel) { return conformance_dir() + "/" + rel; }

std::string scratch_dir(const std::string& name) {
  std::filesystem::path p = std::filesystem::path(BALEEN_BINARY_DIR) / "test-scratch" / name;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

void report_conformance(const std::string& what, int passed, int total) {
  std::printf("CONFORMANCE: %s %d/%d passed\n", what.c_str(), passed, total);
  std::fflush(stdout);
}

}  // namespace baleen::testing
