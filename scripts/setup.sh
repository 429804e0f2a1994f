#!/usr/bin/env bash
# Installs what Baleen's build (and, with --tests, its tests) needs on Debian 12 when missing, then
# configures and builds a Release tree in build/. Idempotent; runs as root (or with sudo).
#   scripts/setup.sh            build deps + Release build
#   scripts/setup.sh --tests    also the npm test clients (pinned in tests/differential/package-lock.json:
#                               tokenizers, openai v6, playwright-core) and Debian chromium
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
for a in "$@"; do
  case "$a" in
    --tests) want_tests=1 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

# Debian packages (each justified in README.md, "Build").
pkgs=(build-essential cmake ninja-build pkg-config git libpcre2-dev libicu-dev nlohmann-json3-dev libcli11-dev)
pkgs+=(libcpp-httplib-dev)  # HTTP server of `baleen serve` (its .pc pulls libssl-dev, zlib, brotli headers)
pkgs+=(libbenchmark-dev)
if [ "$want_tests" = 1 ]; then
  pkgs+=(libgtest-dev libgmock-dev)
  pkgs+=(chromium)  # headless browser for the web chat page test (driven by npm playwright-core)
  # Node.js may already come from elsewhere (e.g. NodeSource, whose nodejs conflicts with Debian's
  # npm package): only ask apt for what is not on the PATH.
  command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
  command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" != 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release ${BALEEN_CMAKE_ARGS:-} >/dev/null
cmake --build build -j "$jobs"

if [ "$want_tests" = 1 ]; then
  # npm test clients go into the build tree, exactly as locked.
  mkdir -p build/npm
  cp tests/differential/package.json tests/differential/package-lock.json build/npm/
  if ! cmp -s build/npm/package-lock.json build/npm/node_modules/.baleen-installed-lock 2>/dev/null; then
    (cd build/npm && npm ci --no-audit --no-fund --loglevel=error &&
      cp package-lock.json node_modules/.baleen-installed-lock)
  fi
fi
echo "setup: build/ is ready"
