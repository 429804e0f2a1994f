// Client disconnects against the real engine (stories260K conformance model, 2 slots; skipped when
// absent), in-process on a loopback port: a client that hangs up frees its slot (or its queue
// place) within 100 ms of closing its socket, whether its request was streamed or not, generating
// or still queued. "Free" is read from GET /slots, polled every 2 ms from the moment of the close;
// /metrics' baleen_requests_cancelled_disconnect_total confirms the request was cancelled, not
// finished. The 100 ms bound is issue #5's requirement; on this shared machine the measured
// latencies are printed too (typically 2-3 ms, 25-35 ms for a queued request: one Mailbox wait).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "server/server.h"
#include "testing.h"

namespace baleen::server {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr double kFreeWithinMs = 100.0;  // issue #5: "frees its slot within 100 ms"

std::string model_path() { return testing::conformance_dir() + "/models/stories260K/stories260K.gguf"; }

#define REQUIRE_MODEL() \
  if (!std::ifstream(model_path()).good()) GTEST_SKIP() << "conformance model not found: " << model_path()

class LiveServer {
 public:
  LiveServer() {
    ServerOptions o;
    o.port = 0;
    o.chat_template = "llama3";
    o.http_threads = 16;
    srv_ = std::make_unique<Server>(o);
    EXPECT_TRUE(srv_->bind().ok());
    Backend b;
    b.model = std::move(Model::load(model_path())).value();
    EngineOptions eo;
    eo.n_slots = 2;
    eo.n_ctx = 4096;  // room for a generation that outlasts the test
    eo.n_threads = 1;
    auto e = Engine::create(*b.model, eo);
    EXPECT_TRUE(e.ok()) << e.error().to_string();
    b.engine = std::move(e).value();
    EXPECT_TRUE(srv_->set_backend(std::move(b)).ok());
    thread_ = std::thread([this] { srv_->run(); });
    poll_ = std::make_unique<httplib::Client>("127.0.0.1", srv_->port());
    poll_->set_keep_alive(true);
    poll_->set_read_timeout(10, 0);
  }
  ~LiveServer() {
    poll_.reset();  // else the server waits out the keep-alive timeout of this connection
    srv_->stop();
    thread_.join();
  }
  int port() const { return srv_->port(); }

  json slots() {
    auto r = poll_->Get("/slots");
    EXPECT_TRUE(r && r->status == 200);
    return r ? json::parse(r->body, nullptr, false) : json();
  }
  // The counter's value in /metrics (-1 when missing).
  double metric(const std::string& name) {
    auto r = poll_->Get("/metrics");
    if (!r) return -1;
    const std::string& body = r->body;
    for (size_t at = body.find(name); at != std::string::npos; at = body.find(name, at + 1)) {
      if ((at == 0 || body[at - 1] == '\n') && body[at + name.size()] == ' ') {
        return std::atof(body.c_str() + at + name.size() + 1);
      }
    }
    return -1;
  }
  // Polls /slots every 2 ms until `pred` holds; the milliseconds since `from` (or -1 after 5 s).
  template <typename Pred>
  double wait_until(Clock::time_point from, Pred pred) {
    while (Clock::now() - from < std::chrono::seconds(5)) {
      json s = slots();
      if (pred(s)) return std::chrono::duration<double, std::milli>(Clock::now() - from).count();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return -1;
  }

 private:
  std::unique_ptr<Server> srv_;
  std::thread thread_;
  std::unique_ptr<httplib::Client> poll_;  // keep-alive connection for /slots and /metrics
};

// A raw connection that sent one POST (so the test decides exactly when the socket closes).
int send_request(int port, const std::string& path, const json& body) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return -1;
  const std::string b = body.dump();
  const std::string req =
      "POST " + path +
      " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(b.size()) +
      "\r\n\r\n" + b;
  if (::write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) return -1;
  return fd;
}

// Reads until `count` SSE data events arrived.
bool read_events(int fd, int count) {
  std::string got;
  char buf[4096];
  size_t at = 0;
  int seen = 0;
  while (seen < count) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return false;
    got.append(buf, static_cast<size_t>(n));
    for (size_t p; (p = got.find("data: ", at)) != std::string::npos; at = p + 6) ++seen;
  }
  return got.find("200 OK") != std::string::npos;
}

