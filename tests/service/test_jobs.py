"""StartCustomConnectorJob, ListCustomConnectorJobs, GetCustomConnectorJob,
StopCustomConnectorJob.

Nothing runs jobs yet (no executor): a job stays STARTED until stopped, then
STOPPING, and its connector stays IN_USE. So a connector can hold only one
job, and paging over several jobs of one connector (and the newest-first
order) cannot be tested until a job can end; see test_pagination.py."""

import threading

import pytest

from ccftest import (
    CONNECTORS,
    JOB_ID_RE,
    JOB_OPTIONAL,
    JOB_REQUIRED,
    JOB_STATUSES,
    MISSING_CONNECTOR,
    MISSING_JOB,
    Client,
    assert_recent,
    expect,
    expect_error,
    not_found_connector,
    not_found_job,
    parse_time,
    q,
)


def jobs_path(cid):
    return f"{CONNECTORS}/{cid}/jobs"


def assert_job(j, cid, status):
    assert JOB_REQUIRED <= set(j) <= JOB_REQUIRED | JOB_OPTIONAL, j
    assert JOB_ID_RE.match(j["job_id"]), j
    assert j["connector_id"] == cid, j
    assert j["status"] == status, j
    assert parse_time(j["updated_at"]) >= parse_time(j["created_at"]), j
    if status in ("STARTED", "RUNNING", "STOPPING"):
        for k in ("completed_at", "exit_code", "failure_reason"):
            assert k not in j, f"{k} on a job that has not ended: {j}"


@pytest.mark.parametrize(
    "kind",
    [
        "no-body",
        "empty-body",
        "empty-body-no-type",
        "empty-object",
        "empty-environment",
        "environment",
        "unknown-field",
    ],
)
def test_start_job_returns_201_started(client, kind):
    cid = client.create_connector()["connector_id"]
    path = jobs_path(cid)
    if kind == "no-body":
        r = client.post(path)
    elif kind == "empty-body":
        r = client.post(path, body=b"")
    elif kind == "empty-body-no-type":
        r = client.post(path, body=b"", content_type=None)
    elif kind == "empty-object":
        r = client.post(path, {})
    elif kind == "empty-environment":
        r = client.post(path, {"environment": []})
    elif kind == "environment":
        env = [{"name": "FOO", "value": "bar"}, {"name": "x_1", "value": "é 😀"}, {"name": "E", "value": ""}]
        r = client.post(path, {"environment": env})
    else:
        r = client.post(path, {"bogus": {"x": 1}})
    expect(r, 201)
    assert set(r.json) == {"job"}, r
    j = r.json["job"]
    assert_job(j, cid, "STARTED")
    assert_recent(j["created_at"])


def test_start_job_puts_connector_in_use(client):
    cid = client.create_connector()["connector_id"]
    before = client.get_connector(cid)
    assert before["status"] == "AVAILABLE" and "active_job_id" not in before
    job = client.start_job(cid)
    c = client.get_connector(cid)
    assert c["status"] == "IN_USE"
    if "active_job_id" in c:
        assert c["active_job_id"] == job["job_id"]
    listed = [x for x in client.list_all(CONNECTORS, "connectors", max_results=100)[0] if x["connector_id"] == cid]
    assert len(listed) == 1 and listed[0]["status"] == "IN_USE"
    if "active_job_id" in listed[0]:
        assert listed[0]["active_job_id"] == job["job_id"]


def test_second_start_is_409(client):
    cid = client.create_connector()["connector_id"]
    job = client.start_job(cid)
    expect_error(client.post(jobs_path(cid)), 409)
    expect_error(client.post(jobs_path(cid), {}), 409)
    jobs, token, _ = client.list_page(jobs_path(cid), "jobs")
    assert [j["job_id"] for j in jobs] == [job["job_id"]] and token is None


def test_start_on_unknown_connector_is_404(client):
    r = client.post(jobs_path(MISSING_CONNECTOR))
    expect_error(r, 404, message=not_found_connector(MISSING_CONNECTOR))


def test_get_job(client):
    cid = client.create_connector()["connector_id"]
    job = client.start_job(cid)
    r = expect(client.get(f"{jobs_path(cid)}/{job['job_id']}"), 200)
    assert set(r.json) == {"job"}, r
    assert r.json["job"] == job


def test_get_unknown_job_is_404_with_exact_message(client):
    cid = client.create_connector()["connector_id"]
    r = client.get(f"{jobs_path(cid)}/{MISSING_JOB}")
    expect_error(r, 404, message="Job ccj-0123456789ab not found")


