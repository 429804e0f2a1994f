// The server's stream control against a scripted engine (FakeEngine: one token every 5 ms until
// cancelled), so the behaviour does not depend on model speed: a client that disconnects
// mid-stream gets its request cancelled, a full engine queue gives 503 with Retry-After, and an
// engine failure after streaming began arrives as a `data: {"error": ...}` event. The tokenizer
// comes from the stories260K conformance model (skipped when absent).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/server.h"
#include "testing.h"

namespace baleen::server {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

class FakeEngine : public Engine {
 public:
  enum class Mode { kStream, kFull, kFailAfter3 };
  FakeEngine(const Model& m, Mode mode) : model_(m), mode_(mode) { opts_.n_ctx = 256; }
  ~FakeEngine() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [id, f] : flags_) f->store(true);
    }
    for (auto& t : threads_) t.join();
  }
  Result<RequestId> submit(GenerateRequest req, std::shared_ptr<StreamSink> sink) override {
    if (mode_ == Mode::kFull) return Error(ErrorCode::kUnavailable, "queue full");
    std::lock_guard<std::mutex> lock(mu_);
    const RequestId id = ++next_;
    auto flag = std::make_shared<std::atomic<bool>>(false);
    flags_[id] = flag;
    const Mode mode = mode_;
    threads_.emplace_back([flag, sink, req, mode] {
      Completion c;
      c.prompt_tokens = static_cast<int64_t>(req.prompt.size());
      for (int64_t i = 0; i < req.max_tokens; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (flag->load()) {
          c.reason = FinishReason::kCancelled;
          sink->on_done(c);
          return;
        }
        if (mode == Mode::kFailAfter3 && i == 3) {
          c.reason = FinishReason::kError;
          c.error = "scripted failure";
          sink->on_done(c);
          return;
        }
        TokenEvent e;
        e.id = 300;
        if (!sink->on_token(e)) {
          c.reason = FinishReason::kCancelled;
          sink->on_done(c);
          return;
        }
        ++c.generated_tokens;
      }
      c.reason = FinishReason::kLength;
      sink->on_done(c);
    });
    return id;
  }
  void cancel(RequestId id) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = flags_.find(id);
    if (it != flags_.end() && !it->second->exchange(true)) cancel_time_ = Clock::now();
    ++cancels_;
  }
  EngineStats stats() const override { return {}; }
  const Model& model() const override { return model_; }
  const EngineOptions& options() const override { return opts_; }

  int cancels() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancels_;
  }
  Clock::time_point cancel_time() {
    std::lock_guard<std::mutex> lock(mu_);
    return cancel_time_;
  }

 private:
  const Model& model_;
  Mode mode_;
  EngineOptions opts_;
  std::mutex mu_;
  RequestId next_ = 0;
  std::map<RequestId, std::shared_ptr<std::atomic<bool>>> flags_;
  std::vector<std::thread> threads_;
  int cancels_ = 0;
  Clock::time_point cancel_time_;
};

std::string model_path() { return testing::conformance_dir() + "/models/stories260K/stories260K.gguf"; }

struct Fixture {
  explicit Fixture(FakeEngine::Mode mode) {
    ServerOptions o;
    o.port = 0;
    o.chat_template = "llama3";
    o.http_threads = 8;
    srv = std::make_unique<Server>(o);
    EXPECT_TRUE(srv->bind().ok());
    Backend b;
    b.model = std::move(Model::load(model_path())).value();
    auto e = std::make_unique<FakeEngine>(*b.model, mode);
    engine = e.get();
    b.engine = std::move(e);
    EXPECT_TRUE(srv->set_backend(std::move(b)).ok());
    thread = std::thread([this] { srv->run(); });
  }
  ~Fixture() {
    srv->stop();
    thread.join();
  }
  std::unique_ptr<Server> srv;
  FakeEngine* engine = nullptr;
  std::thread thread;
};

#define REQUIRE_MODEL() \
  if (!std::ifstream(model_path()).good()) GTEST_SKIP() << "conformance model not found: " << model_path()

const std::string kStreamBody = R"({"messages":[{"role":"user","content":"hi"}],"max_tokens":100000,"stream":true})";

TEST(StreamControl, DisconnectCancelsTheRequest) {
  REQUIRE_MODEL();
  Fixture f(FakeEngine::Mode::kStream);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(f.srv->port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const std::string req =
      "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(kStreamBody.size()) + "\r\n\r\n" + kStreamBody;
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  // Read until some content deltas arrived, then hang up.
  std::string got;
  char buf[4096];
  while (got.find("\"content\":\"") == std::string::npos) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    ASSERT_GT(n, 0);
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_NE(got.find("200 OK"), std::string::npos);
  ::close(fd);
  const auto closed = Clock::now();
  for (int i = 0; i < 500 && f.engine->cancels() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GE(f.engine->cancels(), 1) << "the request was not cancelled after the client left";
  std::printf("cancel latency after disconnect: %.1f ms (informational; the machine is shared)\n",
              std::chrono::duration<double, std::milli>(f.engine->cancel_time() - closed).count());
}

TEST(StreamControl, FullQueueGives503WithRetryAfter) {
  REQUIRE_MODEL();
  Fixture f(FakeEngine::Mode::kFull);
  httplib::Client c("127.0.0.1", f.srv->port());
  for (bool stream : {false, true}) {
    json b = json::parse(kStreamBody);
    b["stream"] = stream;
    auto r = c.Post("/v1/chat/completions", b.dump(), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_EQ(r->get_header_value("Retry-After"), "1");
    EXPECT_EQ(json::parse(r->body)["error"]["type"], "unavailable_error");
  }
}

TEST(StreamControl, EngineFailureMidStreamIsAnErrorEvent) {
  REQUIRE_MODEL();
  Fixture f(FakeEngine::Mode::kFailAfter3);
  httplib::Client c("127.0.0.1", f.srv->port());
  auto r = c.Post("/v1/chat/completions", kStreamBody, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("data: {\"error\":{"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("scripted failure"), std::string::npos);
  // Non-streamed: a plain 500.
  json b = json::parse(kStreamBody);
  b["stream"] = false;
  auto q = c.Post("/v1/chat/completions", b.dump(), "application/json");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->status, 500);
  EXPECT_EQ(json::parse(q->body)["error"]["type"], "server_error");
}

}  // namespace
}  // namespace baleen::server
