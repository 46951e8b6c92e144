"""Support for the ccfd service tests (CONTRACT.md is the authority).

An HTTP client built on http.client, so that a test sends exactly the bytes
and the request-target it names (urllib3, under requests, rewrites targets:
it removes dot segments and re-cases percent-escapes). Every response goes
through check_response, which asserts the contract's general rules: a
unique x-amzn-RequestId, a JSON Content-Type on a body, the error shape and
x-amzn-ErrorType, no null anywhere, timestamp and id formats.

Every request is signed with SigV4 by botocore's signer (Client._sign, and
sign_headers for raw sockets), with a key of the credentials file that
write_credentials puts in each server's data directory before it starts:
one fixed key per test account (test_key).
"""

import datetime
import hashlib
import http.client
import itertools
import json
import os
import random
import re
import select
import socket
import ssl
import threading
import time
import urllib.parse

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
OTHER_ACCOUNT_ID = "210987654321"  # a second tenant
SERVICE = "execute-api"
ARN_PREFIX = f"arn:aws:ccf:{REGION}:{ACCOUNT_ID}:custom-connector/"
API = "/api/v1"
CONNECTORS = "/api/v1/custom-connectors"

CONNECTOR_ID_RE = re.compile(r"^cc-[0-9a-f]{12}$")
JOB_ID_RE = re.compile(r"^ccj-[0-9a-f]{12}$")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_.~=-]{1,2048}$")

# Well-formed ids that no test ever creates (ids are 48 random bits).
MISSING_CONNECTOR = "cc-0123456789ab"
MISSING_JOB = "ccj-0123456789ab"

IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/connector:latest"
EXEC_ROLE = "arn:aws:iam::123456789012:role/ccf-execution"
JOB_ROLE = "arn:aws:iam::123456789012:role/ccf-job"

BODY_MAX = 8 * 1024 * 1024
CHECKPOINT_MAX = 1024 * 1024

ERROR_TYPES = {
    400: {"BadRequestException", "ExpiredCursorException", "LimitExceededException"},
    403: {
        "MissingAuthenticationTokenException",
        "InvalidSignatureException",
        "UnrecognizedClientException",
        "AccessDeniedException",
    },
    404: {"ResourceNotFoundException"},
    405: {"MethodNotAllowedException"},
    409: {"ConflictException"},
    412: {"PreconditionFailedException"},
    413: {"PayloadTooLargeException"},
    415: {"UnsupportedMediaTypeException"},
    429: {"ThrottlingException"},
    500: {"InternalServerErrorException"},
    503: {"ServiceUnavailableException"},
}

SUMMARY_REQUIRED = {"connector_id", "arn", "name", "status", "created_at", "updated_at"}
SUMMARY_OPTIONAL = {"description", "active_job_id", "schedule", "next_run_at", "paused"}
JOB_REQUIRED = {"job_id", "connector_id", "status", "created_at", "updated_at"}
JOB_OPTIONAL = {"started_at", "completed_at", "exit_code", "failure_reason", "trigger"}
DOC_KEYS = {"document_id", "checksum", "created_at", "updated_at"}
CHECKPOINT_KEYS = {"connector_id", "checkpoint_data", "created_at", "updated_at", "version"}
JOB_STATUSES = ["STARTED", "RUNNING", "STOPPING", "SUCCEEDED", "FAILED", "STOPPED"]

# CCF_STRICT=0 turns off the general checks on every response (to see which
# specific behaviours fail when one general rule is broken everywhere).
STRICT = os.environ.get("CCF_STRICT", "1") != "0"

_counter = itertools.count(1)
_run = "%06x" % random.getrandbits(24)


def unique_name(prefix="t"):
    """A valid, unique connector name (^[a-zA-Z0-9-]+$, 3..128)."""
    return f"{prefix}-{_run}-{next(_counter)}"


