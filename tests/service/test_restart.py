"""Durability across restarts on the same data directory: a clean stop
(SIGTERM, exit 0) and a crash (SIGKILL). Every acknowledged write is
committed, so both must keep everything."""

import time

from ccftest import CONNECTORS, checksum, parse_time, q

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def populate(c):
    """Writes one of everything; returns what to compare and a next_token."""
    a = c.create_connector(description="durable", container_properties={
        "command": ["/bin/sleep", "3600"], "environment": [{"name": "K", "value": "v"}]})["connector_id"]
    b = c.create_connector()["connector_id"]
    extra = [c.create_connector()["connector_id"] for _ in range(3)]
    c.put_documents(a, [{"document_id": f"doc-{i:03d}", "checksum": checksum(str(i))} for i in range(120)])
    c.put_documents(b, [{"document_id": "é😀", "checksum": checksum("b")}])
    c.delete_documents(a, ["doc-007"])
    c.put_checkpoint(a, "cursor\u0000é😀")
    c.put_checkpoint(b, "first")
    c.put_checkpoint(b, "second")
    ja = c.start_job(a)
    jb = c.start_job(b)
    c.stop_job(b, jb["job_id"])
    assert c.put(f"{CONNECTORS}/{extra[0]}", {"name": "renamed"}).status == 200
    assert c.delete(f"{CONNECTORS}/{extra[1]}").status == 204
    _, conn_token, _ = c.list_page(CONNECTORS, "connectors", max_results=2)
    _, doc_token, _ = c.list_page(f"{CONNECTORS}/{a}/documents", "documents", max_results=50)
    assert conn_token and doc_token
    return {"a": a, "b": b, "extra": extra, "jobs": (ja["job_id"], jb["job_id"]),
            "conn_token": conn_token, "doc_token": doc_token}


def snapshot(c, w):
    a, b = w["a"], w["b"]
    snap = {"connectors": c.list_all(CONNECTORS, "connectors", max_results=100)[0]}
    for cid in (a, b, *w["extra"]):
        r = c.get(f"{CONNECTORS}/{cid}")
        snap[f"get {cid}"] = (r.status, r.json)
        r = c.get(f"{CONNECTORS}/{cid}/documents?max_results=1000")
        snap[f"docs {cid}"] = (r.status, r.json)
        r = c.get(f"{CONNECTORS}/{cid}/checkpoint")
        snap[f"checkpoint {cid}"] = (r.status, r.json if r.status == 200 else r.json["message"])
        r = c.get(f"{CONNECTORS}/{cid}/jobs")
        snap[f"jobs {cid}"] = (r.status, r.json)
    for cid, jid in zip((a, b), w["jobs"]):
        snap[f"job {jid}"] = c.get_job(cid, jid)
    snap["after conn token"] = c.list_page(CONNECTORS, "connectors", max_results=2, next_token=w["conn_token"])[:2]
    snap["after doc token"] = c.list_page(f"{CONNECTORS}/{a}/documents", "documents", max_results=50,
                                          next_token=w["doc_token"])[:2]
    return snap


def check_snapshot(before, after):
    assert before.keys() == after.keys()
    for k in before:
        assert after[k] == before[k], f"{k} changed across the restart"


def test_restart_after_sigterm_keeps_everything(ccfd_factory):
    srv = ccfd_factory()
    w = populate(srv.client)
    before = snapshot(srv.client, w)
    srv.restart()  # SIGTERM, exit status 0 checked
    after = snapshot(srv.client, w)
    check_snapshot(before, after)
    assert after["get " + w["a"]][1]["connector"]["status"] == "IN_USE"
    assert after["job " + w["jobs"][1]]["status"] == "STOPPING"


def test_restart_after_sigkill_keeps_everything(ccfd_factory):
    srv = ccfd_factory()
    w = populate(srv.client)
    before = snapshot(srv.client, w)
    srv.kill()
    srv.start()
    check_snapshot(before, snapshot(srv.client, w))


def test_writes_right_before_sigkill_survive(ccfd_factory):
    srv = ccfd_factory()
    c = srv.client
    made = []
    for i in range(30):
        cid = c.create_connector()["connector_id"]
        c.put_documents(cid, [{"document_id": "last", "checksum": checksum(str(i))}])
        c.put_checkpoint(cid, f"cp-{i}")
        made.append(cid)
    srv.kill()
    srv.start()
    c = srv.client
    ids = [s["connector_id"] for s in c.list_all(CONNECTORS, "connectors", max_results=100)[0]]
    assert ids == made
    for i, cid in enumerate(made):
        assert c.get_checkpoint(cid)["checkpoint_data"] == f"cp-{i}"
        page, _, _ = c.list_page(f"{CONNECTORS}/{cid}/documents", "documents")
        assert [d["checksum"] for d in page] == [checksum(str(i))]


def test_next_token_survives_restart(ccfd_factory):
    srv = ccfd_factory()
    c = srv.client
    made = [c.create_connector()["connector_id"] for _ in range(5)]
    page, token, _ = c.list_page(CONNECTORS, "connectors", max_results=2)
    assert [s["connector_id"] for s in page] == made[:2]
    srv.restart()
    c = srv.client
    rest, _, _ = c.list_all(CONNECTORS, "connectors", max_results=2, next_token=token)
    assert [s["connector_id"] for s in rest] == made[2:]


