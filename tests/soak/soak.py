#!/usr/bin/env python3
"""Soak test of vrpd (issue 6, item 7): vrp-replayd plays the bundled recording at maximum speed in
a loop, vrpd runs against it, faults are injected through the replay's control API every few
seconds, and the tool watches vrpd's memory, CPU, metrics and WebSocket stream.

    soak.py --vrpd BIN --replayd BIN [--minutes N] [--fault-every S] [--speed X] [--out FILE]

What it checks (the verdict is FAIL when any fails; the exit code is then 1):
  - vrpd never exits during the soak and stops cleanly (exit 0) on SIGTERM at the end;
  - every injected fault moves the metric that shows it (drop -> vrp_feed_reconnects_total,
    stall -> vrp_feed_heartbeat_misses_total, malformed -> vrp_feed_decode_errors_total,
    oversized -> vrp_feed_oversized_frames_total, error 10028 -> vrp_feed_rate_limited_total,
    maintenance -> vrp_feed_maintenance_total, shock -> vrp_smile_fits_total);
  - vrpd's RSS after the warm-up stays within --rss-limit (max/min, default 1.10);
  - the feed recovers after the last fault and /readyz is 200 at the end;
  - the WebSocket stream delivers frames, never with a seq going backwards on one connection;
  - /metrics answers throughout.

Why these replay options: the bundled recording holds one frame per instrument (1,546 option
tickers, two index and two DVOL frames, about an hour of recorded time). vrp-replayd does not
rewrite timestamps when it loops or when a client reconnects (each connection plays from the
start), so every pass after the first repeats the same frames: the engine rejects the option
tickers as `duplicate` (same timestamp and prices; out_of_order only for an older timestamp) and
accepts the index and DVOL ticks (equal timestamps are not out of order), each of which publishes
a snapshot. So --speed 0 --loop 0 keeps the whole feed path (socket, codec, ring, engine,
fan-out) busy at full rate for the whole run; no speed makes the recording produce new prices.
The shock fault (a price rescale with the timestamp raised to the playback head) and every
reconnect (the replay plays unscaled again) do change prices, and with engine.refit_interval_ms
= 0 (event time stops at the end of the recording, so any positive interval would block refits)
they make the engine refit its smiles, so the quant path is in the soak too.

Standard library only, plus Debian's python3-websockets (asyncio API) for the stream subscriber.
"""

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import urllib.error
import urllib.request

import websockets

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SOURCE = os.path.normpath(os.path.join(HERE, "..", ".."))

ALL_KINDS = ["malformed", "oversized", "shock", "drop", "stall", "error", "maintenance"]

# vrpd settings the soak changes from deploy/demo.toml, and why.
STALE_AFTER_MS = 2500  # a stall longer than this is a heartbeat miss (default 15 s: too slow)
STALL_MS = 4000
OVERSIZED_BYTES = 2 << 20  # above venues.deribit.max_frame_bytes (1 MiB), below 16 MiB
MALFORMED_COUNT = 10


# ---------------------------------------------------------------------------------------------
# Small helpers: processes, HTTP, Prometheus text, /proc.


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def http_get(url, timeout=10.0):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def http_post_json(url, body, timeout=10.0):
    data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_prometheus(text):
    """Prometheus text format 0.0.4 -> {(name, ((label, value), ...)): float}."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            continue
        labels = tuple(sorted(_LABEL.findall(m.group(3) or "")))
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        out[(m.group(1), labels)] = value
    return out


def metric_sum(metrics, name, **labels):
    """Sum of every series of `name` whose labels include `labels` (NaN series skipped)."""
    total = 0.0
    found = False
    for (n, ls), v in metrics.items():
        if n != name or v != v:
            continue
        d = dict(ls)
        if all(d.get(k) == val for k, val in labels.items()):
            total += v
            found = True
    return total if found else None


def metric_by_label(metrics, name, label):
    out = {}
    for (n, ls), v in metrics.items():
        if n == name:
            out[dict(ls).get(label, "")] = v
    return out


def read_rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def read_cpu_ticks(pid):
    """utime + stime of the process (all threads), in clock ticks."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


def start_with_listen_line(args, what, stderr_path, timeout=60.0):
    """Starts a program that prints {"listening":"HOST:PORT"} first; returns (proc, address).
    stdout keeps being drained by a thread (nothing may block on a full pipe), stderr goes to a
    file."""
    err = open(stderr_path, "wb")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True)
    err.close()
    result = {}

    def reader():
        first = proc.stdout.readline()
        result["line"] = first
        for _ in proc.stdout:  # drain whatever else comes
            pass

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    deadline = time.time() + timeout
    while "line" not in result and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    line = result.get("line", "")
    if not line:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        raise RuntimeError(f"{what} did not start (exit {proc.returncode}): "
                           + tail_file(stderr_path, 20))
    return proc, json.loads(line)["listening"]


def tail_file(path, lines):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
        return "\n".join(data.splitlines()[-lines:])
    except OSError:
        return ""


def stop_process(proc, timeout=30.0):
    """SIGTERM, then SIGKILL after `timeout`; returns (exit code, seconds to exit, killed)."""
    if proc.poll() is not None:
        return proc.returncode, 0.0, False
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
        return proc.returncode, time.time() - t0, False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return proc.returncode, time.time() - t0, True


