// Tokenizer throughput in MB/s of input text (encode and decode), for each conformance tokenizer,
// on a large mixed text: Baleen's own docs and the shared spec documents (English prose, Markdown,
// code, tables, some CJK and symbols), repeated to about 4 MB. Run: build/bench/tokenizer_bench
// [--benchmark_format=json]. The `MB/s` counter is 10^6 bytes of input text per second (Google
// Benchmark's bytes_per_second column is in MiB/s). bench/hf_tokenizer_bench.js measures Hugging
// Face's tokenizer (the peer) on the same text.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "core/mapped_file.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string conformance_dir() {
  const char* env = std::getenv("BALEEN_CONFORMANCE_DIR");
  return env != nullptr ? env : BALEEN_CONFORMANCE_DIR_DEFAULT;
}

const std::string& corpus() {
  static const std::string text = [] {
    std::string t;
    std::filesystem::path docs = std::filesystem::path(conformance_dir()).parent_path() / "docs";
    for (const char* f : {"deepseek-spec.md", "api-and-hardening.md", "performance-anchors.md", "training-recipe.md",
                          "codebases-we-admire.md"}) {
      auto r = baleen::read_file((docs / f).string());
      if (r.ok()) t += *r;
    }
    t += "中文测试：深度求索的模型在本地运行。日本語のテキストも少し。한국어 문장도 있습니다. 🐳✨\n";
    std::string out;
    while (!t.empty() && out.size() < (4u << 20)) out += t;
    return out;
  }();
  return text;
}

void bm_encode(benchmark::State& state, const std::string& rel) {
  auto tok = baleen::Tokenizer::load(conformance_dir() + "/" + rel);
  if (!tok.ok()) {
    state.SkipWithError(tok.error().to_string().c_str());
    return;
  }
  const std::string& text = corpus();
  if (text.empty()) {
    state.SkipWithError("no corpus text (shared/docs not found)");
    return;
  }
  size_t n_tokens = 0;
  for (auto _ : state) {
    auto ids = (*tok)->encode(text, false, true);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(text.size()) * state.iterations(),
                                              benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["bytes_per_token"] = static_cast<double>(text.size()) / static_cast<double>(n_tokens ? n_tokens : 1);
  state.counters["tokens_per_s"] =
      benchmark::Counter(static_cast<double>(n_tokens) * state.iterations(), benchmark::Counter::kIsRate);
}

void bm_decode(benchmark::State& state, const std::string& rel) {
  auto tok = baleen::Tokenizer::load(conformance_dir() + "/" + rel);
  if (!tok.ok()) {
    state.SkipWithError(tok.error().to_string().c_str());
    return;
  }
  const std::string& text = corpus();
  auto ids = (*tok)->encode(text, false, true);
  for (auto _ : state) {
    std::string s = (*tok)->decode(ids, false);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(text.size()) * state.iterations(),
                                              benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

const char* kTokenizers[][2] = {
    {"deepseek-v3", "tokenizers/deepseek-v3/tokenizer.json"},
    {"deepseek-llm", "tokenizers/deepseek-llm/tokenizer.json"},
    {"qwen2", "tokenizers/deepseek-r1-distill-qwen/tokenizer.json"},
    {"llama3", "tokenizers/llama3/tokenizer.json"},
};

int register_all() {
  for (auto& t : kTokenizers) {
    std::string rel = t[1];
    benchmark::RegisterBenchmark((std::string("encode/") + t[0]).c_str(), bm_encode, rel)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(2.0);
    benchmark::RegisterBenchmark((std::string("decode/") + t[0]).c_str(), bm_decode, rel)
        ->Unit(benchmark::kMillisecond)
        ->MinTime(1.0);
  }
  return 0;
}
const int kRegistered = register_all();

}  // namespace

BENCHMARK_MAIN();
