#!/usr/bin/env python3
"""Runs the realized side of `vrpctl calc` on bundled real Bybit hourly bars: rolling realized
vols at the last bar, GARCH-family fits on the last two years of hourly log returns, and their
forecast term structure of average vol over the premium tenors (ARCHITECTURE.md §4).

This script only turns the CSV into calculator requests and formats the replies: every vol shown
is computed by vrpctl. Returns across missing bars are left out, as the library's gap policy does
(a return is kept only when its two bars are exactly one hour apart).

usage: forecast_demo.py VRPCTL BARS_CSV
"""
import csv
import datetime as dt
import json
import math
import subprocess
import sys

HOURS_PER_YEAR = 8760
TENORS_DAYS = [1, 7, 14, 30, 60, 90, 180]


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    vrpctl, bars_csv = sys.argv[1:3]
    with open(bars_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    stamps = [dt.datetime.fromisoformat(r["timestamp"]) for r in rows]
    bars = [[float(r[k]) for k in ("open", "high", "low", "close")] for r in rows]
    returns, gaps = [], 0
    for i in range(1, len(rows)):
        if (stamps[i] - stamps[i - 1]).total_seconds() != 3600:
            gaps += 1
            continue
        returns.append(math.log(bars[i][3] / bars[i - 1][3]))

    tail = bars[-721:]  # the last 30 days of bars (+1 for the previous close)
    estimators = ["close_to_close", "parkinson", "garman_klass", "rogers_satchell", "yang_zhang"]
    models = [("garch", "normal"), ("gjr", "normal"), ("egarch", "normal"), ("gjr", "t")]
    requests = [{"op": "realized_vol", "estimator": e, "bars": tail, "window": 720,
                 "periods_per_year": HOURS_PER_YEAR} for e in estimators]
    requests += [{"op": "garch_fit", "model": m, "dist": d, "mean": "constant", "returns": returns}
                 for m, d in models]
    text = "\n".join(json.dumps(q) for q in requests) + "\n"
    out = subprocess.run([vrpctl, "calc"], input=text, capture_output=True, text=True, check=True)
    replies = [json.loads(l) for l in out.stdout.splitlines()]
    fits = replies[len(estimators):]

    horizon = 24 * max(TENORS_DAYS)
    fc_requests = []
    for (m, d), fit in zip(models, fits):
        if fit.get("ok"):
            fc_requests.append({"op": "garch_forecast", "model": m, "dist": d, "mean": "constant",
                                "params": fit["params"], "returns": returns, "horizon": horizon})
    text = "\n".join(json.dumps(q) for q in fc_requests) + "\n"
    out = subprocess.run([vrpctl, "calc"], input=text, capture_output=True, text=True, check=True)
    forecasts = iter(json.loads(l) for l in out.stdout.splitlines())

    print(f"bars: {bars_csv}  ({len(rows)} hourly bars to {rows[-1]['timestamp']} UTC, "
          f"{len(returns)} returns, {gaps} return(s) across a gap left out)")
    print("realized vol over the last 30 days (annualized, %): " + "  ".join(
        f"{e} {100 * r['vol'][-1]:.2f}" if r.get("ok") else f"{e} {r['error']['code']}"
        for e, r in zip(estimators, replies)))
    print(f"{'model':<10}{'persist.':>9}{'nu':>6}{'loglik':>11}  average forecast vol (%) over "
          + " ".join(f"{d}d" for d in TENORS_DAYS))
    for (m, d), fit in zip(models, fits):
        name = f"{m}-{'t' if d == 't' else 'n'}"
        if not fit.get("ok"):
            print(f"{name:<10} {fit['error']['code']}: {fit['error']['message']}")
            continue
        fc = next(forecasts)
        v = fc["variance"]
        cum, vols = 0.0, []
        for k, x in enumerate(v, start=1):
            cum += x
            if k % 24 == 0 and k // 24 in TENORS_DAYS:
                vols.append(100 * math.sqrt(cum / k * HOURS_PER_YEAR))
        nu = fit["params"]["nu"]
        print(f"{name:<10}{fit['persistence']:>9.4f}{(f'{nu:.2f}' if nu else '-'):>6}"
              f"{fit['loglik']:>11.1f}  " + " ".join(f"{x:6.2f}" for x in vols))
    return 0


if __name__ == "__main__":
    sys.exit(main())
