// The serving benchmark's peer: llama.cpp through node-llama-cpp's prebuilt CPU binaries behind a
// small node HTTP shim, so bench/serve_bench.mjs can drive it exactly as it drives `baleen serve`.
// node-llama-cpp 3.22.1 ships llama.cpp as a library (llama-addon.node + libllama), not
// llama.cpp's `llama-server` binary, and has no HTTP server of its own: this file is that server,
// and what it measures is llama.cpp's decoding plus node-llama-cpp's batching plus this shim, not
// llama-server. It says so in GET /v1/models (owned_by) and on stderr.
//
// POST /v1/completions only (streamed SSE or one JSON object; prompt, max_tokens, temperature,
// seed, ignore_eos, stream_options.include_usage), GET /v1/models, GET /health. --np sequences of
// one llama.cpp context (each --ctx tokens) decode at once: node-llama-cpp gathers the pending
// tokens of all sequences into one llama_decode per cycle, llama-server's continuous batching in
// spirit. More requests than sequences wait in a FIFO queue. A client that disconnects stops its
// generation at the next token. The prompt is tokenized with the model's tokenizer, BOS first when
// the model has one.
//
//   node bench/peer/llama_serve.mjs -m FILE [--port 8081] [--np 4] [-c 512] [-t 2] [--batch-size 512]
// Prints "listening on http://127.0.0.1:PORT" on stderr once the model is loaded.
import http from "node:http";
import path from "node:path";
import fs from "node:fs";
import { import_node_llama_cpp } from "./node_llama.mjs";

function usage(msg) {
  if (msg) process.stderr.write(`llama_serve: ${msg}\n`);
  process.stderr.write("usage: node bench/peer/llama_serve.mjs -m FILE [--port 8081] [--np 4] [-c 512] [-t 2] " +
                       "[--batch-size 512]\n");
  process.exit(2);
}

