#!/usr/bin/env node
// Differential-test oracle: generates N deterministic strings of the kinds that break tokenizers
// (random Unicode, CJK, emoji, code, digit runs, whitespace runs, special-token look-alikes) and
// encodes each with Hugging Face's own tokenizer (npm `tokenizers`, the Rust library), writing
// one JSON object per line: {"i": n, "kind": "...", "text": "...", "ids": [...], "decoded": "..."}.
// Usage: node hf_reference.js TOKENIZER_JSON OUT_JSONL COUNT SEED
// Encoding mode: addSpecialTokens=false (no BOS); added/special token strings in the text are
// matched, as HF always does. Baleen's equivalent is encode(text, add_bos=false, parse_special=true).
'use strict';
const fs = require('fs');
let Tokenizer;
try {
  ({ Tokenizer } = require('tokenizers'));
} catch (e) {
  // ctest treats exit code 77 as "skipped"; scripts/setup.sh installs the package into build/npm.
  console.log('SKIPPED: npm package `tokenizers` is not installed (run scripts/setup.sh): ' + e.message);
  process.exit(77);
}

const [tokPath, outPath, countArg, seedArg] = process.argv.slice(2);
if (!tokPath || !outPath) {
  console.error('usage: node hf_reference.js TOKENIZER_JSON OUT_JSONL [COUNT] [SEED]');
  process.exit(2);
}
if (!fs.existsSync(tokPath)) {
  console.log(`SKIPPED: ${tokPath} not found (conformance data absent; set BALEEN_CONFORMANCE_DIR)`);
  process.exit(77);
}
const count = Number(countArg || 10000);
let state = (Number(seedArg || 1) >>> 0) || 1;

// xorshift32: deterministic across Node versions.
function rnd() {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 4294967296;
}
const randint = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));  // inclusive
const pick = (arr) => arr[Math.floor(rnd() * arr.length)];

function cp(c) { return String.fromCodePoint(c); }
function randomScalar() {
  // Any Unicode scalar value, weighted towards the planes text actually uses.
  for (;;) {
    const r = rnd();
    let c;
    if (r < 0.3) c = randint(0x20, 0x7E);
    else if (r < 0.5) c = randint(0x80, 0x7FF);
    else if (r < 0.85) c = randint(0x800, 0xFFFD);
    else c = randint(0x10000, 0x10FFFF);
    if (c >= 0xD800 && c <= 0xDFFF) continue;  // surrogates are not scalar values
    return cp(c);
  }
}
const cjkRanges = [[0x4E00, 0x9FA5], [0x3040, 0x309F], [0x30A0, 0x30FF], [0xAC00, 0xD7A3], [0x3400, 0x4DBF],
                   [0x3000, 0x303F], [0xFF00, 0xFFEF], [0x9FA6, 0x9FFF]];
const emoji = ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🇯🇵', '❤️', '🤖', '🐳', '✨', '🔥', '💡', '🧪', '🏳️‍🌈', '👩🏻‍💻', '☕', '⚡', '🦀'];
const words = ['the', 'DeepSeek', 'model', 'latent', 'attention', 'Hello', 'world', "don't", "I'm", "we'll", 'naïve',
               'café', 'Straße', 'Привет', 'мир', 'Ελληνικά', 'עברית', 'العربية', 'हिन्दी', 'ภาษาไทย', 'tiếng', 'Việt',
               'a', 'I', 'x', 'ABC', 'CamelCase', 'snake_case', 'URL', 'https://example.com/a?b=c&d=1', 'e-mail@x.org'];
const codeBits = ['def f(x):\n    return x + 1\n', 'int main() { return 0; }', 'for (int i = 0; i < n; ++i) {\n\t}',
                  '#include <stdio.h>\n', 'const x = () => {};', '    if x == None:\n        pass', '<div class="a">',
                  'SELECT * FROM t WHERE id=42;', '\t\t// comment\r\n', '$ ls -la | grep "x"', 'a[i][j] += b->c;',
                  '{"key": [1, 2.5e-3, null]}', '```python\nprint(1)\n```', '!=', '===', '<=>', '::', '...', '%%'];
const specials = ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜User｜>', '<｜Assistant｜>', '<think>', '</think>',
                  '<|EOT|>', '<｜tool▁calls▁begin｜>', '<｜tool▁sep｜>', '<｜fim▁hole｜>', '<|im_start|>', '<|im_end|>',
                  '<|endoftext|>', '<|begin_of_text|>', '<|eot_id|>', '<s>', '</s>', '<unk>', '<｜▁pad▁｜>',
                  '<｜place▁holder▁no▁7｜>'];
