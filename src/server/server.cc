#include "server/server.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>

#include "server/connection_probe.h"
#include "server/generation.h"
#include "server/server_impl.h"

namespace baleen::server {

using json = nlohmann::json;

void send_error(httplib::Response& res, const ApiError& e) {
  res.status = e.status;
  if (e.status == 503) res.set_header("Retry-After", "1");
  res.set_content(dump_json(e.to_json()), "application/json");
}

std::string dump_json(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string random_hex(size_t n) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string s(n, '0');
  for (auto& c : s) c = kHex[rng() & 15];
  return s;
}

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {

bool constant_time_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char d = 0;
  for (size_t i = 0; i < a.size(); ++i) d |= static_cast<unsigned char>(a[i] ^ b[i]);
  return d == 0;
}

bool is_public(const std::string& path) {
  return path == "/" || path == "/index.html" || path == "/health" || path == "/v1/health" || path == "/v1/models" ||
         path == "/models";
}

std::optional<ChatTemplateKind> kind_by_name(const std::string& name) {
  for (auto k : {ChatTemplateKind::kDeepSeekV2, ChatTemplateKind::kDeepSeekV3, ChatTemplateKind::kDeepSeekR1,
                 ChatTemplateKind::kDeepSeekV31, ChatTemplateKind::kQwen3, ChatTemplateKind::kLlama3}) {
    if (name == chat_template_kind_name(k)) return k;
  }
  return std::nullopt;
}

// End-of-sequence ids and the template's end-of-turn tokens (as `baleen chat` uses).
std::vector<TokenId> stop_ids_for(const Model& model, const Tokenizer& tok, std::optional<ChatTemplateKind> kind) {
  std::vector<TokenId> stops;
  auto add = [&](int64_t id) {
    if (id >= 0 && std::find(stops.begin(), stops.end(), id) == stops.end()) stops.push_back(static_cast<TokenId>(id));
  };
  for (int64_t id : model.config().eos_token_ids) add(id);
  add(tok.special_ids().eos);
  for (const char* n : {"<｜end▁of▁sentence｜>", "<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>"}) {
    if (!kind.has_value()) break;
    if (auto id = tok.token_id(n)) add(*id);
  }
  return stops;
}

}  // namespace

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  impl_->setup_routes();
}

Server::~Server() {
  stop();
  if (impl_->loader.joinable()) impl_->loader.join();
}

Status Server::bind() {
  Impl& s = *impl_;
  if (s.opt.port == 0) {
    s.bound_port = s.http.bind_to_any_port(s.opt.host);
  } else {
    s.bound_port = s.http.bind_to_port(s.opt.host, s.opt.port) ? s.opt.port : -1;
  }
  if (s.bound_port <= 0) {
    return make_error(ErrorCode::kIo, "cannot listen on %s:%d", s.opt.host.c_str(), s.opt.port);
  }
  return ok_status();
}

int Server::port() const { return impl_->bound_port; }

Status Server::set_backend(Backend backend) {
  Impl& s = *impl_;
  if (!backend.model || !backend.engine) return Error(ErrorCode::kInvalidArgument, "backend without model or engine");
  if (backend.model->tokenizer() == nullptr) return Error(ErrorCode::kUnsupported, "the model has no tokenizer");
  auto sv = std::make_shared<Serving>();
  sv->created = unix_now();
  const Model& model = *backend.model;
  const Tokenizer& tok = *model.tokenizer();
  if (!s.opt.chat_template.empty()) {
    sv->template_kind = kind_by_name(s.opt.chat_template);
    if (!sv->template_kind) {
      return make_error(ErrorCode::kInvalidArgument, "unknown chat template '%s'", s.opt.chat_template.c_str());
    }
  } else if (model.chat_template_text().empty()) {
    sv->template_error = "the model has no chat template (start the server with --chat-template NAME)";
  } else {
    auto k = recognise_chat_template(model.chat_template_text());
    if (k.ok()) {
      sv->template_kind = k.value();
    } else {
      sv->template_error = "the model's chat template is not supported: " + k.error().message();
    }
  }
  ChatRenderOptions ro;
  const SpecialTokenIds& sp = tok.special_ids();
  if (sp.bos >= 0) ro.bos_token = std::string(tok.token_text(sp.bos));
  if (sp.eos >= 0) ro.eos_token = std::string(tok.token_text(sp.eos));
  sv->prompts = std::make_unique<PromptBuilder>(tok, sv->template_kind.value_or(ChatTemplateKind::kDeepSeekV3), ro);
  sv->stop_ids = stop_ids_for(model, tok, sv->template_kind);
  sv->backend = std::move(backend);
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (sv->model_id.empty()) sv->model_id = s.opt.model_alias.empty() ? "baleen" : s.opt.model_alias;
    s.serving = std::move(sv);
    s.load_finished = true;
  }
  s.cv.notify_all();
  return ok_status();
}

