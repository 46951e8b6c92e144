"""SigV4 authentication and tenancy against a live ccfd (CONTRACT.md, "Auth"
and "Order of checks"): boto3 and the AWS CLI with the project's botocore
model, every refusal with its errorType, the order of checks, tenant
isolation, per-job credentials, the credentials file (first start, mode,
`ccfd credentials`, SIGHUP) and auth = none."""

import datetime
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ccftest import (
    ACCOUNT_ID,
    CONNECTORS,
    MISSING_CONNECTOR,
    OTHER_ACCOUNT_ID,
    REGION,
    Client,
    Response,
    account_key,
    check_response,
    checksum,
    expect,
    expect_error,
    list_connectors_all,
    parse_raw_response,
    q,
    raw_exchange,
    sign_headers,
    signed_head,
    write_credentials,
)
REPO = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO / "clients" / "botocore"
# make valgrind runs ccfd slower: waits for it stretch (conftest's scale).
SCALE = float(os.environ.get("CCFD_TIMEOUT_SCALE", "1"))
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}

MISSING = "MissingAuthenticationTokenException"
INVALID = "InvalidSignatureException"
UNRECOGNIZED = "UnrecognizedClientException"
DENIED = "AccessDeniedException"
MSG_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method."
)


def refused(r, error_type, message=None):
    """A 403 with this errorType, in the contract's shape (the body's
    errorType and the x-amzn-ErrorType header agree: check_error_shape)."""
    expect_error(r, 403, message=message)
    assert r.json["errorType"] == error_type, r
    return r


def send(port, method, target, headers, body=None):
    """Sends exactly these headers (Host among them) and body on a fresh
    connection."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in headers:
            c.putheader(k, v)
        c.endheaders(body)
        r = c.getresponse()
        resp = Response(method, target, body, r.status, r.reason, r.getheaders(), r.read())
    finally:
        c.close()
    check_response(resp)
    return resp


def signed(port, method, target, body=None, region=REGION, credentials=None, when=None):
    """Signed headers for a request (Content-Type and -Length with a body)."""
    host = f"127.0.0.1:{port}"
    hdrs = [("Host", host)]
    if body is not None:
        hdrs += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    return sign_headers(method, target, hdrs, body or b"", host, region, credentials, when=when)


def jobs_server(ccfd_factory, data_dir=None):
    return ccfd_factory(data_dir=data_dir, extra_args=["--stop-grace", "2"])


def wait_job(client, cid, jid, statuses, timeout=20.0):
    deadline = time.monotonic() + timeout * SCALE
    while True:
        job = client.get_job(cid, jid)
        if job["status"] in statuses:
            return job
        assert job["status"] not in TERMINAL, f"ended {job['status']}, wanted {statuses}: {job}"
        assert time.monotonic() < deadline, f"job stuck (wanted {statuses}): {job}"
        time.sleep(0.02)


# boto3 and the AWS CLI, with the model in clients/botocore.


@pytest.fixture
def boto3_client(monkeypatch, tmp_path):
    """make(server, credentials=None) -> boto3's ccf client for that server."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    monkeypatch.setenv("AWS_DATA_PATH", str(MODEL_DIR))
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(var, str(tmp_path / "none"))
    for var in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(var, raising=False)

    def make(server, credentials=None, **config):
        key, secret, *token = credentials or account_key(server.account_id)
        return boto3.session.Session().client(
            "ccf",
            endpoint_url=f"http://127.0.0.1:{server.port}",
            region_name=server.region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token[0] if token else None,
            config=Config(retries={"max_attempts": 1}, **config),
        )

    return make