def checksum(seed="x", n=64):
    """A valid checksum: n printable ASCII characters (0x21..0x7E)."""
    s = (seed + "0123456789abcdef") * (n // (len(seed) + 16) + 1)
    return s[:n]


def props(**over):
    """Valid container_properties (image form), with overrides; a value of
    DROP removes the key."""
    p = {"image_uri": IMAGE_URI, "execution_role_arn": EXEC_ROLE, "job_role_arn": JOB_ROLE}
    for k, v in over.items():
        if v is DROP:
            p.pop(k, None)
        else:
            p[k] = v
    return p


class _Drop:
    def __repr__(self):
        return "DROP"


DROP = _Drop()


def with_defaults(p):
    """container_properties as GetCustomConnector must show them: defaults filled."""
    out = json.loads(json.dumps(p))
    rr = out.setdefault("resource_requirements", {})
    rr.setdefault("cpu", 1)
    rr.setdefault("memory", 2048)
    out.setdefault("timeout", 3600)
    return out


def merge_patch(target, patch):
    """RFC 7396."""
    if not isinstance(patch, dict):
        return json.loads(json.dumps(patch))
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def parse_time(s):
    assert isinstance(s, str) and TIME_RE.match(s), f"bad timestamp {s!r}"
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc
    )


def assert_recent(s, slack=300):
    t = parse_time(s).timestamp()
    now = time.time()
    assert abs(now - t) < slack, f"timestamp {s} is not near now ({now})"


def q(*pairs, **params):
    """A query string ('?a=b&...') from pairs and keywords, percent-encoded."""
    items = list(pairs) + list(params.items())
    if not items:
        return ""
    return "?" + "&".join(
        urllib.parse.quote(str(k), safe="") + "=" + urllib.parse.quote(str(v), safe="")
        for k, v in items
    )


def _no_dup_keys(pairs):
    d = {}
    for k, v in pairs:
        assert k not in d, f"duplicate key {k!r} in a response"
        d[k] = v
    return d


def _bad_constant(name):
    raise AssertionError(f"non-JSON constant {name} in a response")


class Response:
    def __init__(self, method, target, req_body, status, reason, headers, body):
        self.method = method
        self.target = target
        self.req_body = req_body
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body
        self._json = None
        self._parsed = False

    def header(self, name):
        vals = self.header_all(name)
        return vals[0] if vals else None

    def header_all(self, name):
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    @property
    def json(self):
        if not self._parsed:
            try:
                text = self.body.decode("utf-8")
                self._json = json.loads(
                    text, object_pairs_hook=_no_dup_keys, parse_constant=_bad_constant
                )
            except (UnicodeDecodeError, ValueError) as e:
                raise AssertionError(f"response body is not JSON ({e}): {self}") from None
            self._parsed = True
        return self._json

    def __str__(self):
        rb = self.req_body
        if isinstance(rb, (bytes, bytearray)) and len(rb) > 300:
            rb = bytes(rb[:300]) + b"...(%d bytes)" % len(rb)
        body = self.body if len(self.body) <= 600 else self.body[:600] + b"..."
        return (
            f"{self.method} {self.target[:300]} body={rb!r} -> {self.status} "
            f"{dict((k.lower(), v) for k, v in self.headers)} {body!r}"
        )

    __repr__ = __str__


def media_type(ct):
    return (ct or "").split(";")[0].strip().lower()


class Ids:
    """Request ids seen from one server process (they must be unique)."""

    def __init__(self):
        self.seen = set()
        self.lock = threading.Lock()

    def add(self, rid, resp):
        with self.lock:
            assert rid not in self.seen, f"x-amzn-RequestId {rid!r} repeated: {resp}"
            self.seen.add(rid)


def check_values(obj, resp, path="$", arn_prefix=ARN_PREFIX):
    """No null anywhere; formats of well-known keys."""
    if obj is None:
        raise AssertionError(f"null at {path} (unset optional fields must be omitted): {resp}")
    if isinstance(obj, list):
        for i, v in enumerate(obj):
            check_values(v, resp, f"{path}[{i}]", arn_prefix)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{path}.{k}"
            if v is None:
                raise AssertionError(f"null at {p}: {resp}")
            if k.endswith("_at"):
                assert isinstance(v, str) and TIME_RE.match(v), f"bad timestamp at {p}: {resp}"
                parse_time(v)
            elif k == "connector_id":
                assert isinstance(v, str) and CONNECTOR_ID_RE.match(v), f"bad id at {p}: {resp}"
            elif k in ("job_id", "active_job_id"):
                assert isinstance(v, str) and JOB_ID_RE.match(v), f"bad id at {p}: {resp}"
            elif k == "arn":
                assert isinstance(v, str) and v.startswith(arn_prefix), f"bad arn at {p}: {resp}"
                assert CONNECTOR_ID_RE.match(v[len(arn_prefix):]), f"bad arn at {p}: {resp}"
            elif k == "next_token":
                assert isinstance(v, str) and TOKEN_RE.match(v), f"bad next_token: {resp}"
            if k not in ("checkpoint_data",):
                check_values(v, resp, p, arn_prefix)


