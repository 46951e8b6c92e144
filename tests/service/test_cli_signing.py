"""The ccf CLI's signed requests: against a real ccfd with the test
accounts' keys, and against a small fake server that checks what no real
ccfd can show: that requests are SigV4-signed correctly (sorted, encoded
queries; the session token signed) from each credentials source, and that
malformed answers end in an error, never a crash.
"""

import hashlib
import hmac
import http.server
import json
import re
import threading
import urllib.parse

import pytest

from ccftest import ACCOUNT_ID, checksum, not_found_connector
from clitest import api_error, ccf, create, ok, run_ccf, usage_error  # noqa: F401 - ccf: a fixture

try:  # the test accounts' keys, once the service tests sign
    from ccftest import OTHER_ACCOUNT_ID, account_key
except ImportError:  # pragma: no cover
    OTHER_ACCOUNT_ID = account_key = None


# ---------------------------------------------------------------- authentication

def test_signed_requests_against_ccfd(ccf, server, tmp_path):
    """ccf's libcurl signature, as ccfd verifies it (once ccfd authenticates)."""
    if account_key is None or not (server.data_dir / "credentials").exists():
        pytest.skip("ccfd has no credentials file: requests are not authenticated yet")
    endpoint = f"http://127.0.0.1:{server.port}"
    unsigned = run_ccf(endpoint, "connector", "list", "--max-items", "1", "--no-sign-request",
                       cwd=tmp_path)
    if unsigned.rc == 0:
        pytest.skip("ccfd accepts unsigned requests: authentication is off")
    api_error(unsigned, "MissingAuthenticationTokenException")

    cid = create(ccf, "--command", "/bin/true")["connector_id"]  # signed from the file
    key, secret = account_key(ACCOUNT_ID)[:2]
    good = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    r = ok(run_ccf(endpoint, "connector", "get", cid, "--output", "json", cwd=tmp_path, env=good))
    assert r.json["connector"]["connector_id"] == cid
    # Bodies, and queries with several parameters (signed sorted and encoded).
    f = tmp_path / "docs.tsv"
    f.write_text("".join(f"d/{i:04d} é+=&?\t{checksum(str(i))}\n" for i in range(2500)))
    ok(run_ccf(endpoint, "document", "put", cid, "--file", str(f), cwd=tmp_path, env=good))
    r = ok(run_ccf(endpoint, "document", "list", cid, "--page-size", "7", "--max-items", "30",
                   "--output", "json", cwd=tmp_path, env=good))
    assert len(r.json["documents"]) == 30 and r.json["next_token"]  # 4 pages of 7, then 2
    r = ok(run_ccf(endpoint, "document", "list", cid, "--starting-token", r.json["next_token"],
                   "--output", "json", cwd=tmp_path, env=good))
    assert len(r.json["documents"]) == 2500 - 30
    r = ok(run_ccf(endpoint, "job", "list", cid, "--status", "FAILED", "--page-size", "2",
                   "--output", "json", cwd=tmp_path, env=good))
    assert r.json == {"jobs": []}

    bad = dict(good, AWS_SECRET_ACCESS_KEY="not-the-secret-0000")
    api_error(run_ccf(endpoint, "connector", "get", cid, cwd=tmp_path, env=bad),
              "InvalidSignatureException")
    unknown = {"AWS_ACCESS_KEY_ID": "AKIANOSUCHKEY0000000", "AWS_SECRET_ACCESS_KEY": secret}
    api_error(run_ccf(endpoint, "connector", "get", cid, cwd=tmp_path, env=unknown),
              "UnrecognizedClientException")
    # Another tenant's key: the connector does not exist for it.
    other = account_key(OTHER_ACCOUNT_ID)[:2]
    api_error(run_ccf(endpoint, "connector", "get", cid, cwd=tmp_path,
                      env={"AWS_ACCESS_KEY_ID": other[0], "AWS_SECRET_ACCESS_KEY": other[1]}),
              "ResourceNotFoundException", not_found_connector(cid))


