"""Storage faults (CONTRACT.md 503 row, issue 6): a database locked by another
process, a full disk and a data directory whose file system turns read-only
each give 503 ServiceUnavailableException with Retry-After (never a 500,
never a damaged store), reads that can still be served are served, and ccfd
recovers when the fault clears.

The full disk needs a tmpfs mount of its own, the read-only file system an
ext4 image on a loop device (root); without them those tests skip. A file
system cannot be remounted read-only while ccfd holds files open for
writing (EBUSY), so the read-only fault is the one that happens in real
life: the kernel turns ext4 read-only after an error (errors=remount-ro),
triggered through /sys/fs/ext4/<dev>/trigger_fs_error. It clears the way an
operator clears it: unmount, e2fsck, mount again (here on a new loop
device, as a re-attached volume would be)."""

import os
import re
import http.client
import json
import sqlite3
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from ccftest import CONNECTORS, checksum, expect, props
from conftest import ccfd_binary, sqlite_only

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


class Ext4Loop:
    """An ext4 image mounted with errors=remount-ro on a loop device."""

    def __init__(self, base):
        self.img = base / "ext4.img"
        self.mnt = base / f"ext4-{uuid.uuid4().hex[:8]}"
        self.mnt.mkdir()
        self.devices = []

    def _run(self, *argv):
        r = subprocess.run(argv, capture_output=True, text=True)
        return r.returncode == 0, (r.stderr or r.stdout).strip()

    def setup(self):
        with open(self.img, "wb") as f:
            f.truncate(64 << 20)
        for argv in (["mkfs.ext4", "-q", "-F", str(self.img)],):
            ok, err = self._run(*argv)
            if not ok:
                return f"{argv[0]}: {err}"
        return self.mount()

    def mount(self):
        r = subprocess.run(["losetup", "-f", "--show", str(self.img)], capture_output=True, text=True)
        if r.returncode != 0:
            return f"losetup: {r.stderr.strip()}"
        dev = r.stdout.strip()
        self.devices.append(dev)
        ok, err = self._run("mount", "-t", "ext4", "-o", "errors=remount-ro", dev, str(self.mnt))
        return None if ok else f"mount: {err}"

    def trigger(self):
        return Path(f"/sys/fs/ext4/{os.path.basename(self.devices[-1])}/trigger_fs_error")

    def break_it(self):
        self.trigger().write_text("1")

    def repair(self):
        for argv in (["umount", "-l", str(self.mnt)], ["e2fsck", "-fy", str(self.img)]):
            ok, err = self._run(*argv)
            assert ok or argv[0] == "e2fsck", err  # e2fsck exits 1 when it fixed something
        err = self.mount()
        assert err is None, err

    def cleanup(self):
        self._run("umount", "-l", str(self.mnt))
        for dev in self.devices:
            self._run("losetup", "-d", dev)  # a busy one detaches when released


@pytest.fixture
def ext4_loop(tmp_path):
    fs = Ext4Loop(tmp_path)
    why = fs.setup()
    if why is None and not fs.trigger().exists():
        why = f"{fs.trigger()} does not exist (kernel without ext4 error injection)"
    if why is not None:
        fs.cleanup()
        pytest.skip(f"cannot set up a loop-mounted ext4 here: {why}")
    yield fs
    fs.cleanup()


@sqlite_only("a fault of the data directory's database file")
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


@sqlite_only("a fault of the data directory's database file")
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