def check_response(resp, ids=None, arn_prefix=ARN_PREFIX):
    """The contract's general rules, for every response under /api/v1."""
    rids = resp.header_all("x-amzn-RequestId")
    assert len(rids) == 1 and rids[0].strip(), f"missing x-amzn-RequestId: {resp}"
    if ids is not None:
        ids.add(rids[0], resp)
    if not resp.target.startswith(API):
        return
    if resp.status == 204:
        assert resp.body == b"", f"204 with a body: {resp}"
    if resp.body:
        assert media_type(resp.header("Content-Type")) == "application/json", (
            f"body without a JSON Content-Type: {resp}"
        )
        check_values(resp.json, resp, arn_prefix=arn_prefix)
    if resp.status >= 400:
        check_error_shape(resp)
    if resp.status == 405:
        assert resp.header("Allow"), f"405 without Allow: {resp}"


def check_error_shape(resp):
    assert resp.status in ERROR_TYPES, f"status outside the contract's table: {resp}"
    assert media_type(resp.header("Content-Type")) == "application/json", f"{resp}"
    body = resp.json
    assert isinstance(body, dict) and set(body) == {"message", "errorType"}, (
        f"error body must be exactly message and errorType: {resp}"
    )
    msg, et = body["message"], body["errorType"]
    assert isinstance(msg, str) and 1 <= len(msg) <= 1024, f"bad message length: {resp}"
    assert et in ERROR_TYPES[resp.status], f"errorType {et!r} for {resp.status}: {resp}"
    assert resp.header_all("x-amzn-ErrorType") == [et], f"x-amzn-ErrorType != errorType: {resp}"


def expect(resp, status):
    assert resp.status == status, f"expected {status}, got: {resp}"
    return resp


def expect_error(resp, status, message=None, mentions=()):
    """An error response of the given status, exact message or one that
    mentions one of the given words (a field name or an id)."""
    expect(resp, status)
    check_error_shape(resp)
    msg = resp.json["message"]
    if message is not None:
        if isinstance(message, (tuple, list, set)):
            assert msg in message, f"message {msg!r} not one of {message}: {resp}"
        else:
            assert msg == message, f"message {msg!r} != {message!r}: {resp}"
    if mentions:
        if isinstance(mentions, str):
            mentions = (mentions,)
        assert any(m in msg for m in mentions), f"message {msg!r} names none of {mentions}: {resp}"
    return resp


def not_found_connector(cid):
    return f"Connector {cid} not found"


def not_found_job(jid):
    return f"Job {jid} not found"


def not_found_checkpoint(cid):
    return f"Checkpoint for connector {cid} not found"


_UNSET = object()


# SigV4.


def account_key(account_id):
    """The fixed key pair of a test account: (access key id, secret)."""
    digest = hashlib.sha256(f"ccf-test-{account_id}".encode()).hexdigest()
    return f"AKIATEST{account_id}", f"test/{digest[:36]}"


def write_credentials(path, accounts):
    """Adds a [key] section for each account that has none yet to the
    credentials file at path (made mode 0600 if missing)."""
    path = str(path)
    text = open(path).read() if os.path.exists(path) else ""
    for account in accounts:
        key, secret = account_key(account)
        if f"[{key}]" not in text:
            text += f"[{key}]\nsecret_access_key = {secret}\naccount_id = {account}\n\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def _requote(s):
    return urllib.parse.quote(urllib.parse.unquote_to_bytes(s), safe="-_.~")


def canonical_query(query):
    """A query as SigV4 signs it (AWS's rules, which ccfd follows): each
    name and value decoded, then encoded again, sorted; empty parts go.
    botocore signs a URL's query as written, so it gets this form."""
    pairs = []
    for part in query.split("&"):
        if part:
            k, _, v = part.partition("=")
            pairs.append((_requote(k), _requote(v)))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


