#!/usr/bin/python3
"""dir_connector.py: an example ccf connector on the author kit (ccf_connector).

It keeps TARGET_DIR, standing in for a search index, in step with SYNC_DIR:
each run copies the files that are new or changed since the last run and
removes the ones deleted at the source. The kit works out which those are
from the checksums ccfd keeps, so the connector holds no state of its own;
a file it could not copy is not recorded and is copied again next run.

Variables: SYNC_DIR, TARGET_DIR (in the connector's or the job's
environment), plus what ccfd injects into every job. Run it as a job:
    ccf connector create --name files --env SYNC_DIR=... --env TARGET_DIR=... \
        -- /usr/bin/python3 /path/to/dir_connector.py
(with --env PYTHONPATH=<checkout>/clients/python unless the kit is installed).
"""

import os
import shutil
from pathlib import Path

from ccf_connector import Connector, Document


class Files(Connector):
    def __init__(self):
        super().__init__()
        self.source = Path(os.environ["SYNC_DIR"])
        self.target = Path(os.environ["TARGET_DIR"])

    def documents(self):
        # Document ids are paths relative to SYNC_DIR; the checksum is the
        # file's sha256, read as it streams.
        for path in (p for p in self.source.rglob("*") if p.is_file()):
            yield Document(path.relative_to(self.source).as_posix(), path=path)

    def inside(self, doc_id):
        """TARGET_DIR/doc_id, or None for an id that would leave TARGET_DIR
        (ids to delete come from ccfd, where anyone with a key may put one)."""
        path = (self.target / doc_id).resolve()
        return path if path.is_relative_to(self.target.resolve()) else None

    def push(self, batch):
        failed = []
        for doc in batch:
            dest = self.inside(doc.id)
            try:
                if dest is None:
                    raise OSError("outside TARGET_DIR")
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(doc.path, dest)
            except OSError as e:
                self.log(f"cannot copy {doc.id}: {e}")
                failed.append(doc.id)
        return failed

    def delete(self, ids):
        for doc_id in ids:
            path = self.inside(doc_id)
            if path is not None:
                path.unlink(missing_ok=True)
        return None


if __name__ == "__main__":
    Files.main()
