"""Tenancy and per-job credentials against a live ccfd (CONTRACT.md,
"Auth"): a tenant sees nothing of another's, and a job's injected
credentials work for its own connector only, end with the job and survive
a restart."""

import json
import shutil
import sys
import time
from pathlib import Path

import pytest

from authtest import DENIED, REPO, SCALE, TERMINAL, UNRECOGNIZED, jobs_server, refused, wait_job
from ccftest import (
    CONNECTORS,
    OTHER_ACCOUNT_ID,
    REGION,
    Client,
    account_key,
    checksum,
    expect,
    expect_error,
    list_connectors_all,
    q,
)


# Tenancy.


def test_tenant_b_sees_nothing_of_tenant_a(server, client):
    a = client
    b = Client(server.port, ids=client.ids, credentials=account_key(OTHER_ACCOUNT_ID),
               arn_prefix=f"arn:aws:ccf:{REGION}:{OTHER_ACCOUNT_ID}:custom-connector/")
    cid = a.create_connector(description="tenant A's")["connector_id"]
    a.put_documents(cid, [{"document_id": "secret-doc", "checksum": checksum()}])
    a.put_checkpoint(cid, "A's state")
    jid = a.start_job(cid)["job_id"]
    theirs = b.create_connector()
    assert theirs["arn"] == f"arn:aws:ccf:{REGION}:{OTHER_ACCOUNT_ID}:custom-connector/{theirs['connector_id']}"

    conn_msg = f"Connector {cid} not found"
    base = f"{CONNECTORS}/{cid}"
    for method, target, body in (
        ("GET", base, None),
        ("PUT", base, {"description": "stolen"}),
        ("DELETE", base, None),
        ("POST", f"{base}/jobs", None),
        ("GET", f"{base}/jobs", None),
        ("GET", f"{base}/jobs/{jid}", None),
        ("POST", f"{base}/jobs/{jid}/stop", None),
        ("GET", f"{base}/jobs/{jid}/logs", None),
        ("POST", f"{base}/documents", {"documents": [{"document_id": "x", "checksum": checksum()}]}),
        ("GET", f"{base}/documents", None),
        ("DELETE", f"{base}/documents", {"document_ids": ["secret-doc"]}),
        ("GET", f"{base}/checkpoint", None),
        ("PUT", f"{base}/checkpoint", {"checkpoint_data": "stolen"}),
        ("DELETE", f"{base}/checkpoint", None),
    ):
        r = b.request(method, target, json_body=body) if body is not None else b.request(method, target)
        expect_error(r, 404)
        assert r.json["message"] in (conn_msg, f"Job {jid} not found"), r

    b_ids = {c["connector_id"] for c in list_connectors_all(b)}
    a_ids = {c["connector_id"] for c in list_connectors_all(a)}
    assert cid not in b_ids and theirs["connector_id"] in b_ids
    assert theirs["connector_id"] not in a_ids and cid in a_ids
    assert all(c["arn"].split(":")[4] == OTHER_ACCOUNT_ID for c in list_connectors_all(b))
    _, token, _ = a.list_page(CONNECTORS, "connectors", max_results=1)
    if token:
        expect_error(b.get(CONNECTORS + q(max_results=1, next_token=token)), 400)

    # Nothing of A's changed.
    got = a.get_connector(cid)
    assert got["description"] == "tenant A's" and got["status"] == "IN_USE"
    assert a.get_job(cid, jid)["status"] == "STARTED"
    assert a.get_checkpoint(cid)["checkpoint_data"] == "A's state"
    docs, _, _ = a.list_page(f"{base}/documents", "documents")
    assert [d["document_id"] for d in docs] == ["secret-doc"]


# Per-job credentials.

# A connector's program: calls back with its injected credentials. "probe"
# prints what each call answered; "hold" writes its credentials to a file in
# HOME and waits to be stopped.
JOB_SCRIPT = r"""
import json, os, sys, time, urllib.error, urllib.request
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

env = os.environ
base = env["CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"] + "api/v1/custom-connectors"
own = base + "/" + env["CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"]
creds = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"])

def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"Content-Type": "application/json"} if data else {}
    req = AWSRequest(method=method, url=url, data=data or b"", headers=hdrs)
    SigV4Auth(creds, "execute-api", env["AWS_REGION"]).add_auth(req)
    r = urllib.request.Request(url, data=data, method=method, headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return [resp.status, None]
    except urllib.error.HTTPError as e:
        return [e.code, e.headers.get("x-amzn-ErrorType")]

if sys.argv[1] == "hold":
    with open(os.path.join(env["HOME"], "creds.json"), "w") as f:
        json.dump([env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_SESSION_TOKEN"]], f)
    time.sleep(60)
    sys.exit(0)
other = base + "/" + env["OTHER_CONNECTOR"]
doc = {"documents": [{"document_id": "from-job", "checksum": "c" * 32}]}
print(json.dumps({
    "own put documents": call("POST", own + "/documents", doc),
    "own list documents": call("GET", own + "/documents"),
    "own delete documents": call("DELETE", own + "/documents", {"document_ids": ["nope"]}),
    "own put checkpoint": call("PUT", own + "/checkpoint", {"checkpoint_data": "from job"}),
    "own get checkpoint": call("GET", own + "/checkpoint"),
    "own job": call("GET", own + "/jobs/" + env["CUSTOM_CONNECTOR_JOB_ID"]),
    "own connector": call("GET", own),
    "own jobs list": call("GET", own + "/jobs"),
    "own start job": call("POST", own + "/jobs"),
    "connector list": call("GET", base),
    "create connector": call("POST", base, {"name": "made-by-a-job", "container_properties": {"command": ["x"]}}),
    "other documents": call("GET", other + "/documents"),
    "other put documents": call("POST", other + "/documents", doc),
    "other checkpoint": call("GET", other + "/checkpoint"),
    "other put checkpoint": call("PUT", other + "/checkpoint", {"checkpoint_data": "stolen"}),
    "other connector": call("GET", other),
}))
"""


