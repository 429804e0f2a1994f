// deepseek2 GGUF micro models (ds2: V2-Lite style, ds3: V3 style) of every quantization type
// against the numpy and llama.cpp references (conformance README sections 6, 8).
#include "model_test_util.h"

namespace baleen {
namespace {

void run_model(const std::string& name) {
  int passed = 0, total = 0;
  for (const std::string& type : model_test::micro_types()) {
    passed += model_test::check_micro_file(name, type);
    total += 3;
  }
  testing::report_conformance("model " + name + " (numpy 1e-4, greedy, llama.cpp)", passed, total);
}

TEST(DeepseekGgufConformance, Ds2MicroAllTypes) {
  BALEEN_REQUIRE_CONFORMANCE();
  run_model("ds2-micro");
}

TEST(DeepseekGgufConformance, Ds3MicroAllTypes) {
  BALEEN_REQUIRE_CONFORMANCE();
  run_model("ds3-micro");
}

}  // namespace
}  // namespace baleen