# ---------------------------------------------------------------------------------------------
# vrpd configuration: deploy/demo.toml with the soak's changes.


def toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def toml_dump(doc):
    """Tables of scalars and tables of tables (what vrpd's config uses)."""
    lines = []

    def table(prefix, d):
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict)}
        if scalars:
            lines.append(f"[{prefix}]")
            lines.extend(f"{k} = {toml_value(v)}" for k, v in scalars.items())
            lines.append("")
        for k, v in d.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}", v)

    for k, v in doc.items():
        if not isinstance(v, dict):
            raise ValueError(f"top-level key {k} outside a table")
        table(k, v)
    return "\n".join(lines)


def vrpd_config(demo_path, state_dir, replay_address, speed):
    with open(demo_path, "rb") as f:
        doc = tomllib.load(f)
    doc.setdefault("service", {})["state_dir"] = state_dir
    doc.setdefault("api", {})["listen"] = "127.0.0.1:0"
    engine = doc.setdefault("engine", {})
    if speed == 0:
        # Unpaced, every pass replays the index ticks within milliseconds, so the live default
        # (the demo turns the check off because its replay stops) applies: an underlying without
        # accepted data for 60 s turns /readyz 503.
        engine["data_timeout_s"] = 60
    # Event time stops at the end of the recording: a positive refit interval (event time) would
    # block every refit after the first pass.
    engine["refit_interval_ms"] = 0
    deribit = doc.setdefault("venues", {}).setdefault("deribit", {})
    deribit["url"] = f"ws://{replay_address}/ws/api/v2"
    deribit["heartbeat_s"] = 1
    deribit["stale_after_ms"] = STALE_AFTER_MS
    # Faults every few seconds never leave a connection healthy for 60 s, so the backoff never
    # resets: cap it so a reconnect takes seconds, not the default 30 s.
    deribit["backoff_max_ms"] = 2000
    return toml_dump(doc)


# ---------------------------------------------------------------------------------------------
# The WebSocket subscriber (its own thread and event loop).

_HEAD = re.compile(r'^\{"channel":"([^"]+)","seq":(\d+)')


class StreamWatcher:
    def __init__(self, address, channels):
        self.url = f"ws://{address}/v1/stream"
        self.channels = channels
        self.lock = threading.Lock()
        self.frames = 0
        self.bytes = 0
        self.by_channel = {c: 0 for c in channels}
        self.gaps = 0  # seq numbers skipped (conflated for this reader)
        self.gap_events = 0
        self.regressions = []  # (channel, previous seq, seq) on one connection: must not happen
        self.connects = 0
        self.disconnects = []  # (t, reason)
        self.other_messages = 0
        self.last_frame_t = None
        self.longest_silence_s = 0.0
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)

    def snapshot(self):
        with self.lock:
            return {"frames": self.frames, "gaps": self.gaps}

    def _run(self):
        try:
            asyncio.run(self._main())
        except Exception as e:  # reported, never fatal to the soak itself
            self.errors.append(f"subscriber thread: {e!r}")

    async def _main(self):
        while not self._stop.is_set():
            try:
                await self._session()
            except (OSError, websockets.exceptions.WebSocketException, asyncio.TimeoutError) as e:
                with self.lock:
                    self.disconnects.append((time.time(), repr(e)))
            if not self._stop.is_set():
                await asyncio.sleep(0.5)

    async def _session(self):
        async with websockets.connect(self.url, max_size=None, open_timeout=10,
                                      ping_interval=None) as ws:
            await ws.send(json.dumps({"op": "subscribe", "channels": self.channels}))
            with self.lock:
                self.connects += 1
            last_seq = {}
            while not self._stop.is_set():
                try:
                    msg = await asyncio.wait_for(ws.recv(), timeout=0.5)
                except asyncio.TimeoutError:
                    continue
                now = time.time()
                if isinstance(msg, bytes):
                    msg = msg.decode("utf-8", "replace")
                m = _HEAD.match(msg)
                if m:
                    channel, seq = m.group(1), int(m.group(2))
                else:
                    try:
                        doc = json.loads(msg)
                    except ValueError:
                        doc = None
                    if not isinstance(doc, dict) or "seq" not in doc or "channel" not in doc:
                        with self.lock:
                            self.other_messages += 1
                        continue
                    channel, seq = doc["channel"], int(doc["seq"])
                with self.lock:
                    self.frames += 1
                    self.bytes += len(msg)
                    self.by_channel[channel] = self.by_channel.get(channel, 0) + 1
                    prev = last_seq.get(channel)
                    if prev is not None:
                        if seq > prev + 1:
                            self.gaps += seq - prev - 1
                            self.gap_events += 1
                        elif seq <= prev:
                            self.regressions.append((channel, prev, seq))
                    last_seq[channel] = seq
                    if self.last_frame_t is not None:
                        self.longest_silence_s = max(self.longest_silence_s,
                                                     now - self.last_frame_t)
                    self.last_frame_t = now


# ---------------------------------------------------------------------------------------------
# Faults: the body sent to the replay and the metric that must move.


