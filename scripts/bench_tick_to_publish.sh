#!/usr/bin/env bash
# End-to-end tick-to-publish latency of vrpd (issue 5 acceptance): builds vrpd and the bench tool
# (Release) and runs the standard matrix: 1 and 100 subscribers at 20,000 ticks/s, the rate steps
# 20k..200k ticks/s with 1 subscriber, the loopback WebSocket echo floor and the idle CPU.
# Prints the table and one `SUMMARY {json}` line (also saved to --out).
#   scripts/bench_tick_to_publish.sh [--build-dir DIR] [--duration S] [--wait park|spin_then_park]
#                                    [--idle-seconds S] [--out FILE] [-- extra tool options]
set -euo pipefail
cd "$(dirname "$0")/.."

build=build/release
duration=10
wait=park
idle=30
out=""
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) build="${2:?}"; shift 2 ;;
    --duration) duration="${2:?}"; shift 2 ;;
    --wait) wait="${2:?}"; shift 2 ;;
    --idle-seconds) idle="${2:?}"; shift 2 ;;
    --out) out="${2:?}"; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "bench_tick_to_publish: unknown option '$1'" >&2; exit 2 ;;
  esac
done

if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$build/CMakeCache.txt")
if [[ $type != Release ]]; then
  echo "bench_tick_to_publish: $build is a '$type' build; latency figures need Release" >&2
  exit 2
fi
cmake --build "$build" -j2 --target vrpd bench_tick_to_publish

log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$build/tests/bench_tick_to_publish" --vrpd "$build/service/vrpd" \
  --subscribers 1,100 --rate 20000 \
  --steps 20000,50000,100000,150000,200000 --step-subscribers 1 \
  --duration "$duration" --wait "$wait" --idle-seconds "$idle" "${extra[@]}" | tee "$log"
if [[ -n $out ]]; then
  sed -n 's/^SUMMARY //p' "$log" >"$out"
fi
