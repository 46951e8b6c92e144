#!/usr/bin/env python3
"""BatchPut of 1000 documents through HTTP, with a job's own key (counted in
its stats, each put classified) and with the operator's key, on a real
signed ccfd (`make bench-docstats-http`). For each key: requests/s of
puts of 1000 new documents, then of the same documents again (unchanged),
from THREADS clients, each a connection of its own. ccfd runs with
synchronous=NORMAL, so that the figure is CPU and page writes, not fsync.
Several binaries are measured in turn, ROUNDS times, and the best of each
is printed (a shared machine is noisy), with ccfd's CPU time per request
(from /proc), which the client's own cost does not blur.

Usage: bench/docstats_http.py [--requests N] CCFD [CCFD ...]"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "service"))
os.environ["CCF_STRICT"] = "0"

from ccftest import ACCOUNT_ID, CONNECTORS, REGION, Client, write_credentials  # noqa: E402

THREADS = 4
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(binary, data):
    port = free_port()
    data.mkdir(parents=True)
    write_credentials(data / "credentials", [ACCOUNT_ID])
    proc = subprocess.Popen([binary, "--listen", f"127.0.0.1:{port}", "--data-dir", str(data),
                             "--region", REGION, "--account-id", ACCOUNT_ID, "--synchronous",
                             "NORMAL", "--log-level", "warn", "--quiet"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{binary} did not start")


def job_key(c, tmp):
    """A running job whose command hands its key over in a file."""
    env_file = tmp / "job.env"
    cid = c.create_connector(container_properties={"command": [
        "/bin/sh", "-c", f'env > "{env_file}.tmp" && mv "{env_file}.tmp" "{env_file}"; sleep 600'],
        "timeout": 600})["connector_id"]
    c.start_job(cid)
    deadline = time.monotonic() + 20
    while not env_file.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the job did not start")
        time.sleep(0.05)
    env = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if "=" in line)
    jid = env["CUSTOM_CONNECTOR_JOB_ID"]
    return cid, jid, (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"],
                      env.get("AWS_SESSION_TOKEN"))


def stop_job(c, cid, jid):
    """No job of ours outlives the bench."""
    c.stop_job(cid, jid)
    deadline = time.monotonic() + 30
    while c.get_job(cid, jid)["status"] not in ("STOPPED", "FAILED", "SUCCEEDED"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {jid} did not stop")
        time.sleep(0.1)


def bodies(tag, n):
    return [json.dumps({"documents": [
        {"document_id": f"{tag}/t{t}/r{r:05d}/d{i:04d}", "checksum": "%064d" % i}
        for i in range(1000)]}).encode() for t in range(THREADS) for r in range(n)]


def cpu_s(pid):
    """ccfd's user + system CPU seconds so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def blast(proc, port, cid, creds, batches, n):
    """requests/s of THREADS clients sending their share of batches, and
    ccfd's CPU ms per request (the client's own cost left out)."""
    errors = []

    def run(t):
        c = Client(port, credentials=creds)
        try:
            for body in batches[t * n:(t + 1) * n]:
                r = c.request("POST", f"{CONNECTORS}/{cid}/documents", body=body)
                if r.status != 202:
                    errors.append(r.status)
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(t,)) for t in range(THREADS)]
    c0, t0 = cpu_s(proc.pid), time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"BatchPut answered {errors[:5]}")
    dt, cpu = time.monotonic() - t0, cpu_s(proc.pid) - c0
    return len(batches) / dt, cpu * 1000 / len(batches)


def measure(binary, n):
    tmp = Path(tempfile.mkdtemp(prefix="ccf-bench-ds-"))
    proc, port = start(binary, tmp / "data")
    out = {}
    try:
        c = Client(port)
        cid, jid, jkey = job_key(c, tmp)
        try:
            for who, creds in (("operator", c.credentials), ("job", jkey)):
                batches = bodies(who, n)
                for kind in ("new", "unchanged"):
                    rps, ms = blast(proc, port, cid, creds, batches, n)
                    out[f"{who}_{kind}_req_per_s"] = rps
                    out[f"{who}_{kind}_ccfd_cpu_ms"] = ms
            stats = c.get_job(cid, jid)["stats"]
            if stats["documents_added"] != stats["documents_unchanged"]:
                raise RuntimeError(f"the job's stats are off: {stats}")
        finally:
            stop_job(c, cid, jid)
            c.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main():
    args = sys.argv[1:]
    n = 10
    if args[:1] == ["--requests"]:
        n, args = int(args[1]) // THREADS, args[2:]
    best = {b: {} for b in args}
    for _ in range(ROUNDS):
        for b in args:
            for k, v in measure(b, n).items():
                better = min if k.endswith("_ms") else max
                best[b][k] = better(v, best[b].get(k, v))
    print(json.dumps({"batch_put_1000": {b: {k: round(v, 1) for k, v in r.items()}
                                         for b, r in best.items()}}, indent=1))


if __name__ == "__main__":
    main()
