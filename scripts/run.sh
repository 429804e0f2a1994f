#!/usr/bin/env bash
# Quick start, first command: sets up Baleen (scripts/setup.sh) and runs the main job.
# Until the server (issue #5) and the trained default model exist, the main job is `baleen demo`:
# Baleen writes a small random-weight DeepSeek-V3-style model of its own, loads it back, and shows
# what it contains and how it tokenizes text. It says so plainly when it runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec build/baleen demo "$@"