def job_props(mode, other=None):
    p = {"command": [sys.executable, "-c", JOB_SCRIPT, mode], "timeout": 120}
    if other:
        p["environment"] = [{"name": "OTHER_CONNECTOR", "value": other}]
    return p


def job_log(client, cid, jid):
    return expect(client.get(f"{CONNECTORS}/{cid}/jobs/{jid}/logs", check=False), 200).body.decode()


def test_job_credentials_work_for_their_connector_only(ccfd_factory):
    s = jobs_server(ccfd_factory)
    c = s.client
    other = c.create_connector()["connector_id"]
    c.put_checkpoint(other, "other's")
    cid = c.create_connector(container_properties=job_props("probe", other))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job = wait_job(c, cid, jid, TERMINAL, timeout=60)
    log = job_log(c, cid, jid)
    assert job["status"] == "SUCCEEDED", (job, log)
    got = json.loads(log.strip().splitlines()[-1])
    allowed = {"own put documents": 202, "own list documents": 200, "own delete documents": 202,
               "own put checkpoint": 202, "own get checkpoint": 200, "own job": 200}
    for what, (status, error_type) in got.items():
        if what in allowed:
            assert status == allowed[what] and error_type is None, (what, status, error_type)
        else:
            assert (status, error_type) in ((403, DENIED), (404, "ResourceNotFoundException")), (what, status)
    assert {w for w, (st, _) in got.items() if st == 403} == set(got) - set(allowed)
    assert c.get_checkpoint(cid)["checkpoint_data"] == "from job"
    assert c.get_checkpoint(other)["checkpoint_data"] == "other's"
    docs, _, _ = c.list_page(f"{CONNECTORS}/{other}/documents", "documents")
    assert docs == []
    assert "made-by-a-job" not in {x["name"] for x in list_connectors_all(c)}


def _held_credentials(server, jid, timeout=20):
    path = Path(server.data_dir) / "jobs" / jid / "work" / "creds.json"
    deadline = time.monotonic() + timeout * SCALE
    while not (path.exists() and path.stat().st_size > 0):
        assert time.monotonic() < deadline, "the job did not write its credentials"
        time.sleep(0.05)
    time.sleep(0.05)
    return tuple(json.loads(path.read_text()))


def test_job_credentials_end_with_the_job_and_survive_a_restart(ccfd_factory):
    s = jobs_server(ccfd_factory)
    c = s.client
    cid = c.create_connector(container_properties=job_props("hold"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    creds = _held_credentials(s, jid)
    key, secret, token = creds
    assert key.startswith("ASIA")
    as_job = Client(s.port, credentials=creds)
    docs = f"{CONNECTORS}/{cid}/documents"
    expect(as_job.get(docs), 200)
    expect(as_job.get(f"{CONNECTORS}/{cid}/jobs/{jid}"), 200)
    refused(as_job.get(f"{CONNECTORS}/{cid}"), DENIED)
    # Without its session token, or with another, the key is refused.
    refused(Client(s.port, credentials=(key, secret)).get(docs), UNRECOGNIZED)
    refused(Client(s.port, credentials=(key, secret, token[:-1] + ("x" if token[-1] != "x" else "y"))).get(docs), UNRECOGNIZED)

    # The job keeps running under its supervisor across a restart of ccfd,
    # and its key keeps working.
    s.restart()
    as_job = Client(s.port, credentials=creds)
    expect(as_job.get(docs), 200)

    s.client.stop_job(cid, jid)
    wait_job(s.client, cid, jid, TERMINAL)
    deadline = time.monotonic() + 5 * SCALE
    while (r := as_job.get(docs)).status == 200 and time.monotonic() < deadline:
        time.sleep(0.05)  # the revoke follows the transition on the orchestrator's thread
    refused(r, UNRECOGNIZED)
    s.restart()
    refused(Client(s.port, credentials=creds).get(docs), UNRECOGNIZED)
    assert secret not in s.log_text() and token not in s.log_text()


def test_dir_sync_example_signs_with_job_credentials(ccfd_factory, tmp_path):
    """examples/dir-sync.sh, run as a job, calls back with curl --aws-sigv4
    and the job's key pair and session token."""
    if not shutil.which("jq"):
        pytest.fail("jq is missing (scripts/deps.sh installs it)")
    s = jobs_server(ccfd_factory)
    c = s.client
    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        (src / f"f{i}.txt").write_text(f"file {i}\n")
    cid = c.create_connector(container_properties={
        "command": [str(REPO / "examples" / "dir-sync.sh")],
        "environment": [{"name": "SYNC_DIR", "value": str(src)}]})["connector_id"]
    for expected in ("3 files, put 3, deleted 0", "2 files, put 1, deleted 1"):
        jid = c.start_job(cid)["job_id"]
        job = wait_job(c, cid, jid, TERMINAL, timeout=60)
        log = job_log(c, cid, jid)
        assert job["status"] == "SUCCEEDED", (job, log)
        assert f"dir-sync: {expected}" in log, log
        (src / "f0.txt").unlink(missing_ok=True)
        (src / "f1.txt").write_text("changed\n")
    docs, _, _ = c.list_page(f"{CONNECTORS}/{cid}/documents", "documents")
    assert sorted(d["document_id"] for d in docs) == ["f1.txt", "f2.txt"]
    assert json.loads(c.get_checkpoint(cid)["checkpoint_data"])["files"] == 2
