// Loads the pinned node-llama-cpp for the peer scripts (llama_bench.mjs, llama_serve.mjs). Its
// node_modules live in the build tree (bench/peer/setup.sh); BALEEN_PEER_MODULES overrides. Exits
// with a message naming the caller when setup.sh has not been run.
import path from "node:path";
import fs from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

export async function import_node_llama_cpp(caller) {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
  const modules = process.env.BALEEN_PEER_MODULES ?? path.join(repo, "build/peer/node_modules");
  const entry = path.join(modules, "node-llama-cpp/dist/index.js");
  if (!fs.existsSync(entry)) {
    process.stderr.write(`${caller}: ${entry} is missing; run bench/peer/setup.sh first\n`);
    process.exit(1);
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(modules, "node-llama-cpp/package.json"), "utf8"));
  const info_file = path.join(modules, "node-llama-cpp/llama/llama.cpp.info.json");
  const info = fs.existsSync(info_file) ? JSON.parse(fs.readFileSync(info_file, "utf8")) : {};
  return { lib: await import(pathToFileURL(entry).href), version: pkg.version, llama_cpp_release: info.tag ?? "" };
}