function parse_args(argv) {
  const o = { model: "", port: 8081, np: 4, ctx: 512, threads: 2, batch_size: 512 };
  const int_arg = (name, v, min = 1) => {
    if (v === undefined || !/^[0-9]+$/.test(v) || Number(v) < min) usage(`${name} needs an integer >= ${min}`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === "-m" || a === "--model") o.model = argv[++i] ?? usage("-m needs a file");
    else if (a === "--port") o.port = int_arg(a, argv[++i], 0);
    else if (a === "--np") o.np = int_arg(a, argv[++i]);
    else if (a === "-c" || a === "--ctx") o.ctx = int_arg(a, argv[++i], 2);
    else if (a === "-t" || a === "--threads") o.threads = int_arg(a, argv[++i]);
    else if (a === "--batch-size") o.batch_size = int_arg(a, argv[++i]);
    else if (a === "-h" || a === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.model || !fs.existsSync(o.model)) usage("-m FILE is required and must exist");
  return o;
}

function send_json(res, status, obj) {
  const body = JSON.stringify(obj);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}
const error_body = (message, type = "invalid_request_error") => ({ error: { message, type, param: null, code: null } });

async function main() {
  const o = parse_args(process.argv.slice(2));
  const { lib, version } = await import_node_llama_cpp("llama_serve");
  const llama = await lib.getLlama({ gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
                                     progressLogs: false, logLevel: "warn", maxThreads: 0 });
  const model = await llama.loadModel({ modelPath: o.model, useMmap: true, gpuLayers: 0 });
  const context = await model.createContext({ contextSize: o.ctx, sequences: o.np, threads: o.threads,
                                              batchSize: Math.max(o.batch_size, o.np) });
  const free = Array.from({ length: o.np }, () => context.getSequence());
  const waiting = [];
  const acquire = () => (free.length ? Promise.resolve(free.pop()) : new Promise((r) => waiting.push(r)));
  const release = (seq) => (waiting.length ? waiting.shift()(seq) : free.push(seq));
  const model_id = path.basename(o.model);
  const owned_by = `node-llama-cpp ${version} bindings behind bench/peer/llama_serve.mjs (a node HTTP shim, not llama-server)`;
  const bos = model.tokens.bos;

  async function complete(req, res, body) {
    const prompt = body.prompt;
    if (typeof prompt !== "string" || !prompt.length) return send_json(res, 400, error_body("'prompt' must be a non-empty string"));
    const max_tokens = Number.isInteger(body.max_tokens) && body.max_tokens > 0 ? body.max_tokens : 16;
    const temperature = typeof body.temperature === "number" ? body.temperature : 1;
    const stream = body.stream === true;
    const include_usage = stream && body.stream_options?.include_usage === true;
    const tokens = model.tokenize(prompt);
    if (bos !== null && bos !== undefined && tokens[0] !== bos) tokens.unshift(bos);
    if (tokens.length + max_tokens > o.ctx) {
      return send_json(res, 400, error_body(`prompt (${tokens.length}) + max_tokens exceeds the context of ${o.ctx}`));
    }
    const id = "cmpl-" + Math.random().toString(16).slice(2);
    const created = Math.floor(Date.now() / 1000);
    let gone = false;
    res.on("close", () => { gone = !res.writableFinished; });
    const chunk = (text, finish) => ({ id, object: "text_completion", created, model: model_id,
                                       choices: [{ index: 0, text, logprobs: null, finish_reason: finish }] });
    if (stream) res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });

    const seq = await acquire();
    const out = [];
    let text = "", finish = "length";
    try {
      const opts = { temperature };
      if (Number.isInteger(body.seed)) opts.seed = body.seed;
      for await (const tok of seq.evaluate(tokens, opts)) {
        if (gone) break;
        if (body.ignore_eos !== true && model.isEogToken(tok)) { finish = "stop"; break; }
        out.push(tok);
        // Incremental detokenization: hold back a trailing partial UTF-8 sequence.
        const all = model.detokenize(out);
        const end = all.endsWith("\uFFFD") && out.length < max_tokens ? all.length - 1 : all.length;
        const delta = end > text.length ? all.slice(text.length, end) : "";
        if (delta) text += delta;
        if (stream && delta) res.write(`data: ${JSON.stringify(chunk(delta, null))}\n\n`);
        if (out.length >= max_tokens) break;
      }
    } finally {
      await seq.clearHistory();
      release(seq);
    }
    if (gone) return;
    const usage = { prompt_tokens: tokens.length, completion_tokens: out.length, total_tokens: tokens.length + out.length };
    if (!stream) {
      const r = chunk(text, finish);
      r.usage = usage;
      return send_json(res, 200, r);
    }
    res.write(`data: ${JSON.stringify(chunk("", finish))}\n\n`);
    if (include_usage) {
      res.write(`data: ${JSON.stringify({ id, object: "text_completion", created, model: model_id, choices: [], usage })}\n\n`);
    }
    res.end("data: [DONE]\n\n");
  }

  const server = http.createServer((req, res) => {
    const url = req.url.split("?")[0];
    if (req.method === "GET" && (url === "/health" || url === "/v1/health")) return send_json(res, 200, { status: "ok" });
    if (req.method === "GET" && (url === "/v1/models" || url === "/models")) {
      return send_json(res, 200, { object: "list", data: [{ id: model_id, object: "model", created: 0, owned_by }] });
    }
    if (req.method !== "POST" || (url !== "/v1/completions" && url !== "/completions")) {
      return send_json(res, 404, error_body(`unknown route: ${req.method} ${url} (this shim serves /v1/completions)`,
                                            "not_found_error"));
    }
    const parts = [];
    req.on("data", (d) => parts.push(d));
    req.on("end", () => {
      let body;
      try { body = JSON.parse(Buffer.concat(parts).toString("utf8")); } catch { return send_json(res, 400, error_body("malformed JSON")); }
      complete(req, res, body).catch((e) => {
        if (!res.headersSent) send_json(res, 500, error_body(String(e?.message ?? e), "server_error"));
        else res.end(`data: ${JSON.stringify(error_body(String(e?.message ?? e), "server_error"))}\n\n`);
      });
    });
  });
  server.keepAliveTimeout = 10000;
  server.listen(o.port, "127.0.0.1", () => {
    process.stderr.write(`llama_serve: ${owned_by}; ${o.np} sequences x ${o.ctx} tokens, ${o.threads} threads\n`);
    process.stderr.write(`llama_serve: listening on http://127.0.0.1:${server.address().port}\n`);
  });
  const stop = () => { server.closeAllConnections(); server.close(async () => { await context.dispose(); await model.dispose(); await llama.dispose(); process.exit(0); }); };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((e) => {
  process.stderr.write(`llama_serve: ${e?.stack ?? e}\n`);
  process.exit(1);
});
