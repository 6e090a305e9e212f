#!/usr/bin/env python3
"""Protocol test of vrp-replayd (ARCHITECTURE.md §5.3): a real WebSocket client (Debian's
python3-websockets) against the replay exchange started on a free loopback port.

Expected values come from the real Deribit messages in tests/data/protocols/deribit and from the
capture the fixture recording was built from (tests/data/replay/README.md), never from the server.
Each check starts its own server and stops it with SIGTERM, which must exit 0 (under ASan that
also means no leak and no error report)."""
import asyncio
import gzip
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.error
import urllib.request

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
DERIBIT = os.path.join(DATA, "protocols", "deribit")
RECORDING = os.path.join(DATA, "replay", "cryptofeed_2021-07-22.recording.jsonl")
CAPTURE = os.path.join(DERIBIT, "replay", "cryptofeed_2021-07-22_options.capture.jsonl")
TLS = os.path.join(DATA, "tls")
BIN = os.environ.get("VRP_REPLAYD", "vrp-replayd")


def load_json(path):
    with open(path) as f:
        return json.load(f)


def capture_notifications():
    """(channel, exact frame text) of the capture's received notifications, in order."""
    out = []
    with open(CAPTURE) as f:
        for line in f:
            c = json.loads(line)
            if c["dir"] != "recv":
                continue
            msg = json.loads(c["frame"])
            if msg.get("method") == "subscription":
                out.append((msg["params"]["channel"], c["frame"]))
    return out


