// Baleen against llama.cpp on the same GGUF file: runs `baleen bench --json` and
// bench/peer/llama_bench.mjs alternately (baleen, llama.cpp, llama.cpp, baleen, baleen, ...: the
// order flips every round) for R rounds with the same parameters, then prints one table of medians
// over the rounds and their ratio.
//
//   node bench/peer/compare.mjs -m FILE [-p 512] [-n 128] [-b 1,8] [-t 2] [-c 1024] [-R 3]
//                               [--baleen build/baleen] [--json OUT.json]
//
// Each round runs each engine once with -r 1 (one warm-up, one timed run per measurement), so the
// two engines share the machine's state as evenly as interleaving allows; the table shows the median
// over rounds and [min, max]. Ratio = baleen / llama.cpp (> 1: Baleen is faster). The bandwidth and
// bytes per token come from `baleen bench` (its DRAM read-bandwidth probe and the file's tensor
// list); "tg % of bandwidth" = tg tokens/s x bytes per token / bandwidth, for both engines.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { fmt, spread } from "../stats.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");

function usage(msg) {
  if (msg) process.stderr.write(`compare: ${msg}\n`);
  process.stderr.write(
    "usage: node bench/peer/compare.mjs -m FILE [-p 512] [-n 128] [-b 1,8] [-t 2] [-c 1024] [-R 3] " +
      "[--baleen PATH] [--json OUT]\n",
  );
  process.exit(2);
}

function parse_args(argv) {
  const o = { model: "", p: "512", n: "128", b: "1,8", t: "2", c: "1024", rounds: 3, baleen: path.join(repo, "build/baleen"), json: "" };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i], v = argv[i + 1];
    const take = () => { if (v === undefined) usage(`${a} needs a value`); ++i; return v; };
    const int = () => { const x = take(); if (!/^[0-9]+$/.test(x) || Number(x) <= 0) usage(`${a} needs a positive integer`); return x; };
    if (a === "-m") o.model = take();
    else if (a === "-p") o.p = int();
    else if (a === "-n") o.n = int();
    else if (a === "-t") o.t = int();
    else if (a === "-c") o.c = int();
    else if (a === "-R") o.rounds = Number(int());
    else if (a === "-b") { o.b = take(); if (!/^[0-9]+(,[0-9]+)*$/.test(o.b)) usage("-b needs a list like 1,8"); }
    else if (a === "--baleen") o.baleen = take();
    else if (a === "--json") o.json = take();
    else if (a === "-h" || a === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.model) usage("-m FILE is required");
  if (!fs.existsSync(o.model)) usage(`no such file: ${o.model}`);
  if (!fs.existsSync(o.baleen)) usage(`no baleen binary at ${o.baleen} (build it, or pass --baleen)`);
  return o;
}

