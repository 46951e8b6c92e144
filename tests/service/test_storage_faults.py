"""Storage faults (CONTRACT.md 503 row, issue 6): a database locked by another
process and a full disk each give 503
ServiceUnavailableException with Retry-After (never a 500, never a damaged
store), reads that can still be served are served, and ccfd recovers when
the fault clears. The full disk needs a tmpfs mount of its own (root);
without one it skips. (A read-only data directory is not tested yet: a tmpfs
cannot be remounted read-only while ccfd holds files open for writing.)"""

import os
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from ccftest import CONNECTORS, checksum, expect

BUSY_TIMEOUT_S = 5  # the store's busy_timeout


def docs(n, seed):
    return [{"document_id": f"{seed}-{i:05d}", "checksum": checksum(f"{seed}{i}")} for i in range(n)]


def assert_503(r):
    assert r.status == 503, r
    assert r.json["errorType"] == "ServiceUnavailableException", r
    assert r.header("x-amzn-ErrorType") == "ServiceUnavailableException", r
    assert r.header("Retry-After"), r


def integrity_ok(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()


@pytest.fixture
def tmpfs(tmp_path):
    mnt = tmp_path / f"fs-{uuid.uuid4().hex[:8]}"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_locked_database_is_503_then_recovers(ccfd_factory):
    s = ccfd_factory()
    c = s.client
    cid = c.create_connector()["connector_id"]
    lock = sqlite3.connect(str(s.data_dir / "ccf.db"), timeout=1, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.monotonic()
        assert_503(c.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs(3, "locked")}))
        assert time.monotonic() - t0 >= BUSY_TIMEOUT_S - 0.5
        # WAL: readers are not blocked by a writer.
        expect(c.get(f"{CONNECTORS}/{cid}"), 200)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    expect(c.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs(3, "after")}), 202)
    got = c.list_all(f"{CONNECTORS}/{cid}/documents", "documents")[0]
    assert [d["document_id"] for d in got] == [f"after-{i:05d}" for i in range(3)]


def test_full_disk_is_503_then_recovers(ccfd_factory, tmpfs):
    s = ccfd_factory(data_dir=tmpfs / "data")
    c = s.client
    cid = c.create_connector()["connector_id"]
    expect(c.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs(100, "before")}), 202)
    filler = tmpfs / "filler"
    with open(filler, "wb", buffering=0) as f:  # fill the disk to the last byte
        try:
            while True:
                f.write(b"\0" * 65536)

        except OSError:
            pass
        try:
            while True:
                f.write(b"\0" * 512)

        except OSError:
            pass
    statuses = set()
    for i in range(20):  # enough to need new pages
        r = c.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs(1000, f"full{i}")})
        statuses.add(r.status)
        if r.status != 202:
            assert_503(r)
    assert 503 in statuses, statuses
    expect(c.get(f"{CONNECTORS}/{cid}"), 200)
    os.unlink(filler)
    expect(c.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs(10, "after")}), 202)
    ids = {d["document_id"] for d in c.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)[0]}
    assert {f"before-{i:05d}" for i in range(100)} <= ids
    assert {f"after-{i:05d}" for i in range(10)} <= ids
    for i in range(20):  # each batch is all or nothing
        n = len([x for x in ids if x.startswith(f"full{i}-")])
        assert n in (0, 1000), (i, n)
    s.stop()
    assert integrity_ok(s.data_dir / "ccf.db")
