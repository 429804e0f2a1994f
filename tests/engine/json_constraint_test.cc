// JSON mode. Recognizer: a hand-written table of texts (from RFC 8259's grammar and examples), each
// with the length of its longest valid prefix and whether it is a complete JSON object text; every
// prefix of every entry is checked against that, and complete texts are cross-checked with
// nlohmann::json::accept (an independent parser), as are random byte mutations. Engine: random-
// weight ds3-micro output under json_object at temperature 1 must parse as an object (kStop) or be
// a valid prefix (kLength), checked with nlohmann::json and the recognizer.
#include "engine/json_constraint.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "testing.h"

namespace baleen {
namespace {

struct Case {
  std::string text;
  size_t valid_prefix;  // the longest prefix that is still a valid prefix; npos: the whole text
  bool complete;        // the whole text is one complete JSON object text
};

// Valid JSON beyond the recognizer's limits: a run of more than 64 digits, an exponent of three or
// more digits, a run of more than 24 whitespace bytes.
bool over_limits(const std::string& text) {
  static const std::regex re("[eE][+-]?[0-9]{3,}|[0-9]{65,}|[ \t\n\r]{25,}");
  return std::regex_search(text, re);
}
constexpr size_t kAll = std::string::npos;

// Hand-written from RFC 8259 (sections 2-8; the examples of section 13).
const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      // Complete objects.
      {"{}", kAll, true},
      {"  \n\t\r{ }", kAll, true},
      {"{}\n  ", kAll, true},
      {R"({"a":1})", kAll, true},
      {R"({ "a" : [ 1 , 2.5 , -3e10 , 0 , -0.0e-1 , 1E+2 ] , "b" : { } })", kAll, true},
      {R"({"t":true,"f":false,"n":null,"s":"x","o":{"p":[[],{}]}})", kAll, true},
      {R"({"esc":"\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"})", kAll, true},
      {"{\"utf8\":\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xED\x9F\xBF\"}", kAll, true},
      {R"({"Image":{"Width":800,"Height":600,"Title":"View from 15th Floor",)"
       R"("Thumbnail":{"Url":"http://www.example.com/image/481989943","Height":125,"Width":100},)"
       R"("Animated":false,"IDs":[116,943,234,38793]}})",
       kAll, true},
      {R"({"precision":"zip","Latitude":37.7668,"Longitude":-122.3959,"Address":"","City":"SAN FRANCISCO"})", kAll,
       true},
      {R"({"a":[1,[2,[3,[4]]]],"":""})", kAll, true},
      // Valid prefixes, not complete.
      {"", kAll, false},
      {"   ", kAll, false},
      {"{", kAll, false},
      {R"({"a")", kAll, false},
      {R"({"a":)", kAll, false},
      {R"({"a":-)", kAll, false},
      {R"({"a":1.)", kAll, false},
      {R"({"a":1e+)", kAll, false},
      {R"({"a":tr)", kAll, false},
      {R"({"a":"\u12)", kAll, false},
      {R"({"a":"\uD83D)", kAll, false},
      {R"({"a":"\uD83D\u)", kAll, false},
      {"{\"a\":\"\xF0\x9F", kAll, false},
      {R"({"a":[1,2,{"b":[)", kAll, false},
      // Invalid: the byte at valid_prefix is the first that cannot continue.
      {"[]", 0, false},            // top level must be an object
      {"\"x\"", 0, false},         //
      {"1", 0, false},             //
      {"{}x", 2, false},           // only whitespace after the object
      {"{} {}", 3, false},         //
      {"{,}", 1, false},           //
      {"{\"a\":1,}", 7, false},    // trailing comma
      {"{\"a\" 1}", 5, false},     // missing colon
      {"{\"a\":}", 5, false},      // missing value
      {"{a:1}", 1, false},         // unquoted key
      {"{1:1}", 1, false},         // non-string key
      {"{'a':1}", 1, false},       // single quotes
      {"{\"a\":01}", 6, false},    // leading zero
      {"{\"a\":-01}", 7, false},   //
      {"{\"a\":+1}", 5, false},    // leading plus
      {"{\"a\":.5}", 5, false},    //
      {"{\"a\":1.}", 7, false},    // no fraction digits
      {"{\"a\":1.e5}", 7, false},  //
      {"{\"a\":1e}", 7, false},    // no exponent digits
      {"{\"a\":1e+}", 8, false},   //
      {"{\"a\":--1}", 6, false},   //
      {"{\"a\":- 1}", 6, false},   //
      {"{\"a\":0x1}", 6, false},   //
      {"{\"a\":NaN}", 5, false},   //
      {"{\"a\":Infinity}", 5, false},
      {"{\"a\":True}", 5, false},                  // literals are lower case
      {"{\"a\":nul}", 8, false},                   //
      {"{\"a\":truex}", 9, false},                 //
      {"{\"a\":[1,]}", 8, false},                  // trailing comma in an array
      {"{\"a\":[,1]}", 6, false},                  //
      {"{\"a\":[1}", 7, false},                    // mismatched close
      {"{\"a\":{]}", 6, false},                    //
      {"{\"a\":\"\t\"}", 6, false},                // raw control character in a string
      {"{\"a\":\"\n\"}", 6, false},                //
      {"{\"a\":\"\\x\"}", 7, false},               // unknown escape
      {"{\"a\":\"\\u12G4\"}", 10, false},          // bad hex digit
      {"{\"a\":\"\\uDC00\"}", 9, false},           // lone low surrogate
      {"{\"a\":\"\\uD800x\"}", 12, false},         // high surrogate not followed by an escape
      {"{\"a\":\"\\uD800\\n\"}", 13, false},       // ... nor by \u
      {"{\"a\":\"\\uD800\\u0041\"}", 14, false},   // ... nor by a low surrogate
      {"{\"a\":\"\xC0\xAF\"}", 6, false},          // overlong
      {"{\"a\":\"\xE0\x80\x80\"}", 7, false},      // overlong 3-byte
      {"{\"a\":\"\xED\xA0\x80\"}", 7, false},      // UTF-8 surrogate
      {"{\"a\":\"\xF4\x90\x80\x80\"}", 7, false},  // above U+10FFFF
      {"{\"a\":\"\xF5\"}", 6, false},              //
      {"{\"a\":\"\x80\"}", 6, false},              // stray continuation byte
      {"{\"a\":\"\xC3\"}", 7, false},              // truncated character
      {"{\"a\":1 2}", 7, false},                   // two values
      {"{\"a\":1\"b\":2}", 6, false},              // missing comma
      // Implementation limits on numbers (section 6 permits them): so that no accepted number
      // overflows a double (nlohmann::json rejects 1e400, for one).
      {"{\"a\":1e99,\"b\":-1.5E-99}", kAll, true},
      {"{\"a\":1e100}", 9, false},
      {"{\"a\":" + std::string(64, '7') + "." + std::string(64, '1') + "}", kAll, true},
      {"{\"a\":" + std::string(65, '7') + "}", 5 + 64, false},
      {"{\"a\":0." + std::string(65, '1') + "}", 7 + 64, false},
      // ... and on whitespace runs outside strings (at most 24 bytes).
      {std::string(24, ' ') + "{\n" + std::string(23, ' ') + "\"a\" :\t1}", kAll, true},
      {std::string(25, ' ') + "{}", 24, false},
      {"{\"a\":" + std::string(25, '\n') + "1}", 5 + 24, false},
      {"{\"a\":\"" + std::string(100, ' ') + "\"}", kAll, true},  // inside a string: no limit
  };
  return c;
}

