#!/usr/bin/env python3
"""`vrpctl get` and `vrpctl watch` against a small stand-in for vrpd: an http.server thread serving
canned JSON in the shapes of the vrpd API (ARCHITECTURE.md §5.2, service/src/server/
snapshot_json.cpp) and a websockets server (Debian python3-websockets 10.4) playing /v1/stream.
Expected table cells are formatted here from the canned decimals (vol x 100, two decimals), not
taken from vrpctl.

The TLS variants serve the same stand-ins over HTTPS and WSS (Python's ssl module) with the test
certificates of tests/data/tls: localhost.pem (DNS:localhost, IP:127.0.0.1) and wronghost.pem
(DNS:wrong.example), both issued by ca.pem, which no system trust store holds.

Environment: VRPCTL (path of the binary); VRP_SOURCE_DIR (the repository, for tests/data/tls;
default: two levels above this file). Run with /usr/bin/python3 (Debian's websockets).
"""

import asyncio
import base64
import copy
import datetime
import hashlib
import http.server
import json
import os
import pathlib
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
import unittest

import websockets

VRPCTL = os.environ["VRPCTL"]
SOURCE_DIR = pathlib.Path(os.environ.get("VRP_SOURCE_DIR")
                          or pathlib.Path(__file__).resolve().parents[2])
TLS_DIR = SOURCE_DIR / "tests" / "data" / "tls"
CA_FILE = str(TLS_DIR / "ca.pem")

TS_MS = 1761347999123  # 2025-10-24 23:19:59.123 UTC


def tenor(days, atm, mfiv, rv, rr25, bf25, available=True, reason=None):
    row = {"days": days, "t": days / 365.0, "available": available}
    if reason:
        row["reason"] = reason
    nums = (atm, mfiv, rv)
    ok = all(v is not None for v in nums)
    row.update({
        "extrapolated": False, "forward": 110600.5 if ok else None, "basis_annual": 0.031 if ok else None,
        "atm_iv": atm, "mfiv": mfiv, "rv_forecast": rv,
        "premium_vol": atm - rv if ok else None,
        "premium_var": mfiv * mfiv - rv * rv if ok else None,
        "rr25": rr25, "bf25": bf25,
        "buckets": {b: {"iv": (atm + d) if ok else None, "premium_vol": (atm + d - rv) if ok else None,
                        "strike": 100000.0 + 1000 * i if ok else None, "width_vol": 0.004 if ok else None}
                    for i, (b, d) in enumerate([("10p", 0.061), ("25p", 0.024), ("atm", 0.0),
                                                ("25c", 0.011), ("10c", 0.032)])},
    })
    return row


PREMIUM_BTC = {
    "underlying": "BTC", "seq": 42, "ts": TS_MS, "ts_ns": TS_MS * 1000000, "complete": True,
    "index_price": 110543.2104, "dvol": 0.4456, "model": "gjr-normal", "funding_annual": 0.109500001,
    "perp_basis": 0.00031, "recv_ns": TS_MS * 1000000 + 5000,
    "tenors": [
        tenor(7, 0.4123, 0.4311, 0.3377, -0.0211, 0.0085),
        tenor(30, 0.44123, 0.4501, 0.385, -0.0310, 0.0102),
        tenor(90, 0.4700, 0.4801, 0.4012, -0.0405, 0.0133),
        tenor(365, None, None, 0.42, None, None, available=False, reason="no_surface"),
    ],
}

SURFACE_BTC = {
    "underlying": "BTC", "ts": TS_MS,
    "expiries": [
        {"expiry": "31OCT25", "expiry_ms": 1761897600000, "t": 0.01743, "forward": 110612.25,
         "forward_source": "future", "fitted": True, "fit_status": "ok",
         "svi": {"a": 0.0021, "b": 0.0312, "rho": -0.21, "m": 0.012, "sigma": 0.061},
         "rmse_vol": 0.0032, "butterfly_free": True, "calendar_free": True, "points_used": 3,
         "points_rejected": 1, "mfiv": 0.452,
         "quotes": [{"strike": 100000, "type": "put", "bid_iv": 0.5, "ask_iv": 0.52, "mark_iv": 0.51,
                     "venue_mark_iv": 0.51, "status": "ok"},
                    {"strike": 110000, "type": "call", "bid_iv": 0.43, "ask_iv": 0.45, "mark_iv": 0.44,
                     "venue_mark_iv": 0.44, "status": "ok"},
                    {"strike": 120000, "type": "call", "bid_iv": None, "ask_iv": 0.47, "mark_iv": 0.46,
                     "venue_mark_iv": 0.46, "status": "zero_bid"}]},
        {"expiry": "26DEC25", "expiry_ms": 1766736000000, "t": 0.1700, "forward": None,
         "forward_source": "none", "fitted": False, "fit_status": "insufficient_data",
         "svi": {"a": None, "b": None, "rho": None, "m": None, "sigma": None},
         "rmse_vol": None, "butterfly_free": False, "calendar_free": False, "points_used": 0,
         "points_rejected": 0, "mfiv": None, "quotes": []},
    ],
}

