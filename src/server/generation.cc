#include "server/generation.h"

#include <algorithm>

#include "core/utf8.h"

namespace baleen::server {

bool Mailbox::push(MailItem item) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!item.done && (closed_.load() || items_.size() >= capacity_)) return false;
    items_.push_back(std::move(item));
  }
  cv_.notify_one();
  return true;
}

void Mailbox::pop_all(std::vector<MailItem>* out, std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(mu_);
  if (items_.empty()) cv_.wait_for(lock, wait, [&] { return !items_.empty(); });
  while (!items_.empty()) {
    out->push_back(std::move(items_.front()));
    items_.pop_front();
  }
}

void Mailbox::close() { closed_.store(true); }

ChoiceSink::ChoiceSink(std::shared_ptr<Mailbox> box, int choice, std::vector<TokenId> stop_ids, ServerMetrics* metrics,
                       std::chrono::steady_clock::time_point arrival)
    : box_(std::move(box)), choice_(choice), stop_ids_(std::move(stop_ids)), metrics_(metrics), arrival_(arrival) {}

bool ChoiceSink::on_token(const TokenEvent& event) {
  if (stop_.load()) return false;
  // End-of-turn tokens of the chat template end the choice here, on the engine thread.
  if (std::find(stop_ids_.begin(), stop_ids_.end(), event.id) != stop_ids_.end()) return false;
  const auto now = std::chrono::steady_clock::now();
  if (metrics_) {
    if (first_) {
      metrics_->ttft.observe(std::chrono::duration<double>(now - arrival_).count());
    } else {
      metrics_->itl.observe(std::chrono::duration<double>(now - last_).count());
    }
  }
  first_ = false;
  last_ = now;
  MailItem item;
  item.choice = choice_;
  item.token = event;
  return box_->push(std::move(item));
}

void ChoiceSink::on_done(const Completion& completion) {
  if (metrics_) {
    metrics_->e2e.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - arrival_).count());
  }
  MailItem item;
  item.choice = choice_;
  item.done = true;
  item.completion = completion;
  box_->push(std::move(item));
}

std::string sanitize_utf8(std::string_view bytes) {
  if (utf8::is_valid(bytes)) return std::string(bytes);
  std::string out;
  for (size_t i = 0; i < bytes.size();) {
    char32_t cp;
    size_t n = utf8::decode(bytes, i, &cp);
    utf8::append(out, cp);
    i += n;
  }
  return out;
}

ChoiceText::ChoiceText(const Tokenizer& tok, std::vector<std::string> stops, bool split_reasoning, bool opens_reasoning,
                       int top_logprobs)
    : tok_(tok), decoder_(tok, /*skip_special=*/true), stop_(std::move(stops)), top_logprobs_(top_logprobs) {
  if (split_reasoning) splitter_.emplace(opens_reasoning);
}

nlohmann::json ChoiceText::logprob_entry(const TokenEvent& e) const {
  auto one = [&](TokenId id, float lp) {
    const std::string b = tok_.token_to_bytes(id);
    nlohmann::json bytes = nlohmann::json::array();
    for (unsigned char c : b) bytes.push_back(static_cast<int>(c));
    return nlohmann::json{{"token", sanitize_utf8(b)}, {"logprob", lp}, {"bytes", std::move(bytes)}};
  };
  nlohmann::json entry = one(e.id, e.logprob);
  nlohmann::json top = nlohmann::json::array();
  for (const auto& t : e.top) top.push_back(one(t.id, t.logprob));
  entry["top_logprobs"] = std::move(top);
  return entry;
}

void ChoiceText::emit(const std::string& text, bool end, TextDelta* d) {
  if (!splitter_) {
    d->content += text;
    return;
  }
  pieces_.clear();
  splitter_->push(text, &pieces_);
  if (end) splitter_->flush(&pieces_);
  for (const auto& p : pieces_) (p.reasoning ? d->reasoning : d->content) += p.text;
}

bool ChoiceText::push(const TokenEvent& e, TextDelta* d) {
  if (stop_.stopped()) return false;
  ++n_tokens_;
  if (splitter_ && splitter_->in_reasoning()) ++n_reasoning_;
  std::string text;
  const std::string_view piece = tok_.token_text(e.id);
  if (tok_.is_special(e.id) && (piece == "<think>" || piece == "</think>")) {
    // A vocabulary that marks the reasoning tags as control tokens: the splitter needs them.
    text = decoder_.flush() + std::string(piece);
  } else {
    text = decoder_.push(e.id);
  }
  std::string kept = stop_.push(text);
  emit(kept, false, d);
  if (top_logprobs_ >= 0 && !stop_.stopped()) d->logprobs.push_back(logprob_entry(e));
  return !stop_.stopped();
}

void ChoiceText::finish(TextDelta* d) {
  std::string rest = stop_.stopped() ? std::string() : stop_.push(decoder_.flush());
  rest += stop_.flush();
  emit(rest, true, d);
}

}  // namespace baleen::server