class FaultPlan:
    def __init__(self, kinds):
        self.kinds = kinds
        self.i = 0
        self.shocks = 0

    def next(self):
        kind = self.kinds[self.i % len(self.kinds)]
        self.i += 1
        if kind == "drop":
            body = {"kind": "drop"}
        elif kind == "stall":
            body = {"kind": "stall", "ms": STALL_MS}
        elif kind == "malformed":
            body = {"kind": "malformed", "count": MALFORMED_COUNT}
        elif kind == "oversized":
            body = {"kind": "oversized", "bytes": OVERSIZED_BYTES}
        elif kind == "error":
            # Deribit's "too many requests": the feed backs off (5 s) and reconnects.
            body = {"kind": "error", "code": 10028, "message": "too_many_requests",
                    "close": False}
        elif kind == "maintenance":
            body = {"kind": "maintenance", "ms": 2000}
        elif kind == "shock":
            # Alternate up and down so each shock changes the prices the engine holds.
            self.shocks += 1
            body = {"kind": "shock", "scale": 1.05 if self.shocks % 2 else 0.95}
        else:
            raise ValueError(f"unknown fault kind {kind}")
        return kind, body


# kind -> (metric, labels, least increase, what it means)
EXPECTED = {
    "drop": ("vrp_feed_reconnects_total", {}, 1, "connection lost, retried"),
    "stall": ("vrp_feed_heartbeat_misses_total", {}, 1,
              f"no data for stale_after_ms={STALE_AFTER_MS}: watchdog reconnect"),
    "malformed": ("vrp_feed_decode_errors_total", {}, MALFORMED_COUNT,
                  "each malformed frame rejected by the codec, by reason"),
    "oversized": ("vrp_feed_oversized_frames_total", {}, 1,
                  "frame above max_frame_bytes skipped without reconnect"),
    "error": ("vrp_feed_rate_limited_total", {}, 1, "error 10028: back off and reconnect"),
    "maintenance": ("vrp_feed_maintenance_total", {}, 1,
                    "platform_state maintenance: reconnect after 30 s"),
    "shock": ("vrp_smile_fits_total", {}, 1, "rescaled option prices refitted"),
}

# Feed counters reported as deltas over the soak.
FEED_COUNTERS = [
    "vrp_feed_connects_total", "vrp_feed_reconnects_total", "vrp_feed_connect_failures_total",
    "vrp_feed_heartbeat_misses_total", "vrp_feed_request_timeouts_total",
    "vrp_feed_rate_limited_total", "vrp_feed_maintenance_total",
    "vrp_feed_test_requests_answered_total", "vrp_feed_channels_missing_total",
    "vrp_feed_oversized_frames_total", "vrp_feed_decode_errors_total", "vrp_feed_messages_total",
    "vrp_feed_bytes_total",
]
RING_COUNTERS = ["vrp_ring_enqueued_total", "vrp_ring_conflated_total", "vrp_ring_dropped_total"]
ENGINE_COUNTERS = ["vrp_engine_events_total", "vrp_engine_quotes_total",
                   "vrp_engine_quotes_ignored_total", "vrp_snapshots_total",
                   "vrp_smile_fits_total", "vrp_smile_fit_failures_total",
                   "vrp_iv_failures_total"]


# ---------------------------------------------------------------------------------------------
# The soak.


