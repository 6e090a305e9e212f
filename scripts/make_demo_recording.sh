#!/usr/bin/env bash
# Rebuilds the bundled replay recording data/demo/deribit_2025-10-24.recording.jsonl from the raw
# market data in ../shared/data/raw (provenance: data/demo/SOURCES.md). The output depends only on
# the inputs, so running this twice gives a byte-identical file.
#   scripts/make_demo_recording.sh              build vrpctl (release preset) if needed, then record
#   VRPCTL=path/to/vrpctl scripts/...           use that vrpctl instead of building one
#   VRP_SHARED=/path/to/shared scripts/...      raw data somewhere else than ../shared
#   VRP_DEMO_OUT=/tmp/x.jsonl scripts/...        write elsewhere (the tests compare with the bundled file)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
shared=${VRP_SHARED:-$root/../shared}
raw=$shared/data/raw
out=${VRP_DEMO_OUT:-$root/data/demo/deribit_2025-10-24.recording.jsonl}
history_days=120

if [[ ! -d $raw ]]; then
  echo "make_demo_recording: no raw data at $raw (set VRP_SHARED)" >&2
  exit 1
fi

if [[ -z ${VRPCTL:-} ]]; then
  cd "$root"
  [[ -f build/release/build.ninja ]] || cmake --preset release
  cmake --build --preset release --target vrpctl
  VRPCTL=$root/build/release/service/vrpctl
fi

"$VRPCTL" record --out "$out" \
  --deribit-chain "$raw/deribit_chain_2025-10-24/deribit_btc_chain_2025-10-24T2315Z.csv.gz" \
  --deribit-chain "$raw/deribit_chain_2025-10-24/deribit_eth_chain_2025-10-24T2358Z.csv.gz" \
  --bars "BTC=$raw/bybit_spot_hourly/bybit_spot_BTCUSDT_1h_2020-03-25_2025-10-24.csv.gz" \
  --bars "ETH=$raw/bybit_spot_hourly/bybit_spot_ETHUSDT_1h_2021-03-15_2025-10-24.csv.gz" \
  --dvol "BTC=$raw/deribit_dvol/btc_dvol_daily.csv" \
  --dvol "ETH=$raw/deribit_dvol/eth_dvol_daily.csv" \
  --history-days "$history_days"
