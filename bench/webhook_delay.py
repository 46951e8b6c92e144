#!/usr/bin/env python3
"""Webhook delay (issue 13): from a job's end to its webhook's arrival.

A ccfd (auth none, the local executor, --webhook-allow-private) with one
webhook for job.succeeded to a receiver on loopback (tests/service's
Receiver, standard library). --connectors connectors each run --jobs-each
jobs of /bin/true one after another, concurrently across connectors. For
every job the delay is the receiver's clock when the job.succeeded event
arrived minus the job's completed_at (ccfd's stamp in the event's detail);
one machine, one clock. Prints p50, p90, p99 and max in milliseconds.

Usage: bench/webhook_delay.py [--ccfd build/ccfd] [--connectors 4] [--jobs-each 30]"""

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "service"))
from job_latency import call, ts, wait  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def summary(ms):
    ms = sorted(ms)
    q = statistics.quantiles(ms, n=100)
    return f"p50 {q[49]:.1f} ms, p90 {q[89]:.1f} ms, p99 {q[98]:.1f} ms, max {ms[-1]:.1f} ms"


def run_jobs(port, cid, n, out):
    for _ in range(n):
        status, j = call(port, "POST", f"/api/v1/custom-connectors/{cid}/jobs")
        assert status == 201, j
        out.append(wait(port, cid, j["job"]["job_id"], {"SUCCEEDED", "FAILED", "STOPPED"}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ccfd", default="build/ccfd")
    ap.add_argument("--connectors", type=int, default=4)
    ap.add_argument("--jobs-each", type=int, default=30)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="ccf-bench-webhook-")
    port = free_port()
    proc = subprocess.Popen([a.ccfd, "--listen", f"127.0.0.1:{port}", "--data-dir", d,
                             "--log-level", "warn", "--auth", "none", "--webhook-allow-private"],
                            stdout=subprocess.DEVNULL)
    rcv = Receiver()
    try:
        for _ in range(500):
            try:
                if call(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.01)
        status, w = call(port, "POST", "/api/v1/webhooks",
                         {"url": rcv.url, "event_types": ["job.succeeded"]})
        assert status == 201, w
        cids = []
        for i in range(a.connectors):
            _, c = call(port, "POST", "/api/v1/custom-connectors",
                        {"name": f"bench-{i}", "container_properties": {"command": ["/bin/true"]}})
            cids.append(c["connector"]["connector_id"])
        jobs = []
        threads = [threading.Thread(target=run_jobs, args=(port, cid, a.jobs_each, jobs))
                   for cid in cids]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.monotonic() - t0
        n = len(jobs)
        rcv.wait_for(lambda evs: len(evs) >= n, timeout=60)
        # The receiver's monotonic stamp, as wall time.
        offset = time.time() - time.monotonic()
        delays, ended, sent = [], [], []
        with rcv.lock:
            got = list(rcv.got)
        for at, _, body in got:
            ev = json.loads(body)
            done, changed = ts(ev["detail"]["completed_at"]), ts(ev["detail"]["updated_at"])
            delays.append((at + offset - done) * 1000)
            # Split at the transition's stamp (updated_at, taken before its
            # commit): the orchestrator's part, then the commit's and the
            # deliverer's.
            ended.append((changed - done) * 1000)
            sent.append((at + offset - changed) * 1000)
        print(f"webhook delay, job completed_at -> receiver, {len(delays)} jobs "
              f"({a.connectors} connectors, {took:.1f} s of jobs): {summary(delays)}")
        print(f"  of which completed_at -> updated_at (the end's transition): {summary(ended)}")
        print(f"  and updated_at -> receiver (commit, wake-up, POST): {summary(sent)}")
    finally:
        rcv.close()
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
