#!/usr/bin/env python3
"""vrpd against vrp-replayd over loopback, on the bundled real data (2025-10-24):
/readyz turns 200; /v1/premium holds real premia and matches the engine run directly on the same
recording (vrpctl engine); premium = IV - forecast exactly; a WebSocket subscriber receives
strictly increasing seq per channel and its last frame equals /v1/premium; /v1/surface,
/v1/forecast and /v1/history answer; /metrics passes `promtool check metrics`; errors are JSON with
the right status; SIGTERM shuts down cleanly.

Environment: VRPD, VRPCTL, VRP_REPLAYD (binaries), VRP_SOURCE_DIR (the repository), PROMTOOL
(optional path of promtool; the check is skipped only when it is absent).
"""

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import websockets

VRPD = os.environ["VRPD"]
VRPCTL = os.environ["VRPCTL"]
REPLAYD = os.environ["VRP_REPLAYD"]
SOURCE = os.environ.get("VRP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
RECORDING = os.path.join(SOURCE, "data", "demo", "deribit_2025-10-24.recording.jsonl")
PROMTOOL = os.environ.get("PROMTOOL") or shutil.which("promtool") or "/usr/bin/promtool"


def start_json_line(args, what):
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"{what} did not start: " + proc.stderr.read())
    return proc, json.loads(line)["listening"]


def stop(proc, sig=signal.SIGTERM, timeout=15):
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def write_config(tmp, replay_address, engine_extra="", api_extra=""):
    """A vrpd config in `tmp` for the replay at `replay_address` (any free API port)."""
    config = os.path.join(tmp, "vrpd.toml")
    with open(config, "w") as f:
        f.write(f"""
[service]
state_dir = "{tmp}/state"
log_level = "warn"
[api]
listen = "127.0.0.1:0"
{api_extra}
[engine]
underlyings = ["BTC", "ETH"]
{engine_extra}
[forecast]
background_refit = false
[venues.deribit]
url = "ws://{replay_address}/ws/api/v2"
heartbeat_s = 1
""")
    return config


