// Separates R1-style reasoning from the answer in streamed model output: text inside
// `<think>` ... `</think>` is reasoning, the rest is the answer. The block is either opened by the
// prompt (R1's generation prompt ends with a forced "<think>\n") or by a `<think>` the model
// generates at the very start of its output (Qwen3, V3.1 with thinking). Tags split across chunks
// are handled; whitespace at the start and end of the reasoning and at the start of the answer is
// dropped (the templates strip it too). Used by `baleen chat` and later the server
// (`reasoning_content`).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace baleen {

class ReasoningSplitter {
 public:
  struct Piece {
    bool reasoning = false;
    std::string text;
  };

  // in_reasoning: the prompt already opened the block.
  explicit ReasoningSplitter(bool in_reasoning);

  // Feeds the next chunk of output and appends the pieces that are now certain to *out (never empty
  // texts; tags removed). Text that might still turn into a tag or be trailing whitespace of the
  // reasoning is held back.
  void push(std::string_view chunk, std::vector<Piece>* out);
  // End of output: appends whatever is held back (an unterminated block counts as reasoning).
  void flush(std::vector<Piece>* out);

  bool in_reasoning() const { return state_ == State::kReasoning; }
  // True once the reasoning block was opened (by the prompt or the output).
  bool saw_reasoning() const { return saw_reasoning_; }

  // True when a rendered prompt leaves the model inside a reasoning block (it ends with `<think>`
  // and optional whitespace).
  static bool prompt_opens_reasoning(std::string_view prompt);

 private:
  enum class State { kStart, kReasoning, kAnswer };
  void process(std::vector<Piece>* out);

  State state_;
  bool segment_start_ = true;  // drop leading whitespace of the current segment
  bool saw_reasoning_ = false;
  std::string pending_;
};

}  // namespace baleen
