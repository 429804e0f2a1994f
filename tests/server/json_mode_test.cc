// response_format json_object end to end: the server in-process on a loopback port with the
// ds3-micro model (random weights, the stories260K vocabulary; conformance data, skipped when
// absent: stories260K itself writes story strings that rarely close within the context). Every
// choice of a sampled chat or completion request (temperature 1, several seeds, streamed and not) must be a JSON object
// that nlohmann::json parses when finish_reason is "stop", and a valid prefix (engine/json_constraint.h, itself tested
// against a hand-written RFC 8259 table) when it is "length".
#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "engine/json_constraint.h"
#include "server/server.h"
#include "testing.h"

namespace baleen::server {
namespace {

using json = nlohmann::json;

std::string model_path() { return testing::conformance_dir() + "/models/micro/ds3-micro/ds3-micro-f32.gguf"; }
bool have_model() { return std::ifstream(model_path()).good(); }

class RunningServer {
 public:
  RunningServer() : srv_(options()) {
    EXPECT_TRUE(srv_.bind().ok());
    Backend b;
    auto model = Model::load(model_path());
    EXPECT_TRUE(model.ok());
    b.model = std::move(model).value();
    EngineOptions eo;
    eo.n_slots = 4;
    eo.n_ctx = 512;
    eo.n_threads = 2;
    auto engine = Engine::create(*b.model, eo);
    EXPECT_TRUE(engine.ok());
    b.engine = std::move(engine).value();
    EXPECT_TRUE(srv_.set_backend(std::move(b)).ok());
    thread_ = std::thread([this] { srv_.run(); });
  }
  ~RunningServer() {
    srv_.stop();
    thread_.join();
  }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", srv_.port());
    c.set_read_timeout(120, 0);
    return c;
  }

 private:
  static ServerOptions options() {
    ServerOptions o;
    o.port = 0;
    o.chat_template = "llama3";
    o.http_threads = 4;
    return o;
  }
  Server srv_;
  std::thread thread_;
};

// Checks one choice's text; returns true when it was a complete object.
bool check_choice(const std::string& text, const std::string& finish, const std::string& what) {
  if (getenv("JSON_MODE_VERBOSE")) std::printf("%s [%s]: %s\n", what.c_str(), finish.c_str(), text.c_str());
  JsonRecognizer r;
  EXPECT_TRUE(r.advance(text)) << what << ": not a JSON prefix: " << text;
  if (finish == "stop") {
    auto j = json::parse(text, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(j.is_object()) << what << ": " << text;
    return j.is_object();
  }
  EXPECT_EQ(finish, "length") << what;
  EXPECT_FALSE(r.complete()) << what;
  return false;
}

TEST(JsonMode, ChatAndCompletionsGiveJsonObjects) {
  if (!have_model()) GTEST_SKIP() << "conformance model not found: " << model_path();
  RunningServer srv;
  auto cli = srv.client();
  int complete = 0, total = 0;
  for (bool chat : {true, false}) {
    for (uint64_t seed : {1u, 100u}) {
      json body = {{"model", "x"},
                   {"max_tokens", 300},
                   {"temperature", 1.0},
                   {"seed", seed},
                   {"n", 4},
                   {"response_format", {{"type", "json_object"}}}};
      if (chat) {
        body["messages"] = json::array({{{"role", "user"}, {"content", "Answer in json: who is Lily?"}}});
      } else {
        body["prompt"] = "Once upon a time, in json:";
      }
      auto res = cli.Post(chat ? "/v1/chat/completions" : "/v1/completions", body.dump(), "application/json");
      ASSERT_TRUE(res);
      ASSERT_EQ(res->status, 200) << res->body;
      const json j = json::parse(res->body);
      ASSERT_EQ(j["choices"].size(), 4u);
      for (const json& ch : j["choices"]) {
        const std::string text = chat ? ch["message"]["content"].get<std::string>() : ch["text"].get<std::string>();
        ++total;
        complete += check_choice(text, ch["finish_reason"].get<std::string>(),
                                 std::string(chat ? "chat" : "completion") + " seed " + std::to_string(seed));
      }
    }
  }
  std::printf("json_object over HTTP: %d of %d choices complete objects\n", complete, total);
  EXPECT_GT(complete, 0);
}

TEST(JsonMode, StreamedDeltasConcatenateToJson) {
  if (!have_model()) GTEST_SKIP() << "conformance model not found: " << model_path();
  RunningServer srv;
  auto cli = srv.client();
  json body = {{"model", "x"},
               {"max_tokens", 300},
               {"temperature", 1.0},
               {"seed", 7},
               {"stream", true},
               {"messages", json::array({{{"role", "user"}, {"content", "Reply with a JSON object."}}})},
               {"response_format", {{"type", "json_object"}}}};
  auto res = cli.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  std::istringstream in(res->body);
  std::string line, text, finish;
  while (std::getline(in, line)) {
    if (line.rfind("data: ", 0) != 0 || line == "data: [DONE]") continue;
    const json ev = json::parse(line.substr(6));
    for (const json& ch : ev["choices"]) {
      if (ch.contains("delta") && ch["delta"].contains("content") && ch["delta"]["content"].is_string())
        text += ch["delta"]["content"].get<std::string>();
      if (!ch["finish_reason"].is_null()) finish = ch["finish_reason"].get<std::string>();
    }
  }
  check_choice(text, finish, "stream");
}

TEST(JsonMode, ChatStillNeedsTheWordJson) {
  if (!have_model()) GTEST_SKIP() << "conformance model not found: " << model_path();
  RunningServer srv;
  auto cli = srv.client();
  json body = {{"model", "x"},
               {"max_tokens", 8},
               {"messages", json::array({{{"role", "user"}, {"content", "hello"}}})},
               {"response_format", {{"type", "json_object"}}}};
  auto res = cli.Post("/v1/chat/completions", body.dump(), "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 400) << res->body;
}

}  // namespace
}  // namespace baleen::server
