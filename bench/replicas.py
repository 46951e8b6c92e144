#!/usr/bin/env python3
"""Several ccfd replicas on one PostgreSQL (issue 15): durable
CreateCustomConnector and GetCustomConnector throughput through 1, 2 and 3
replicas beside one ccfd on SQLite (synchronous FULL), in the same run; and
the failover time, from a kill -9 of the leader to the next job transition
the new leader handles. Never part of the tests.

Every ccfd runs with auth none (as bench/store_backends.py), the load
spread evenly: one wrk per replica, 64 connections in all. PostgreSQL is a
throw-away cluster (scripts/pg-cluster.sh) with fsync and synchronous_commit
on: durable, as SQLite's FULL. Rounds interleave the configurations so that
the shared machine's noise hits them alike; medians are printed.

On a 2-core machine the replicas, PostgreSQL and wrk share the same two
cores: more replicas add processes, not cores, so the figures say what a
replica costs, not how far they scale on several machines.

Also jobs/s: JOBS jobs (`true`, one per connector) started through every
replica at once, from the first start to the last end, on 1 and 3
replicas that run jobs (the leader spreads them over the replicas).

Usage: bench/replicas.py BUILD_DIR [ROUNDS] [FAILOVERS] [JOBS]
(ROUNDS 0: no API throughput; JOBS 0: no jobs/s)"""

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
FAILOVERS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
JOBS = int(sys.argv[4]) if len(sys.argv) > 4 else 60
HERE = Path(__file__).resolve().parent
sys.argv = [sys.argv[0], str(BUILD)]
sys.path.insert(0, str(HERE))
import run  # noqa: E402  (bench/run.py: wrk, start_ccfd, Api)

CLUSTER = HERE.parent / "scripts" / "pg-cluster.sh"
CONNS = 64
DUR = "5s"
BASE = "/api/v1/custom-connectors"


def start(tmp, name, flags):
    data = tmp / name
    data.mkdir()
    port = run.free_port()
    proc = run.start_ccfd(data, port, ["--auth", "none", "--synchronous", "FULL", *flags])
    return proc, port


def readyz(port):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request("GET", "/readyz")
    r = c.getresponse()
    return r.status, json.loads(r.read() or b"{}")


