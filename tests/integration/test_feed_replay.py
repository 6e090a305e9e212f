#!/usr/bin/env python3
"""The production Deribit feed (vrpctl feed: session, protocol, codec, ring) against vrp-replayd
over loopback: discovery -> subscribe -> data; heartbeats answered; server restart -> every channel
resubscribed and data flowing again within 2 s; stall -> watchdog reconnect; malformed and
oversized frames counted and skipped without a disconnect; rate-limit error -> backoff;
maintenance -> reconnect later; TLS with a test CA, and refusal of a wrong host name.

Environment: VRPCTL and VRP_REPLAYD (paths of the binaries), VRP_SOURCE_DIR (the repository).
"""

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

VRPCTL = os.environ["VRPCTL"]
REPLAYD = os.environ["VRP_REPLAYD"]
SOURCE = os.environ.get("VRP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
RECORDING = os.path.join(SOURCE, "data", "demo", "deribit_2025-10-24.recording.jsonl")
TLS = os.path.join(SOURCE, "tests", "data", "tls")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replay:
    """A vrp-replayd process on loopback; stopped by close()."""

    def __init__(self, port=0, extra=()):
        args = [REPLAYD, "--recording", RECORDING, "--listen", f"127.0.0.1:{port}",
                "--speed", "0", "--loop", "0", "--min-heartbeat-s", "1", *extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("vrp-replayd did not start: " + self.proc.stderr.read())
        self.address = json.loads(line)["listening"]
        self.port = int(self.address.rsplit(":", 1)[1])

    def control(self, body):
        req = urllib.request.Request(f"http://{self.address}/control/fault",
                                     data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def status(self):
        with urllib.request.urlopen(f"http://{self.address}/control/status", timeout=5) as r:
            return json.loads(r.read())

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            f.close()


class Feed:
    """vrpctl feed printing its counters every 100 ms; lines are read on a thread."""

    def __init__(self, url, extra=()):
        args = [VRPCTL, "feed", "--url", url, "--stats-every-ms", "100", "--heartbeat-s", "1",
                "--backoff-initial-ms", "100", "--backoff-max-ms", "1000", *extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.last = None
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def wait_for(self, predicate, timeout, what):
        """Returns the first stats line (and the time it was seen) satisfying predicate."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                s = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if s is None:
                break
            self.last = s
            if predicate(s):
                return s, time.monotonic()
        raise AssertionError(f"timed out waiting for {what}; last stats: {json.dumps(self.last)}")

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(2)  # SIGINT: clean shutdown
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.proc.stderr.read()
        self.proc.stdout.close()
        self.proc.stderr.close()
        return err


def live(s):
    return s["state"] == "live" and s["channels"]["live"] == s["channels"]["wanted"] > 0


class FeedAgainstReplay(unittest.TestCase):
    def setUp(self):
        self.replay = Replay()
        self.url = f"ws://127.0.0.1:{self.replay.port}/ws/api/v2"

    def tearDown(self):
        self.replay.close()

    def start_feed(self, *extra):
        feed = Feed(self.url, extra)
        self.addCleanup(feed.close)
        return feed

    def test_discovery_subscribe_and_data_flow(self):
        feed = self.start_feed()
        # Index and DVOL ticks come at the recording's pace, not with the option quotes, and the
        # consumed counts are sampled apart from the I/O thread's: they are waited for, not
        # asserted on the first line that shows a thousand option quotes.
        s, _ = feed.wait_for(lambda s: live(s) and s["consumed"]["option_quotes"] > 1000
                             and s["consumed"]["index_ticks"] > 0
                             and s["consumed"]["dvol_ticks"] > 0, 20,
                             "live with option quotes, index and DVOL ticks")
        # Every option of both real chains (732 BTC + 814 ETH) plus the perpetuals, the two price
        # indices, the two DVOL indices, the two markprice channels and platform_state.
        self.assertEqual(s["channels"]["wanted"], 732 + 814 + 2 + 2 + 2 + 2 + 1)
        self.assertEqual(s["channels"]["missing"], 0)
        self.assertEqual(s["session"]["connects"], 1)
        self.assertEqual(s["codec"]["rejected"], {})

    def test_heartbeat_test_requests_are_answered(self):
        feed = self.start_feed()
        s, _ = feed.wait_for(lambda s: s["protocol"]["test_requests_answered"] >= 3, 15,
                             "three answered test requests")
        self.assertEqual(s["session"]["connects"], 1)
        self.assertEqual(self.replay.status()["heartbeat_drops"], 0)

    def test_server_restart_resubscribes_every_channel_within_two_seconds(self):
        feed = self.start_feed()
        before, _ = feed.wait_for(live, 20, "live")
        port = self.replay.port
        self.replay.close()
        feed.wait_for(lambda s: s["state"] != "live", 10, "the feed to notice the restart")
        self.replay = Replay(port=port)
        restarted = time.monotonic()
        # The state and channel counts come from the I/O thread, the consumed counts from the
        # consumer thread: one stats line can show "live" before the consumer has taken the
        # feed_up event off the ring, so feed_up is waited for, within the same 2 s.
        after, seen = feed.wait_for(
            lambda s: live(s) and s["session"]["connects"] >= 2
            and s["consumed"]["feed_up"] >= 2
            and s["consumed"]["option_quotes"] > before["consumed"]["option_quotes"] + 1000,
            20, "live again with fresh data")
        self.assertEqual(after["channels"]["live"], before["channels"]["wanted"])
        self.assertLess(seen - restarted, 2.0, "resubscribed and flowing within 2 s")
        self.assertGreaterEqual(after["consumed"]["feed_down"], 1)

    def test_stall_triggers_the_watchdog_and_a_reconnect(self):
        feed = self.start_feed("--stale-after-ms", "800")
        feed.wait_for(live, 20, "live")
        self.replay.control({"kind": "stall", "ms": 3000})
        s, _ = feed.wait_for(lambda s: s["session"]["stale_reconnects"] >= 1, 10, "a stale reconnect")
        self.assertEqual(s["session"]["last_close"], "stale")
        feed.wait_for(lambda s: live(s) and s["session"]["connects"] >= 2, 15, "live again")

    def test_malformed_and_oversized_frames_are_counted_and_skipped(self):
        feed = self.start_feed()
        before, _ = feed.wait_for(live, 20, "live")
        self.replay.control({"kind": "malformed", "count": 5})
        self.replay.control({"kind": "oversized", "bytes": 2 * 1024 * 1024})
        s, _ = feed.wait_for(
            lambda s: sum(s["codec"]["rejected"].values()) >= 5 and s["oversized_skipped"] >= 1
            and s["consumed"]["option_quotes"] > before["consumed"]["option_quotes"] + 1000,
            20, "rejections counted and data still flowing")
        self.assertEqual(s["session"]["connects"], 1, "no reconnect for bad frames")
        self.assertEqual(s["session"]["disconnects"], 0)

    def test_rate_limit_error_backs_off_before_reconnecting(self):
        feed = self.start_feed()
        feed.wait_for(live, 20, "live")
        self.replay.control({"kind": "error", "code": 10028, "message": "too_many_requests",
                             "close": True})
        limited, t_limited = feed.wait_for(lambda s: s["protocol"]["rate_limited"] >= 1, 10,
                                           "the rate-limit error")
        self.assertEqual(limited["protocol"]["last_error_code"], 10028)
        _, t_back = feed.wait_for(lambda s: s["session"]["connects"] >= 2, 30, "a reconnect")
        # The protocol waits at least its rate-limit delay (>= 1 s) instead of the 100 ms backoff.
        self.assertGreaterEqual(t_back - t_limited, 0.9)

    def test_maintenance_is_reported_and_the_feed_comes_back(self):
        feed = self.start_feed()
        feed.wait_for(live, 20, "live")
        self.replay.control({"kind": "maintenance", "ms": 1500})
        feed.wait_for(lambda s: s["protocol"]["maintenance"] >= 1, 10, "maintenance seen")
        feed.wait_for(lambda s: live(s) and s["session"]["connects"] >= 2, 90, "live after it")


class FeedOverTls(unittest.TestCase):
    def run_tls(self, cert):
        replay = Replay(extra=("--tls-cert", os.path.join(TLS, cert + ".pem"),
                               "--tls-key", os.path.join(TLS, cert + ".key")))
        self.addCleanup(replay.close)
        feed = Feed(f"wss://localhost:{replay.port}/ws/api/v2",
                    ("--ca-file", os.path.join(TLS, "ca.pem")))
        self.addCleanup(feed.close)
        return feed

    def test_connects_to_a_tls_replay_signed_by_the_test_ca(self):
        feed = self.run_tls("localhost")
        s, _ = feed.wait_for(lambda s: live(s) and s["consumed"]["option_quotes"] > 0, 20,
                             "live over TLS")
        self.assertEqual(s["session"]["connects"], 1)

    def test_refuses_a_certificate_for_another_host_name(self):
        feed = self.run_tls("wronghost")
        s, _ = feed.wait_for(lambda s: s["session"]["failed_attempts"] >= 2, 20, "refused attempts")
        self.assertEqual(s["session"]["connects"], 0)
        self.assertEqual(s["session"]["last_close"], "tls_failed")
        self.assertEqual(s["consumed"]["option_quotes"], 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
