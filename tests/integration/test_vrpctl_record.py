#!/usr/bin/env python3
"""Contract test of `vrpctl record`: a recording built from the real test copies of the Deribit
chains, Bybit hourly bars and DVOL dailies holds exactly what the CSVs say, in the wire shapes
vrp-replayd plays, sorted by time, byte-identical on a rerun; bad inputs fail with the flag, the
file and the line. The bundled data/demo recording must equal a fresh rebuild from ../shared.

Expected values come from reading the CSVs here (csv, ast, datetime), never from vrpctl."""
import ast
import calendar
import csv
import datetime
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

VRPCTL = os.environ["VRPCTL"]
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
DATA = os.path.join(ROOT, "tests", "data")
SHARED = os.environ.get("VRP_SHARED", os.path.join(ROOT, "..", "shared"))
CHAINS = {
    "BTC": os.path.join(DATA, "deribit", "deribit_btc_chain_2025-10-24T2315Z.csv"),
    "ETH": os.path.join(DATA, "deribit", "deribit_eth_chain_2025-10-24T2358Z.csv"),
}
BARS = {
    "BTC": os.path.join(DATA, "bybit", "bybit_spot_BTCUSDT_1h_2023-10-24_2025-10-24.csv"),
    "ETH": os.path.join(DATA, "bybit", "bybit_spot_ETHUSDT_1h_2023-10-24_2025-10-24.csv"),
}
DVOL = {
    "BTC": os.path.join(DATA, "deribit", "btc_dvol_daily_2025-10-23_26.csv"),
    "ETH": os.path.join(DATA, "deribit", "eth_dvol_daily_2025-10-23_26.csv"),
}
HISTORY_DAYS = 5
HOUR_MS = 3_600_000
DAY_MS = 86_400_000

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def utc_ns(text):
    """'2025-10-24T23:15:28.687627' or '2025-10-24 23:00:00' (UTC, no zone) -> integer ns."""
    t = datetime.datetime.fromisoformat(text.replace(" ", "T"))
    secs = calendar.timegm((t.year, t.month, t.day, t.hour, t.minute, t.second))
    return secs * 1_000_000_000 + t.microsecond * 1000


