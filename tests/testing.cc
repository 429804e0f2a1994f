#include "testing.h"

#include <gtest/gtest.h>

#include "core/mapped_file.h"

#include <sys/wait.h>

#include <algorithm>
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

namespace {
std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char ch : s) q += (ch == '\'') ? std::string("'\\''") : std::string(1, ch);
  return q + "'";
}
}  // namespace

RunResult run_baleen(const std::vector<std::string>& args, const std::string& scratch, const std::string& stdin_text) {
  std::string cmd = shell_quote(std::string(BALEEN_BINARY_DIR) + "/baleen");
  for (const auto& a : args) cmd += " " + shell_quote(a);
  const std::string in_path = scratch + "/stdin.txt";
  const std::string err_path = scratch + "/stderr.txt";
  RunResult r;
  if (!write_file(in_path, stdin_text).ok()) return r;
  cmd += " <" + shell_quote(in_path) + " 2>" + shell_quote(err_path);
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (auto e = read_file(err_path); e.ok()) r.err = std::move(*e);
  return r;
}

size_t count_lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

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