bool nlohmann_accepts_object(const std::string& text) {
  if (!nlohmann::json::accept(text)) return false;
  return nlohmann::json::parse(text).is_object();
}

TEST(JsonRecognizer, TableAndAllPrefixes) {
  for (const Case& c : cases()) {
    const size_t valid = c.valid_prefix == kAll ? c.text.size() : c.valid_prefix;
    for (size_t len = 0; len <= c.text.size(); ++len) {
      const std::string prefix = c.text.substr(0, len);
      JsonRecognizer fresh;
      EXPECT_EQ(fresh.accepts(prefix), len <= valid) << "text " << c.text << " prefix length " << len;
      // Byte at a time through advance gives the same answer.
      JsonRecognizer r;
      bool ok = true;
      for (char ch : prefix) ok = ok && r.advance(std::string_view(&ch, 1));
      EXPECT_EQ(ok, len <= valid) << "advance: text " << c.text << " length " << len;
      if (len == c.text.size() && ok) {
        EXPECT_EQ(r.complete(), c.complete) << c.text;
      }
    }
    if (c.complete) {
      EXPECT_TRUE(nlohmann_accepts_object(c.text)) << "table says complete, nlohmann disagrees: " << c.text;
    } else if (!over_limits(c.text)) {
      EXPECT_FALSE(nlohmann_accepts_object(c.text)) << "table says not complete, nlohmann disagrees: " << c.text;
    }
  }
}