def read_chain(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        r["ts_ns"] = utc_ns(r["timestamp"])
        r["greeks_dict"] = ast.literal_eval(r["greeks"])
    return rows


def read_bars(path):
    with open(path, newline="") as f:
        return [(utc_ns(r["timestamp"]) // 1_000_000, r) for r in csv.DictReader(f)]


def run_record(args):
    return subprocess.run([VRPCTL, "record"] + args, capture_output=True, text=True, timeout=120)


def standard_args(out, history_days=HISTORY_DAYS):
    args = ["--out", out]
    for cur in ("BTC", "ETH"):
        args += ["--deribit-chain", CHAINS[cur]]
    for cur in ("BTC", "ETH"):
        args += ["--bars", f"{cur}={BARS[cur]}", "--dvol", f"{cur}={DVOL[cur]}"]
    return args + ["--history-days", str(history_days)]


def parse_recording(text):
    rec = {"meta": [], "rpc": [], "chart": {}, "frames": [], "order": []}
    for n, line in enumerate(text.splitlines(), 1):
        o = json.loads(line)
        if "meta" in o:
            rec["meta"].append(o["meta"])
            rec["order"].append("meta")
        elif "rpc" in o:
            rec["rpc"].append(o)
            rec["order"].append("rpc")
        elif "chart" in o:
            rec["chart"][o["chart"]["instrument_name"]] = o["chart"]
            rec["order"].append("chart")
        else:
            check(isinstance(o.get("ts_ns"), int) and isinstance(o.get("frame"), str),
                  f"line {n} is a frame line with integer ts_ns and string frame")
            rec["frames"].append((o["ts_ns"], json.loads(o["frame"])))
            rec["order"].append("frame")
    return rec


def check_recording_matches_csvs(rec, summary):
    chains = {cur: read_chain(p) for cur, p in CHAINS.items()}
    first_ns = {cur: min(r["ts_ns"] for r in rows) for cur, rows in chains.items()}

    # Line order: meta, then the canned answers and charts, then time-ordered frames.
    order = rec["order"]
    check(order[0] == "meta", "the meta line comes first")
    last_non_frame = max(i for i, k in enumerate(order) if k != "frame")
    check(all(k == "frame" for k in order[last_non_frame + 1:]) and
          order.count("frame") == len(order) - last_non_frame - 1,
          "frames come after meta, rpc and chart lines")
    ts = [t for t, _ in rec["frames"]]
    check(ts == sorted(ts), "frame lines are in non-decreasing ts_ns order")
    meta = rec["meta"][0]
    check(meta.get("created_by") == "vrpctl record", "meta created_by is 'vrpctl record'")
    files = {(i["flag"], i["file"]): i["rows"] for i in meta.get("inputs", [])}
    for cur in ("BTC", "ETH"):
        check(files.get(("--deribit-chain", os.path.basename(CHAINS[cur]))) == len(chains[cur]),
              f"meta lists the {cur} chain file with its row count")
    check("created_at" not in meta, "meta carries no wall-clock time")

    # Every frame is a Deribit subscription notification.
    for t, fr in rec["frames"]:
        if fr.get("jsonrpc") != "2.0" or fr.get("method") != "subscription" or \
                "channel" not in fr.get("params", {}) or "data" not in fr["params"]:
            check(False, f"frame at {t} is a JSON-RPC subscription notification: {fr}")
            break

    # One ticker frame per chain row, same numbers, same time.
    tickers = {}
    for t, fr in rec["frames"]:
        ch = fr["params"]["channel"]
        if ch.startswith("ticker."):
            tickers.setdefault(ch, []).append((t, fr["params"]["data"]))
    total_rows = sum(len(rows) for rows in chains.values())
    check(sum(len(v) for v in tickers.values()) == total_rows,
          f"{total_rows} ticker frames, one per chain row")
    bad = []
    for cur, rows in chains.items():
        for r in rows:
            got = tickers.get(f"ticker.{r['instrument']}.100ms", [])
            if len(got) != 1:
                bad.append(f"{r['instrument']}: {len(got)} frames")
                continue
            t, d = got[0]
            expect = {
                "best_bid_price": float(r["bid"]), "best_ask_price": float(r["ask"]),
                "mark_price": float(r["mark_price"]), "mark_iv": float(r["mark_iv"]),
                "underlying_price": float(r["underlying_price"]),
                "open_interest": float(r["oi"]),
            }
            problems = [k for k, v in expect.items() if d.get(k) != v]
            if t != r["ts_ns"]:
                problems.append(f"ts_ns {t} != {r['ts_ns']}")
            if d.get("timestamp") != r["ts_ns"] // 1_000_000:
                problems.append("timestamp")
            if d.get("instrument_name") != r["instrument"] or d.get("state") != "open":
                problems.append("instrument_name/state")
            if d.get("stats") != {"volume": float(r["volume"])}:
                problems.append("stats.volume")
            if d.get("greeks") != {k: float(v) for k, v in r["greeks_dict"].items()}:
                problems.append("greeks")
            if problems:
                bad.append(f"{r['instrument']}: {problems}")
    check(not bad, f"ticker frames equal their chain rows ({len(bad)} differ: {bad[:3]})")
    zero_bids = sum(1 for rows in chains.values() for r in rows if float(r["bid"]) == 0)
    check(zero_bids > 0, "the test chains include rows without a bid (sent as 0)")

    # Instruments per currency: the CSV's set with its expiration, strike and type.
    answers = {(x["params"]["currency"], x["params"]["kind"]): x["result"] for x in rec["rpc"]}
    check(all(x["rpc"] == "public/get_instruments" for x in rec["rpc"]),
          "rpc lines answer public/get_instruments")
    for cur, rows in chains.items():
        listed = {i["instrument_name"]: i for i in answers.get((cur, "option"), [])}
        check(set(listed) == {r["instrument"] for r in rows},
              f"{cur} option instruments equal the chain's set")
        wrong = [r["instrument"] for r in rows
                 if r["instrument"] in listed and (
                     listed[r["instrument"]].get("expiration_timestamp") != int(r["expiration"]) or
                     listed[r["instrument"]].get("strike") != float(r["strike"]) or
                     listed[r["instrument"]].get("option_type") != r["option_type"] or
                     listed[r["instrument"]].get("kind") != "option" or
                     listed[r["instrument"]].get("base_currency") != cur or
                     listed[r["instrument"]].get("settlement_currency") != cur)]
        check(not wrong, f"{cur} instruments carry the CSV's expiration/strike/type ({wrong[:3]})")
        futures = answers.get((cur, "future"), [])
        check([f["instrument_name"] for f in futures] == [f"{cur}-PERPETUAL"] and
              futures[0].get("settlement_period") == "perpetual" and
              futures[0].get("kind") == "future",
              f"{cur} futures answer lists {cur}-PERPETUAL as a perpetual")
        check(summary["instruments"].get(cur) == len(rows), f"summary counts {cur} instruments")

    # Chart: hourly bars that closed before the first chain row, history_days back; the index
    # frame is the last of them.
    end_ms_of = {}
    for cur in ("BTC", "ETH"):
        chart = rec["chart"].get(f"{cur}-PERPETUAL")
        check(chart is not None and chart.get("resolution") == "60",
              f"{cur}-PERPETUAL chart at resolution 60")
        if chart is None:
            continue
        bars = read_bars(BARS[cur])
        closed = [(t, r) for t, r in bars if (t + HOUR_MS) * 1_000_000 <= first_ns[cur]]
        end_ms = closed[-1][0] + HOUR_MS
        end_ms_of[cur] = end_ms
        expect = [(t, r) for t, r in closed if t >= end_ms - HISTORY_DAYS * DAY_MS]
        ticks = chart["ticks"]
        check(len(ticks) == HISTORY_DAYS * 24, f"{cur} chart has {HISTORY_DAYS * 24} hourly bars")
        check(all(b - a == HOUR_MS for a, b in zip(ticks, ticks[1:])), f"{cur} ticks are hourly")
        check(ticks[-1] + HOUR_MS <= first_ns[cur] // 1_000_000 < ticks[-1] + 2 * HOUR_MS,
              f"{cur} chart ends with the last bar closed before the first chain row")
        check(ticks[0] == ticks[-1] + HOUR_MS - HISTORY_DAYS * DAY_MS,
              f"{cur} chart starts history-days before its end")
        check(ticks == [t for t, _ in expect], f"{cur} chart ticks are the CSV's bar opens")
        for k in ("open", "high", "low", "close"):
            check(chart.get(k) == [float(r[k]) for _, r in expect], f"{cur} chart {k} equals the CSV")
        check("volume" not in chart and "cost" not in chart,
              f"{cur} chart has no volume/cost (the test bars have no such columns)")
        check(summary["chart_bars"].get(cur) == len(expect), f"summary counts {cur} chart bars")

        idx = [(t, fr["params"]["data"]) for t, fr in rec["frames"]
               if fr["params"]["channel"] == f"deribit_price_index.{cur.lower()}_usd"]
        check(len(idx) == 1, f"one deribit_price_index.{cur.lower()}_usd frame")
        if idx:
            t, d = idx[0]
            check(d == {"timestamp": end_ms, "price": float(expect[-1][1]["close"]),
                        "index_name": f"{cur.lower()}_usd"} and t == end_ms * 1_000_000,
                  f"{cur} index frame is the last closed bar's close at its close time: {d}")

        with open(DVOL[cur], newline="") as f:
            days = [r for r in csv.DictReader(f)]
        before = [r for r in days
                  if (utc_ns(r["date"] + "T00:00:00") // 1_000_000 + DAY_MS) * 1_000_000
                  < first_ns[cur]]
        want = max(before, key=lambda r: r["date"])
        want_ms = utc_ns(want["date"] + "T00:00:00") // 1_000_000 + DAY_MS
        vol = [(t, fr["params"]["data"]) for t, fr in rec["frames"]
               if fr["params"]["channel"] == f"deribit_volatility_index.{cur.lower()}_usd"]
        # Played with the first live data (the index frame at the last bar's close), so that the
        # replay's clock starts in the replayed market's hour; the data keep the day's end.
        live_ns = max(want_ms * 1_000_000, end_ms_of[cur] * 1_000_000)
        check(vol == [(live_ns, {"volatility": float(want["close"]),
                                 "timestamp": want_ms,
                                 "index_name": f"{cur.lower()}_usd"})],
              f"{cur} DVOL frame is the {want['date']} close, played with the first live data: {vol}")

    check(summary["frames"] == len(rec["frames"]), "summary counts the frames")
    check(summary["first_ts_ns"] == ts[0] and summary["last_ts_ns"] == ts[-1],
          "summary gives the first and last frame times")


def check_errors(tmp):
    out = os.path.join(tmp, "bad.jsonl")

    def expect_failure(args, needles, what, code=None):
        p = run_record(args)
        ok = p.returncode != 0 and (code is None or p.returncode == code)
        check(ok, f"{what}: exit code {p.returncode} is non-zero")
        missing = [n for n in needles if n not in p.stderr]
        check(not missing, f"{what}: message names {missing}: {p.stderr.strip()}")
        check(not os.path.exists(out), f"{what}: no output file is left")
        check(not [f for f in os.listdir(tmp) if ".tmp." in f], f"{what}: no temporary file left")

    missing_chain = os.path.join(tmp, "no_such_chain.csv")
    expect_failure(["--out", out, "--deribit-chain", missing_chain],
                   ["--deribit-chain", missing_chain], "missing chain file", 1)

    with open(CHAINS["BTC"]) as f:
        lines = f.read().splitlines(True)
    bad_chain = os.path.join(tmp, "bad_chain.csv")
    lines_bad = list(lines)
    lines_bad[4] = lines_bad[4].replace(",call,", ",call,abc", 1) if ",call," in lines_bad[4] \
        else lines_bad[4].replace(",put,", ",put,abc", 1)
    with open(bad_chain, "w") as f:
        f.writelines(lines_bad)
    expect_failure(["--out", out, "--deribit-chain", bad_chain],
                   ["--deribit-chain", bad_chain, "line 5", "underlying_price"], "bad chain number", 1)

    bad_greeks = os.path.join(tmp, "bad_greeks.csv")
    lines_bad = list(lines)
    lines_bad[7] = lines_bad[7].replace("'gamma'", "'gammx'", 1)
    with open(bad_greeks, "w") as f:
        f.writelines(lines_bad)
    expect_failure(["--out", out, "--deribit-chain", bad_greeks],
                   ["--deribit-chain", bad_greeks, "line 8", "gamma"], "greeks without gamma", 1)

    short_row = os.path.join(tmp, "short_row.csv")
    with open(short_row, "w") as f:
        f.writelines(lines[:3] + ["BTC-25OCT25-100000-C,100000.0\n"] + lines[3:6])
    expect_failure(["--out", out, "--deribit-chain", short_row],
                   ["--deribit-chain", short_row, "line 4"], "row with too few fields", 1)

    expect_failure(["--out", out, "--deribit-chain", CHAINS["BTC"], "--bars", BARS["BTC"]],
                   ["--bars"], "--bars without UNDERLYING=", 2)
    expect_failure(["--out", out, "--deribit-chain", CHAINS["BTC"], "--bars", "btc=x.csv"],
                   ["--bars"], "--bars with a lower-case underlying", 2)
    expect_failure(["--deribit-chain", CHAINS["BTC"]], ["--out"], "no --out", 2)
    expect_failure(["--out", out, "--deribit-chain", CHAINS["BTC"], "--history-days", "0"],
                   ["--history-days"], "zero history days", 2)
    expect_failure(["--out", out, "--deribit-chain", CHAINS["BTC"], "--frobnicate", "1"],
                   ["--frobnicate"], "unknown flag", 2)

    with open(BARS["BTC"]) as f:
        bar_lines = f.read().splitlines(True)
    bad_bars = os.path.join(tmp, "bad_bars.csv")
    with open(bad_bars, "w") as f:
        f.writelines(bar_lines[:2] + ["2023-10-24 01:30:00,1,2,1,2\n"] + bar_lines[2:])
    expect_failure(["--out", out, "--deribit-chain", CHAINS["BTC"], "--bars", f"BTC={bad_bars}"],
                   ["--bars", bad_bars, "line 3"], "bar off the hour", 1)
    expect_failure(["--out", out, "--deribit-chain", CHAINS["BTC"], "--bars", f"ETH={BARS['ETH']}"],
                   ["--bars", "ETH"], "bars for an underlying without a chain", 1)
    expect_failure(["--out", out, "--deribit-chain", CHAINS["BTC"], "--dvol", f"BTC={DVOL['ETH']}"],
                   ["--dvol", DVOL["ETH"], "line 2", "ETH"], "DVOL file of another coin", 1)
    expect_failure(["--out", os.path.join(tmp, "no_dir", "x.jsonl"), "--deribit-chain",
                    CHAINS["BTC"]], ["--out"], "unwritable output", 1)


def main():
    tmp = tempfile.mkdtemp(prefix="vrpctl_record_")
    try:
        out = os.path.join(tmp, "rec.jsonl")
        p = run_record(standard_args(out))
        check(p.returncode == 0, f"vrpctl record exit code {p.returncode}: {p.stderr}")
        if p.returncode != 0:
            return 1
        lines = p.stdout.splitlines()
        check(len(lines) == 1, "one summary line on stdout")
        summary = json.loads(lines[0])
        with open(out) as f:
            text = f.read()
        check(summary.get("ok") is True and summary.get("bytes") == len(text.encode()),
              "summary says ok and the file size")
        check_recording_matches_csvs(parse_recording(text), summary)

        # Same inputs, same bytes; gzip output and gzip inputs give the same lines.
        out2 = os.path.join(tmp, "rec2.jsonl")
        run_record(standard_args(out2))
        with open(out2) as f:
            check(f.read() == text, "a second run writes a byte-identical file")
        out_gz = os.path.join(tmp, "rec.jsonl.gz")
        gz_args = standard_args(out_gz)
        for cur in ("BTC", "ETH"):
            gz_in = os.path.join(tmp, os.path.basename(CHAINS[cur]) + ".gz")
            with open(CHAINS[cur], "rb") as src, gzip.open(gz_in, "wb") as dst:
                shutil.copyfileobj(src, dst)
            gz_args[gz_args.index(CHAINS[cur])] = gz_in
        p = run_record(gz_args)
        check(p.returncode == 0, f"gzip in/out exit code {p.returncode}: {p.stderr}")
        with gzip.open(out_gz, "rt") as f:
            gz_lines = f.read().splitlines()
        check(gz_lines[1:] == text.splitlines()[1:],
              "gzip-compressed inputs and output hold the same recording (meta names differ)")

        check_errors(tmp)

        bundled = os.path.join(ROOT, "data", "demo", "deribit_2025-10-24.recording.jsonl")
        check(os.path.exists(bundled), "the bundled demo recording exists")
        if os.path.isdir(os.path.join(SHARED, "data", "raw")):
            fresh = os.path.join(tmp, "demo.jsonl")
            env = dict(os.environ, VRPCTL=VRPCTL, VRP_SHARED=SHARED, VRP_DEMO_OUT=fresh)
            p = subprocess.run([os.path.join(ROOT, "scripts", "make_demo_recording.sh")], env=env,
                               capture_output=True, text=True, timeout=300)
            check(p.returncode == 0, f"make_demo_recording.sh exit code {p.returncode}: {p.stderr}")
            if p.returncode == 0:
                with open(fresh, "rb") as a, open(bundled, "rb") as b:
                    check(a.read() == b.read(), "the bundled demo recording equals a fresh rebuild")
        else:
            print("skip: no ../shared/data/raw, bundled recording not rebuilt")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{len(failures)} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
