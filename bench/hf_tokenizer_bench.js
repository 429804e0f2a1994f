#!/usr/bin/env node
// Peer for bench/tokenizer_bench: Hugging Face's tokenizer (npm `tokenizers`, Rust, installed by
// scripts/setup.sh --tests into build/npm) encoding the same ~4 MB text, single call, median of 5.
// Usage: NODE_PATH=build/npm/node_modules node bench/hf_tokenizer_bench.js [CONFORMANCE_DIR]
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const conf = process.argv[2] || path.join(__dirname, '..', '..', 'shared', 'conformance');
const docs = path.join(conf, '..', 'docs');
let t = '';
for (const f of ['deepseek-spec.md', 'api-and-hardening.md', 'performance-anchors.md', 'training-recipe.md',
                 'codebases-we-admire.md']) {
  try { t += fs.readFileSync(path.join(docs, f), 'utf8'); } catch (e) { /* same as the C++ side: skip */ }
}
t += '中文测试：深度求索的模型在本地运行。日本語のテキストも少し。한국어 문장도 있습니다. 🐳✨\n';
// Same construction as tokenizer_bench.cc: repeat until at least 4 MiB of UTF-8.
const unit = Buffer.byteLength(t, 'utf8');
let reps = 0;
while (reps * unit < (4 << 20)) ++reps;
const text = t.repeat(reps);
const bytes = reps * unit;

async function main() {
  for (const [name, rel] of [['deepseek-v3', 'tokenizers/deepseek-v3/tokenizer.json'],
                             ['deepseek-llm', 'tokenizers/deepseek-llm/tokenizer.json'],
                             ['qwen2', 'tokenizers/deepseek-r1-distill-qwen/tokenizer.json'],
                             ['llama3', 'tokenizers/llama3/tokenizer.json']]) {
    const tok = Tokenizer.fromFile(path.join(conf, rel));
    await tok.encode(text.slice(0, 10000), null, { addSpecialTokens: false });  // warm-up
    const times = [];
    let n = 0;
    for (let i = 0; i < 5; ++i) {
      const t0 = process.hrtime.bigint();
      const enc = await tok.encode(text, null, { addSpecialTokens: false });
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
      n = enc.getIds().length;
    }
    times.sort((a, b) => a - b);
    const med = times[2];
    console.log(`hf-tokenizers encode/${name}: ${(bytes / 1e6).toFixed(2)} MB, ${n} tokens, median ${(med * 1e3).toFixed(0)} ms = ${(bytes / med / 1e6).toFixed(1)} MB/s`);
    // The same text as a batch of lines (HF's usual fast path; uses every core).
    const lines = text.split(/(?<=\n)/);
    const btimes = [];
    let bn = 0;
    for (let i = 0; i < 5; ++i) {
      const t0 = process.hrtime.bigint();
      const encs = await tok.encodeBatch(lines, { addSpecialTokens: false });
      btimes.push(Number(process.hrtime.bigint() - t0) / 1e9);
      bn = encs.reduce((a, e) => a + e.getIds().length, 0);
    }
    btimes.sort((a, b) => a - b);
    console.log(`hf-tokenizers encodeBatch(lines)/${name}: ${lines.length} lines, ${bn} tokens, median ${(btimes[2] * 1e3).toFixed(0)} ms = ${(bytes / btimes[2] / 1e6).toFixed(1)} MB/s (all cores)`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