class _SigV4At(SigV4Auth):
    """SigV4Auth at a given instant instead of now."""

    def __init__(self, credentials, service, region, when):
        super().__init__(credentials, service, region)
        self._when = when

    def add_auth(self, request):
        request.context["timestamp"] = self._when.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        creq = self.canonical_request(request)
        sts = self.string_to_sign(request, creq)
        self._inject_signature_to_request(request, self.signature(sts, request))


def sign_headers(method, target, headers, body, host, region=REGION, credentials=None,
                 service=SERVICE, when=None):
    """headers (a list of (name, value), Host among them) plus X-Amz-Date,
    the session token if any and Authorization, signed by botocore's
    SigV4Auth over the raw target and body. credentials: (key id, secret[,
    token]); default: the test account's key. when: a datetime (UTC) to sign
    at instead of now."""
    key, secret, *rest = credentials or account_key(ACCOUNT_ID)
    creds = Credentials(key, secret, rest[0] if rest else None)
    path, _, query = target.partition("?")
    cq = canonical_query(query)
    req = AWSRequest(method=method, url=f"http://{host}{path}" + (f"?{cq}" if cq else ""),
                     data=body or b"")
    for k, v in headers:
        req.headers[k] = v
    signer = SigV4Auth(creds, service, region) if when is None else _SigV4At(creds, service, region, when)
    signer.add_auth(req)
    return list(req.headers.items())


def endpoint_client(endpoint, env=os.environ):
    """A Client of a running deployment (make integ): endpoint is CCF_ENDPOINT
    (http[s]://host[:port], no path); the credentials are AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, the region AWS_REGION or
    AWS_DEFAULT_REGION. The ARN prefix is learnt from a connector it makes
    and deletes."""
    u = urllib.parse.urlsplit(endpoint)
    if u.scheme not in ("http", "https") or not u.hostname or u.path not in ("", "/"):
        raise ValueError(f"CCF_ENDPOINT must be http[s]://host[:port], not {endpoint!r}")
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if not key or not secret:
        raise ValueError("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set")
    creds = (key, secret, env["AWS_SESSION_TOKEN"]) if env.get("AWS_SESSION_TOKEN") else (key, secret)
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or REGION
    port = u.port or (443 if u.scheme == "https" else 80)
    c = Client(port, host=u.hostname, ids=Ids(), arn_prefix="arn:", region=region,
               credentials=creds, scheme=u.scheme)
    probe = c.post(CONNECTORS, {"name": unique_name("integ-probe"), "container_properties": props()},
                   check=False)
    assert probe.status == 201, f"cannot create a connector at {endpoint}: {probe}"
    summary = probe.json["connector"]
    cid = summary["connector_id"]
    c.arn_prefix = summary["arn"][: -len(cid)]
    c.runs_jobs = _runs_jobs(c, cid)
    c.delete(f"{CONNECTORS}/{cid}", check=False)  # a leftover probe harms nothing
    return c


def _runs_jobs(c, cid):
    """Whether the deployment runs jobs: an image-only connector's job, which
    ccfd cannot run, leaves STARTED at once where an executor runs."""
    job = c.post(f"{CONNECTORS}/{cid}/jobs", check=False).json["job"]["job_id"]
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        status = c.get(f"{CONNECTORS}/{cid}/jobs/{job}", check=False).json["job"]["status"]
        if status != "STARTED":
            return True
        time.sleep(0.1)
    c.post(f"{CONNECTORS}/{cid}/jobs/{job}/stop", check=False)
    return False



def job_ccf_binary():
    """The ccf CLI that a job's command runs: CCF_JOB_BIN, else CCF_BIN, else
    build/ccf. make asan sets CCF_JOB_BIN to the plain build: a job's memory
    is an address-space limit, under which ASan cannot map its shadow."""
    here = os.path.dirname(os.path.abspath(__file__))
    return (os.environ.get("CCF_JOB_BIN") or os.environ.get("CCF_BIN")
            or os.path.join(here, "..", "..", "build", "ccf"))


