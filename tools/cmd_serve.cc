// `baleen serve`: the OpenAI/DeepSeek-compatible HTTP server (src/server). Binds first, then loads
// the model in the background (GET /health is 503 until it is ready). SIGINT/SIGTERM stop it.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "commands.h"
#include "engine/engine.h"
#include "model_cli.h"
#include "server/server.h"

namespace baleen::cli {
namespace {

struct ServeOpts {
  std::string model;
  server::ServerOptions server;
  EngineOptions engine;
  std::string api_key_file;
  int timeout_s = 60;
};

int run_serve(ServeOpts o) {
  if (!o.api_key_file.empty()) {
    FILE* f = std::fopen(o.api_key_file.c_str(), "rb");
    if (!f) {
      print_error("serve", "cannot read --api-key-file " + o.api_key_file);
      return 1;
    }
    char buf[4096];
    size_t n = std::fread(buf, 1, sizeof buf, f);
    std::fclose(f);
    std::string key(buf, n);
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r' || key.back() == ' ')) key.pop_back();
    o.server.api_key = key;
  }
  o.server.read_timeout_s = o.server.write_timeout_s = o.timeout_s;
  if (o.engine.n_slots < 1 || o.engine.n_ctx < 2) {
    print_error("serve", "-np must be >= 1 and -c >= 2");
    return 1;
  }
  if (o.server.model_alias.empty()) o.server.model_alias = std::filesystem::path(o.model).filename().string();
  if (o.server.http_threads <= 0) o.server.http_threads = 4 * o.engine.n_slots + 16;

  // SIGINT/SIGTERM are handled by one thread (sigwait); every other thread blocks them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  server::Server srv(o.server);
  Status st = srv.bind();
  if (!st.ok()) {
    print_error("serve", st.error());
    return 1;
  }
  std::fprintf(stderr, "baleen serve: listening on http://%s:%d (loading %s)\n", o.server.host.c_str(), srv.port(),
               o.model.c_str());
  if (o.server.host != "127.0.0.1" && o.server.host != "localhost" && o.server.host != "::1" &&
      o.server.api_key.empty()) {
    std::fprintf(stderr, "baleen serve: warning: listening beyond loopback without --api-key\n");
  }
  const std::string path = o.model;
  const EngineOptions eo = o.engine;
  srv.start_loading([path, eo]() -> Result<server::Backend> {
    server::Backend b;
    BALEEN_ASSIGN_OR_RETURN(b.model, Model::load(path));
    EngineOptions e = eo;
    const int64_t model_ctx = b.model->config().max_position_embeddings;
    if (model_ctx > 0 && e.n_ctx > model_ctx) e.n_ctx = model_ctx;
    BALEEN_ASSIGN_OR_RETURN(b.engine, Engine::create(*b.model, e));
    std::fprintf(stderr, "baleen serve: model ready (%d slots x %lld tokens)\n", e.n_slots,
                 static_cast<long long>(e.n_ctx));
    return b;
  });
  std::thread waiter([&srv, sigs] {
    int sig = 0;
    sigwait(&sigs, &sig);
    std::fprintf(stderr, "baleen serve: stopping\n");
    srv.stop();
  });
  srv.run();
  // run() also returns when stop() came from elsewhere: wake the waiter if it still waits.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return 0;
}

}  // namespace

Runner add_serve(CLI::App& app) {
  auto o = std::make_shared<ServeOpts>();
  auto* sub = app.add_subcommand("serve", "OpenAI/DeepSeek-compatible HTTP server with a web chat page");
  sub->add_option("-m,--model", o->model, "model: .gguf file or Hugging Face folder")->required();
  sub->add_option("--host", o->server.host, "address to listen on (loopback by default)")->capture_default_str();
  sub->add_option("--port", o->server.port, "port (0: any free port)")->capture_default_str();
  sub->add_option("--api-key", o->server.api_key, "require this key (Authorization: Bearer KEY) on the API");
  sub->add_option("--api-key-file", o->api_key_file, "read the API key from a file");
  sub->add_option("--np,--parallel", o->engine.n_slots, "sequences decoded at once (slots)")->capture_default_str();
  sub->add_option("-c,--ctx-size", o->engine.n_ctx, "context per slot in tokens")->capture_default_str();
  sub->add_option("--queue", o->engine.max_queue, "waiting requests beyond the slots; more get 503")
      ->capture_default_str();
  sub->add_option("--cache-dir", o->engine.cache_dir, "disk tier of the prefix cache");
  sub->add_option("-t,--threads", o->engine.n_threads, "compute threads (0: all CPUs)")->capture_default_str();
  sub->add_option(
      "--chat-template", o->server.chat_template,
      "chat template when the model has none: deepseek-v3|deepseek-r1|deepseek-v3.1|qwen3|llama3|deepseek-v2");
  sub->add_option("--alias", o->server.model_alias, "model id reported by /v1/models (default: the file name)");
  sub->add_option("--max-body", o->server.max_body_bytes, "largest request body in bytes")->capture_default_str();
  sub->add_option("--timeout", o->timeout_s, "read/write timeout for silent clients, seconds")->capture_default_str();
  sub->add_option("--http-threads", o->server.http_threads, "connections served at once (0: 4 x slots + 16)");
  return [o]() -> int { return run_serve(*o); };
}

}  // namespace baleen::cli