def http(address, path, token=None, context=None):
    """GET of `path`: (status, content type, body); HTTPS when an ssl `context` is given."""
    scheme = "https" if context else "http"
    req = urllib.request.Request(f"{scheme}://{address}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


class VrpdOnReplay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="vrpd-test-")
        # Paced replay: each chain takes a few seconds, so a subscriber sees a stream of updates.
        cls.replay, cls.replay_address = start_json_line(
            [REPLAYD, "--recording", RECORDING, "--listen", "127.0.0.1:0", "--speed", "40",
             "--max-gap-ms", "200", "--min-heartbeat-s", "1"], "vrp-replayd")
        config = write_config(cls.tmp, cls.replay_address)
        cls.vrpd, cls.address = start_json_line([VRPD, "--config", config], "vrpd")
        cls.frames = []
        cls.ws_error = None
        cls.ws_thread = threading.Thread(target=cls._subscribe, daemon=True)
        cls.ws_thread.start()

    @classmethod
    def _subscribe(cls):
        async def run():
            async with websockets.connect(f"ws://{cls.address}/v1/stream", max_size=None) as ws:
                await ws.send(json.dumps({"op": "subscribe",
                                          "channels": ["premium.BTC", "premium.ETH"]}))
                cls.ack = json.loads(await ws.recv())
                deadline = time.time() + 120
                while time.time() < deadline and not cls.done.is_set():
                    try:
                        msg = await asyncio.wait_for(ws.recv(), timeout=0.5)
                    except asyncio.TimeoutError:
                        continue
                    cls.frames.append(json.loads(msg))
        try:
            asyncio.run(run())
        except Exception as e:  # reported by the test that reads the frames
            cls.ws_error = repr(e)

    done = threading.Event()

    @classmethod
    def tearDownClass(cls):
        cls.done.set()
        cls.ws_thread.join(timeout=5)
        code = stop(cls.vrpd)
        stop(cls.replay)
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if code != 0:
            raise AssertionError(f"vrpd exited with {code} on SIGTERM: {cls.vrpd.stderr.read()}")

    def wait_ready(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, _, body = http(self.address, "/readyz")
            if status == 200:
                return json.loads(body)
            self.assertEqual(status, 503, body)
            time.sleep(0.2)
        self.fail("vrpd never became ready")

    def wait_replay_done(self, timeout=120):
        # The replay has played every frame once its single loop is done.
        deadline = time.time() + timeout
        while time.time() < deadline:
            with urllib.request.urlopen(f"http://{self.replay_address}/control/status",
                                        timeout=5) as r:
                st = json.loads(r.read())
            feeds = [c for c in st.get("clients", []) if c.get("subscriptions")]
            if feeds and all(c.get("playback_done") for c in feeds):
                return
            time.sleep(0.5)
        self.fail("the replay did not finish")

    def wait_settled(self, timeout=60):
        """Waits until vrpd is ready, the replay has played everything, and the engine has
        published what was pending: /v1/premium of both underlyings reads the same twice, 0.5 s
        apart."""
        self.wait_ready()
        self.wait_replay_done()
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            now = [http(self.address, f"/v1/premium?underlying={u}") for u in ("BTC", "ETH")]
            if now == last:
                return
            last = now
            time.sleep(0.5)
        self.fail("vrpd kept publishing after the replay was done")

    def premium(self, underlying):
        status, ctype, body = http(self.address, f"/v1/premium?underlying={underlying}")
        self.assertEqual(status, 200, body)
        self.assertIn("application/json", ctype)
        return json.loads(body)

    def test_1_ready_and_real_premia(self):
        self.assertEqual(http(self.address, "/healthz")[0], 200)
        # Ready comes with the first complete expiry; the whole chain is in once the replay is done.
        self.wait_settled()
        for u, (lo, hi) in {"BTC": (0.2, 1.2), "ETH": (0.3, 1.5)}.items():
            p = self.premium(u)
            self.assertEqual(p["underlying"], u)
            self.assertTrue(p["complete"])
            self.assertGreater(p["index_price"], 0)
            by_days = {t["days"]: t for t in p["tenors"]}
            self.assertEqual(sorted(by_days), [1, 7, 14, 30, 60, 90, 180])
            for days in (7, 30, 90):
                t = by_days[days]
                self.assertTrue(t["available"], t)
                for k in ("atm_iv", "mfiv", "rv_forecast"):
                    self.assertTrue(lo <= t[k] <= hi, f"{u} {days}d {k}={t[k]}")
            for t in p["tenors"]:
                if not t["available"]:
                    continue
                # The identities hold exactly: the JSON carries 17 significant digits.
                self.assertEqual(t["premium_vol"], t["atm_iv"] - t["rv_forecast"])
                self.assertEqual(t["premium_var"], t["mfiv"] ** 2 - t["rv_forecast"] ** 2)
                for name, b in t["buckets"].items():
                    if b["iv"] is not None:
                        self.assertEqual(b["premium_vol"], b["iv"] - t["rv_forecast"], name)

    def test_2_matches_the_engine_run_directly(self):
        self.wait_settled()  # the engine fits what is pending once the feed is quiet
        for u in ("BTC", "ETH"):
            served = self.premium(u)
            direct = json.loads(subprocess.run(
                [VRPCTL, "engine", "--recording", RECORDING, "--underlying", u, "--what",
                 "premium"], check=True, capture_output=True, text=True).stdout)
            self.assertEqual(served["ts"], direct["ts"])
            self.assertEqual(served["index_price"], direct["index_price"])
            self.assertEqual(served["model"], direct["model"])
            for a, b in zip(served["tenors"], direct["tenors"]):
                self.assertEqual(a["days"], b["days"])
                self.assertEqual(a["available"], b["available"])
                # The forecast does not depend on batching: equal to the last digit.
                self.assertEqual(a["rv_forecast"], b["rv_forecast"])
                # Smiles are warm-started from the previous fit, which depends on how the events
                # were batched; converged fits agree far inside a hundredth of a vol point.
                for k in ("atm_iv", "mfiv", "premium_vol", "rr25", "bf25"):
                    if a[k] is None or b[k] is None:
                        self.assertEqual(a[k], b[k], k)
                    else:
                        self.assertAlmostEqual(a[k], b[k], delta=1e-4, msg=f"{u} {a['days']} {k}")

    def test_3_stream_has_increasing_seq_and_ends_at_the_snapshot(self):
        self.wait_settled()
        time.sleep(0.5)  # the last frame, written with the last publish, reaches the subscriber
        self.assertIsNone(self.ws_error)
        self.assertEqual(self.ack.get("op"), "subscribed", self.ack)
        for u in ("BTC", "ETH"):
            seqs = [f["seq"] for f in self.frames if f.get("channel") == f"premium.{u}"]
            self.assertGreater(len(seqs), 5, f"{u}: {len(seqs)} frames")
            self.assertEqual(seqs, sorted(set(seqs)), f"{u}: seq not strictly increasing")
            last = [f for f in self.frames if f.get("channel") == f"premium.{u}"][-1]
            self.assertEqual(last["data"], self.premium(u))

    def test_4_surface_forecast_history(self):
        self.wait_ready()
        status, _, body = http(self.address, "/v1/surface?underlying=BTC")
        self.assertEqual(status, 200, body)
        s = json.loads(body)
        self.assertGreater(len(s["expiries"]), 5)
        fitted = [e for e in s["expiries"] if e["fitted"]]
        self.assertGreater(len(fitted), 5)
        for e in fitted:
            self.assertIsNotNone(e["svi"])
            self.assertLess(e["rmse_vol"], 0.05, e["expiry"])
        status, _, body = http(self.address, "/v1/forecast?underlying=ETH")
        self.assertEqual(status, 200, body)
        f = json.loads(body)
        self.assertTrue(f["ready"])
        self.assertGreater(f["bars"], 2000)
        status, _, body = http(self.address, "/v1/history?underlying=BTC&tenor=30")
        self.assertEqual(status, 200, body)
        self.assertGreater(len(json.loads(body)["points"]), 0)

    def test_5_errors_are_json_with_status(self):
        for path, code in (("/v1/premium?underlying=DOGE", 404), ("/v1/premium", 400),
                           ("/v1/nothing", 404), ("/v1/history?underlying=BTC&tenor=x", 400)):
            status, _, body = http(self.address, path)
            self.assertEqual(status, code, path)
            self.assertIn("code", json.loads(body)["error"], path)

    def test_6_metrics_pass_promtool(self):
        self.wait_ready()
        status, ctype, body = http(self.address, "/metrics")
        self.assertEqual(status, 200)
        self.assertIn("version=0.0.4", ctype)
        for name in ("vrp_feed_messages_total", "vrp_feed_decode_errors_total",
                     "vrp_ring_depth", "vrp_smile_fits_total", "vrp_premium_vol",
                     "vrp_tick_to_publish_seconds_bucket", "vrp_feed_reconnects_total"):
            self.assertIn(name, body)
        self.assertIn('vrp_premium_vol{underlying="BTC",tenor="30d"}', body)
        if not os.path.exists(PROMTOOL):
            self.skipTest("promtool not installed")
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual((r.stdout + r.stderr).strip(), "")


if __name__ == "__main__":
    unittest.main(verbosity=2)
