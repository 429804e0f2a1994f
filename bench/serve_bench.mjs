// Serving benchmark: drives an OpenAI-compatible endpoint (`baleen serve`, or the node-llama-cpp
// peer behind bench/peer/llama_serve.mjs) with streaming /v1/completions (or chat) requests at
// several concurrency levels, each level a fixed number of requests with a fixed prompt length and
// max_tokens, and prints, per level, in the units of `vllm bench serve`:
//   TTFT  time to first token: request sent -> first streamed chunk with text (ms)
//   TPOT  time per output token after the first, per request: (e2e - ttft) / (tokens - 1) (ms)
//   ITL   inter-token latency: every gap between consecutive text chunks of a request (ms)
//   E2E   request sent -> [DONE] (ms)
// at p50/p90/p99 (nearest rank), plus output tokens/s and requests/s over the level's wall time.
// tokens = usage.completion_tokens (stream_options.include_usage), else the text chunks counted.
// Each request gets its own prompt (its index first, so no two share a prefix beyond the first few
// tokens), built from a fixed word list to about --prompt-words words; the prompt token count the
// server reports is printed. With --ignore-eos (on by default) the server is asked to generate
// exactly max_tokens (vLLM/llama.cpp's "ignore_eos" field); the tokens actually generated are
// printed either way. One warm-up request precedes each level. Plain node (>= 20), no npm deps.
//
//   node bench/serve_bench.mjs --url http://127.0.0.1:8080 [-c 1,4,16] [-n 16] [--prompt-words 64]
//                              [--max-tokens 32] [--chat] [--no-ignore-eos] [--temperature 0]
//                              [--api-key KEY] [--json FILE]
import fs from "node:fs";

function usage(msg) {
  if (msg) process.stderr.write(`serve_bench: ${msg}\n`);
  process.stderr.write(
    "usage: node bench/serve_bench.mjs --url URL [-c 1,4,16] [-n 16] [--prompt-words 64] [--max-tokens 32]\n" +
      "                                [--chat] [--no-ignore-eos] [--temperature 0] [--api-key KEY] [--json FILE]\n");
  process.exit(2);
}

function parse_args(argv) {
  const o = { url: "", conc: [1, 4, 16], requests: 16, prompt_words: 64, max_tokens: 32, chat: false,
              ignore_eos: true, temperature: 0, api_key: "", json: "" };
  const pos_int = (name, v) => {
    if (v === undefined || !/^[0-9]+$/.test(v) || Number(v) <= 0) usage(`${name} needs a positive integer`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === "--url") o.url = argv[++i] ?? usage("--url needs a value");
    else if (a === "-c" || a === "--concurrency") o.conc = (argv[++i] ?? "").split(",").map((s) => pos_int("-c", s));
    else if (a === "-n" || a === "--requests") o.requests = pos_int(a, argv[++i]);
    else if (a === "--prompt-words") o.prompt_words = pos_int(a, argv[++i]);
    else if (a === "--max-tokens") o.max_tokens = pos_int(a, argv[++i]);
    else if (a === "--chat") o.chat = true;
    else if (a === "--no-ignore-eos") o.ignore_eos = false;
    else if (a === "--temperature") o.temperature = Number(argv[++i]);
    else if (a === "--api-key") o.api_key = argv[++i] ?? "";
    else if (a === "--json") o.json = argv[++i] ?? usage("--json needs a file");
    else if (a === "-h" || a === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.url) usage("--url is required");
  o.url = o.url.replace(/\/+$/, "");
  return o;
}

const kWords = ("the a little girl named lily went to park with her mom and saw big red ball she wanted to play " +
                "but it was too high so they asked friendly dog for help one day sun was bright happy tree bird " +
                "sang song blue sky").split(" ");

function prompt_text(index, words) {
  const out = [`Request ${index}:`];
  for (let k = 0; out.length < words; ++k) out.push(kWords[(index * 7 + k * 13 + (k >> 3)) % kWords.length]);
  return out.join(" ");
}

const now_ms = () => Number(process.hrtime.bigint()) / 1e6;

// One streamed request; timings in ms relative to the moment it was sent.
async function one_request(o, index) {
  const headers = { "Content-Type": "application/json" };
  if (o.api_key) headers.Authorization = `Bearer ${o.api_key}`;
  const text = prompt_text(index, o.prompt_words);
  const body = { model: "bench", max_tokens: o.max_tokens, temperature: o.temperature, seed: index, stream: true,
                 stream_options: { include_usage: true } };
  if (o.ignore_eos) body.ignore_eos = true;
  if (o.chat) body.messages = [{ role: "user", content: text }];
  else body.prompt = text;
  const t0 = now_ms();
  const r = await fetch(o.url + (o.chat ? "/v1/chat/completions" : "/v1/completions"),
                        { method: "POST", headers, body: JSON.stringify(body) });
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "", done = false, usage = null;
  const stamps = [];  // arrival of each chunk carrying text
  for (;;) {
    const { value, done: eof } = await reader.read();
    if (eof) break;
    const t = now_ms() - t0;
    buf += dec.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const ev = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of ev.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        const data = line.slice(6);
        if (data === "[DONE]") { done = true; continue; }
        const j = JSON.parse(data);
        if (j.error) throw new Error("error event: " + data.slice(0, 200));
        if (j.usage) usage = j.usage;
        for (const c of j.choices ?? []) {
          const piece = o.chat ? (c.delta?.content ?? "") + (c.delta?.reasoning_content ?? "") : (c.text ?? "");
          if (piece.length) stamps.push(t);
        }
      }
    }
  }
  const e2e = now_ms() - t0;
  if (!done) throw new Error("stream ended without [DONE]");
  if (!stamps.length) throw new Error("no text streamed");
  const tokens = usage?.completion_tokens ?? stamps.length;
  const itl = stamps.slice(1).map((t, k) => t - stamps[k]);
  return { ttft: stamps[0], e2e, tokens, prompt_tokens: usage?.prompt_tokens ?? null, itl,
           tpot: tokens > 1 ? (e2e - stamps[0]) / (tokens - 1) : null };
}

