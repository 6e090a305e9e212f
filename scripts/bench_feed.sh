#!/usr/bin/env bash
# Socket-to-ring throughput: vrp-replayd plays the bundled real recording as fast as possible in a
# loop, and `vrpctl feed` (the production session, protocol, codec and ring, with a consumer
# thread standing in for the engine) runs pinned to ONE core; the replay gets the other core.
# Prints the option tickers per second the feed decoded into the ring over a steady window.
#   scripts/bench_feed.sh [--seconds N] [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
build=build/release
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="${2:?}"; shift 2 ;;
    --build-dir) build="${2:?}"; shift 2 ;;
    *) echo "bench_feed: unknown option '$1'" >&2; exit 2 ;;
  esac
done
[[ -x $build/service/vrpctl && -x $build/service/vrp-replayd ]] || {
  cmake --preset release >/dev/null && cmake --build --preset release --target vrpctl vrp-replayd
}

cores=$(nproc)
replay_cpu=0
feed_cpu=$(( cores > 1 ? 1 : 0 ))
out=$(mktemp -d)
trap 'kill $replay_pid 2>/dev/null || true; rm -rf "$out"' EXIT

taskset -c "$replay_cpu" "$build/service/vrp-replayd" --recording data/demo/deribit_2025-10-24.recording.jsonl \
  --listen 127.0.0.1:0 --speed 0 --loop 0 >"$out/replay.out" 2>"$out/replay.err" &
replay_pid=$!
for _ in $(seq 100); do [[ -s $out/replay.out ]] && break; sleep 0.05; done
address=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$out/replay.out")

taskset -c "$feed_cpu" "$build/service/vrpctl" feed --url "ws://$address/ws/api/v2" \
  --duration "$seconds" --stats-every-ms 1000 --no-markprice >"$out/feed.jsonl"

python3 - "$out/feed.jsonl" "$seconds" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
live = [l for l in lines if l["state"] == "live" and not l.get("final")]
if len(live) < 3:
    sys.exit("bench_feed: the feed never ran live for 3 s: " + json.dumps(lines[-1]))
first, last = live[1], live[-1]  # skip the first live second (subscription burst)
dt = last["elapsed_s"] - first["elapsed_s"]
quotes = last["consumed"]["option_quotes"] - first["consumed"]["option_quotes"]
frames = last["session"]["frames_in"] - first["session"]["frames_in"]
mib = (last["session"]["bytes_in"] - first["session"]["bytes_in"]) / 2**20
final = lines[-1]
print(json.dumps({
    "window_s": round(dt, 3),
    "option_tickers_per_s": round(quotes / dt),
    "frames_per_s": round(frames / dt),
    "MiB_per_s": round(mib / dt, 1),
    "conflated": final["ring"]["conflated"],
    "dropped": final["ring"]["dropped"],
    "rejected": final["codec"]["rejected"],
    "reconnects": final["session"]["connects"] - 1,
}))
PY
