#!/usr/bin/env python3
"""Jobs started per second and ListEvents latency, one ccfd on SQLite
(synchronous FULL) against one on DynamoDB (dynalite on loopback, the
emulator the tests use: these say what the backend's round trips cost,
not what AWS would), rounds interleaved so that the shared machine's
noise hits both alike. Each round: a fresh ccfd (auth none, executor
none), N connectors, one StartCustomConnectorJob each from 4 threads
(starts/s), then GET /api/v1/events?max_results=100 timed 50 times
(median and p90 in ms). Prints medians over rounds.

Usage: CCF_TEST_DYNAMO_ENDPOINT=http://127.0.0.1:PORT \\
       bench/dynamo_jobs.py BUILD_DIR [ROUNDS] [N]"""

import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
N = int(sys.argv[3]) if len(sys.argv) > 3 else 200
HERE = Path(__file__).resolve().parent
sys.argv = [sys.argv[0], str(BUILD)]
sys.path.insert(0, str(HERE))
import run  # noqa: E402  (bench/run.py: start_ccfd, Api)

THREADS = 4


def starts_per_s(port, cids):
    chunks = [cids[i::THREADS] for i in range(THREADS)]

    def worker(chunk):
        api = run.Api(port)
        for cid in chunk:
            api.call("POST", f"/api/v1/custom-connectors/{cid}/jobs", {})

    ts = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return len(cids) / (time.perf_counter() - t0)


def events_ms(port):
    api = run.Api(port)
    lat = []
    for _ in range(50):
        t0 = time.perf_counter()
        api.call("GET", "/api/v1/events?max_results=100")
        lat.append((time.perf_counter() - t0) * 1000)
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.9)]


def measure(tmp, name, flags):
    data = tmp / name
    data.mkdir()
    port = run.free_port()
    proc = run.start_ccfd(data, port, ["--auth", "none", "--executor", "none", *flags])
    try:
        api = run.Api(port)
        cids = [api.call("POST", "/api/v1/custom-connectors",
                         {"name": f"bench-{i}", "container_properties": {"command": ["true"]}}
                         )["connector"]["connector_id"] for i in range(N)]
        rate = starts_per_s(port, cids)
        med, p90 = events_ms(port)
        return rate, med, p90
    finally:
        proc.terminate()
        proc.wait()


def main():
    endpoint = os.environ.get("CCF_TEST_DYNAMO_ENDPOINT")
    if not endpoint:
        sys.exit("set CCF_TEST_DYNAMO_ENDPOINT (scripts/dynalite.sh start DIR)")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDBENCH")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench-secret")
    res = {"sqlite": [], "dynamodb": []}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for r in range(ROUNDS):
            res["sqlite"].append(measure(tmp, f"s{r}", ["--synchronous", "FULL"]))
            prefix = "bench" + uuid.uuid4().hex[:8]
            res["dynamodb"].append(measure(tmp, f"d{r}", [
                "--store", f"dynamodb://{prefix}?region=us-east-1&endpoint={endpoint}",
                "--store-experimental"]))
    print(f"{N} starts from {THREADS} threads, then 50 ListEvents (max_results=100); "
          f"medians of {ROUNDS} rounds")
    print("| store | jobs started/s | ListEvents median ms | ListEvents p90 ms |")
    print("|---|---|---|---|")
    for name, rows in res.items():
        print(f"| {name} | {statistics.median(r[0] for r in rows):.0f} | "
              f"{statistics.median(r[1] for r in rows):.1f} | "
              f"{statistics.median(r[2] for r in rows):.1f} |")


if __name__ == "__main__":
    main()