# ---------------------------------------------------------------- a fake server

class FakeApi:
    """An HTTP server that records requests and answers from a table, to
    check signing and the client's handling of answers no ccfd gives."""

    def __init__(self):
        self.requests = []
        self.routes = {}  # (method, path) -> (status, headers, body bytes)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path = self.path.split("?")[0]
                fake.requests.append({
                    "method": method, "target": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                answers = fake.routes.get((method, path), [(404, {}, json.dumps(
                    {"message": "no route", "errorType": "ResourceNotFoundException"}).encode())])
                status, headers, out = answers.pop(0) if len(answers) > 1 else answers[0]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):
                self.handle_one("GET")

            def do_POST(self):
                self.handle_one("POST")

            def do_PUT(self):
                self.handle_one("PUT")

            def do_DELETE(self):
                self.handle_one("DELETE")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def route(self, method, path, status=200, body=b"", headers=None, times=None):
        """Answers (method, path) so; with times=N only the next N times,
        then what is routed after (the last answer repeats)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        h = {"Content-Type": "application/json"} if body else {}
        h.update(headers or {})
        if times is None:
            self.routes[(method, path)] = [(status, h, body)]
        else:
            self.routes.setdefault((method, path), [])
            self.routes[(method, path)][:0] = [(status, h, body)] * times

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake(tmp_path):
    f = FakeApi()
    yield f
    f.close()


# The fake server checks signatures only where a test asks; ccf must sign
# with something, as it no longer sends unsigned unless told to.
FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "AKIAFAKE000000000000", "AWS_SECRET_ACCESS_KEY": "fake"}


def fake_ccf(fake, tmp_path, *args, env=None, cwd=None, keys=True, **kw):
    if env is None and keys:
        env = FAKE_KEYS
    return run_ccf(f"http://127.0.0.1:{fake.port}", *args, cwd=cwd or tmp_path, env=env, **kw)


T0 = "2026-11-24T23:54:14.123456Z"
CID = "cc-0123456789ab"


def summary(cid=CID):
    return {"connector_id": cid, "arn": f"arn:aws:ccf:us-east-1:123456789012:custom-connector/{cid}",
            "name": "n-1", "status": "AVAILABLE", "created_at": T0, "updated_at": T0}


def sigv4_check(req, key_id, secret, region="us-east-1", service="execute-api", token=None):
    """Verifies req's SigV4 signature as AWS documents it (and as ccfd will)."""
    h = req["headers"]
    m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", h.get("authorization", ""))
    assert m, f"no SigV4 Authorization header: {h}"
    kid, date, reg, svc, signed, sig = m.groups()
    assert (kid, reg, svc) == (key_id, region, service)
    amz_date = h["x-amz-date"]
    assert amz_date.startswith(date)
    signed_list = signed.split(";")
    assert "host" in signed_list and "x-amz-date" in signed_list
    if token:
        assert h["x-amz-security-token"] == token and "x-amz-security-token" in signed_list
    else:
        assert "x-amz-security-token" not in h
    path, _, query = req["target"].partition("?")
    enc = lambda s: urllib.parse.quote(s, safe="-_.~")  # noqa: E731
    pairs = sorted((enc(urllib.parse.unquote(k)), enc(urllib.parse.unquote(v)))
                   for k, _, v in (p.partition("=") for p in query.split("&") if p))
    canon_query = "&".join(f"{k}={v}" for k, v in pairs)
    # libcurl signs the query as sent: it must already be canonical.
    assert query == canon_query, f"query not sorted/encoded: {query!r} vs {canon_query!r}"
    canon_headers = "".join(f"{n}:{' '.join(h[n].split())}\n" for n in signed_list)
    canon = "\n".join([req["method"], "/".join(enc(s) for s in path.split("/")), canon_query,
                       canon_headers, signed, hashlib.sha256(req["body"]).hexdigest()])
    scope = f"{date}/{reg}/{svc}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canon.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, reg, svc, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(want, sig), f"bad signature for {req['method']} {req['target']}"


def test_requests_are_signed_from_every_source(fake, tmp_path):
    fake.route("GET", "/api/v1/custom-connectors", body={"connectors": [summary()]})
    fake.route("POST", "/api/v1/custom-connectors/" + CID + "/documents", 202, body={})
    fake.route("PUT", "/api/v1/custom-connectors/" + CID + "/checkpoint", 202, body={})
    fake.route("DELETE", "/api/v1/custom-connectors/" + CID, 204)

    # No credentials anywhere: an error that says where ccf looked, and
    # nothing sent; unsigned only when asked for.
    before = len(fake.requests)
    r = fake_ccf(fake, tmp_path, "connector", "list", keys=False)
    assert r.rc == 2 and r.out == "", r
    assert r.err.startswith("ccf: CredentialsError: no credentials found; looked in: "), r
    for place in ("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (not set)",
                  f"{tmp_path}/.aws/credentials (no such file)", "CCF_CREDENTIALS_FILE (not set)",
                  "./var/credentials (no such file)", "--no-sign-request"):
        assert place in r.err, r
    assert len(fake.requests) == before
    ok(fake_ccf(fake, tmp_path, "connector", "list", "--no-sign-request", keys=False))
    assert "authorization" not in fake.requests[-1]["headers"]
    usage_error(fake_ccf(fake, tmp_path, "connector", "list", "--no-sign-request", "--profile", "x"),
                "--no-sign-request")

    # The environment; a session token is sent and signed.
    env = {"AWS_ACCESS_KEY_ID": "AKIAENV0000000000000", "AWS_SECRET_ACCESS_KEY": "env/secret+key",
           "AWS_SESSION_TOKEN": "tok-123", "AWS_REGION": "eu-west-1"}
    ok(fake_ccf(fake, tmp_path, "connector", "list", "--page-size", "7", "--starting-token",
                "a b=c/d", env=env))
    req = fake.requests[-1]
    assert req["target"] == "/api/v1/custom-connectors?max_results=7&next_token=a%20b%3Dc%2Fd"
    sigv4_check(req, "AKIAENV0000000000000", "env/secret+key", region="eu-west-1", token="tok-123")

    # Bodies are signed too: a document batch, a checkpoint, an empty DELETE.
    f = tmp_path / "d.tsv"
    f.write_text(f"a\t{checksum()}\nb\u00e9\t{checksum('b')}\n")
    ok(fake_ccf(fake, tmp_path, "document", "put", CID, "--file", str(f), env=env))
    sigv4_check(fake.requests[-1], "AKIAENV0000000000000", "env/secret+key", region="eu-west-1",
                token="tok-123")
    assert fake.requests[-1]["headers"]["content-type"] == "application/json"
    ok(fake_ccf(fake, tmp_path, "checkpoint", "put", CID, "--data", "x\u00e9", env=env))
    sigv4_check(fake.requests[-1], "AKIAENV0000000000000", "env/secret+key", region="eu-west-1",
                token="tok-123")
    ok(fake_ccf(fake, tmp_path, "connector", "delete", CID, env=env))
    sigv4_check(fake.requests[-1], "AKIAENV0000000000000", "env/secret+key", region="eu-west-1",
                token="tok-123")

    # Flags beat the environment.
    ok(fake_ccf(fake, tmp_path, "connector", "list", "--access-key-id", "AKIAFLAG000000000000",
                "--secret-access-key", "flagsecret", "--region", "us-west-2", env=env))
    sigv4_check(fake.requests[-1], "AKIAFLAG000000000000", "flagsecret", region="us-west-2")

    # CCF_CREDENTIALS_FILE: the first section, or the one --access-key-id names.
    cred = tmp_path / "creds"
    cred.write_text("# ccf\n[AKIAFILEONE000000000]\nsecret_access_key = one\naccount_id = 123456789012\n"
                    "\n[AKIAFILETWO000000000]\nsecret_access_key = two\nsession_token = t2\n")
    cred.chmod(0o600)
    ok(fake_ccf(fake, tmp_path, "connector", "list", env={"CCF_CREDENTIALS_FILE": str(cred)}))
    sigv4_check(fake.requests[-1], "AKIAFILEONE000000000", "one")
    ok(fake_ccf(fake, tmp_path, "connector", "list", "--access-key-id", "AKIAFILETWO000000000",
                env={"CCF_CREDENTIALS_FILE": str(cred)}))
    sigv4_check(fake.requests[-1], "AKIAFILETWO000000000", "two", token="t2")
    r = fake_ccf(fake, tmp_path, "connector", "list", "--access-key-id", "AKIANOSUCHKEY0000000",
                 env={"CCF_CREDENTIALS_FILE": str(cred)})
    assert r.rc == 2 and "CredentialsError" in r.err
    r = fake_ccf(fake, tmp_path, "connector", "list",
                 env={"CCF_CREDENTIALS_FILE": str(tmp_path / "nope")})
    assert r.rc == 2 and "CCF_CREDENTIALS_FILE" in r.err

    # Last: ./var/credentials, as `make run` leaves it.
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "credentials").write_text(
        "[AKIALOCAL00000000000]\nsecret_access_key = s3cr3t-local\n")
    ok(fake_ccf(fake, tmp_path, "connector", "list", keys=False))
    sigv4_check(fake.requests[-1], "AKIALOCAL00000000000", "s3cr3t-local")

    # The AWS shared credentials file (HOME is tmp_path) comes before
    # CCF_CREDENTIALS_FILE and ./var/credentials: [default], AWS_PROFILE,
    # --profile (which outranks the AWS_* keys), AWS_SHARED_CREDENTIALS_FILE.
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIADEFAULT000000000\naws_secret_access_key = s3cr3t-default\n"
        "# a comment\n[dev]\naws_access_key_id = AKIADEV0000000000000\n"
        "aws_secret_access_key = s3cr3t-dev\naws_session_token = devtok\n")
    ok(fake_ccf(fake, tmp_path, "connector", "list", env={"CCF_CREDENTIALS_FILE": str(cred)}))
    sigv4_check(fake.requests[-1], "AKIADEFAULT000000000", "s3cr3t-default")
    ok(fake_ccf(fake, tmp_path, "connector", "list", env={"AWS_PROFILE": "dev"}))
    sigv4_check(fake.requests[-1], "AKIADEV0000000000000", "s3cr3t-dev", token="devtok")
    ok(fake_ccf(fake, tmp_path, "connector", "list", "--profile", "dev", env=env))
    sigv4_check(fake.requests[-1], "AKIADEV0000000000000", "s3cr3t-dev", token="devtok", region="eu-west-1")
    ok(fake_ccf(fake, tmp_path, "connector", "list", env={**env, "AWS_PROFILE": "dev"}))
    sigv4_check(fake.requests[-1], "AKIAENV0000000000000", "env/secret+key", region="eu-west-1",
                token="tok-123")
    r = fake_ccf(fake, tmp_path, "connector", "list", "--profile", "nope", keys=False)
    assert r.rc == 2 and "no profile [nope] (named by --profile)" in r.err, r
    other = tmp_path / "other-credentials"
    other.write_text("[default]\naws_access_key_id = AKIAOTHER00000000000\n"
                     "aws_secret_access_key = s3cr3t-other\n")
    ok(fake_ccf(fake, tmp_path, "connector", "list",
                env={"AWS_SHARED_CREDENTIALS_FILE": str(other)}))
    sigv4_check(fake.requests[-1], "AKIAOTHER00000000000", "s3cr3t-other")
    # A secret is never sent.
    for req in fake.requests:
        sent = req["target"] + "".join(req["headers"].values()) + req["body"].decode("utf-8", "replace")
        assert not any(x in sent for x in ("s3cr3t-local", "env/secret+key", "flagsecret", "s3cr3t-default",
                                           "s3cr3t-dev", "s3cr3t-other"))