def spread(ports, url_of, script=None):
    """One wrk per replica at once; the sum of their requests/s."""
    out = [0.0] * len(ports)

    def one(i):
        out[i] = run.wrk(url_of(ports[i]), script, conns=CONNS // len(ports), dur=DUR)["rps"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(ports))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(out)


def throughput(tmp, name, n, flags):
    procs = [start(tmp, f"{name}-{i}", [*flags, "--executor", "none"]) for i in range(n)]
    ports = [p for _, p in procs]
    try:
        cid = run.Api(ports[0]).call("POST", BASE, {"name": "bench", "container_properties": {
            "command": ["true"]}})["connector"]["connector_id"]
        cr = spread(ports, lambda p: f"http://127.0.0.1:{p}{BASE}", "create.lua")
        g = spread(ports, lambda p: f"http://127.0.0.1:{p}{BASE}/{cid}")
        return cr, g
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait()


def wait_leader(ports, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lead = [p for p in ports if readyz(p)[1].get("leader")]
        if len(lead) == 1:
            return lead[0]
        time.sleep(0.02)
    raise RuntimeError("no leader")


def failover(tmp, n, flags):
    """Seconds from the leader's kill -9 to RUNNING of a job started on a
    survivor right after the kill."""
    procs = [start(tmp, f"fo{n}-{i}", flags) for i in range(3)]
    by_port = {p: proc for proc, p in procs}
    try:
        leader = wait_leader(list(by_port))
        other = next(p for p in by_port if p != leader)
        api = run.Api(other)
        cid = api.call("POST", BASE, {"name": "failover", "container_properties": {
            "command": ["/bin/sh", "-c", "sleep 0.1"]}})["connector"]["connector_id"]
        by_port[leader].send_signal(signal.SIGKILL)
        t0 = time.monotonic()
        by_port[leader].wait()
        jid = api.call("POST", f"{BASE}/{cid}/jobs")["job"]["job_id"]
        while api.call("GET", f"{BASE}/{cid}/jobs/{jid}")["job"]["status"] == "STARTED":
            if time.monotonic() - t0 > 60:
                raise RuntimeError("the job never ran")
            time.sleep(0.01)
        return time.monotonic() - t0
    finally:
        for proc, _ in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()


def jobs_rate(tmp, name, n, flags):
    """JOBS jobs through n replicas that run jobs: jobs/s, first start to
    last end, and how many replicas ran some."""
    procs = [start(tmp, f"{name}-{i}", [*flags, "--max-jobs", "4"]) for i in range(n)]
    ports = [p for _, p in procs]
    try:
        wait_leader(ports)
        apis = [run.Api(p) for p in ports]
        cids = [apis[0].call("POST", BASE, {"name": f"job{i}", "container_properties": {
            "command": ["/bin/sh", "-c", 'echo "$HOME" > /dev/null']}})["connector"]["connector_id"]
            for i in range(JOBS)]
        t0 = time.monotonic()
        jobs = [(cid, apis[i % n].call("POST", f"{BASE}/{cid}/jobs")["job"]["job_id"])
                for i, cid in enumerate(cids)]
        left = list(jobs)
        while left:
            cid, jid = left[-1]
            if apis[0].call("GET", f"{BASE}/{cid}/jobs/{jid}")["job"]["status"] in ("SUCCEEDED", "FAILED", "STOPPED"):
                left.pop()
            else:
                time.sleep(0.01)
        took = time.monotonic() - t0
        ran = sum(1 for i in range(n) if any((tmp / f"{name}-{i}" / "jobs").iterdir()))
        return JOBS / took, ran
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait()


def main():
    tmp = Path(tempfile.mkdtemp(prefix="ccf-bench-replicas-"))
    pg_dir = tempfile.mkdtemp(prefix="ccf-bench-pg-")
    env = {k: v for k, v in os.environ.items() if k != "PG_CLUSTER_FAST"}  # durable
    out = subprocess.run([str(CLUSTER), "start", pg_dir, str(os.getpid())], capture_output=True, text=True,
                         env=env, check=True)
    admin = next(l.split("=", 1)[1] for l in out.stdout.splitlines() if l.startswith("CCF_TEST_PG_URL="))
    dbn = [0]

    def pg_flags():
        dbn[0] += 1
        db = f"bench{dbn[0]}"
        subprocess.run(["psql", "-q", admin, "-c", f"CREATE DATABASE {db}"], check=True)
        return ["--store", admin.rsplit("/", 1)[0] + "/" + db, "--store-experimental"]

    configs = [("sqlite", 1), ("postgresql", 1), ("postgresql", 2), ("postgresql", 3)]
    res = {c: ([], []) for c in configs}
    try:
        for n in (1, 3) if JOBS else ():
            rate, ran = jobs_rate(tmp, f"jobs{n}", n, pg_flags())
            print(f"jobs/s on {n} replica(s): {rate:,.1f} ({JOBS} jobs, {ran} replica(s) ran some)", flush=True)
        for r in range(ROUNDS):
            for name, n in configs:
                flags = pg_flags() if name == "postgresql" else []
                cr, g = throughput(tmp, f"{name}{n}-{r}", n, flags)
                res[(name, n)][0].append(cr)
                res[(name, n)][1].append(g)
                print(f"round {r} {name} x{n}: durable creates/s {cr:,.0f}, gets/s {g:,.0f}", flush=True)
        times = []
        for i in range(FAILOVERS):
            t = failover(tmp, i, pg_flags())
            times.append(t)
            print(f"failover {i}: {t:.2f} s", flush=True)
    finally:
        subprocess.run([str(CLUSTER), "stop", pg_dir], check=False)
    print(f"machine: {os.cpu_count()} cores; {ROUNDS} rounds of {DUR} per figure, {CONNS} connections")
    for (name, n), (cr, g) in res.items() if ROUNDS else ():
        print(f"{name} x{n}: durable CreateCustomConnector/s median {statistics.median(cr):,.0f}; "
              f"GetCustomConnector/s median {statistics.median(g):,.0f}")
    if times:
        print(f"failover (leader kill -9 -> next job RUNNING): median {statistics.median(times):.2f} s, "
              f"max {max(times):.2f} s over {len(times)}")


if __name__ == "__main__":
    main()
