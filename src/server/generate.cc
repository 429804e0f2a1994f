// POST /v1/chat/completions and /v1/completions: validate, build the prompt, submit one engine
// request per choice, then answer in one JSON object or as server-sent events.
#include <chrono>
#include <random>

#include "server/connection_probe.h"
#include "server/generation.h"
#include "server/server_impl.h"

namespace baleen::server {
namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* finish_name(FinishReason r, bool stopped_by_text) {
  if (stopped_by_text) return "stop";
  switch (r) {
    case FinishReason::kLength:
      return "length";
    default:
      return "stop";
  }
}

// State of one request across its choices, shared by the handler and the stream provider.
struct Job {
  bool chat = true;
  bool stream = false;
  bool include_usage = false;
  std::string id;
  int64_t created = 0;
  std::string model;
  Engine* engine = nullptr;
  std::shared_ptr<const Serving> keep;  // the model and engine outlive the stream
  ServerMetrics* metrics = nullptr;
  std::shared_ptr<Mailbox> box;
  std::vector<std::shared_ptr<ChoiceSink>> sinks;
  std::vector<RequestId> ids;
  std::vector<ChoiceText> texts;
  std::vector<bool> done;
  std::vector<Completion> completions;
  std::vector<std::string> content, reasoning;  // accumulated (non-streamed)
  std::vector<json> logprobs;                   // accumulated chat-style entries
  int64_t prompt_tokens = 0;
  int remaining = 0;
  bool started = false;   // role chunks sent
  bool finished = false;  // [DONE] sent or response built
  std::optional<std::string> error;
  Clock::time_point last_write;

  bool all_done() const { return remaining == 0; }
  void cancel_all() {
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!done[i]) engine->cancel(ids[i]);
    }
  }

  // Applies one event; returns the text delta for choice `c` (stream) and accumulates it.
  void apply(const MailItem& it, TextDelta* d) {
    const int c = it.choice;
    if (it.done) {
      if (done[c]) return;
      texts[c].finish(d);
      done[c] = true;
      completions[c] = it.completion;
      --remaining;
      if (it.completion.reason == FinishReason::kError && !error) error = it.completion.error;
    } else {
      if (done[c] || texts[c].stopped()) return;
      if (!texts[c].push(it.token, d)) {
        sinks[c]->request_stop();  // a stop string: end this choice
        engine->cancel(ids[c]);
      }
      metrics->generated_tokens.fetch_add(1, std::memory_order_relaxed);
    }
    content[c] += d->content;
    reasoning[c] += d->reasoning;
    for (auto& e : d->logprobs) logprobs[c].push_back(e);
  }

  std::string finish_reason(int c) const { return finish_name(completions[c].reason, texts[c].stopped()); }

  json usage() const {
    int64_t completion = 0, reasoning_tokens = 0;
    for (const auto& t : texts) {
      completion += t.tokens();
      reasoning_tokens += t.reasoning_tokens();
    }
    const int64_t cached = completions.empty() ? 0 : std::min(completions[0].cached_tokens, prompt_tokens);
    json u = {{"prompt_tokens", prompt_tokens},
              {"completion_tokens", completion},
              {"total_tokens", prompt_tokens + completion},
              {"prompt_tokens_details", {{"cached_tokens", cached}}},
              {"prompt_cache_hit_tokens", cached},
              {"prompt_cache_miss_tokens", prompt_tokens - cached}};
    if (chat) u["completion_tokens_details"] = {{"reasoning_tokens", reasoning_tokens}};
    return u;
  }

  json chunk_base() const {
    return json{{"id", id},
                {"object", chat ? "chat.completion.chunk" : "text_completion"},
                {"created", created},
                {"model", model},
                {"system_fingerprint", "baleen-0.1.0"}};
  }

  // Legacy completions logprobs from chat-style entries.
  static json legacy_logprobs(const json& entries) {
    json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
    int64_t offset = 0;
    for (const auto& e : entries) {
      tokens.push_back(e["token"]);
      lps.push_back(e["logprob"]);
      json top = json::object();
      for (const auto& t : e["top_logprobs"]) top[t["token"].get<std::string>()] = t["logprob"];
      tops.push_back(top);
      offsets.push_back(offset);
      offset += static_cast<int64_t>(e["bytes"].size());
    }
    return json{{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
  }

  json logprobs_json(const json& entries, bool want) const {
    if (!want) return nullptr;
    return chat ? json{{"content", entries}} : legacy_logprobs(entries);
  }

  json response(bool want_logprobs) const {
    json choices = json::array();
    for (size_t c = 0; c < texts.size(); ++c) {
      json ch = {{"index", c},
                 {"logprobs", logprobs_json(logprobs[c], want_logprobs)},
                 {"finish_reason", finish_reason(static_cast<int>(c))}};
      if (chat) {
        json msg = {{"role", "assistant"}, {"content", content[c]}};
        if (!reasoning[c].empty()) msg["reasoning_content"] = reasoning[c];
        ch["message"] = msg;
      } else {
        ch["text"] = content[c];
      }
      choices.push_back(std::move(ch));
    }
    json r = chunk_base();
    r["object"] = chat ? "chat.completion" : "text_completion";
    r["choices"] = std::move(choices);
    r["usage"] = usage();
    return r;
  }

  std::string sse(const json& j) const { return "data: " + dump_json(j) + "\n\n"; }

  std::string delta_chunk(int c, const TextDelta& d, bool want_logprobs) const {
    json ch = {{"index", c}, {"finish_reason", nullptr}};
    if (chat) {
      json delta = json::object();
      if (!d.content.empty()) delta["content"] = d.content;
      if (!d.reasoning.empty()) delta["reasoning_content"] = d.reasoning;
      ch["delta"] = std::move(delta);
    } else {
      ch["text"] = d.content;
    }
    ch["logprobs"] = want_logprobs ? logprobs_json(d.logprobs, true) : json(nullptr);
    json j = chunk_base();
    j["choices"] = json::array({std::move(ch)});
    return sse(j);
  }
};

}  // namespace

