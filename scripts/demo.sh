#!/usr/bin/env bash
# The main job: the service on the bundled real data through the replay exchange.
#   1. builds vrpd, vrp-replayd and vrpctl (release preset);
#   2. starts vrp-replayd on 127.0.0.1:18443 playing data/demo/deribit_2025-10-24.recording.jsonl
#      (the real BTC and ETH Deribit chains of 2025-10-24, 120 days of hourly bars, index, DVOL);
#   3. starts vrpd with deploy/demo.toml: it warms its forecasters up from the replay's history,
#      subscribes every option ticker, fits the smiles and serves the premium on 127.0.0.1:8080;
#   4. prints the premium grids (vrpctl get) and the URLs to open, then keeps running until Ctrl-C.
#
#   scripts/demo.sh               run until Ctrl-C
#   scripts/demo.sh --once        stop after printing and checking (scripts, CI)
#   scripts/demo.sh --calculator  also run the calculator and forecast walk-throughs first
set -euo pipefail
cd "$(dirname "$0")/.."

once=0
calculator=0
for arg in "$@"; do
  case "$arg" in
    --once) once=1 ;;
    --calculator) calculator=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "demo: unknown option '$arg' (allowed: --once, --calculator)" >&2; exit 2 ;;
  esac
done

cmake --preset release >/dev/null
cmake --build --preset release --target vrpd vrpctl vrp-replayd -j "$(nproc 2>/dev/null || echo 2)"
bin=build/release/service
vrpctl=$bin/vrpctl

if [[ $calculator == 1 ]]; then
  # The engine's pieces one by one through the calculator (vrpctl calc): own IVs next to Deribit's
  # marks and the 30-day model-free vol next to DVOL; realized vols and GARCH-family forecasts.
  data=tests/data/deribit
  for coin in btc eth; do
    chain=$(ls "$data"/deribit_${coin}_chain_*.csv)
    python3 scripts/calc_demo.py "$vrpctl" "$chain" "$data/${coin}_dvol_daily_2025-10-23_26.csv"
    python3 scripts/forecast_demo.py "$vrpctl" \
      "tests/data/bybit/bybit_spot_${coin^^}USDT_1h_2023-10-24_2025-10-24.csv"
  done
fi

for port in 18443 8080; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "demo: 127.0.0.1:$port is already in use (a demo still running?)" >&2
    exit 1
  fi
done

logs=build/demo-logs
mkdir -p "$logs"
# Paced playback (20x, gaps capped at 200 ms): each chain arrives over about 10 s, so a stream
# subscriber sees the smiles fill in.
"$bin/vrp-replayd" --recording data/demo/deribit_2025-10-24.recording.jsonl \
  --listen 127.0.0.1:18443 --speed 20 --max-gap-ms 200 >"$logs/replayd.out" 2>"$logs/replayd.err" &
replay_pid=$!
for _ in $(seq 200); do [[ -s $logs/replayd.out ]] && break; sleep 0.05; done
"$bin/vrpd" --config deploy/demo.toml >"$logs/vrpd.out" 2>"$logs/vrpd.err" &
vrpd_pid=$!
cleanup() {
  kill -TERM "$vrpd_pid" 2>/dev/null || true
  wait "$vrpd_pid" 2>/dev/null || true
  kill -TERM "$replay_pid" 2>/dev/null || true
  wait "$replay_pid" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

echo "== vrpd on the replay of 2025-10-24 (logs in $logs) =="
ready=0
for _ in $(seq 600); do
  if ! kill -0 "$vrpd_pid" 2>/dev/null; then
    echo "demo: vrpd exited; see $logs/vrpd.err" >&2
    tail -5 "$logs/vrpd.err" >&2
    exit 1
  fi
  if python3 - <<'EOF' 2>/dev/null; then ready=1; break; fi
import json, urllib.request
with urllib.request.urlopen("http://127.0.0.1:8080/readyz", timeout=2) as r:
    assert r.status == 200
# The replay has played the whole recording to vrpd's feed (both chains are in).
with urllib.request.urlopen("http://127.0.0.1:18443/control/status", timeout=2) as r:
    clients = [c for c in json.loads(r.read())["clients"] if c["subscriptions"]]
assert clients and all(c["playback_done"] for c in clients)
EOF
  sleep 0.5
done
if [[ $ready != 1 ]]; then
  echo "demo: vrpd did not become ready within 5 minutes; see $logs/vrpd.err" >&2
  exit 1
fi
sleep 1  # the engine fits what is still pending once the feed is quiet

for u in BTC ETH; do
  echo
  "$vrpctl" get premium --underlying "$u" --url http://127.0.0.1:8080
done

# The demo's own check (with --once it is CI's smoke test of this README command): every default
# tenor of both underlyings is available, with the premium equal to IV minus the forecast.
if ! python3 - <<'EOF'; then
import json, sys, urllib.request
bad = []
for u in ("BTC", "ETH"):
    with urllib.request.urlopen(f"http://127.0.0.1:8080/v1/premium?underlying={u}", timeout=5) as r:
        p = json.loads(r.read())
    for t in p["tenors"]:
        if not t["available"] or t["premium_vol"] != t["atm_iv"] - t["rv_forecast"]:
            bad.append(f"{u} {t['days']}d")
if bad:
    sys.exit("demo: no premium for " + ", ".join(bad))
print("demo: every tenor of BTC and ETH has a premium")
EOF
  if [[ $once == 1 ]]; then exit 1; fi
fi
cat <<'EOF'

Open:
  http://127.0.0.1:8080/                              the dashboard (smiles, term structure, premium grid, history)
  http://127.0.0.1:8080/v1/premium?underlying=BTC     premium grid (JSON)
  http://127.0.0.1:8080/v1/surface?underlying=BTC     SVI smiles and the engine's own IVs
  http://127.0.0.1:8080/v1/forecast?underlying=BTC    GARCH/HAR forecast
  http://127.0.0.1:8080/v1/history?underlying=BTC&tenor=30
  http://127.0.0.1:8080/metrics                       Prometheus metrics
  ws://127.0.0.1:8080/v1/stream                       {"op":"subscribe","channels":["premium.BTC"]}
  build/release/service/vrpctl watch --channels premium.BTC,premium.ETH
EOF
if [[ $once == 1 ]]; then
  exit 0
fi
echo
echo "Running; Ctrl-C stops vrpd and the replay."
wait "$vrpd_pid"