json long_request(bool stream) {
  // ignore_eos: the end-of-sequence token cannot end the request before the client leaves.
  return {{"prompt", "Once upon a time"}, {"max_tokens", 4000}, {"temperature", 0.8}, {"seed", 7},
          {"ignore_eos", true},           {"stream", stream}};
}

const auto kIdle = [](const json& s) { return s["slots_busy"] == 0 && s["requests_active"] == 0; };

TEST(Disconnect, StreamMidwayFreesItsSlotWithin100ms) {
  REQUIRE_MODEL();
  LiveServer s;
  const double before = s.metric("baleen_requests_cancelled_disconnect_total");
  int fd = send_request(s.port(), "/v1/completions", long_request(true));
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(read_events(fd, 4)) << "no stream";
  EXPECT_EQ(s.slots()["slots_busy"], 1);
  ::close(fd);
  const double ms = s.wait_until(Clock::now(), kIdle);
  std::printf("streamed request: slot free %.1f ms after the close\n", ms);
  ASSERT_GE(ms, 0) << "the slot was not freed within 5 s";
  EXPECT_LE(ms, kFreeWithinMs);
  EXPECT_EQ(s.metric("baleen_requests_cancelled_disconnect_total"), before + 1);
}

TEST(Disconnect, NonStreamedWhileGeneratingFreesItsSlotWithin100ms) {
  REQUIRE_MODEL();
  LiveServer s;
  const double before = s.metric("baleen_requests_cancelled_disconnect_total");
  int fd = send_request(s.port(), "/v1/completions", long_request(false));
  ASSERT_GE(fd, 0);
  // Generating: a slot is busy and tokens are being counted.
  ASSERT_GE(s.wait_until(Clock::now(), [](const json& j) { return j["slots_busy"] == 1; }), 0);
  const double gen0 = s.metric("baleen_generated_tokens_total");
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(s.slots()["slots_busy"], 1) << "the request ended before the client left";
  ::close(fd);
  const double ms = s.wait_until(Clock::now(), kIdle);
  std::printf("non-streamed request (generating): slot free %.1f ms after the close\n", ms);
  ASSERT_GE(ms, 0) << "the slot was not freed within 5 s";
  EXPECT_LE(ms, kFreeWithinMs);
  EXPECT_EQ(s.metric("baleen_requests_cancelled_disconnect_total"), before + 1);
  // Generation stopped: the engine's token counter no longer moves.
  const double gen1 = s.metric("baleen_generated_tokens_total");
  EXPECT_GT(gen1, gen0);
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  EXPECT_EQ(s.metric("baleen_generated_tokens_total"), gen1);
}

TEST(Disconnect, NonStreamedWhileQueuedLeavesTheQueueWithin100ms) {
  REQUIRE_MODEL();
  LiveServer s;
  // Both slots taken by streams this test holds open.
  int busy[2];
  for (int& b : busy) {
    b = send_request(s.port(), "/v1/completions", long_request(true));
    ASSERT_GE(b, 0);
    ASSERT_TRUE(read_events(b, 2));
  }
  const double before = s.metric("baleen_requests_cancelled_disconnect_total");
  int fd = send_request(s.port(), "/v1/completions", long_request(false));
  ASSERT_GE(fd, 0);
  ASSERT_GE(s.wait_until(Clock::now(), [](const json& j) { return j["queue_depth"] == 1; }), 0);
  ::close(fd);
  const double ms = s.wait_until(Clock::now(), [](const json& j) {
    return j["queue_depth"] == 0 && j["requests_active"] == 2 && j["slots_busy"] == 2;
  });
  std::printf("non-streamed request (queued): out of the queue %.1f ms after the close\n", ms);
  ASSERT_GE(ms, 0) << "the queued request was not dropped within 5 s";
  EXPECT_LE(ms, kFreeWithinMs);
  EXPECT_EQ(s.metric("baleen_requests_cancelled_disconnect_total"), before + 1);
  for (int b : busy) ::close(b);
  EXPECT_GE(s.wait_until(Clock::now(), kIdle), 0);
}

}  // namespace
}  // namespace baleen::server
