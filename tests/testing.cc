#include "testing.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace baleen::testing {

std::string conformance_dir() {
  const char* env = std::getenv("BALEEN_CONFORMANCE_DIR");
  if (env != nullptr && env[0] != '\0') return env;
  return BALEEN_CONFORMANCE_DIR_DEFAULT;
}

bool have_conformance() { return std::filesystem::is_directory(conformance_dir()); }

std::string conformance_path(const std::string& rel) { return conformance_dir() + "/" + rel; }

std::string scratch_dir(const std::string& name) {
  // ctest runs tests in parallel (one process per test): qualify the directory with the running
  // test's name so two tests sharing a helper never remove each other's files.
  std::string unique = name;
  if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info(); info != nullptr) {
    unique += std::string("__") + info->test_suite_name() + "." + info->name();
  }
  std::filesystem::path p = std::filesystem::path(BALEEN_BINARY_DIR) / "test-scratch" / unique;
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

void report_conformance(const std::string& what, int passed, int total) {
  std::printf("CONFORMANCE: %s %d/%d passed\n", what.c_str(), passed, total);
  std::fflush(stdout);
}

bool read_reference_logits(const std::string& path, ReferenceLogits* out, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  *out = ReferenceLogits{};
  std::string line;
  bool have_data = false;
  while (std::getline(in, line)) {
    if (line == "data") {
      have_data = true;
      break;
    }
    std::istringstream ss(line);
    std::string key;
    ss >> key;
    if (key == "tokens" || key == "greedy") {
      std::vector<int32_t>& v = key == "tokens" ? out->tokens : out->greedy;
      int32_t id = 0;
      while (ss >> id) v.push_back(id);
    } else if (key == "n_rows") {
      ss >> out->n_rows;
    } else if (key == "n_vocab") {
      ss >> out->n_vocab;
    } else if (key == "source") {
      std::getline(ss, out->source);
    }
  }
  if (!have_data || out->n_rows <= 0 || out->n_vocab <= 0) {
    *error = "malformed logits header in " + path;
    return false;
  }
  out->data.resize(static_cast<size_t>(out->n_rows * out->n_vocab));
  in.read(reinterpret_cast<char*>(out->data.data()), static_cast<std::streamsize>(out->data.size() * sizeof(float)));
  if (in.gcount() != static_cast<std::streamsize>(out->data.size() * sizeof(float))) {
    *error = "truncated logits data in " + path;
    return false;
  }
  return true;
}

}  // namespace baleen::testing
