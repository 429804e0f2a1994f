// Server-side metrics for GET /metrics (Prometheus text format 0.0.4): request counters by
// endpoint and outcome, time-to-first-token and inter-token latency histograms measured on the
// engine thread as tokens arrive, plus the engine's own counters (EngineStats). Lock-free updates.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "engine/engine.h"

namespace baleen::server {

// Cumulative histogram with fixed bucket bounds in seconds.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.005, 0.01, 0.025, 0.05, 0.075, 0.1,  0.25,
                                                     0.5,   1.0,  2.5,   5.0,  10.0,  30.0, 60.0};
  void observe(double seconds);
  // Appends the _bucket/_sum/_count lines of `name`.
  void write(const std::string& name, const std::string& help, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> counts_{};  // last: +Inf only
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> count_{0};
};

struct ServerMetrics {
  std::atomic<uint64_t> http_requests{0};
  std::atomic<uint64_t> chat_requests{0};
  std::atomic<uint64_t> completion_requests{0};
  std::atomic<uint64_t> rejected_invalid{0};      // 4xx before submit
  std::atomic<uint64_t> rejected_unavailable{0};  // 503 queue full
  std::atomic<uint64_t> cancelled_disconnect{0};  // client went away mid-request
  std::atomic<uint64_t> prompt_tokens{0};
  std::atomic<uint64_t> generated_tokens{0};
  std::atomic<int64_t> streams_open{0};
  Histogram ttft;
  Histogram itl;
  Histogram e2e;

  // The whole /metrics body; `stats` null while the model loads.
  std::string render(const EngineStats* stats) const;
};

}  // namespace baleen::server
