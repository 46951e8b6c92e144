#!/usr/bin/env python3
"""The store backends side by side (issue 15): durable CreateCustomConnector
and GetCustomConnector through one ccfd on SQLite (synchronous FULL) and
one on PostgreSQL (a throw-away cluster, fsync on, synchronous_commit on:
durable too), rounds interleaved (SQLite, PostgreSQL, ...) so that the
shared machine's noise hits both alike. Each round starts a fresh ccfd
(auth none, no jobs) on its own data directory and, for PostgreSQL, its
own database. Prints medians. Needs root (the cluster runs as postgres).

Usage: bench/store_backends.py BUILD_DIR [ROUNDS]"""

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
HERE = Path(__file__).resolve().parent
sys.argv = [sys.argv[0], str(BUILD)]
sys.path.insert(0, str(HERE))
import run  # noqa: E402  (bench/run.py: wrk, start_ccfd, Api)

CLUSTER = HERE.parent / "scripts" / "pg-cluster.sh"


def measure(tmp, name, flags):
    data = tmp / name
    data.mkdir()
    port = run.free_port()
    proc = run.start_ccfd(data, port, ["--auth", "none", "--executor", "none", "--synchronous", "FULL",
                                       *flags])
    try:
        base = f"http://127.0.0.1:{port}/api/v1/custom-connectors"
        cid = run.Api(port).call("POST", "/api/v1/custom-connectors",
                                 {"name": "bench", "container_properties": {"command": ["true"]}})["connector"]["connector_id"]
        cr = run.wrk(base, "create.lua", dur="5s")
        g = run.wrk(f"{base}/{cid}", dur="5s")
        return cr["rps"], g["rps"]
    finally:
        proc.terminate()
        proc.wait()


def main():
    tmp = Path(tempfile.mkdtemp(prefix="ccf-bench-stores-"))
    pg_dir = tempfile.mkdtemp(prefix="ccf-bench-pg-")
    env = {k: v for k, v in os.environ.items() if k != "PG_CLUSTER_FAST"}  # durable
    out = subprocess.run([str(CLUSTER), "start", pg_dir], capture_output=True, text=True, env=env, check=True)
    admin = next(l.split("=", 1)[1] for l in out.stdout.splitlines() if l.startswith("CCF_TEST_PG_URL="))
    res = {"sqlite": ([], []), "postgresql": ([], [])}
    try:
        for n in range(ROUNDS):
            for name in ("sqlite", "postgresql"):
                flags = []
                if name == "postgresql":
                    db = f"bench{n}"
                    subprocess.run(["psql", "-q", admin, "-c", f"CREATE DATABASE {db}"], check=True)
                    flags = ["--store", admin.rsplit("/", 1)[0] + "/" + db, "--store-experimental"]
                cr, g = measure(tmp, f"{name}-{n}", flags)
                res[name][0].append(cr)
                res[name][1].append(g)
                print(f"round {n} {name}: durable creates/s {cr:,.0f}, gets/s {g:,.0f}", flush=True)
    finally:
        subprocess.run([str(CLUSTER), "stop", pg_dir], check=False)
    for name, (cr, g) in res.items():
        print(f"{name}: durable creates/s median {statistics.median(cr):,.0f}; "
              f"GetCustomConnector/s median {statistics.median(g):,.0f}")


if __name__ == "__main__":
    main()