// Splitting a text at any point into two advance calls, with accepts() checked first, changes nothing.
TEST(JsonRecognizer, SplitAdvanceMatchesWhole) {
  for (const Case& c : cases()) {
    if (c.valid_prefix != kAll) continue;
    for (size_t cut = 0; cut <= c.text.size(); ++cut) {
      JsonRecognizer r;
      const std::string a = c.text.substr(0, cut), b = c.text.substr(cut);
      ASSERT_TRUE(r.accepts(a));
      ASSERT_TRUE(r.advance(a));
      ASSERT_TRUE(r.accepts(b)) << c.text << " cut " << cut;
      ASSERT_TRUE(r.advance(b));
      EXPECT_EQ(r.complete(), c.complete);
    }
  }
}

TEST(JsonRecognizer, DepthLimit) {
  JsonRecognizer r(3);
  EXPECT_TRUE(r.accepts("{\"a\":[{}]}"));
  EXPECT_FALSE(r.accepts("{\"a\":[{\"b\":[]}]}"));  // a fourth container
  EXPECT_TRUE(r.advance("{\"a\":[{"));
  EXPECT_EQ(r.depth(), 3);
  EXPECT_FALSE(r.accepts("\"b\":["));
  EXPECT_TRUE(r.accepts("}]}"));
  r.reset();
  EXPECT_EQ(r.depth(), 0);
  EXPECT_TRUE(r.accepts("{}"));
}

// Random mutations of the complete texts: when the recognizer calls one complete, nlohmann must
// accept it as an object, and the other way round (except texts beyond the recognizer's limits).
TEST(JsonRecognizer, MutationsAgreeWithNlohmann) {
  std::mt19937_64 rng(1234);
  const std::string alphabet = "{}[]:,\"\\ \t\n0123456789-+.eEtrufalsnul/bfnrtu\xC3\xA9\x80\xFF\x01";
  int agreed = 0, total = 0, complete_seen = 0;
  for (const Case& c : cases()) {
    if (!c.complete) continue;
    for (int k = 0; k < 400; ++k) {
      std::string t = c.text;
      const int n_edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < n_edits && !t.empty(); ++e) {
        const size_t pos = rng() % t.size();
        const char ch = alphabet[rng() % alphabet.size()];
        switch (rng() % 3) {
          case 0:
            t[pos] = ch;
            break;
          case 1:
            t.insert(t.begin() + static_cast<std::ptrdiff_t>(pos), ch);
            break;
          default:
            t.erase(pos, 1);
        }
      }
      JsonRecognizer r;
      const bool ours = r.advance(t) && r.complete();
      const bool theirs = nlohmann_accepts_object(t);
      const bool limits = theirs && !ours && over_limits(t);  // valid, beyond our limits
      ++total;
      agreed += ours == theirs || limits;
      complete_seen += ours;
      if (!limits) EXPECT_EQ(ours, theirs) << "text: " << t;
    }
  }
  EXPECT_GT(complete_seen, 0);  // the mutations are not all invalid
  testing::report_conformance("json recognizer vs nlohmann::json::accept (mutations)", agreed, total);
}

