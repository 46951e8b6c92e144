"""Connector: the sync loop an author subclasses.

One run: read the checkpoint; list what ccfd stores into a StoredIndex;
walk documents(), pushing new and changed ones to the target in batches
and recording a checksum only for those push() did not report failed; then
delete from the target and from ccfd what the source no longer has.

Deletion: inside a ccfd job, every document seen is put with the job's key
(unchanged ones too, which ccfd counts as unchanged), then ccfd lists the
documents that job did not put (not_seen_by_job). A document whose push
failed keeps its old checksum, put again, so that it is neither deleted
nor recorded as done: the next run sends it again. Outside a job (no
CUSTOM_CONNECTOR_JOB_ID), the same is found by difference in the index.
"""

import json
import os
import sys
import time
import traceback

from .client import BATCH_MAX, ENV_JOB, Client, batches
from .document import Document, id_problem
from .index import StoredIndex

PROGRESS_SECONDS = 5.0


class Stats:
    """What one run did; the last progress line prints it."""

    FIELDS = ("listed", "seen", "unchanged", "pushed", "push_failed", "deleted", "delete_failed",
              "invalid")

    def __init__(self):
        for f in self.FIELDS:
            setattr(self, f, 0)

    def as_dict(self):
        return {f: getattr(self, f) for f in self.FIELDS}

    def line(self):
        return ", ".join(f"{f.replace('_', ' ')} {getattr(self, f)}" for f in self.FIELDS)


