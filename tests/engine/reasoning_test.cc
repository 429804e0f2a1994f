// ReasoningSplitter: every way of cutting the output into chunks gives the same reasoning and
// answer, tags never leak, and text that merely resembles a tag stays text.
#include "engine/reasoning.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace baleen {
namespace {

struct Split {
  std::string reasoning, answer;
  bool operator==(const Split&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Split& s) {
  return os << "{reasoning: \"" << s.reasoning << "\", answer: \"" << s.answer << "\"}";
}

Split run(bool in_reasoning, const std::vector<std::string>& chunks) {
  ReasoningSplitter sp(in_reasoning);
  std::vector<ReasoningSplitter::Piece> pieces;
  for (const auto& c : chunks) sp.push(c, &pieces);
  sp.flush(&pieces);
  Split out;
  bool answer_started = false;
  for (const auto& p : pieces) {
    EXPECT_FALSE(p.text.empty());
    if (p.reasoning) {
      EXPECT_FALSE(answer_started) << "reasoning after the answer started";
      out.reasoning += p.text;
    } else {
      answer_started = true;
      out.answer += p.text;
    }
  }
  return out;
}

// The text as one chunk, as single bytes, and cut in two at every position.
void expect_all_chunkings(bool in_reasoning, const std::string& text, const Split& want) {
  EXPECT_EQ(run(in_reasoning, {text}), want) << "one chunk";
  std::vector<std::string> bytes;
  for (char c : text) bytes.emplace_back(1, c);
  EXPECT_EQ(run(in_reasoning, bytes), want) << "byte by byte";
  for (size_t i = 0; i <= text.size(); ++i) {
    EXPECT_EQ(run(in_reasoning, {text.substr(0, i), text.substr(i)}), want) << "cut at " << i;
  }
}

TEST(ReasoningSplitter, PromptOpenedBlock) {
  // R1: the prompt ends with "<think>\n"; the model continues inside the block.
  expect_all_chunkings(true, "Let me think.\nStep 2.\n</think>\n\nThe answer is 4.",
                       {"Let me think.\nStep 2.", "The answer is 4."});
}

TEST(ReasoningSplitter, GeneratedOpeningTag) {
  expect_all_chunkings(false, "<think>\nhmm, 2+2\n</think>\n\nFour.", {"hmm, 2+2", "Four."});
  expect_all_chunkings(false, "\n<think>x</think>y", {"x", "y"});
}

TEST(ReasoningSplitter, NoReasoning) {
  expect_all_chunkings(false, "Hello <think> there </think> end", {"", "Hello <think> there </think> end"});
  expect_all_chunkings(false, "<thx>", {"", "<thx>"});
  expect_all_chunkings(false, "<thi", {"", "<thi"});  // output ended inside what looked like a tag
  expect_all_chunkings(false, "  \n answer", {"", "answer"});
}

TEST(ReasoningSplitter, UnterminatedBlockIsReasoning) {
  expect_all_chunkings(true, "still thinking </thin", {"still thinking </thin", ""});
  expect_all_chunkings(true, "abc \n", {"abc", ""});
}

TEST(ReasoningSplitter, EmptyReasoning) {
  // Qwen3 with thinking off renders an empty block; V3.1 closes it in the prompt.
  expect_all_chunkings(true, "\n\n</think>\n\nok", {"", "ok"});
}

TEST(ReasoningSplitter, StreamsReasoningBeforeTheBlockEnds) {
  ReasoningSplitter sp(true);
  std::vector<ReasoningSplitter::Piece> pieces;
  sp.push("first part ", &pieces);
  ASSERT_EQ(pieces.size(), 1u);
  EXPECT_TRUE(pieces[0].reasoning);
  EXPECT_EQ(pieces[0].text, "first part");  // trailing space held back
  sp.push("second</", &pieces);
  EXPECT_EQ(pieces[0].text, "first part second");
  EXPECT_TRUE(sp.in_reasoning());
  sp.push("think>done", &pieces);
  ASSERT_EQ(pieces.size(), 2u);
  EXPECT_FALSE(pieces[1].reasoning);
  EXPECT_EQ(pieces[1].text, "done");
  EXPECT_FALSE(sp.in_reasoning());
  EXPECT_TRUE(sp.saw_reasoning());
}

TEST(ReasoningSplitter, PromptOpensReasoning) {
  EXPECT_TRUE(ReasoningSplitter::prompt_opens_reasoning("<｜User｜>hi<｜Assistant｜><think>\n"));
  EXPECT_TRUE(ReasoningSplitter::prompt_opens_reasoning("<｜Assistant｜><think>"));
  EXPECT_FALSE(ReasoningSplitter::prompt_opens_reasoning("<｜Assistant｜></think>"));
  EXPECT_FALSE(ReasoningSplitter::prompt_opens_reasoning("<|im_start|>assistant\n<think>\n\n</think>\n\n"));
  EXPECT_FALSE(ReasoningSplitter::prompt_opens_reasoning("<｜Assistant｜>"));
}

}  // namespace
}  // namespace baleen
