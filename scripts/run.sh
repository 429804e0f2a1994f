#!/usr/bin/env bash
# Quick start, first command: sets up Baleen (scripts/setup.sh) and runs the main job: the
# OpenAI/DeepSeek-compatible server with its web chat page (http://127.0.0.1:8080/).
# Until the trained default model exists (the training issue), the model served is the demo's:
# `baleen demo` writes a small random-weight DeepSeek-V3-style model of its own (MLA, MoE, its own
# BPE vocabulary), checks it loads and runs, and says plainly that its output is noise.
# Extra arguments go to `baleen serve` (e.g. --port 9000, -np 4).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
model=build/demo/baleen-demo-ds3.gguf
mkdir -p build/demo
build/baleen demo --out "$model" -n 8
echo
echo "Serving $model (random weights: the text is noise) at http://127.0.0.1:8080/ - Ctrl-C stops."
exec build/baleen serve -m "$model" --chat-template deepseek-v3 "$@"