class Connector:
    """Subclass it; define documents(), and push() and delete() for a target.

    documents(): yield Document(id, content=...) or Document(id, checksum=...);
        self.checkpoint holds the last saved checkpoint (a dict, the string
        saved, or None).
    push(batch): a list of new or changed Documents (at most batch_size);
        return the ids that failed, or None when all were pushed.
    delete(ids): ids the source no longer has; return the ids that failed,
        or None.
    """

    batch_size = BATCH_MAX
    name = None  # the prefix of progress lines; default: the class name

    def __init__(self, client=None, out=None):
        self.client = client if client is not None else Client(on_retry=self._retried)
        self.checkpoint = None
        self.job_id = os.environ.get(ENV_JOB)
        self.stats = Stats()
        self._out = out if out is not None else sys.stdout
        self._last_progress = 0.0

    # ---- what an author writes ----
    def documents(self):
        raise NotImplementedError("a Connector defines documents()")

    def push(self, batch):  # noqa: ARG002 - a connector without a target only records
        return None

    def delete(self, ids):  # noqa: ARG002
        return None

    # ---- what an author calls ----
    def save_checkpoint(self, value):
        """Store value as the checkpoint at once: a dict (as JSON text) or a
        str, 1 byte to 1 MiB."""
        if isinstance(value, dict):
            text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        elif isinstance(value, str):
            text = value
        else:
            raise TypeError(f"a checkpoint is a dict or a str, not {type(value).__name__}")
        if not text:
            raise ValueError("a checkpoint cannot be empty")
        self.client.put_checkpoint(text)
        self.checkpoint = value

    def log(self, message):
        """One line in the job's log (stdout)."""
        print(f"{self.name or type(self).__name__}: {message}", file=self._out, flush=True)

    # ---- the loop ----
    def sync(self):
        """One full run; returns its Stats. Raises what push(), delete() or
        the API raised (the documents recorded until then stay recorded)."""
        started = time.monotonic()
        self.checkpoint = load_checkpoint(self.client.get_checkpoint())
        with StoredIndex(self._scratch_dir()) as index:
            for page in batches(self.client.documents()):
                index.add((d["document_id"], d["checksum"]) for d in page)
                self.stats.listed = index.count
                self._progress("listing")
            self.log(f"listed {index.count} stored documents")
            self._walk(index)
            if self.job_id:
                gone = (d["document_id"] for d in self.client.documents(not_seen_by_job=self.job_id))
            else:
                gone = index.unseen()
            self._delete(gone)
        self.log(f"done in {time.monotonic() - started:.1f} s: {self.stats.line()}")
        return self.stats

    def _scratch_dir(self):
        """Where the index goes: TMPDIR if set, else, in a job, the job's own
        directory (HOME), which ccfd removes with the job even if the
        connector was killed before it could clean up."""
        tmp = os.environ.get("TMPDIR")
        if tmp or not self.job_id:
            return tmp or None
        home = os.environ.get("HOME")
        return home if home and os.access(home, os.W_OK) else None

    def _walk(self, index):
        changed, unchanged = _Batch(self.batch_size), _Batch(self.batch_size)
        for doc in self.documents():
            if not isinstance(doc, Document):
                raise TypeError(f"documents() yielded {type(doc).__name__}, not a Document")
            problem = id_problem(doc.id)
            if problem:
                self.stats.invalid += 1
                self.log(f"skipped: {problem}")
                continue
            try:
                checksum = doc.checksum
            except OSError as e:  # a file gone or unreadable since it was found
                self.stats.invalid += 1
                self.log(f"skipped {doc.id!r}: {e}")
                continue
            self.stats.seen += 1
            old = index.get(doc.id)
            if old is not None and not self.job_id:
                index.mark_seen(doc.id)
            if old == checksum:
                self.stats.unchanged += 1
                if self.job_id and unchanged.add(doc.id, (doc.id, old)):
                    self.client.put_documents(unchanged.take())
            elif changed.add(doc.id, (doc, old)):
                self._push(changed.take())
            self._progress("walking")
        self._push(changed.take())
        self.client.put_documents(unchanged.take())

    def _push(self, pending):
        if not pending:
            return
        failed = set(self.push([doc for doc, _ in pending]) or ()) & {doc.id for doc, _ in pending}
        record = []
        for doc, old in pending:
            if doc.id not in failed:
                record.append((doc.id, doc.checksum))
            elif old is not None and self.job_id:
                record.append((doc.id, old))  # seen, but not done: kept, sent again next run
        self.stats.pushed += len(pending) - len(failed)
        self.stats.push_failed += len(failed)
        if failed:
            self.log(f"push failed for {len(failed)} of {len(pending)} documents "
                     f"(sent again next run): {', '.join(sorted(failed)[:5])}")
        self.client.put_documents(record)

    def _delete(self, ids):
        for batch in batches(ids, self.batch_size):
            failed = set(self.delete(list(batch)) or ())
            done = [i for i in batch if i not in failed]
            self.client.delete_documents(done)
            self.stats.deleted += len(done)
            self.stats.delete_failed += len(batch) - len(done)
            self._progress("deleting")

    def _progress(self, phase):
        now = time.monotonic()
        if now - self._last_progress >= PROGRESS_SECONDS:
            self._last_progress = now
            self.log(f"{phase}: {self.stats.line()}")

    def _retried(self, attempt, status, wait):
        self.log(f"retry {attempt} in {wait:.1f} s after {status or 'a connection error'}")

    @classmethod
    def main(cls):
        """Run one sync as a job: exit 0 once it has run to the end (documents
        push() refused are logged and sent again next run), 1 if it failed."""
        try:
            cls().sync()
        except KeyboardInterrupt:
            sys.exit(130)
        except Exception:  # noqa: BLE001 - the job's log says why, its status that it failed
            traceback.print_exc()
            sys.exit(1)
        sys.exit(0)


class _Batch:
    """Items keyed by document id, at most size of them and each id once:
    add() says when the batch must go (full, or the id is already in it)."""

    def __init__(self, size):
        self.size = size
        self.items = []
        self.ids = set()
        self._carry = None

    def add(self, doc_id, item):
        """True when the caller must take() before this is added: the batch
        is then sent and item starts the next one (see take)."""
        if doc_id in self.ids:
            self._carry = (doc_id, item)
            return True
        self.items.append(item)
        self.ids.add(doc_id)
        return len(self.items) >= self.size

    def take(self):
        items = self.items
        self.items, self.ids = [], set()
        carry = self._carry
        if carry is not None:
            self._carry = None
            self.items.append(carry[1])
            self.ids.add(carry[0])
        return items


def load_checkpoint(text):
    """The checkpoint as the author saved it: a dict when the text is a JSON
    object, else the text itself (None when there is none)."""
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, dict) else text
