#!/usr/bin/env bash
# Builds the libFuzzer targets (CMake preset `fuzz`: clang, ASan + UBSan) and fuzzes each for a
# while, one target after the other, starting from its seed corpus in tests/fuzz/corpus/<target>.
#   scripts/fuzz.sh                          every target, 60 s each
#   scripts/fuzz.sh --seconds 600 fuzz_config
#   scripts/fuzz.sh --jobs 2 --seconds 120   two libFuzzer workers per target (-fork=2)
# Options: --seconds N (per target, default 60), --jobs J (fuzzing processes per target and build
# parallelism, default 1), --workdir DIR (scratch space, default a new /tmp/vrp-fuzz.*), --no-build.
# The corpus is copied to the scratch directory first, so runs never write into the repository;
# new inputs stay in <workdir>/corpus/<target> (merge the interesting ones back by hand).
# Prints per target the executions, exec/s and the outcome; exits non-zero when any target found
# something, naming the reproducer (reproduce: build/fuzz/tests/fuzz/<target> <reproducer>).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
jobs=1
workdir=""
build=1
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="${2:?--seconds needs a number}"; shift 2 ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    --workdir) workdir="${2:?--workdir needs a directory}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[[ "$seconds" =~ ^[0-9]+$ && "$seconds" -gt 0 ]] || { echo "fuzz.sh: --seconds must be a positive integer" >&2; exit 2; }
[[ "$jobs" =~ ^[0-9]+$ && "$jobs" -gt 0 ]] || { echo "fuzz.sh: --jobs must be a positive integer" >&2; exit 2; }

# target -> -max_len: a little above the largest realistic input of each.
declare -A max_len=(
  [fuzz_deribit_codec]=8192
  [fuzz_deribit_protocol]=65536
  [fuzz_instrument_name]=128
  [fuzz_config]=8192
  [fuzz_calc_line]=4096
  [fuzz_recording]=16384
  [fuzz_http_request]=32768
  [fuzz_ws_subscription]=4096
)
all=(fuzz_deribit_codec fuzz_deribit_protocol fuzz_instrument_name fuzz_config fuzz_calc_line
     fuzz_recording fuzz_http_request fuzz_ws_subscription)
[[ ${#targets[@]} -gt 0 ]] || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ -n "${max_len[$t]:-}" ]] || { echo "fuzz.sh: unknown target '$t' (known: ${all[*]})" >&2; exit 2; }
done

bindir=build/fuzz/tests/fuzz
if [[ $build -eq 1 ]]; then
  cmake --preset fuzz >/dev/null
  cmake --build build/fuzz --target "${targets[@]}" -j "$jobs"
fi

[[ -n "$workdir" ]] || workdir=$(mktemp -d /tmp/vrp-fuzz.XXXXXX)
mkdir -p "$workdir"
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
summary=()
for t in "${targets[@]}"; do
  corpus="$workdir/corpus/$t"
  artifacts="$workdir/artifacts/$t/"
  log="$workdir/$t.log"
  rm -rf "$artifacts"
  mkdir -p "$corpus" "$artifacts"
  cp -r "tests/fuzz/corpus/$t/." "$corpus/"
  args=(-max_total_time="$seconds" -max_len="${max_len[$t]}" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$artifacts")
  [[ -f "tests/fuzz/$t.dict" ]] && args+=(-dict="tests/fuzz/$t.dict")
  [[ $jobs -gt 1 ]] && args+=(-fork="$jobs")
  echo "== $t: ${seconds}s, max_len ${max_len[$t]}, log $log"
  rc=0
  "$bindir/$t" "${args[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  # -print_final_stats (single process) or the fork mode's last status line.
  execs=$(grep -oP 'stat::number_of_executed_units:\s*\K[0-9]+' "$log" | tail -1 || true)
  rate=$(grep -oP 'stat::average_exec_per_sec:\s*\K[0-9]+' "$log" | tail -1 || true)
  if [[ -z "$execs" ]]; then
    execs=$(grep -oP '^#\K[0-9]+(?=\s)' "$log" | tail -1 || true)
    rate=$(grep -oP 'exec/s: \K[0-9]+' "$log" | tail -1 || true)
  fi
  repro=$(find "$artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
          -o -name 'oom-*' -o -name 'slow-unit-*' \) ! -name 'slow-unit-*' | head -1)
  if [[ $rc -ne 0 || -n "$repro" ]]; then
    status=1
    outcome="FOUND (exit $rc) reproducer: ${repro:-none written, see $log}"
    grep -m3 -E 'ERROR: |runtime error|invariant violated|Assertion' "$log" | sed 's/^/    /' || true
  else
    outcome="no finding"
  fi
  line=$(printf '%-24s executions %-10s exec/s %-7s %s' "$t" "${execs:-?}" "${rate:-?}" "$outcome")
  echo "$line"
  summary+=("$line")
done

echo
echo "== summary (${seconds}s per target, workdir $workdir)"
printf '%s\n' "${summary[@]}"
exit $status
