#!/usr/bin/env python3
"""The executors side by side (issue 14), each on a ccfd of its own, in one run:

start: job start latency, created_at -> started_at (RUNNING), both stamped
       by ccfd, over --runs jobs that exit at once; median and p90. And
       created_at -> completed_at of the same jobs (`true`): on podman,
       RUNNING is `podman run` started, so this one holds the container's
       own start and end.
stop:  the longest time a stopped job's processes survived the stop: a job
       starts children and grandchildren that all ignore SIGTERM; the time
       from the StopCustomConnectorJob request to the moment the last of
       them is gone, over --stops jobs. A job's processes are found on the
       host by the CUSTOM_CONNECTOR_JOB_ID=<job> in their environment (a
       container's processes too: they are host processes in their own
       pid namespace). Expected: about stop-grace (TERM, then KILL).

Usage: bench/executors.py [--runs 100] [--stops 5] [--executor local --executor podman --executor slurm]
An executor is one entry of EXECUTORS below: the ccfd flags, the environment
it needs, and the connector properties of a job that runs on it."""

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from job_latency import call, ts, wait  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
GRACE = 2
IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-test:latest"
IMAGE_MAP = r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/ccf-test(:.*)?=localhost/ccf-test/busybox"
TERM = ("terminal", {"SUCCEEDED", "FAILED", "STOPPED"})
# Children and grandchildren, every one ignoring SIGTERM (an ignored signal
# stays ignored across exec).
STUBBORN = "trap '' TERM; (sleep 600 & sleep 600 & wait) & (sleep 600 & wait) & sleep 600 & wait"
STUBBORN_PROCS = 7  # sh, 2 subshells, 4 sleeps


def podman_setup(tmp):
    out = subprocess.run([str(REPO / "scripts" / "podman-env.sh"), str(tmp / "podman")],
                         capture_output=True, text=True, check=True, timeout=300)
    return dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)


def podman_teardown(tmp):
    subprocess.run([str(REPO / "scripts" / "podman-env.sh"), "--stop", str(tmp / "podman")],
                   capture_output=True, timeout=300)


SLURM_CLUSTER = REPO / "scripts" / "slurm-cluster.sh"


def slurm_setup(tmp):
    """A one-node cluster of its own (scripts/slurm-cluster.sh, by pidfile)."""
    subprocess.run([str(SLURM_CLUSTER), "start", str(tmp / "slurm")], capture_output=True,
                   check=True, timeout=120)
    return {}


def slurm_teardown(tmp):
    subprocess.run([str(SLURM_CLUSTER), "stop", str(tmp / "slurm")], capture_output=True,
                   timeout=120)


# name: (ccfd flags, setup(tmp) -> env, teardown(tmp), properties(argv)); a
# flag naming "{tmp}" is given the run's temporary directory.
EXECUTORS = {
    "local": ([], None, None, lambda argv: {"command": argv}),
    "podman": (["--executor", "podman,local", "--image-map", IMAGE_MAP], podman_setup,
               podman_teardown, lambda argv: {"command": argv, "image_uri": IMAGE_URI}),
    "slurm": (["--executor", "slurm", "--slurm-conf", "{tmp}/slurm/slurm.conf"], slurm_setup,
              slurm_teardown, lambda argv: {"command": argv}),
}


def job_pids(jid):
    """pid -> start time of each host process whose environment names jid."""
    mark = f"CUSTOM_CONNECTOR_JOB_ID={jid}".encode()
    found = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                if mark not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{p}/stat") as f:
                found[int(p)] = f.read().rsplit(")", 1)[1].split()[19]
        except OSError:
            pass
    return found


def alive(pid, start):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start and fields[0] != "Z"


def start_ccfd(ccfd, flags, env, d):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([ccfd, "--listen", f"127.0.0.1:{port}", "--data-dir", d, "--log-level",
                             "warn", "--stop-grace", str(GRACE), "--auth", "none", *flags],
                            stdout=subprocess.DEVNULL, env={**os.environ, **env})
    for _ in range(1000):
        try:
            if call(port, "GET", "/healthz")[0] == 200:
                return proc, port
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("ccfd did not start")


def connector(port, props):
    _, c = call(port, "POST", "/api/v1/custom-connectors",
                {"name": "bench", "container_properties": {**props, "timeout": 3600}})
    return c["connector"]["connector_id"]


def measure_start(port, props, runs):
    cid = connector(port, props(["true"]))
    starts, whole = [], []
    for _ in range(runs):
        _, j = call(port, "POST", f"/api/v1/custom-connectors/{cid}/jobs")
        job = wait(port, cid, j["job"]["job_id"], TERM[1])
        starts.append((ts(job["started_at"]) - ts(job["created_at"])) * 1000)
        whole.append((ts(job["completed_at"]) - ts(job["created_at"])) * 1000)
    return starts, whole


def measure_stop(port, props, runs):
    cid = connector(port, props(["/bin/sh", "-c", STUBBORN]))
    survived = []
    for _ in range(runs):
        _, j = call(port, "POST", f"/api/v1/custom-connectors/{cid}/jobs")
        jid = j["job"]["job_id"]
        wait(port, cid, jid, {"RUNNING"})
        deadline = time.monotonic() + 30
        while len(pids := job_pids(jid)) < STUBBORN_PROCS:
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {jid}: {len(pids)} processes, wanted {STUBBORN_PROCS}")
            time.sleep(0.02)
        t0 = time.monotonic()
        call(port, "POST", f"/api/v1/custom-connectors/{cid}/jobs/{jid}/stop")
        while any(alive(p, st) for p, st in pids.items()):
            time.sleep(0.002)
        survived.append((time.monotonic() - t0) * 1000)
        wait(port, cid, jid, TERM[1])
    return survived


def pct(v, q):
    v = sorted(v)
    return v[max(0, int(len(v) * q + 0.5) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--stops", type=int, default=5)
    ap.add_argument("--ccfd", default=str(REPO / "build" / "ccfd"))
    ap.add_argument("--executor", action="append", choices=sorted(EXECUTORS))
    a = ap.parse_args()
    for name in a.executor or ["local", "podman", "slurm"]:
        flags, setup, teardown, props = EXECUTORS[name]
        tmp = Path(tempfile.mkdtemp(prefix=f"ccf-bench-{name}-"))
        env = setup(tmp) if setup else {}
        flags = [f.replace("{tmp}", str(tmp)) for f in flags]
        proc, port = start_ccfd(a.ccfd, flags, env, str(tmp / "data"))
        try:
            s, w = measure_start(port, props, a.runs)
            k = measure_stop(port, props, a.stops)
            print(f"{name}: start (created -> RUNNING) median {statistics.median(s):.1f} ms, "
                  f"p90 {pct(s, 0.9):.1f} ms, n={len(s)}; `true` created -> SUCCEEDED median "
                  f"{statistics.median(w):.1f} ms, p90 {pct(w, 0.9):.1f} ms; stop (request -> last process gone, "
                  f"stop-grace {GRACE} s) max {max(k):.0f} ms, median {statistics.median(k):.0f} ms, "
                  f"n={len(k)}", flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait()
            if teardown:
                teardown(tmp)
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