// Slices by code point, so no surrogate pair is ever split.
const cpSlice = (s, a, b) => Array.from(s).slice(a, b).join('');
function lookalike() {
  const s = pick(specials);
  const len = Array.from(s).length;
  switch (randint(0, 7)) {
    case 0: return s;                                          // exact
    case 1: return cpSlice(s, 0, randint(1, len - 1));       // truncated
    case 2: return cpSlice(s, randint(1, len - 1));          // suffix only
    case 3: return s.replace('｜', '|');                       // ASCII bar instead of U+FF5C
    case 4: return s.replace('▁', '_');                        // underscore instead of U+2581
    case 5: return s + s;                                      // doubled
    case 6: return ' ' + s + ' ';                              // spaced
    default: return s.toUpperCase();
  }
}
const spaces = [' ', '  ', '\t', '\n', '\r\n', '\n\n', '\u00A0', '\u3000', '\u2009', '\u200B', '\r', '\v', '\f', '   \n '];
const digits = () => {
  let s = '';
  const n = randint(1, 20);
  for (let i = 0; i < n; ++i) s += pick(Array.from(pick(['0123456789', '٠١٢٣٤٥٦٧٨٩', '０１２３４５６７８９', '²³¹½', '⅓Ⅷ'])));
  return s;
};

const kinds = {
  unicode: () => { let s = ''; const n = randint(1, 24); for (let i = 0; i < n; ++i) s += randomScalar(); return s; },
  cjk: () => { let s = ''; const n = randint(1, 30); for (let i = 0; i < n; ++i) { const r = pick(cjkRanges); s += cp(randint(r[0], r[1])); if (rnd() < 0.1) s += pick([' ', '，', '。', 'a', '1']); } return s; },
  emoji: () => { let s = ''; const n = randint(1, 8); for (let i = 0; i < n; ++i) s += pick(emoji) + (rnd() < 0.3 ? pick(words) : '') + (rnd() < 0.3 ? ' ' : ''); return s; },
  code: () => { let s = ''; const n = randint(1, 4); for (let i = 0; i < n; ++i) s += pick(codeBits); return s; },
  digits: () => { let s = ''; const n = randint(1, 5); for (let i = 0; i < n; ++i) s += (rnd() < 0.5 ? String(randint(0, 1e9)) : digits()) + pick(['', ' ', '.', ',', 'x', '-', '\n']); return s; },
  whitespace: () => { let s = ''; const n = randint(1, 10); for (let i = 0; i < n; ++i) s += pick(spaces) + (rnd() < 0.5 ? pick(words) : ''); return s; },
  special: () => { let s = ''; const n = randint(1, 4); for (let i = 0; i < n; ++i) s += (rnd() < 0.5 ? pick(words) : '') + lookalike(); return s; },
  mixed: () => { let s = ''; const n = randint(2, 8); for (let i = 0; i < n; ++i) s += cpSlice(kinds[pick(['unicode', 'cjk', 'emoji', 'code', 'digits', 'whitespace', 'special'])](), 0, 40) + (rnd() < 0.5 ? ' ' : ''); return s; },
  prose: () => { let s = ''; const n = randint(3, 30); for (let i = 0; i < n; ++i) s += pick(words) + pick([' ', ' ', ' ', ', ', '. ', '!', '? ', '\n', '—', "'s "]); return s; },
};
const kindNames = Object.keys(kinds);

async function main() {
  const tok = Tokenizer.fromFile(tokPath);
  const tmpPath = outPath + '.tmp';
  const out = fs.openSync(tmpPath, 'w');
  for (let i = 0; i < count; ++i) {
    const kind = kindNames[i % kindNames.length];
    const text = kinds[kind]();
    const enc = await tok.encode(text, null, { addSpecialTokens: false });
    const ids = Array.from(enc.getIds());
    // HF's own decode: differs from `text` where the normalizer (NFC) changed it.
    const decoded = await tok.decode(ids, false);
    fs.writeSync(out, JSON.stringify({ i, kind, text, ids, decoded }) + '\n');
  }
  fs.closeSync(out);
  fs.renameSync(tmpPath, outPath);  // atomic: a partial run never leaves a truncated reference
  console.log(`hf_reference: ${count} strings encoded with tokenizers (npm) -> ${outPath}`);
}
main().catch((e) => { console.error(e); process.exit(1); });
