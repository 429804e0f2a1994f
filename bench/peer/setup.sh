#!/usr/bin/env bash
# Installs the peer benchmark's npm packages (bench/peer/package-lock.json: node-llama-cpp and its
# prebuilt Linux x64 CPU binaries) into build/peer/node_modules. Idempotent: does nothing when the
# installed tree matches the lock. Needs node (>= 20) and npm; not part of scripts/setup.sh (CI does
# not run the peer benchmark).
#   --omit=optional  node-llama-cpp lists its CUDA/Vulkan/other-OS builds as optional dependencies;
#                    only @node-llama-cpp/linux-x64 (a direct dependency here) is wanted.
#   --ignore-scripts node-llama-cpp's postinstall may download llama.cpp's source and build it;
#                    the prebuilt binary needs nothing from it.
# `npm install` (not `npm ci`): the lock leaves out optional platform packages that the registry
# has no 3.22.1 of, which `npm ci` reports as out of sync.
set -euo pipefail
cd "$(dirname "$0")/../.."
dest=build/peer
mkdir -p "$dest"
cp bench/peer/package.json bench/peer/package-lock.json "$dest/"
if cmp -s "$dest/package-lock.json" "$dest/node_modules/.baleen-installed-lock" 2>/dev/null; then
  echo "peer setup: $dest/node_modules is up to date"
  exit 0
fi
(cd "$dest" && npm install --omit=optional --ignore-scripts --no-save --no-audit --no-fund --loglevel=error &&
  cp package-lock.json node_modules/.baleen-installed-lock)
echo "peer setup: installed node-llama-cpp into $dest/node_modules"
