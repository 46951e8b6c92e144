#!/usr/bin/python3
"""Job start latency per backend, in one run: created -> RUNNING (p50/p90
over N jobs, one after another, so no job waits for capacity), from the
job's own created_at and started_at; and the longest time a stopped job's
processes (the job and a child it started) survived the stop request.

    bench/backend_latency.py BUILD [--jobs 100] [--stops 10] [--backends local,slurm,podman]

Each backend gets a ccfd of its own (auth none, loopback, a temp data
directory). slurm starts a one-node cluster with scripts/slurm-cluster.sh
and stops it by pidfile; podman is measured when this ccfd has it (the
connector then names PODMAN_IMAGE, default localhost/ccf-busybox). A backend
that cannot run here is reported as skipped, with why. Never part of the
tests: figures for docs/PERFORMANCE.md."""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
API = "/api/v1/custom-connectors"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class Ccfd:
    def __init__(self, build, flags, tmp):
        self.port = free_port()
        self.dir = Path(tmp) / "data"
        self.log = open(Path(tmp) / "ccfd.log", "wb")
        self.proc = subprocess.Popen(
            [str(Path(build) / "ccfd"), "--data-dir", str(self.dir), "--listen",
             f"127.0.0.1:{self.port}", "--auth", "none", "--stop-grace", "2",
             "--log-level", "warn", *flags],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                self.call("GET", "/healthz")
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ccfd {flags} did not start (see {self.log.name})")
                time.sleep(0.05)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
        return json.loads(text) if text else {}

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self.log.close()


def connector(c, props, n=[0]):
    n[0] += 1
    return c.call("POST", API, {"name": f"bench-{os.getpid()}-{n[0]}",
                                "container_properties": props})["connector"]["connector_id"]


def wait(c, cid, jid, statuses, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        job = c.call("GET", f"{API}/{cid}/jobs/{jid}")["job"]
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {jid} stuck in {job['status']}")
        time.sleep(0.01)


def latency(c, props, n):
    cid = connector(c, props)
    out = []
    for _ in range(n):
        jid = c.call("POST", f"{API}/{cid}/jobs")["job"]["job_id"]
        job = wait(c, cid, jid, {"SUCCEEDED", "FAILED", "STOPPED"})
        if job["status"] != "SUCCEEDED":
            raise RuntimeError(f"job {jid} ended {job['status']}: {job.get('failure_reason')}")
        out.append(ts(job["started_at"]) - ts(job["created_at"]))
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def survival(c, props, home_of, n):
    """Seconds from each stop request until the job and its child were gone."""
    cid = connector(c, props)
    out = []
    for _ in range(n):
        jid = c.call("POST", f"{API}/{cid}/jobs")["job"]["job_id"]
        wait(c, cid, jid, {"RUNNING"})
        home = home_of(jid)
        deadline = time.monotonic() + 30
        while not ((home / "pid").exists() and (home / "child").exists()):
            if time.monotonic() > deadline:
                raise RuntimeError("the job never wrote its pids")
            time.sleep(0.005)
        time.sleep(0.05)
        pids = [int((home / f).read_text()) for f in ("pid", "child")]
        t0 = time.monotonic()
        c.call("POST", f"{API}/{cid}/jobs/{jid}/stop")
        while any(alive(p) for p in pids):
            if time.monotonic() - t0 > 60:
                raise RuntimeError(f"job {jid}'s processes outlived its stop by 60 s")
            time.sleep(0.002)
        out.append(time.monotonic() - t0)
        wait(c, cid, jid, {"STOPPED"})
    return out


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def backend_setup(name, tmp):
    """(ccfd flags, connector properties for `true`, for the stop test), or a
    reason to skip."""
    sleeper = "sleep 300 & echo $! > child; echo $$ > pid; wait"
    if name == "local":
        return ["--executor", "local"], {"command": ["/bin/true"]}, \
            {"command": ["/bin/sh", "-c", sleeper]}, None
    if name == "slurm":
        script = REPO / "scripts" / "slurm-cluster.sh"
        why = subprocess.run([str(script), "check"], capture_output=True, text=True)
        if why.returncode != 0:
            return None, None, None, why.stdout.strip()
        d = Path(tmp) / "slurm"
        subprocess.run([str(script), "start", str(d)], check=True, capture_output=True)
        return ["--executor", "slurm", "--slurm-conf", str(d / "slurm.conf")], \
            {"command": ["/bin/true"]}, {"command": ["/bin/sh", "-c", sleeper]}, None
    if name == "podman":
        if not shutil.which("podman"):
            return None, None, None, "podman is not installed"
        image = os.environ.get("PODMAN_IMAGE", "localhost/ccf-busybox")
        return ["--executor", "podman"], {"image_uri": image, "command": ["/bin/true"]}, None, None
    return None, None, None, f"unknown backend {name}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--stops", type=int, default=10)
    ap.add_argument("--backends", default="local,slurm,podman")
    a = ap.parse_args()
    print(f"job start latency, created -> RUNNING, {a.jobs} jobs one after another; "
          f"stop: {a.stops} stops of a job and its child (2 s grace)")
    for name in a.backends.split(","):
        tmp = tempfile.mkdtemp(prefix=f"ccf-bench-{name}-")
        flags, props, stop_props, why = backend_setup(name, tmp)
        try:
            if why:
                print(f"{name:7s} skipped: {why}")
                continue
            try:
                c = Ccfd(a.build, flags, tmp)
            except RuntimeError as e:
                print(f"{name:7s} skipped: {e}")
                continue
            try:
                lat = latency(c, props, a.jobs)
                line = (f"{name:7s} p50 {pct(lat, 50) * 1000:7.1f} ms  p90 {pct(lat, 90) * 1000:7.1f} ms"
                        f"  max {max(lat) * 1000:7.1f} ms  mean {statistics.mean(lat) * 1000:7.1f} ms")
                if stop_props and a.stops > 0:
                    sv = survival(c, stop_props, lambda j: c.dir / "jobs" / j / "work", a.stops)
                    line += f"  | stop: processes gone after max {max(sv) * 1000:.0f} ms" \
                            f" (p50 {pct(sv, 50) * 1000:.0f} ms)"
                print(line, flush=True)
            finally:
                c.stop()
        finally:
            if name == "slurm" and not why:
                subprocess.run([str(REPO / "scripts" / "slurm-cluster.sh"), "stop",
                                str(Path(tmp) / "slurm")], check=False)
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