class Client:
    """credentials: (key id, secret[, token]) to sign with; default: the
    test account's key; None: requests go unsigned."""

    def __init__(self, port, host="127.0.0.1", ids=None, timeout=60, arn_prefix=ARN_PREFIX,
                 region=REGION, credentials=_UNSET, ssl_context=None, scheme="http"):
        # HTTPS with ssl_context, or with scheme "https": verified against
        # AWS_CA_BUNDLE or the system's CAs.
        if ssl_context is None and scheme == "https":
            ssl_context = ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)
        self.ssl_context = ssl_context
        self.scheme = "https" if ssl_context is not None else "http"
        self.region = region
        self.credentials = account_key(ACCOUNT_ID) if credentials is _UNSET else credentials
        self.arn_prefix = arn_prefix
        self.host = host
        self.port = port
        self.ids = ids if ids is not None else Ids()
        self.timeout = timeout
        self._conn = None

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self):
        c = self._conn
        if c is not None and c.sock is not None:
            # A readable idle keep-alive socket means the server closed it.
            r, _, _ = select.select([c.sock], [], [], 0)
            if r:
                c.close()
        if c is None and self.ssl_context is not None:
            c = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                            context=self.ssl_context)
            self._conn = c
        if c is None:
            c = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._conn = c
        return c

    def _sign(self, method, target, headers, body):
        """headers plus Host and, unless the client is unsigned, SigV4's."""
        host = f"{self.host}:{self.port}"
        headers = [("Host", host)] + headers
        if self.credentials is None:
            return headers
        return sign_headers(method, target, headers, body, host, self.region, self.credentials)

    def request(
        self,
        method,
        target,
        json_body=_UNSET,
        body=None,
        content_type=_UNSET,
        headers=None,
        chunks=None,
        check=True,
    ):
        """Sends one request. json_body: an object to encode; body: raw bytes
        (or str); chunks: an iterable of bytes sent chunked. Content-Type is
        application/json when a body is sent, unless content_type says
        otherwise (None: no Content-Type). No body: no Content-Length."""
        if json_body is not _UNSET:
            body = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        if isinstance(body, str):
            body = body.encode("utf-8")
        hdrs = []
        has_body = body is not None or chunks is not None
        if content_type is _UNSET:
            content_type = "application/json" if has_body else None
        if content_type is not None:
            hdrs.append(("Content-Type", content_type))
        if body is not None:
            hdrs.append(("Content-Length", str(len(body))))
        if chunks is not None:
            hdrs.append(("Transfer-Encoding", "chunked"))
        for k, v in (headers or {}).items():
            hdrs = [(n, x) for n, x in hdrs if n.lower() != k.lower()]
            if v is not None:
                hdrs.append((k, v))
        if chunks is not None:
            chunks = [bytes(c) for c in chunks]
        hdrs = self._sign(method, target, hdrs, b"".join(chunks) if chunks is not None else body)
        conn = self._connection()
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for k, v in hdrs:
                conn.putheader(k, v)
            if chunks is not None:
                conn.endheaders(iter(chunks), encode_chunked=True)
            else:
                conn.endheaders(body)
            r = conn.getresponse()
            data = r.read()
        except Exception:
            self.close()
            raise
        resp = Response(method, target, body, r.status, r.reason, r.getheaders(), data)
        if r.will_close:
            self.close()
        if check and STRICT:
            check_response(resp, self.ids, self.arn_prefix)
        return resp

    def get(self, target, **kw):
        return self.request("GET", target, **kw)

    def post(self, target, json_body=_UNSET, **kw):
        return self.request("POST", target, json_body=json_body, **kw)

    def put(self, target, json_body=_UNSET, **kw):
        return self.request("PUT", target, json_body=json_body, **kw)

    def delete(self, target, json_body=_UNSET, **kw):
        return self.request("DELETE", target, json_body=json_body, **kw)

    # Domain helpers: each asserts the success status and returns the object.

    def create_connector(self, name=None, description=None, container_properties=None, **extra):
        body = {"name": name or unique_name()}
        if description is not None:
            body["description"] = description
        body["container_properties"] = (
            container_properties if container_properties is not None else props()
        )
        body.update(extra)
        r = expect(self.post(CONNECTORS, body), 201)
        return r.json["connector"]

    def get_connector(self, cid):
        return expect(self.get(f"{CONNECTORS}/{cid}"), 200).json["connector"]

    def start_job(self, cid, json_body=_UNSET):
        r = expect(self.post(f"{CONNECTORS}/{cid}/jobs", json_body), 201)
        return r.json["job"]

    def get_job(self, cid, jid):
        return expect(self.get(f"{CONNECTORS}/{cid}/jobs/{jid}"), 200).json["job"]

    def stop_job(self, cid, jid):
        r = expect(self.post(f"{CONNECTORS}/{cid}/jobs/{jid}/stop"), 202)
        assert r.json == {}, f"stop must answer {{}}: {r}"
        return r

    def put_documents(self, cid, docs):
        r = expect(self.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs}), 202)
        assert r.json == {}, f"{r}"
        return r

    def delete_documents(self, cid, ids):
        r = expect(self.delete(f"{CONNECTORS}/{cid}/documents", {"document_ids": ids}), 202)
        assert r.json == {}, f"{r}"
        return r

    def put_checkpoint(self, cid, data):
        r = expect(self.put(f"{CONNECTORS}/{cid}/checkpoint", {"checkpoint_data": data}), 202)
        assert set(r.json) == {"version"} and r.json["version"] >= 1, f"{r}"
        return r

    def get_checkpoint(self, cid):
        return expect(self.get(f"{CONNECTORS}/{cid}/checkpoint"), 200).json["checkpoint"]

    def list_page(self, path, key, **params):
        r = expect(self.get(path + q(**params)), 200)
        body = r.json
        assert set(body) <= {key, "next_token"} and key in body, f"bad list shape: {r}"
        assert isinstance(body[key], list), f"{r}"
        return body[key], body.get("next_token"), r

    def list_all(self, path, key, max_results=None, max_pages=None, **params):
        """Follows next_token to the end (or max_pages). Checks that every page
        but the last is full and that no page is empty after the first."""
        size = max_results if max_results is not None else 50
        items, pages, token = [], [], None
        while True:
            p = dict(params)
            if max_results is not None:
                p["max_results"] = max_results
            if token is not None:
                p["next_token"] = token
            page, token, r = self.list_page(path, key, **p)
            pages.append(page)
            items.extend(page)
            if token is None:
                assert page or len(pages) == 1, f"empty last page: {r}"
                break
            assert len(page) == size, f"a page before the last is not full ({len(page)}): {r}"
            if max_pages is not None and len(pages) >= max_pages:
                break
        return items, pages, token