function pct(values, p) {
  const v = values.filter((x) => x !== null && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))];
}

async function run_level(o, conc, first_index) {
  await one_request(o, 1000000 + conc);  // warm-up, not measured
  let next = 0, failed = 0;
  const results = [], errors = [];
  const t0 = now_ms();
  const worker = async () => {
    for (let k; (k = next++) < o.requests;) {
      try {
        results.push(await one_request(o, first_index + k));
      } catch (e) {
        ++failed;
        errors.push(String(e?.message ?? e));
      }
    }
  };
  await Promise.all(Array.from({ length: conc }, worker));
  const dur_s = (now_ms() - t0) / 1000;
  const out_tokens = results.reduce((s, r) => s + r.tokens, 0);
  const stat = (xs) => ({ p50: pct(xs, 50), p90: pct(xs, 90), p99: pct(xs, 99),
                          mean: xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN });
  return {
    concurrency: conc, requests: o.requests, completed: results.length, failed, errors: errors.slice(0, 3),
    duration_s: dur_s, output_tokens: out_tokens, req_per_s: results.length / dur_s, out_tok_per_s: out_tokens / dur_s,
    prompt_tokens: results.length ? pct(results.map((r) => r.prompt_tokens ?? NaN), 50) : NaN,
    tokens_per_request: results.length ? [Math.min(...results.map((r) => r.tokens)), Math.max(...results.map((r) => r.tokens))] : [],
    ttft_ms: stat(results.map((r) => r.ttft)), tpot_ms: stat(results.map((r) => r.tpot).filter((x) => x !== null)),
    itl_ms: stat(results.flatMap((r) => r.itl)), e2e_ms: stat(results.map((r) => r.e2e)),
  };
}

async function main() {
  const o = parse_args(process.argv.slice(2));
  const headers = o.api_key ? { Authorization: `Bearer ${o.api_key}` } : {};
  const models = await (await fetch(o.url + "/v1/models", { headers })).json();
  const m = models.data?.[0] ?? {};
  console.log(`server: ${o.url}  model: ${m.id}  owned_by: ${m.owned_by}`);
  console.log(`workload: ${o.chat ? "chat" : "completions"}, streaming, ${o.requests} requests per level, ` +
              `prompt ~${o.prompt_words} words, max_tokens ${o.max_tokens}, ignore_eos ${o.ignore_eos}, ` +
              `temperature ${o.temperature}`);
  const levels = [];
  for (const [i, conc] of o.conc.entries()) levels.push(await run_level(o, conc, i * o.requests));
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "-").padStart(8);
  const trio = (s) => `${f(s.p50)}${f(s.p90)}${f(s.p99)}`;
  console.log("");
  console.log(" conc  done fail  prompt  out/req     dur s   req/s  out tok/s |" +
              "  TTFT ms p50     p90     p99 |  TPOT ms p50     p90     p99 |   ITL ms p50     p90     p99 |   E2E ms p50");
  for (const L of levels) {
    console.log(`${String(L.concurrency).padStart(5)} ${String(L.completed).padStart(5)} ${String(L.failed).padStart(4)} ` +
                `${f(L.prompt_tokens, 0)} ${(L.tokens_per_request.join("-") || "-").padStart(8)} ${f(L.duration_s, 2)}` +
                `${f(L.req_per_s, 2)} ${f(L.out_tok_per_s, 1)}   |    ${trio(L.ttft_ms)} |    ${trio(L.tpot_ms)} |    ` +
                `${trio(L.itl_ms)} | ${f(L.e2e_ms.p50)}`);
    for (const e of L.errors) console.log(`      error: ${e}`);
  }
  if (o.json) {
    fs.writeFileSync(o.json, JSON.stringify({ server: o.url, model: m.id, owned_by: m.owned_by, options: o, levels }, null, 1));
  }
  if (levels.some((L) => L.failed)) process.exitCode = 1;
}

main().catch((e) => {
  process.stderr.write(`serve_bench: ${e?.stack ?? e}\n`);
  process.exit(1);
});
