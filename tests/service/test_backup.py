"""`ccfd backup --data-dir DIR FILE` (CONTRACT-OPS "Transport and
operation"): a consistent copy of the store taken while ccfd serves signed
writes. The copy passes integrity_check, holds every write acknowledged
before the backup started (and, per writer, a prefix of its writes: one
snapshot), and the documented restore (stop, put the file in place as
ccf.db, start) brings exactly that back. Refusals: the store's own files,
no store, usage errors."""

import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time

from conftest import ccfd_binary, sqlite_only
from ccftest import CONNECTORS, Client, Ids, checksum, account_key, ACCOUNT_ID

SEED_DOCS = int(os.environ.get("CCF_BACKUP_SEED_DOCS", "20000"))  # bigger for a figure
WRITERS = 4


def backup(data_dir, dest, timeout=120):
    return subprocess.run([ccfd_binary(), "backup", "--data-dir", str(data_dir), str(dest)],
                          capture_output=True, timeout=timeout, text=True)


class Writer(threading.Thread):
    """Puts one document at a time into its own connector, noting when each
    was acknowledged and how long each took."""

    def __init__(self, port, cid, n):
        super().__init__(daemon=True)
        self.c = Client(port, ids=Ids(), credentials=account_key(ACCOUNT_ID))
        self.cid, self.n = cid, n
        self.acked = []  # (document id, monotonic time of the acknowledgement)
        self.slowest = 0.0
        self.stop = threading.Event()
        self.error = None

    def run(self):
        i = 0
        try:
            while not self.stop.is_set():
                doc = f"w{self.n}-{i:06d}"
                t0 = time.monotonic()
                r = self.c.post(f"{CONNECTORS}/{self.cid}/documents",
                                {"documents": [{"document_id": doc, "checksum": checksum(doc)}]}, check=False)
                t1 = time.monotonic()
                assert r.status == 202, r
                self.acked.append((doc, t1))
                self.slowest = max(self.slowest, t1 - t0)
                i += 1
        except BaseException as e:  # reported by the test
            self.error = e
        finally:
            self.c.close()


def doc_ids(c, cid):
    return [d["document_id"] for d in c.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)[0]]


@sqlite_only("ccfd backup copies the SQLite database")
def test_backup_during_writes_restores_everything_acknowledged_before_it(ccfd_factory, tmp_path):
    srv = ccfd_factory()
    c = srv.client
    seed = c.create_connector()["connector_id"]
    for b in range(SEED_DOCS // 1000):
        c.put_documents(seed, [{"document_id": f"seed-{b}-{i}", "checksum": checksum(str(i))} for i in range(1000)])
    c.put_checkpoint(seed, "cursor=seed")
    cids = [c.create_connector()["connector_id"] for _ in range(WRITERS)]
    writers = [Writer(srv.port, cid, n) for n, cid in enumerate(cids)]
    for w in writers:
        w.start()
    time.sleep(0.5)
    dest = tmp_path / "backups" / "ccf-backup.db"
    dest.parent.mkdir()
    started = time.monotonic()
    p = backup(srv.data_dir, dest)
    took = time.monotonic() - started
    time.sleep(0.3)
    for w in writers:
        w.stop.set()
    for w in writers:
        w.join(30)
        assert w.error is None, w.error
    assert p.returncode == 0, p.stderr
    assert re.match(r"ccfd backup: wrote .* pages, \d+ bytes, in \d+ ms", p.stdout), p.stdout
    during = sum(1 for w in writers for _, t in w.acked if started <= t <= started + took)
    print(f"\nbackup of {SEED_DOCS} documents + load: {took * 1000:.0f} ms ({p.stdout.strip()}); "
          f"{during} writes acknowledged during it; slowest write {max(w.slowest for w in writers) * 1000:.0f} ms")
    assert during > 0, "no write ran during the backup: the test proved nothing"
    assert oct(dest.stat().st_mode & 0o777) == "0o600"
    assert not list(dest.parent.glob("ccf-backup.db.*")), "a temporary file was left behind"

    db = sqlite3.connect(str(dest))
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()

    # The documented restore: stop, put the file in place as ccf.db, start.
    srv.stop()
    shutil.copyfile(dest, srv.data_dir / "ccf.db")
    srv.start()
    c = srv.client
    assert len(doc_ids(c, seed)) == SEED_DOCS
    assert c.get_checkpoint(seed)["checkpoint_data"] == "cursor=seed"
    for w, cid in zip(writers, cids):
        restored = doc_ids(c, cid)
        before = [d for d, t in w.acked if t < started]
        everything = [d for d, _ in w.acked]
        assert set(before) <= set(restored), f"writer {w.n} lost acknowledged writes"
        assert restored == everything[: len(restored)], f"writer {w.n}: not one snapshot"
        assert len(restored) < len(everything), "writes after the backup are in it"


@sqlite_only("ccfd backup copies the SQLite database")
def test_backup_refuses_the_store_own_files(ccfd_factory, tmp_path):
    srv = ccfd_factory()
    cid = srv.client.create_connector()["connector_id"]
    for name in ["ccf.db", "ccf.db-wal", "ccf.db-shm"]:
        p = backup(srv.data_dir, srv.data_dir / name)
        assert p.returncode == 1, (name, p.stdout, p.stderr)
        assert "backup_refused" in p.stderr, p.stderr
    link = tmp_path / "link.db"
    link.symlink_to(srv.data_dir / "ccf.db")
    assert backup(srv.data_dir, link).returncode == 1
    assert srv.client.get_connector(cid)["connector_id"] == cid
    d = tmp_path / "a-dir"
    d.mkdir()
    assert backup(srv.data_dir, d).returncode == 1


@sqlite_only("ccfd backup copies the SQLite database")
def test_backup_replaces_an_old_backup_whole(ccfd_factory, tmp_path):
    srv = ccfd_factory()
    dest = tmp_path / "b.db"
    dest.write_bytes(b"an old backup")
    srv.client.create_connector()
    p = backup(srv.data_dir, dest)
    assert p.returncode == 0, p.stderr
    db = sqlite3.connect(str(dest))
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()


def test_backup_usage_and_missing_store(tmp_path):
    assert backup(tmp_path / "nothing-here", tmp_path / "b.db").returncode == 1
    assert not (tmp_path / "b.db").exists()
    assert not (tmp_path / "nothing-here").exists(), "backup made the data directory"
    p = subprocess.run([ccfd_binary(), "backup"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2 and "missing FILE" in p.stderr, p.stderr
    p = subprocess.run([ccfd_binary(), "backup", "a", "b"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2, p.stderr
    p = subprocess.run([ccfd_binary(), "backup", "--help"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and "Restore" in p.stdout, p.stdout
