#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets in tests/fuzz/corpus/<target>/ (run from anywhere).

Sources: ../shared/protocols/deribit (real Deribit captures and documentation examples), deploy/*.toml
(configuration), the shapes of the calculator lines of tests/integration (vrpctl calc), the replay
recording of tests/data/replay, and hand-written HTTP requests and WebSocket messages. Seeds are
named <origin>.<n>; files named repro-* are reproducers of fixed findings and are never rewritten.
Usage: tests/fuzz/make_corpus.py [--shared DIR]
"""
import argparse
import glob
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def clean(target):
    d = os.path.join(HERE, "corpus", target)
    for f in glob.glob(os.path.join(d, "*")):
        if not os.path.basename(f).startswith("repro-"):
            os.remove(f)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


def deribit_frames(deribit):
    """Server->client frames of the shared Deribit folder, as exact text, by file."""
    out = []
    for path in sorted(glob.glob(os.path.join(deribit, "*.json"))):
        base = os.path.basename(path)
        if base in ("index.json", "error_codes.json") or "request" in base:
            continue
        if base.startswith("rpc_get_instruments_BTC"):
            continue  # 160 KB: the protocol target gets trimmed answers instead
        text = open(path).read().strip()
        if ".data.docs" in base:  # only params.data: wrap it in the subscription envelope
            data = json.loads(text)
            channel = {
                "notif_deribit_price_index": "deribit_price_index.btc_usd",
                "notif_deribit_volatility_index": "deribit_volatility_index.btc_usd",
                "notif_markprice_options": "markprice.options.btc_usd",
                "notif_perpetual": "perpetual.BTC-PERPETUAL.100ms",
                "notif_platform_state": "platform_state",
                "notif_ticker_btc_perpetual": "ticker.BTC-PERPETUAL.100ms",
                "notif_trades_option": "trades.option.BTC.100ms",
            }.get(base.split(".")[0], "ticker.BTC-PERPETUAL.100ms")
            text = compact({"jsonrpc": "2.0", "method": "subscription",
                            "params": {"channel": channel, "data": data}})
        elif "\n" in text:
            text = compact(json.loads(text))
        out.append((base.split(".")[0], text))
    for i, line in enumerate(open(os.path.join(deribit, "tardis_real_messages.jsonl"))):
        if line.strip():
            out.append(("tardis%02d" % i, line.strip()))
    return out


def codec_corpus(deribit):
    t = "fuzz_deribit_codec"
    clean(t)
    frames = deribit_frames(deribit)
    for name, text in frames:
        write(t, name, text)
    replay = [l.rstrip("\n") for l in open(os.path.join(
        deribit, "replay", "cryptofeed_2021-07-22_options.frames.jsonl")) if l.strip()]
    tickers = [l for l in replay if '"channel":"ticker.' in l]
    for i, l in enumerate(tickers[:12]):
        write(t, "cryptofeed_ticker%02d" % i, l)
    # State across frames: a ticker gives the forward that the next markprice entry (coin) needs.
    tick = json.loads(tickers[0])
    name = tick["params"]["data"]["instrument_name"]
    mark = compact({"jsonrpc": "2.0", "method": "subscription",
                    "params": {"channel": "markprice.options.btc_usd",
                               "data": [{"instrument_name": name, "mark_price": 0.05,
                                         "iv": 0.9, "timestamp": 1626912000000}]}})
    write(t, "sequence_ticker_markprice", tickers[0] + "\n" + mark)
    write(t, "sequence_mixed", "\n".join(text for _, text in frames[:6]))
    # Bad market data the codec must reject with a reason (issue 6 item 1).
    env = lambda ch, data: compact({"jsonrpc": "2.0", "method": "subscription",
                                    "params": {"channel": ch, "data": data}})
    d = dict(tick["params"]["data"])
    ch = tick["params"]["channel"]
    bad = {
        "string_number": dict(d, best_bid_price="0.05"),
        "negative_price": dict(d, best_ask_price=-1.0),
        "null_mark": dict(d, mark_price=None),
        "no_timestamp": {k: v for k, v in d.items() if k != "timestamp"},
        "far_future": dict(d, timestamp=99999999999999),
        "huge_forward": dict(d, underlying_price=1e300, best_bid_price=1e300),
    }
    for k, v in bad.items():
        write(t, "bad_" + k, env(ch, v))
    write(t, "bad_overflow_number", env(ch, None).replace("null", '{"timestamp":1,"mark_price":1e999}'))
    write(t, "bad_nested", '{"params":' * 200 + "1" + "}" * 200)
    write(t, "bad_unknown_instrument", env("ticker.XYZ-1JAN30-1-C.100ms", d))
    write(t, "bad_data_first", '{"jsonrpc":"2.0","method":"subscription","params":{"data":'
          + compact(d) + ',"channel":"' + ch + '"}}')


def instrument_corpus():
    t = "fuzz_instrument_name"
    clean(t)
    names = [l.strip() for l in open(os.path.join(HERE, "data", "deribit_instruments.txt"))
             if l.strip() and not l.startswith("#")]
    random.Random(6).shuffle(names)
    keep = sorted(set(names[:40]) | {n for n in names if not n.startswith("BTC-")})
    for i, n in enumerate(keep):
        write(t, "name%03d" % i, n)
    for i, n in enumerate(["BTC-29FEB24-50000-C", "BTC-30FEB24-50000-C", "BTC-09MAR24-1-P",
                           "SOL_USDC-1JAN25-0d5-P", "BTC-28NOV25-1000000000000000-C",
                           "ETH-FS-30SEP22_PERP", "btc_usdc", "BTC_-PERPETUAL", "-", ""]):
        write(t, "edge%02d" % i, n)


def protocol_corpus(deribit):
    t = "fuzz_deribit_protocol"
    clean(t)
    full = json.load(open(os.path.join(deribit, "rpc_get_instruments_BTC.real_2021-07-22.json")))
    options = [e for e in full["result"] if e["kind"] == "option"][:24]
    futures = [e for e in full["result"] if e["kind"] == "future"][:4]
    docs = json.load(open(os.path.join(deribit, "rpc_get_instruments_response.docs.json")))

    def answer(rid, result):
        return compact({"jsonrpc": "2.0", "id": rid, "result": result, "usIn": 1, "usOut": 2,
                        "usDiff": 1, "testnet": False})

    eth = docs["result"] if isinstance(docs.get("result"), list) else []
    listing = [compact({"jsonrpc": "2.0", "id": 1, "result": 10}),
               answer(2, options), answer(3, futures), answer(4, eth), answer(5, [])]
    names = [e["instrument_name"] for e in options]
    sub = answer(6, ["ticker.%s.100ms" % n for n in names[:10]])
    frames = [l.rstrip("\n") for l in open(os.path.join(
        deribit, "replay", "cryptofeed_2021-07-22_options.frames.jsonl")) if '"channel":"ticker.' in l][:4]
    hb = open(os.path.join(deribit, "ws_heartbeat_test_request.json")).read().strip()
    write(t, "discovery", "\n".join(listing))
    write(t, "discovery_subscribe", "\n".join(listing + ["#t", sub] + frames + [hb]))
    write(t, "reconnect", "\n".join(listing + ["#t", sub, "#c", compact({"jsonrpc": "2.0", "id": 1, "result": 10}), "#t"]))
    for name in ("error_too_many_requests.shape", "error_request_entity_too_large.real",
                 "error_invalid_params.real", "error_bad_request.docs"):
        err = compact(json.load(open(os.path.join(deribit, name + ".json"))))
        write(t, name.split(".")[0], "\n".join(listing + ["#t", err, "#t"]))
    maint = compact({"jsonrpc": "2.0", "id": 6, "error": {"code": 11051, "message": "system_maintenance"}})
    write(t, "maintenance", "\n".join(listing + ["#t", maint]))
    expired = dict(options[0], is_active=False)
    write(t, "rediscovery_expired", "\n".join(listing + ["#t", sub] + ["#t"] * 3 + [answer(7, [expired])]))


def config_corpus():
    t = "fuzz_config"
    clean(t)
    for path in sorted(glob.glob(os.path.join(REPO, "deploy", "*.toml"))):
        write(t, os.path.basename(path), open(path).read())
    write(t, "empty.toml", "")
    write(t, "bad_type.toml", "[engine]\ntenors_days = \"30\"\n")
    write(t, "bad_syntax.toml", "[engine\n")
    write(t, "nan.toml", "[engine]\ntenors_days = [nan, inf]\n")


def calc_corpus():
    t = "fuzz_calc_line"
    clean(t)
    bars = [[100 + i, 101 + i, 99 + i, 100.5 + i] for i in range(30)]
    rets = [0.01 * ((i * 7919) % 13 - 6) / 6 for i in range(60)]
    quotes = [{"strike": k, "type": "put" if k < 100 else "call", "bid": b, "ask": b + 0.2}
              for k, b in [(80, 0.5), (90, 1.5), (100, 4.0), (110, 1.4), (120, 0.4)]]
    lines = [
        {"op": "black76", "forward": 100, "strike": 95, "t": 0.5, "vol": 0.25, "type": "call", "id": 1},
        {"op": "bsm", "spot": 100, "strike": 95, "t": 0.5, "vol": 0.25, "rate": 0.05, "div": 0.01, "type": "put"},
        {"op": "implied_vol", "price": 5.6, "forward": 100, "strike": 100, "t": 0.5, "type": "call"},
        {"op": "implied_vol", "price": "5.6", "forward": 100, "strike": 100, "t": 0.5, "type": "call"},
        {"op": "svi_fit", "t": 0.25, "forward": 100, "strikes": [80, 90, 100, 110, 120],
         "ivs": [0.35, 0.3, 0.27, 0.26, 0.27]},
        {"op": "svi_check", "t": 1.0, "a": -0.0410, "b": 0.1331, "rho": 0.3060, "m": 0.3586, "sigma": 0.4153},
        {"op": "model_free_variance", "t": 0.08, "rate": 0.01, "quotes": quotes},
        {"op": "vix", "near": {"minutes": 30000, "rate": 0.01, "quotes": quotes},
         "next": {"minutes": 50000, "rate": 0.01, "quotes": quotes}},
        {"op": "realized_vol", "estimator": "yang_zhang", "bars": bars, "window": 24, "periods_per_year": 8760},
        {"op": "garch_fit", "model": "gjr", "dist": "t", "mean": "constant", "returns": rets},
        {"op": "garch_forecast", "model": "garch", "dist": "normal", "mean": "zero",
         "params": {"mu": 0, "omega": 0.01, "alpha": 0.1, "beta": 0.8}, "returns": rets[:10], "horizon": 30},
        {"op": "har_fit", "rv": [0.0004 * (1 + (i % 5) / 10) for i in range(40)]},
        {"op": "no_such_op", "id": "x"},
    ]
    for i, l in enumerate(lines):
        write(t, "%s.%02d" % (l["op"], i), compact(l))
    write(t, "malformed.00", '{"op":"black76",')
    write(t, "nested.00", "[" * 100 + "]" * 100)


def recording_corpus(deribit):
    t = "fuzz_recording"
    clean(t)
    rec = [l for l in open(os.path.join(REPO, "tests", "data", "replay",
                                        "cryptofeed_2021-07-22.recording.jsonl")) if l.strip()]
    small = []
    for l in rec:
        d = json.loads(l)
        if "rpc" in d and isinstance(d.get("result"), list):
            d["result"] = d["result"][:3]
            l = compact(d) + "\n"
        if "chart" in d:
            for k, v in d["chart"].items():
                if isinstance(v, list):
                    d["chart"][k] = v[:5]
            l = compact(d) + "\n"
        small.append(l)
    write(t, "recording", "".join(small[:12]))
    cap = open(os.path.join(deribit, "replay", "cryptofeed_2021-07-22_options.capture.jsonl")).readlines()
    write(t, "capture", "".join(cap[:10]))
    frames = open(os.path.join(deribit, "replay", "cryptofeed_2021-07-22_options.frames.jsonl")).readlines()
    write(t, "frames", "".join(frames[:8]))
    write(t, "mixed", cap[3] + frames[3])


def http_corpus():
    t = "fuzz_http_request"
    clean(t)
    auth = "Authorization: Bearer fuzz-token-0123456789\r\n"
    reqs = {
        "healthz": "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
        "readyz": "GET /readyz HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
        "metrics": "GET /metrics HTTP/1.0\r\n" + auth + "\r\n",
        "premium": "GET /v1/premium?underlying=BTC HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n",
        "surface": "GET /v1/surface?underlying=BTC HTTP/1.1\r\n" + auth.replace("Bearer", "bearer") + "\r\n",
        "forecast_eth": "GET /v1/forecast?underlying=ETH HTTP/1.1\r\n" + auth + "\r\n",
        "history": "GET /v1/history?underlying=BTC&tenor=7&from=2025-10-24T00:00:00Z&to=1761400000000&limit=10 HTTP/1.1\r\n" + auth + "\r\n",
        "history_bad": "GET /v1/history?underlying=B%5FTC&tenor=x HTTP/1.1\r\n" + auth + "\r\n",
        "stream": "GET /v1/stream HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + auth + "\r\n",
        "no_token": "GET /v1/premium?underlying=BTC HTTP/1.1\r\n\r\n",
        "wrong_token": "GET /v1/premium?underlying=BTC HTTP/1.1\r\nAuthorization: Bearer fuzz-token-012345678\r\n\r\n",
        "post_body": "POST /v1/premium HTTP/1.1\r\nContent-Length: 5\r\n" + auth + "\r\nhello",
        "chunked": "POST /v1/premium HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" + auth + "\r\n5\r\nhello\r\n0\r\n\r\n",
        "pipelined": "GET /healthz HTTP/1.1\r\n\r\nGET /readyz HTTP/1.1\r\n" + auth + "\r\n",
        "close": "GET /v1/premium?underlying=BTC HTTP/1.1\r\nConnection: close\r\n" + auth + "\r\n",
        "not_found": "GET /../../etc/passwd HTTP/1.1\r\n" + auth + "\r\n",
        "root": "GET / HTTP/1.1\r\n" + auth + "\r\n",
        "bad_version": "GET / HTTP/9.9\r\n\r\n",
        "big_header": "GET /healthz HTTP/1.1\r\nX: " + "a" * 9000 + "\r\n\r\n",
        "static_head": "HEAD / HTTP/1.1\r\nIf-None-Match: \"x\"\r\n\r\nGET /index.html HTTP/1.1\r\n\r\n",
    }
    for k, v in reqs.items():
        write(t, k, v)


def ws_corpus():
    t = "fuzz_ws_subscription"
    clean(t)
    msgs = {
        "subscribe": '{"op":"subscribe","channels":["premium.BTC"]}',
        "subscribe_many": '{"op":"subscribe","channels":["premium.BTC","surface.BTC","forecast.ETH","premium.SOL_USDC","surface.ETH"]}',
        "unsubscribe": '{"op":"subscribe","channels":["premium.BTC","surface.ETH"]}\n{"op":"unsubscribe","channels":["premium.BTC"]}',
        "ping": '{"op":"ping"}',
        "unknown_op": '{"op":"publish","channels":["premium.BTC"]}',
        "unknown_channel": '{"op":"subscribe","channels":["premium.DOGE"]}',
        "escaped": '{"op":"subscribe","channels":["premium.\\u0042TC"]}',
        "not_object": '["subscribe"]',
        "empty_channels": '{"op":"subscribe","channels":[]}',
        "duplicates": '{"op":"subscribe","channels":["premium.BTC","premium.BTC"]}',
        "unicode_op": '{"op":"' + "\u00e9" * 20 + '"}',
        "utf8_cut": '{"op":"a' + "\u00e9" * 20 + '"}',  # the 32-byte quote splits a character
    }
    for k, v in msgs.items():
        write(t, k, v)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(REPO), "shared"))
    args = ap.parse_args()
    deribit = os.path.join(args.shared, "protocols", "deribit")
    codec_corpus(deribit)
    instrument_corpus()
    protocol_corpus(deribit)
    config_corpus()
    calc_corpus()
    recording_corpus(deribit)
    http_corpus()
    ws_corpus()


if __name__ == "__main__":
    main()