def test_get_job_of_another_connector_is_404(client):
    a = client.create_connector()["connector_id"]
    b = client.create_connector()["connector_id"]
    job = client.start_job(a)
    r = client.get(f"{jobs_path(b)}/{job['job_id']}")
    expect_error(r, 404, message=not_found_job(job["job_id"]))


def test_get_job_on_unknown_connector_is_404(client):
    cid = client.create_connector()["connector_id"]
    job = client.start_job(cid)
    r = client.get(f"{jobs_path(MISSING_CONNECTOR)}/{job['job_id']}")
    expect_error(r, 404, message=(not_found_connector(MISSING_CONNECTOR), not_found_job(job["job_id"])))


def test_list_jobs_shape(client):
    cid = client.create_connector()["connector_id"]
    r = expect(client.get(jobs_path(cid)), 200)
    assert r.json == {"jobs": []}, r
    job = client.start_job(cid)
    r = expect(client.get(jobs_path(cid)), 200)
    assert r.json == {"jobs": [job]}, r
    r = expect(client.get(jobs_path(cid) + q(max_results=1)), 200)
    assert r.json == {"jobs": [job]}, f"one job, max_results=1: no next_token: {r}"


def test_list_jobs_only_of_its_connector(client):
    a = client.create_connector()["connector_id"]
    b = client.create_connector()["connector_id"]
    ja = client.start_job(a)
    jb = client.start_job(b)
    assert client.list_page(jobs_path(a), "jobs")[0] == [ja]
    assert client.list_page(jobs_path(b), "jobs")[0] == [jb]


def test_list_jobs_unknown_connector_is_404(client):
    expect_error(client.get(jobs_path(MISSING_CONNECTOR)), 404, message=not_found_connector(MISSING_CONNECTOR))


def test_list_jobs_status_filter(client):
    cid = client.create_connector()["connector_id"]
    job = client.start_job(cid)
    jid = job["job_id"]

    def ids(status):
        page, token, _ = client.list_page(jobs_path(cid), "jobs", status=status)
        assert token is None
        return [j["job_id"] for j in page]

    assert ids("STARTED") == [jid]
    for st in ("RUNNING", "STOPPING", "SUCCEEDED", "FAILED", "STOPPED"):
        assert ids(st) == [], st
    client.stop_job(cid, jid)
    assert ids("STARTED") == []
    assert ids("STOPPING") == [jid]
    assert ids("RUNNING") == []


@pytest.mark.parametrize("status", JOB_STATUSES)
def test_list_jobs_accepts_every_status_name(client, status):
    cid = client.create_connector()["connector_id"]
    page, token, _ = client.list_page(jobs_path(cid), "jobs", status=status)
    assert page == [] and token is None


def test_stop_job(client):
    cid = client.create_connector()["connector_id"]
    job = client.start_job(cid)
    jid = job["job_id"]
    r = client.stop_job(cid, jid)
    assert r.body.strip() == b"{}"
    after = client.get_job(cid, jid)
    assert_job(after, cid, "STOPPING")
    assert after["created_at"] == job["created_at"]
    assert parse_time(after["updated_at"]) > parse_time(job["updated_at"])
    # Idempotent while STOPPING.
    client.stop_job(cid, jid)
    assert client.get_job(cid, jid)["status"] == "STOPPING"
    # STOPPING is still active: the connector stays IN_USE; a new start is 409.
    assert client.get_connector(cid)["status"] == "IN_USE"
    expect_error(client.post(jobs_path(cid)), 409)


def test_stop_accepts_no_body_and_empty_object(client):
    cid = client.create_connector()["connector_id"]
    jid = client.start_job(cid)["job_id"]
    expect(client.post(f"{jobs_path(cid)}/{jid}/stop", {}), 202)
    expect(client.post(f"{jobs_path(cid)}/{jid}/stop", body=b""), 202)
    assert client.get_job(cid, jid)["status"] == "STOPPING"


def test_stop_job_of_another_connector_is_404(client):
    a = client.create_connector()["connector_id"]
    b = client.create_connector()["connector_id"]
    job = client.start_job(a)
    client.start_job(b)
    r = client.post(f"{jobs_path(b)}/{job['job_id']}/stop")
    expect_error(r, 404, message=not_found_job(job["job_id"]))
    assert client.get_job(a, job["job_id"])["status"] == "STARTED", "the other connector's job must not stop"


def test_stop_unknown_job_is_404(client):
    cid = client.create_connector()["connector_id"]
    r = client.post(f"{jobs_path(cid)}/{MISSING_JOB}/stop")
    expect_error(r, 404, message=not_found_job(MISSING_JOB))


def test_stop_on_unknown_connector_is_404(client):
    r = client.post(f"{jobs_path(MISSING_CONNECTOR)}/{MISSING_JOB}/stop")
    expect_error(r, 404, message=(not_found_connector(MISSING_CONNECTOR), not_found_job(MISSING_JOB)))


