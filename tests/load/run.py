#!/usr/bin/env python3
"""`make load`: a sustained mixed load on one ccfd with its default
durability (synchronous=FULL), signed like any client. THREADS client
threads run creates, gets, lists, document batches and checkpoints as fast
as the server answers, for LOAD_SECONDS (default 300). Passes only with zero
5xx and every acknowledged write read back at the end, and with ccfd's RSS
flat: at the end at most 1.5 x its value after the first minute + 8 MiB.
Prints the figures for docs/RELIABILITY.md."""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))
from ccftest import ACCOUNT_ID, CONNECTORS, Client, checksum, write_credentials  # noqa: E402

SECONDS = int(os.environ.get("LOAD_SECONDS", "300"))
THREADS = int(os.environ.get("LOAD_THREADS", "6"))
CCFD = os.environ.get("CCFD", "build/ccfd")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Worker(threading.Thread):
    def __init__(self, port, n, deadline):
        super().__init__(daemon=True)
        self.c = Client(port, timeout=60)
        self.n, self.deadline = n, deadline
        self.ops, self.errors, self.five = 0, [], 0
        self.docs, self.checkpoints, self.names = {}, {}, {}

    def call(self, method, target, body=None, want=(200,)):
        r = self.c.request(method, target, json_body=body) if body is not None else self.c.request(method, target)
        self.ops += 1
        if r.status >= 500:
            self.five += 1
        if r.status not in want:
            self.errors.append(str(r)[:300])
        return r

    def run(self):
        i = 0
        cid = None
        while time.monotonic() < self.deadline:
            i += 1
            if cid is None or i % 50 == 0:
                name = f"load-{self.n}-{i}"
                r = self.call("POST", CONNECTORS, {"name": name, "container_properties": {"command": ["true"]}}, (201,))
                if r.status == 201:
                    cid = r.json["connector"]["connector_id"]
                    self.names[cid] = name
                    self.docs[cid] = {}
            batch = [{"document_id": f"d{i % 7}-{k:03d}", "checksum": checksum(f"{self.n}-{i}-{k}")}
                     for k in range(200)]
            if self.call("POST", f"{CONNECTORS}/{cid}/documents", {"documents": batch}, (202,)).status == 202:
                self.docs[cid].update({d["document_id"]: d["checksum"] for d in batch})
            data = f"cursor={self.n}-{i}"
            if self.call("PUT", f"{CONNECTORS}/{cid}/checkpoint", {"checkpoint_data": data}, (202,)).status == 202:
                self.checkpoints[cid] = data
            self.call("GET", f"{CONNECTORS}/{cid}")
            self.call("GET", f"{CONNECTORS}?max_results=20")
            self.call("GET", f"{CONNECTORS}/{cid}/documents?max_results=100")

    def verify(self):
        lost = 0
        for cid, name in self.names.items():
            if self.c.get_connector(cid)["name"] != name:
                lost += 1
            items = self.c.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)[0]
            got = {d["document_id"]: d["checksum"] for d in items}
            lost += sum(1 for k, v in self.docs[cid].items() if got.get(k) != v)
            if cid in self.checkpoints and self.c.get_checkpoint(cid)["checkpoint_data"] != self.checkpoints[cid]:
                lost += 1
        return lost


def main():
    data = Path(tempfile.mkdtemp(prefix="ccf-load-"))
    write_credentials(data / "credentials", [ACCOUNT_ID])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(data / "ccfd.log", "wb")
    proc = subprocess.Popen([CCFD, "--listen", f"127.0.0.1:{port}", "--data-dir", str(data),
                             "--account-id", ACCOUNT_ID, "--executor", "none"], stdout=log, stderr=log)
    time.sleep(1)
    start = time.monotonic()
    workers = [Worker(port, n, start + SECONDS) for n in range(THREADS)]
    for w in workers:
        w.start()
    samples = []
    while any(w.is_alive() for w in workers):
        time.sleep(5)
        samples.append((time.monotonic() - start, rss_mib(proc.pid)))
    took = time.monotonic() - start
    ops = sum(w.ops for w in workers)
    five = sum(w.five for w in workers)
    errors = [e for w in workers for e in w.errors]
    lost = sum(w.verify() for w in workers)
    minute1 = next((r for t, r in samples if t >= min(60, SECONDS / 5)), samples[0][1])
    end = samples[-1][1]
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait()
    print(f"load: {SECONDS}s, {THREADS} threads: {ops} requests ({ops / took:.0f}/s), "
          f"{five} 5xx, {len(errors)} unexpected answers, {lost} acknowledged writes missing; "
          f"RSS {minute1:.1f} MiB at minute 1, {end:.1f} MiB at the end, max {max(r for _, r in samples):.1f} MiB; "
          f"ccfd exit {rc}")
    for e in errors[:5]:
        print("  ", e)
    ok = five == 0 and not errors and lost == 0 and rc == 0 and end <= 1.5 * minute1 + 8
    subprocess.run(["rm", "-rf", str(data)])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
