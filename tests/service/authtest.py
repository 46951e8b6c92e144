"""What the service tests of authentication (test_auth*.py) share: the
errorTypes, requests sent with exactly the headers given, signed or not, a
ccfd whose jobs run, waiting for a job, and boto3 with the project's
botocore model (the boto3_client fixture, imported by the modules that use
it)."""

import http.client
import os
import time
from pathlib import Path

import pytest

from ccftest import (
    REGION,
    Response,
    account_key,
    check_response,
    expect_error,
    sign_headers,
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