// A toy vocabulary through JsonTokenMask: what is allowed after a few texts.
TEST(JsonTokenMask, AllowedTokensOnStories260K) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto tok = Tokenizer::load(testing::conformance_path("models/stories260K/stories260K.gguf"));
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  const int64_t n_vocab = static_cast<int64_t>((*tok)->vocab_size());
  const TokenId eos = (*tok)->special_ids().eos;
  JsonTokenMask mask(**tok, n_vocab + 3, {eos});  // three padding ids beyond the tokenizer
  for (const char* prefix : {"", "{", "{\"a", "{\"a\":", "{\"a\":1", "{\"a\":[1,", "{\"a\":\"\xC3"}) {
    JsonRecognizer r;
    ASSERT_TRUE(r.advance(prefix));
    std::vector<float> logits(static_cast<size_t>(n_vocab + 3), 0.0f);
    const int64_t n_allowed = mask.apply(r, logits);
    int64_t expect = 0;
    for (int64_t id = 0; id < n_vocab + 3; ++id) {
      const auto t = static_cast<TokenId>(id);
      bool ok = false;
      if (id < n_vocab && !(*tok)->is_special(t)) {
        const std::string b = (*tok)->token_to_bytes(t);
        ok = !b.empty() && r.accepts(b);
      }
      expect += ok;
      EXPECT_EQ(std::isinf(logits[static_cast<size_t>(id)]), !ok) << "prefix " << prefix << " id " << id;
      EXPECT_EQ(mask.allowed(r, t), ok);
    }
    EXPECT_EQ(n_allowed, expect);
    EXPECT_GT(n_allowed, 0) << prefix;
    EXPECT_FALSE(mask.allowed(r, eos));
  }
  JsonRecognizer done;
  ASSERT_TRUE(done.advance("{}"));
  std::vector<float> logits(static_cast<size_t>(n_vocab + 3), 0.0f);
  EXPECT_EQ(mask.apply(done, logits), 1);
  EXPECT_EQ(logits[static_cast<size_t>(eos)], 0.0f);
}

// The fast paths of apply() (string-safe tokens, first-byte and after-whitespace filters) against
// the plain rule (bytes non-empty, not special, accepted) on a 128k byte-level BPE vocabulary.
TEST(JsonTokenMask, FastPathsMatchPlainRuleOnDeepSeekV3) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto tok = Tokenizer::load(testing::conformance_path("tokenizers/deepseek-v3/tokenizer.json"));
  ASSERT_TRUE(tok.ok()) << tok.error().to_string();
  const int64_t n_vocab = static_cast<int64_t>((*tok)->vocab_size());
  JsonTokenMask mask(**tok, n_vocab, {(*tok)->special_ids().eos});
  for (const char* prefix :
       {"", " ", "{", "{\n  ", "{\"na", "{\"name\"", "{\"name\": ", "{\"a\": \"x\\", "{\"a\": \"\xE2\x82", "{\"a\": [1",
        "{\"a\": -0.5e", "{\"a\": 12 ", "{\"a\": tr", "{\"a\": [\"\\uD83D"}) {
    JsonRecognizer r;
    ASSERT_TRUE(r.advance(prefix)) << prefix;
    std::vector<float> logits(static_cast<size_t>(n_vocab), 0.0f);
    const int64_t n_allowed = mask.apply(r, logits);
    int64_t expect = 0, mismatches = 0;
    for (int64_t id = 0; id < n_vocab; ++id) {
      const auto t = static_cast<TokenId>(id);
      const std::string b = (*tok)->is_special(t) ? std::string() : (*tok)->token_to_bytes(t);
      const bool ok = !b.empty() && r.accepts(b);
      expect += ok;
      mismatches += std::isinf(logits[static_cast<size_t>(id)]) == ok;
    }
    EXPECT_EQ(mismatches, 0) << "prefix " << prefix;
    EXPECT_EQ(n_allowed, expect) << "prefix " << prefix;
    EXPECT_GT(n_allowed, 0) << "prefix " << prefix;
  }
}

// ---- Engine ----

class Sink : public StreamSink {
 public:
  bool on_token(const TokenEvent& e) override {
    std::lock_guard<std::mutex> lock(m_);
    ids_.push_back(e.id);
    return true;
  }
  void on_done(const Completion& c) override {
    std::lock_guard<std::mutex> lock(m_);
    completion_ = c;
    done_ = true;
    cv_.notify_all();
  }
  Completion wait() {
    std::unique_lock<std::mutex> lock(m_);
    EXPECT_TRUE(cv_.wait_for(lock, std::chrono::seconds(120), [&] { return done_; })) << "no on_done";
    return completion_;
  }
  std::vector<TokenId> ids() {
    std::lock_guard<std::mutex> lock(m_);
    return ids_;
  }

