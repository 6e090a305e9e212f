#!/usr/bin/env bash
# Configures, builds and runs the test suite with a CMake preset (default: release).
#   scripts/test.sh                 release build (NDEBUG), every unit and integration test
#   scripts/test.sh --preset asan   the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   scripts/test.sh --preset tsan   the same under ThreadSanitizer
# Extra arguments after `--` go to ctest (e.g. `-- -R svi`).
set -euo pipefail
cd "$(dirname "$0")/.."

preset=release
ctest_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --preset) preset="${2:?--preset needs a name}"; shift 2 ;;
    --) shift; ctest_args=("$@"); break ;;
    *) echo "test.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

jobs=$(nproc 2>/dev/null || echo 2)
cmake --preset "$preset"
cmake --build --preset "$preset" -j "$jobs"
# The bench label holds smoke runs of the benchmarks (only built in the bench preset).
ctest --preset "$preset" -j "$jobs" --label-exclude bench "${ctest_args[@]}"
