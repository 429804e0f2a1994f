// JSON mode's per-step cost: JsonTokenMask::apply (engine/json_constraint.h) over a whole vocabulary
// in microseconds per decode step (the Time column: one apply() call), from representative recognizer
// states, on the DeepSeek-V3 (128 815 ids) and DeepSeek-LLM (100 015 ids) tokenizers of the
// conformance data. Medians: build/bench/json_mask_bench --benchmark_repetitions=5
// --benchmark_report_aggregates_only=true.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "engine/json_constraint.h"
#include "tokenizer/tokenizer.h"

namespace {

std::string conformance_dir() {
  const char* env = std::getenv("BALEEN_CONFORMANCE_DIR");
  return env != nullptr ? env : BALEEN_CONFORMANCE_DIR_DEFAULT;
}

// The text generated so far, one per state of interest.
const char* const kStates[] = {
    "",                                 // before the object: whitespace or '{'
    "{",                                // a key or '}'
    "{\"name",                          // inside a key string: most tokens pass the first byte
    "{\"name\": ",                      // a value
    "{\"name\": \"Ada Lov",             // inside a value string
    "{\"n\": [1, 2, 3",                 // inside a number in an array
    "{\"name\": \"Ada\", \"age\": 36",  // after a number in an object
};

void bm_mask(benchmark::State& state, const std::string& rel) {
  auto tok = baleen::Tokenizer::load(conformance_dir() + "/" + rel);
  if (!tok.ok()) {
    state.SkipWithError(tok.error().to_string().c_str());
    return;
  }
  const auto n_vocab = static_cast<int64_t>((*tok)->vocab_size());
  baleen::JsonTokenMask mask(**tok, n_vocab, {(*tok)->special_ids().eos});
  baleen::JsonRecognizer r;
  const char* text = kStates[state.range(0)];
  if (!r.advance(text)) {
    state.SkipWithError("bad state text");
    return;
  }
  std::vector<float> logits(static_cast<size_t>(n_vocab), 0.0f);
  int64_t allowed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::fill(logits.begin(), logits.end(), 0.0f);
    state.ResumeTiming();
    allowed = mask.apply(r, logits);
    benchmark::DoNotOptimize(logits.data());
  }
  state.counters["allowed"] = static_cast<double>(allowed);
  state.counters["n_vocab"] = static_cast<double>(n_vocab);
  state.SetLabel(std::string("after '") + text + "'");
}

BENCHMARK_CAPTURE(bm_mask, deepseek_v3, std::string("tokenizers/deepseek-v3/tokenizer.json"))
    ->DenseRange(0, 6)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(bm_mask, deepseek_llm, std::string("tokenizers/deepseek-llm/tokenizer.json"))
    ->DenseRange(0, 6)
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
