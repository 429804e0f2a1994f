// Starts `baleen serve` for the Node tests of tests/server/: spawns it on a free port (--port 0),
// reads the port from its "listening on http://HOST:PORT" line on stderr, and (unless told not to)
// polls /health until the model has loaded. Rejects when the process exits first or does not
// start listening within start_timeout_ms.
import { spawn } from "node:child_process";

export async function start_serve(baleen, args, { start_timeout_ms = 30000, wait_healthy = true } = {}) {
  const proc = spawn(baleen, ["serve", ...args, "--port", "0"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const port = await new Promise((resolve, reject) => {
    proc.stderr.on("data", (d) => {
      stderr += d.toString();
      const m = stderr.match(/listening on http:\/\/[^:]+:(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    proc.on("exit", (code) => reject(new Error("baleen serve exited with " + code + ": " + stderr)));
    setTimeout(() => reject(new Error("baleen serve did not start: " + stderr)), start_timeout_ms).unref();
  });
  const base = `http://127.0.0.1:${port}`;
  if (wait_healthy) {
    for (let i = 0; ; ++i) {
      const r = await fetch(base + "/health").catch(() => null);
      if (r && r.status === 200) break;
      if (i > 300) throw new Error("model did not load");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { proc, port, base, stderr: () => stderr };
}
