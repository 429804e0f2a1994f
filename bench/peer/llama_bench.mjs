// Peer benchmark: llama.cpp, through node-llama-cpp's prebuilt CPU binaries, on one GGUF file, with
// the same measurements as `baleen bench` (tools/cmd_bench.cc) so bench/peer/compare.mjs can put
// them side by side. Prints exactly one JSON object on stdout (llama.cpp's log goes nowhere unless
// --verbose, which sends it to stderr).
//
//   node bench/peer/llama_bench.mjs -m FILE [-p 512] [-n 128] [-b 1,8] [-t 2] [-r 3] [-c 1024]
//                                   [--batch-size 512] [--verbose]
//
// load_s  wall time of llama.loadModel (mmap on, no GPU layers; includes llama.cpp's repacking of
//         Q4_K weights into its interleaved CPU layout and node-llama-cpp's memory estimate)
// pp_tps  a prompt of -p pseudo-random token ids (fixed seed, uniform over the vocabulary),
//         evaluated into an emptied sequence in batches of --batch-size
// tg_tps  -n greedy single-token decodes after a one-token prompt (the prompt is not timed)
// batch_tps[B]  B sequences of one context (node-llama-cpp `sequences: B`), each decoding -n greedy
//         tokens after its one-token prompt; the B sequences step together, so node-llama-cpp
//         batches their B tokens into one llama_decode per step. Total tokens/s.
// Each measurement: one warm-up run, then -r timed runs; median (mean of the middle two for an
// even count), min and max.
//
// Nothing is downloaded or built at run time: getLlama gets build "never", skipDownload and
// gpu false, so it loads the prebuilt CPU binary of @node-llama-cpp/linux-x64 or fails.
import path from "node:path";
import fs from "node:fs";
import { spread } from "../stats.mjs";
import { import_node_llama_cpp } from "./node_llama.mjs";

const kSeed = 1234;

function usage(msg) {
  if (msg) process.stderr.write(`llama_bench: ${msg}\n`);
  process.stderr.write(
    "usage: node bench/peer/llama_bench.mjs -m FILE [-p 512] [-n 128] [-b 1,8] [-t 2] [-r 3] [-c 1024] " +
      "[--batch-size 512] [--verbose]\n",
  );
  process.exit(2);
}

function parse_args(argv) {
  const o = { model: "", n_prompt: 512, n_gen: 128, batches: [1, 8], threads: 2, reps: 3, ctx: 1024, batch_size: 512, verbose: false };
  const int_arg = (name, v) => {
    if (v === undefined || !/^[0-9]+$/.test(v) || Number(v) <= 0) usage(`${name} needs a positive integer`);
    return Number(v);
  };
  for (let i = 0; i < argv.length; ++i) {
    const a = argv[i];
    if (a === "-m" || a === "--model") o.model = argv[++i] ?? usage("-m needs a file");
    else if (a === "-p" || a === "--n-prompt") o.n_prompt = int_arg(a, argv[++i]);
    else if (a === "-n" || a === "--n-gen") o.n_gen = int_arg(a, argv[++i]);
    else if (a === "-t" || a === "--threads") o.threads = int_arg(a, argv[++i]);
    else if (a === "-r" || a === "--repetitions") o.reps = int_arg(a, argv[++i]);
    else if (a === "-c" || a === "--ctx") o.ctx = int_arg(a, argv[++i]);
    else if (a === "--batch-size") o.batch_size = int_arg(a, argv[++i]);
    else if (a === "-b" || a === "--batch") {
      const v = argv[++i] ?? "";
      o.batches = v.split(",").map((s) => int_arg("-b", s));
      if (new Set(o.batches).size !== o.batches.length) usage("-b lists a batch size twice");
    } else if (a === "--verbose") o.verbose = true;
    else if (a === "-h" || a === "--help") usage();
    else usage(`unknown argument ${a}`);
  }
  if (!o.model) usage("-m FILE is required");
  if (!fs.existsSync(o.model)) usage(`no such file: ${o.model}`);
  if (o.n_prompt > o.ctx) usage(`-p ${o.n_prompt} exceeds the context of ${o.ctx} tokens`);
  if (o.n_gen + 1 > o.ctx) usage(`-n ${o.n_gen} (after a one-token prompt) exceeds the context of ${o.ctx} tokens`);
  return o;
}

// splitmix64 on BigInt: a small seeded generator for the prompt ids (not Baleen's mt19937 stream:
// the ids differ, the count and distribution match).
function make_rng(seed) {
  let x = BigInt(seed);
  const mask = (1n << 64n) - 1n;
  return () => {
    x = (x + 0x9e3779b97f4a7c15n) & mask;
    let z = x;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & mask;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & mask;
    return z ^ (z >> 31n);
  };
}

const now_s = () => Number(process.hrtime.bigint()) / 1e9;

async function repeat(reps, run) {
  await run();  // warm-up
  const out = [];
  for (let r = 0; r < reps; ++r) out.push(await run());
  return spread(out);
}

