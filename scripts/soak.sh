#!/usr/bin/env bash
# Soak test of vrpd (docs/RELIABILITY.md "Soak test"): vrp-replayd plays the bundled recording at
# maximum speed in a loop, vrpd runs against it, faults are injected every few seconds, and the
# run ends with a report (RSS over time, faults and the metrics that show them, reconnects, ring
# drops, stream frames and gaps) and a PASS/FAIL verdict (exit code 0/1).
#
#   scripts/soak.sh [--minutes N] [--fault-every S] [--speed X] [--out FILE]
#                   [--build-dir DIR] [--no-build] [-- more tests/soak/soak.py options]
#
# Defaults: 30 minutes, a fault every 5 s, speed 0 (unpaced), build dir build/release (its vrpd
# and vrp-replayd are built first unless --no-build; a missing release tree is configured with
# the release preset). `tests/soak/soak.py --help` lists every option.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=30
fault_every=5
speed=0
out=""
build_dir=build/release
build=1
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) minutes="${2:?--minutes needs a number}"; shift 2 ;;
    --fault-every) fault_every="${2:?--fault-every needs seconds}"; shift 2 ;;
    --speed) speed="${2:?--speed needs a factor}"; shift 2 ;;
    --out) out="${2:?--out needs a file}"; shift 2 ;;
    --build-dir) build_dir="${2:?--build-dir needs a directory}"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "soak.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done

if [[ $build -eq 1 ]]; then
  if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
    if [[ "$build_dir" != build/release ]]; then
      echo "soak.sh: $build_dir is not a configured build tree" >&2
      exit 2
    fi
    cmake --preset release
  fi
  cmake --build "$build_dir" --target vrpd vrp-replayd -j "$(nproc 2>/dev/null || echo 2)"
fi

for bin in vrpd vrp-replayd; do
  if [[ ! -x "$build_dir/service/$bin" ]]; then
    echo "soak.sh: $build_dir/service/$bin not found (build it or drop --no-build)" >&2
    exit 2
  fi
done

# Debian's python3-websockets is installed for the system interpreter (scripts/install-deps.sh).
python=/usr/bin/python3
[[ -x "$python" ]] || python=python3

args=(--vrpd "$build_dir/service/vrpd" --replayd "$build_dir/service/vrp-replayd"
      --source-dir "$PWD" --minutes "$minutes" --fault-every "$fault_every" --speed "$speed")
[[ -n "$out" ]] && args+=(--out "$out")
exec "$python" tests/soak/soak.py "${args[@]}" "${extra[@]}"
