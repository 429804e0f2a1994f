// One generation request as the HTTP handler sees it. The engine thread only touches
// ChoiceSink::on_token/on_done, which append to a shared bounded Mailbox and return at once
// (never block on a socket); the handler thread pops from the Mailbox and turns token events into
// text with ChoiceText: incremental detokenization, stop strings, the reasoning split and logprob
// entries.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine/reasoning.h"
#include "server/metrics.h"
#include "server/stop_matcher.h"

namespace baleen::server {

struct MailItem {
  int choice = 0;
  bool done = false;
  TokenEvent token;
  Completion completion;
};

// Events of all choices of one request. Bounded: a reader that falls more than `capacity` events
// behind makes the sinks return false, which stops generation (the slot is not held hostage).
class Mailbox {
 public:
  explicit Mailbox(size_t capacity = 8192) : capacity_(capacity) {}
  bool push(MailItem item);  // false when full or closed
  // Moves every queued item into *out, waiting up to `wait` for the first one.
  void pop_all(std::vector<MailItem>* out, std::chrono::milliseconds wait);
  void close();  // further pushes fail (on_token returns false)
  bool closed() const { return closed_.load(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<MailItem> items_;
  size_t capacity_;
  std::atomic<bool> closed_{false};
};

class ChoiceSink : public StreamSink {
 public:
  ChoiceSink(std::shared_ptr<Mailbox> box, int choice, std::vector<TokenId> stop_ids, ServerMetrics* metrics,
             std::chrono::steady_clock::time_point arrival);
  bool on_token(const TokenEvent& event) override;
  void on_done(const Completion& completion) override;
  void request_stop() { stop_.store(true); }

 private:
  std::shared_ptr<Mailbox> box_;
  int choice_;
  std::vector<TokenId> stop_ids_;
  ServerMetrics* metrics_;
  std::chrono::steady_clock::time_point arrival_, last_;
  bool first_ = true;
  std::atomic<bool> stop_{false};
};

// Text produced by one token event.
struct TextDelta {
  std::string content;
  std::string reasoning;
  nlohmann::json logprobs = nlohmann::json::array();  // chat-style entries of the tokens consumed
};

class ChoiceText {
 public:
  // split_reasoning: separate <think>...</think> (chat); opens_reasoning: the prompt opened it.
  ChoiceText(const Tokenizer& tok, std::vector<std::string> stops, bool split_reasoning, bool opens_reasoning,
             int top_logprobs);
  // Returns false once a stop string ended the output (the caller stops generation).
  bool push(const TokenEvent& e, TextDelta* d);
  void finish(TextDelta* d);
  bool stopped() const { return stop_.stopped(); }
  int64_t tokens() const { return n_tokens_; }
  int64_t reasoning_tokens() const { return n_reasoning_; }

 private:
  void emit(const std::string& text, bool end, TextDelta* d);
  nlohmann::json logprob_entry(const TokenEvent& e) const;

  const Tokenizer& tok_;
  StreamDecoder decoder_;
  StopMatcher stop_;
  std::optional<ReasoningSplitter> splitter_;
  int top_logprobs_;
  int64_t n_tokens_ = 0, n_reasoning_ = 0;
  std::vector<ReasoningSplitter::Piece> pieces_;
};

// A JSON string from token bytes: invalid UTF-8 becomes U+FFFD.
std::string sanitize_utf8(std::string_view bytes);

}  // namespace baleen::server
