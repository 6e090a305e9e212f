"""Shared by the `vrpctl calc` contract tests: failure collection and one calculator run."""
import json
import os
import subprocess

VRPCTL = os.environ["VRPCTL"]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run_calc(requests):
    """Sends the requests (dicts, or raw strings sent as they are) as JSON lines; returns the
    process and the parsed replies (None when the counts differ, which is recorded as a failure)."""
    text = "\n".join(r if isinstance(r, str) else json.dumps(r) for r in requests) + "\n"
    proc = subprocess.run([VRPCTL, "calc"], input=text, capture_output=True, text=True, timeout=60)
    check(proc.returncode == 0, f"vrpctl calc exit code {proc.returncode}: {proc.stderr}")
    replies = [json.loads(line) for line in proc.stdout.splitlines()]
    check(len(replies) == len(requests), f"{len(requests)} requests, {len(replies)} replies")
    return proc, (replies if len(replies) == len(requests) else None)