def test_malformed_answers_are_errors(fake, tmp_path):
    def expect(r, error_type):
        assert r.rc == 1, r
        assert r.err.startswith(f"ccf: {error_type}: "), r

    base = "/api/v1/custom-connectors/" + CID
    fake.route("GET", base, body=b"this is not json")
    expect(fake_ccf(fake, tmp_path, "connector", "get", CID), "InvalidResponseError")
    fake.route("GET", base, body={"connector": {"connector_id": CID, "name": 5}})
    expect(fake_ccf(fake, tmp_path, "connector", "get", CID), "InvalidResponseError")
    fake.route("GET", base, body={"connector": summary()})  # no container_properties
    expect(fake_ccf(fake, tmp_path, "connector", "get", CID), "InvalidResponseError")
    fake.route("GET", base, 500, b"<html>oops</html>", {"Content-Type": "text/html"})
    r = fake_ccf(fake, tmp_path, "connector", "get", CID)
    expect(r, "HttpError")
    assert "500" in r.err
    fake.route("GET", base, 404, {"message": "gone\u001b[2J", "errorType": "ResourceNotFoundException"})
    r = fake_ccf(fake, tmp_path, "connector", "get", CID)
    expect(r, "ResourceNotFoundException")
    assert "\u001b" not in r.err

    # Pages that would loop forever: an empty page with a token, a repeated token.
    fake.route("GET", "/api/v1/custom-connectors", body={"connectors": [], "next_token": "again"})
    expect(fake_ccf(fake, tmp_path, "connector", "list"), "InvalidResponseError")
    fake.route("GET", "/api/v1/custom-connectors",
               body={"connectors": [summary()], "next_token": "again"})
    expect(fake_ccf(fake, tmp_path, "connector", "list", "--starting-token", "again"),
           "InvalidResponseError")
    fake.route("GET", "/api/v1/custom-connectors", body={"connectors": [summary()] * 3})
    expect(fake_ccf(fake, tmp_path, "connector", "list", "--page-size", "2"), "InvalidResponseError")

    # Logs without their headers.
    fake.route("GET", base + "/jobs/ccj-0123456789ab/logs", body=b"text")
    expect(fake_ccf(fake, tmp_path, "job", "logs", CID, "ccj-0123456789ab"), "InvalidResponseError")

    # 503 is retried as Retry-After says, then reported.
    fake.route("GET", base + "/checkpoint", 503,
               {"message": "shutting down", "errorType": "ServiceUnavailableException"},
               {"Retry-After": "0"})
    before = len(fake.requests)
    expect(fake_ccf(fake, tmp_path, "checkpoint", "get", CID), "ServiceUnavailableException")
    assert len(fake.requests) - before == 4


def test_wait_rides_out_an_unavailable_server(fake, tmp_path):
    jid = "ccj-0123456789ab"
    path = f"/api/v1/custom-connectors/{CID}/jobs/{jid}"
    job = {"job_id": jid, "connector_id": CID, "created_at": T0, "updated_at": T0}
    fake.route("GET", path, body={"job": dict(job, status="SUCCEEDED", exit_code=0)})
    fake.route("GET", path, 503, {"message": "restarting", "errorType": "ServiceUnavailableException"},
               {"Retry-After": "0"}, times=6)
    fake.route("GET", path, body={"job": dict(job, status="RUNNING")}, times=1)
    r = fake_ccf(fake, tmp_path, "job", "wait", CID, jid, "--output", "json")
    assert r.rc == 0 and r.json["job"]["status"] == "SUCCEEDED", r
    assert "retrying for up to" in r.err
    # A failure that is no outage ends the wait at once.
    fake.route("GET", path, 404, {"message": f"Job {jid} not found",
                                  "errorType": "ResourceNotFoundException"})
    api_error(fake_ccf(fake, tmp_path, "job", "wait", CID, jid), "ResourceNotFoundException")
