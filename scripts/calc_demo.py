#!/usr/bin/env python3
"""Runs `vrpctl calc` on a bundled real Deribit chain and prints its implied vols and 30-day
model-free vol next to Deribit's own figures.

This script only turns the CSV into calculator requests (coin prices, forwards, times) and formats
the replies: every implied vol and variance shown is computed by vrpctl.

usage: calc_demo.py VRPCTL CHAIN_CSV DVOL_CSV [--all]
"""
import csv
import datetime as dt
import json
import subprocess
import sys

MS_PER_YEAR = 365 * 86_400_000


def parse_ts(s):
    t = dt.datetime.fromisoformat(s).replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp() * 1000)


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    vrpctl, chain_csv, dvol_csv = sys.argv[1:4]
    show_all = "--all" in sys.argv[4:]
    with open(chain_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    # The snapshot time is the first fetch (rows were fetched one by one over a few minutes).
    snap_ms = min(parse_ts(r["timestamp"]) for r in rows)

    requests, meta = [], []
    for r in rows:
        fwd = float(r["underlying_price"])
        t = (int(r["expiration"]) - parse_ts(r["timestamp"])) / MS_PER_YEAR
        for side in ("mark_price", "bid", "ask"):
            coin = float(r[side])
            if coin <= 0:
                continue
            requests.append({"op": "implied_vol", "price": coin * fwd, "forward": fwd,
                             "strike": float(r["strike"]), "t": t, "type": r["option_type"]})
            meta.append((r["instrument"], side))

    # Model-free variance: the two expiries bracketing 30 days (DVOL method, coin prices).
    expiries = {}
    for r in rows:
        expiries.setdefault(int(r["expiration"]), []).append(r)
    target_min = 30 * 1440
    mins = {e: (e - snap_ms) / 60_000 for e in expiries}
    near = max((e for e in expiries if mins[e] <= target_min), key=lambda e: mins[e])
    nxt = min((e for e in expiries if mins[e] > target_min), key=lambda e: mins[e])

    def term(e):
        quotes = [{"strike": float(r["strike"]), "type": r["option_type"],
                   "bid": float(r["bid"]), "ask": float(r["ask"])} for r in expiries[e]]
        return {"minutes": mins[e], "forward": float(expiries[e][0]["underlying_price"]),
                "quotes": quotes}

    requests.append({"op": "vix", "price_unit": "coin", "near": term(near), "next": term(nxt)})
    text = "\n".join(json.dumps(q) for q in requests) + "\n"
    out = subprocess.run([vrpctl, "calc"], input=text, capture_output=True, text=True, check=True)
    replies = [json.loads(l) for l in out.stdout.splitlines()]
    if len(replies) != len(requests):
        print(f"calc_demo: {len(requests)} requests but {len(replies)} replies", file=sys.stderr)
        return 1

    ivs = {}
    failures = {}
    for (inst, side), rep in zip(meta, replies[:-1]):
        if rep["ok"]:
            ivs.setdefault(inst, {})[side] = rep["iv"]
        else:
            failures[rep["error"]["code"]] = failures.get(rep["error"]["code"], 0) + 1

    print(f"chain: {chain_csv}  ({len(rows)} options, {len(expiries)} expiries)")
    print(f"{'instrument':<24}{'deribit mark_iv':>16}{'vrp mark iv':>13}{'bid iv':>9}{'ask iv':>9}")
    shown = 0
    for r in rows:
        iv = ivs.get(r["instrument"], {})
        k, f = float(r["strike"]), float(r["underlying_price"])
        otm = (r["option_type"] == "call") == (k >= f)
        if not show_all and (not otm or abs(k / f - 1) > 0.08):
            continue
        fmt = lambda v: f"{100 * v:8.2f}%" if v is not None else "       - "
        print(f"{r['instrument']:<24}{float(r['mark_iv']):15.2f}%{fmt(iv.get('mark_price')):>13}"
              f"{fmt(iv.get('bid')):>9}{fmt(iv.get('ask')):>9}")
        shown += 1
    n_mark = sum(1 for v in ivs.values() if "mark_price" in v)
    print(f"... {shown} near-the-money OTM rows shown (--all for every row); "
          f"{n_mark} mark prices inverted; bid/ask/mark prices not invertible: {failures or 'none'}")

    mf = replies[-1]
    day = dt.datetime.fromtimestamp(snap_ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d")
    dvol = None
    with open(dvol_csv, newline="") as f:
        for d in csv.DictReader(f):
            if d["date"] == day:
                dvol = float(d["close"])
    if mf["ok"]:
        print(f"30-day model-free vol (Cboe method, Deribit DVOL variant, expiries "
              f"{mins[near] / 1440:.2f} d and {mins[nxt] / 1440:.2f} d): {mf['index']:.2f}%")
    else:
        print(f"30-day model-free vol: failed: {mf['error']}")
    if dvol is not None:
        print(f"Deribit DVOL published close for {day}: {dvol:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
