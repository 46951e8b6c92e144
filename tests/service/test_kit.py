"""The author kit (clients/python, ccf_connector) against a real ccfd, its
connectors run as jobs: a first run of 5,000 documents, a second after
known changes, a target that refuses some documents, checkpoints, ccfd's
own rate limit, and memory that does not grow with the source."""

import json
import os
import re
import sys

import pytest

from ccftest import ACCOUNT_ID, CONNECTORS, REGION, account_key
from kitjobs import KIT, PYTHON, create, retry_429, run, sha256, stored

sys.path.insert(0, str(KIT))

SYNTHETIC = __import__("pathlib").Path(__file__).with_name("kit_synthetic.py")


def ids(lo, hi):
    return {f"d{n:05d}" for n in range(lo, hi + 1)}


def content(n, version=1):
    return f"document {n} version {version}"


def lines(path, kind):
    if not path.exists():
        return []
    return [ln[2:] for ln in path.read_text().splitlines() if ln.startswith(kind + " ")]


@pytest.fixture
def kit(ccfd_factory):
    return ccfd_factory(extra_args=[])


def test_first_run_then_known_changes(kit, tmp_path):
    c = kit.client
    out = tmp_path / "target.txt"
    cid = create(c, [PYTHON, SYNTHETIC], {"SYN_OUT": out})
    job, log = run(c, cid, {"SYN_IDS": "0-4999"})
    assert job["status"] == "SUCCEEDED", (job, log)
    assert sorted(lines(out, "P")) == sorted(ids(0, 4999)) and not lines(out, "D"), log
    docs = stored(c, cid)
    assert len(docs) == 5000 and docs["d04321"] == sha256(content(4321))
    assert job["stats"] == {"documents_added": 5000, "documents_updated": 0, "documents_unchanged": 0,
                            "documents_deleted": 0, "checkpoint_puts": 0}, job
    assert "listed 0 stored documents" in log, log

    # Change 0-99, add 5000-5199, remove 4800-4999: only those go anywhere.
    out.unlink()
    job, log = run(c, cid, {"SYN_IDS": "0-4799,5000-5199", "SYN_V2": "0-99"})
    assert job["status"] == "SUCCEEDED", (job, log)
    assert "listed 5000 stored documents" in log, log  # five pages of 1,000
    assert sorted(lines(out, "P")) == sorted(ids(0, 99) | ids(5000, 5199)), log
    assert sorted(lines(out, "D")) == sorted(ids(4800, 4999)), log
    assert job["stats"] == {"documents_added": 200, "documents_updated": 100,
                            "documents_unchanged": 4700, "documents_deleted": 200,
                            "checkpoint_puts": 0}, job
    docs = stored(c, cid)
    assert set(docs) == ids(0, 4799) | ids(5000, 5199)
    assert docs["d00042"] == sha256(content(42, 2)) and docs["d05100"] == sha256(content(5100))
    assert "seen 5000, unchanged 4700, pushed 300, push failed 0, deleted 200" in log, log


def test_refused_documents_are_not_recorded_and_go_again(kit, tmp_path):
    c = kit.client
    out = tmp_path / "target.txt"
    cid = create(c, [PYTHON, SYNTHETIC], {"SYN_OUT": out})
    # New documents 10-19 refused: not recorded.
    job, log = run(c, cid, {"SYN_IDS": "0-99", "SYN_FAIL": "10-19"})
    assert job["status"] == "SUCCEEDED", (job, log)
    assert "push failed for 10 of 100 documents" in log, log
    assert set(stored(c, cid)) == ids(0, 99) - ids(10, 19)
    # Changed documents 20-24 refused: their old checksum stays, not deleted;
    # 90-99 gone at the source, the target refuses to delete 95-99.
    job, log = run(c, cid, {"SYN_IDS": "0-89", "SYN_V2": "20-29", "SYN_FAIL": "10-14,20-24",
                            "SYN_DEL_FAIL": "95-99"})
    assert job["status"] == "SUCCEEDED", (job, log)
    docs = stored(c, cid)
    assert docs["d00020"] == sha256(content(20, 1)) and docs["d00025"] == sha256(content(25, 2))
    assert set(docs) == (ids(0, 89) - ids(10, 14)) | ids(95, 99), sorted(docs)
    assert job["stats"]["documents_deleted"] == 5, job
    # Nothing refused any more: exactly what failed before is sent again.
    out.unlink()
    job, log = run(c, cid, {"SYN_IDS": "0-89", "SYN_V2": "20-29"})
    assert job["status"] == "SUCCEEDED", (job, log)
    assert sorted(lines(out, "P")) == sorted(ids(10, 14) | ids(20, 24)), log
    assert sorted(lines(out, "D")) == sorted(ids(95, 99)), log
    docs = stored(c, cid)
    assert set(docs) == ids(0, 89) and docs["d00020"] == sha256(content(20, 2))


