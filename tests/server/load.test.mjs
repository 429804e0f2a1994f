// Load test on loopback, bounded in count and time: 64 concurrent streaming clients against
// `baleen serve -np 4` on the stories260K conformance model, each with its own seed, temperature
// (0.5..1.2) and max_tokens (16..24), half chat, half text completions. Every stream must end with
// `data: [DONE]` after a finish_reason, and its concatenated text must equal the non-streamed
// answer to the same request (same seed), fetched afterwards by 64 concurrent non-streamed clients.
// A 503 (queue full) must carry Retry-After and is retried. SIGTERM with the clients' keep-alive
// connections still open must stop the server within 5 s (its keep-alive timeout is 10 s). Plain
// fetch + SSE parsing: no npm deps.
// Usage: node load.test.mjs BALEEN MODEL. Exit 77 = skipped (prints why).
import fs from "node:fs";
import assert from "node:assert/strict";
import { start_serve } from "./serve_process.mjs";

const kClients = 64;
const kDeadlineMs = 50000;  // the whole test; ctest's TIMEOUT is above it

const [baleen, model] = process.argv.slice(2);
function skip(why) { console.log("SKIPPED: " + why); process.exit(77); }
if (!fs.existsSync(model)) skip("conformance model not found: " + model);
const t_start = Date.now();
setTimeout(() => { console.log("FAIL: over the " + kDeadlineMs + " ms deadline"); proc.kill("SIGKILL"); process.exit(1); },
           kDeadlineMs).unref();

const { proc, base } = await start_serve(baleen, ["-m", model, "--chat-template", "llama3", "--np", "4", "--queue", "64",
                                                  "--http-threads", "80", "-c", "256", "-t", "2"]);

function request(i) {
  const common = { model: "x", max_tokens: 16 + (i % 9), temperature: 0.5 + (i % 8) * 0.1, seed: 1000 + 7 * i };
  return i % 2 === 0
    ? { path: "/v1/completions", body: { ...common, prompt: `Once upon a time, story ${i}, there was` } }
    : { path: "/v1/chat/completions", body: { ...common, messages: [{ role: "user", content: `Tell story ${i}` }] } };
}

let retries = 0;
async function post(path, body) {
  for (;;) {
    const r = await fetch(base + path, { method: "POST", headers: { "Content-Type": "application/json" },
                                         body: JSON.stringify(body) });
    if (r.status !== 503) return r;
    assert.ok(r.headers.get("retry-after"), "503 without Retry-After");
    await r.arrayBuffer();
    ++retries;
    await new Promise((res) => setTimeout(res, 50));
  }
}

// Streams one request; returns its text (content, or reasoning + content for chat) and events.
async function streamed(i) {
  const { path, body } = request(i);
  const r = await post(path, { ...body, stream: true });
  assert.equal(r.status, 200, `client ${i}: status ${r.status}`);
  assert.match(r.headers.get("content-type") || "", /text\/event-stream/);
  const reader = r.body.getReader();
  const dec = new TextDecoder();
  let buf = "", text = "", finish = null, done = false, events = 0;
  for (;;) {
    const { value, done: eof } = await reader.read();
    if (eof) break;
    buf += dec.decode(value, { stream: true });
    let cut;
    while ((cut = buf.indexOf("\n\n")) >= 0) {
      const ev = buf.slice(0, cut);
      buf = buf.slice(cut + 2);
      for (const line of ev.split("\n")) {
        if (!line.startsWith("data: ")) continue;
        assert.ok(!done, `client ${i}: data after [DONE]`);
        const data = line.slice(6);
        if (data === "[DONE]") { done = true; continue; }
        const j = JSON.parse(data);
        assert.ok(!j.error, `client ${i}: error event ${data}`);
        ++events;
        for (const c of j.choices) {
          if (path.includes("chat")) text += (c.delta.reasoning_content || "") + (c.delta.content || "");
          else text += c.text;
          if (c.finish_reason) finish = c.finish_reason;
        }
      }
    }
  }
  assert.ok(done, `client ${i}: the stream ended without [DONE]`);
  assert.ok(finish === "length" || finish === "stop", `client ${i}: finish_reason ${finish}`);
  return { text, finish, events };
}

async function plain(i) {
  const { path, body } = request(i);
  const r = await post(path, { ...body, stream: false });
  assert.equal(r.status, 200, `client ${i}: status ${r.status}`);
  const j = await r.json();
  const c = j.choices[0];
  const text = path.includes("chat") ? (c.message.reasoning_content || "") + (c.message.content || "") : c.text;
  return { text, finish: c.finish_reason, tokens: j.usage.completion_tokens };
}

let failures = 0;
const ids = Array.from({ length: kClients }, (_, i) => i);
const t0 = Date.now();
const streams = await Promise.allSettled(ids.map(streamed));
const t1 = Date.now();
const plains = await Promise.allSettled(ids.map(plain));
const t2 = Date.now();
let same = 0, tokens = 0;
for (const i of ids) {
  const s = streams[i], p = plains[i];
  if (s.status !== "fulfilled") { ++failures; console.log(`FAIL stream ${i}: ${s.reason?.stack || s.reason}`); continue; }
  if (p.status !== "fulfilled") { ++failures; console.log(`FAIL plain ${i}: ${p.reason?.stack || p.reason}`); continue; }
  tokens += p.value.tokens;
  if (s.value.text === p.value.text && s.value.finish === p.value.finish) {
    ++same;
  } else {
    ++failures;
    console.log(`FAIL client ${i}: streamed ${JSON.stringify(s.value.text)} (${s.value.finish}) != ` +
                `non-streamed ${JSON.stringify(p.value.text)} (${p.value.finish})`);
  }
}
const m = await (await fetch(base + "/metrics")).text();
const open = Number((m.match(/^baleen_streams_open (\S+)/m) || [])[1]);
if (open !== 0) { ++failures; console.log("FAIL streams still open after the test: " + open); }
console.log(`${kClients} streams in ${t1 - t0} ms, ${kClients} non-streamed in ${t2 - t1} ms, ` +
            `${tokens} tokens each way, ${same}/${kClients} identical, ${retries} retries after 503, ` +
            `total ${Date.now() - t_start} ms`);

// The 128 clients' keep-alive connections are still open and idle: SIGTERM must end them at once
// (Server::stop), not wait out the server's 10 s keep-alive timeout as httplib does on its own.
const kStopBoundMs = 5000;
const t_stop = Date.now();
proc.kill("SIGTERM");
await new Promise((r) => proc.on("exit", r));
const stop_ms = Date.now() - t_stop;
console.log(`server stopped in ${stop_ms} ms`);
if (stop_ms >= kStopBoundMs) {
  ++failures;
  console.log(`FAIL stopping took ${stop_ms} ms with idle keep-alive connections open (bound ${kStopBoundMs} ms)`);
}
console.log(failures ? `${failures} failed` : "all passed");
process.exit(failures ? 1 : 0);
