#!/usr/bin/env python3
"""Summarises the last counters line of `vrpctl feed` (read from stdin) for the demo."""
import json
import sys

s = json.loads(sys.stdin.readlines()[-1])
c, ch, ring = s["consumed"], s["channels"], s["ring"]
rejected = sum(s["codec"]["rejected"].values())
print(f"state at the end: {s['state']} after {s['session']['connects']} connection(s)")
print(f"channels: {ch['wanted']} wanted, {ch['confirmed']} confirmed by the venue, "
      f"{ch['missing']} missing")
print(f"events into the ring: {c['option_quotes']} option quotes, {c['index_ticks']} index ticks, "
      f"{c['dvol_ticks']} DVOL ticks, {c['chain_events']} chain events")
print(f"rejected frames: {rejected}, conflated: {ring['conflated']}, dropped: {ring['dropped']}")
