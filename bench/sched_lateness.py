#!/usr/bin/env python3
"""The scheduler's cost and lateness, on a real ccfd (--auth none,
--executor none: jobs are created, not run, so only the scheduler counts).

1. Cost: N connectors (default 10,000) on rate(1 hour): ccfd's RSS before
   and after creating them, and the CPU time it spends over an idle
   --idle seconds with all of them scheduled.
2. Lateness: --runs connectors (default 200) with at() times spread over
   the next --spread seconds, several per second; lateness is the due time
   -> the job's created_at, both ccfd's clock.

Usage: bench/sched_lateness.py [--connectors N] [--runs N] [--spread S]
       [--idle S] [--ccfd build/ccfd]"""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from datetime import datetime, timezone

from job_latency import call, ts


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def create(port, schedule):
    st, c = call(port, "POST", "/api/v1/custom-connectors",
                 {"name": "bench", "container_properties": {"command": ["true"]},
                  "schedule": schedule})
    assert st == 201, (st, c)
    return c["connector"]["connector_id"]


def pct(v, p):
    return v[min(len(v) - 1, int(len(v) * p))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--connectors", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--spread", type=int, default=20)
    ap.add_argument("--idle", type=int, default=30)
    ap.add_argument("--ccfd", default="build/ccfd")
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="ccf-bench-sched-")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([a.ccfd, "--listen", f"127.0.0.1:{port}", "--data-dir", d,
                             "--log-level", "warn", "--auth", "none", "--executor", "none"],
                            stdout=subprocess.DEVNULL)
    try:
        for _ in range(500):
            try:
                if call(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.01)
        rss0 = rss_kib(proc.pid)
        t0 = time.time()
        for _ in range(a.connectors):
            create(port, {"expression": "rate(1 hour)"})
        made = time.time() - t0
        time.sleep(1)
        rss1, c0 = rss_kib(proc.pid), cpu_s(proc.pid)
        time.sleep(a.idle)
        c1 = cpu_s(proc.pid)
        print(f"{a.connectors} scheduled connectors: RSS {rss0} -> {rss1} KiB "
              f"(+{(rss1 - rss0) / 1024:.1f} MiB, created in {made:.1f} s); "
              f"CPU while idle {(c1 - c0) * 1000:.0f} ms over {a.idle} s")
        start = int(time.time()) + 5
        dues = {}
        for i in range(a.runs):
            due = start + (i * a.spread) // a.runs
            at = datetime.fromtimestamp(due, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
            dues[create(port, {"expression": f"at({at})"})] = due
        time.sleep(max(0, start + a.spread + 3 - time.time()))
        late = []
        for cid, due in dues.items():
            _, js = call(port, "GET", f"/api/v1/custom-connectors/{cid}/jobs")
            assert len(js["jobs"]) == 1, (cid, js)
            late.append((ts(js["jobs"][0]["created_at"]) - due) * 1000)
        late.sort()
        print(f"lateness (due -> job created_at) over {len(late)} runs, "
              f"{a.runs // a.spread} due per second: p50 {statistics.median(late):.1f} ms, "
              f"p99 {pct(late, 0.99):.1f} ms, max {late[-1]:.1f} ms")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
