// The HTTP front end (`baleen serve`): OpenAI/DeepSeek-compatible routes over an Engine, built on
// cpp-httplib. The socket is bound first and the model is loaded in a background thread, so GET
// /health answers 503 {"status":"loading"} until the engine is ready and 200 {"status":"ok"} after.
// Routes: POST /v1/chat/completions, /v1/completions (and without /v1), GET /v1/models (/models),
// /health, /metrics, /slots, POST /tokenize, /detokenize, GET / (the embedded web chat page).
// With an API key, every route except /, /health and /v1/models needs "Authorization: Bearer KEY"
// (or "X-Api-Key: KEY"). Streaming responses are written by the HTTP thread from a per-request
// queue the engine thread fills (server/generation.h); a client that disconnects is cancelled.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/engine.h"
#include "model/model.h"
#include "server/request.h"
#include "tokenizer/chat_template.h"

namespace baleen::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0: any free port (see Server::port())
  std::string api_key;  // "" : no authentication
  size_t max_body_bytes = 16u << 20;
  int read_timeout_s = 60;        // a client silent this long while sending is dropped
  int write_timeout_s = 60;       // a client not reading this long is dropped (and cancelled)
  int http_threads = 0;           // connections served at once (0: 4 * slots + 16)
  int keepalive_interval_s = 15;  // SSE ": keep-alive" comment when nothing else was sent
  std::string model_alias;        // "" : the model file's name
  std::string chat_template;      // "" : the model's own; else a family name (deepseek-v3, ...)
  RequestLimits limits;
};

// What serves requests once loaded. The engine refers to the model: destroyed first.
struct Backend {
  std::unique_ptr<Model> model;
  std::unique_ptr<Engine> engine;
};

class Server {
 public:
  explicit Server(ServerOptions options);
  ~Server();

  // Binds the listening socket. Errors: kIo when the address cannot be bound.
  Status bind();
  int port() const;
  // Runs `load` on a background thread; /health turns 200 when it succeeds. A failure is logged
  // to stderr and /health reports 500 {"status":"error"} with the message.
  void start_loading(std::function<Result<Backend>()> load);
  // Installs a ready backend directly (tests).
  Status set_backend(Backend backend);
  // Serves until stop(); returns when the listener closes.
  void run();
  // Closes the listener and shuts the read side of the open connections (shut_down_reads): idle
  // keep-alive connections end at once and requests still being answered are cancelled as if
  // their clients had gone, so run() returns within moments.
  void stop();
  // Blocks until loading finished (ok or not); true when a backend is ready.
  bool wait_loaded();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The embedded web chat page (generated at build time from src/server/web/index.html).
extern const char* const kWebPageHtml;
extern const size_t kWebPageHtmlSize;

}  // namespace baleen::server