def test_boto3_every_operation(ccfd_factory, boto3_client):
    s = jobs_server(ccfd_factory)
    ccf = boto3_client(s)
    c = ccf.create_custom_connector(
        name="boto3-demo", description="made by boto3",
        container_properties={"command": ["/bin/sh", "-c", "echo hello from $CUSTOM_CONNECTOR_JOB_ID"]},
    )["connector"]
    cid = c["connector_id"]
    assert c["arn"] == f"arn:aws:ccf:{REGION}:{ACCOUNT_ID}:custom-connector/{cid}"
    got = ccf.get_custom_connector(connector_id=cid)["connector"]
    assert got["container_properties"]["timeout"] == 3600 and got["status"] == "AVAILABLE"
    up = ccf.update_custom_connector(connector_id=cid, description="updated")["connector"]
    assert up["description"] == "updated"
    pages = list(ccf.get_paginator("list_custom_connectors").paginate(PaginationConfig={"PageSize": 1}))
    assert [x["connector_id"] for p in pages for x in p["connectors"]] == [cid]

    job = ccf.start_custom_connector_job(connector_id=cid, environment=[{"name": "A", "value": "b"}])["job"]
    jid = job["job_id"]
    deadline = time.monotonic() + 20 * SCALE
    while ccf.get_custom_connector_job(connector_id=cid, job_id=jid)["job"]["status"] not in TERMINAL:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ccf.get_custom_connector_job(connector_id=cid, job_id=jid)["job"]["status"] == "SUCCEEDED"
    jobs = ccf.list_custom_connector_jobs(connector_id=cid, status="SUCCEEDED", max_results=10)["jobs"]
    assert [j["job_id"] for j in jobs] == [jid]
    logs = ccf.get_custom_connector_job_logs(connector_id=cid, job_id=jid, offset=0, limit=1000)
    assert logs["logs"].read() == f"hello from {jid}\n".encode()
    assert logs["job_status"] == "SUCCEEDED"
    with pytest.raises(ccf.exceptions.ConflictException):
        ccf.stop_custom_connector_job(connector_id=cid, job_id=jid)

    docs = [{"document_id": f"d{i}", "checksum": checksum(str(i))} for i in range(5)]
    ccf.batch_put_custom_connector_documents(connector_id=cid, documents=docs)
    listed = [d for p in ccf.get_paginator("list_custom_connector_documents").paginate(
        connector_id=cid, PaginationConfig={"PageSize": 2}) for d in p["documents"]]
    assert sorted(d["document_id"] for d in listed) == [d["document_id"] for d in docs]
    ccf.batch_delete_custom_connector_documents(connector_id=cid, document_ids=["d0", "d1"])
    assert len(ccf.list_custom_connector_documents(connector_id=cid)["documents"]) == 3

    ccf.put_custom_connector_checkpoint(connector_id=cid, checkpoint_data="cursor=\u00e9\u0000")
    cp = ccf.get_custom_connector_checkpoint(connector_id=cid)["checkpoint"]
    assert cp["checkpoint_data"] == "cursor=\u00e9\u0000" and cp["connector_id"] == cid
    ccf.delete_custom_connector_checkpoint(connector_id=cid)
    with pytest.raises(ccf.exceptions.ResourceNotFoundException):
        ccf.get_custom_connector_checkpoint(connector_id=cid)

    # A job that runs until stopped: StopCustomConnectorJob.
    ccf.update_custom_connector(connector_id=cid, container_properties={"command": ["/bin/sleep", "30"]})
    jid2 = ccf.start_custom_connector_job(connector_id=cid)["job"]["job_id"]
    ccf.stop_custom_connector_job(connector_id=cid, job_id=jid2)
    wait_job(s.client, cid, jid2, TERMINAL)

    ccf.delete_custom_connector(connector_id=cid)
    with pytest.raises(ccf.exceptions.ResourceNotFoundException) as e:
        ccf.get_custom_connector(connector_id=cid)
    assert e.value.response["Error"]["Message"] == f"Connector {cid} not found"


