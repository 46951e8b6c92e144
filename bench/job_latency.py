#!/usr/bin/env python3
"""Job start and stop latency of a real ccfd, from the job records.

start: created_at (the job row is inserted) -> started_at (the executor
reported the command running), both stamped by ccfd.
stop:  the client sends StopCustomConnectorJob -> completed_at (STOPPED).

Usage: bench/job_latency.py [--runs N] [--ccfd build/ccfd] [--ccfd-arg=ARG ...]
Prints the median and p90 of each, in milliseconds."""

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone


def ts(s):
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


def call(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = json.dumps(body).encode() if body is not None else None
    c.request(method, path, body=data, headers={"Content-Type": "application/json"} if data else {})
    r = c.getresponse()
    out = r.read()
    c.close()
    return r.status, (json.loads(out) if out else None)


def wait(port, cid, jid, statuses):
    while True:
        _, j = call(port, "GET", f"/api/v1/custom-connectors/{cid}/jobs/{jid}")
        if j["job"]["status"] in statuses:
            return j["job"]
        time.sleep(0.002)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--ccfd", default="build/ccfd")
    ap.add_argument("--ccfd-arg", action="append", default=[], help="one more ccfd argument")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="ccf-bench-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Unsigned requests: job latency does not depend on authentication.
    proc = subprocess.Popen([a.ccfd, "--listen", f"127.0.0.1:{port}", "--data-dir", d,
                             "--log-level", "warn", "--stop-grace", "5", "--auth", "none", *a.ccfd_arg],
                            stdout=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                if call(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.01)
        _, c = call(port, "POST", "/api/v1/custom-connectors",
                    {"name": "bench", "container_properties": {"command": ["sleep", "60"]}})
        cid = c["connector"]["connector_id"]
        starts, stops = [], []
        for _ in range(a.runs):
            _, j = call(port, "POST", f"/api/v1/custom-connectors/{cid}/jobs")
            jid = j["job"]["job_id"]
            job = wait(port, cid, jid, {"RUNNING"})
            starts.append((ts(job["started_at"]) - ts(job["created_at"])) * 1000)
            t0 = time.time()
            call(port, "POST", f"/api/v1/custom-connectors/{cid}/jobs/{jid}/stop")
            job = wait(port, cid, jid, {"STOPPED", "FAILED", "SUCCEEDED"})
            stops.append((ts(job["completed_at"]) - t0) * 1000)
        for name, v in (("start (created -> RUNNING)", starts), ("stop (request -> STOPPED)", stops)):
            v.sort()
            print(f"{name}: median {statistics.median(v):.2f} ms, "
                  f"p90 {v[int(len(v) * 0.9) - 1]:.2f} ms, n={len(v)}")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