void Server::start_loading(std::function<Result<Backend>()> load) {
  impl_->loader = std::thread([this, load = std::move(load)] {
    auto r = load();
    Status st = r.ok() ? set_backend(std::move(r).value()) : Status(r.error());
    if (!st.ok()) {
      std::fprintf(stderr, "baleen serve: error: %s\n", st.error().to_string().c_str());
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->load_error = st.error().to_string();
      impl_->load_finished = true;
    }
    impl_->cv.notify_all();
  });
}

bool Server::wait_loaded() {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->cv.wait(lock, [&] { return impl_->load_finished; });
  return impl_->serving != nullptr;
}

void Server::run() { impl_->http.listen_after_bind(); }

void Server::stop() {
  if (impl_->http.is_running()) impl_->http.stop();
  // Open connections end now rather than after the keep-alive timeout (connection_probe.h).
  if (impl_->bound_port > 0) shut_down_reads(impl_->bound_port);
}

void Server::Impl::setup_routes() {
  int threads = opt.http_threads > 0 ? opt.http_threads : 64;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_payload_max_length(opt.max_body_bytes);
  http.set_read_timeout(opt.read_timeout_s, 0);
  http.set_write_timeout(opt.write_timeout_s, 0);
  http.set_keep_alive_timeout(10);
  http.set_tcp_nodelay(true);  // small SSE chunks go out at once (no Nagle wait on the previous ACK)

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    metrics.http_requests.fetch_add(1, std::memory_order_relaxed);
    if (opt.api_key.empty() || is_public(req.path) || req.method == "OPTIONS") {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    std::string key;
    const std::string auth = req.get_header_value("Authorization");
    if (auth.rfind("Bearer ", 0) == 0) {
      key = auth.substr(7);
    } else if (req.has_header("X-Api-Key")) {
      key = req.get_header_value("X-Api-Key");
    }
    if (constant_time_equal(key, opt.api_key)) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError{401, "authentication_error",
                             key.empty() ? "missing API key (send Authorization: Bearer KEY)" : "invalid API key", "",
                             "invalid_api_key"});
    return httplib::Server::HandlerResponse::Handled;
  });

  // Errors httplib produces itself (unknown route, body too large, bad request line) get an
  // OpenAI error body too.
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 404:
        send_error(res, ApiError{404, "not_found_error", "unknown route: " + req.method + " " + req.path, "", ""});
        break;
      case 413:
        // httplib caps form-encoded bodies at 8 KiB whatever the payload limit.
        send_error(res, ApiError{413, "invalid_request_error",
                                 req.get_header_value("Content-Type").find("x-www-form-urlencoded") != std::string::npos
                                     ? "form-encoded bodies are limited to 8 KiB: send Content-Type: application/json"
                                     : "the request body is too large",
                                 "", ""});
        break;
      case 405:
        send_error(res, ApiError{405, "invalid_request_error", "method not allowed", "", ""});
        break;
      default:
        send_error(res, ApiError{res.status, res.status >= 500 ? "server_error" : "invalid_request_error",
                                 "the request could not be processed", "", ""});
    }
  });
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = std::string("internal error: ") + e.what();
    } catch (...) {
    }
    send_error(res, ApiError{500, "server_error", what, "", ""});
  });

  auto health = [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard<std::mutex> lock(mu);
    if (serving) {
      res.set_content(R"({"status":"ok"})", "application/json");
    } else if (!load_error.empty()) {
      res.status = 500;
      res.set_content(dump_json(json{{"status", "error"}, {"error", load_error}}), "application/json");
    } else {
      res.status = 503;
      res.set_content(R"({"status":"loading"})", "application/json");
    }
  };
  http.Get("/health", health);
  http.Get("/v1/health", health);

  auto models = [this](const httplib::Request&, httplib::Response& res) {
    auto sv = current();
    json data = json::array();
    if (sv)
      data.push_back({{"id", sv->model_id}, {"object", "model"}, {"created", sv->created}, {"owned_by", "baleen"}});
    res.set_content(dump_json(json{{"object", "list"}, {"data", data}}), "application/json");
  };
  http.Get("/v1/models", models);
  http.Get("/models", models);
  http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
    auto sv = current();
    if (!sv || req.matches[1] != sv->model_id) {
      return send_error(res, ApiError{404, "not_found_error", "no such model", "model", "model_not_found"});
    }
    res.set_content(
        dump_json(json{{"id", sv->model_id}, {"object", "model"}, {"created", sv->created}, {"owned_by", "baleen"}}),
        "application/json");
  });

  auto index = [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(kWebPageHtml, kWebPageHtmlSize), "text/html; charset=utf-8");
  };
  http.Get("/", index);
  http.Get("/index.html", index);

  http.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    auto sv = current();
    std::optional<EngineStats> st;
    if (sv) st = sv->engine().stats();
    res.set_content(metrics.render(st ? &*st : nullptr), "text/plain; version=0.0.4");
  });

  http.Get("/slots", [this](const httplib::Request&, httplib::Response& res) {
    auto sv = current();
    if (!sv) return send_error(res, ApiError{503, "unavailable_error", "the model is loading", "", ""});
    EngineStats st = sv->engine().stats();
    res.set_content(dump_json(json{{"n_slots", st.n_slots},
                                   {"slots_busy", st.slots_busy},
                                   {"requests_active", st.requests_active},
                                   {"queue_depth", st.queue_depth},
                                   {"n_ctx", sv->engine().options().n_ctx}}),
                    "application/json");
  });

  http.Post("/tokenize", [this](const httplib::Request& req, httplib::Response& res) {
    auto sv = current();
    if (!sv) return send_error(res, ApiError{503, "unavailable_error", "the model is loading", "", ""});
    json j;
    if (auto e = parse_body(req.body, opt.limits, &j)) return send_error(res, *e);
    auto c = j.find("content");
    if (c == j.end() || !c->is_string())
      return send_error(res, invalid_request("'content' must be a string", "content"));
    bool add_special = false, parse_special = false, with_pieces = false;
    for (auto [k, p] :
         {std::pair{"add_special", &add_special}, {"parse_special", &parse_special}, {"with_pieces", &with_pieces}}) {
      if (auto f = j.find(k); f != j.end() && !f->is_null()) {
        if (!f->is_boolean()) return send_error(res, invalid_request(std::string("'") + k + "' must be a boolean", k));
        *p = f->get<bool>();
      }
    }
    auto ids = sv->tok().encode(c->get_ref<const std::string&>(), add_special, parse_special);
    json tokens = json::array();
    for (TokenId id : ids) {
      if (with_pieces) {
        tokens.push_back({{"id", id}, {"piece", sanitize_utf8(sv->tok().token_to_bytes(id))}});
      } else {
        tokens.push_back(id);
      }
    }
    res.set_content(dump_json(json{{"tokens", tokens}}), "application/json");
  });

  http.Post("/detokenize", [this](const httplib::Request& req, httplib::Response& res) {
    auto sv = current();
    if (!sv) return send_error(res, ApiError{503, "unavailable_error", "the model is loading", "", ""});
    json j;
    if (auto e = parse_body(req.body, opt.limits, &j)) return send_error(res, *e);
    auto t = j.find("tokens");
    if (t == j.end() || !t->is_array()) return send_error(res, invalid_request("'tokens' must be an array", "tokens"));
    std::vector<TokenId> ids;
    const int64_t n_vocab = static_cast<int64_t>(sv->tok().vocab_size());
    for (const auto& v : *t) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= n_vocab) {
        return send_error(
            res, invalid_request("'tokens' must hold token ids in [0, " + std::to_string(n_vocab) + ")", "tokens"));
      }
      ids.push_back(static_cast<TokenId>(v.get<int64_t>()));
    }
    res.set_content(dump_json(json{{"content", sanitize_utf8(sv->tok().decode(ids, false))}}), "application/json");
  });

  http.Post("/v1/chat/completions",
            [this](const httplib::Request& q, httplib::Response& r) { handle_generate(q, r, true); });
  http.Post("/chat/completions",
            [this](const httplib::Request& q, httplib::Response& r) { handle_generate(q, r, true); });
  http.Post("/v1/completions",
            [this](const httplib::Request& q, httplib::Response& r) { handle_generate(q, r, false); });
  http.Post("/completions", [this](const httplib::Request& q, httplib::Response& r) { handle_generate(q, r, false); });
}

}  // namespace baleen::server
