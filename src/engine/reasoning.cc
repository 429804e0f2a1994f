#include "engine/reasoning.h"

#include <algorithm>

namespace baleen {
namespace {

constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// Length of the longest proper suffix of `s` that is a prefix of `tag`.
size_t partial_tag_suffix(std::string_view s, std::string_view tag) {
  for (size_t n = std::min(s.size(), tag.size() - 1); n > 0; --n) {
    if (s.substr(s.size() - n) == tag.substr(0, n)) return n;
  }
  return 0;
}

void emit(bool reasoning, std::string_view text, std::vector<ReasoningSplitter::Piece>* out) {
  if (text.empty()) return;
  if (!out->empty() && out->back().reasoning == reasoning) {
    out->back().text.append(text);
  } else {
    out->push_back({reasoning, std::string(text)});
  }
}

}  // namespace

ReasoningSplitter::ReasoningSplitter(bool in_reasoning)
    : state_(in_reasoning ? State::kReasoning : State::kStart), saw_reasoning_(in_reasoning) {}

bool ReasoningSplitter::prompt_opens_reasoning(std::string_view prompt) {
  size_t end = prompt.size();
  while (end > 0 && is_space(prompt[end - 1])) --end;
  return prompt.substr(0, end).ends_with(kOpen);
}

void ReasoningSplitter::push(std::string_view chunk, std::vector<Piece>* out) {
  pending_.append(chunk);
  process(out);
}

void ReasoningSplitter::process(std::vector<Piece>* out) {
  for (;;) {
    if (segment_start_) {
      size_t n = 0;
      while (n < pending_.size() && is_space(pending_[n])) ++n;
      pending_.erase(0, n);
      if (pending_.empty()) return;
    }
    switch (state_) {
      case State::kStart:
        if (pending_.starts_with(kOpen)) {
          pending_.erase(0, kOpen.size());
          state_ = State::kReasoning;
          saw_reasoning_ = true;
          segment_start_ = true;
          continue;
        }
        if (kOpen.starts_with(pending_)) return;  // may still become "<think>"
        state_ = State::kAnswer;
        segment_start_ = true;
        continue;
      case State::kReasoning: {
        segment_start_ = false;
        size_t close = pending_.find(kClose);
        if (close != std::string::npos) {
          std::string_view body = std::string_view(pending_).substr(0, close);
          while (!body.empty() && is_space(body.back())) body.remove_suffix(1);
          emit(true, body, out);
          pending_.erase(0, close + kClose.size());
          state_ = State::kAnswer;
          segment_start_ = true;
          continue;
        }
        // Hold back a possible start of "</think>" and trailing whitespace (dropped if the tag
        // follows).
        size_t keep_from = pending_.size() - partial_tag_suffix(pending_, kClose);
        while (keep_from > 0 && is_space(pending_[keep_from - 1])) --keep_from;
        emit(true, std::string_view(pending_).substr(0, keep_from), out);
        pending_.erase(0, keep_from);
        return;
      }
      case State::kAnswer:
        segment_start_ = false;
        emit(false, pending_, out);
        pending_.clear();
        return;
    }
  }
}

void ReasoningSplitter::flush(std::vector<Piece>* out) {
  std::string_view rest = pending_;
  if (state_ == State::kReasoning) {
    while (!rest.empty() && is_space(rest.back())) rest.remove_suffix(1);
  }
  emit(state_ == State::kReasoning, rest, out);
  pending_.clear();
}

}  // namespace baleen
