#!/usr/bin/env python3
"""`make bench`: ccfd against this machine's ceilings, side by side in one
run (a ratio measured in the same run survives a noisy machine; absolute
figures do not). Loopback only. Prints one table and writes
bench/results/latest.json.

Usage: bench/run.py BUILD_DIR [--quick]"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = Path(sys.argv[1] if len(sys.argv) > 1 else "build").resolve()
QUICK = "--quick" in sys.argv
DUR = "4s" if QUICK else "8s"
DOCS_TOTAL = 100_000 if QUICK else 1_000_000
rows = []
results = {"machine": {}, "rows": rows}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wrk(url, script=None, conns=64, dur=DUR, env=None, prelude=""):
    lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    lua.write(prelude)
    if script:
        lua.write((HERE / "wrk" / script).read_text())
    lua.write("\n" + (HERE / "wrk" / "report.lua").read_text())
    lua.close()
    threads = min(2, conns)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{conns}", f"-d{dur}", "-s", lua.name, url],
                         capture_output=True, text=True, env=env, check=True).stdout
    os.unlink(lua.name)
    line = next(l for l in out.splitlines() if l.startswith("WRKJSON "))
    return json.loads(line[len("WRKJSON "):])


def row(op, ccfd, ceiling=None, unit="req/s", note=""):
    ratio = f"{ccfd / ceiling * 100:.0f} %" if ceiling else ""
    rows.append({"operation": op, "ccfd": round(ccfd, 1), "ceiling": round(ceiling, 1) if ceiling else None,
                 "ratio": ratio, "unit": unit, "note": note})
    print(f"  {op:<46} {ccfd:>12,.0f} {(f'{ceiling:,.0f}' if ceiling else ''):>12} {ratio:>6}  {unit} {note}",
          flush=True)


class Api:
    def __init__(self, port):
        self.port = port
        self.c = None

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.c.request(method, path, body=data,
                               headers={"Content-Type": "application/json"} if data is not None else {})
                r = self.c.getresponse()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.c.close()
                self.c = None  # the idle connection timed out: reconnect once
                if attempt:
                    raise
        out = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path} -> {r.status} {out[:200]!r}")
        return json.loads(out) if out else None


def start_ccfd(data, port, extra=()):
    log = open(data / "ccfd.log", "ab")
    p = subprocess.Popen([str(BUILD / "ccfd"), "--listen", f"127.0.0.1:{port}", "--data-dir", str(data),
                          *extra], stdout=log, stderr=log)
    for _ in range(500):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return p
        except OSError:
            time.sleep(0.01)
    raise RuntimeError("ccfd did not start")


BENCH_KEY = ("AKIABENCH00000000000", "bench/secret/0123456789abcdef0123456789")


def start_signed_ccfd(tmp):
    """A second ccfd with SigV4 on (the default), and one key."""
    data = tmp / "ccfd-sigv4"
    data.mkdir()
    fd = os.open(data / "credentials", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, f"[{BENCH_KEY[0]}]\nsecret_access_key = {BENCH_KEY[1]}\naccount_id = 123456789012\n".encode())
    os.close(fd)
    port = free_port()
    return start_ccfd(data, port, ["--executor", "none"]), port


def sigv4(method, url, body=b"", headers=None):
    """Headers that sign one request (botocore's SigV4Auth, now)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(*BENCH_KEY), "execute-api", "us-east-1").add_auth(req)
    return dict(req.headers.items())


def signed_get(tmp):
    """GetCustomConnector signed with SigV4, on a ccfd of its own: wrk
    replays one signed request for the whole run, well inside the 5 minutes
    a signature is valid."""
    proc, port = start_signed_ccfd(tmp)
    try:
        base = f"http://127.0.0.1:{port}/api/v1/custom-connectors"
        body = json.dumps({"name": "bench", "container_properties": {"command": ["true"]}}).encode()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("POST", "/api/v1/custom-connectors", body=body,
                  headers=sigv4("POST", base, body, {"Content-Type": "application/json"}))
        r = c.getresponse()
        out = json.loads(r.read())
        if r.status != 201:
            raise RuntimeError(f"signed create -> {r.status} {out}")
        url = f"{base}/{out['connector']['connector_id']}"
        lua = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in sigv4("GET", url).items())
        g = wrk(url, prelude=lua)
        if g["non2xx"]:
            raise RuntimeError(f"signed GetCustomConnector: {g['non2xx']} answers were not 2xx")
        return g
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


def ccfd_flags():
    help_text = subprocess.run([str(BUILD / "ccfd"), "--help"], capture_output=True, text=True).stdout
    return ["--auth", "none"] if "--auth" in help_text else []