class Replayd:
    """vrp-replayd on 127.0.0.1:0; the ready line gives the port."""

    def __init__(self, *args, recording=RECORDING):
        self.log = tempfile.TemporaryFile(mode="w+")
        cmd = [BIN, "--recording", recording, "--listen", "127.0.0.1:0", *map(str, args)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError("vrp-replayd did not start: " + self.stderr())
        self.address = json.loads(line)["listening"]
        self.port = int(self.address.rsplit(":", 1)[1])

    def stderr(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("vrp-replayd did not exit on SIGTERM")
        if rc != 0:
            raise AssertionError(f"vrp-replayd exited {rc}:\n{self.stderr()}")

    def url(self, scheme="ws"):
        return f"{scheme}://127.0.0.1:{self.port}/ws/api/v2"

    def http(self, method, path, body=None):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def fault(self, **body):
        status, reply = self.http("POST", "/control/fault", body)
        assert (status, reply) == (200, {"ok": True}), (status, reply)

    def status(self):
        code, s = self.http("GET", "/control/status")
        assert code == 200
        return s


class Client:
    """One Deribit JSON-RPC connection: answers are matched by id, notifications queued."""

    def __init__(self, ws):
        self.ws = ws
        self.next_id = 1

    async def call(self, method, params=None, timeout=5.0):
        rid = self.next_id
        self.next_id += 1
        await self.ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method,
                                       "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            msg = json.loads(await asyncio.wait_for(self.ws.recv(), deadline - time.monotonic()))
            if msg.get("id") == rid:
                return msg

    async def recv(self, timeout):
        return await asyncio.wait_for(self.ws.recv(), timeout)


def connect(url, **kwargs):
    # An unbounded client queue: websockets' close() stops reading while its message queue is full,
    # so a client closing with unread notifications would otherwise never see the server's close.
    kwargs.setdefault("max_queue", None)
    return websockets.connect(url, **kwargs)


async def expect_closed(ws, timeout):
    """Reads until the connection closes; returns the close code."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.exceptions.ConnectionClosed:
        return ws.close_code


async def check_get_instruments(srv):
    real = load_json(os.path.join(DERIBIT, "rpc_get_instruments_BTC.real_2021-07-22.json"))
    names = {ch.split(".")[1] for ch, _ in capture_notifications()}
    expected = [i for i in real["result"] if i["kind"] == "option" and i["instrument_name"] in names]
    async with connect(srv.url()) as ws:
        r = await Client(ws).call("public/get_instruments",
                                  {"currency": "BTC", "kind": "option", "expired": False})
    assert r["jsonrpc"] == "2.0" and r["testnet"] is False, r
    assert r["usDiff"] == r["usOut"] - r["usIn"], r
    assert r["result"] == expected, r["result"]


async def check_subscribe_result(srv):
    req = load_json(os.path.join(DERIBIT, "ws_subscribe_request.real_2021.json"))
    real = load_json(os.path.join(DERIBIT, "ws_subscribe_response.real_2021.json"))
    async with connect(srv.url()) as ws:
        r = await Client(ws).call("public/subscribe", {
            "channels": req["params"]["channels"] + ["ticker.BTC-24SEP21-8000-P.5ms"]})
    assert sorted(r["result"]) == sorted(real["result"]), r["result"]


async def check_notifications_byte_for_byte(srv):
    wanted = ["ticker.BTC-24SEP21-8000-P.raw", "ticker.BTC-31DEC21-34000-P.raw",
              "book.ETH-30JUL21-2800-C.raw", "trades.BTC-24SEP21-8000-P.raw"]
    expected = [frame for ch, frame in capture_notifications() if ch in wanted]
    assert len(expected) > 10
    async with connect(srv.url()) as ws:
        c = Client(ws)
        r = await c.call("public/subscribe", {"channels": wanted})
        assert sorted(r["result"]) == sorted(wanted), r
        got = []
        while len(got) < len(expected):
            got.append(await c.recv(5.0))
        assert got == expected, "notifications differ from the recording"
        # Nothing else: the other 16 recorded channels were not subscribed.
        try:
            extra = await c.recv(0.5)
            raise AssertionError("unexpected frame: " + extra[:200])
        except asyncio.TimeoutError:
            pass
        s = srv.status()
        assert s["clients"][0]["frames_sent"] == len(expected), s
        assert s["recording"] == {**s["recording"], "frames": 135, "instruments": 15}, s


async def check_loop_plays_twice(srv):
    ch = "ticker.BTC-24SEP21-8000-P.raw"
    expected = [frame for c, frame in capture_notifications() if c == ch]
    async with connect(srv.url()) as ws:
        c = Client(ws)
        await c.call("public/subscribe", {"channels": [ch]})
        got = [await c.recv(5.0) for _ in range(2 * len(expected))]
        assert got == expected + expected
        try:
            await c.recv(0.5)
            raise AssertionError("frames after the last loop")
        except asyncio.TimeoutError:
            pass
        # After the end the connection still answers.
        assert (await c.call("public/test"))["result"]["version"]


async def check_heartbeat_answered(srv):
    async with connect(srv.url()) as ws:
        c = Client(ws)
        low = await c.call("public/set_heartbeat", {"interval": 0})
        assert low["error"]["code"] == -32602, low
        assert (await c.call("public/set_heartbeat", {"interval": 1}))["result"] == "ok"
        answered = 0
        deadline = time.monotonic() + 3.6
        while time.monotonic() < deadline:
            try:
                msg = json.loads(await c.recv(deadline - time.monotonic()))
            except asyncio.TimeoutError:
                break
            if msg.get("method") == "heartbeat":
                assert msg == load_json(os.path.join(DERIBIT, "ws_heartbeat_test_request.json"))
                await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1000 + answered,
                                          "method": "public/test", "params": {}}))
                answered += 1
        assert answered >= 3, answered
        assert (await c.call("public/test"))["result"]["version"]
        hb = srv.status()["clients"][0]["heartbeat"]
        assert hb["interval"] == 1 and hb["test_requests"] >= 3, hb
        assert hb["answers"] >= hb["test_requests"] - 1, hb
    assert srv.status()["heartbeat_drops"] == 0


async def check_heartbeat_unanswered_is_dropped(srv):
    async with connect(srv.url()) as ws:
        c = Client(ws)
        assert (await c.call("public/set_heartbeat", {"interval": 1}))["result"] == "ok"
        t0 = time.monotonic()
        await expect_closed(ws, 5.0)
        assert time.monotonic() - t0 < 4.0
    assert srv.status()["heartbeat_drops"] == 1


async def check_fault_drop(srv):
    async with connect(srv.url()) as ws:
        c = Client(ws)
        await c.call("public/subscribe", {"channels": ["platform_state"]})
        srv.fault(kind="drop")
        code = await expect_closed(ws, 5.0)
        assert code == 1006, code  # no close frame
    assert srv.status()["connections"] == 0


async def check_fault_stall(srv):
    async with connect(srv.url()) as ws:
        c = Client(ws)
        await c.call("public/subscribe", {"channels": [ch for ch, _ in capture_notifications()]})
        for _ in range(5):
            await c.recv(5.0)
        srv.fault(kind="stall", ms=1000)
        t_fault = time.monotonic()
        last = t_fault
        longest = 0.0
        after = 0
        while time.monotonic() - t_fault < 2.5:
            try:
                await c.recv(1.5)
            except asyncio.TimeoutError:
                break
            now = time.monotonic()
            if longest >= 0.8:
                after += 1
            longest = max(longest, now - last)
            last = now
        assert 0.8 <= longest < 1.6, longest
        assert after > 0, "frames did not resume after the stall"


async def check_fault_malformed(srv):
    with open(RECORDING) as f:
        base = next(json.loads(l)["frame"] for l in f if '"ts_ns"' in l)
    async with connect(srv.url()) as ws:
        c = Client(ws)
        await c.call("public/test")
        srv.fault(kind="malformed", count=2)
        cut, typed = await c.recv(5.0), await c.recv(5.0)
    try:
        json.loads(cut)
        raise AssertionError("the cut frame parsed as JSON")
    except json.JSONDecodeError:
        pass
    assert base.startswith(cut) and len(cut) < len(base)
    doc = json.loads(typed)
    assert doc != json.loads(base) and doc["method"] == "subscription"
    # Exactly one number became a string: dropping the two added quotes gives the real frame.
    assert len(typed) == len(base) + 2
    i = next(k for k in range(len(base)) if typed[k] != base[k])
    assert typed[i] == '"' and typed[:i] + typed[i + 1:].replace('"', "", 1) == base


async def check_fault_oversized(srv):
    async with connect(srv.url(), max_size=None) as ws:
        c = Client(ws)
        await c.call("public/test")
        srv.fault(kind="oversized", bytes=300000)
        frame = await c.recv(5.0)
    assert len(frame) == 300000, len(frame)
    assert json.loads(frame)["method"] == "subscription"


async def check_fault_error(srv):
    async with connect(srv.url()) as ws:
        c = Client(ws)
        await c.call("public/test")
        srv.fault(kind="error", code=10028, message="too_many_requests", close=False)
        e = json.loads(await c.recv(5.0))
        assert "id" not in e and e["error"] == {"code": 10028, "message": "too_many_requests"}, e
        assert (await c.call("public/test"))["result"]["version"]  # still open
        srv.fault(kind="error", code=10028, message="too_many_requests", close=True)
        e = json.loads(await c.recv(5.0))
        assert e["error"]["code"] == 10028, e
        assert await expect_closed(ws, 5.0) == 1000


async def check_fault_maintenance(srv):
    async with connect(srv.url()) as ws:
        c = Client(ws)
        await c.call("public/test")
        srv.fault(kind="maintenance", ms=1500)
        msg = json.loads(await c.recv(5.0))
        assert msg == {"jsonrpc": "2.0", "method": "subscription",
                       "params": {"channel": "platform_state", "data": {"maintenance": True}}}, msg
        await expect_closed(ws, 5.0)
    async with connect(srv.url()) as ws:
        c = Client(ws)
        r = await c.call("public/get_instruments", {"currency": "BTC"})
        assert r["error"] == {"code": 11051, "message": "system_maintenance"}, r
        await asyncio.sleep(1.6)
        r = await c.call("public/get_instruments", {"currency": "BTC"})
        assert len(r["result"]) == 15, r


def recorded_frames():
    """(ts_ns, channel, frame text) of every playable frame of RECORDING, in order."""
    out = []
    with open(RECORDING) as f:
        for line in f:
            d = json.loads(line)
            if "frame" in d:
                out.append((d["ts_ns"], json.loads(d["frame"])["params"]["channel"], d["frame"]))
    return out


def is_option_ticker(channel):
    # ticker.BTC-24SEP21-8000-P.raw: an option name has four dash-separated parts ending C or P.
    parts = channel.split(".")
    name = parts[1].split("-") if len(parts) == 3 else []
    return parts[0] == "ticker" and len(name) == 4 and name[3] in ("C", "P")


SHOCKED = ("best_bid_price", "best_ask_price", "mark_price")


def shocked(frame_text, scale, floor_ms):
    """The recorded frame as the shock fault must send it: prices times scale, the timestamp
    raised to floor_ms, everything else (key order included) as recorded."""
    doc = json.loads(frame_text)
    data = doc["params"]["data"]
    for k in SHOCKED:
        if isinstance(data.get(k), (int, float)):
            data[k] = data[k] * scale
    data["timestamp"] = max(data["timestamp"], floor_ms)
    return doc


async def check_fault_shock_resends_scaled_tickers(srv):
    frames = recorded_frames()
    channels = list(dict.fromkeys(ch for _, ch, _ in frames))
    tickers = [ch for ch in channels if is_option_ticker(ch)]
    assert len(tickers) == 10 and len(channels) == 20, channels
    head_ms = frames[-1][0] // 1_000_000  # --speed 0: the whole recording has been played
    last = {ch: text for _, ch, text in frames}
    async with connect(srv.url()) as ws:
        c = Client(ws)
        await c.call("public/subscribe", {"channels": channels})
        for _ in frames:
            await c.recv(5.0)
        for scale in (1.5, 1.0):  # 1 ends the shock: recorded prices, timestamps kept at the head
            srv.fault(kind="shock", scale=scale)
            got = {}
            for _ in tickers:
                msg = await c.recv(5.0)
                doc = json.loads(msg)
                got[doc["params"]["channel"]] = doc
                # Wire key order as recorded (decoders may read fields in order).
                assert list(doc["params"]["data"]) == \
                    list(json.loads(last[doc["params"]["channel"]])["params"]["data"])
            assert sorted(got) == sorted(tickers), sorted(got)
            for ch in tickers:
                want = shocked(last[ch], scale, head_ms)
                assert got[ch] == want, (ch, got[ch]["params"]["data"], want["params"]["data"])
                assert got[ch]["params"]["data"]["timestamp"] == head_ms
            try:
                extra = await c.recv(0.5)
                raise AssertionError("unexpected frame after the shock: " + extra[:200])
            except asyncio.TimeoutError:
                pass
        shock = srv.status()["clients"][0]["shock"]
        assert shock == {"scale": 1.0, "resent": 20, "scaled": 0}, shock


async def check_fault_shock_scales_later_frames(srv):
    frames = recorded_frames()
    tickers = list(dict.fromkeys(ch for _, ch, _ in frames if is_option_ticker(ch)))
    by_channel = {}
    for _, ch, text in frames:
        by_channel.setdefault(ch, []).append(json.loads(text)["params"]["data"])
    async with connect(srv.url()) as ws:
        c = Client(ws)
        await c.call("public/subscribe", {"channels": tickers})
        for _ in range(3):
            await c.recv(5.0)
        srv.fault(kind="shock", scale=2.0)
        kinds = []
        last_ts = {}
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.0:
            doc = json.loads(await c.recv(5.0))
            ch, data = doc["params"]["channel"], doc["params"]["data"]
            plain = data in by_channel[ch]
            scaled = any(all(data[k] == r[k] * 2.0 for k in SHOCKED) and data["timestamp"] >=
                         r["timestamp"] and {k: v for k, v in data.items() if k not in SHOCKED
                                             and k != "timestamp"} ==
                         {k: v for k, v in r.items() if k not in SHOCKED and k != "timestamp"}
                         for r in by_channel[ch])
            assert plain or scaled, data
            if scaled and not plain:
                # Never back in time per instrument, across the re-sent and the later frames.
                assert data["timestamp"] >= last_ts.get(ch, 0), (ch, data, last_ts.get(ch))
                last_ts[ch] = data["timestamp"]
            kinds.append("scaled" if scaled and not plain else "plain")
        shock = srv.status()["clients"][0]["shock"]
    # Frames queued before the fault may go out unscaled; after the first scaled one, none.
    first = kinds.index("scaled")
    assert "plain" not in kinds[first:], kinds
    assert shock["scale"] == 2.0 and shock["scaled"] > 0, shock
    assert len(kinds) - first >= shock["resent"] + 1, (kinds, shock)


async def check_fault_shock_rejects_bad_scale(srv):
    for body in ({"kind": "shock"}, {"kind": "shock", "scale": "2"},
                 {"kind": "shock", "scale": True}, {"kind": "shock", "scale": 0},
                 {"kind": "shock", "scale": 0.05}, {"kind": "shock", "scale": 10.5},
                 {"kind": "shock", "scale": -2}):
        code, reply = srv.http("POST", "/control/fault", body)
        assert code == 400 and "scale" in reply["error"]["message"], (body, code, reply)
    # JSON cannot carry an infinity; a literal too large for a double must not get through.
    req = urllib.request.Request(f"http://127.0.0.1:{srv.port}/control/fault", method="POST",
                                 data=b'{"kind":"shock","scale":1e400}')
    try:
        urllib.request.urlopen(req, timeout=10)
        raise AssertionError("scale 1e400 accepted")
    except urllib.error.HTTPError as e:
        assert e.code == 400, e.code
    assert srv.status()["faults"] == 0


async def check_control_http(srv):
    assert srv.http("GET", "/nope")[0] == 404
    code, body = srv.http("POST", "/control/fault", {"kind": "stall"})
    assert code == 400 and "ms" in body["error"]["message"], body
    code, body = srv.http("POST", "/control/fault", {"kind": "explode"})
    assert code == 400 and body["error"]["code"] == 400, body
    s = srv.status()
    for key in ("connections", "clients", "frames_sent", "heartbeat_drops", "accepted", "recording"):
        assert key in s, s


async def check_tls(srv):
    ctx = ssl.create_default_context(cafile=os.path.join(TLS, "ca.pem"))
    async with connect(f"wss://localhost:{srv.port}/ws/api/v2", ssl=ctx) as ws:
        r = await Client(ws).call("public/get_instruments", {"currency": "BTC", "kind": "future"})
    assert len(r["result"]) == 8, r
    # A client that does not trust the test CA is refused.
    try:
        async with connect(f"wss://localhost:{srv.port}/ws/api/v2",
                                      ssl=ssl.create_default_context()):
            raise AssertionError("untrusted certificate accepted")
    except ssl.SSLCertVerificationError:
        pass


async def check_capture_file_plays_as_is(srv):
    chans = ["ticker.ETH-23JUL21-2300-C.raw", "book.ETH-23JUL21-2300-C.raw"]
    expected = [frame for ch, frame in capture_notifications() if ch in chans]
    async with connect(srv.url()) as ws:
        c = Client(ws)
        r = await c.call("public/get_instruments", {"currency": "ETH", "kind": "option"})
        names = sorted(i["instrument_name"] for i in r["result"])
        assert names == ["ETH-23JUL21-2300-C", "ETH-27AUG21-4000-P", "ETH-30JUL21-2800-C"], names
        await c.call("public/subscribe", {"channels": chans})
        got = [await c.recv(5.0) for _ in expected]
        assert got == expected


async def check_gzip_recording(srv):
    async with connect(srv.url()) as ws:
        r = await Client(ws).call("public/get_instruments", {"currency": "BTC"})
    assert len(r["result"]) == 15, r
    assert srv.status()["recording"]["frames"] == 135


async def check_sigint_closes_connections_and_exits_0(srv):
    async with connect(srv.url()) as ws:
        c = Client(ws)
        await c.call("public/subscribe", {"channels": ["platform_state"]})
        srv.proc.send_signal(signal.SIGINT)
        assert await expect_closed(ws, 5.0) == 1000  # a close frame, not a dropped socket
    assert srv.proc.wait(timeout=10) == 0, srv.stderr()


def gzip_recording():
    tmp = tempfile.NamedTemporaryFile(suffix=".jsonl.gz", delete=False)
    with open(RECORDING, "rb") as f, gzip.GzipFile(fileobj=tmp, mode="wb") as gz:
        gz.write(f.read())
    tmp.close()
    return tmp.name


CHECKS = [
    (check_get_instruments, ["--speed", 0]),
    (check_subscribe_result, ["--speed", 0]),
    (check_notifications_byte_for_byte, ["--speed", 0]),
    (check_loop_plays_twice, ["--speed", 0, "--loop", 2]),
    (check_heartbeat_answered, ["--min-heartbeat-s", 1]),
    (check_heartbeat_unanswered_is_dropped, ["--min-heartbeat-s", 1]),
    (check_fault_drop, []),
    (check_fault_stall, ["--speed", 1, "--max-gap-ms", 40, "--loop", 0]),
    (check_fault_malformed, []),
    (check_fault_oversized, []),
    (check_fault_error, []),
    (check_fault_maintenance, []),
    (check_fault_shock_resends_scaled_tickers, ["--speed", 0]),
    (check_fault_shock_scales_later_frames, ["--speed", 1, "--max-gap-ms", 40, "--loop", 0]),
    (check_fault_shock_rejects_bad_scale, []),
    (check_control_http, []),
    (check_tls, ["--tls-cert", os.path.join(TLS, "localhost.pem"),
                 "--tls-key", os.path.join(TLS, "localhost.key")]),
    (check_capture_file_plays_as_is, ["--speed", 0], {"recording": CAPTURE}),
    (check_gzip_recording, [], {"recording": gzip_recording}),
    (check_sigint_closes_connections_and_exits_0, []),
]


def main():
    failed = []
    only = sys.argv[1:]
    for check, args, *opts in CHECKS:
        if only and check.__name__ not in only:
            continue
        kwargs = dict(opts[0]) if opts else {}
        if callable(kwargs.get("recording")):
            kwargs["recording"] = kwargs["recording"]()
        t0 = time.monotonic()
        srv = Replayd(*args, **kwargs)
        try:
            asyncio.run(asyncio.wait_for(check(srv), 30))
            srv.stop()
            print(f"ok   {check.__name__} ({time.monotonic() - t0:.1f} s)")
        except BaseException:  # noqa: B036 - report every failure, keep going
            failed.append(check.__name__)
            print(f"FAIL {check.__name__}\n{traceback.format_exc()}")
            try:
                srv.stop()
            except BaseException as e:  # noqa: B036
                print(f"     stop: {e}")
            print("     server log:\n" + srv.stderr()[-4000:])
        finally:
            if srv.proc.poll() is None:
                srv.proc.kill()
                srv.proc.wait()
            if kwargs.get("recording", RECORDING).endswith(".gz"):
                os.unlink(kwargs["recording"])
    print(f"{len(CHECKS) - len(failed) if not only else len(only) - len(failed)} passed, "
          f"{len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
