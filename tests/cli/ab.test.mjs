// bench/ab.mjs end to end on the conformance micro model: two rounds of `baleen bench --json` per
// side, the order flipping (A B, then B A), --env-b reaching only B's runs, and every summary value
// recomputed here from the raw runs it saved (medians, ratio of medians, per-round ratios). Bad
// arguments exit 2, a failing side exits 1.
// Usage: node ab.test.mjs BALEEN MODEL SOURCE_DIR. Exit 77 = skipped (prints why).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [baleen, model, source_dir] = process.argv.slice(2);
if (!fs.existsSync(model)) {
  console.log("SKIPPED: conformance model not found: " + model);
  process.exit(77);
}
const ab = path.join(source_dir, "bench/ab.mjs");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "baleen-ab-"));

function run_ab(args) {
  return spawnSync(process.execPath, [ab, ...args], { encoding: "utf8", maxBuffer: 1 << 24 });
}

// Side B is a wrapper that records the environment variable AB_MARK, then runs baleen.
const marks = path.join(tmp, "marks");
const wrapper = path.join(tmp, "b.sh");
fs.writeFileSync(wrapper, `#!/bin/sh\necho "\${AB_MARK:-unset}" >> "${marks}"\nexec "${baleen}" "$@"\n`, { mode: 0o755 });
const out_json = path.join(tmp, "ab.json");
const r = run_ab(["--a", baleen, "--b", wrapper, "-m", model, "-R", "2", "--env-b", "AB_MARK=on", "--json", out_json,
                  "--", "-p", "8", "-n", "2", "-b", "1,2"]);
assert.equal(r.status, 0, `ab.mjs failed: ${r.stderr}`);

// The order flips: round 1 runs A then B, round 2 B then A.
const order = r.stderr.split("\n").filter((l) => /^ab: [AB]: /.test(l)).map((l) => l[4]);
assert.deepEqual(order, ["A", "B", "B", "A"]);
// Both of B's runs saw AB_MARK=on (A's runs do not go through the wrapper).
assert.deepEqual(fs.readFileSync(marks, "utf8").trim().split("\n"), ["on", "on"]);

const saved = JSON.parse(fs.readFileSync(out_json, "utf8"));
assert.equal(saved.a.length, 2);
assert.equal(saved.b.length, 2);
// Each run was one repetition (-r 1 added) of the bench arguments given.
for (const run of [...saved.a, ...saved.b]) {
  assert.equal(run.reps, 1);
  assert.equal(run.n_prompt, 8);
  assert.deepEqual(Object.keys(run.batch_tps).sort(), ["1", "2"]);
}

// Medians of two values are their mean; recompute every row from the raw runs.
const median2 = (x, y) => (x + y) / 2;
const getters = {
  pp: (x) => x.pp_tps,
  tg: (x) => x.tg_tps,
  "batch 1": (x) => x.batch_tps["1"],
  "batch 2": (x) => x.batch_tps["2"],
  "tg % of bandwidth, paired": (x) => x.roofline_pct_paired,
  bandwidth: (x) => x.bandwidth_gbs,
};
assert.deepEqual(saved.rows.map((row) => row.metric), Object.keys(getters));
const close = (got, want, what) => assert.ok(Math.abs(got - want) <= 1e-9 * Math.abs(want), `${what}: ${got} != ${want}`);
for (const row of saved.rows) {
  const get = getters[row.metric];
  const [a0, a1] = saved.a.map(get), [b0, b1] = saved.b.map(get);
  close(row.a.median, median2(a0, a1), `${row.metric} A median`);
  close(row.b.median, median2(b0, b1), `${row.metric} B median`);
  assert.equal(row.a.min, Math.min(a0, a1));
  assert.equal(row.b.max, Math.max(b0, b1));
  close(row.ratio_of_medians, median2(b0, b1) / median2(a0, a1), `${row.metric} ratio of medians`);
  close(row.paired_ratio.median, median2(b0 / a0, b1 / a1), `${row.metric} per-round ratio`);
  // The table line of the metric shows the two medians.
  const line = r.stdout.split("\n").find((l) => l.startsWith(`| ${row.metric} |`));
  assert.ok(line, `no table line for ${row.metric}`);
  assert.ok(line.includes(row.a.median.toFixed(2)) && line.includes(row.b.median.toFixed(2)), line);
}

// Bad arguments: usage and exit 2.
for (const args of [
  ["--a", baleen, "-m", model],                                   // no --b
  ["--a", baleen, "--b", baleen, "-m", model, "-R", "0"],         // rounds must be positive
  ["--a", baleen, "--b", baleen, "-m", model, "--env-a", "NOEQ"], // NAME=VALUE
  ["--a", baleen, "--b", baleen, "-m", path.join(tmp, "missing.gguf")],
]) {
  const bad = run_ab(args);
  assert.equal(bad.status, 2, `${args.join(" ")}: exit ${bad.status}`);
  assert.match(bad.stderr, /usage: node bench\/ab\.mjs/);
}
// A side that fails: exit 1, naming it.
const failing = path.join(tmp, "fail.sh");
fs.writeFileSync(failing, "#!/bin/sh\nexit 3\n", { mode: 0o755 });
const f = run_ab(["--a", baleen, "--b", failing, "-m", model, "-R", "1", "--", "-p", "8", "-n", "2", "-b", "1"]);
assert.equal(f.status, 1);
assert.match(f.stderr, /ab: B exited with 3/);

fs.rmSync(tmp, { recursive: true, force: true });
console.log("ab.test.mjs: passed");
