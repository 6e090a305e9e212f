#!/usr/bin/env python3
"""Contract test of the realized-side `vrpctl calc` ops (ARCHITECTURE.md §5.1): realized_vol,
garch_fit, garch_forecast, har_fit.

Expected values come from the published GARCH benchmark (tests/data/refdata/cases.json, group
garch_dem2gbp_benchmarks), from the textbook formulas evaluated here in plain Python on real Bybit
bars, and from an ordinary least-squares solve done here — never from vrpctl itself."""
import csv
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
from calc_support import check, failures, run_calc


def garch_group():
    with open(os.path.join(DATA, "refdata", "cases.json")) as f:
        return next(g for g in json.load(f)["groups"] if g["id"] == "garch_dem2gbp_benchmarks")


def dem2gbp():
    with open(os.path.join(DATA, "refdata", "dem2gbp_bollerslev_ghysels.csv")) as f:
        return [float(r["r"]) for r in csv.DictReader(f)]


def btc_bars(n):
    """First n Bybit BTCUSDT hourly bars (no gap in this range) as [o, h, l, c]."""
    path = os.path.join(DATA, "bybit", "bybit_spot_BTCUSDT_1h_2023-10-24_2025-10-24.csv")
    with open(path) as f:
        rows = list(csv.DictReader(f))[:n]
    return [[float(r["open"]), float(r["high"]), float(r["low"]), float(r["close"])] for r in rows]


def parkinson(bars, window, periods_per_year):
    """Parkinson (1980): var = mean(ln(H/L)^2) / (4 ln 2), per window ending at each bar."""
    out = []
    for i in range(len(bars)):
        if i + 1 < window:
            out.append(None)
            continue
        w = bars[i + 1 - window:i + 1]
        var = sum(math.log(b[1] / b[2]) ** 2 for b in w) / (4 * math.log(2) * window)
        out.append(math.sqrt(var * periods_per_year))
    return out


def close_to_close(bars, window, periods_per_year):
    """Sample standard deviation (n - 1) of the window's log close-to-close returns."""
    out = []
    for i in range(len(bars)):
        if i < window:
            out.append(None)
            continue
        r = [math.log(bars[j][3] / bars[j - 1][3]) for j in range(i + 1 - window, i + 1)]
        m = sum(r) / window
        out.append(math.sqrt(sum((x - m) ** 2 for x in r) / (window - 1) * periods_per_year))
    return out


def ols(rows, y):
    """Least squares by the normal equations with Gauss-Jordan elimination (4 unknowns)."""
    k = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) for j in range(k)] + [sum(r[i] * v for r, v in zip(rows, y))]
         for i in range(k)]
    for c in range(k):
        p = max(range(c, k), key=lambda i: abs(a[i][c]))
        a[c], a[p] = a[p], a[c]
        for i in range(k):
            if i != c:
                f = a[i][c] / a[c][c]
                a[i] = [x - f * z for x, z in zip(a[i], a[c])]
    return [a[i][k] / a[i][i] for i in range(k)]


def har_reference(rv):
    """Corsi (2009) HAR-RV regressors: RV_t, mean of the last 5 and of the last 22 values."""
    rows, y = [], []
    for t in range(21, len(rv) - 1):
        rows.append([1.0, rv[t], sum(rv[t - 4:t + 1]) / 5, sum(rv[t - 21:t + 1]) / 22])
        y.append(rv[t + 1])
    beta = ols(rows, y)
    fit = [sum(b * x for b, x in zip(beta, r)) for r in rows]
    mean_y = sum(y) / len(y)
    r2 = 1 - sum((a - b) ** 2 for a, b in zip(y, fit)) / sum((a - mean_y) ** 2 for a in y)
    return beta, r2


def daily_rv_btc(days):
    """Daily realized variance (sum of squared hourly log returns per UTC day), first `days` days."""
    path = os.path.join(DATA, "bybit", "bybit_spot_BTCUSDT_1h_2023-10-24_2025-10-24.csv")
    with open(path) as f:
        rows = list(csv.DictReader(f))[:24 * days + 1]
    by_day = {}
    for prev, cur in zip(rows, rows[1:]):
        r = math.log(float(cur["close"]) / float(prev["close"]))
        by_day.setdefault(cur["timestamp"][:10], []).append(r * r)
    return [sum(v) for _, v in sorted(by_day.items()) if len(v) == 24]


