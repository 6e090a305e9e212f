#!/usr/bin/env bash
# The main job for now: builds vrpctl (release preset) and runs the calculator on the bundled real
# Deribit chains of 2025-10-24 (BTC 23:15 UTC, ETH 23:58 UTC): the engine's own implied vols next to
# Deribit's mark IVs, and the 30-day model-free vol next to Deribit's published DVOL; then the
# realized side on two years of Bybit hourly bars up to the same evening: realized vols and the
# GARCH-family forecast term structure.
#   scripts/demo.sh [--all]     (--all prints every option, not only near-the-money OTM ones)
set -euo pipefail
cd "$(dirname "$0")/.."

cmake --preset release >/dev/null
cmake --build --preset release --target vrpctl -j "$(nproc 2>/dev/null || echo 2)"
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
