#!/usr/bin/env python3
"""vrpd against vrp-replayd when the market data stops: with engine.data_timeout_s = 2, once the
replay has played its last frame (heartbeats go on, data does not) each underlying turns stale
within the timeout plus one engine tick: /readyz answers 503 naming it, vrp_underlying_stale is 1,
/v1/premium says "stale": true and publishes no number for any tenor, and the premium gauges in
/metrics are NaN.

Environment: VRPD, VRPCTL (test_vrpd, whose helpers this uses, reads it), VRP_REPLAYD, VRP_SOURCE_DIR.
"""

import json
import math
import os
import shutil
import tempfile
import time
import unittest
import urllib.request

from test_vrpd import http, start_json_line, stop, write_config

VRPD = os.environ["VRPD"]
REPLAYD = os.environ["VRP_REPLAYD"]
SOURCE = os.environ.get("VRP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
RECORDING = os.path.join(SOURCE, "data", "demo", "deribit_2025-10-24.recording.jsonl")
TIMEOUT_S = 2


def metric(text, name, underlying):
    prefix = f'{name}{{underlying="{underlying}"'
    for line in text.splitlines():
        if line.startswith(prefix):
            return float(line.rsplit(" ", 1)[1])
    return None


class DataStops(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vrpd-stale-")
        self.replay, self.replay_address = start_json_line(
            [REPLAYD, "--recording", RECORDING, "--listen", "127.0.0.1:0", "--speed", "40",
             "--max-gap-ms", "200", "--min-heartbeat-s", "1"], "vrp-replayd")
        config = write_config(self.tmp, self.replay_address, f"data_timeout_s = {TIMEOUT_S}")
        self.vrpd, self.address = start_json_line([VRPD, "--config", config], "vrpd")

    def tearDown(self):
        code = stop(self.vrpd)
        stop(self.replay)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(code, 0, self.vrpd.stderr.read())

    def playback_done(self):
        with urllib.request.urlopen(f"http://{self.replay_address}/control/status",
                                    timeout=5) as r:
            st = json.loads(r.read())
        feeds = [c for c in st.get("clients", []) if c.get("subscriptions")]
        return bool(feeds) and all(c.get("playback_done") for c in feeds)

    def test_stopped_data_is_stale_and_not_ready(self):
        deadline = time.time() + 120
        while time.time() < deadline and http(self.address, "/readyz")[0] != 200:
            time.sleep(0.1)
        self.assertEqual(http(self.address, "/readyz")[0], 200, "never ready")
        while time.time() < deadline and not self.playback_done():
            time.sleep(0.1)
        done_at = time.time()
        self.assertTrue(self.playback_done(), "the replay did not finish")

        # Each underlying's data ends with its last frame (BTC's may end before the playback):
        # both are stale within the timeout plus one engine tick (at most a second) and slack.
        waiting = []
        while time.time() < done_at + TIMEOUT_S + 5:
            status, _, body = http(self.address, "/readyz")
            waiting = json.loads(body).get("waiting_for", []) if status == 503 else []
            if sorted(waiting) == ["BTC", "ETH"]:
                break
            time.sleep(0.1)
        self.assertEqual(status, 503, body)
        self.assertEqual(sorted(waiting), ["BTC", "ETH"], body)

        text = http(self.address, "/metrics")[2]
        for u in ("BTC", "ETH"):
            self.assertEqual(metric(text, "vrp_underlying_stale", u), 1.0, u)
            self.assertGreater(metric(text, "vrp_underlying_data_age_seconds", u), TIMEOUT_S, u)
            status, _, body = http(self.address, f"/v1/premium?underlying={u}")
            self.assertEqual(status, 200, body)
            p = json.loads(body)
            self.assertTrue(p["stale"], u)
            for row in p["tenors"]:
                self.assertFalse(row["available"], row)
                self.assertEqual(row["reason"], "stale_data", row)
                for k in ("atm_iv", "mfiv", "rv_forecast", "premium_vol", "premium_var"):
                    self.assertIsNone(row[k], f"{u} {row['days']} {k}")
            gauges = [line for line in text.splitlines()
                      if line.startswith(f'vrp_premium_vol{{underlying="{u}"')]
            self.assertTrue(gauges)
            for line in gauges:
                self.assertTrue(math.isnan(float(line.rsplit(" ", 1)[1])), line)


if __name__ == "__main__":
    unittest.main(verbosity=2)
