"""The stored checksums of one run, on disk: a temporary SQLite file
(Python's own sqlite3), so that comparing a million documents with what
ccfd holds costs a page of memory, not a dict of a million entries.
"""

import os
import sqlite3
import tempfile


class StoredIndex:
    """document_id -> checksum as ccfd listed it at the start of the run,
    plus a seen flag for deletion by difference. Closing removes the file."""

    def __init__(self, directory=None):
        fd, self.path = tempfile.mkstemp(prefix="ccf-index-", suffix=".db", dir=directory)
        os.close(fd)
        self._db = sqlite3.connect(self.path)
        self._db.executescript(
            "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-4096;"
            "CREATE TABLE stored (id TEXT PRIMARY KEY, checksum TEXT NOT NULL,"
            " seen INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;")
        self.count = 0

    def add(self, rows):
        """rows: (document_id, checksum) pairs, e.g. one listed page."""
        rows = list(rows)
        self._db.executemany("INSERT OR REPLACE INTO stored (id, checksum) VALUES (?, ?)", rows)
        self.count += len(rows)

    def get(self, doc_id):
        row = self._db.execute("SELECT checksum FROM stored WHERE id = ?", (doc_id,)).fetchone()
        return row[0] if row else None

    def mark_seen(self, doc_id):
        self._db.execute("UPDATE stored SET seen = 1 WHERE id = ?", (doc_id,))

    def unseen(self, batch=1000):
        """Ids never marked seen, in id order, batch by batch (a cursor per
        batch, so that deleting rows meanwhile is safe)."""
        last = ""
        while True:
            rows = self._db.execute("SELECT id FROM stored WHERE seen = 0 AND id > ? ORDER BY id "
                                    "LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            yield from (r[0] for r in rows)
            last = rows[-1][0]

    def close(self):
        if self._db is not None:
            self._db.close()
            self._db = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
