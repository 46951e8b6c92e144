#!/usr/bin/env python3
"""The cost of TLS: SigV4-signed GetCustomConnector over HTTP and over HTTPS,
keep-alive (wrk, 2 threads, 64 connections), on two ccfds of the same build
in the same run, alternated so that the shared machine's drift hits both;
then once more with a new connection per request (a handshake each).
Loopback only. Prints one table; never an assertion.

Usage: bench/tls.py BUILD_DIR [--quick]"""

import http.client
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (bench/run.py: wrk, sigv4, BENCH_KEY)

ROUNDS = 1 if run.QUICK else 2


def openssl(cwd, *args):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_cert(d):
    """A CA and a P-256 leaf for 127.0.0.1 it signed: what a deployment has."""
    openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA")
    openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=localhost")
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl(d, "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-days", "2", "-extfile", "ext", "-out", "srv.pem")
    os.chmod(d / "srv.key", 0o600)


def start(tmp, name, extra=()):
    data = tmp / name
    data.mkdir()
    fd = os.open(data / "credentials", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    key, secret = run.BENCH_KEY
    os.write(fd, f"[{key}]\nsecret_access_key = {secret}\naccount_id = 123456789012\n".encode())
    os.close(fd)
    port = run.free_port()
    log = open(data / "ccfd.log", "ab")
    p = subprocess.Popen([str(run.BUILD / "ccfd"), "--listen", f"127.0.0.1:{port}", "--data-dir", str(data),
                          "--executor", "none", *extra], stdout=log, stderr=log)
    return p, port


def connect(port, ctx):
    if ctx:
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=ctx)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=10)


def make_connector(port, scheme, ctx):
    """Waits for the server, creates a connector, returns its URL."""
    base = f"{scheme}://127.0.0.1:{port}/api/v1/custom-connectors"
    body = json.dumps({"name": "bench", "container_properties": {"command": ["true"]}}).encode()
    for _ in range(500):
        try:
            c = connect(port, ctx)
            c.request("POST", "/api/v1/custom-connectors", body=body,
                      headers=run.sigv4("POST", base, body, {"Content-Type": "application/json"}))
            r = c.getresponse()
            out = json.loads(r.read())
            if r.status != 201:
                raise RuntimeError(f"create -> {r.status} {out}")
            return f"{base}/{out['connector']['connector_id']}"
        except (OSError, http.client.HTTPException):
            run.time.sleep(0.01)
    raise RuntimeError("ccfd did not start")


def get(url, close=False):
    hdrs = run.sigv4("GET", url)
    if close:
        hdrs["Connection"] = "close"
    lua = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in hdrs.items())
    g = run.wrk(url, prelude=lua, conns=64 if not close else 16, dur="4s" if close else run.DUR)
    if g["non2xx"]:
        raise RuntimeError(f"{url}: {g['non2xx']} answers were not 2xx")
    return g


def main():
    tmp = Path(tempfile.mkdtemp(prefix="ccf-bench-tls-"))
    make_cert(tmp)
    ctx = ssl.create_default_context(cafile=str(tmp / "ca.pem"))
    plain, pport = start(tmp, "http")
    tls, tport = start(tmp, "https", ["--tls-cert", str(tmp / "srv.pem"), "--tls-key", str(tmp / "srv.key")])
    out = {"http": [], "https": []}
    try:
        urls = {"http": make_connector(pport, "http", None), "https": make_connector(tport, "https", ctx)}
        for _ in range(ROUNDS):
            for scheme in ("http", "https"):
                out[scheme].append(get(urls[scheme]))
        closed = {s: get(urls[s], close=True) for s in ("http", "https")}
    finally:
        for p in (plain, tls):
            p.send_signal(signal.SIGTERM)
            p.wait()
    print(f"{'GetCustomConnector, SigV4-signed':<44} {'HTTP':>10} {'HTTPS':>10} {'HTTPS/HTTP':>11}")
    for i in range(ROUNDS):
        h, s = out["http"][i], out["https"][i]
        print(f"  keep-alive, 64 conns, round {i + 1:<17} {h['rps']:>10,.0f} {s['rps']:>10,.0f} "
              f"{s['rps'] / h['rps'] * 100:>10.0f} %  p99 {h['p99_ms']:.2f} / {s['p99_ms']:.2f} ms")
    h, s = closed["http"], closed["https"]
    print(f"  a new connection per request, 16 conns  {h['rps']:>10,.0f} {s['rps']:>10,.0f} "
          f"{s['rps'] / h['rps'] * 100:>10.0f} %  p99 {h['p99_ms']:.2f} / {s['p99_ms']:.2f} ms")
    print(json.dumps({"keepalive": out, "new_connection": closed}))


if __name__ == "__main__":
    main()
