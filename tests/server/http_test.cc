// The HTTP server end to end, in-process on a free loopback port, with the stories260K model
// (conformance data; skipped when absent) under the real engine, driven by raw HTTP (httplib
// client): status codes and error bodies for malformed input, authentication, context overflow
// (also when streaming), the SSE framing, tokenize round trip, /health while loading, /metrics.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/server.h"
#include "testing.h"

namespace baleen::server {
namespace {

using json = nlohmann::json;

std::string model_path() { return testing::conformance_dir() + "/models/stories260K/stories260K.gguf"; }
bool have_model() { return std::ifstream(model_path()).good(); }

Result<Backend> load_backend() {
  Backend b;
  BALEEN_ASSIGN_OR_RETURN(b.model, Model::load(model_path()));
  EngineOptions eo;
  eo.n_slots = 2;
  eo.n_ctx = 256;
  eo.n_threads = 2;
  BALEEN_ASSIGN_OR_RETURN(b.engine, Engine::create(*b.model, eo));
  return b;
}

class RunningServer {
 public:
  explicit RunningServer(ServerOptions o, bool load = true) : srv_(adjust(std::move(o))) {
    Status st = srv_.bind();
    EXPECT_TRUE(st.ok());
    if (load) {
      auto b = load_backend();
      EXPECT_TRUE(b.ok()) << b.error().to_string();
      EXPECT_TRUE(srv_.set_backend(std::move(b).value()).ok());
    }
    thread_ = std::thread([this] { srv_.run(); });
  }
  ~RunningServer() {
    srv_.stop();
    thread_.join();
  }
  Server& server() { return srv_; }
  httplib::Client client() {
    httplib::Client c("127.0.0.1", srv_.port());
    c.set_read_timeout(60, 0);
    return c;
  }

 private:
  static ServerOptions adjust(ServerOptions o) {
    o.port = 0;
    o.chat_template = o.chat_template.empty() ? "llama3" : o.chat_template;
    o.http_threads = 16;
    return o;
  }
  Server srv_;
  std::thread thread_;
};

#define REQUIRE_MODEL() \
  if (!have_model()) GTEST_SKIP() << "conformance model not found: " << model_path()

json chat_body(const std::string& text, int max_tokens = 8) {
  return {{"model", "x"},
          {"messages", json::array({{{"role", "user"}, {"content", text}}})},
          {"max_tokens", max_tokens},
          {"temperature", 0}};
}

void expect_error(const httplib::Result& r, int status, const std::string& type = "") {
  ASSERT_TRUE(r) << "no response";
  EXPECT_EQ(r->status, status) << r->body;
  json j = json::parse(r->body, nullptr, false);
  ASSERT_TRUE(j.is_object() && j.contains("error")) << r->body;
  EXPECT_TRUE(j["error"]["message"].is_string());
  if (!type.empty()) {
    EXPECT_EQ(j["error"]["type"], type) << r->body;
  }
}

TEST(Http, HealthModelsAndNotFound) {
  REQUIRE_MODEL();
  RunningServer s({});
  auto c = s.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body)["status"], "ok");
  for (const char* path : {"/v1/models", "/models"}) {
    auto m = c.Get(path);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->status, 200);
    EXPECT_EQ(json::parse(m->body)["data"][0]["object"], "model");
  }
  expect_error(c.Get("/v1/nothing"), 404, "not_found_error");
  EXPECT_EQ(c.Get("/v1/models/stories260K.gguf")->status, 404);  // the id is the alias, "baleen" here
  EXPECT_EQ(c.Get("/v1/models/baleen")->status, 200);
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_NE(page->body.find("<title>Baleen chat</title>"), std::string::npos);
}

TEST(Http, HealthIs503WhileLoading) {
  REQUIRE_MODEL();
  RunningServer s({}, /*load=*/false);
  std::promise<void> release;
  auto gate = release.get_future().share();
  s.server().start_loading([gate]() -> Result<Backend> {
    gate.wait();
    return load_backend();
  });
  auto c = s.client();
  auto h = c.Get("/health");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 503);
  EXPECT_EQ(json::parse(h->body)["status"], "loading");
  expect_error(c.Post("/v1/chat/completions", chat_body("hi").dump(), "application/json"), 503);
  release.set_value();
  ASSERT_TRUE(s.server().wait_loaded());
  EXPECT_EQ(c.Get("/health")->status, 200);
}

TEST(Http, MalformedRequestsGet400WithPreciseMessages) {
  REQUIRE_MODEL();
  RunningServer s({});
  auto c = s.client();
  auto post = [&](const std::string& body) { return c.Post("/v1/chat/completions", body, "application/json"); };
  expect_error(post("{not json"), 400, "invalid_request_error");
  expect_error(post("[1,2]"), 400);
  expect_error(post(R"({"messages":"hi"})"), 400);
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"temperature":"hot"})"), 400);
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"max_tokens":-1})"), 400);
  expect_error(post(R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":50,"logprobs":true})"), 400);
  expect_error(post(std::string(R"({"messages":[{"role":"user","content":")") + "\xc3\x28" + "\"}]}"), 400);
  auto deep = post("{\"a\":" + std::string(200, '[') + std::string(200, ']') + "}");
  expect_error(deep, 400);
  EXPECT_NE(deep->body.find("nested"), std::string::npos);
  // The server keeps serving after all of that.
  auto ok = post(chat_body("hi", 2).dump());
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
}