def test_boto3_refusals_surface_their_error_type(server, boto3_client):
    key, _ = account_key(ACCOUNT_ID)
    for creds, code in (((key, "not-the-secret"), INVALID), (("AKIANOSUCHKEY0000000", "x" * 40), UNRECOGNIZED)):
        ccf = boto3_client(server, credentials=creds)
        with pytest.raises(ccf.exceptions.ClientError) as e:
            ccf.list_custom_connectors()
        assert e.value.response["Error"]["Code"] == code
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def aws_cli(server, tmp_path, *args, credentials=None):
    aws = "/usr/bin/aws" if os.access("/usr/bin/aws", os.X_OK) else shutil.which("aws")
    if not aws:
        pytest.fail("the AWS CLI is missing: scripts/deps.sh installs Debian's awscli")
    key, secret = credentials or account_key(server.account_id)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "AWS_DATA_PATH": str(MODEL_DIR), "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_PAGER": ""}
    return subprocess.run(
        [aws, "ccf", *args, "--endpoint-url", f"http://127.0.0.1:{server.port}", "--region", server.region,
         "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60)


def test_aws_cli_with_the_model(server, client, tmp_path):
    name = f"aws-cli-{os.getpid()}-{time.monotonic_ns()}"
    r = aws_cli(server, tmp_path, "create-custom-connector", "--name", name,
                "--container_properties", '{"command": ["/bin/true"]}')
    assert r.returncode == 0, r.stderr
    cid = json.loads(r.stdout)["connector"]["connector_id"]
    assert client.get_connector(cid)["name"] == name
    r = aws_cli(server, tmp_path, "list-custom-connectors")
    assert r.returncode == 0, r.stderr
    assert cid in [c["connector_id"] for c in json.loads(r.stdout)["connectors"]]
    r = aws_cli(server, tmp_path, "get-custom-connector", "--connector_id", MISSING_CONNECTOR)
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr, r
    r = aws_cli(server, tmp_path, "list-custom-connectors", credentials=(account_key(ACCOUNT_ID)[0], "wrong" * 8))
    assert r.returncode != 0 and INVALID in r.stderr, r


# Refusals, each with its errorType.


def test_missing_authorization_header(server):
    r = send(server.port, "GET", CONNECTORS, [("Host", f"127.0.0.1:{server.port}")])
    refused(r, MISSING, "Missing Authentication Token")
    r = Client(server.port, credentials=None).post(CONNECTORS, {"name": "x"})
    refused(r, MISSING)


def test_wrong_secret(server):
    key, _ = account_key(ACCOUNT_ID)
    r = send(server.port, "GET", CONNECTORS, signed(server.port, "GET", CONNECTORS, credentials=(key, "x" * 40)))
    refused(r, INVALID, MSG_MISMATCH)


def test_unknown_key(server):
    creds = ("AKIANOSUCHKEY0000000", account_key(ACCOUNT_ID)[1])
    r = send(server.port, "GET", CONNECTORS, signed(server.port, "GET", CONNECTORS, credentials=creds))
    refused(r, UNRECOGNIZED, "The security token included in the request is invalid.")


@pytest.mark.parametrize("minutes", [-6, 6])
def test_date_more_than_5_minutes_away(server, minutes):
    when = datetime.datetime.utcnow() + datetime.timedelta(minutes=minutes)
    r = send(server.port, "GET", CONNECTORS, signed(server.port, "GET", CONNECTORS, when=when))
    refused(r, INVALID)
    assert r.json["message"].startswith("Signature expired"), r


def test_date_within_5_minutes_is_accepted(server):
    when = datetime.datetime.utcnow() - datetime.timedelta(minutes=4)
    expect(send(server.port, "GET", CONNECTORS, signed(server.port, "GET", CONNECTORS, when=when)), 200)


def test_wrong_region_or_service_in_scope(server):
    r = send(server.port, "GET", CONNECTORS, signed(server.port, "GET", CONNECTORS, region="eu-west-1"))
    refused(r, INVALID)
    host = f"127.0.0.1:{server.port}"
    r = send(server.port, "GET", CONNECTORS, sign_headers("GET", CONNECTORS, [("Host", host)], b"", host,
                                                          service="s3"))
    refused(r, INVALID)


def test_tampered_body(server, client):
    cid = client.create_connector()["connector_id"]
    client.put_checkpoint(cid, "original")
    target = f"{CONNECTORS}/{cid}/checkpoint"
    good = json.dumps({"checkpoint_data": "AAAA"}).encode()
    evil = json.dumps({"checkpoint_data": "BBBB"}).encode()
    r = send(server.port, "PUT", target, signed(server.port, "PUT", target, good), evil)
    refused(r, INVALID, MSG_MISMATCH)
    assert client.get_checkpoint(cid)["checkpoint_data"] == "original"
    expect(send(server.port, "PUT", target, signed(server.port, "PUT", target, good), good), 202)
    # A payload hash header that does not match the body.
    host = f"127.0.0.1:{server.port}"
    hdrs = sign_headers("PUT", target, [("Host", host), ("Content-Type", "application/json"),
                                        ("X-Amz-Content-SHA256", "0" * 64)], good, host)
    r = send(server.port, "PUT", target, hdrs, good)
    refused(r, INVALID)


def test_tampered_query(server, client):
    signed_target = CONNECTORS + q(max_results=1)
    r = send(server.port, "GET", CONNECTORS + q(max_results=2), signed(server.port, "GET", signed_target))
    refused(r, INVALID, MSG_MISMATCH)
    r = send(server.port, "GET", CONNECTORS, signed(server.port, "GET", signed_target))
    refused(r, INVALID, MSG_MISMATCH)
    expect(send(server.port, "GET", signed_target, signed(server.port, "GET", signed_target)), 200)


def test_tampered_path(server, client):
    mine = client.create_connector()["connector_id"]
    victim = client.create_connector()["connector_id"]
    r = send(server.port, "DELETE", f"{CONNECTORS}/{victim}",
             signed(server.port, "DELETE", f"{CONNECTORS}/{mine}"))
    refused(r, INVALID, MSG_MISMATCH)
    client.get_connector(victim)
    r = send(server.port, "POST", f"{CONNECTORS}/{mine}", signed(server.port, "GET", f"{CONNECTORS}/{mine}"))
    refused(r, INVALID, MSG_MISMATCH)


def test_unsigned_amz_header_and_unsigned_host(server):
    host = f"127.0.0.1:{server.port}"
    hdrs = signed(server.port, "GET", CONNECTORS) + [("X-Amz-Meta", "added after signing")]
    refused(send(server.port, "GET", CONNECTORS, hdrs), INVALID)
    bad = [(k, re.sub(r"SignedHeaders=[^,]*", "SignedHeaders=x-amz-date", v) if k == "Authorization" else v)
           for k, v in sign_headers("GET", CONNECTORS, [("Host", host)], b"", host)]
    refused(send(server.port, "GET", CONNECTORS, bad), INVALID)


def test_malformed_authorization(server):
    host = f"127.0.0.1:{server.port}"
    for value in ("Bearer abc", "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA256 Credential=x, Signature=y", "x" * 4000):
        r = send(server.port, "GET", CONNECTORS, [("Host", host), ("Authorization", value)])
        assert r.status == 403 and r.json["errorType"] in (INVALID, UNRECOGNIZED), r


# Order of checks.


def test_413_before_auth(server, client):
    head = (f"POST {CONNECTORS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 9437184\r\n\r\n").encode()
    _, data = raw_exchange(server.port, head, b"", timeout=10)
    r = parse_raw_response("POST", CONNECTORS, data)
    check_response(r, client.ids)
    expect_error(r, 413)


def test_403_before_404_and_405(server, client):
    anon = Client(server.port, credentials=None)
    for method, target in (("GET", "/api/v1/nope"), ("GET", "/nope"), ("GET", "/api/"), ("PATCH", CONNECTORS),
                           ("GET", f"{CONNECTORS}/cc-XYZ"), ("GET", f"{CONNECTORS}/{MISSING_CONNECTOR}")):
        refused(anon.request(method, target), MISSING)
        r = send(server.port, method, target, signed(server.port, method, target,
                                                     credentials=(account_key(ACCOUNT_ID)[0], "x" * 40)))
        refused(r, INVALID)
    expect_error(client.get("/api/v1/nope"), 404)
    expect_error(client.request("PATCH", CONNECTORS), 405)
    # 403 before 415 and 400.
    refused(anon.post(CONNECTORS, body=b"{", content_type="text/plain"), MISSING)
    assert anon.get("/healthz").status == 200


def test_403_before_the_body_is_read(server, client):
    """Headers that declare a body, and no body: an unauthenticated request
    is refused at once, without the server waiting for the body."""
    for extra in ("", f"Authorization: AWS4-HMAC-SHA256 Credential=AKIANOSUCHKEY0000000/20260101/{REGION}/"
                      "execute-api/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "0" * 64 + "\r\n"):
        head = (f"POST {CONNECTORS} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Amz-Date: 20260101T000000Z\r\n"
                f"Content-Type: application/json\r\nContent-Length: 1000\r\n{extra}\r\n").encode()
        start = time.monotonic()
        _, data = raw_exchange(server.port, head, b"", timeout=5)
        assert data, "no answer: the server waited for the body of an unauthenticated request"
        assert time.monotonic() - start < 2 * SCALE
        r = parse_raw_response("POST", CONNECTORS, data)
        check_response(r, client.ids)
        refused(r, UNRECOGNIZED if extra else MISSING)


def test_signed_chunked_body(server, client):
    """A chunked body is hashed as the payload it decodes to."""
    body = json.dumps({"name": f"chunked-{time.monotonic_ns()}", "container_properties": {"command": ["x"]}}).encode()
    head = signed_head(server.port, "POST", CONNECTORS, [("Content-Type", "application/json"),
                                                         ("Transfer-Encoding", "chunked")], body)
    chunked = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (10, body[:10], len(body) - 10, body[10:])
    _, data = raw_exchange(server.port, head, chunked, timeout=10)
    r = parse_raw_response("POST", CONNECTORS, data)
    expect(r, 201)


def test_session_token_rules(server, client):
    """A key without a session token refuses one; the token must be signed."""
    key, secret = account_key(ACCOUNT_ID)
    r = send(server.port, "GET", CONNECTORS, signed(server.port, "GET", CONNECTORS, credentials=(key, secret, "tok")))
    refused(r, UNRECOGNIZED)


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


# The credentials file.


def ccfd_binary():
    return os.environ.get("CCFD") or str(REPO / "build" / "ccfd")


def run_ccfd(*args, timeout=10, **kw):
    return subprocess.run([ccfd_binary(), *args], capture_output=True, text=True, timeout=timeout, **kw)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_credentials_file_refuses_to_start(tmp_path, mode):
    data = tmp_path / "data"
    data.mkdir()
    write_credentials(data / "credentials", [ACCOUNT_ID])
    os.chmod(data / "credentials", mode)
    r = run_ccfd("--listen", "127.0.0.1:0", "--data-dir", str(data), "--executor", "none")
    assert r.returncode == 1, r
    assert "auth.credentials_mode" in r.stderr and "chmod 600" in r.stderr, r.stderr
    assert "listening" not in r.stdout


def test_missing_named_credentials_file_refuses_to_start(tmp_path):
    r = run_ccfd("--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"), "--executor", "none",
                 "--credentials-file", str(tmp_path / "nope"))
    assert r.returncode == 1 and "ccfd credentials add" in r.stderr, r
    assert not (tmp_path / "nope").exists()


def test_first_start_makes_a_key_and_prints_how_to_use_it(tmp_path):
    data = tmp_path / "fresh"
    data.mkdir()
    proc = subprocess.Popen([ccfd_binary(), "--listen", "127.0.0.1:0", "--data-dir", str(data), "--executor",
                             "none", "--account-id", "111122223333"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out = ""
        deadline = time.monotonic() + 10 * SCALE
        while "curl --aws-sigv4" not in out and time.monotonic() < deadline:
            out += proc.stdout.readline()
        creds = data / "credentials"
        assert f"made {creds}" in out, out
        assert creds.stat().st_mode & 0o777 == 0o600
        port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)/", out).group(1))
        key = re.search(r"export AWS_ACCESS_KEY_ID=(AKIA[A-Z2-7]{16})", out).group(1)
        secret_cmd = re.search(r'export AWS_SECRET_ACCESS_KEY="\$\((.*)\)"', out).group(1)
        secret = subprocess.run(["/bin/sh", "-c", secret_cmd], capture_output=True, text=True).stdout.strip()
        assert secret and secret not in out, "the secret must not be printed"
        # The printed curl command, as printed.
        curl = re.search(r"^\s*(curl --aws-sigv4 .*)$", out, re.M).group(1)
        r = subprocess.run(["/bin/sh", "-c", curl], capture_output=True, text=True, timeout=10,
                           env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret})
        assert json.loads(r.stdout) == {"connectors": []}, r
        made = Client(port, credentials=(key, secret), arn_prefix="arn:aws:ccf:us-east-1:111122223333:custom-connector/").create_connector()
        assert ":111122223333:" in made["arn"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def _start_output(data, *flags):
    """Starts ccfd on data, returns its stdout up to a clean SIGTERM stop."""
    proc = subprocess.Popen([ccfd_binary(), "--listen", "127.0.0.1:0", "--data-dir", str(data), "--executor",
                             "none", "--account-id", "111122223333", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out = ""
        deadline = time.monotonic() + 10 * SCALE
        while "listening on" not in out and time.monotonic() < deadline:
            out += proc.stdout.readline()
        assert "listening on" in out, out
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        # Not communicate(): with a timeout it reads the pipe's descriptor and
        # misses what readline() already pulled into the TextIOWrapper.
        rest = proc.stdout.read()
        proc.stdout.close()
        assert proc.returncode == 0
    return out + rest


def test_signing_banner_after_a_first_start_that_failed(tmp_path):
    """A first start that cannot listen has made the credentials file; the
    next start still says how to sign with its key, and so does every start
    while the file holds only that key, unless --quiet."""
    data = tmp_path / "fresh"
    data.mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = run_ccfd("--listen", f"127.0.0.1:{port}", "--data-dir", str(data), "--executor", "none",
                     "--account-id", "111122223333")
    assert r.returncode == 1 and "listen" in r.stderr, r
    assert "AWS_ACCESS_KEY_ID" not in r.stdout, r
    creds = data / "credentials"
    key = re.search(r"^\[(AKIA[A-Z2-7]{16})\]$", creds.read_text(), re.M).group(1)
    for _ in range(2):
        out = _start_output(data)
        assert f"made {creds}" in out and f"export AWS_ACCESS_KEY_ID={key}" in out, out
    out = _start_output(data, "--quiet")
    assert "AWS_ACCESS_KEY_ID" not in out and "listening on" in out, out
    # Once the operator has a key of their own, the first one is theirs to manage.
    assert _admin("add", "--data-dir", str(data), "--account-id", OTHER_ACCOUNT_ID).returncode == 0
    out = _start_output(data)
    assert "AWS_ACCESS_KEY_ID" not in out, out


def _admin(*args):
    return run_ccfd("credentials", *args)


def test_credentials_subcommand_and_sighup(ccfd_factory):
    s = ccfd_factory()
    d = str(s.data_dir)
    r = _admin("add", "--data-dir", d, "--account-id", OTHER_ACCOUNT_ID)
    assert r.returncode == 0, r
    key = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", r.stdout).group(1)
    secret = re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", r.stdout).group(1)
    assert "kill -HUP" in r.stdout
    listed = _admin("list", "--data-dir", d)
    assert listed.returncode == 0 and key in listed.stdout and secret not in listed.stdout, listed
    assert (Path(d) / "credentials").stat().st_mode & 0o777 == 0o600

    new = Client(s.port, credentials=(key, secret), arn_prefix=f"arn:aws:ccf:{REGION}:{OTHER_ACCOUNT_ID}:custom-connector/")
    refused(new.get(CONNECTORS), UNRECOGNIZED)  # not before the reload
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5 * SCALE
    while (r := new.get(CONNECTORS)).status != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    expect(r, 200)
    assert new.create_connector()["arn"].split(":")[4] == OTHER_ACCOUNT_ID

    # A scoped key, from the file: its connector's documents only.
    cid = s.client.create_connector()["connector_id"]
    r = _admin("add", "--data-dir", d, "--account-id", ACCOUNT_ID, "--connector-id", cid)
    assert r.returncode == 0, r
    scoped = (re.search(r"AWS_ACCESS_KEY_ID=(\S+)", r.stdout).group(1),
              re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", r.stdout).group(1))

    # A file others can read is refused on reload: the keys in use stay.
    os.chmod(Path(d) / "credentials", 0o644)
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5 * SCALE
    while "auth.reload_failed" not in s.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "auth.reload_failed" in s.log_text()
    expect(new.get(CONNECTORS), 200)
    refused(Client(s.port, credentials=scoped).get(f"{CONNECTORS}/{cid}/documents"), UNRECOGNIZED)
    os.chmod(Path(d) / "credentials", 0o600)
    s.proc.send_signal(signal.SIGHUP)
    sc = Client(s.port, credentials=scoped)
    deadline = time.monotonic() + 5 * SCALE
    while (r := sc.get(f"{CONNECTORS}/{cid}/documents")).status != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    expect(r, 200)
    refused(sc.get(f"{CONNECTORS}/{cid}"), DENIED)
    refused(sc.get(CONNECTORS), DENIED)

    r = _admin("revoke", key, "--data-dir", d)
    assert r.returncode == 0 and "kill -HUP" in r.stdout, r
    assert _admin("revoke", key, "--data-dir", d).returncode == 1
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5 * SCALE
    while (r := new.get(CONNECTORS)).status == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    refused(r, UNRECOGNIZED)
    expect(s.client.get(CONNECTORS), 200)
    assert secret not in s.log_text()


def test_credentials_subcommand_usage_errors(tmp_path):
    assert _admin().returncode == 2
    assert _admin("nope").returncode == 2
    assert _admin("add", "--data-dir", str(tmp_path)).returncode == 2  # no --account-id
    assert _admin("add", "--data-dir", str(tmp_path), "--account-id", "123").returncode == 2
    assert _admin("add", "--data-dir", str(tmp_path), "--account-id", ACCOUNT_ID,
                  "--expires-at", "2001-01-01T00:00:00Z").returncode == 2
    assert _admin("list", "--data-dir", str(tmp_path)).returncode == 1  # no file yet
    assert _admin("--help").returncode == 0


def test_expired_key_in_the_file(ccfd_factory, tmp_path):
    data = tmp_path / "exp"
    data.mkdir()
    write_credentials(data / "credentials", [ACCOUNT_ID])
    with open(data / "credentials", "a") as f:
        f.write("[AKIAEXPIRED000000000]\nsecret_access_key = expired-secret-0123456789\n"
                "account_id = 123456789012\nexpires_at = 2001-01-01T00:00:00Z\n")
    s = ccfd_factory(data_dir=data)
    r = Client(s.port, credentials=("AKIAEXPIRED000000000", "expired-secret-0123456789")).get(CONNECTORS)
    refused(r, UNRECOGNIZED, "The security token included in the request is expired.")


def test_log_names_the_signer_never_the_secret(server, client):
    client.get(f"{CONNECTORS}/{MISSING_CONNECTOR}")
    rid = client.get(CONNECTORS).header("x-amzn-RequestId")
    key, secret = account_key(ACCOUNT_ID)
    deadline = time.monotonic() + 2 * SCALE
    while rid not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    line = next(x for x in server.log_text().splitlines() if rid in x)
    assert f"account={ACCOUNT_ID}" in line and f"access_key_id={key}" in line, line
    assert secret not in server.log_text()


# auth = none.


def test_auth_none_serves_unsigned_requests_as_the_local_account(ccfd_factory):
    s = ccfd_factory(account_id="444455556666", extra_args=["--executor", "none", "--auth", "none"])
    anon = Client(s.port, credentials=None, arn_prefix=f"arn:aws:ccf:{REGION}:444455556666:custom-connector/")
    made = anon.create_connector()
    assert ":444455556666:" in made["arn"]
    assert "auth.credentials_loaded" not in s.log_text() and "ccfd.auth_off" in s.log_text()


def test_auth_none_only_on_loopback(tmp_path):
    r = run_ccfd("--listen", "0.0.0.0:0", "--allow-insecure-listen", "--auth", "none", "--data-dir",
                 str(tmp_path / "d"))
    assert r.returncode == 2 and "auth" in r.stderr, r
