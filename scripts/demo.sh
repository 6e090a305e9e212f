#!/usr/bin/env bash
# The main job for now: builds vrpctl (release preset) and runs the calculator on the bundled real
# Deribit chains of 2025-10-24 (BTC 23:15 UTC, ETH 23:58 UTC): the engine's own implied vols next to
# Deribit's mark IVs, and the 30-day model-free vol next to Deribit's published DVOL; then the
# realized side on two years of Bybit hourly bars up to the same evening: realized vols and the
# GARCH-family forecast term structure; last, the production Deribit feed against the replay
# exchange playing the bundled recording of the same chains (vrp-replayd + vrpctl feed).
#   scripts/demo.sh [--all]     (--all prints every option, not only near-the-money OTM ones)
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset release >/dev/null
cmake --build --preset release --target vrpctl vrp-replayd -j "$(nproc 2>/dev/null || echo 2)"
vrpctl=build/release/service/vrpctl
data=tests/data/deribit
for coin in btc eth; do
  chain=$(ls "$data"/deribit_${coin}_chain_*.csv)
  echo
  python3 scripts/calc_demo.py "$vrpctl" "$chain" "$data/${coin}_dvol_daily_2025-10-23_26.csv" "$@"
  echo
  python3 scripts/forecast_demo.py "$vrpctl" \
    "tests/data/bybit/bybit_spot_${coin^^}USDT_1h_2023-10-24_2025-10-24.csv"
done

# The feed path: vrp-replayd speaks Deribit's JSON-RPC API on loopback and plays the recording;
# vrpctl feed discovers the instruments, subscribes, and decodes the tickers into the ring.
echo
echo "== Deribit feed against vrp-replayd (data/demo/deribit_2025-10-24.recording.jsonl) =="
out=$(mktemp -d)
build/release/service/vrp-replayd --recording data/demo/deribit_2025-10-24.recording.jsonl \
  --listen 127.0.0.1:0 --speed 0 >"$out/replay.out" 2>"$out/replay.err" &
replay_pid=$!
trap 'kill $replay_pid 2>/dev/null || true; rm -rf "$out"' EXIT
for _ in $(seq 100); do [[ -s $out/replay.out ]] && break; sleep 0.05; done
address=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["listening"])' "$out/replay.out")
"$vrpctl" feed --url "ws://$address/ws/api/v2" --duration 3 --stats-every-ms 0 | python3 scripts/feed_demo.py