BAD_ENVIRONMENTS = [
    ("51-items", [{"name": f"V{i}", "value": "x"} for i in range(51)]),
    ("name-digit-first", [{"name": "1A", "value": "x"}]),
    ("name-dash", [{"name": "A-B", "value": "x"}]),
    ("name-empty", [{"name": "", "value": "x"}]),
    ("name-129", [{"name": "A" * 129, "value": "x"}]),
    ("name-underscore-first", [{"name": "_A", "value": "x"}]),
    ("name-space", [{"name": "A B", "value": "x"}]),
    ("name-non-ascii", [{"name": "Ä", "value": "x"}]),
    ("duplicate", [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]),
    ("value-4097", [{"name": "A", "value": "v" * 4097}]),
    ("value-number", [{"name": "A", "value": 1}]),
    ("name-number", [{"name": 1, "value": "x"}]),
    ("item-not-object", ["A=1"]),
    ("not-array", {"A": "1"}),
    ("string", "A=1"),
    ("reserved-job-id", [{"name": "CUSTOM_CONNECTOR_JOB_ID", "value": "x"}]),
    ("reserved-connector-id", [{"name": "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID", "value": "x"}]),
    ("reserved-arn", [{"name": "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN", "value": "x"}]),
    ("reserved-arn-prefix", [{"name": "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN_PREFIX", "value": "x"}]),
    ("reserved-endpoint", [{"name": "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT", "value": "x"}]),
    ("reserved-prefix", [{"name": "CUSTOM_CONNECTOR_ANYTHING", "value": "x"}]),
    ("reserved-region", [{"name": "AWS_REGION", "value": "x"}]),
    ("reserved-path", [{"name": "PATH", "value": "x"}]),
    ("reserved-home", [{"name": "HOME", "value": "x"}]),
    ("reserved-key", [{"name": "AWS_ACCESS_KEY_ID", "value": "x"}]),
    ("reserved-secret", [{"name": "AWS_SECRET_ACCESS_KEY", "value": "x"}]),
    ("reserved-token", [{"name": "AWS_SESSION_TOKEN", "value": "x"}]),
]


def reserved_names(env):
    if not isinstance(env, list):
        return ()
    reserved = {"AWS_REGION", "PATH", "HOME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    return tuple(
        e["name"]
        for e in env
        if isinstance(e, dict) and (e.get("name") in reserved or str(e.get("name")).startswith("CUSTOM_CONNECTOR_"))
    )


@pytest.mark.parametrize("env", [b[1] for b in BAD_ENVIRONMENTS], ids=[b[0] for b in BAD_ENVIRONMENTS])
def test_start_with_bad_environment_is_400_and_starts_nothing(client, env):
    cid = client.create_connector()["connector_id"]
    r = client.post(jobs_path(cid), {"environment": env})
    expect_error(r, 400, mentions=("environment",) + reserved_names(env))
    assert client.get_connector(cid)["status"] == "AVAILABLE"
    assert client.list_page(jobs_path(cid), "jobs")[0] == []


def test_bad_start_body_on_in_use_connector_is_400(client):
    """Order of checks: the body (400) before the state (409)."""
    cid = client.create_connector()["connector_id"]
    client.start_job(cid)
    expect_error(client.post(jobs_path(cid), {"environment": [{"name": "PATH", "value": "x"}]}), 400)
    expect_error(client.post(jobs_path(cid), body=b"{"), 400)


def test_start_accepts_50_variables(client):
    cid = client.create_connector()["connector_id"]
    env = [{"name": f"V{i}", "value": "x" * 4096} for i in range(50)]
    client.start_job(cid, {"environment": env})


def test_concurrent_starts_exactly_one_wins(server, client):
    cid = client.create_connector()["connector_id"]
    n = 20
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def worker(i):
        c = Client(server.port, ids=client.ids)
        try:
            c._connection().connect()
            barrier.wait(timeout=10)
            results[i] = c.post(jobs_path(cid))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    statuses = sorted(r.status for r in results)
    assert statuses == [201] + [409] * (n - 1), [str(r) for r in results if r.status not in (201, 409)] or statuses
    for r in results:
        if r.status == 409:
            expect_error(r, 409)
    (winner,) = [r.json["job"] for r in results if r.status == 201]
    jobs, _, _ = client.list_page(jobs_path(cid), "jobs")
    assert jobs == [winner]
    c = client.get_connector(cid)
    assert c["status"] == "IN_USE"
    if "active_job_id" in c:
        assert c["active_job_id"] == winner["job_id"]
