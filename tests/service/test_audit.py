"""The audit log (CONTRACT-OPS.md "Audit log"): every state-changing request
and every refused one (403 of a known key, 409, 429) leaves exactly one
record with the right principal, in the transaction of its effect; reads
leave none; never a secret or a body; tenants isolated; cursors as for
events; audit-retention prunes."""

import glob
import time

from conftest import TIMEOUT_SCALE
from ccftest import (ACCOUNT_ID, CONNECTORS, OTHER_ACCOUNT_ID, REGION, Client, Ids, account_key,
                     checksum, unique_name)
from test_job_runs import TERMINAL, jobs_server, sh, wait_job
from test_docstats import ccf_bin

AUDIT = "/api/v1/audit-events"


def read(c, check=True, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    r = c.get(AUDIT + (f"?{q}" if q else ""), check=False)
    if check:
        assert r.status == 200, r
    return r


def read_all(c, after=None, max_results=None):
    """Every record after `after`, page by page; (records, cursor)."""
    out = []
    while True:
        b = read(c, after=after, max_results=max_results).json
        assert set(b) == {"audit_events", "next_cursor"}, b
        after = b["next_cursor"]
        if not b["audit_events"]:
            return out, after
        out.extend(b["audit_events"])


def by_request(records, resp):
    rid = resp.header("x-amzn-RequestId")
    return [r for r in records if r["request_id"] == rid]


def one(records, resp):
    mine = by_request(records, resp)
    assert len(mine) == 1, (resp, mine)
    return mine[0]


def client_for(srv, account, secret=None):
    key, real = account_key(account)
    return Client(srv.port, ids=Ids(), credentials=(key, secret or real),
                  arn_prefix=f"arn:aws:ccf:{REGION}:{account}:custom-connector/")


def test_each_write_leaves_one_record_and_reads_none(client):
    _, start = read_all(client)
    c = client
    r_create = c.post(CONNECTORS, {"name": unique_name(), "container_properties": {"command": ["true"]}})
    cid = r_create.json["connector"]["connector_id"]
    rs = {
        "UpdateCustomConnector": c.put(f"{CONNECTORS}/{cid}", {"description": "changed"}),
        "PauseCustomConnector": c.post(f"{CONNECTORS}/{cid}/pause"),
        "ResumeCustomConnector": c.post(f"{CONNECTORS}/{cid}/resume"),
        "BatchPutCustomConnectorDocuments": c.post(
            f"{CONNECTORS}/{cid}/documents", {"documents": [{"document_id": "d", "checksum": checksum()}]}),
        "BatchDeleteCustomConnectorDocuments": c.delete(f"{CONNECTORS}/{cid}/documents", {"document_ids": ["d"]}),
        "PutCustomConnectorCheckpoint": c.put(f"{CONNECTORS}/{cid}/checkpoint", {"checkpoint_data": "x"}),
        "DeleteCustomConnectorCheckpoint": c.delete(f"{CONNECTORS}/{cid}/checkpoint"),
    }
    r_start = c.post(f"{CONNECTORS}/{cid}/jobs")
    jid = r_start.json["job"]["job_id"]
    r_stop = c.post(f"{CONNECTORS}/{cid}/jobs/{jid}/stop", check=False)
    c.post(f"{CONNECTORS}/{cid}/pause")
    r_busy = c.post(f"{CONNECTORS}/{cid}/jobs", check=False)  # paused: a 409 whatever the job does
    assert r_busy.status == 409, r_busy
    # Reads, a 400 and a 404 change nothing and are not refusals: no record.
    reads = [c.get(f"{CONNECTORS}/{cid}"), c.get(CONNECTORS), c.get(f"{CONNECTORS}/{cid}/jobs/{jid}"),
             c.post(CONNECTORS, {"name": "x"}, check=False),
             c.delete(f"{CONNECTORS}/cc-000000000000", check=False)]
    assert [r.status for r in reads[3:]] == [400, 404]
    recs, _ = read_all(c, after=start)
    rec = one(recs, r_create)
    assert rec["operation"] == "CreateCustomConnector" and rec["status"] == 201
    assert rec["connector_id"] == cid and "job_id" not in rec and "error_type" not in rec
    assert rec["principal"] == "key" and rec["access_key_id"] == account_key(ACCOUNT_ID)[0]
    assert rec["source_ip"] == "127.0.0.1" and rec["time"].endswith("Z")
    for op, r in rs.items():
        got = one(recs, r)
        assert (got["operation"], got["status"], got["connector_id"]) == (op, r.status, cid), got
    got = one(recs, r_start)
    assert (got["operation"], got["status"], got["job_id"]) == ("StartCustomConnectorJob", 201, jid)
    got = one(recs, r_busy)
    assert (got["status"], got["error_type"]) == (409, "ConflictException") and "job_id" not in got
    got = one(recs, r_stop)
    assert (got["operation"], got["status"], got["job_id"]) == ("StopCustomConnectorJob", r_stop.status, jid)
    for r in reads:
        assert by_request(recs, r) == [], r
    r_del = c.delete(f"{CONNECTORS}/{cid}", check=False)
    recs, _ = read_all(c, after=start)
    assert one(recs, r_del)["status"] == r_del.status


def test_refusals_of_a_known_key_are_recorded_and_unknown_keys_are_not(ccfd_factory):
    srv = ccfd_factory(extra_args=["--executor", "none", "--rate-limit", "4:4"])
    a = client_for(srv, ACCOUNT_ID)
    bad = client_for(srv, ACCOUNT_ID, secret="not/the/secret/at/all/0123456789abcd")
    unknown = Client(srv.port, ids=Ids(), credentials=("AKIAUNKNOWN000000000", "whatever/secret"))
    r_bad = bad.post(CONNECTORS, {"name": unique_name()}, check=False)
    assert r_bad.status == 403 and r_bad.json["errorType"] == "InvalidSignatureException", r_bad
    r_bad_get = bad.get(f"{CONNECTORS}/cc-0123456789ab", check=False)
    assert r_bad_get.status == 403
    r_unknown = unknown.post(CONNECTORS, {"name": unique_name()}, check=False)
    assert r_unknown.status == 403
    rs = [a.delete(f"{CONNECTORS}/cc-0123456789ab/checkpoint", check=False) for _ in range(10)]
    throttled = [r for r in rs if r.status == 429]
    assert throttled, [r.status for r in rs]
    deadline = time.monotonic() + 5 * TIMEOUT_SCALE
    while True:  # refusals are written by a thread of their own: soon, not at once
        time.sleep(1.1)  # tokens for the reads
        recs, _ = read_all(a)
        if all(by_request(recs, r) for r in throttled) or time.monotonic() > deadline:
            break
    got = one(recs, r_bad)
    assert (got["operation"], got["status"], got["error_type"]) == (
        "CreateCustomConnector", 403, "InvalidSignatureException")
    assert got["principal"] == "key" and got["access_key_id"] == account_key(ACCOUNT_ID)[0]
    got = one(recs, r_bad_get)
    assert (got["operation"], got["connector_id"]) == ("GetCustomConnector", "cc-0123456789ab")
    assert by_request(recs, r_unknown) == []
    for r in throttled:
        got = one(recs, r)
        assert (got["operation"], got["status"], got["error_type"]) == (
            "DeleteCustomConnectorCheckpoint", 429, "ThrottlingException")
        assert got["connector_id"] == "cc-0123456789ab"
    # The 404s that got through are not recorded.
    for r in rs:
        if r.status == 404:
            assert by_request(recs, r) == []


def test_a_jobs_key_is_recorded_as_the_job_and_no_secret_or_body_is_stored(ccfd_factory):
    srv = jobs_server(ccfd_factory)
    c = srv.client
    cid = c.create_connector(container_properties=sh(
        f'{ccf_bin()} --endpoint "$CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT" checkpoint put '
        '"$CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID" --data from-the-job\n'
        f'{ccf_bin()} --endpoint "$CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT" connector list '
        '>/dev/null 2>&1 || true\n'
        'echo "$AWS_SECRET_ACCESS_KEY" > secret.txt\n'))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=30)
    assert job["status"] == "SUCCEEDED", job
    # A body that is never stored (a refused start): it must not reach the log.
    marker = "body-marker-" + unique_name()
    c.post(f"{CONNECTORS}/{cid}/pause")
    r = c.post(f"{CONNECTORS}/{cid}/jobs", {"environment": [{"name": "X", "value": marker}]}, check=False)
    assert r.status == 409, r
    # The job's 403 is a refusal before the api: the transport's audit
    # thread writes it a moment after the job read its answer.
    deadline = time.monotonic() + 10 * TIMEOUT_SCALE
    while True:
        recs, _ = read_all(c)
        job_recs = [x for x in recs if x["principal"] == f"job:{jid}"]
        if len(job_recs) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    ops = sorted((x["operation"], x["status"]) for x in job_recs)
    # The put, and the list outside the job key's scope (403 AccessDenied).
    assert ops == [("ListCustomConnectors", 403), ("PutCustomConnectorCheckpoint", 202)], job_recs
    assert all(x["access_key_id"] != account_key(ACCOUNT_ID)[0] for x in job_recs)
    assert all(x["connector_id"] == cid for x in job_recs if x["status"] == 202)
    assert one(recs, r)["status"] == 409
    # Neither the job's secret, the operator's, nor the refused body is in the store.
    job_secret = (srv.data_dir / "jobs" / jid / "work" / "secret.txt")
    secrets = [account_key(ACCOUNT_ID)[1].encode(), marker.encode(),
               job_secret.read_text().strip().encode()]
    assert all(len(s) >= 20 for s in secrets), secrets
    srv.stop()
    for f in glob.glob(str(srv.data_dir / "ccf.db*")):
        data = open(f, "rb").read()
        for s in secrets:
            assert s not in data, (f, s)