def test_checkpoint_round_trips_as_a_dict_and_as_a_string(kit):
    c = kit.client
    cid = create(c, [PYTHON, SYNTHETIC], {"SYN_IDS": "1-3"})
    job, log = run(c, cid, {"SYN_CHECKPOINT": "dict"})
    assert job["status"] == "SUCCEEDED" and "Synthetic: checkpoint null" in log, (job, log)
    raw = retry_429(c.get, f"{CONNECTORS}/{cid}/checkpoint").json["checkpoint"]["checkpoint_data"]
    assert isinstance(raw, str) and json.loads(raw) == {"runs": 1, "note": "é é {}"}, raw
    job, log = run(c, cid, {"SYN_CHECKPOINT": "dict"})
    assert 'Synthetic: checkpoint {"runs": 1, "note": "\\u00e9 \\u00e9 {}"}' in log, log
    assert job["stats"]["checkpoint_puts"] == 1, job
    job, log = run(c, cid, {"SYN_CHECKPOINT": "cursor=42"})
    assert '"runs": 2' in log, log
    job, log = run(c, cid)
    assert 'Synthetic: checkpoint "cursor=42"' in log, log
    # The kit's Client pages jobs too (one a page here), newest first.
    from ccf_connector import Client
    api = Client(endpoint=f"http://127.0.0.1:{kit.port}", connector_id=cid, region=REGION,
                 credentials=account_key(ACCOUNT_ID))
    jobs = list(api.jobs(page_size=1))
    assert len(jobs) == 4 and jobs[0]["job_id"] == job["job_id"] and api.requests == 4, jobs
    assert api.get_checkpoint() == "cursor=42"


def test_rate_limited_job_waits_for_retry_after(ccfd_factory, tmp_path):
    """ccfd's own limit (1 request a second per key, burst 2): the kit's
    job is refused with 429 and Retry-After, waits, and loses nothing."""
    s = ccfd_factory(extra_args=["--rate-limit", "1:2"])
    c = s.client
    cid = create(c, [PYTHON, SYNTHETIC], {"SYN_OUT": tmp_path / "target.txt"})
    job, log = run(c, cid, {"SYN_IDS": "0-1499", "SYN_CHECKPOINT": "dict"})
    assert job["status"] == "SUCCEEDED", (job, log)
    retries = re.findall(r"retry \d+ in ([0-9.]+) s after 429", log)
    assert retries, log
    assert all(float(w) >= 1.0 for w in retries), log  # Retry-After is whole seconds >= 1
    assert len(stored(c, cid)) == 1500


def peak_rss(log):
    m = re.search(r"peak_rss_kib (\d+)", log)
    assert m, log
    return int(m.group(1))


def sync_twice(c, n):
    """A first run of n new documents and a second that lists all n stored
    and finds them unchanged; the larger peak RSS of the two."""
    cid = create(c, [PYTHON, SYNTHETIC], {"SYN_IDS": f"0-{n - 1}"})
    peaks = []
    for _ in range(2):
        job, log = run(c, cid, wait=600)
        assert job["status"] == "SUCCEEDED", (job, log)
        peaks.append(peak_rss(log))
    assert job["stats"]["documents_unchanged"] == n, job
    return max(peaks)


def flat_memory(kit, small, large):
    a, b = sync_twice(kit.client, small), sync_twice(kit.client, large)
    print(f"kit peak RSS: {small} documents {a} KiB, {large} documents {b} KiB")
    # A dict of every stored checksum would add ~200 bytes a document (~18 MiB).
    assert b - a < 8 * 1024, (a, b)


@pytest.mark.skipif(bool(os.environ.get("CCFD_WRAPPER")),
                    reason="measures the connector, not ccfd; 100 s under valgrind")
def test_memory_stays_flat(kit):
    """10,000 then 100,000 documents: peak RSS within 8 MiB."""
    flat_memory(kit, 10_000, 100_000)