@sqlite_only("a fault of the data directory's database file")
def test_read_only_file_system_is_503_then_recovers(ccfd_factory, ext4_loop):
    # FULL: what was acknowledged must be on the image the repair reads.
    s = ccfd_factory(data_dir=ext4_loop.mnt / "data",
                     extra_args=("--executor", "none", "--synchronous", "FULL"))
    os.sync()  # the files ccfd and the test created before the first request
    c = s.client
    cid = c.create_connector()["connector_id"]
    expect(c.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs(100, "before")}), 202)
    c.put_checkpoint(cid, "cp-before")
    offset = s.log_size()

    ext4_loop.break_it()
    assert_503(c.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs(10, "ro")}))
    assert_503(c.put(f"{CONNECTORS}/{cid}/checkpoint", {"checkpoint_data": "cp-ro"}))
    assert_503(c.post(CONNECTORS, {"name": "during-ro", "container_properties": props()}))
    assert_503(c.post(f"{CONNECTORS}/{cid}/jobs", {}))
    assert_503(c.delete(f"{CONNECTORS}/{cid}"))
    # What is stored can still be read.
    expect(c.get(f"{CONNECTORS}/{cid}"), 200)
    got = c.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)[0]
    assert len(got) == 100
    assert c.get_checkpoint(cid)["checkpoint_data"] == "cp-before"
    assert "file system is read-only" in s.log_text(offset)  # the log says what to do

    ext4_loop.repair()
    deadline = time.monotonic() + 10
    while True:  # ccfd notices the file mounted again on its next store call
        r = c.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs(10, "after")})
        if r.status == 202 or time.monotonic() > deadline:
            break
        assert_503(r)
        time.sleep(0.05)
    expect(r, 202)
    assert "store.reopening" in s.log_text(offset)
    c.put_checkpoint(cid, "cp-after")
    ids = {d["document_id"] for d in c.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)[0]}
    assert ids == {f"before-{i:05d}" for i in range(100)} | {f"after-{i:05d}" for i in range(10)}
    assert c.get_checkpoint(cid)["checkpoint_data"] == "cp-after"
    names = [x["name"] for x in c.list_all(CONNECTORS, "connectors")[0]]
    assert "during-ro" not in names
    s.stop()
    assert integrity_ok(s.data_dir / "ccf.db")


def test_start_on_a_read_only_file_system_exits_and_says_so(ccfd_factory, ext4_loop):
    """At start ccfd cannot wait for its data directory: it exits 1, and the
    hint tells the operator to start it again, not that it goes on by itself.
    (The data directory's lock is the first file it opens for writing, so the
    lock's line is the one that says it.)"""
    s = ccfd_factory(data_dir=ext4_loop.mnt / "data", extra_args=("--executor", "none"))
    s.client.create_connector()
    s.stop()
    r = subprocess.run(["mount", "-o", "remount,ro", str(ext4_loop.mnt)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([ccfd_binary(), "--listen", "127.0.0.1:0", "--data-dir", str(s.data_dir), "--executor",
                        "none"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r
    hints = re.findall(r'hint="([^"]*)"', r.stderr)
    assert any("read-only" in h and "start ccfd again" in h for h in hints), r.stderr
    assert not any("by itself" in h for h in hints), r.stderr


@sqlite_only("a fault of the data directory's database file")
def test_sigterm_while_writes_wait_for_a_locked_database(ccfd_factory):
    # Two writers, the database locked: writes pile up in the writer queue.
    # SIGTERM with a 1 s grace must not wait for all of them: those still
    # queued when the grace ends are answered 503 without running, and ccfd
    # exits 0 once the writes already running give up (busy timeout, 503).
    # Unsigned (auth = none), so that every request is sent, whole, before
    # the SIGTERM, and the answers are read after it.
    s = ccfd_factory(extra_args=("--executor", "none", "--write-threads", "2",
                                 "--connection-timeout", "1", "--auth", "none"))
    cid = s.client.create_connector()["connector_id"]
    lock = sqlite3.connect(str(s.data_dir / "ccf.db"), timeout=1, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    conns = []
    try:
        for k in range(12):
            h = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
            h.request("POST", f"{CONNECTORS}/{cid}/documents",
                      body=json.dumps({"documents": docs(5, f"w{k}")}),
                      headers={"Content-Type": "application/json"})
            conns.append(h)
        time.sleep(0.5)  # all twelve received; two run, ten wait
        t0 = time.monotonic()
        s.stop()  # SIGTERM; asserts exit status 0
        took = time.monotonic() - t0
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    statuses = []
    for h in conns:
        r = h.getresponse()
        body = json.loads(r.read())
        statuses.append(r.status)
        assert r.status == 503 and body["errorType"] == "ServiceUnavailableException", (r.status, body)
        assert r.getheader("Retry-After"), r.getheaders()
        h.close()
    assert statuses == [503] * 12, statuses
    # Grace (1 s) + at most two batches' busy timeouts (the one running when
    # the grace ended and the one the other running writer then leads), not
    # one busy timeout per queued write.
    assert took < 1 + 2 * BUSY_TIMEOUT_S + 3, took
