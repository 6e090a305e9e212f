#!/usr/bin/env bash
# GARCH(1,1)-t fit: vrp vs R fGarch on the same Bybit BTC hourly returns (2,000 and 17,520
# points), in one run, with the estimates compared (exit 1 when the acceptance fails), plus vrp's
# online-update and term-structure timings. Needs `scripts/install-deps.sh --bench` (QuantLib, R, r-cran-fgarch).
#   scripts/bench_garch.sh [extra Google Benchmark args]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v Rscript >/dev/null || { echo "bench_garch: Rscript missing; run scripts/install-deps.sh --bench" >&2; exit 2; }
cmake --preset bench >/dev/null
cmake --build --preset bench --target bench_garch
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
VRP_BENCH_EXPORT_DIR="$work" build/bench/tests/bench/bench_garch \
  --benchmark_filter=bm_garch_t_fit --benchmark_out="$work/vrp_bench.json" \
  --benchmark_out_format=json "$@"
Rscript tests/bench/fgarch_fit.R "$work" 2000 17520
build/bench/tests/bench/bench_garch --benchmark_filter='bm_online_update|bm_term_structure' "$@"
python3 scripts/compare_garch_fits.py "$work" 2000 17520