def test_state_rules_hold_after_restart(ccfd_factory):
    srv = ccfd_factory()
    c = srv.client
    cid = c.create_connector()["connector_id"]
    job = c.start_job(cid)
    srv.restart()
    c = srv.client
    r = c.post(f"{CONNECTORS}/{cid}/jobs")
    assert r.status == 409, r
    assert c.delete(f"{CONNECTORS}/{cid}").status == 409
    c.stop_job(cid, job["job_id"])
    new = c.create_connector()["connector_id"]
    ids = [s["connector_id"] for s in c.list_all(CONNECTORS, "connectors")[0]]
    assert ids == [cid, new], "connectors created after a restart list after the old ones"


def test_token_from_another_data_dir_is_400(ccfd_factory):
    """Tokens are signed with a per-store secret: another store rejects them."""
    one = ccfd_factory()
    two = ccfd_factory()
    for srv in (one, two):
        for _ in range(3):
            srv.client.create_connector()
    _, token, _ = one.client.list_page(CONNECTORS, "connectors", max_results=1)
    r = two.client.get(CONNECTORS + q(max_results=1, next_token=token))
    assert r.status == 400, r


def test_other_tenant_sees_nothing(ccfd_factory, tmp_path):
    """Every record belongs to one tenant (region, account_id): a ccfd serving
    another tenant on the same data directory finds none of them (404, not
    403), and a next_token of one tenant is a 400 for the other."""
    data = tmp_path / "shared-data"
    one = ccfd_factory(data_dir=data)
    c = one.client
    cids = [c.create_connector()["connector_id"] for _ in range(3)]
    c.put_documents(cids[0], [{"document_id": "d", "checksum": checksum()}])
    c.put_checkpoint(cids[0], "mine")
    job = c.start_job(cids[0])
    _, token, _ = c.list_page(CONNECTORS, "connectors", max_results=1)
    one.stop()

    for region, account in (("us-east-1", "210987654321"), ("eu-west-1", "123456789012")):
        other = ccfd_factory(data_dir=data, region=region, account_id=account)
        o = other.client
        page, tok, r = o.list_page(CONNECTORS, "connectors")
        assert page == [] and tok is None, r
        cid = cids[0]
        msg = f"Connector {cid} not found"
        for method, target in (
            ("GET", f"{CONNECTORS}/{cid}"),
            ("DELETE", f"{CONNECTORS}/{cid}"),
            ("GET", f"{CONNECTORS}/{cid}/documents"),
            ("GET", f"{CONNECTORS}/{cid}/jobs"),
            ("POST", f"{CONNECTORS}/{cid}/jobs"),
        ):
            r = o.request(method, target)
            assert r.status == 404 and r.json["message"] == msg, r
        r = o.put(f"{CONNECTORS}/{cid}", {"name": "stolen"})
        assert r.status == 404, r
        r = o.put(f"{CONNECTORS}/{cid}/checkpoint", {"checkpoint_data": "stolen"})
        assert r.status == 404, r
        for target in (f"{CONNECTORS}/{cid}/checkpoint", f"{CONNECTORS}/{cid}/jobs/{job['job_id']}"):
            r = o.get(target)
            assert r.status == 404, r
        r = o.post(f"{CONNECTORS}/{cid}/jobs/{job['job_id']}/stop")
        assert r.status == 404, r
        r = o.get(CONNECTORS + q(next_token=token))
        assert r.status == 400, f"a token of another tenant must be a 400: {r}"
        mine = o.create_connector()
        assert mine["arn"] == f"arn:aws:ccf:{region}:{account}:custom-connector/{mine['connector_id']}"
        other.stop()

    one = ccfd_factory(data_dir=data)
    c = one.client
    ids = [s["connector_id"] for s in c.list_all(CONNECTORS, "connectors")[0]]
    assert ids == cids, "the other tenants' connectors must not show, and ours must be intact"
    assert c.get_checkpoint(cids[0])["checkpoint_data"] == "mine"
    assert c.get_job(cids[0], job["job_id"])["status"] == "STARTED"
    assert c.get_connector(cids[0])["name"] != "stolen"


def _wait_status(c, cid, jid, statuses, timeout=20.0):
    deadline = time.monotonic() + timeout
    while (job := c.get_job(cid, jid))["status"] not in statuses:
        assert time.monotonic() < deadline, f"job stuck (wanted {statuses}): {job}"
        time.sleep(0.02)
    return job


def test_job_ended_while_down_keeps_the_supervisors_end_time(ccfd_factory):
    """completed_at of a job that ended while ccfd was down is the time its
    supervisor recorded, not the time ccfd came back and read the outcome."""
    srv = ccfd_factory(extra_args=["--stop-grace", "2"])
    c = srv.client
    cid = c.create_connector(container_properties={"command": ["/bin/sh", "-c", "sleep 1; exit 3"]})[
        "connector_id"]
    jid = c.start_job(cid)["job_id"]
    running = _wait_status(c, cid, jid, {"RUNNING"})
    srv.kill()
    time.sleep(4)  # the job ends about 1 s in: about 3 s before ccfd is back
    back = time.time()
    srv.start()
    job = _wait_status(srv.client, cid, jid, TERMINAL)
    assert job["status"] == "FAILED" and job["exit_code"] == 3, job
    started = parse_time(running["started_at"]).timestamp()
    completed = parse_time(job["completed_at"]).timestamp()
    assert completed <= back - 1.5, f"completed_at is the restart time, not the job's end: {job}"
    assert started + 0.8 <= completed <= started + 2.5, job
    assert parse_time(job["updated_at"]).timestamp() >= back - 0.5, "updated_at is the write's time"
    assert srv.client.get_connector(cid)["status"] == "AVAILABLE"
