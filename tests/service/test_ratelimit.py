"""Rate limits per access key (CONTRACT-OPS "Transport and operation"):
`rate-limit = RPS[:BURST]`, a token bucket per key; over it, 429
ThrottlingException with Retry-After in whole seconds (>= 1). The look
happens once the key is known and before the body is read; only a request
whose signature holds spends a token. Another key is never affected, and
ccf (libccf) retries through a burst."""

import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

from conftest import ccfd_binary, free_port
from ccftest import ACCOUNT_ID, CONNECTORS, OTHER_ACCOUNT_ID, Client, Ids, account_key, raw_exchange, signed_head
from clitest import run_ccf


def limited(ccfd_factory, spec):
    return ccfd_factory(extra_args=["--executor", "none", "--rate-limit", spec])


def client_for(srv, account):
    return Client(srv.port, ids=Ids(), credentials=account_key(account))


def burst(c, n):
    return [c.get(CONNECTORS, check=False) for _ in range(n)]


def assert_throttled(r):
    assert r.status == 429, r
    assert r.json["errorType"] == "ThrottlingException", r
    assert r.header("x-amzn-ErrorType") == "ThrottlingException", r
    assert re.fullmatch(r"[1-9][0-9]*", r.header("Retry-After") or ""), r
    assert r.header("x-amzn-RequestId"), r


def test_a_burst_over_the_limit_gets_429_and_another_key_is_unaffected(ccfd_factory):
    srv = limited(ccfd_factory, "1:3")
    a, b = client_for(srv, ACCOUNT_ID), client_for(srv, OTHER_ACCOUNT_ID)
    rs = burst(a, 8)
    ok = [r for r in rs if r.status == 200]
    refused = [r for r in rs if r.status != 200]
    assert 3 <= len(ok) <= 4, [r.status for r in rs]  # the burst, and at most one refill
    assert refused
    for r in refused:
        assert_throttled(r)
        assert "AKIATEST" + ACCOUNT_ID in r.json["message"], r
    # Another key has its own bucket.
    assert [r.status for r in burst(b, 3)] == [200, 200, 200]
    # The probe is never limited.
    probe = Client(srv.port, credentials=None)
    assert all(probe.get("/healthz", check=False).status == 200 for _ in range(5))
    # A refill: one request a second gets through again.
    time.sleep(float(refused[-1].header("Retry-After")))
    assert a.get(CONNECTORS, check=False).status == 200


def test_retry_after_counts_whole_seconds_to_the_next_token(ccfd_factory):
    srv = limited(ccfd_factory, "0.2:1")  # one token every 5 s
    c = client_for(srv, ACCOUNT_ID)
    assert c.get(CONNECTORS, check=False).status == 200
    r = c.get(CONNECTORS, check=False)
    assert_throttled(r)
    assert 4 <= int(r.header("Retry-After")) <= 5, r


def test_bad_signatures_spend_nothing(ccfd_factory):
    """Knowing a key id is not enough to use up its owner's rate."""
    srv = limited(ccfd_factory, "1:2")
    key, _ = account_key(ACCOUNT_ID)
    forger = Client(srv.port, credentials=(key, "not-the-secret-at-all-0000"))
    for _ in range(10):
        r = forger.get(CONNECTORS, check=False)
        assert r.status == 403 and r.json["errorType"] == "InvalidSignatureException", r
    owner = client_for(srv, ACCOUNT_ID)
    assert [r.status for r in burst(owner, 2)] == [200, 200]


def test_throttled_before_the_body_is_read(ccfd_factory):
    srv = limited(ccfd_factory, "0.01:1")
    c = client_for(srv, ACCOUNT_ID)
    assert c.get(CONNECTORS, check=False).status == 200
    offset = srv.log_size()
    body = b'{"documents": [' + b" " * (4 * 1024 * 1024) + b"]}"
    head = signed_head(srv.port, "POST", f"{CONNECTORS}/cc-0123456789ab/documents",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))], body)
    _, data = raw_exchange(srv.port, head, body, chunk=16384)
    assert data.startswith(b"HTTP/1.1 429 "), data[:200]
    assert re.search(rb"(?i)\r\nretry-after: [1-9][0-9]*\r\n", data), data[:400]
    # ccfd's own count of the body bytes it read: how much the client managed
    # to send says nothing, since loopback's socket buffers (tcp_rmem up to
    # 32 MiB here) can take the whole body unread.
    line = re.compile(r"status=429 .*bytes_in=(\d+)")
    deadline = time.monotonic() + 10  # info lines are written in batches
    while not (m := line.search(srv.log_text(offset))) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert m, srv.log_text(offset)
    assert int(m.group(1)) == 0, f"ccfd read {m.group(1)} body bytes before the 429"


def test_ccf_rides_through_a_burst(ccfd_factory, tmp_path):
    srv = limited(ccfd_factory, "2:2")
    offset = srv.log_size()
    endpoint = f"http://127.0.0.1:{srv.port}"

    def one(i):
        return run_ccf(endpoint, "connector", "create", "--name", f"ride-{i}", "--output", "json",
                       "--", "/bin/true", cwd=tmp_path, data_dir=srv.data_dir)

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    for r in results:
        assert r.rc == 0, str(r)
    created = re.compile(r"status=201 .*op=CreateCustomConnector")
    deadline = time.monotonic() + 10  # info lines are written in batches
    while len(created.findall(srv.log_text(offset))) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    log = srv.log_text(offset)
    assert len(created.findall(log)) == 6, log
    assert re.search(r"status=429\b", log), "no request was throttled: the test proved nothing"


def test_bad_rate_limit_values_are_usage_errors(tmp_path):
    for bad in ["", "-1", "abc", "1:0", "1:x", "5:", "0:5", "1e9", "0.0001"]:
        p = subprocess.run([ccfd_binary(), "--listen", f"127.0.0.1:{free_port()}", "--data-dir",
                            str(tmp_path / "d"), "--rate-limit", bad], capture_output=True, timeout=10)
        assert p.returncode == 2, (bad, p.stderr)
        assert b"rate-limit" in p.stderr, p.stderr
