// Stop strings for the OpenAI `stop` field: finds the first occurrence of any stop string in
// streamed text, even when it spans token boundaries, and holds back the tail of the text that
// could still be the start of a stop string so a stream never shows text that is later cut. The
// stop string itself is not returned. Not thread-safe (one per generated choice).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace baleen::server {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  // Appends `chunk` and returns the text now certain to precede any stop string. Once a stop
  // string is found, stopped() is true and nothing more is returned.
  std::string push(std::string_view chunk);
  // End of output: the held-back text (empty after a stop).
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string pending_;
  bool stopped_ = false;
};

}  // namespace baleen::server
