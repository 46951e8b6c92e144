"""SigV4 authentication against a live ccfd (CONTRACT.md, "Auth" and
"Order of checks"): boto3 and the AWS CLI with the project's botocore
model, every refusal with its errorType, and the order of checks. Tenancy
and per-job credentials are in test_auth_jobs.py, the credentials file and
auth = none in test_auth_file.py; the helpers in authtest.py."""

import datetime
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from authtest import (  # noqa: F401 - boto3_client: a fixture
    INVALID,
    MISSING,
    MODEL_DIR,
    MSG_MISMATCH,
    SCALE,
    TERMINAL,
    UNRECOGNIZED,
    boto3_client,
    jobs_server,
    refused,
    send,
    signed,
    wait_job,
)
from ccftest import (
    ACCOUNT_ID,
    CONNECTORS,
    MISSING_CONNECTOR,
    REGION,
    Client,
    account_key,
    check_response,
    checksum,
    expect,
    expect_error,
    parse_raw_response,
    q,
    raw_exchange,
    sign_headers,
    signed_head,
)


# boto3 and the AWS CLI, with the model in clients/botocore.


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
