// Internal to the server layer: the state shared by server.cc (setup, routing, simple routes) and
// generate.cc (chat and text completions).
#pragma once

#include <httplib.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "server/metrics.h"
#include "server/prompt_builder.h"
#include "server/server.h"

namespace baleen::server {

// Everything derived from the loaded model that requests need.
struct Serving {
  Backend backend;
  std::string model_id;
  int64_t created = 0;
  std::optional<ChatTemplateKind> template_kind;
  std::string template_error;              // why chat is unavailable when template_kind is empty
  std::unique_ptr<PromptBuilder> prompts;  // null without a tokenizer
  std::vector<TokenId> stop_ids;           // end of sequence / end of turn
  Engine& engine() const { return *backend.engine; }
  const Tokenizer& tok() const { return *backend.model->tokenizer(); }
};

struct Server::Impl {
  ServerOptions opt;
  httplib::Server http;
  int bound_port = -1;
  ServerMetrics metrics;

  std::mutex mu;
  std::condition_variable cv;
  std::shared_ptr<const Serving> serving;  // null while loading
  bool load_finished = false;
  std::string load_error;
  std::thread loader;

  std::shared_ptr<const Serving> current() {
    std::lock_guard<std::mutex> lock(mu);
    return serving;
  }
  void setup_routes();
  void handle_generate(const httplib::Request& req, httplib::Response& res, bool chat);
};

// Writes an OpenAI error object with its status.
void send_error(httplib::Response& res, const ApiError& e);
// JSON text with invalid UTF-8 replaced (never throws).
std::string dump_json(const nlohmann::json& j);
std::string random_hex(size_t n);
int64_t unix_now();

}  // namespace baleen::server