void Server::Impl::handle_generate(const httplib::Request& req, httplib::Response& res, bool chat) {
  const auto arrival = Clock::now();
  auto sv = current();
  auto reject = [&](const ApiError& e) {
    metrics.rejected_invalid.fetch_add(1, std::memory_order_relaxed);
    send_error(res, e);
  };
  if (!sv) return send_error(res, ApiError{503, "unavailable_error", "the model is still loading", "", ""});
  json body;
  if (auto e = parse_body(req.body, opt.limits, &body)) return reject(*e);

  GenerationParams gen;
  std::vector<TokenId> prompt;
  bool opens_reasoning = false;
  if (chat) {
    if (!sv->template_kind) return reject(ApiError{400, "not_supported_error", sv->template_error, "", ""});
    ChatRequest cr;
    if (auto e = parse_chat_request(body, opt.limits, &cr)) return reject(*e);
    auto p = sv->prompts->chat(std::move(cr.messages), cr.thinking, cr.continue_last);
    if (!p.ok()) return reject(api_error_from(p.error()));
    prompt = std::move(p.value().tokens);
    opens_reasoning = p.value().opens_reasoning;
    gen = std::move(cr.gen);
  } else {
    CompletionRequest cr;
    if (auto e = parse_completion_request(body, opt.limits, &cr)) return reject(*e);
    if (cr.suffix) {
      auto p = sv->prompts->fim(cr.prompt, *cr.suffix);
      if (!p.ok()) return reject(ApiError{400, "not_supported_error", p.error().message(), "suffix", ""});
      prompt = std::move(p).value();
    } else {
      prompt = sv->prompts->text(cr.prompt);
    }
    gen = std::move(cr.gen);
  }
  if (prompt.empty()) return reject(invalid_request("the prompt is empty", chat ? "messages" : "prompt"));

  const int64_t n_ctx = sv->engine().options().n_ctx;
  const int64_t n_prompt = static_cast<int64_t>(prompt.size());
  auto context_error = [&] {
    ApiError e{400, "exceed_context_size_error",
               "the request exceeds the available context size: " + std::to_string(n_prompt) +
                   " prompt tokens, context " + std::to_string(n_ctx) + " tokens per slot",
               chat ? "messages" : "prompt", "exceed_context_size_error"};
    json j = e.to_json();
    j["error"]["n_prompt_tokens"] = n_prompt;
    j["error"]["n_ctx"] = n_ctx;
    metrics.rejected_invalid.fetch_add(1, std::memory_order_relaxed);
    res.status = 400;
    res.set_content(dump_json(j), "application/json");
  };
  if (n_prompt + 1 > n_ctx) return context_error();
  // JSON mode constrains the answer: after `</think>` when the prompt leaves the model reasoning.
  TokenId json_after_token = -1;
  if (gen.json_object && opens_reasoning) {
    std::optional<TokenId> end_think = sv->tok().token_id("</think>");
    if (!end_think) {
      return reject(ApiError{400, "not_supported_error",
                             "response_format json_object with a reasoning prompt needs a '</think>' token in the "
                             "vocabulary",
                             "response_format", ""});
    }
    json_after_token = *end_think;
  }
  // max_tokens beyond the room left in the slot is cut to it (finish_reason "length").
  const int64_t room = n_ctx - n_prompt;
  const int64_t max_tokens = gen.max_tokens < 0 ? room : std::min(gen.max_tokens, room);

  auto job = std::make_shared<Job>();
  job->chat = chat;
  job->stream = gen.stream;
  job->include_usage = gen.include_usage;
  job->id = (chat ? "chatcmpl-" : "cmpl-") + random_hex(24);
  job->created = unix_now();
  job->model = sv->model_id;
  job->engine = &sv->engine();
  job->keep = sv;
  job->metrics = &metrics;
  job->box = std::make_shared<Mailbox>();
  job->prompt_tokens = n_prompt;
  const int n = gen.n;
  uint64_t base_seed = gen.seed_given ? gen.sampling.seed : std::random_device{}() * 0x9E3779B97F4A7C15ull;
  for (int c = 0; c < n; ++c) {
    job->texts.emplace_back(sv->tok(), gen.stop, chat, opens_reasoning, gen.top_logprobs);
    job->sinks.push_back(std::make_shared<ChoiceSink>(
        job->box, c, gen.ignore_eos ? std::vector<TokenId>{} : sv->stop_ids, &metrics, arrival));
  }
  job->done.assign(n, false);
  job->completions.resize(n);
  job->content.resize(n);
  job->reasoning.resize(n);
  job->logprobs.assign(n, json::array());
  for (int c = 0; c < n; ++c) {
    GenerateRequest gr;
    gr.prompt = prompt;
    gr.max_tokens = max_tokens;
    gr.sampling = gen.sampling;
    gr.sampling.seed = base_seed + static_cast<uint64_t>(c);  // choice i uses seed + i
    gr.top_logprobs = gen.top_logprobs;
    gr.ignore_eos = gen.ignore_eos;
    gr.json_object = gen.json_object;
    gr.json_after_token = json_after_token;
    auto id = sv->engine().submit(std::move(gr), job->sinks[c]);
    if (!id.ok()) {
      job->cancel_all();  // the choices already queued
      for (int k = 0; k < c; ++k) job->sinks[k]->request_stop();
      const Error& e = id.error();
      if (e.code() == ErrorCode::kOutOfRange) return context_error();
      if (e.code() == ErrorCode::kUnavailable) {
        metrics.rejected_unavailable.fetch_add(1, std::memory_order_relaxed);
        return send_error(res, ApiError{503, "unavailable_error", "the server is busy: request queue full", "", ""});
      }
      return reject(api_error_from(e));
    }
    job->ids.push_back(id.value());
  }
  job->remaining = n;
  (chat ? metrics.chat_requests : metrics.completion_requests).fetch_add(1, std::memory_order_relaxed);
  metrics.prompt_tokens.fetch_add(static_cast<uint64_t>(n_prompt), std::memory_order_relaxed);
  const bool want_logprobs = gen.top_logprobs >= 0;

  // The client's socket, watched while the request waits in the queue or generates, so a client
  // that goes away frees its slot at once (see server/connection_probe.h).
  auto probe = std::make_shared<const ConnectionProbe>(req);
  auto drop = [this](Job& j) {
    metrics.cancelled_disconnect.fetch_add(1, std::memory_order_relaxed);
    for (auto& s : j.sinks) s->request_stop();
    j.box->close();
    j.cancel_all();
  };

  if (!gen.stream) {
    std::vector<MailItem> items;
    while (!job->all_done()) {
      items.clear();
      job->box->pop_all(&items, std::chrono::milliseconds(25));
      for (const auto& it : items) {
        TextDelta d;
        job->apply(it, &d);
      }
      if (!job->all_done() && probe->closed()) return drop(*job);  // nobody to answer
    }
    if (job->error) return send_error(res, ApiError{500, "server_error", *job->error, "", ""});
    res.set_content(dump_json(job->response(want_logprobs)), "application/json");
    return;
  }

  // Streaming: 200 + SSE from here on; errors become `data: {"error": ...}` events.
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  metrics.streams_open.fetch_add(1, std::memory_order_relaxed);
  const int keepalive_s = opt.keepalive_interval_s;
  res.set_chunked_content_provider(
      "text/event-stream",
      [job, want_logprobs, keepalive_s, probe](size_t, httplib::DataSink& sink) -> bool {
        auto write = [&](const std::string& s) {
          job->last_write = Clock::now();
          return sink.write(s.data(), s.size());
        };
        if (!job->started) {
          job->started = true;
          for (size_t c = 0; c < job->texts.size(); ++c) {
            json ch = {{"index", c}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
            if (job->chat) {
              ch["delta"] = {{"role", "assistant"}, {"content", nullptr}};
            } else {
              continue;  // completions have no role chunk
            }
            json j = job->chunk_base();
            j["choices"] = json::array({ch});
            if (!write(job->sse(j))) return false;
          }
          job->last_write = Clock::now();
        }
        std::vector<MailItem> items;
        job->box->pop_all(&items, std::chrono::milliseconds(25));
        if (probe->closed()) return false;  // the client left: on_done below cancels
        for (const auto& it : items) {
          TextDelta d;
          job->apply(it, &d);
          if (it.done && it.completion.reason == FinishReason::kError) continue;
          if (!d.content.empty() || !d.reasoning.empty() || (want_logprobs && !d.logprobs.empty())) {
            if (!write(job->delta_chunk(it.choice, d, want_logprobs))) return false;
          }
          if (it.done) {
            json ch = {{"index", it.choice}, {"logprobs", nullptr}, {"finish_reason", job->finish_reason(it.choice)}};
            if (job->chat) {
              ch["delta"] = json::object();
            } else {
              ch["text"] = "";
            }
            json j = job->chunk_base();
            j["choices"] = json::array({ch});
            if (!write(job->sse(j))) return false;
          }
        }
        if (job->error) {
          ApiError e{500, "server_error", *job->error, "", ""};
          write(job->sse(e.to_json()));
          job->cancel_all();
          job->finished = true;
          sink.done();
          return true;
        }
        if (job->all_done()) {
          if (job->include_usage) {
            json j = job->chunk_base();
            j["choices"] = json::array();
            j["usage"] = job->usage();
            if (!write(job->sse(j))) return false;
          }
          if (!write("data: [DONE]\n\n")) return false;
          job->finished = true;
          sink.done();
          return true;
        }
        if (items.empty()) {
          if (!sink.is_writable()) return false;
          if (Clock::now() - job->last_write > std::chrono::seconds(keepalive_s)) {
            if (!write(": keep-alive\n\n")) return false;
          }
        }
        return true;
      },
      [job, this, drop](bool) {
        metrics.streams_open.fetch_sub(1, std::memory_order_relaxed);
        if (!job->finished) drop(*job);  // the client went away (or a write failed): free the slots now
      });
}

}  // namespace baleen::server
