#!/usr/bin/env python3
"""Contract test of `vrpctl calc` (ARCHITECTURE.md §5.1): every op answers with its documented
fields, published reference values come out through the JSON interface, and a malformed line gets
`ok:false` with a code while the lines after it are still answered.

Expected values come from tests/data/refdata/cases.json (published sources), never from vrpctl."""
import csv
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "refdata")
from calc_support import check, failures, run_calc


def case(group_id, case_id):
    with open(os.path.join(DATA, "cases.json")) as f:
        groups = json.load(f)["groups"]
    group = next(g for g in groups if g["id"] == group_id)
    return next(c for c in group["cases"] if c["id"] == case_id)


def cboe_term(term, rate, minutes, forward):
    quotes = []
    with open(os.path.join(DATA, "cboe_vix_example_strip.csv")) as f:
        for r in csv.DictReader(f):
            if r["term"] != term:
                continue
            k, q = float(r["strike"]), float(r["mid_quote_Q"])
            # The strip prints one Q per strike; at K0 it is the put/call average, so give both.
            types = ["put", "call"] if r["option_type"] == "put/call average" else [r["option_type"]]
            quotes += [{"strike": k, "type": t, "bid": q, "ask": q} for t in types]
    return {"minutes": minutes, "rate": rate, "forward": forward, "quotes": quotes}


