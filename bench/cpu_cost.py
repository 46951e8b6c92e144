#!/usr/bin/env python3
"""ccfd's CPU time per request of two builds, interleaved (A B A B ...):
durable creates (64 connections) and 1000-document BatchPuts (8), each
round a fresh ccfd (synchronous FULL, auth none, no jobs). CPU time per
request, read from /proc, holds up on a loaded machine where requests/s
do not (issue 15: the store seam's cost). Prints medians in ms.

Usage: bench/cpu_cost.py BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS]"""

import os
import statistics
import sys
import tempfile
from pathlib import Path

BEFORE, AFTER = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
sys.argv = [sys.argv[0], str(AFTER)]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: wrk, start_ccfd, Api)

SECONDS = 4


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(build, data):
    run.BUILD = build
    data.mkdir()
    port = run.free_port()
    proc = run.start_ccfd(data, port, ["--auth", "none", "--executor", "none", "--synchronous", "FULL"])
    try:
        base = f"http://127.0.0.1:{port}/api/v1/custom-connectors"
        cid = run.Api(port).call("POST", "/api/v1/custom-connectors",
                                 {"name": "bench", "container_properties": {"command": ["true"]}})["connector"]["connector_id"]
        out = {}
        for kind, script, url, conns in (("create", "create.lua", base, 64),
                                         ("batch", "batch.lua", f"{base}/{cid}/documents", 8)):
            c0 = cpu_seconds(proc.pid)
            r = run.wrk(url, script, conns=conns, dur=f"{SECONDS}s")
            out[kind] = (cpu_seconds(proc.pid) - c0) * 1000 / (r["rps"] * SECONDS)
        return out
    finally:
        proc.terminate()
        proc.wait()


def main():
    tmp = Path(tempfile.mkdtemp(prefix="ccf-bench-cpu-"))
    res = {"before": [], "after": []}
    for n in range(ROUNDS):
        for name, build in (("before", BEFORE), ("after", AFTER)):
            out = measure(build, tmp / f"{name}-{n}")
            res[name].append(out)
            print(f"round {n} {name}: CPU ms per create {out['create']:.3f}, "
                  f"per 1000-doc batch {out['batch']:.2f}", flush=True)
    for name, rows in res.items():
        print(f"{name}: CPU ms per durable create median "
              f"{statistics.median(r['create'] for r in rows):.3f}; per 1000-doc batch median "
              f"{statistics.median(r['batch'] for r in rows):.2f}")


if __name__ == "__main__":
    main()
