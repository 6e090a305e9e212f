#!/usr/bin/env python3
"""vrpd serving its API over TLS (api.tls_cert_file / api.tls_key_file, with a token) against
vrp-replayd on the bundled real data: HTTPS and WSS with a client that trusts only the test CA
(tests/data/tls) and checks the name; /readyz turns 200, /v1/premium carries real premia with the
token and 401 without it, the stream delivers premium frames; a plain-text client gets no answer
and is counted in vrp_http_tls_handshake_failures_total; SIGTERM still stops vrpd cleanly.

Environment: VRPD, VRPCTL (test_vrpd, whose helpers this uses, reads it), VRP_REPLAYD, VRP_SOURCE_DIR.
"""

import asyncio
import json
import math
import os
import shutil
import socket
import ssl
import tempfile
import time
import unittest

import websockets

from test_vrpd import http, start_json_line, stop, write_config

VRPD = os.environ["VRPD"]
REPLAYD = os.environ["VRP_REPLAYD"]
SOURCE = os.environ.get("VRP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
RECORDING = os.path.join(SOURCE, "data", "demo", "deribit_2025-10-24.recording.jsonl")
TLS = os.path.join(SOURCE, "tests", "data", "tls")
TOKEN = "tls-integration-token"


def client_context():
    ctx = ssl.create_default_context(cafile=os.path.join(TLS, "ca.pem"))
    ctx.check_hostname = True
    return ctx


def https(port, path, token=None):
    status, _, body = http(f"localhost:{port}", path, token, client_context())
    return status, body


class VrpdOverTls(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vrpd-tls-")
        self.replay, self.replay_address = start_json_line(
            [REPLAYD, "--recording", RECORDING, "--listen", "127.0.0.1:0", "--speed", "0",
             "--min-heartbeat-s", "1"], "vrp-replayd")
        api = (f'token = "{TOKEN}"\n'
               f'tls_cert_file = "{TLS}/localhost.pem"\n'
               f'tls_key_file = "{TLS}/localhost.key"\n')
        config = write_config(self.tmp, self.replay_address, "data_timeout_s = 0", api)
        self.vrpd, self.address = start_json_line([VRPD, "--config", config], "vrpd")
        self.port = int(self.address.rsplit(":", 1)[1])

    def tearDown(self):
        code = stop(self.vrpd)
        stop(self.replay)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.assertEqual(code, 0, self.vrpd.stderr.read())

    def test_https_and_wss_with_token(self):
        deadline = time.time() + 120
        while time.time() < deadline and https(self.port, "/readyz", TOKEN)[0] != 200:
            time.sleep(0.2)
        self.assertEqual(https(self.port, "/readyz", TOKEN)[0], 200, "never ready over TLS")

        self.assertEqual(https(self.port, "/v1/premium?underlying=BTC")[0], 401)
        status, body = https(self.port, "/v1/premium?underlying=BTC", TOKEN)
        self.assertEqual(status, 200, body)
        p = json.loads(body)
        rows = [r for r in p["tenors"] if r["available"]]
        self.assertTrue(rows, body)
        for r in rows:
            self.assertTrue(math.isfinite(r["atm_iv"]) and 0.1 < r["atm_iv"] < 2.0, r)
            self.assertEqual(r["premium_vol"], r["atm_iv"] - r["rv_forecast"], r)

        async def stream():
            async with websockets.connect(
                    f"wss://localhost:{self.port}/v1/stream", ssl=client_context(),
                    extra_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
                await ws.send(json.dumps({"op": "subscribe", "channels": ["premium.ETH"]}))
                ack = json.loads(await ws.recv())
                frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                return ack, frame
        ack, frame = asyncio.run(stream())
        self.assertEqual(ack["op"], "subscribed")
        self.assertEqual(frame["channel"], "premium.ETH")
        self.assertEqual(frame["data"]["underlying"], "ETH")

        # Plain HTTP on the TLS port: no HTTP answer, the connection is closed and counted.
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
        self.assertNotIn(b"HTTP/1.1", reply)
        status, text = https(self.port, "/metrics", TOKEN)
        self.assertEqual(status, 200)
        failures = [line for line in text.splitlines()
                    if line.startswith("vrp_http_tls_handshake_failures_total ")]
        self.assertEqual(len(failures), 1, text)
        self.assertGreaterEqual(float(failures[0].split()[1]), 1.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
