#!/usr/bin/python3
"""The author kit's throughput and memory as a ccfd job (`make bench-kit`):
a full first sync of N small documents (default 100,000) through
ccf_connector (tests/service/kit_synthetic.py: content generated, a target
that takes everything), then a second sync that finds all of them
unchanged. For each: documents/s from the job's started_at to its
completed_at (the job's own time, without the test's polling), and the
connector's peak RSS (getrusage in the job). ccfd runs with
synchronous=NORMAL on a temporary data directory; ROUNDS rounds, best of
each printed (a shared machine is noisy).

Usage: bench/kit_sync.py [--documents N] CCFD"""

import argparse
import datetime
import os
import re
import shutil
import signal
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "service"))
sys.path.insert(0, str(REPO / "bench"))

from ccftest import ACCOUNT_ID, Client, Ids, REGION, account_key  # noqa: E402
from docstats_http import start  # noqa: E402
from kitjobs import PYTHON, create, run  # noqa: E402

SYNTHETIC = REPO / "tests" / "service" / "kit_synthetic.py"
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def seconds(job):
    t = [datetime.datetime.strptime(job[k], "%Y-%m-%dT%H:%M:%S.%fZ") for k in ("started_at", "completed_at")]
    return (t[1] - t[0]).total_seconds()


def one_round(client, n):
    cid = create(client, [PYTHON, SYNTHETIC], {"SYN_IDS": f"0-{n - 1}"}, timeout=3600)
    out = []
    for label in ("first sync", "unchanged"):
        job, log = run(client, cid, wait=3600)
        if job["status"] != "SUCCEEDED":
            raise RuntimeError(f"{label}: {job}\n{log}")
        rss = int(re.search(r"peak_rss_kib (\d+)", log).group(1))
        out.append((label, n / seconds(job), rss))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--documents", type=int, default=100_000)
    ap.add_argument("ccfd")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="ccf-bench-kit-"))
    proc = None
    try:
        proc, port = start(args.ccfd, tmp / "data")
        client = Client(port, ids=Ids(), region=REGION, credentials=account_key(ACCOUNT_ID))
        best = {}
        for _ in range(ROUNDS):
            for label, rate, rss in one_round(client, args.documents):
                r, m = best.get(label, (0, 0))
                best[label] = (max(r, rate), max(m, rss))
        print(f"kit sync of {args.documents} small documents as a ccfd job, best of {ROUNDS}:")
        for label, (rate, rss) in best.items():
            print(f"  {label:10s} {rate:9.0f} documents/s   peak RSS {rss / 1024:.1f} MiB")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