def test_tenants_are_isolated_and_cursors_page_without_gap(ccfd_factory):
    srv = ccfd_factory()
    a, b = client_for(srv, ACCOUNT_ID), client_for(srv, OTHER_ACCOUNT_ID)
    made = [a.post(CONNECTORS, {"name": unique_name(), "container_properties": {"command": ["true"]}})
            for _ in range(7)]
    b.post(CONNECTORS, {"name": unique_name(), "container_properties": {"command": ["true"]}})
    recs, cursor = read_all(a, max_results=2)
    assert [x["request_id"] for x in recs] == [r.header("x-amzn-RequestId") for r in made]
    assert len(read_all(b)[0]) == 1
    # Nothing new: the cursor stays put and reads nothing.
    assert read(a, after=cursor).json["audit_events"] == []
    # Another tenant's cursor, or one made up, is a 400 BadRequest.
    r = read(b, check=False, after=cursor)
    assert r.status == 400 and r.json["errorType"] == "BadRequestException", r
    r = read(a, check=False, after="bogus")
    assert r.status == 400 and r.json["errorType"] == "BadRequestException", r
    assert r.json["message"] == "after is not a cursor of this audit log; start again without it"
    # Each stream's cursors are its own: an audit cursor is no events
    # cursor, and the other way round.
    events_cursor = a.get("/api/v1/events").json["next_cursor"]
    r = a.get(f"/api/v1/events?after={cursor}", check=False)
    assert r.status == 400, r
    assert r.json["message"] == "after is not a cursor of this stream; start again without it"
    assert read(a, check=False, after=events_cursor).status == 400
    for bad in ("0", "1001", "x"):
        r = read(a, check=False, max_results=bad)
        assert r.status == 400, r


