// Drives `baleen serve` with the official OpenAI JavaScript SDK (npm `openai` v6, pinned in
// tests/differential/package-lock.json and installed into build/npm by scripts/setup.sh --tests).
// The server runs the stories260K conformance model with the deepseek-r1 chat template, whose
// generation prompt opens a <think> block, so chat output arrives as reasoning_content.
// Usage: node openai_client.test.mjs BALEEN MODEL NPM_DIR. Exit 77 = skipped (prints why).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import assert from "node:assert/strict";
import { start_serve } from "./serve_process.mjs";

const [baleen, model, npmDir] = process.argv.slice(2);
function skip(why) { console.log("SKIPPED: " + why); process.exit(77); }
if (!fs.existsSync(model)) skip("conformance model not found: " + model);
let OpenAI;
try {
  OpenAI = createRequire(path.resolve(npmDir, "package.json"))("openai");
  OpenAI = OpenAI.default || OpenAI.OpenAI || OpenAI;
} catch (e) { skip("npm package openai not installed in " + npmDir + " (scripts/setup.sh --tests)"); }

const key = "test-key-123";
const { proc, base } = await start_serve(baleen, ["-m", model, "--api-key", key, "--chat-template", "deepseek-r1",
                                                  "--np", "2", "-c", "256", "-t", "2"]);

let failures = 0;
async function test(name, fn) {
  try { await fn(); console.log("ok   " + name); }
  catch (e) { ++failures; console.log("FAIL " + name + ": " + (e && e.stack || e)); }
}

const client = new OpenAI({ apiKey: key, baseURL: base + "/v1", maxRetries: 0 });
const messages = [{ role: "user", content: "Tell me a story" }];

await test("models.list", async () => {
  const page = await client.models.list();
  assert.equal(page.data.length, 1);
  assert.equal(page.data[0].object, "model");
});

let plainReasoning = "";
await test("chat non-streamed: reasoning_content and usage", async () => {
  const r = await client.chat.completions.create({ model: "any", messages, max_tokens: 16, temperature: 0 });
  assert.match(r.id, /^chatcmpl-/);
  assert.equal(r.object, "chat.completion");
  const msg = r.choices[0].message;
  assert.equal(msg.role, "assistant");
  plainReasoning = msg.reasoning_content;
  assert.ok(typeof plainReasoning === "string" && plainReasoning.length > 0, "reasoning_content present");
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.usage.completion_tokens, 16);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  assert.equal(r.usage.prompt_cache_hit_tokens + r.usage.prompt_cache_miss_tokens, r.usage.prompt_tokens);
  assert.equal(typeof r.usage.prompt_tokens_details.cached_tokens, "number");
});

await test("chat streamed: reasoning deltas equal the non-streamed text, usage chunk last", async () => {
  const stream = await client.chat.completions.create({
    model: "any", messages, max_tokens: 16, temperature: 0, stream: true, stream_options: { include_usage: true } });
  let reasoning = "", content = "", usage = null, finish = null, n = 0;
  for await (const chunk of stream) {
    ++n;
    if (chunk.usage) { usage = chunk.usage; assert.equal(chunk.choices.length, 0); continue; }
    const c = chunk.choices[0];
    if (c.delta.reasoning_content) reasoning += c.delta.reasoning_content;
    if (c.delta.content) content += c.delta.content;
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.ok(n >= 3);
  assert.equal(reasoning, plainReasoning);
  assert.equal(content, "");
  assert.equal(finish, "length");
  assert.ok(usage && usage.completion_tokens === 16);
});

let plainText = "";
await test("completions non-streamed", async () => {
  const r = await client.completions.create({ model: "any", prompt: "Once upon a time", max_tokens: 12, temperature: 0 });
  assert.equal(r.object, "text_completion");
  plainText = r.choices[0].text;
  assert.ok(plainText.length > 0);
  assert.equal(r.usage.completion_tokens, 12);
});

await test("completions streamed", async () => {
  const stream = await client.completions.create({
    model: "any", prompt: "Once upon a time", max_tokens: 12, temperature: 0, stream: true });
  let text = "";
  for await (const chunk of stream) text += chunk.choices.length ? chunk.choices[0].text : "";
  assert.equal(text, plainText);
});

await test("errors are APIError with status: 400 bad value", async () => {
  await assert.rejects(client.chat.completions.create({ model: "any", messages, temperature: 7 }),
    (e) => e instanceof OpenAI.APIError && e.status === 400 && /temperature/.test(e.message));
});

await test("errors: 400 context overflow, also when streaming", async () => {
  const long = "once upon a time ".repeat(400);
  for (const stream of [false, true]) {
    await assert.rejects(client.completions.create({ model: "any", prompt: long, stream }),
      (e) => e instanceof OpenAI.APIError && e.status === 400);
  }
});

await test("errors: 401 with a wrong key", async () => {
  const bad = new OpenAI({ apiKey: "wrong", baseURL: base + "/v1", maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: "any", messages }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

proc.kill("SIGTERM");
await new Promise((r) => proc.on("exit", r));
console.log(failures ? `${failures} failed` : "all passed");
process.exit(failures ? 1 : 0);
