"""Paging over exact, known sets (a fresh ccfd per test).

Jobs: nothing ends a job yet (no executor), and a connector holds one active
job, so a connector cannot have more than one job; paging over jobs is
therefore only tested as far as one job per connector allows (test_jobs.py,
test_query.py)."""

import random

import pytest

from ccftest import CONNECTORS, checksum


@pytest.fixture
def fresh(ccfd_factory):
    return ccfd_factory().client


def test_250_connectors(fresh):
    c = fresh
    made = [c.create_connector()["connector_id"] for _ in range(250)]
    assert len(set(made)) == 250

    for size, pages_expected in ((7, 36), (50, 5), (100, 3), (1, 250), (None, 5)):
        items, pages, _ = c.list_all(CONNECTORS, "connectors", max_results=size)
        ids = [s["connector_id"] for s in items]
        assert ids == made, f"max_results={size}: wrong order, duplicates or gaps"
        assert len(pages) == pages_expected, f"max_results={size}: {len(pages)} pages"
        assert len(pages[-1]) == (250 % (size or 50) or (size or 50))


def test_exact_multiple_has_no_empty_last_page(fresh):
    c = fresh
    made = [c.create_connector()["connector_id"] for _ in range(100)]
    first, token, r = c.list_page(CONNECTORS, "connectors", max_results=50)
    assert [s["connector_id"] for s in first] == made[:50] and token, r
    second, token2, r2 = c.list_page(CONNECTORS, "connectors", max_results=50, next_token=token)
    assert [s["connector_id"] for s in second] == made[50:], r2
    assert token2 is None, f"no more items: the last page must carry no next_token: {r2}"
    everything, token3, r3 = c.list_page(CONNECTORS, "connectors", max_results=100)
    assert len(everything) == 100 and token3 is None, r3


def test_empty_list(fresh):
    r = fresh.get(CONNECTORS)
    assert r.status == 200 and r.json == {"connectors": []}, r


def test_paging_is_stable_while_connectors_are_added(fresh):
    c = fresh
    made = [c.create_connector()["connector_id"] for _ in range(20)]
    seen = []
    page, token, _ = c.list_page(CONNECTORS, "connectors", max_results=7)
    seen += [s["connector_id"] for s in page]
    added = [c.create_connector()["connector_id"] for _ in range(5)]
    while token:
        page, token, _ = c.list_page(CONNECTORS, "connectors", max_results=7, next_token=token)
        seen += [s["connector_id"] for s in page]
        if token and len(added) < 10:
            added.append(c.create_connector()["connector_id"])
    assert seen == made + added


def test_paging_skips_deleted_connectors(fresh):
    c = fresh
    made = [c.create_connector()["connector_id"] for _ in range(10)]
    page, token, _ = c.list_page(CONNECTORS, "connectors", max_results=3)
    # Delete the last item returned and one not yet returned.
    for cid in (made[2], made[5]):
        assert c.delete(f"{CONNECTORS}/{cid}").status == 204
    rest, _, _ = c.list_all(CONNECTORS, "connectors", max_results=3, next_token=token)
    assert [s["connector_id"] for s in page] == made[:3]
    assert [s["connector_id"] for s in rest] == made[3:5] + made[6:]


def test_2500_documents(fresh):
    c = fresh
    cid = c.create_connector()["connector_id"]
    ids = [f"doc-{i:05d}" for i in range(2500)]
    shuffled = ids[:]
    random.Random(7).shuffle(shuffled)
    for i in range(0, 2500, 1000):
        c.put_documents(cid, [{"document_id": d, "checksum": checksum(d)} for d in shuffled[i : i + 1000]])
    path = f"{CONNECTORS}/{cid}/documents"

    items, pages, _ = c.list_all(path, "documents", max_results=1000)
    assert [len(p) for p in pages] == [1000, 1000, 500]
    assert [d["document_id"] for d in items] == ids
    assert all(d["checksum"] == checksum(d["document_id"]) for d in items)

    items, pages, token = c.list_all(path, "documents", max_results=7, max_pages=40)
    assert [d["document_id"] for d in items] == ids[:280]
    assert token
    rest, _, _ = c.list_all(path, "documents", max_results=1000, next_token=token)
    assert [d["document_id"] for d in rest] == ids[280:]

    items, pages, _ = c.list_all(path, "documents")
    assert len(pages) == 50 and [d["document_id"] for d in items] == ids


def test_documents_exact_multiple(fresh):
    c = fresh
    cid = c.create_connector()["connector_id"]
    c.put_documents(cid, [{"document_id": f"d{i:03d}", "checksum": checksum()} for i in range(100)])
    path = f"{CONNECTORS}/{cid}/documents"
    first, token, r = c.list_page(path, "documents", max_results=50)
    assert len(first) == 50 and token, r
    second, token2, r2 = c.list_page(path, "documents", max_results=50, next_token=token)
    assert len(second) == 50 and token2 is None, r2


def test_jobs_one_per_connector_with_filter(fresh):
    c = fresh
    cids = [c.create_connector()["connector_id"] for _ in range(3)]
    jobs = [c.start_job(cid) for cid in cids]
    c.stop_job(cids[1], jobs[1]["job_id"])
    for cid, job, status in zip(cids, jobs, ("STARTED", "STOPPING", "STARTED")):
        path = f"{CONNECTORS}/{cid}/jobs"
        for f in ("STARTED", "STOPPING"):
            page, token, r = c.list_page(path, "jobs", status=f, max_results=1)
            want = [job["job_id"]] if f == status else []
            assert [j["job_id"] for j in page] == want and token is None, r