def main():
    tmp = Path(tempfile.mkdtemp(prefix="ccf-bench-"))
    results["machine"] = {"cpus": os.cpu_count(), "kernel": os.uname().release,
                          "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    print(f"{'operation':<48} {'ccfd':>12} {'ceiling':>12} {'ratio':>6}")

    # Ceilings.
    port = free_port()
    ceil = subprocess.Popen([str(BUILD / "bench" / "ceiling_http"), str(port)], stdout=subprocess.PIPE)
    ceil.stdout.readline()
    http_ceiling = {c: wrk(f"http://127.0.0.1:{port}/x", conns=c) for c in (1, 8, 64, 256)}
    ceil.send_signal(signal.SIGTERM)
    ceil.wait()
    storage = json.loads(subprocess.run([str(BUILD / "bench" / "ceiling_sqlite"), str(tmp)],
                                        capture_output=True, text=True, check=True).stdout)
    results["ceilings"] = {"http": http_ceiling, **storage}

    data = tmp / "ccfd"
    data.mkdir()
    port = free_port()
    proc = start_ccfd(data, port, ccfd_flags())
    base = f"http://127.0.0.1:{port}/api/v1/custom-connectors"
    api = Api(port)
    try:
        cid = api.call("POST", "/api/v1/custom-connectors",
                       {"name": "bench", "container_properties": {"command": ["true"]}})["connector"]["connector_id"]
        for _ in range(60):
            api.call("POST", "/api/v1/custom-connectors",
                     {"name": "page", "container_properties": {"command": ["true"]}})
        g = wrk(f"{base}/{cid}")
        row("GetCustomConnector (64 conns)", g["rps"], http_ceiling[64]["rps"],
            note=f"p50 {g['p50_ms']:.2f} p99 {g['p99_ms']:.2f} p99.9 {g['p999_ms']:.2f} ms")
        results["get"] = g
        sg = signed_get(tmp)
        row("GetCustomConnector, SigV4-signed (64 conns)", sg["rps"], g["rps"],
            note=f"ceiling: the unsigned read above; p99 {sg['p99_ms']:.2f} ms")
        results["get_signed"] = sg
        for conns in (1, 8, 256):
            r = wrk(f"{base}/{cid}", conns=conns)
            row(f"GetCustomConnector ({conns} conns)", r["rps"], http_ceiling[conns]["rps"])
        lst = wrk(f"{base}?max_results=50")
        row("ListCustomConnectors (page of 50)", lst["rps"], http_ceiling[64]["rps"],
            note=f"p99 {lst['p99_ms']:.2f} ms")
        cr = wrk(base, "create.lua")
        row("CreateCustomConnector (durable, FULL)", cr["rps"], storage["sqlite_single_tx_per_s"],
            note=f"vs raw 1-row tx/s; HTTP ceiling {http_ceiling[64]['rps']:,.0f}")
        results["rss_after_requests_mib"] = rss_mib(proc.pid)
        bp = wrk(f"{base}/{cid}/documents", "batch.lua", conns=8)
        row("BatchPut 1000 docs (documents/s)", bp["rps"] * 1000, storage["sqlite_upsert_docs_per_s"],
            unit="docs/s", note=f"p99 {bp['p99_ms']:.1f} ms")
        cp = wrk(f"{base}/{cid}/checkpoint", "checkpoint.lua", conns=4)
        row("PutCustomConnectorCheckpoint 1 MiB", cp["rps"], note=f"p99 {cp['p99_ms']:.1f} ms")

        # Scaling: a connector of its own, filled to 10^4, 10^5, 10^6.
        big = api.call("POST", "/api/v1/custom-connectors",
                       {"name": "big", "container_properties": {"command": ["true"]}})["connector"]["connector_id"]
        stored, t_fill = 0, 0.0
        for target in (10_000, 100_000, 1_000_000):
            if target > DOCS_TOTAL:
                break
            t0, n0 = time.monotonic(), stored
            while stored < target:
                docs = [{"document_id": f"f{stored + i:09d}", "checksum": "%064d" % (stored + i)} for i in range(1000)]
                api.call("POST", f"/api/v1/custom-connectors/{big}/documents", {"documents": docs})
                stored += 1000
            rate = (stored - n0) / (time.monotonic() - t0)
            lt0 = time.monotonic()
            for _ in range(20):
                api.call("GET", f"/api/v1/custom-connectors/{big}/documents?max_results=1000")
            list_ms = (time.monotonic() - lt0) / 20 * 1000
            row(f"  at {target:,} stored: put (1 client)", rate, unit="docs/s",
                note=f"list 1000: {list_ms:.1f} ms")
            results[f"scale_{target}"] = {"put_docs_per_s": rate, "list_1000_ms": list_ms}
        results["rss_with_docs_mib"] = rss_mib(proc.pid)
        # Page through everything: is the rate flat from first page to last?
        token, pages, times = None, 0, []
        while True:
            q = "?max_results=1000" + (f"&next_token={token}" if token else "")
            t0 = time.monotonic()
            page = api.call("GET", f"/api/v1/custom-connectors/{big}/documents{q}")
            times.append(time.monotonic() - t0)
            pages += 1
            token = page.get("next_token")
            if not token:
                break
        k = max(1, len(times) // 10)
        first, last = k / sum(times[:k]), k / sum(times[-k:])
        row(f"List {stored:,} docs: pages/s, first 10 %", first, unit="pages/s")
        row(f"List {stored:,} docs: pages/s, last 10 %", last, unit="pages/s",
            note=f"last/first {last / first:.2f}")
        db = sum(f.stat().st_size for f in data.glob("ccf.db*"))
        results["db_bytes_per_million_docs"] = db / stored * 1e6
        results["rss_after_listing_mib"] = rss_mib(proc.pid)
        row("ccfd RSS with docs stored", results["rss_after_listing_mib"], unit="MiB",
            note=f"db {db / 2**20:.0f} MiB for {stored:,} docs")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()

    out = subprocess.run([sys.executable, str(HERE / "job_latency.py"), "--runs", "30" if QUICK else "100",
                          "--ccfd", str(BUILD / "ccfd")], capture_output=True, text=True, check=True).stdout
    print(out, end="")
    results["job_latency"] = out.strip().splitlines()
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    subprocess.run(["rm", "-rf", str(tmp)])


if __name__ == "__main__":
    main()
