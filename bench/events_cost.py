#!/usr/bin/env python3
"""The write path's cost of events and of the audit log (issue 13): durable
creates/s and 1000-document BatchPuts/s of several ccfd builds, interleaved
in one run (A B C A B C ...) so that the shared machine's noise hits each
alike. Each round starts a fresh ccfd (synchronous FULL, no jobs, auth none)
on its own data directory. Prints medians per build: requests a second, and
ccfd's own CPU time per request (user + system, from /proc), which the
other work on a shared machine disturbs far less than the rate.

The builds compared in the note come from one tree, by flags:
  make BUILD=/tmp/b-none CFLAGS="-O2 -g -DCCF_BENCH_NO_EVENTS -DCCF_BENCH_NO_AUDIT" /tmp/b-none/ccfd
  make BUILD=/tmp/b-events CFLAGS="-O2 -g -DCCF_BENCH_NO_AUDIT" /tmp/b-events/ccfd
  make                                   # events + audit: build/
  bench/events_cost.py none=/tmp/b-none events=/tmp/b-events audit=build [ROUNDS]
CCF_BENCH_NO_EVENTS writes job rows as before migration 7 (no type, no
detail) and no other event; CCF_BENCH_NO_AUDIT runs writes without the
audit transaction wrapper and record.

Usage: bench/events_cost.py LABEL=BUILD_DIR... [ROUNDS]"""

import os
import statistics
import sys
import tempfile
from pathlib import Path

args = sys.argv[1:]
ROUNDS = int(args.pop()) if args and args[-1].isdigit() else 3
BUILDS = [(a.split("=", 1)[0], Path(a.split("=", 1)[1]).resolve()) for a in args]
if len(BUILDS) < 1:
    sys.exit(__doc__)
sys.argv = [sys.argv[0], str(BUILDS[-1][1])]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: wrk, start_ccfd, Api)


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def measure(build, data):
    run.BUILD = build
    data.mkdir()
    port = run.free_port()
    proc = run.start_ccfd(data, port, ["--auth", "none", "--executor", "none", "--synchronous", "FULL"])
    try:
        base = f"http://127.0.0.1:{port}/api/v1/custom-connectors"
        cid = run.Api(port).call("POST", "/api/v1/custom-connectors",
                                 {"name": "bench", "container_properties": {"command": ["true"]}})["connector"]["connector_id"]
        t0 = cpu_s(proc.pid)
        cr = run.wrk(base, "create.lua", dur="5s")
        t1 = cpu_s(proc.pid)
        bp = run.wrk(f"{base}/{cid}/documents", "batch.lua", conns=8, dur="5s")
        t2 = cpu_s(proc.pid)
        return (cr["rps"], bp["rps"], (t1 - t0) / cr["requests"] * 1e6,
                (t2 - t1) / bp["requests"] * 1e6)
    finally:
        proc.terminate()
        proc.wait()


def main():
    tmp = Path(tempfile.mkdtemp(prefix="ccf-events-cost-"))
    got = {name: [] for name, _ in BUILDS}
    for n in range(ROUNDS):
        for name, build in BUILDS:
            got[name].append(measure(build, tmp / f"{name}-{n}"))
            x = got[name][-1]
            print(f"round {n} {name}: creates/s {x[0]:,.0f} ({x[2]:.0f} us CPU each), "
                  f"batch puts/s {x[1]:,.1f} ({x[3]:,.0f} us CPU each)", flush=True)
    for name, v in got.items():
        med = [statistics.median(x[i] for x in v) for i in range(4)]
        print(f"{name}: creates/s median {med[0]:,.0f} ({med[2]:.0f} us CPU each); "
              f"1000-doc batch puts/s median {med[1]:,.1f} ({med[3]:,.0f} us CPU each)")


if __name__ == "__main__":
    main()
