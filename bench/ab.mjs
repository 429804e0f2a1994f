// Two Baleen builds (or one build under two environments) against each other on the same model:
// runs `A bench --json` and `B bench --json` alternately for R rounds (A, B, B, A, A, B, ...: the
// order flips every round, so neither side always runs in the wake of the other's memory traffic),
// then prints per metric the median of each side, the ratio of the medians, and the median of the
// per-round ratios B / A, which a shared machine whose bandwidth moves between phases needs: both
// runs of a round usually fall in the same phase.
//
//   node bench/ab.mjs --a build-old/baleen --b build/baleen -m FILE [-R 4] [--env-a K=V ...]
//                     [--env-b K=V ...] [--json OUT.json] [-- BENCH ARGS ...]
//
// BENCH ARGS go to both `baleen bench` runs unchanged (default: -p 512 -n 128 -b 1,8); each run adds
// -r 1 (one warm-up, one timed run per measurement) unless BENCH ARGS set -r. --a and --b may name
// the same binary when --env-a / --env-b tell the two sides apart. Exit status: 0, 1 when a run
// fails, 2 on bad arguments.
import { spawnSync } from "node:child_process";
import fs from "node:fs";

import { fmt, spread } from "./stats.mjs";

function usage(msg) {
  if (msg) process.stderr.write(`ab: ${msg}\n`);
  process.stderr.write(
    "usage: node bench/ab.mjs --a PATH --b PATH -m FILE [-R 4] [--env-a K=V ...] [--env-b K=V ...] " +
      "[--json OUT] [-- BENCH ARGS ...]\n",
  );
  process.exit(2);
}

function parse_args(argv) {
  const o = { a: "", b: "", model: "", rounds: 4, env_a: {}, env_b: {}, json: "", bench: [] };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i], v = argv[i + 1];
    const take = () => { if (v === undefined) usage(`${a} needs a value`); ++i; return v; };
    const env = (into) => {
      const kv = take(), eq = kv.indexOf("=");
      if (eq <= 0) usage(`${a} needs NAME=VALUE, got ${kv}`);
      into[kv.slice(0, eq)] = kv.slice(eq + 1);
    };
    if (a === "--a") o.a = take();
    else if (a === "--b") o.b = take();
    else if (a === "-m") o.model = take();
    else if (a === "-R") {
      const x = take();
      if (!/^[0-9]+$/.test(x) || Number(x) <= 0) usage("-R needs a positive integer");
      o.rounds = Number(x);
    } else if (a === "--env-a") env(o.env_a);
    else if (a === "--env-b") env(o.env_b);
    else if (a === "--json") o.json = take();
    else if (a === "--") { o.bench = argv.slice(i + 1); break; }
    else if (a === "-h" || a === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.a || !o.b) usage("--a and --b are required");
  if (!o.model) usage("-m FILE is required");
  for (const p of [o.a, o.b, o.model]) if (!fs.existsSync(p)) usage(`no such file: ${p}`);
  if (o.bench.length === 0) o.bench = ["-p", "512", "-n", "128", "-b", "1,8"];
  if (!o.bench.includes("-r") && !o.bench.includes("--repetitions")) o.bench.push("-r", "1");
  return o;
}

// One `bench --json` run of a side; its JSON object.
function run_side(name, bin, env, o) {
  const args = ["bench", "-m", o.model, ...o.bench, "--json"];
  const env_text = Object.entries(env).map(([k, v]) => `${k}=${v} `).join("");
  process.stderr.write(`ab: ${name}: ${env_text}${bin} ${args.join(" ")}\n`);
  const r = spawnSync(bin, args, {
    encoding: "utf8", maxBuffer: 1 << 24, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"],
  });
  if (r.status !== 0) throw new Error(`${name} exited with ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout.trim().split("\n").pop());
}

// The metrics compared: [label, unit, getter, higher is better].
function metrics(run) {
  const out = [
    ["pp", "t/s", (x) => x.pp_tps, true],
    ["tg", "t/s", (x) => x.tg_tps, true],
  ];
  for (const b of Object.keys(run.batch_tps ?? {})) out.push([`batch ${b}`, "t/s", (x) => x.batch_tps?.[b], true]);
  out.push(["tg % of bandwidth, paired", "%", (x) => x.roofline_pct_paired, true]);
  out.push(["bandwidth", "GB/s", (x) => x.bandwidth_gbs, true]);
  return out;
}

// Per metric: the sides' spreads, the ratio of their medians and the spread of the per-round
// ratios B / A (rounds where either side lacks the metric are left out).
function summarize(a_runs, b_runs) {
  return metrics(a_runs[0]).map(([label, unit, get]) => {
    const sa = spread(a_runs.map(get)), sb = spread(b_runs.map(get));
    const per_round = a_runs.map((a, i) => {
      const va = get(a), vb = get(b_runs[i]);
      return typeof va === "number" && typeof vb === "number" && va > 0 ? vb / va : NaN;
    });
    return {
      metric: label, unit, a: sa, b: sb,
      ratio_of_medians: sa && sb && sa.median > 0 ? sb.median / sa.median : null,
      paired_ratio: spread(per_round),
    };
  });
}

function main() {
  const o = parse_args(process.argv.slice(2));
  const a_runs = [], b_runs = [];
  for (let r = 0; r < o.rounds; ++r) {
    process.stderr.write(`ab: round ${r + 1}/${o.rounds}\n`);
    const run_a = () => a_runs.push(run_side("A", o.a, o.env_a, o));
    const run_b = () => b_runs.push(run_side("B", o.b, o.env_b, o));
    if (r % 2 === 0) { run_a(); run_b(); } else { run_b(); run_a(); }
  }
  const rows = summarize(a_runs, b_runs);
  const env_text = (e) => Object.entries(e).map(([k, v]) => ` ${k}=${v}`).join("");
  console.log(`A: ${o.a}${env_text(o.env_a)}`);
  console.log(`B: ${o.b}${env_text(o.env_b)}`);
  console.log(`model: ${o.model}; bench args: ${o.bench.join(" ")}; ${o.rounds} interleaved round(s), the order ` +
              "flipping every round");
  console.log("");
  console.log("| metric | unit | A | B | B / A (medians) | B / A per round |");
  console.log("|---|---|---:|---:|---:|---:|");
  for (const r of rows) {
    const q = r.ratio_of_medians === null ? "n/a" : `${r.ratio_of_medians.toFixed(3)}x`;
    console.log(`| ${r.metric} | ${r.unit} | ${fmt(r.a)} | ${fmt(r.b)} | ${q} | ${fmt(r.paired_ratio, 3)} |`);
  }
  console.log("");
  console.log("values: median over rounds [min, max]; B / A > 1: B is higher (faster, for t/s).");
  if (o.json) {
    fs.writeFileSync(o.json, JSON.stringify({ options: o, a: a_runs, b: b_runs, rows }, null, 1) + "\n");
    console.log(`raw results: ${o.json}`);
  }
}

try {
  main();
} catch (e) {
  process.stderr.write(`ab: ${e?.message ?? e}\n`);
  process.exit(1);
}