def test_retention_prunes_and_an_old_cursor_expires(ccfd_factory, tmp_path):
    data = tmp_path / "pruned"
    srv = ccfd_factory(data_dir=data, extra_args=["--audit-retention", "1"])
    c = srv.client
    c.post(CONNECTORS, {"name": unique_name(), "container_properties": {"command": ["true"]}})
    first = read(c, max_results=1).json
    assert len(first["audit_events"]) == 1
    old_cursor = first["next_cursor"]
    c.post(CONNECTORS, {"name": unique_name(), "container_properties": {"command": ["true"]}})
    time.sleep(1.5)
    srv.stop()
    srv.start()  # the maintenance runs at start-up, beside the first requests
    deadline = time.monotonic() + 10 * TIMEOUT_SCALE
    while read_all(srv.client)[0] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert read_all(srv.client)[0] == []  # reads are not recorded: nothing is left
    r = read(srv.client, check=False, after=old_cursor)
    assert r.status == 400 and r.json["errorType"] == "ExpiredCursorException", r


def test_cli_audit_reads_resumes_and_follows(ccfd_factory, tmp_path):
    import json
    import subprocess
    from clitest import base_env, ccf_binary, ccf_for
    s = ccfd_factory()
    ccf = ccf_for(s, tmp_path)
    cid = s.client.create_connector(name=unique_name())["connector_id"]
    s.client.put_checkpoint(cid, "x")
    r = ccf("audit", "--output", "json")
    assert r.rc == 0, r
    lines = [json.loads(x) for x in r.out.splitlines()]
    assert [(x["operation"], x["status"], x["connector_id"]) for x in lines] == [
        ("CreateCustomConnector", 201, cid), ("PutCustomConnectorCheckpoint", 202, cid)]
    assert lines[0]["principal"] == "key" and lines[0]["access_key_id"] == account_key(ACCOUNT_ID)[0]
    assert r.err.startswith("next_cursor: ")
    cursor = r.err.split()[1]
    r = ccf("audit", "--after", cursor)
    assert r.rc == 0 and r.out == "", r
    r = ccf("audit", "--output", "table")
    assert "CreateCustomConnector" in r.out and " 201 " in r.out, r
    assert ccf("audit", "extra").rc == 2
    assert ccf("audit", "--after", "bogus").rc == 1
    # --follow prints what comes after the cursor.
    env = base_env(f"http://127.0.0.1:{s.port}")
    env["HOME"] = str(tmp_path)
    env["CCF_CREDENTIALS_FILE"] = str(s.data_dir / "credentials")
    p = subprocess.Popen([ccf_binary(), "audit", "--follow", "--output", "json", "--after", cursor],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    try:
        time.sleep(0.3)
        s.client.delete(f"{CONNECTORS}/{cid}/checkpoint")
        line = p.stdout.readline()
        assert json.loads(line)["operation"] == "DeleteCustomConnectorCheckpoint"
    finally:
        p.kill()
        p.wait()


def test_webhook_writes_and_their_refusals_leave_one_record_each(ccfd_factory):
    """CreateWebhook, TestWebhook and DeleteWebhook are writes too, and a
    client_token reused for another body is a 409; no record holds the
    webhook's secret or URL (a body)."""
    srv = ccfd_factory(extra_args=["--executor", "none", "--webhook-allow-private"])
    c = srv.client
    url = "http://127.0.0.1:9/audited-" + unique_name()
    r_create = c.post("/api/v1/webhooks", {"url": url, "client_token": "tok-a"})
    w = r_create.json["webhook"]
    r_test = c.post(f"/api/v1/webhooks/{w['webhook_id']}/test")
    r_clash = c.post("/api/v1/webhooks", {"url": url + "x", "client_token": "tok-a"}, check=False)
    assert r_clash.status == 409, r_clash
    r_delete = c.delete(f"/api/v1/webhooks/{w['webhook_id']}")
    reads = [c.get("/api/v1/webhooks"), c.get(f"/api/v1/webhooks/{w['webhook_id']}", check=False)]
    recs, _ = read_all(c)
    for resp, op in ((r_create, "CreateWebhook"), (r_test, "TestWebhook"), (r_clash, "CreateWebhook"),
                     (r_delete, "DeleteWebhook")):
        got = one(recs, resp)
        assert (got["operation"], got["status"]) == (op, resp.status), got
        assert got["principal"] == "key" and "connector_id" not in got and "job_id" not in got, got
    assert one(recs, r_clash)["error_type"] == "ConflictException"
    for r in reads:
        assert by_request(recs, r) == [], r
    text = str(recs)
    assert w["secret"] not in text and "audited-" not in text