FORECAST_BTC = {
    "underlying": "BTC", "ts": TS_MS, "model": "gjr-normal", "ready": True,
    "spec": {"model": "gjr", "dist": "normal", "mean": "constant"},
    "params": {"mu": 1.2e-05, "omega": 3.4e-07, "alpha": 0.041, "gamma": 0.023, "beta": 0.93, "nu": None},
    "persistence": 0.9825, "long_run_vol": 0.4411, "conditional_vol": 0.3987, "realized_vol_24h": 0.3512,
    "har": {"ready": True, "beta0": 1.1e-05, "beta_d": 0.31, "beta_w": 0.42, "beta_m": 0.18},
    "bar_seconds": 3600, "bars": 2857, "last_bar_close": TS_MS - 119123, "last_refit": TS_MS - 3600000,
    "refits": 3,
    "term": [{"days": 7, "vol": 0.3377}, {"days": 30, "vol": 0.385}],
    "garch_term": [{"days": 7, "vol": 0.3377}, {"days": 30, "vol": 0.385}],
    "har_term": [{"days": 7, "vol": 0.3301}, {"days": 30, "vol": None}],
}


def vol(v):
    return f"{v * 100:.2f}"


def signed(v):
    return f"{v * 100:+.2f}"


def utc(ms, date=True):
    t = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S") + f".{ms % 1000:03d}"


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_tls(cert="localhost", server_names=None):
    """A server-side TLS context with tests/data/tls/<cert>.pem; the SNI name of each client hello
    (None when the client sent none) is appended to `server_names`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(TLS_DIR / f"{cert}.pem"), str(TLS_DIR / f"{cert}.key"))
    if server_names is not None:
        ctx.sni_callback = lambda sock, name, context: server_names.append(name)
    return ctx


class Api:
    """GET endpoints of vrpd with canned bodies, on an http.server thread; over TLS with `tls`
    (an ssl.SSLContext from server_tls)."""

    def __init__(self, routes, tls=None):
        self.routes = routes  # "/v1/premium?underlying=BTC" -> (status, body dict)
        self.requests = []
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                api.requests.append((self.path, self.headers.get("Authorization")))
                status, body = api.routes.get(self.path, (404, {"error": {
                    "code": "not_found", "message": "no such endpoint"}}))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        if tls is not None:
            # The handshake runs in accept(); a client that rejects it raises an OSError there,
            # which socketserver drops.
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class Stream:
    """/v1/stream on a websockets server in its own asyncio thread; `script(ws, server)` plays one
    connection."""

    def __init__(self, script, tls=None):
        self.script = script
        self.received = []
        self.paths = []
        self.close_codes = []
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(
                websockets.serve(self.handler, "127.0.0.1", 0, ssl=tls))
            self.port = self.server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        if not ready.wait(10):
            raise RuntimeError("websocket server did not start")
        self.url = f"{'wss' if tls else 'http'}://127.0.0.1:{self.port}"

    async def handler(self, ws, path=None):
        self.paths.append(ws.path)
        await self.script(ws, self)
        self.close_codes.append(ws.close_code)

    async def recv_json(self, ws):
        msg = json.loads(await ws.recv())
        self.received.append(msg)
        return msg

    def close(self):
        async def stop():
            self.server.close()
            await self.server.wait_closed()
        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


def frame(channel, seq, data, ts=TS_MS):
    d = copy.deepcopy(data)
    d["seq"] = seq
    d["ts"] = ts
    return json.dumps({"channel": channel, "seq": seq, "ts": ts, "data": d})


def run(*args, timeout=30):
    r = subprocess.run([VRPCTL, *args], capture_output=True, text=True, timeout=timeout)
    # Sanitizer builds: a report fails the test even where a non-zero exit is expected.
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r


def watch(script, *args, tls=None, url=None):
    """`vrpctl watch --url URL ARGS...` against a Stream playing `script` (over TLS with the ssl
    context `tls`); URL is url(stream) when given, else the stream's own. Returns (result, stream),
    the stream closed."""
    stream = Stream(script, tls=tls)
    try:
        r = run("watch", "--url", url(stream) if url else stream.url, *args)
    finally:
        stream.close()
    return r, stream


class GetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.api = Api({
            "/v1/premium?underlying=BTC": (200, PREMIUM_BTC),
            "/v1/surface?underlying=BTC": (200, SURFACE_BTC),
            "/v1/forecast?underlying=BTC": (200, FORECAST_BTC),
            "/v1/premium?underlying=XRP": (404, {"error": {
                "code": "unknown_underlying", "message": "underlying 'XRP' is not configured"}}),
            "/v1/premium?underlying=ETH": (503, {"error": {
                "code": "not_ready", "message": "no complete snapshot of ETH yet"}}),
        })

    @classmethod
    def tearDownClass(cls):
        cls.api.close()

    def test_premium_table_shows_each_tenor_in_percent(self):
        r = run("get", "premium", "--underlying", "BTC", "--url", self.api.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        head = lines[0]
        self.assertIn("BTC premium", head)
        self.assertIn("seq 42", head)
        self.assertIn(utc(TS_MS) + " UTC", head)
        self.assertIn("index 110543.21", head)
        self.assertIn("model gjr-normal", head)
        self.assertIn("funding +10.95%", head)
        self.assertIn("dvol 44.56", head)
        for row in PREMIUM_BTC["tenors"][:3]:
            days = row["days"]
            want = (rf"^\s*{days}d\s+atm\s+{re.escape(vol(row['atm_iv']))}"
                    rf"\s+mfiv\s+{re.escape(vol(row['mfiv']))}"
                    rf"\s+rv\s+{re.escape(vol(row['rv_forecast']))}"
                    rf"\s+prem\s+{re.escape(signed(row['premium_vol']))}"
                    rf"\s+var\s+{re.escape(format(row['premium_var'], '+.4f'))}"
                    rf"\s+rr25\s+{re.escape(signed(row['rr25']))}"
                    rf"\s+bf25\s+{re.escape(signed(row['bf25']))}")
            self.assertTrue(any(re.search(want, line) for line in lines),
                            f"no row matching {want!r} in:\n{r.stdout}")
        self.assertTrue(any(re.search(r"^\s*30d\s+atm 44\.12\s+mfiv 45\.01\s+rv 38\.50\s+prem\s+\+5\.62", l)
                            for l in lines), r.stdout)
        unavailable = [l for l in lines if re.match(r"^\s*365d", l)]
        self.assertEqual(len(unavailable), 1, r.stdout)
        self.assertRegex(unavailable[0], r"atm\s+-\s+mfiv\s+-\s+rv\s+42\.00\s+prem\s+-")
        self.assertIn("unavailable: no_surface", unavailable[0])
        # Delta buckets: iv / premium of the 30-day row.
        b30 = PREMIUM_BTC["tenors"][1]["buckets"]
        bucket_rows = [l for l in lines[lines.index("delta buckets (iv / premium):"):]
                       if re.match(r"^\s*30d", l)]
        self.assertEqual(len(bucket_rows), 1, r.stdout)
        for name in ("10p", "25p", "atm", "25c", "10c"):
            cell = f"{name} {vol(b30[name]['iv'])}/{signed(b30[name]['premium_vol'])}"
            self.assertIn(cell, bucket_rows[0])
        self.assertIn(("/v1/premium?underlying=BTC", None), self.api.requests)

    def test_raw_prints_the_body_unchanged(self):
        r = run("get", "premium", "--underlying", "BTC", "--url", self.api.url + "/", "--raw")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), PREMIUM_BTC)
        r = run("get", "forecast", "--underlying", "BTC", "--url", self.api.url, "--raw")
        self.assertEqual(json.loads(r.stdout), FORECAST_BTC)

    def test_surface_table_lists_expiries(self):
        r = run("get", "surface", "--underlying", "BTC", "--url", self.api.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("BTC surface", lines[0])
        self.assertIn("2 expiries", lines[0])
        first = [l for l in lines if l.startswith("31OCT25")]
        self.assertEqual(len(first), 1, r.stdout)
        e = SURFACE_BTC["expiries"][0]
        s = e["svi"]
        # ATM-forward vol of raw SVI at k = 0, computed here.
        w0 = s["a"] + s["b"] * (s["rho"] * -s["m"] + (s["m"] ** 2 + s["sigma"] ** 2) ** 0.5)
        self.assertIn(f"atm {vol((w0 / e['t']) ** 0.5)}", first[0])
        self.assertRegex(first[0], rf"fwd\s+{e['forward']:.2f}")
        self.assertIn(f"mfiv {vol(e['mfiv'])}", first[0])
        self.assertRegex(first[0], r"rmse\s+0\.32")
        self.assertIn("rho=-0.21", first[0])
        self.assertIn("butterfly ok", first[0])
        self.assertIn("quotes 2/3", first[0])
        second = [l for l in lines if l.startswith("26DEC25")]
        self.assertEqual(len(second), 1, r.stdout)
        self.assertIn("not fitted (insufficient_data)", second[0])

    def test_forecast_table_shows_model_and_term(self):
        r = run("get", "forecast", "--underlying", "BTC", "--url", self.api.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout
        self.assertIn("model gjr-normal", out)
        self.assertIn("ready yes", out)
        self.assertIn("spec gjr/normal/constant", out)
        self.assertIn("alpha=0.041", out)
        self.assertIn("nu=-", out)
        self.assertIn(f"conditional vol {vol(0.3987)}", out)
        self.assertIn(f"long-run vol {vol(0.4411)}", out)
        self.assertIn("bars 2857 of 3600 s", out)
        self.assertIn("last refit " + utc(TS_MS - 3600000), out)
        self.assertRegex(out, rf"(?m)^\s*7d\s+{vol(0.3377)}\s+{vol(0.3377)}\s+{vol(0.3301)}$")
        self.assertRegex(out, rf"(?m)^\s*30d\s+{vol(0.385)}\s+{vol(0.385)}\s+-$")

    def test_http_error_exits_nonzero_with_the_server_message(self):
        r = run("get", "premium", "--underlying", "XRP", "--url", self.api.url)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("404", r.stderr)
        self.assertIn("underlying 'XRP' is not configured", r.stderr)
        self.assertEqual(r.stdout, "")
        r = run("get", "premium", "--underlying", "ETH", "--url", self.api.url)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("503", r.stderr)
        self.assertIn("no complete snapshot of ETH yet", r.stderr)

    def test_token_is_sent_as_bearer(self):
        r = run("get", "premium", "--underlying", "BTC", "--url", self.api.url, "--token", "s3cret")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(("/v1/premium?underlying=BTC", "Bearer s3cret"), self.api.requests)

    def test_connection_refused_exits_nonzero(self):
        r = run("get", "premium", "--underlying", "BTC", "--url", f"http://127.0.0.1:{closed_port()}")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot connect", r.stderr)

    def test_usage_errors(self):
        self.assertEqual(run("get", "premium", "--url", self.api.url).returncode, 2)
        self.assertEqual(run("get", "smile", "--underlying", "BTC").returncode, 2)
        self.assertEqual(run("get", "premium", "--underlying", "BTC", "--url", "ftp://x").returncode, 2)


PREMIUM_ETH = copy.deepcopy(PREMIUM_BTC)
PREMIUM_ETH["underlying"] = "ETH"
PREMIUM_ETH["tenors"][0]["atm_iv"] = 0.6012
PREMIUM_ETH["tenors"][0]["premium_vol"] = 0.6012 - PREMIUM_ETH["tenors"][0]["rv_forecast"]


class WatchTest(unittest.TestCase):
    def test_rows_per_update_with_gap_marker_until_count(self):
        async def script(ws, server):
            sub = await server.recv_json(ws)
            await ws.send(json.dumps({"op": "subscribed", "channels": sub["channels"]}))
            await ws.send(frame("premium.BTC", 10, PREMIUM_BTC, TS_MS))
            await ws.send(frame("premium.ETH", 3, PREMIUM_ETH, TS_MS + 1000))
            await ws.send(frame("premium.BTC", 11, PREMIUM_BTC, TS_MS + 2000))
            await ws.send(frame("premium.BTC", 14, PREMIUM_BTC, TS_MS + 3000))  # 12, 13 conflated
            await ws.send(frame("premium.BTC", 15, PREMIUM_BTC, TS_MS + 4000))  # beyond --count
            try:
                await ws.wait_closed()
            except Exception:
                pass

        r, stream = watch(script, "--channels", "premium.BTC,premium.ETH", "--count", "4")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(stream.paths, ["/v1/stream"])
        self.assertEqual(stream.received[0], {"op": "subscribe",
                                              "channels": ["premium.BTC", "premium.ETH"]})
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 5, r.stdout)  # header + 4 updates
        self.assertIn("channel", lines[0])
        self.assertIn("7d atm", lines[0])
        rows = lines[1:]
        want = [("premium.BTC", 10, ""), ("premium.ETH", 3, ""), ("premium.BTC", 11, ""),
                ("premium.BTC", 14, "gap+2")]
        for k, (row, (channel, seq, gap)) in enumerate(zip(rows, want)):
            self.assertIn(utc(TS_MS + 1000 * k, date=False), row)
            self.assertRegex(row, rf"{re.escape(channel)}\s+{seq}\b")
            if gap:
                self.assertIn(gap, row)
            else:
                self.assertNotIn("gap", row)
            data = PREMIUM_ETH if channel == "premium.ETH" else PREMIUM_BTC
            cells = []
            for t in data["tenors"][:3]:  # 7, 30, 90 days
                cells += [vol(t["atm_iv"]), vol(t["rv_forecast"]), signed(t["premium_vol"])]
            self.assertEqual(re.findall(r"[+-]?\d+\.\d\d(?!\d)", row.split("|", 1)[1]), cells, row)
        self.assertIn("subscribed", r.stderr)

    def test_sigint_stops_cleanly(self):
        async def script(ws, server):
            await server.recv_json(ws)
            await ws.send(json.dumps({"op": "subscribed", "channels": ["premium.BTC"]}))
            await ws.send(frame("premium.BTC", 1, PREMIUM_BTC))
            try:
                await ws.wait_closed()
            except Exception:
                pass

        stream = Stream(script)
        try:
            proc = subprocess.Popen([VRPCTL, "watch", "--url", stream.url], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            header = proc.stdout.readline()
            row = proc.stdout.readline()
            self.assertIn("premium.BTC", row, header)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
            stream.close()
        self.assertEqual(proc.returncode, 0, err)
        self.assertEqual(out, "")

    def test_server_error_exits_nonzero(self):
        async def script(ws, server):
            await server.recv_json(ws)
            await ws.send(json.dumps({"error": {"code": "unknown_channel",
                                                "message": "unknown channel 'premium.XRP'"}}))
            try:
                await ws.wait_closed()
            except Exception:
                pass

        r, _ = watch(script, "--channels", "premium.XRP", "--count", "1")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("unknown channel 'premium.XRP'", r.stderr)

    def test_connection_closed_by_the_server_before_count_exits_nonzero(self):
        async def script(ws, server):
            await server.recv_json(ws)
            await ws.send(frame("premium.BTC", 1, PREMIUM_BTC))
            await ws.close()

        r, _ = watch(script, "--count", "3")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("connection lost", r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)  # header + the one update

    def test_connection_refused_exits_nonzero(self):
        r = run("watch", "--url", f"http://127.0.0.1:{closed_port()}", "--count", "1")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot connect", r.stderr)


class TlsTest(unittest.TestCase):
    """https:// and wss://: TLS 1.2+, the certificate chain and host name always verified."""

    ROUTES = {"/v1/premium?underlying=BTC": (200, PREMIUM_BTC)}

    def serve_api(self, cert="localhost"):
        names = []
        api = Api(self.ROUTES, tls=server_tls(cert, names))
        self.addCleanup(api.close)
        return api, names

    def assert_premium_table(self, r):
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("BTC premium", lines[0])
        self.assertIn("seq 42", lines[0])
        t30 = PREMIUM_BTC["tenors"][1]
        want = (rf"^\s*30d\s+atm\s+{re.escape(vol(t30['atm_iv']))}"
                rf"\s+mfiv\s+{re.escape(vol(t30['mfiv']))}"
                rf"\s+rv\s+{re.escape(vol(t30['rv_forecast']))}"
                rf"\s+prem\s+{re.escape(signed(t30['premium_vol']))}")
        self.assertTrue(any(re.search(want, l) for l in lines), r.stdout)

    def test_get_premium_over_https_with_the_ca_file(self):
        api, names = self.serve_api()
        r = run("get", "premium", "--underlying", "BTC", "--url", f"https://localhost:{api.port}",
                "--ca-file", CA_FILE, "--token", "s3cret")
        self.assert_premium_table(r)
        self.assertEqual(names, ["localhost"])  # SNI carries the host name
        self.assertIn(("/v1/premium?underlying=BTC", "Bearer s3cret"), api.requests)

    def test_get_over_https_to_an_ip_address_checks_the_ip_and_sends_no_sni(self):
        api, names = self.serve_api()
        r = run("get", "premium", "--underlying", "BTC", "--url", f"https://127.0.0.1:{api.port}/",
                "--ca-file", CA_FILE)
        self.assert_premium_table(r)
        self.assertEqual(names, [None])  # RFC 6066: no IP literals in SNI

    def test_watch_over_wss_receives_rows_and_closes_cleanly(self):
        async def script(ws, server):
            sub = await server.recv_json(ws)
            await ws.send(json.dumps({"op": "subscribed", "channels": sub["channels"]}))
            await ws.send(frame("premium.BTC", 7, PREMIUM_BTC, TS_MS))
            await ws.send(frame("premium.BTC", 9, PREMIUM_BTC, TS_MS + 1000))
            await ws.send(frame("premium.BTC", 10, PREMIUM_BTC, TS_MS + 2000))  # beyond --count
            try:
                await ws.wait_closed()
            except Exception:
                pass

        for host in ("localhost", "127.0.0.1"):
            with self.subTest(host=host):
                r, stream = watch(script, "--ca-file", CA_FILE, "--count", "2",
                                      tls=server_tls(), url=lambda s: f"wss://{host}:{s.port}")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(stream.paths, ["/v1/stream"])
                self.assertEqual(stream.received[0],
                                 {"op": "subscribe", "channels": ["premium.BTC"]})
                lines = r.stdout.splitlines()
                self.assertEqual(len(lines), 3, r.stdout)  # header + 2 updates
                self.assertRegex(lines[1], r"premium\.BTC\s+7\b")
                self.assertRegex(lines[2], r"premium\.BTC\s+9\s+gap\+1")
                self.assertIn(vol(PREMIUM_BTC["tenors"][0]["atm_iv"]), lines[1])
                self.assertEqual(stream.close_codes, [1000])  # the WebSocket close went over TLS

    def test_close_is_bounded_by_the_timeout_when_the_server_never_answers(self):
        """A wss server that accepts the upgrade, sends one update and then neither answers the
        close frame nor closes: watch --count 1 must still end within about --timeout."""
        listener = socket.create_server(("127.0.0.1", 0))
        self.addCleanup(listener.close)
        port = listener.getsockname()[1]
        tls = server_tls()
        release = threading.Event()
        self.addCleanup(release.set)

        def serve():
            raw, _ = listener.accept()
            with tls.wrap_socket(raw, server_side=True) as conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                key = re.search(rb"(?i)sec-websocket-key:\s*(\S+)", request).group(1)
                # RFC 6455 §4.2.2: base64(SHA-1(key + GUID)).
                accept = base64.b64encode(hashlib.sha1(
                    key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept
                             + b"\r\n\r\n")
                conn.recv(4096)  # the subscription
                payload = frame("premium.BTC", 1, PREMIUM_BTC).encode()
                conn.sendall(bytes([0x81, 126]) + len(payload).to_bytes(2, "big") + payload)
                release.wait(20)  # the close frame stays unanswered

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        start = time.monotonic()
        r = run("watch", "--url", f"wss://localhost:{port}", "--ca-file", CA_FILE, "--count", "1",
                "--timeout", "1")
        elapsed = time.monotonic() - start
        release.set()
        thread.join(10)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)
        self.assertLess(elapsed, 6.0)

    def test_https_url_for_watch_means_wss(self):
        async def script(ws, server):
            await server.recv_json(ws)
            await ws.send(frame("premium.BTC", 1, PREMIUM_BTC))
            try:
                await ws.wait_closed()
            except Exception:
                pass

        r, _ = watch(script, "--ca-file", CA_FILE, "--count", "1",
                         tls=server_tls(), url=lambda s: f"https://localhost:{s.port}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 2, r.stdout)

    def test_without_ca_file_the_system_store_rejects_the_test_ca(self):
        api, _ = self.serve_api()
        r = run("get", "premium", "--underlying", "BTC", "--url", f"https://localhost:{api.port}")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"TLS handshake with localhost:{api.port} failed", r.stderr)
        self.assertIn("certificate", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(api.requests, [])

        async def script(ws, server):
            await server.recv_json(ws)

        r, stream = watch(script, "--count", "1",
                              tls=server_tls(), url=lambda s: f"wss://127.0.0.1:{s.port}")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"TLS handshake with 127.0.0.1:{stream.port} failed", r.stderr)
        self.assertIn("certificate", r.stderr)
        self.assertEqual(stream.paths, [])

    def test_certificate_for_another_host_fails_the_name_check(self):
        api, _ = self.serve_api(cert="wronghost")
        for host in ("localhost", "127.0.0.1"):
            with self.subTest(host=host):
                r = run("get", "premium", "--underlying", "BTC", "--url",
                        f"https://{host}:{api.port}", "--ca-file", CA_FILE)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(f"TLS handshake with {host}:{api.port} failed", r.stderr)
                self.assertIn(f"not issued for '{host}'", r.stderr)
        self.assertEqual(api.requests, [])

        async def script(ws, server):
            await server.recv_json(ws)

        r, stream = watch(script, "--ca-file", CA_FILE, "--count", "1",
                              tls=server_tls("wronghost"),
                              url=lambda s: f"wss://localhost:{s.port}")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"TLS handshake with localhost:{stream.port} failed", r.stderr)
        self.assertIn("not issued for 'localhost'", r.stderr)

    def test_plain_text_server_fails_the_tls_handshake(self):
        api = Api(self.ROUTES)
        self.addCleanup(api.close)
        r = run("get", "premium", "--underlying", "BTC", "--url", f"https://127.0.0.1:{api.port}",
                "--ca-file", CA_FILE, "--timeout", "5")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"TLS handshake with 127.0.0.1:{api.port} failed", r.stderr)
        self.assertIn("does not seem to speak TLS", r.stderr)

    def test_https_default_port_is_443(self):
        r = run("get", "premium", "--underlying", "BTC", "--url", "https://127.0.0.1",
                "--ca-file", CA_FILE, "--timeout", "5")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("127.0.0.1:443", r.stderr)
        r = run("watch", "--url", "wss://127.0.0.1/api", "--ca-file", CA_FILE, "--timeout", "5")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("127.0.0.1:443", r.stderr)

    def test_ca_file_with_a_plain_url_is_a_usage_error(self):
        for args in (["get", "premium", "--underlying", "BTC", "--url", "http://127.0.0.1:1"],
                     ["watch", "--url", "ws://127.0.0.1:1", "--count", "1"],
                     ["watch", "--url", "http://127.0.0.1:1"]):
            with self.subTest(args=args):
                r = run(*args, "--ca-file", CA_FILE)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--ca-file applies to https:// and wss://", r.stderr)

    def test_unusable_ca_file_is_named(self):
        missing = str(TLS_DIR / "no-such-ca.pem")
        not_pem = str(pathlib.Path(__file__).resolve())
        for path, why in ((missing, "No such file or directory"), (not_pem, "no usable PEM")):
            for args in (["get", "premium", "--underlying", "BTC", "--url", "https://127.0.0.1:1"],
                         ["watch", "--url", "wss://127.0.0.1:1"]):
                with self.subTest(path=path, command=args[0]):
                    r = run(*args, "--ca-file", path)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn(f"'{path}'", r.stderr)
                    self.assertIn(why, r.stderr)
                    self.assertNotIn("cannot connect", r.stderr)  # found before any I/O

    def test_bad_scheme_lists_the_four_schemes(self):
        for command in (["get", "premium", "--underlying", "BTC"], ["watch"]):
            r = run(*command, "--url", "ftp://127.0.0.1")
            self.assertEqual(r.returncode, 2, r.stderr)
            for scheme in ("http://", "https://", "ws://", "wss://"):
                self.assertIn(scheme, r.stderr)

    def test_help_documents_tls(self):
        for command in ("get", "watch"):
            r = run(command, "--help")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("--ca-file PEM", r.stdout)
            self.assertIn("https", r.stdout)
            self.assertIn("wss", r.stdout)


if __name__ == "__main__":
    unittest.main()