// Prefill of `ids` into an emptied sequence; tokens/s.
async function run_pp(seq, ids) {
  await seq.clearHistory();
  const t0 = now_s();
  await seq.evaluateWithoutGeneratingNewTokens(ids);
  return ids.length / (now_s() - t0);
}

// Every sequence of `seqs` starts from its one-token prompt (not timed), then n_gen greedy steps in
// lockstep (one generator step per sequence, awaited together); total tokens/s.
async function run_decode(seqs, first, n_gen) {
  await Promise.all(seqs.map((s) => s.clearHistory()));
  const gens = seqs.map((s, i) => s.evaluate([first[i % first.length]], { temperature: 0 }));
  await Promise.all(gens.map((g) => g.next()));  // evaluates the prompt token, samples token 1
  const t0 = now_s();
  for (let step = 0; step < n_gen; ++step) {
    const r = await Promise.all(gens.map((g) => g.next()));  // evaluates the previous token
    if (r.some((x) => x.done)) throw new Error("generation ended early");
  }
  const dt = now_s() - t0;
  await Promise.all(gens.map((g) => g.return()));
  return (seqs.length * n_gen) / dt;
}

async function main() {
  const o = parse_args(process.argv.slice(2));
  const { lib, version, llama_cpp_release } = await import_node_llama_cpp("llama_bench");
  let cpu_backend = "";
  const logger = (level, message) => {
    const m = /loaded CPU backend from .*libggml-cpu-([A-Za-z0-9_]+)\.so/.exec(message);
    if (m) cpu_backend = m[1];
    if (o.verbose) process.stderr.write(`[${level}] ${message}${message.endsWith("\n") ? "" : "\n"}`);
  };
  // maxThreads 0: the context's `threads` is then the exact thread count, not a hint.
  const llama = await lib.getLlama({
    gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true, progressLogs: false,
    logLevel: "debug", logger, maxThreads: 0,  // "debug": the backend choice is logged below "info"
  });
  llama.logLevel = o.verbose ? "debug" : "warn";

  let t0 = now_s();
  const model = await llama.loadModel({ modelPath: o.model, useMmap: true, gpuLayers: 0 });
  const load_s = now_s() - t0;

  const embd = model.fileInfo.tensorInfo?.find((t) => t.name === "token_embd.weight");
  const n_vocab = Number(embd?.dimensions?.[1] ?? 0);
  if (!(n_vocab > 0)) throw new Error("cannot find the vocabulary size (token_embd.weight)");
  const rng = make_rng(kSeed);
  const prompt = Array.from({ length: o.n_prompt }, () => Number(rng() % BigInt(n_vocab)));

  const ctx_opts = { contextSize: o.ctx, batchSize: o.batch_size, threads: o.threads };
  const context = await model.createContext({ ...ctx_opts, sequences: 1 });
  const seq = context.getSequence();
  const pp = await repeat(o.reps, () => run_pp(seq, prompt));
  const tg = await repeat(o.reps, () => run_decode([seq], prompt, o.n_gen));
  const flash_attention = context.flashAttention;
  const context_size = context.contextSize;
  await context.dispose();

  const batch_tps = {}, batch_tps_spread = {};
  for (const b of o.batches) {
    const bctx = await model.createContext({ ...ctx_opts, sequences: b, batchSize: Math.max(o.batch_size, b) });
    const seqs = Array.from({ length: b }, () => bctx.getSequence());
    const s = await repeat(o.reps, () => run_decode(seqs, prompt, o.n_gen));
    batch_tps[String(b)] = s.median;
    batch_tps_spread[String(b)] = [s.min, s.max];
    await bctx.dispose();
  }

  const result = {
    engine: "llama.cpp via node-llama-cpp",
    node_llama_cpp_version: version,
    llama_cpp_release,
    build_type: llama.buildType,
    cpu_backend,
    system_info: llama.systemInfo.trim(),
    model: path.basename(o.model, ".gguf"),
    model_size_bytes: fs.statSync(o.model).size,
    threads: o.threads,
    context_size,
    batch_size: o.batch_size,
    flash_attention,
    n_prompt: o.n_prompt,
    n_gen: o.n_gen,
    reps: o.reps,
    load_s,
    pp_tps: pp.median,
    pp_tps_spread: [pp.min, pp.max],
    tg_tps: tg.median,
    tg_tps_spread: [tg.min, tg.max],
    batch_tps,
    batch_tps_spread,
    batch_note:
      "batch B: B sequences of one context stepped together; node-llama-cpp batches their tokens into one " +
      "llama_decode per step; batch_tps is their total tokens/s",
  };
  await model.dispose();
  await llama.dispose();
  process.stdout.write(JSON.stringify(result) + "\n");
}

main().catch((e) => {
  process.stderr.write(`llama_bench: ${e?.stack ?? e}\n`);
  process.exit(1);
});