class Soak:
    def __init__(self, args):
        self.args = args
        self.tmp = tempfile.mkdtemp(prefix="vrp-soak-")
        self.reasons = []
        self.notes = []
        self.rss = []  # (t since soak start, kB)
        self.startup_rss = []
        self.cpu = {"vrpd": [], "replay": []}  # (t, ticks)
        self.scrapes = 0
        self.scrape_failures = 0
        self.max_consecutive_scrape_failures = 0
        self._consecutive = 0
        self.latest = None  # last good metrics
        self.latest_t = 0.0
        self.first_metrics = None
        self.faults = []  # dicts
        self.deferred_s = 0.0
        self.timeline = []
        self.crash = None
        self.replay_crash = None
        self.vrpd = self.replay = None
        self.stream = None

    # -- processes ----------------------------------------------------------------------------
    def start(self):
        a = self.args
        recording = os.path.join(a.source_dir, "data", "demo", "deribit_2025-10-24.recording.jsonl")
        replay_args = [a.replayd, "--recording", recording, "--listen", "127.0.0.1:0",
                       "--speed", str(a.speed), "--loop", str(a.loop), "--max-gap-ms",
                       str(a.max_gap_ms), "--min-heartbeat-s", "1"]
        self.replay, self.replay_address = start_with_listen_line(
            replay_args, "vrp-replayd", os.path.join(self.tmp, "replayd.log"))
        log(f"vrp-replayd on {self.replay_address}: " + " ".join(replay_args[1:]))
        self.config_text = vrpd_config(os.path.join(a.source_dir, "deploy", "demo.toml"),
                                       os.path.join(self.tmp, "state"), self.replay_address,
                                       a.speed)
        config_path = os.path.join(self.tmp, "vrpd.toml")
        with open(config_path, "w") as f:
            f.write(self.config_text)
        self.vrpd, self.address = start_with_listen_line(
            [a.vrpd, "--config", config_path], "vrpd", os.path.join(self.tmp, "vrpd.log"))
        log(f"vrpd pid {self.vrpd.pid} on {self.address} (config {config_path})")

    def wait_ready(self):
        t0 = time.time()
        deadline = t0 + self.args.ready_timeout
        while time.time() < deadline:
            self.check_processes()
            if self.crash:
                return False
            rss = read_rss_kb(self.vrpd.pid)
            if rss:
                self.startup_rss.append((round(time.time() - t0, 2), rss))
            try:
                status, _ = http_get(f"http://{self.address}/readyz", timeout=5)
                if status == 200:
                    self.ready_after_s = time.time() - t0
                    return True
            except OSError:
                pass
            time.sleep(0.5)
        self.reasons.append(f"vrpd not ready within {self.args.ready_timeout} s")
        return False

    def check_processes(self):
        if self.crash is None and self.vrpd.poll() is not None:
            self.crash = {"t": round(time.time() - getattr(self, "t0", time.time()), 1),
                          "exit": self.vrpd.returncode,
                          "log_tail": tail_file(os.path.join(self.tmp, "vrpd.log"), 30)}
            sig = (f" (signal {-self.vrpd.returncode})" if self.vrpd.returncode < 0 else "")
            self.reasons.append(f"vrpd exited with {self.vrpd.returncode}{sig} during the soak")
            log("vrpd EXITED: " + str(self.vrpd.returncode))
        if self.replay_crash is None and self.replay.poll() is not None:
            self.replay_crash = {"exit": self.replay.returncode,
                                 "log_tail": tail_file(os.path.join(self.tmp, "replayd.log"), 30)}
            self.reasons.append(f"vrp-replayd exited with {self.replay.returncode} (harness)")
            log("vrp-replayd EXITED: " + str(self.replay.returncode))

    # -- sampling -----------------------------------------------------------------------------
    def scrape(self):
        self.scrapes += 1
        try:
            status, body = http_get(f"http://{self.address}/metrics", timeout=10)
            if status != 200:
                raise OSError(f"status {status}")
        except OSError as e:
            self.scrape_failures += 1
            self._consecutive += 1
            self.max_consecutive_scrape_failures = max(self.max_consecutive_scrape_failures,
                                                       self._consecutive)
            if self._consecutive == 1:
                log(f"/metrics failed: {e}")
            return None
        self._consecutive = 0
        m = parse_prometheus(body)
        self.latest, self.latest_t = m, time.time()
        if self.first_metrics is None:
            self.first_metrics = m
        return m

    def replay_status(self):
        try:
            status, body = http_get(f"http://{self.replay_address}/control/status", timeout=5)
            return json.loads(body) if status == 200 else None
        except (OSError, ValueError):
            return None

    def sample_proc(self, t):
        rss = read_rss_kb(self.vrpd.pid)
        if rss is not None:
            self.rss.append((round(t, 2), rss))
        for name, proc in (("vrpd", self.vrpd), ("replay", self.replay)):
            ticks = read_cpu_ticks(proc.pid)
            if ticks is not None:
                self.cpu[name].append((t, ticks))

    def feed_live(self):
        """vrpd says the feed is live and the replay has a subscribed connection."""
        m = self.latest
        if m is None or metric_sum(m, "vrp_feed_up") != 1.0:
            return False
        st = self.replay_status()
        if not st or st.get("connections", 0) < 1:
            return False
        return any(c.get("subscriptions", 0) > 0 for c in st.get("clients", []))

    # -- faults -------------------------------------------------------------------------------
    def inject(self, plan, t):
        before = self.scrape()
        if before is None:
            return False
        kind, body = plan.next()
        metric, labels, least, meaning = EXPECTED[kind]
        status, text = http_post_json(f"http://{self.replay_address}/control/fault", body)
        rec = {"t": round(t, 2), "kind": kind, "body": body, "status": status,
               "metric": metric, "least": least,
               "before": metric_sum(before, metric, **labels) or 0.0,
               "visible": None, "visible_after_s": None, "after": None}
        if kind == "malformed":
            rec["before_by_reason"] = metric_by_label(before, metric, "reason")
        if status != 200:
            rec["visible"] = False
            rec["error"] = text
            self.reasons.append(f"fault {body} refused by the replay: {status} {text}")
        self.faults.append(rec)
        log(f"fault #{len(self.faults)} {json.dumps(body)} -> {status}; watching {metric}")
        self.pending = rec
        self.pending_t = time.time()
        return True

    def check_pending(self, now):
        rec = self.pending
        if rec is None or self.latest is None:
            return
        metric, labels, least, _ = EXPECTED[rec["kind"]]
        value = metric_sum(self.latest, metric, **labels) or 0.0
        rec["after"] = value
        if value - rec["before"] >= least:
            rec["visible"] = True
            rec["visible_after_s"] = round(self.latest_t - self.pending_t, 2)
            if rec["kind"] == "malformed":
                after = metric_by_label(self.latest, metric, "reason")
                rec["by_reason"] = {k: v - rec["before_by_reason"].get(k, 0.0)
                                    for k, v in after.items()
                                    if v - rec["before_by_reason"].get(k, 0.0) > 0}
                del rec["before_by_reason"]
            self.pending = None
        elif now - self.pending_t > self.args.visible_timeout:
            rec["visible"] = False
            rec.pop("before_by_reason", None)
            self.reasons.append(f"fault #{self.faults.index(rec) + 1} {json.dumps(rec['body'])} "
                                f"did not move {metric} within {self.args.visible_timeout} s "
                                f"({rec['before']} -> {value})")
            self.pending = None

    # -- main loop ----------------------------------------------------------------------------
    def run(self):
        a = self.args
        duration = a.minutes * 60.0
        self.warmup_s = a.warmup_s if a.warmup_s is not None else min(300.0, max(20.0,
                                                                                 duration / 5))
        self.start()
        if not self.wait_ready():
            return
        log(f"vrpd ready after {self.ready_after_s:.1f} s; soaking {duration:.0f} s, "
            f"faults every {a.fault_every} s ({', '.join(a.kinds)}), warm-up {self.warmup_s:.0f} s")
        self.stream = StreamWatcher(self.address, ["premium.BTC", "premium.ETH"])
        self.stream.start()
        plan = FaultPlan(a.kinds)
        self.pending = None
        self.t0 = time.time()
        end = self.t0 + duration
        next_sample = next_scrape = self.t0
        next_fault = self.t0 + a.fault_every
        next_timeline = self.t0
        waiting_since = None
        self.scrape()
        while True:
            now = time.time()
            t = now - self.t0
            self.check_processes()
            if self.crash or self.replay_crash:
                break
            if now >= next_sample:
                self.sample_proc(t)
                next_sample += 1.0
            if now >= next_scrape:
                self.scrape()
                self.check_pending(now)
                next_scrape = now + a.scrape_every
                if self._consecutive > 5:
                    self.reasons.append("/metrics did not answer 5 times in a row")
                    break
            if now >= next_timeline:
                self.timeline_point(t)
                next_timeline += 10.0
            if now >= end:
                break
            if now >= next_fault:
                if self.pending is None and self.feed_live():
                    if waiting_since is not None:
                        self.deferred_s += now - waiting_since
                        waiting_since = None
                    if self.inject(plan, t):
                        next_fault = time.time() + a.fault_every
                elif waiting_since is None:
                    waiting_since = now
                elif now - waiting_since > a.recover_timeout:
                    self.reasons.append(f"the feed was not live {a.recover_timeout} s after "
                                        f"fault #{len(self.faults)} "
                                        f"{json.dumps(self.faults[-1]['body'])}")
                    break
            time.sleep(0.1)
        if waiting_since is not None:
            self.deferred_s += time.time() - waiting_since
        self.soak_s = time.time() - self.t0
        self.finish()

    def timeline_point(self, t):
        m = self.latest or {}
        s = self.stream.snapshot() if self.stream else {"frames": 0, "gaps": 0}
        self.timeline.append({
            "t": round(t, 1), "rss_kb": self.rss[-1][1] if self.rss else None,
            "reconnects": metric_sum(m, "vrp_feed_reconnects_total"),
            "feed_messages": metric_sum(m, "vrp_feed_messages_total"),
            "ring_conflated": metric_sum(m, "vrp_ring_conflated_total"),
            "snapshots": metric_sum(m, "vrp_snapshots_total"),
            "stream_frames": s["frames"], "faults": len(self.faults)})

    def finish(self):
        a = self.args
        self.final = {}
        if not self.crash and not self.replay_crash:
            # The last fault is seen through, and the feed must come back from it.
            deadline = time.time() + a.recover_timeout
            while time.time() < deadline:
                self.check_processes()
                if self.crash:
                    break
                self.sample_proc(time.time() - self.t0)
                if self.scrape() is not None:
                    self.check_pending(time.time())
                if self.pending is None and self.feed_live():
                    break
                time.sleep(1.0)
            self.final["recovered_after_s"] = round(time.time() - self.t0 - self.soak_s, 1)
            if not self.crash:
                if self.pending is not None:
                    self.check_pending(time.time() + a.visible_timeout + 1)
                if not self.feed_live():
                    self.reasons.append(f"the feed was not live {a.recover_timeout} s after the "
                                        f"soak ended")
                ready = None
                for _ in range(60):
                    try:
                        ready, _ = http_get(f"http://{self.address}/readyz", timeout=5)
                    except OSError:
                        ready = None
                    if ready == 200:
                        break
                    time.sleep(0.5)
                self.final["readyz"] = ready
                if ready != 200:
                    self.reasons.append(f"/readyz is {ready} at the end, not 200")
                self.scrape()
                self.timeline_point(time.time() - self.t0)
        self.final["replay_status"] = self.replay_status()
        if self.stream:
            self.stream.stop()
        if self.vrpd.poll() is None:
            code, secs, killed = stop_process(self.vrpd)
            self.final["vrpd_exit"] = code
            self.final["vrpd_stop_s"] = round(secs, 2)
            if killed:
                self.reasons.append("vrpd did not stop within 30 s of SIGTERM (killed)")
            elif code != 0:
                self.reasons.append(f"vrpd exited with {code} on SIGTERM")
        stop_process(self.replay, timeout=10)
        self.final["vrpd_log_bytes"] = os.path.getsize(os.path.join(self.tmp, "vrpd.log"))
        state_bytes = 0
        for root, _, files in os.walk(os.path.join(self.tmp, "state")):
            state_bytes += sum(os.path.getsize(os.path.join(root, f)) for f in files)
        self.final["state_dir_bytes"] = state_bytes

    # -- report -------------------------------------------------------------------------------
    def cpu_summary(self, samples):
        if len(samples) < 2:
            return None
        hz = os.sysconf("SC_CLK_TCK")
        (t0, c0), (t1, c1) = samples[0], samples[-1]
        mean = 100.0 * (c1 - c0) / hz / max(t1 - t0, 1e-9)
        peak = 0.0
        j = 0
        for i in range(len(samples)):  # busiest 10 s window
            while samples[i][0] - samples[j][0] > 10.0:
                j += 1
            if samples[i][0] - samples[j][0] >= 5.0:
                peak = max(peak, 100.0 * (samples[i][1] - samples[j][1]) / hz
                           / (samples[i][0] - samples[j][0]))
        return {"mean_pct": round(mean, 1), "max_10s_pct": round(peak, 1)}

    def report(self):
        a = self.args
        first = self.first_metrics or {}
        last = self.latest or {}

        def delta(name, **labels):
            v1 = metric_sum(last, name, **labels)
            v0 = metric_sum(first, name, **labels)
            return None if v1 is None else v1 - (v0 or 0.0)

        after = [kb for t, kb in self.rss if t >= self.warmup_s]
        rss = {"warmup_s": self.warmup_s, "samples_after_warmup": len(after),
               "limit_ratio": a.rss_limit,
               "start_kb": self.rss[0][1] if self.rss else None,
               "peak_kb": max((kb for _, kb in self.rss), default=None),
               "startup_peak_kb": max((kb for _, kb in self.startup_rss), default=None)}
        if len(after) >= 2:
            rss.update(min_kb=min(after), max_kb=max(after), last_kb=after[-1],
                       flatness=round(max(after) / min(after), 4))
            pts = [(t, kb) for t, kb in self.rss if t >= self.warmup_s]
            n = len(pts)
            mt = sum(t for t, _ in pts) / n
            mk = sum(kb for _, kb in pts) / n
            var = sum((t - mt) ** 2 for t, _ in pts)
            if var > 0:
                slope = sum((t - mt) * (kb - mk) for t, kb in pts) / var
                rss["trend_kb_per_min"] = round(slope * 60.0, 1)
            if rss["flatness"] > a.rss_limit:
                self.reasons.append(f"RSS after warm-up not flat: max/min = {rss['flatness']:.3f} "
                                    f"> {a.rss_limit} ({min(after)} .. {max(after)} kB)")
        elif not self.crash and hasattr(self, "t0"):
            self.reasons.append(f"too few RSS samples after the {self.warmup_s:.0f} s warm-up "
                                f"({len(after)}): run longer or lower --warmup-s")
        # RSS over time, one point per 10 s (the full 1 s series is in rss.samples).
        every, seen = [], set()
        for t, kb in self.rss:
            if int(t // 10) not in seen:
                seen.add(int(t // 10))
                every.append([t, kb])
        rss["every_10s"] = every
        rss["samples"] = self.rss

        by_kind = {}
        for k in a.kinds:
            recs = [f for f in self.faults if f["kind"] == k]
            metric = EXPECTED[k][0]
            by_kind[k] = {"injected": len(recs),
                          "visible": sum(1 for f in recs if f["visible"]),
                          "metric": metric, "meaning": EXPECTED[k][3],
                          "metric_delta_soak": delta(metric),
                          "visible_after_s_max": max((f["visible_after_s"] for f in recs
                                                      if f["visible_after_s"] is not None),
                                                     default=None)}
            if k == "malformed":
                reasons = {}
                for f in recs:
                    for r, v in f.get("by_reason", {}).items():
                        reasons[r] = reasons.get(r, 0) + v
                by_kind[k]["by_reason"] = reasons
        injected = sum(v["injected"] for v in by_kind.values())
        if not self.crash and self.faults:
            missing = [k for k, v in by_kind.items() if v["injected"] == 0]
            if missing:
                self.notes.append("fault kinds never injected (run longer): " + ", ".join(missing))

        stream = {}
        if self.stream:
            s = self.stream
            stream = {"frames": s.frames, "bytes": s.bytes, "by_channel": s.by_channel,
                      "gaps": s.gaps, "gap_events": s.gap_events,
                      "seq_regressions": len(s.regressions),
                      "regression_examples": s.regressions[:5],
                      "connects": s.connects, "disconnects": len(s.disconnects),
                      "disconnect_reasons": [r for _, r in s.disconnects[:5]],
                      "longest_silence_s": round(s.longest_silence_s, 2),
                      "frames_per_s": round(s.frames / max(self.soak_s, 1e-9), 1),
                      "errors": s.errors}
            if s.frames == 0:
                self.reasons.append("the WebSocket subscriber received no frame")
            if s.regressions:
                self.reasons.append(f"stream seq went backwards {len(s.regressions)} times on "
                                    f"one connection, e.g. {s.regressions[0]}")
        if self.max_consecutive_scrape_failures > 1:
            self.notes.append(f"/metrics failed {self.scrape_failures} times "
                              f"(at most {self.max_consecutive_scrape_failures} in a row)")

        # Did data keep flowing? 10 s timeline windows in which the feed received messages.
        flow = [b["feed_messages"] is not None and a_["feed_messages"] is not None
                and b["feed_messages"] > a_["feed_messages"]
                for a_, b in zip(self.timeline, self.timeline[1:])]
        feed_flow = {"windows_10s": len(flow), "with_messages": sum(flow)}

        verdict = "FAIL" if self.reasons else "PASS"
        return {
            "verdict": verdict,
            "reasons": self.reasons,
            "notes": self.notes,
            "command": {"minutes": a.minutes, "fault_every_s": a.fault_every, "speed": a.speed,
                        "loop": a.loop, "max_gap_ms": a.max_gap_ms, "kinds": a.kinds,
                        "rss_limit": a.rss_limit},
            "vrpd_config": getattr(self, "config_text", None),
            "ready_after_s": round(getattr(self, "ready_after_s", -1), 1),
            "duration_s": round(getattr(self, "soak_s", 0.0), 1),
            "faults": {"injected": injected, "by_kind": by_kind,
                       "deferred_s": round(self.deferred_s, 1),
                       "log": self.faults},
            "rss": rss,
            "cpu": {"vrpd": self.cpu_summary(self.cpu["vrpd"]),
                    "replay": self.cpu_summary(self.cpu["replay"])},
            "feed": {name: delta(name) for name in FEED_COUNTERS}
                    | {"decode_errors_by_reason": {r: v - (metric_by_label(
                        first, "vrp_feed_decode_errors_total", "reason").get(r, 0.0))
                        for r, v in metric_by_label(last, "vrp_feed_decode_errors_total",
                                                    "reason").items()}},
            "feed_flow": feed_flow,
            "ring": {name: delta(name) for name in RING_COUNTERS}
                    | {"vrp_ring_max_depth": metric_sum(last, "vrp_ring_max_depth")},
            "engine": {name: delta(name) for name in ENGINE_COUNTERS}
                      | {"rejected_by_reason": {r: v - (metric_by_label(
                          first, "vrp_engine_rejected_total", "reason").get(r, 0.0))
                          for r, v in metric_by_label(last, "vrp_engine_rejected_total",
                                                      "reason").items() if v}},
            "stream": stream,
            "metrics_scrapes": {"total": self.scrapes, "failed": self.scrape_failures},
            "vrpd_crash": self.crash,
            "replay_crash": self.replay_crash,
            "final": getattr(self, "final", {}),
            "timeline": self.timeline,
            "temp_dir": self.tmp,
        }


def print_report(r):
    def fmt(v):
        if v is None:
            return "-"
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    out = []
    c = r["command"]
    out.append("=" * 78)
    out.append(f"vrp soak: {r['duration_s']:.0f} s at replay speed {c['speed']} (loop "
               f"{c['loop']}), a fault every {c['fault_every_s']} s; vrpd ready after "
               f"{r['ready_after_s']} s")
    out.append("-" * 78)
    out.append(f"faults injected: {r['faults']['injected']} (waited {r['faults']['deferred_s']} s "
               "for the feed to come back before the next one)")
    out.append(f"  {'kind':<12}{'injected':>9}{'visible':>9}  metric (increase over the soak)")
    for k, v in r["faults"]["by_kind"].items():
        extra = ""
        if k == "malformed" and v.get("by_reason"):
            extra = " " + json.dumps({kk: int(vv) for kk, vv in v["by_reason"].items()})
        out.append(f"  {k:<12}{v['injected']:>9}{v['visible']:>9}  {v['metric']} "
                   f"+{fmt(v['metric_delta_soak'])}{extra}")
    rss = r["rss"]
    out.append("-" * 78)
    if "flatness" in rss:
        out.append(f"RSS (VmRSS, 1 s samples): start {rss['start_kb']} kB, after the "
                   f"{rss['warmup_s']:.0f} s warm-up {rss['min_kb']} .. {rss['max_kb']} kB, "
                   f"max/min {rss['flatness']:.3f} (limit {rss['limit_ratio']}), trend "
                   f"{fmt(rss.get('trend_kb_per_min'))} kB/min, last {rss['last_kb']} kB")
    else:
        out.append(f"RSS: {rss['samples_after_warmup']} samples after warm-up")
    pts = rss["every_10s"]
    step = max(1, len(pts) // 12)
    out.append("  t(s)/kB: " + "  ".join(f"{int(t)}:{kb}" for t, kb in pts[::step]))
    cpu = r["cpu"]
    out.append(f"CPU: vrpd mean {fmt((cpu['vrpd'] or {}).get('mean_pct'))}% "
               f"(busiest 10 s {fmt((cpu['vrpd'] or {}).get('max_10s_pct'))}%), replay mean "
               f"{fmt((cpu['replay'] or {}).get('mean_pct'))}%")
    f = r["feed"]
    out.append(f"feed: reconnects {fmt(f['vrp_feed_reconnects_total'])}, connects "
               f"{fmt(f['vrp_feed_connects_total'])}, connect failures "
               f"{fmt(f['vrp_feed_connect_failures_total'])}, heartbeat misses "
               f"{fmt(f['vrp_feed_heartbeat_misses_total'])}, request timeouts "
               f"{fmt(f['vrp_feed_request_timeouts_total'])}, messages "
               f"{fmt(f['vrp_feed_messages_total'])}, MB "
               f"{fmt(round((f['vrp_feed_bytes_total'] or 0) / 1e6, 1))}")
    ff = r["feed_flow"]
    out.append(f"  data flowing in {ff['with_messages']} of {ff['windows_10s']} 10 s windows "
               "(the others: reconnect waits, e.g. 30 s after a maintenance notice)")
    rs = r["final"].get("replay_status") or {}
    out.append(f"replay: frames sent {fmt(rs.get('frames_sent'))}, connections accepted "
               f"{fmt(rs.get('accepted'))}, faults {fmt(rs.get('faults'))}, heartbeat drops "
               f"{fmt(rs.get('heartbeat_drops'))}, slow-client drops {fmt(rs.get('slow_drops'))}")
    g = r["ring"]
    out.append(f"ring: enqueued {fmt(g['vrp_ring_enqueued_total'])}, conflated "
               f"{fmt(g['vrp_ring_conflated_total'])}, dropped {fmt(g['vrp_ring_dropped_total'])}"
               f", max depth {fmt(g['vrp_ring_max_depth'])}")
    e = r["engine"]
    out.append(f"engine: events {fmt(e['vrp_engine_events_total'])}, snapshots "
               f"{fmt(e['vrp_snapshots_total'])}, smile fits {fmt(e['vrp_smile_fits_total'])}, "
               f"rejected {json.dumps({k: int(v) for k, v in e['rejected_by_reason'].items()})}")
    s = r["stream"]
    if s:
        out.append(f"stream: {s['frames']} frames ({s['frames_per_s']}/s), seq gaps {s['gaps']} in "
                   f"{s['gap_events']} places, regressions {s['seq_regressions']}, reconnects "
                   f"{s['disconnects']}, longest silence {s['longest_silence_s']} s")
    fin = r["final"]
    out.append(f"end: /readyz {fmt(fin.get('readyz'))}, vrpd exit {fmt(fin.get('vrpd_exit'))} "
               f"after SIGTERM ({fmt(fin.get('vrpd_stop_s'))} s), crash "
               f"{'yes' if r['vrpd_crash'] else 'no'}, vrpd log {fmt(fin.get('vrpd_log_bytes'))}"
               f" bytes, state dir {fmt(fin.get('state_dir_bytes'))} bytes")
    for n in r["notes"]:
        out.append("note: " + n)
    out.append("-" * 78)
    out.append(f"VERDICT: {r['verdict']}")
    for reason in r["reasons"]:
        out.append("  - " + reason)
    out.append("=" * 78)
    print("\n".join(out), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vrpd", default=os.environ.get("VRPD"), help="vrpd binary (env VRPD)")
    p.add_argument("--replayd", default=os.environ.get("VRP_REPLAYD"),
                   help="vrp-replayd binary (env VRP_REPLAYD)")
    p.add_argument("--source-dir", default=os.environ.get("VRP_SOURCE_DIR", DEFAULT_SOURCE))
    p.add_argument("--minutes", type=float, default=30.0, help="soak length (default 30)")
    p.add_argument("--fault-every", type=float, default=5.0,
                   help="seconds between faults (default 5)")
    p.add_argument("--speed", type=float, default=0.0,
                   help="replay speed factor, 0 = unpaced (default 0)")
    p.add_argument("--loop", type=int, default=0, help="replay passes, 0 = forever (default 0)")
    p.add_argument("--max-gap-ms", type=int, default=2000,
                   help="cap of one replay wait when --speed > 0 (default 2000)")
    p.add_argument("--kinds", default=",".join(ALL_KINDS),
                   help="fault kinds cycled in this order (default: %(default)s)")
    p.add_argument("--warmup-s", type=float, default=None,
                   help="RSS warm-up (default: a fifth of the run, 20..300 s)")
    p.add_argument("--rss-limit", type=float, default=1.10,
                   help="largest max/min of RSS after warm-up (default 1.10)")
    p.add_argument("--scrape-every", type=float, default=2.0, help="/metrics period, seconds")
    p.add_argument("--visible-timeout", type=float, default=45.0,
                   help="seconds a fault has to show in its metric (default 45)")
    p.add_argument("--recover-timeout", type=float, default=90.0,
                   help="seconds the feed has to be live again after a fault (default 90)")
    p.add_argument("--ready-timeout", type=float, default=300.0)
    p.add_argument("--out", help="write the JSON report here")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (logs, state)")
    a = p.parse_args()
    a.kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    bad = [k for k in a.kinds if k not in EXPECTED]
    if bad or not a.kinds:
        p.error(f"--kinds: unknown {bad} (allowed: {', '.join(ALL_KINDS)})")
    if not a.vrpd or not a.replayd:
        p.error("--vrpd and --replayd (or VRPD and VRP_REPLAYD) are required")
    if a.minutes <= 0 or a.fault_every <= 0 or a.speed < 0 or a.loop < 0:
        p.error("--minutes and --fault-every must be > 0, --speed and --loop >= 0")

    soak = Soak(a)
    try:
        soak.run()
    except KeyboardInterrupt:
        soak.reasons.append("interrupted")
        soak.soak_s = time.time() - getattr(soak, "t0", time.time())
        soak.finish()
    except Exception as e:
        soak.reasons.append(f"harness error: {e!r}")
        for proc in (soak.vrpd, soak.replay):
            if proc is not None:
                stop_process(proc, timeout=10)
    if not hasattr(soak, "soak_s"):
        soak.soak_s = 0.0
        for proc in (soak.vrpd, soak.replay):
            if proc is not None:
                stop_process(proc, timeout=10)
    report = soak.report()
    print_report(report)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)
        log(f"report written to {a.out}")
    if report["verdict"] == "PASS" and not a.keep:
        shutil.rmtree(soak.tmp, ignore_errors=True)
    else:
        log(f"logs and state kept in {soak.tmp}")
    return 0 if report["verdict"] == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
