#!/usr/bin/env python3
"""What shipping job logs into PostgreSQL costs (issue 15, replicas): a
job that writes LOG_MB MiB of log as fast as it can, run by one ccfd on
SQLite (nothing shipped: the API reads the local file) and by one ccfd on
PostgreSQL (its shipper appends the log to job_log_chunks every second and
at the attempt's end). Per run: ccfd's CPU seconds (utime + stime of
/proc/PID/stat) from the start to the job's end, the job's duration
(started_at to completed_at: the writer is the supervisor, not ccfd), and
the wall time from the start request to the end seen through the API
(the attempt's end ships the rest before the end is recorded), and for
PostgreSQL the bytes job_log_chunks holds after the job and the server's
CPU over the run (its processes as listed at the end: noisy). Two
writers: "burst" (as fast as the pipe goes) and "paced" (1 MiB per 0.1 s,
shipped by the one-second passes while it runs). Rounds alternate the two so that the shared
machine's noise hits both; medians printed. Never part of the tests.

Usage: bench/log_shipping.py BUILD_DIR [ROUNDS] [LOG_MB]"""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
LOG_MB = int(sys.argv[3]) if len(sys.argv) > 3 else 50
HERE = Path(__file__).resolve().parent
sys.argv = [sys.argv[0], str(BUILD)]
sys.path.insert(0, str(HERE))
import run  # noqa: E402  (bench/run.py: start_ccfd, Api)

CLUSTER = HERE.parent / "scripts" / "pg-cluster.sh"
BASE = "/api/v1/custom-connectors"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def pg_cpu_s(pg_dir):
    """CPU seconds of every postgres process of the cluster (children of
    its postmaster, which pg-cluster.sh's pidfile names)."""
    pid = int(Path(pg_dir, "data", "postmaster.pid").read_text().split()[0])
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    total = cpu_s(pid)
    for k in kids:
        try:
            total += cpu_s(int(k))
        except OSError:
            pass
    return total


def seconds(job):
    """started_at to completed_at."""
    t = [datetime.fromisoformat(job[k].replace("Z", "+00:00")) for k in ("started_at", "completed_at")]
    return (t[1] - t[0]).total_seconds()


LINE = "yes 'a line of log, sixty-four bytes long, written as fast as can be' | head -c"
SCRIPTS = {
    # as fast as the pipe goes: the attempt's end ships nearly all of it
    "burst": f"{LINE} {LOG_MB << 20}",
    # 1 MiB every 0.1 s: the one-second passes ship it while it runs
    "paced": f"for i in $(seq 1 {LOG_MB}); do {LINE} 1048576; sleep 0.1; done",
}


def one_job(port, pid, mode):
    api = run.Api(port)
    script = SCRIPTS[mode]
    cid = api.call("POST", BASE, {"name": "logs", "container_properties": {
        "command": ["/bin/sh", "-c", script]}})["connector"]["connector_id"]
    c0 = cpu_s(pid)
    t0 = time.monotonic()
    jid = api.call("POST", f"{BASE}/{cid}/jobs")["job"]["job_id"]
    while (job := api.call("GET", f"{BASE}/{cid}/jobs/{jid}")["job"])["status"] not in (
            "SUCCEEDED", "FAILED", "STOPPED"):
        time.sleep(0.02)
    wall = time.monotonic() - t0
    cpu = cpu_s(pid) - c0
    return cpu, seconds(job), wall, jid


def main():
    tmp = Path(tempfile.mkdtemp(prefix="ccf-bench-logship-"))
    pg_dir = tempfile.mkdtemp(prefix="ccf-bench-pg-")
    env = {k: v for k, v in os.environ.items() if k != "PG_CLUSTER_FAST"}  # durable
    out = subprocess.run([str(CLUSTER), "start", pg_dir, str(os.getpid())], capture_output=True, text=True,
                         env=env, check=True)
    admin = next(l.split("=", 1)[1] for l in out.stdout.splitlines() if l.startswith("CCF_TEST_PG_URL="))
    subprocess.run(["psql", "-q", admin, "-c", "CREATE DATABASE logship"], check=True)
    url = admin.rsplit("/", 1)[0] + "/logship"
    cap = ["--job-log-max", str((LOG_MB + 8) << 20)]  # the whole log kept, locally and shipped
    res = {(n, m): [] for m in SCRIPTS for n in ("sqlite", "postgresql")}
    procs = []
    try:
        for name, flags in (("sqlite", []), ("postgresql", ["--store", url])):
            (tmp / name).mkdir()
            port = run.free_port()
            procs.append((name, port, run.start_ccfd(tmp / name, port, ["--auth", "none", *cap, *flags])))
        for r, mode, (name, port, proc) in [(r, m, p) for r in range(ROUNDS) for m in SCRIPTS for p in procs]:
            if True:
                p0 = pg_cpu_s(pg_dir)
                cpu, dur, wall, jid = one_job(port, proc.pid, mode)
                pg = pg_cpu_s(pg_dir) - p0
                stored = 0
                if name == "postgresql":
                    stored = int(subprocess.run(
                        ["psql", "-Atq", url, "-c",
                         f"SELECT COALESCE(sum(length(data)), 0) FROM job_log_chunks WHERE job_id = '{jid}'"],
                        capture_output=True, text=True, check=True).stdout.strip())
                res[(name, mode)].append((cpu, dur, pg, stored, wall))
                print(f"round {r} {mode} {name}: ccfd CPU {cpu:.2f} s, job {dur:.2f} s, start to end seen "
                      f"{wall:.2f} s, postgres CPU {pg:.2f} s, shipped {stored / 1048576:.1f} MiB", flush=True)
    finally:
        for _, _, proc in procs:
            proc.terminate()
            proc.wait()
        subprocess.run([str(CLUSTER), "stop", pg_dir], check=False)
    print(f"machine: {os.cpu_count()} cores; {ROUNDS} rounds; a job writing {LOG_MB} MiB of log")
    for (name, mode), rows in res.items():
        med = [statistics.median(x[i] for x in rows) for i in range(5)]
        print(f"{mode} {name}: ccfd CPU median {med[0]:.2f} s; job duration median {med[1]:.2f} s "
              f"({LOG_MB / med[1]:.0f} MiB/s); start to end seen median {med[4]:.2f} s; "
              f"postgres CPU median {med[2]:.2f} s; shipped median {med[3] / 1048576:.1f} MiB")


if __name__ == "__main__":
    main()
