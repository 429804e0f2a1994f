#!/usr/bin/env bash
# Sets up (scripts/setup.sh --tests) and runs Baleen's whole test suite:
#  1. every test in the Release build (unit, io, tokenizer, differential vs Hugging Face);
#  2. the kernel, parser, tokenizer and model tests again under AddressSanitizer + UBSan (build-asan/).
# Prints the conformance counts collected from the test logs, then ctest's summary lines.
set -euo pipefail
cd "$(dirname "$0")/.."
conf_args=()
[ -n "${BALEEN_CONFORMANCE_DIR:-}" ] && conf_args=(-DBALEEN_CONFORMANCE_DIR="$BALEEN_CONFORMANCE_DIR")
BALEEN_CMAKE_ARGS="${conf_args[*]:-}" scripts/setup.sh --tests
jobs=$(nproc)

status=0
echo "== Release tests"
(cd build && ctest -j "$jobs" --output-on-failure --timeout 600) || status=1

echo "== Sanitizer build (ASan + UBSan): kernel, parser, tokenizer and model tests"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBALEEN_SANITIZE=ON \
  -DBALEEN_BUILD_BENCH=OFF "${conf_args[@]}" >/dev/null
cmake --build build-asan -j "$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest -j "$jobs" -L "kernels|io|tokenizer|model" --output-on-failure --timeout 900) || status=1

echo "== Conformance counts"
for log in build/Testing/Temporary/LastTest.log build-asan/Testing/Temporary/LastTest.log; do
  [ -f "$log" ] || continue
  tag=release; [[ "$log" == build-asan/* ]] && tag=asan
  grep -h '^CONFORMANCE:' "$log" | sort -u | sed "s/^/[$tag] /" || true
done
exit $status