def main():
    b76 = case("black76_py_vollib", "b76_greeks_call")["inputs"]
    b76_exp = case("black76_py_vollib", "b76_greeks_call")["expected"]
    haug = case("bsm_haug_values", "haug_00")
    iv_case = case("black76_py_vollib", "b76_iv_roundtrip")
    sigma2 = case("vix_cboe_2014_whitepaper", "vix2014_sigma2")
    index = case("vix_cboe_2014_whitepaper", "vix2014_index")
    near_in, next_in = sigma2["inputs"]["near"], sigma2["inputs"]["next"]
    near = cboe_term("near", near_in["R"], near_in["minutes"], near_in["F"])
    nxt = cboe_term("next", next_in["R"], next_in["minutes"], next_in["F"])

    # T = minutes / 525600 at full precision, as the case's note requires.
    # Known SVI smile (Gatheral 2004 raw form) sampled independently here.
    svi = dict(a=0.04, b=0.4, rho=-0.4, m=0.05, sigma=0.2)
    t, fwd = 0.25, 100.0
    strikes = [fwd * math.exp(k / 20.0) for k in range(-12, 13)]
    ivs = []
    for k_abs in strikes:
        k = math.log(k_abs / fwd)
        w = svi["a"] + svi["b"] * (svi["rho"] * (k - svi["m"]) + math.hypot(k - svi["m"], svi["sigma"]))
        ivs.append(math.sqrt(w / t))

    requests = [
        {"op": "black76", "forward": b76["F"], "strike": b76["K"], "t": b76["t"], "vol": b76["vol"],
         "type": "call", "discount": math.exp(-b76["r"] * b76["t"])},
        {"op": "bsm", "spot": haug["inputs"]["S"], "strike": haug["inputs"]["K"], "t": haug["inputs"]["t"],
         "vol": haug["inputs"]["vol"], "rate": haug["inputs"]["r"], "div": haug["inputs"]["q"], "type": "call"},
        {"op": "implied_vol", "price": iv_case["inputs"]["price"], "forward": iv_case["inputs"]["F"],
         "strike": iv_case["inputs"]["K"], "t": iv_case["inputs"]["t"], "type": "call",
         "discount": math.exp(-iv_case["inputs"]["r"] * iv_case["inputs"]["t"])},
        "{this is not json",
        {"op": "svi_fit", "t": t, "forward": fwd, "strikes": strikes, "ivs": ivs},
        {"op": "svi_check", "t": 1.0, "a": -0.0410, "b": 0.1331, "rho": 0.3060, "m": 0.3586, "sigma": 0.4153},
        {"op": "model_free_variance", "t": near_in["minutes"] / 525600.0, "rate": near["rate"], "forward": near["forward"],
         "quotes": near["quotes"]},
        {"op": "vix", "near": near, "next": nxt},
        {"op": "no_such_op"},
        {"op": "implied_vol", "price": 0.1, "forward": 100, "strike": 50, "t": 0.5, "type": "call"},
        {"op": "implied_vol", "price": 101, "forward": 100, "strike": 50, "t": 0.5, "type": "call"},
        {"op": "black76", "forward": -1, "strike": 50, "t": 0.5, "vol": 0.2, "type": "call"},
        {"op": "black76", "forward": 100, "strike": 50, "t": 0.5, "vol": 0.2, "type": "straddle"},
        {"op": "svi_fit", "t": t, "forward": fwd, "strikes": strikes[:3], "ivs": ivs[:3]},
        [1, 2, 3],
        {"op": "implied_vol", "price": "5.6", "forward": 100, "strike": 100, "t": 0.5, "type": "call"},
        {"op": "black76", "forward": 100, "strike": 100, "t": 0.5, "vol": 0.2, "type": "call", "id": "last"},
    ]
    proc, replies = run_calc(requests)
    if replies is None:
        return 1
    (r_b76, r_bsm, r_iv, r_bad, r_svi, r_chk, r_mfv, r_vix, r_unknown, r_below, r_above, r_neg,
     r_type, r_few, r_array, r_string, r_last) = replies

    def fields(r, names):
        return r.get("ok") is True and all(n in r for n in names)

    check(fields(r_b76, ["price", "delta", "gamma", "vega", "theta"]), f"black76 fields: {r_b76}")
    # py_vollib: delta abs 1e-6; vega per 1% and theta per day converted to our units.
    check(abs(r_b76["delta"] - b76_exp["delta"]) < 1e-6, f"black76 delta {r_b76}")
    check(abs(r_b76["gamma"] - b76_exp["gamma"]) < 1e-6, f"black76 gamma {r_b76}")
    check(abs(r_b76["vega"] * 0.01 - b76_exp["vega_per_1pct"]) < 1e-6, f"black76 vega {r_b76}")
    check(abs(r_b76["theta"] / 365 - b76_exp["theta_per_day"]) < 1e-6, f"black76 theta {r_b76}")
    check(fields(r_bsm, ["price", "delta", "gamma", "vega", "theta", "rho"]), f"bsm fields: {r_bsm}")
    check(abs(r_bsm["price"] - haug["expected"]["price"]) <= 1e-4, f"bsm Haug price {r_bsm}")
    check(fields(r_iv, ["iv"]) and abs(r_iv["iv"] - 0.2) < 1e-10, f"implied_vol {r_iv}")
    check(r_bad.get("ok") is False and r_bad["error"]["code"] == "parse_error", f"parse_error {r_bad}")
    check(fields(r_svi, ["a", "b", "rho", "m", "sigma", "rmse_vol", "butterfly_free"]), f"svi_fit {r_svi}")
    if r_svi.get("ok"):
        for k, v in svi.items():
            check(abs(r_svi[k] - v) < 1e-4, f"svi_fit recovers {k}={v}: {r_svi[k]}")
        check(r_svi["rmse_vol"] < 1e-5, f"svi_fit rmse {r_svi['rmse_vol']}")
    check(fields(r_chk, ["butterfly_free", "min_g", "argmin_k"]), f"svi_check {r_chk}")
    # Gatheral & Jacquier (2014) §2.2: Vogt's parameters admit butterfly arbitrage.
    check(r_chk.get("butterfly_free") is False and r_chk.get("min_g", 0) < 0, f"svi_check Vogt {r_chk}")
    check(fields(r_mfv, ["variance", "forward", "k0", "strikes_used"]), f"model_free_variance {r_mfv}")
    exp = sigma2["expected"]
    if r_mfv.get("ok"):
        check(abs(r_mfv["variance"] - exp["near_sigma2"]) <= sigma2["tolerance"]["sigma2_abs"], f"Cboe near sigma2 {r_mfv['variance']}")
        check(r_mfv["k0"] == near_in["K0"], f"Cboe K0 {r_mfv['k0']}")
    check(fields(r_vix, ["index", "near_variance", "next_variance"]), f"vix {r_vix}")
    if r_vix.get("ok"):
        check(abs(r_vix["index"] - index["expected"]["VIX"]) <= index["tolerance"]["VIX_abs"],
              f"Cboe VIX {r_vix['index']}")
        check(abs(r_vix["next_variance"] - exp["next_sigma2"]) <= sigma2["tolerance"]["sigma2_abs"], f"Cboe next sigma2 {r_vix}")
    for r, code in [(r_unknown, "unknown_op"), (r_below, "below_intrinsic"), (r_above, "above_maximum"),
                    (r_neg, "invalid_input"), (r_type, "invalid_input"), (r_few, "insufficient_data"),
                    (r_array, "invalid_input"), (r_string, "invalid_input")]:
        check(r.get("ok") is False and r.get("error", {}).get("code") == code, f"expected {code}: {r}")
    check(r_last.get("ok") is True and r_last.get("id") == "last", f"stream continues after errors: {r_last}")
    # Full double precision on output (17 significant digits).
    line = proc.stdout.splitlines()[-1]
    price_text = line.split('"price":')[1].split(",")[0]
    check(len(price_text.replace(".", "").lstrip("0")) >= 16, f"17-digit output: {price_text}")

    print(f"calc contract: {len(requests)} requests, {len(failures)} failed checks")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
