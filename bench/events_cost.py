#!/usr/bin/env python3
"""The write path's cost of events (issue 13): durable creates/s and
1000-document BatchPuts/s of two ccfd builds, interleaved in one run
(A B A B ...) so that the shared machine's noise hits both alike. Each
round starts a fresh ccfd (synchronous FULL, no jobs, auth none) on its own
data directory. Prints medians per build.

Usage: bench/events_cost.py BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS]"""

import statistics
import sys
import tempfile
from pathlib import Path

sys.argv = [sys.argv[0], *sys.argv[1:]]
BEFORE, AFTER = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 3
sys.argv = [sys.argv[0], str(AFTER)]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: wrk, start_ccfd, Api)


def measure(build, tmp, n):
    run.BUILD = build
    data = tmp / f"{build.parent.name}-{n}"
    data.mkdir()
    port = run.free_port()
    proc = run.start_ccfd(data, port, ["--auth", "none", "--executor", "none", "--synchronous", "FULL"])
    try:
        base = f"http://127.0.0.1:{port}/api/v1/custom-connectors"
        cid = run.Api(port).call("POST", "/api/v1/custom-connectors",
                                 {"name": "bench", "container_properties": {"command": ["true"]}})["connector"]["connector_id"]
        cr = run.wrk(base, "create.lua", dur="5s")
        bp = run.wrk(f"{base}/{cid}/documents", "batch.lua", conns=8, dur="5s")
        return cr["rps"], bp["rps"]
    finally:
        proc.terminate()
        proc.wait()


def main():
    tmp = Path(tempfile.mkdtemp(prefix="ccf-events-cost-"))
    got = {"before": [], "after": []}
    for n in range(ROUNDS):
        for name, build in (("before", BEFORE), ("after", AFTER)):
            got[name].append(measure(build, tmp, n))
            print(f"round {n} {name}: creates/s {got[name][-1][0]:,.0f}, "
                  f"batch puts/s {got[name][-1][1]:,.1f}", flush=True)
    for name, v in got.items():
        print(f"{name}: creates/s median {statistics.median(x[0] for x in v):,.0f}; "
              f"1000-doc batch puts/s median {statistics.median(x[1] for x in v):,.1f}")


if __name__ == "__main__":
    main()
