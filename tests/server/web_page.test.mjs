// The embedded web chat page in headless Chromium (Debian `chromium`, driven by npm
// `playwright-core` from build/npm): send a message, see streamed reasoning text in its panel
// (stories260K under the deepseek-r1 template, whose generation prompt opens <think>), and save a
// screenshot as a test artifact (build/server-web-page.png).
// Usage: node web_page.test.mjs BALEEN MODEL NPM_DIR OUT_PNG. Exit 77 = skipped (prints why).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { start_serve } from "./serve_process.mjs";

const [baleen, model, npmDir, outPng] = process.argv.slice(2);
function skip(why) { console.log("SKIPPED: " + why); process.exit(77); }
if (!fs.existsSync(model)) skip("conformance model not found: " + model);
const chromiumPath = "/usr/bin/chromium";
if (!fs.existsSync(chromiumPath)) skip("Debian chromium not installed (scripts/setup.sh --tests)");
let chromium;
try { ({ chromium } = createRequire(path.resolve(npmDir, "package.json"))("playwright-core")); }
catch (e) { skip("npm package playwright-core not installed in " + npmDir); }

const { proc, base } = await start_serve(baleen, ["-m", model, "--chat-template", "deepseek-r1", "-c", "256", "-t", "2"],
                                        { wait_healthy: false });

let ok = false;
const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
});
try {
  const page = await browser.newPage();
  await page.goto(base + "/");
  await page.waitForFunction(() => document.getElementById("status").textContent === "ready", null, { timeout: 30000 });
  const modelName = await page.textContent("#model");
  if (!/stories260K/.test(modelName)) throw new Error("model name not shown: " + modelName);
  await page.fill("#max_tokens", "40");
  await page.fill("#input", "Tell me a <b>story</b>");
  await page.click("#send");
  // The user's text is shown as text (escaped), not as markup.
  await page.waitForSelector(".msg.user");
  const userHtml = await page.innerHTML(".msg.user .content");
  if (userHtml.includes("<b>")) throw new Error("user text was rendered as HTML: " + userHtml);
  await page.waitForSelector(".msg.assistant details.reasoning:not([hidden])", { timeout: 30000 });
  await page.waitForFunction(() => !document.getElementById("send").disabled, null, { timeout: 60000 });
  const reasoning = await page.textContent(".msg.assistant .rtext");
  if (!reasoning || reasoning.trim().length === 0) throw new Error("no reasoning text streamed");
  const status = await page.textContent("#status");
  if (!/generated tokens/.test(status)) throw new Error("usage not shown: " + status);
  await page.screenshot({ path: outPng, fullPage: true });
  console.log("reasoning panel: " + JSON.stringify(reasoning.slice(0, 80)) + "...; screenshot " + outPng);
  ok = true;
} catch (e) {
  console.log("FAIL: " + (e && e.stack || e));
} finally {
  await browser.close();
  proc.kill("SIGTERM");
}
process.exit(ok ? 0 : 1);