TEST(Http, OversizedBodyAndHeaders) {
  REQUIRE_MODEL();
  ServerOptions o;
  o.max_body_bytes = 1 << 16;
  RunningServer s(o);
  auto c = s.client();
  std::string big = R"({"prompt":")" + std::string(1 << 17, 'a') + "\"}";
  expect_error(c.Post("/v1/completions", big, "application/json"), 413);
  httplib::Headers h = {{"X-Big", std::string(64 << 10, 'a')}};
  auto r = c.Get("/health", h);
  if (r) {
    EXPECT_GE(r->status, 400);  // or the connection is dropped
  }
  EXPECT_EQ(c.Get("/health")->status, 200);
}

TEST(Http, ApiKey) {
  REQUIRE_MODEL();
  ServerOptions o;
  o.api_key = "sekret";
  RunningServer s(o);
  auto c = s.client();
  const std::string body = chat_body("hi", 2).dump();
  expect_error(c.Post("/v1/chat/completions", body, "application/json"), 401, "authentication_error");
  expect_error(c.Post("/v1/chat/completions", {{"Authorization", "Bearer wrong"}}, body, "application/json"), 401);
  expect_error(c.Get("/metrics"), 401);
  EXPECT_EQ(c.Get("/health")->status, 200);
  EXPECT_EQ(c.Get("/v1/models")->status, 200);
  auto ok = c.Post("/v1/chat/completions", {{"Authorization", "Bearer sekret"}}, body, "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto ok2 = c.Post("/v1/chat/completions", {{"X-Api-Key", "sekret"}}, body, "application/json");
  EXPECT_EQ(ok2->status, 200);
}

TEST(Http, ContextOverflowIs400AlsoWhenStreaming) {
  REQUIRE_MODEL();
  RunningServer s({});
  auto c = s.client();
  std::string text;
  for (int i = 0; i < 400; ++i) text += "once upon a time ";
  for (bool stream : {false, true}) {
    json b = {{"prompt", text}, {"stream", stream}};
    auto r = c.Post("/v1/completions", b.dump(), "application/json");
    expect_error(r, 400, "exceed_context_size_error");
    EXPECT_EQ(json::parse(r->body)["error"]["n_ctx"], 256);
    json cb = chat_body(text);
    cb["stream"] = stream;
    expect_error(c.Post("/v1/chat/completions", cb.dump(), "application/json"), 400, "exceed_context_size_error");
  }
}

// Splits an SSE body into its data payloads.
std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) end = body.size();
    std::string ev = body.substr(pos, end - pos);
    if (ev.rfind("data: ", 0) == 0) out.push_back(ev.substr(6));
    pos = end + 2;
  }
  return out;
}

TEST(Http, StreamingFramingAndSameTextAsNonStreamed) {
  REQUIRE_MODEL();
  RunningServer s({});
  auto c = s.client();
  json b = chat_body("Tell me a story", 24);
  auto plain = c.Post("/v1/chat/completions", b.dump(), "application/json");
  ASSERT_TRUE(plain);
  ASSERT_EQ(plain->status, 200) << plain->body;
  json pj = json::parse(plain->body);
  EXPECT_EQ(pj["object"], "chat.completion");
  EXPECT_EQ(pj["id"].get<std::string>().rfind("chatcmpl-", 0), 0u);
  const std::string want = pj["choices"][0]["message"]["content"];
  EXPECT_FALSE(want.empty());
  EXPECT_EQ(pj["usage"]["total_tokens"],
            pj["usage"]["prompt_tokens"].get<int>() + pj["usage"]["completion_tokens"].get<int>());
  EXPECT_EQ(pj["usage"]["prompt_cache_hit_tokens"].get<int>() + pj["usage"]["prompt_cache_miss_tokens"].get<int>(),
            pj["usage"]["prompt_tokens"].get<int>());

  b["stream"] = true;
  b["stream_options"] = {{"include_usage", true}};
  auto st = c.Post("/v1/chat/completions", b.dump(), "application/json");
  ASSERT_TRUE(st);
  ASSERT_EQ(st->status, 200);
  EXPECT_NE(st->get_header_value("Content-Type").find("text/event-stream"), std::string::npos);
  auto events = sse_data(st->body);
  ASSERT_GE(events.size(), 4u);
  EXPECT_EQ(events.back(), "[DONE]");
  json first = json::parse(events.front());
  EXPECT_EQ(first["choices"][0]["delta"]["role"], "assistant");
  json usage = json::parse(events[events.size() - 2]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["completion_tokens"], pj["usage"]["completion_tokens"]);
  std::string text;
  std::string finish;
  for (size_t i = 0; i + 2 < events.size(); ++i) {
    json e = json::parse(events[i]);
    EXPECT_EQ(e["id"], first["id"]);
    EXPECT_EQ(e["object"], "chat.completion.chunk");
    const json& ch = e["choices"][0];
    if (i > 0) {
      EXPECT_FALSE(ch["delta"].contains("role"));
    }
    if (!ch["finish_reason"].is_null()) {
      finish = ch["finish_reason"];
      EXPECT_FALSE(ch["delta"].contains("content"));
    } else if (ch["delta"].contains("content") && ch["delta"]["content"].is_string()) {
      text += ch["delta"]["content"].get<std::string>();
    }
  }
  EXPECT_EQ(text, want);
  EXPECT_EQ(finish, pj["choices"][0]["finish_reason"]);
}

