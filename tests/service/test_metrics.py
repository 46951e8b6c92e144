"""GET /metrics and GET /readyz (CONTRACT-OPS.md "Operator endpoints",
issue 13): the text passes `promtool check metrics`, counters move as
requests and jobs happen, labels stay bounded, readiness says 503 with a
reason when the store cannot take writes, and metrics = off is a 404."""

import http.client
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from ccftest import CONNECTORS, expect
from conftest import sqlite_only
from test_storage_faults import ext4_loop  # noqa: F401 (a fixture)

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
FAMILIES = [
    "ccf_build_info", "ccf_http_requests_total", "ccf_http_request_duration_seconds",
    "ccf_jobs", "ccf_jobs_finished_total", "ccf_job_start_latency_seconds", "ccf_job_duration_seconds",
    "ccf_schedule_runs_total", "ccf_webhook_deliveries_total",
    "ccf_store_commit_duration_seconds", "ccf_store_writes_per_commit",
    "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
    "process_start_time_seconds",
]


def unsigned_get(port, path):
    """No signature: the operator endpoints are open."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.getheader("Content-Type"), r.read().decode()
    finally:
        c.close()


def scrape(server):
    status, ctype, text = unsigned_get(server.port, "/metrics")
    assert status == 200, text
    assert ctype.startswith("text/plain; version=0.0.4")
    return text


def samples(text):
    """{(name, frozenset(labels)): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(s, name, **labels):
    return s.get((name, frozenset(labels.items())), 0.0)


def promtool_check(text):
    tool = shutil.which("promtool")
    if not tool:
        pytest.skip("promtool is not installed (Debian package prometheus; scripts/deps.sh)")
    r = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_metrics_pass_promtool_and_have_every_family(ccfd_factory):
    s = ccfd_factory()
    s.client.create_connector()
    text = scrape(s)
    promtool_check(text)
    for f in FAMILIES:
        assert f"# TYPE {f} " in text, f
    got = samples(text)
    assert value(got, "ccf_build_info", version=re.search(r'version="([^"]+)"', text).group(1)) == 1
    assert value(got, "process_open_fds") > 3
    assert value(got, "process_resident_memory_bytes") > 1 << 20
    assert abs(value(got, "process_start_time_seconds") - time.time()) < 60


def test_request_counters_move(ccfd_factory):
    s = ccfd_factory()
    c = s.client
    cid = c.create_connector()["connector_id"]
    before = samples(scrape_counted(s))
    for _ in range(7):
        expect(c.get(f"{CONNECTORS}/{cid}"), 200)
    expect(c.get(f"{CONNECTORS}/cc-{'0' * 26}"), 404)
    op = "GetCustomConnector"
    # The last request is counted when ccfd has finished with it, a moment
    # after the client read its answer: wait for all eight, then check each.
    after = samples(scrape_until(s, lambda got: value(
        got, "ccf_http_request_duration_seconds_count", operation=op) - value(
        before, "ccf_http_request_duration_seconds_count", operation=op) >= 8))
    assert value(after, "ccf_http_requests_total", operation=op, code="200") - \
        value(before, "ccf_http_requests_total", operation=op, code="200") == 7
    assert value(after, "ccf_http_requests_total", operation=op, code="404") - \
        value(before, "ccf_http_requests_total", operation=op, code="404") == 1
    assert value(after, "ccf_http_request_duration_seconds_count", operation=op) - \
        value(before, "ccf_http_request_duration_seconds_count", operation=op) == 8
    # The first scrape itself is counted by the time of the second.
    assert value(after, "ccf_http_requests_total", operation="Metrics", code="200") >= 1
    assert value(after, "ccf_store_commit_duration_seconds_count") >= 1
    assert value(after, "ccf_store_writes_per_commit_sum") >= 1


def test_job_counters_move(ccfd_factory):
    s = ccfd_factory(extra_args=("--executor", "local", "--stop-grace", "2"))
    c = s.client
    for code, want in ((0, "SUCCEEDED"), (3, "FAILED")):
        cid = c.create_connector(container_properties={"command": ["/bin/sh", "-c", f"exit {code}"]})[
            "connector_id"]
        jid = expect(c.post(f"{CONNECTORS}/{cid}/jobs", {}), 201).json["job"]["job_id"]
        deadline = time.monotonic() + 20
        while c.get_job(cid, jid)["status"] != want:
            assert time.monotonic() < deadline, c.get_job(cid, jid)
            time.sleep(0.05)
    # The orchestrator counts right after the store write the GET saw.
    got = samples(scrape_until(s, lambda g: value(g, "ccf_jobs_finished_total", status="FAILED") == 1))
    assert value(got, "ccf_jobs_finished_total", status="SUCCEEDED") == 1
    assert value(got, "ccf_jobs_finished_total", status="FAILED") == 1
    assert value(got, "ccf_jobs_finished_total", status="STOPPED") == 0
    assert value(got, "ccf_job_start_latency_seconds_count") == 2
    assert value(got, "ccf_job_duration_seconds_count") == 2
    promtool_check(scrape(s))


def test_unfinished_jobs_gauge_counts_every_tenant_by_status(ccfd_factory):
    # --executor none: started jobs stay STARTED; a stop of one that never
    # ran ends it STOPPED at once, so it leaves the gauge.
    s = ccfd_factory(extra_args=("--executor", "none"))
    c = s.client
    jobs = []
    for _ in range(3):
        cid = c.create_connector()["connector_id"]
        jobs.append((cid, expect(c.post(f"{CONNECTORS}/{cid}/jobs", {}), 201).json["job"]["job_id"]))
    got = samples(scrape(s))
    assert value(got, "ccf_jobs", status="STARTED") == 3
    assert value(got, "ccf_jobs", status="RUNNING") == 0
    assert value(got, "ccf_jobs", status="STOPPING") == 0
    cid, jid = jobs[0]
    expect(c.post(f"{CONNECTORS}/{cid}/jobs/{jid}/stop", None), 202)
    assert value(samples(scrape(s)), "ccf_jobs", status="STARTED") == 2
    promtool_check(scrape(s))


def run_jobs(c, n):
    """n connectors, each with one job run to SUCCEEDED; their ids."""
    ids = [c.create_connector(container_properties={"command": ["/bin/sh", "-c", "exit 0"]})[
        "connector_id"] for _ in range(n)]
    for cid in ids:
        expect(c.get(f"{CONNECTORS}/{cid}"), 200)
    jobs = [(cid, expect(c.post(f"{CONNECTORS}/{cid}/jobs", {}), 201).json["job"]["job_id"])
            for cid in ids[:3]]
    for cid, jid in jobs:
        deadline = time.monotonic() + 20
        while c.get_job(cid, jid)["status"] != "SUCCEEDED":
            assert time.monotonic() < deadline, c.get_job(cid, jid)
            time.sleep(0.05)
    return ids


def scrape_until(s, done):
    """The first scrape whose samples satisfy done(samples), or the last one
    after 10 s (the caller's asserts then say what is missing). A request is
    counted when ccfd has finished with it (libmicrohttpd's completion
    callback), which may come a moment after the client read the answer."""
    deadline = time.monotonic() + 10
    while True:
        text = scrape(s)
        if done(samples(text)) or time.monotonic() > deadline:
            return text
        time.sleep(0.05)


def scrape_counted(s):
    """A scrape that shows an earlier scrape's own series."""
    return scrape_until(s, lambda got: value(got, "ccf_http_requests_total",
                                             operation="Metrics", code="200"))


def test_labels_stay_bounded_after_1000_connectors(ccfd_factory):
    """The series after 10 connectors and 3 jobs are the series after 1,000
    connectors and 6 jobs: no label takes a connector's, a job's or a
    tenant's value, so the set does not grow with them."""
    s = ccfd_factory(extra_args=("--executor", "local", "--stop-grace", "2"))
    c = s.client
    run_jobs(c, 10)
    early = samples(scrape_counted(s))
    run_jobs(c, 990)
    text = scrape_until(s, lambda g: value(g, "ccf_jobs_finished_total", status="SUCCEEDED") == 6)
    promtool_check(text)
    assert "cc-" not in text and "ccj-" not in text and "123456789012" not in text
    got = samples(text)
    assert set(got) == set(early), sorted(set(got) ^ set(early))
    assert value(got, "ccf_http_requests_total", operation="CreateCustomConnector", code="201") == 1000
    assert value(got, "ccf_http_requests_total", operation="GetCustomConnector", code="200") == 1000
    assert value(got, "ccf_jobs_finished_total", status="SUCCEEDED") == 6
    ops = {dict(k[1]).get("operation") for k in got if k[0] == "ccf_http_requests_total"}
    assert len(ops) <= 6, ops
    assert len(got) < 1500, len(got)  # the histograms of ~30 operations, not one per connector


def test_readyz_is_ok_without_a_signature(ccfd_factory):
    s = ccfd_factory(extra_args=("--executor", "local"))
    # On PostgreSQL the lock is taken by a thread of its own, a moment
    # after /healthz first answers: leader true comes within seconds.
    deadline = time.monotonic() + 10
    # The orchestrator starts a moment after /healthz too: until then
    # /readyz may say 503 (CONTRACT-OPS.md: "its orchestrator runs").
    while True:
        status, ctype, body = unsigned_get(s.port, "/readyz")
        assert ctype == "application/json", body
        if (status == 200 and json.loads(body)["leader"]) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert status == 200, body
    assert json.loads(body) == {"status": "ok", "leader": True}


def test_metrics_off_is_404_and_readyz_still_answers(ccfd_factory):
    s = ccfd_factory(extra_args=("--executor", "none", "--metrics=off"))
    status, _, body = unsigned_get(s.port, "/metrics")
    assert status == 404, body
    assert json.loads(body)["errorType"] == "ResourceNotFoundException"
    assert unsigned_get(s.port, "/readyz")[0] == 200


@sqlite_only("/readyz on the database file's read-only file system")
def test_readyz_is_503_on_a_read_only_file_system(ccfd_factory, ext4_loop):  # noqa: F811
    s = ccfd_factory(data_dir=ext4_loop.mnt / "data", extra_args=("--executor", "none"))
    os.sync()
    assert unsigned_get(s.port, "/readyz")[0] == 200
    ext4_loop.break_it()
    status, _, body = unsigned_get(s.port, "/readyz")
    assert status == 503, body
    assert json.loads(body) == {"status": "unavailable",
                                "reason": "the data directory's file system is read-only"}
    ext4_loop.repair()
    deadline = time.monotonic() + 10
    while unsigned_get(s.port, "/readyz")[0] != 200:
        assert time.monotonic() < deadline, "still not ready after the repair"
        time.sleep(0.05)