def main():
    group = garch_group()
    fcp = next(c for c in group["cases"] if c["id"] == "fcp_garch11_normal")
    r = dem2gbp()
    bars = btc_bars(200)
    rv = daily_rv_btc(120)

    requests = [
        {"op": "garch_fit", "model": "garch", "dist": "normal", "mean": "constant", "returns": r, "id": 1},
        {"op": "garch_forecast", "model": "garch", "dist": "normal", "mean": "constant",
         "params": {k: fcp["expected"][k] for k in ["mu", "omega", "alpha", "beta"]}, "returns": r,
         "horizon": 500},
        {"op": "realized_vol", "estimator": "parkinson", "bars": bars, "window": 24, "periods_per_year": 8760},
        {"op": "realized_vol", "estimator": "close_to_close", "bars": bars, "window": 24, "periods_per_year": 8760},
        {"op": "har_fit", "rv": rv},
        {"op": "garch_fit", "model": "egarch", "dist": "t", "mean": "zero", "returns": r},
        # Bad input: a clear error, never a crash, never NaN.
        {"op": "garch_fit", "model": "garch", "returns": [0.5] * 100},
        {"op": "garch_fit", "model": "garch", "returns": r[:10]},
        {"op": "garch_fit", "model": "arch", "returns": r},
        {"op": "garch_fit", "model": "garch", "returns": [1.0, "NaN", 2.0]},
        {"op": "garch_forecast", "model": "garch", "params": {"mu": 0, "omega": 0.01, "alpha": 0.5, "beta": 0.6},
         "returns": r, "horizon": 5},
        {"op": "garch_forecast", "model": "garch", "params": {"mu": 0, "omega": 0.01, "alpha": 0.1, "beta": 0.8},
         "returns": r, "horizon": 0},
        {"op": "realized_vol", "estimator": "parkinson", "bars": [[100, 99, 98, 100]], "window": 1,
         "periods_per_year": 365},
        {"op": "realized_vol", "estimator": "yang_zhang", "bars": bars[:5], "window": 24, "periods_per_year": 8760},
        {"op": "realized_vol", "estimator": "median", "bars": bars, "window": 24, "periods_per_year": 8760},
        {"op": "har_fit", "rv": [1.0] * 60},
        {"op": "har_fit", "rv": rv[:20]},
        {"op": "har_fit", "rv": [0.1, -0.2] * 30},
        {"op": "garch_forecast", "model": "egarch", "dist": "t",
         "params": {"mu": 0, "omega": -0.1, "alpha": -0.03, "gamma": 0.3, "beta": 0.95, "nu": 5},
         "returns": r, "horizon": 5, "paths": 1},
    ]
    proc, replies = run_calc(requests)
    check("nan" not in proc.stdout.lower(), "no NaN in any reply")
    if replies is None:
        return 1
    fit, fc, park, c2c, har, egt = replies[:6]

    # Published benchmark (Fiorentini, Calzolari & Panattoni 1996) at the case's tolerances.
    tol, exp = fcp["tolerance"], fcp["expected"]
    check(fit.get("ok") is True and fit.get("id") == 1 and fit.get("converged") is True, f"garch_fit {fit}")
    if fit.get("ok"):
        p = fit["params"]
        check(abs(p["mu"] - exp["mu"]) <= tol["mu_abs"], f"mu {p['mu']}")
        for k in ["omega", "alpha", "beta"]:
            check(abs(p[k] - exp[k]) <= tol["params_rel"] * abs(exp[k]), f"{k} {p[k]} vs {exp[k]}")
        check(abs(fit["loglik"] - exp["loglik"]) <= tol["loglik_abs"], f"loglik {fit['loglik']}")
        for k, v in exp["se_hessian"].items():
            check(abs(fit["std_errors"][k] - v) <= tol["se_rel"] * v, f"se {k} {fit['std_errors'][k]} vs {v}")
        check(p["gamma"] == 0 and p["nu"] is None, f"unused params of GARCH-normal: {p}")

    # Forecast: h_{k+1} = omega + (alpha + beta) h_k (Bollerslev 1986), started from step 1.
    check(fc.get("ok") is True and len(fc.get("variance", [])) == 500, f"garch_forecast {str(fc)[:200]}")
    if fc.get("ok"):
        v = fc["variance"]
        pers = exp["alpha"] + exp["beta"]
        for k in range(1, 500):
            want = exp["omega"] + pers * v[k - 1]
            check(abs(v[k] - want) <= 1e-12 * want, f"forecast recursion at step {k + 1}")
            if failures:
                break
        uncond = exp["omega"] / (1 - pers)
        check(abs(v[-1] - uncond) < 1e-6 * uncond, f"long horizon -> unconditional {v[-1]} vs {uncond}")
        check(abs(fc["mean_variance"] - sum(v) / len(v)) <= 1e-12 * fc["mean_variance"], "mean_variance")

    for reply, ref, name in [(park, parkinson(bars, 24, 8760), "parkinson"),
                             (c2c, close_to_close(bars, 24, 8760), "close_to_close")]:
        check(reply.get("ok") is True and len(reply.get("vol", [])) == len(bars), f"realized_vol {name}")
        if reply.get("ok"):
            for i, (got, want) in enumerate(zip(reply["vol"], ref)):
                ok = got is None if want is None else (got is not None and abs(got - want) <= 1e-9 * want)
                check(ok, f"{name} vol[{i}] {got} vs {want}")
                if not ok:
                    break

    beta, r2 = har_reference(rv)
    check(har.get("ok") is True, f"har_fit {har}")
    if har.get("ok"):
        for name, want in zip(["beta0", "beta_d", "beta_w", "beta_m"], beta):
            check(abs(har[name] - want) <= 1e-6 * max(abs(want), 1e-12) + 1e-12, f"har {name} {har[name]} vs {want}")
        check(abs(har["r2"] - r2) <= 1e-8, f"har r2 {har['r2']} vs {r2}")

    check(egt.get("ok") is True and egt["params"]["mu"] == 0 and egt["params"]["nu"] > 2, f"egarch-t zero mean {egt}")
    # E[exp(c|z|)] is infinite for t errors: EGARCH-t has no mean variance to print.
    check(egt.get("unconditional_variance", 0) is None, f"egarch-t unconditional variance {egt}")

    codes = ["insufficient_data", "insufficient_data", "invalid_input", "invalid_input", "invalid_input",
             "invalid_input", "invalid_input", "insufficient_data", "invalid_input", "degenerate",
             "insufficient_data", "invalid_input", "invalid_input"]
    for reply, code in zip(replies[6:], codes):
        check(reply.get("ok") is False and reply.get("error", {}).get("code") == code,
              f"expected {code}: {str(reply)[:200]}")

    print(f"forecast calc contract: {len(requests)} requests, {len(failures)} failed checks")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
