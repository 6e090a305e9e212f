#!/usr/bin/env python3
"""Restarts without loss (issue 6 item 3): vrp-replayd + vrpd on loopback with a temporary state
directory (configuration from deploy/demo.toml). Once history points are in the SQLite file,
vrpd is killed with SIGKILL; the points in the file (read here with Python's sqlite3) are the
ones written before the kill. A vrpd restarted on the same directory must serve every one of them
on /v1/history (same ts and values), and its forecasters must resume from their checkpoints
(log line, vrp_state_restored metric, the stored GARCH parameters on /v1/forecast) instead of a
full warm-up from the venue's history. Then a garbage state file: vrpd starts, /healthz is 200,
the file is moved aside and vrp_state_errors_total{reason="not_a_database"} counts it.

Environment: VRPD, VRP_REPLAYD (binaries), VRP_SOURCE_DIR (the repository).
"""

import json
import math
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import unittest
import urllib.error
import urllib.request

VRPD = os.environ["VRPD"]
REPLAYD = os.environ["VRP_REPLAYD"]
SOURCE = os.environ.get("VRP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
RECORDING = os.path.join(SOURCE, "data", "demo", "deribit_2025-10-24.recording.jsonl")
DEMO_CONFIG = os.path.join(SOURCE, "deploy", "demo.toml")
TENORS = [1, 7, 14, 30, 60, 90, 180]


class proc_with_log:
    """A process whose stdout's first line is {"listening": ...}; stderr is collected."""

    def __init__(self, args, what):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines = []
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError(f"{what} did not start: " + "\n".join(self.lines))
        self.address = json.loads(line)["listening"]

    def _read_stderr(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def log(self):
        return "\n".join(self.lines)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._reader.join(timeout=5)
        self.proc.stdout.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(timeout=5)
        if not self.proc.stdout.closed:
            self.proc.stdout.close()
        if not self.proc.stderr.closed:
            self.proc.stderr.close()
        return self.proc.returncode


def http(address, path):
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(address, series):
    status, text = http(address, "/metrics")
    if status != 200:
        return None
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def write_config(tmp, replay_address, state_dir):
    """deploy/demo.toml with loopback ports, the replay's address and the temporary state dir."""
    with open(DEMO_CONFIG, "rb") as f:
        demo = tomllib.load(f)
    assert demo["venues"]["deribit"]["url"].startswith("ws://127.0.0.1:")
    path = os.path.join(tmp, "vrpd.toml")
    underlyings = json.dumps(demo["engine"]["underlyings"])
    currencies = json.dumps(demo["venues"]["deribit"]["currencies"])
    with open(path, "w") as f:
        f.write(f"""
[service]
state_dir = "{state_dir}"
log_level = "info"
[api]
listen = "127.0.0.1:0"
[engine]
underlyings = {underlyings}
[forecast]
bar = "{demo["forecast"]["bar"]}"
history_days = {demo["forecast"]["history_days"]}
background_refit = false
[venues.deribit]
url = "ws://{replay_address}/ws/api/v2"
currencies = {currencies}
heartbeat_s = 1
""")
    return path


def read_points(db_path):
    """Every history point in the file: {(underlying, tenor): [(ts, values...)]}. Read-write, so
    that after a kill SQLite can recover the WAL the dead process left."""
    con = sqlite3.connect(db_path, timeout=10)
    try:
        rows = con.execute(
            "SELECT underlying, tenor_days, ts_ms, atm_iv, mfiv, rv_forecast, premium_vol, "
            "premium_var, rr25, bf25 FROM history_points ORDER BY underlying, tenor_days, ts_ms"
        ).fetchall()
    finally:
        con.close()
    out = {}
    for u, t, *rest in rows:
        out.setdefault((u, t), []).append(tuple(rest))
    return out


def count_points(db_path):
    if not os.path.exists(db_path):
        return 0
    try:
        con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM history_points").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def read_checkpoints(db_path, writable=False):
    con = sqlite3.connect(db_path if writable else f"file:{db_path}?mode=ro", uri=not writable,
                          timeout=10)
    try:
        rows = con.execute("SELECT underlying, ready, bars, mu, omega, alpha, gamma, beta, nu "
                           "FROM forecaster_state").fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


def same_number(stored, served):
    if stored is None:
        return served is None or (isinstance(served, float) and math.isnan(served))
    return served is not None and float(served) == float(stored)


class RestartWithoutLoss(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vrp-restart-")
        self.procs = []
        # Paced: history points accumulate for a while, so the kill lands mid-stream.
        self.replay = proc_with_log(
            [REPLAYD, "--recording", RECORDING, "--listen", "127.0.0.1:0", "--speed", "20",
             "--max-gap-ms", "200", "--min-heartbeat-s", "1"], "vrp-replayd")
        self.procs.append(self.replay)

    def tearDown(self):
        for p in reversed(self.procs):
            if p.proc.poll() is None:
                p.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start_vrpd(self, config):
        p = proc_with_log([VRPD, "--config", config], "vrpd")
        self.procs.append(p)
        return p

    def wait_for(self, what, predicate, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.2)
        self.fail(f"timed out waiting for {what}")

    def test_kill9_then_restart_keeps_history_and_forecaster(self):
        state_dir = os.path.join(self.tmp, "state")
        config = write_config(self.tmp, self.replay.address, state_dir)
        db = os.path.join(state_dir, "vrpd.sqlite")
        first = self.start_vrpd(config)
        # The forecasters' first checkpoints and enough history points to be worth keeping.
        self.wait_for("history points in the state file", lambda: count_points(db) >= 200)
        self.wait_for("forecaster checkpoints",
                      lambda: os.path.exists(db) and len(read_checkpoints(db)) == 2)
        self.assertIn("event=warm_up underlying=BTC", first.log())
        first.kill9()
        self.assertEqual(first.proc.returncode, -signal.SIGKILL)

        stored = read_points(db)
        checkpoints = read_checkpoints(db, writable=True)
        self.assertGreaterEqual(sum(len(v) for v in stored.values()), 200)
        for u in ("BTC", "ETH"):
            self.assertEqual(checkpoints[u][0], 1, f"{u}: the checkpoint holds a fitted GARCH")

        second = self.start_vrpd(config)
        # Every stored point is served, with the same timestamp and values.
        for (u, tenor), points in stored.items():
            status, body = http(second.address, f"/v1/history?underlying={u}&tenor={tenor}")
            self.assertEqual(status, 200, body)
            served = {p["ts"]: p for p in json.loads(body)["points"]}
            for ts, *values in points:
                self.assertIn(ts, served, f"{u} {tenor}d point {ts} lost")
                p = served[ts]
                for key, v in zip(["atm_iv", "mfiv", "rv_forecast", "premium_vol",
                                   "premium_var", "rr25", "bf25"], values):
                    self.assertTrue(same_number(v, p[key]), f"{u} {tenor}d {ts} {key}: {v} vs "
                                                            f"{p[key]}")
        self.assertEqual(metric(second.address, "vrp_state_restored_history_points"),
                         sum(len(v) for v in stored.values()))

        # The forecasters resumed from their checkpoints: no warm-up from the venue's history.
        self.wait_for("the forecasters' restore",
                      lambda: second.log().count("event=state_restored") == 2, timeout=60)
        for u in ("BTC", "ETH"):
            self.assertEqual(metric(second.address, f'vrp_state_restored{{underlying="{u}"}}'), 1)
        self.assertNotIn("event=warm_up underlying=", second.log())
        for u in ("BTC", "ETH"):
            def forecast_ready():
                status, body = http(second.address, f"/v1/forecast?underlying={u}")
                doc = json.loads(body) if status == 200 else {}
                return doc if doc.get("ready") else None
            doc = self.wait_for(f"{u} forecast", forecast_ready, timeout=60)
            _, bars, mu, omega, alpha, gamma, beta, nu = checkpoints[u]
            # No re-estimation happens in between (refit_every is 24 bars; the recording holds
            # about one hour), so the parameters are the checkpoint's, to the last bit.
            for key, v in zip(["mu", "omega", "alpha", "gamma", "beta", "nu"],
                              [mu, omega, alpha, gamma, beta, nu]):
                self.assertTrue(same_number(v, doc["params"][key]),
                                f"{u} {key}: stored {v}, served {doc['params'][key]}")
            self.assertGreaterEqual(doc["bars"], bars)
        self.assertEqual(metric(second.address, 'vrp_state_errors_total{reason="not_a_database"}'),
                         0)
        self.assertEqual(second.stop(), 0)
        self.assertIn("event=state_flushed", second.log())
        for line in second.log().splitlines():
            if "event=state_" in line:
                print(line, file=sys.stderr)

    def test_garbage_state_file_is_moved_aside(self):
        state_dir = os.path.join(self.tmp, "state")
        os.makedirs(state_dir)
        db = os.path.join(state_dir, "vrpd.sqlite")
        with open(db, "wb") as f:
            f.write(os.urandom(16384))
        config = write_config(self.tmp, self.replay.address, state_dir)
        vrpd = self.start_vrpd(config)
        status, _ = http(vrpd.address, "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(metric(vrpd.address, 'vrp_state_errors_total{reason="not_a_database"}'),
                         1)
        self.assertEqual(metric(vrpd.address, "vrp_state_enabled"), 1)
        aside = [n for n in os.listdir(state_dir) if n.startswith("vrpd.sqlite.corrupt-")]
        self.assertEqual(len(aside), 1, os.listdir(state_dir))
        self.assertTrue(re.fullmatch(r"vrpd\.sqlite\.corrupt-\d+", aside[0]), aside[0])
        with open(os.path.join(state_dir, aside[0]), "rb") as f:
            self.assertEqual(len(f.read()), 16384)
        self.assertRegex(vrpd.log(), r"event=state_file_bad path=\"[^\"]*vrpd\.sqlite\" "
                                     r"problem=not_a_database")
        # A clean store in its place, and the service works on it.
        self.wait_for("history points in the clean file", lambda: count_points(db) > 0)
        self.assertEqual(vrpd.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