 private:
  std::mutex m_;
  std::condition_variable cv_;
  std::vector<TokenId> ids_;
  Completion completion_;
  bool done_ = false;
};

TEST(JsonModeEngine, RandomWeightsAlwaysGiveJson) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto loaded = Model::load(testing::conformance_path("models/micro/ds3-micro/ds3-micro-f32.gguf"));
  ASSERT_TRUE(loaded.ok()) << loaded.error().to_string();
  const Model& model = **loaded;
  const Tokenizer* tok = model.tokenizer();
  ASSERT_NE(tok, nullptr);
  EngineOptions o;
  o.n_slots = 4;
  o.n_ctx = 512;
  o.n_threads = 2;
  auto engine = Engine::create(model, o);
  ASSERT_TRUE(engine.ok()) << engine.error().to_string();

  int n_stop = 0, n_length = 0;
  const int kSeeds = 16;
  std::vector<std::shared_ptr<Sink>> sinks;
  for (int seed = 0; seed < kSeeds; ++seed) {
    GenerateRequest r;
    r.prompt = {1, 403, 407, 261};
    r.max_tokens = 300;
    r.sampling.temperature = seed % 4 == 3 ? 0.0f : 1.0f;  // greedy too
    r.sampling.top_k = seed % 4 == 2 ? 5 : 0;
    r.sampling.seed = static_cast<uint64_t>(seed);
    r.json_object = true;
    auto sink = std::make_shared<Sink>();
    auto id = (*engine)->submit(std::move(r), sink);
    ASSERT_TRUE(id.ok()) << id.error().to_string();
    sinks.push_back(sink);
  }
  for (int seed = 0; seed < kSeeds; ++seed) {
    const Completion c = sinks[static_cast<size_t>(seed)]->wait();
    const std::vector<TokenId> ids = sinks[static_cast<size_t>(seed)]->ids();
    std::string text;
    for (TokenId id : ids) text += tok->token_to_bytes(id);
    JsonRecognizer r;
    EXPECT_TRUE(r.advance(text)) << "seed " << seed << ": not a JSON prefix: " << text;
    if (c.reason == FinishReason::kStop) {
      ++n_stop;
      EXPECT_TRUE(r.complete());
      auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
      EXPECT_FALSE(j.is_discarded()) << "seed " << seed << ": " << text;
      EXPECT_TRUE(j.is_object()) << "seed " << seed << ": " << text;
      EXPECT_EQ(c.generated_tokens, static_cast<int64_t>(ids.size()));
    } else {
      ++n_length;
      EXPECT_EQ(c.reason, FinishReason::kLength) << "seed " << seed << " " << c.error;
      EXPECT_FALSE(r.complete());
      EXPECT_EQ(ids.size(), 300u);
    }
  }
  std::printf("json_object on ds3-micro: %d of %d finished as complete objects, %d cut by max_tokens\n", n_stop, kSeeds,
              n_length);
  EXPECT_GT(n_stop, 0);  // some runs must actually complete (else the test checks little)
}

TEST(JsonModeEngine, ValidatesRequest) {
  BALEEN_REQUIRE_CONFORMANCE();
  auto loaded = Model::load(testing::conformance_path("models/micro/ds3-micro/ds3-micro-f32.gguf"));
  ASSERT_TRUE(loaded.ok());
  EngineOptions o;
  o.n_slots = 1;
  o.n_ctx = 64;
  o.n_threads = 1;
  auto engine = Engine::create(**loaded, o);
  ASSERT_TRUE(engine.ok());
  GenerateRequest r;
  r.prompt = {1, 403};
  r.max_tokens = 4;
  r.json_object = true;
  r.json_after_token = 100000;  // outside the vocabulary
  auto id = (*engine)->submit(r, std::make_shared<Sink>());
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace baleen