def list_connectors_all(client):
    items, _, _ = client.list_all(CONNECTORS, "connectors", max_results=100)
    return items


# Raw sockets, for what http.client cannot do (headers without the body,
# malformed requests).


def parse_raw_response(method, target, data):
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep, f"incomplete response: {data[:500]!r}"
    lines = head.decode("iso-8859-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return Response(method, target, None, status, parts[2] if len(parts) > 2 else "", headers, rest)


def _response_complete(data):
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(rest) >= int(v.strip())
    return False


def signed_head(port, method, target, headers=(), body=b"", **kw):
    """A request's head (request line, Host, headers, SigV4's headers) for
    raw_exchange, signed over body (the payload as decoded, for a chunked
    one); kw as sign_headers'."""
    host = f"127.0.0.1:{port}"
    hdrs = sign_headers(method, target, [("Host", host), *headers], body, host, **kw)
    lines = "".join(f"{k}: {v}\r\n" for k, v in hdrs)
    return f"{method} {target} HTTP/1.1\r\n{lines}\r\n".encode()


def raw_exchange(port, head, body=b"", timeout=10.0, chunk=65536):
    """Sends head, then body while the server has not answered yet; returns
    (bytes sent of body, raw response bytes). Stops sending as soon as the
    response starts, and reads until the response is complete or EOF."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(head)
        s.setblocking(False)
        sent = 0
        data = b""
        deadline = time.monotonic() + timeout
        view = memoryview(body)
        while time.monotonic() < deadline:
            want_w = [s] if sent < len(body) and not data else []
            r, w, _ = select.select([s], want_w, [], max(0.0, deadline - time.monotonic()))
            if r:
                try:
                    got = s.recv(65536)
                except (ConnectionResetError, BlockingIOError):
                    got = b""
                if not got:
                    break
                data += got
                if _response_complete(data):
                    break
                continue
            if w:
                try:
                    sent += s.send(view[sent : sent + chunk])
                except (BrokenPipeError, ConnectionResetError):
                    want_w = []
                    sent = len(body)  # the server closed; read what it said
            elif not want_w and not r:
                break
        return sent, data
    finally:
        s.close()