// Runs one engine; returns its JSON object and the wall time.
function run_engine(name, cmd, args) {
  process.stderr.write(`compare: ${name}: ${cmd} ${args.join(" ")}\n`);
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 24, stdio: ["ignore", "pipe", "inherit"] });
  const wall_s = (Date.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${name} exited with ${r.status ?? r.signal}`);
  const line = r.stdout.trim().split("\n").pop();
  return { ...JSON.parse(line), wall_s };
}

function main() {
  const o = parse_args(process.argv.slice(2));
  const common = ["-m", o.model, "-p", o.p, "-n", o.n, "-b", o.b, "-t", o.t, "-c", o.c, "-r", "1"];
  const baleen_runs = [], llama_runs = [];
  for (let r = 0; r < o.rounds; ++r) {
    process.stderr.write(`compare: round ${r + 1}/${o.rounds}\n`);
    // The order alternates between rounds (baleen first in odd rounds, llama.cpp first in even
    // ones), so neither engine always runs in the wake of the other's memory traffic and heat.
    const run_baleen = () => baleen_runs.push(run_engine("baleen", o.baleen, ["bench", ...common, "--json"]));
    const run_llama = () =>
      llama_runs.push(run_engine("llama.cpp", process.execPath, [path.join(here, "llama_bench.mjs"), ...common]));
    if (r % 2 === 0) {
      run_baleen();
      run_llama();
    } else {
      run_llama();
      run_baleen();
    }
  }

  const bytes_per_token = baleen_runs[0].bytes_per_token;
  const bw = spread(baleen_runs.map((x) => x.bandwidth_gbs));
  const pct = (tps) => (bw && bytes_per_token ? (100 * tps * bytes_per_token) / 1e9 / bw.median : NaN);
  const rows = [];
  const add = (metric, unit, bs, ls, higher_is_better = true) => {
    const ratio = bs && ls && ls.median > 0 ? bs.median / ls.median : null;
    rows.push({ metric, unit, baleen: bs, llama: ls, ratio: ratio === null ? null : higher_is_better ? ratio : 1 / ratio });
  };
  add(`pp${o.p}`, "t/s", spread(baleen_runs.map((x) => x.pp_tps)), spread(llama_runs.map((x) => x.pp_tps)));
  add(`tg${o.n}`, "t/s", spread(baleen_runs.map((x) => x.tg_tps)), spread(llama_runs.map((x) => x.tg_tps)));
  for (const b of o.b.split(",")) {
    add(`batch ${b} (tg${o.n})`, "t/s", spread(baleen_runs.map((x) => x.batch_tps?.[b])),
        spread(llama_runs.map((x) => x.batch_tps?.[b])));
  }
  add(`tg${o.n} % of bandwidth`, "%", spread(baleen_runs.map((x) => pct(x.tg_tps))),
      spread(llama_runs.map((x) => pct(x.tg_tps))));
  // Baleen only: each tg repetition against the bandwidth measured just before it (bench's
  // roofline_pct_paired), which a shared machine's moving bandwidth needs.
  add(`tg${o.n} % of bandwidth, paired`, "%", spread(baleen_runs.map((x) => x.roofline_pct_paired)), null);
  add("model load", "s", spread(baleen_runs.map((x) => x.load_s)), spread(llama_runs.map((x) => x.load_s)), false);
  add("whole run (wall)", "s", spread(baleen_runs.map((x) => x.wall_s)), spread(llama_runs.map((x) => x.wall_s)), false);

  const l0 = llama_runs[0];
  console.log(`model: ${o.model} (${(fs.statSync(o.model).size / 2 ** 30).toFixed(2)} GiB)`);
  console.log(`parameters: -p ${o.p} -n ${o.n} -b ${o.b} -t ${o.t} -c ${o.c}; ${o.rounds} interleaved round(s), ` +
              `each engine -r 1 (1 warm-up + 1 timed run per measurement) per round, the order flipping every round`);
  console.log(`llama.cpp: node-llama-cpp ${l0.node_llama_cpp_version} (${l0.build_type} binary, llama.cpp ` +
              `${l0.llama_cpp_release}), CPU backend ${l0.cpu_backend || "?"}, flash attention ${l0.flash_attention}, ` +
              `batch size ${l0.batch_size}, context ${l0.context_size}`);
  console.log(`llama.cpp CPU features: ${l0.system_info}`);
  console.log(`DRAM read bandwidth (baleen bench): ${fmt(bw)} GB/s; weights read per decoded token: ` +
              `${(bytes_per_token / 2 ** 30).toFixed(3)} GiB (${bytes_per_token} bytes)`);
  console.log("");
  console.log("| metric | unit | baleen | llama.cpp | ratio (baleen / llama.cpp) |");
  console.log("|---|---|---:|---:|---:|");
  for (const r of rows) {
    const digits = r.unit === "s" ? 1 : 2;
    const ratio = r.ratio === null ? "n/a" : `${r.ratio.toFixed(2)}x`;
    console.log(`| ${r.metric} | ${r.unit} | ${fmt(r.baleen, digits)} | ${fmt(r.llama, digits)} | ${ratio} |`);
  }
  console.log("");
  console.log("values: median over rounds [min, max]; ratio > 1: Baleen is faster (for times: takes less).");
  console.log(`baleen batch: ${baleen_runs[0].batch_note}`);
  console.log(`llama.cpp batch: ${l0.batch_note}`);
  if (baleen_runs[0].weights_fit_in_cache) {
    console.log("note: the weights read per token fit in the last-level cache: the bandwidth percentages are no DRAM bound.");
  }
  if (!baleen_runs.some((x) => typeof x.load_s === "number")) console.log("this baleen bench reports no load_s (n/a).");
  if (o.json) {
    fs.writeFileSync(o.json, JSON.stringify({ options: o, baleen: baleen_runs, llama: llama_runs, rows }, null, 1) + "\n");
    console.log(`raw results: ${o.json}`);
  }
}

try {
  main();
} catch (e) {
  process.stderr.write(`compare: ${e?.message ?? e}\n`);
  process.exit(1);
}