TEST(Http, StopStringsCutTheText) {
  REQUIRE_MODEL();
  RunningServer s({});
  auto c = s.client();
  json b = {{"prompt", "Once upon a time"}, {"max_tokens", 30}, {"temperature", 0}};
  auto r = c.Post("/v1/completions", b.dump(), "application/json");
  ASSERT_TRUE(r);
  const std::string full = json::parse(r->body)["choices"][0]["text"];
  ASSERT_GT(full.size(), 12u);
  // A stop string spanning several tokens in the middle of the greedy text.
  const std::string stop = full.substr(8, 5);
  const std::string want = full.substr(0, full.find(stop));
  for (bool stream : {false, true}) {
    b["stop"] = json::array({"zzzz", stop});
    b["stream"] = stream;
    auto q = c.Post("/v1/completions", b.dump(), "application/json");
    ASSERT_TRUE(q);
    std::string got, finish;
    if (stream) {
      for (const auto& d : sse_data(q->body)) {
        if (d == "[DONE]") continue;
        json e = json::parse(d);
        got += e["choices"][0]["text"].get<std::string>();
        if (!e["choices"][0]["finish_reason"].is_null()) finish = e["choices"][0]["finish_reason"];
      }
    } else {
      json e = json::parse(q->body);
      got = e["choices"][0]["text"];
      finish = e["choices"][0]["finish_reason"];
    }
    EXPECT_EQ(got, want) << "stream=" << stream;
    EXPECT_EQ(finish, "stop");
  }
}

TEST(Http, TokenizeRoundTripAndMetrics) {
  REQUIRE_MODEL();
  RunningServer s({});
  auto c = s.client();
  auto t = c.Post("/tokenize", R"({"content":"Once upon a time, Lily"})", "application/json");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->status, 200) << t->body;
  json ids = json::parse(t->body)["tokens"];
  ASSERT_FALSE(ids.empty());
  auto d = c.Post("/detokenize", json{{"tokens", ids}}.dump(), "application/json");
  ASSERT_TRUE(d);
  EXPECT_EQ(json::parse(d->body)["content"], "Once upon a time, Lily");
  expect_error(c.Post("/detokenize", R"({"tokens":[999999]})", "application/json"), 400);
  c.Post("/v1/completions", R"({"prompt":"Once","max_tokens":3})", "application/json");
  auto m = c.Get("/metrics");
  ASSERT_TRUE(m);
  for (const char* name :
       {"baleen_http_requests_total", "baleen_time_to_first_token_seconds_bucket",
        "baleen_inter_token_latency_seconds_bucket", "baleen_queue_depth", "baleen_slots_busy",
        "baleen_prompt_tokens_total", "baleen_generated_tokens_total", "baleen_prefix_cache_hit_tokens_total"}) {
    EXPECT_NE(m->body.find(name), std::string::npos) << name;
  }
}

TEST(Http, SeveralChoicesAndLogprobs) {
  REQUIRE_MODEL();
  RunningServer s({});
  auto c = s.client();
  json b = chat_body("hi", 4);
  b["n"] = 2;
  b["logprobs"] = true;
  b["top_logprobs"] = 3;
  auto r = c.Post("/v1/chat/completions", b.dump(), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  ASSERT_EQ(j["choices"].size(), 2u);
  for (const auto& ch : j["choices"]) {
    std::string joined;
    for (const auto& e : ch["logprobs"]["content"]) {
      joined += e["token"].get<std::string>();
      EXPECT_LE(e["logprob"].get<double>(), 0.0);
      EXPECT_EQ(e["top_logprobs"].size(), 3u);
    }
    EXPECT_EQ(joined, ch["message"]["content"]);  // temperature 0: tokens concatenate to the text
  }
  // Temperature 0: both choices are the greedy text.
  EXPECT_EQ(j["choices"][0]["message"]["content"], j["choices"][1]["message"]["content"]);
}

}  // namespace
}  // namespace baleen::server
