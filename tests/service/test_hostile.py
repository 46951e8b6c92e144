"""Hostile input. Every malformed body is a 400 and changes nothing; hostile
transport-level requests never crash ccfd. The last test checks that the
records snapshotted before the suite are unchanged and the server answers."""

import json
import socket
import time

import pytest

from ccftest import (
    CONNECTORS,
    check_response,
    EXEC_ROLE,
    IMAGE_URI,
    JOB_ROLE,
    checksum,
    expect,
    expect_error,
    list_connectors_all,
    _response_complete,
    parse_raw_response,
    raw_exchange,
    sign_headers,
    unique_name,
)


def _snapshot(client, cid):
    snap = {"connectors": list_connectors_all(client)}
    snap["get"] = client.get_connector(cid)
    snap["documents"] = client.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)[0]
    snap["checkpoint"] = client.get_checkpoint(cid)
    snap["jobs"] = client.list_page(f"{CONNECTORS}/{cid}/jobs", "jobs")[0]
    return snap


@pytest.fixture(scope="module")
def victim(client):
    cid = client.create_connector(description="victim of hostile input")["connector_id"]
    client.put_documents(cid, [{"document_id": f"v{i}", "checksum": checksum(str(i))} for i in range(20)])
    client.put_checkpoint(cid, "victim-state")
    # Connectors that tests here create on purpose (left out of the comparison).
    return {"cid": cid, "before": _snapshot(client, cid), "allowed": set()}


C32 = b'"' + b"c" * 32 + b'"'


def _create(s=None, n=b"2048"):
    s = s if s is not None else b'"' + unique_name("hostile").encode() + b'"'
    return (
        b'{"name": ' + s + b', "container_properties": {"image_uri": "' + IMAGE_URI.encode()
        + b'", "execution_role_arn": "' + EXEC_ROLE.encode() + b'", "job_role_arn": "' + JOB_ROLE.encode()
        + b'", "resource_requirements": {"cpu": 1, "memory": ' + n + b"}}}"
    )


# endpoint: (method, path template, body(s, n), valid string literal, duplicate-key prefix)
ENDPOINTS = {
    "create": ("POST", "{c}", _create, None, b'"name": "other-name", '),
    "update": (
        "PUT",
        "{c}/{id}",
        lambda s, n=b"4096": b'{"description": ' + s
        + b', "container_properties": {"resource_requirements": {"memory": ' + n + b"}}}",
        b'"changed description"',
        b'"description": "first value", ',
    ),
    "start": ("POST", "{c}/{id}/jobs", lambda s, n=None: b'{"environment": [{"name": "A", "value": ' + s + b"}]}",
              b'"x"', b'"environment": [], '),
    "documents-put": (
        "POST",
        "{c}/{id}/documents",
        lambda s, n=None: b'{"documents": [{"document_id": ' + s + b', "checksum": ' + C32 + b"}]}",
        b'"new-doc"',
        b'"documents": [{"document_id": "z", "checksum": ' + C32 + b"}], ",
    ),
    "documents-delete": ("DELETE", "{c}/{id}/documents", lambda s, n=None: b'{"document_ids": [' + s + b"]}",
                         b'"v1"', b'"document_ids": ["v2"], '),
    "checkpoint-put": ("PUT", "{c}/{id}/checkpoint", lambda s, n=None: b'{"checkpoint_data": ' + s + b"}",
                       b'"overwritten"', b'"checkpoint_data": "first", '),
}
NUMERIC = {"create", "update"}


def _valid(ep):
    _, _, make, s, _ = ENDPOINTS[ep]
    return make(s) if s is not None else make()


def _with_string(ep, lit):
    return ENDPOINTS[ep][2](lit)


def _with_number(ep, lit):
    return ENDPOINTS[ep][2](ENDPOINTS[ep][3] or b'"' + unique_name("hostile").encode() + b'"', lit)


def _dup(ep):
    v = _valid(ep)
    return b"{" + ENDPOINTS[ep][4] + v[1:]


HOSTILE = [
    ("truncated-1", lambda ep: _valid(ep)[:-1]),
    ("truncated-half", lambda ep: _valid(ep)[: len(_valid(ep)) // 2]),
    ("only-brace", lambda ep: b"{"),
    ("deep-array-open", lambda ep: b"[" * 100000),
    ("deep-object-open", lambda ep: b'{"a":' * 50000),
    ("deep-array-closed", lambda ep: b"[" * 100000 + b"]" * 100000),
    ("deep-in-field", lambda ep: _with_string(ep, b"[" * 100000 + b"]" * 100000)),
    ("deep-object-in-field", lambda ep: _with_string(ep, b'{"a":' * 20000 + b"1" + b"}" * 20000)),
    ("bom", lambda ep: b"\xef\xbb\xbf" + _valid(ep)),
    ("utf16", lambda ep: _valid(ep).decode().encode("utf-16")),
    ("invalid-utf8", lambda ep: _with_string(ep, b'"ab\xffcd"')),
    ("invalid-utf8-continuation", lambda ep: _with_string(ep, b'"ab\x80cd"')),
    ("overlong-slash", lambda ep: _with_string(ep, b'"ab\xc0\xafcd"')),
    ("overlong-nul", lambda ep: _with_string(ep, b'"ab\xc0\x80cd"')),
    ("overlong-3-byte", lambda ep: _with_string(ep, b'"ab\xe0\x80\xafcd"')),
    ("utf8-surrogate", lambda ep: _with_string(ep, b'"ab\xed\xa0\x80cd"')),
    ("utf8-truncated", lambda ep: _with_string(ep, b'"ab\xe2\x82"')),
    ("utf8-above-max", lambda ep: _with_string(ep, b'"\xf4\x90\x80\x80"')),
    ("invalid-utf8-in-key", lambda ep: b'{"\xff": 1, ' + _valid(ep)[1:]),
    ("lone-surrogate-escape", lambda ep: _with_string(ep, b'"a\\ud800b"')),
    ("raw-control-in-string", lambda ep: _with_string(ep, b'"a\x01b"')),
    ("raw-newline-in-string", lambda ep: _with_string(ep, b'"a\nb"')),
    ("bad-escape", lambda ep: _with_string(ep, b'"a\\xb"')),
    ("short-unicode-escape", lambda ep: _with_string(ep, b'"a\\u12"')),
    ("unterminated-string", lambda ep: _with_string(ep, b'"abc')),
    ("single-quotes", lambda ep: _with_string(ep, b"'abc'")),
    ("bare-word", lambda ep: _with_string(ep, b"abc")),
    ("huge-string", lambda ep: _with_string(ep, b'"' + b"a" * 2_000_000 + b'"')),
    ("trailing-garbage", lambda ep: _valid(ep) + b" x"),
    ("two-values", lambda ep: _valid(ep) + _valid(ep)),
    ("trailing-comma", lambda ep: _valid(ep)[:-1] + b",}"),
    ("comment", lambda ep: b"/* c */" + _valid(ep)),
    ("nul-after", lambda ep: _valid(ep) + b"\x00"),
    ("nul-inside", lambda ep: _valid(ep)[:-1] + b"\x00}"),
    ("duplicate-key", _dup),
    ("nan-unknown-field", lambda ep: b'{"x": NaN, ' + _valid(ep)[1:]),
    ("infinity-unknown-field", lambda ep: b'{"x": Infinity, ' + _valid(ep)[1:]),
    ("neg-infinity-unknown-field", lambda ep: b'{"x": -Infinity, ' + _valid(ep)[1:]),
    ("leading-zero-unknown-field", lambda ep: b'{"x": 01, ' + _valid(ep)[1:]),
    ("plus-unknown-field", lambda ep: b'{"x": +1, ' + _valid(ep)[1:]),
    ("hex-unknown-field", lambda ep: b'{"x": 0x10, ' + _valid(ep)[1:]),
    ("bare-dot-unknown-field", lambda ep: b'{"x": 1., ' + _valid(ep)[1:]),
    ("python-none-unknown-field", lambda ep: b'{"x": None, ' + _valid(ep)[1:]),
    ("whitespace-only", lambda ep: b" \r\n\t "),
    ("empty", lambda ep: b""),
]

NUMBERS = [
    ("nan", b"NaN"),
    ("infinity", b"Infinity"),
    ("neg-infinity", b"-Infinity"),
    ("huge-exponent", b"1e400"),
    ("huge-exponent-2", b"1e999999999999"),
    ("huge-int", b"99999999999999999999999"),
    ("huge-neg-int", b"-99999999999999999999999"),
    ("int64-overflow", b"9223372036854775808"),
    ("tiny", b"1e-400"),
    ("neg-zero", b"-0"),
    ("leading-zero", b"02048"),
    ("string-number", b'"2048"'),
    ("long-digits", b"2" + b"0" * 100000),
]

BODY_REQUIRED = {"create", "update", "documents-put", "documents-delete", "checkpoint-put"}


def _target(ep, cid):
    method, tmpl, *_ = ENDPOINTS[ep]
    return method, tmpl.format(c=CONNECTORS, id=cid)


@pytest.mark.parametrize("ep", list(ENDPOINTS))
def test_valid_template_is_valid(client, victim, ep):
    """The templates are right, so the 400s below are caused by the hostility."""
    cid = client.create_connector()["connector_id"]
    victim["allowed"].add(cid)
    if ep == "documents-delete":
        client.put_documents(cid, [{"document_id": "v1", "checksum": checksum()}])
    method, target = _target(ep, cid)
    bodies = [_valid(ep)] + ([_with_number(ep, b"3072")] if ep in NUMERIC else [])
    for body in bodies:
        r = client.request(method, target, body=body)
        assert r.status in (200, 201, 202), r
        if ep == "create":
            victim["allowed"].add(r.json["connector"]["connector_id"])


@pytest.mark.parametrize("case", [h[1] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
@pytest.mark.parametrize("ep", list(ENDPOINTS))
def test_hostile_body_is_400(client, victim, ep, case):
    body = case(ep)
    if ep not in BODY_REQUIRED and body.strip() == b"":
        pytest.skip("StartCustomConnectorJob takes an empty body")
    method, target = _target(ep, victim["cid"])
    expect_error(client.request(method, target, body=body), 400)


@pytest.mark.parametrize("num", [n[1] for n in NUMBERS], ids=[n[0] for n in NUMBERS])
@pytest.mark.parametrize("ep", sorted(NUMERIC))
def test_hostile_number_is_400(client, victim, ep, num):
    method, target = _target(ep, victim["cid"])
    expect_error(client.request(method, target, body=_with_number(ep, num)), 400)


def test_hostile_nested_duplicate_key(client, victim):
    cid = victim["cid"]
    body = b'{"documents": [{"document_id": "dupkey", "document_id": "dupkey2", "checksum": ' + C32 + b"}]}"
    expect_error(client.post(f"{CONNECTORS}/{cid}/documents", body=body), 400)
    body = _create().replace(b'"cpu": 1', b'"cpu": 1, "cpu": 2')
    expect_error(client.post(CONNECTORS, body=body), 400)


def test_hostile_paths(client, victim):
    cid = victim["cid"]
    for target in (
        f"{CONNECTORS}/%zz",
        f"{CONNECTORS}/%",
        f"{CONNECTORS}/{cid}%2fjobs",
        f"{CONNECTORS}/{cid}/jobs/%",
        f"{CONNECTORS}/{cid}/jobs/%c0%af",
        f"{CONNECTORS}/{'%41' * 3000}",
    ):
        expect_error(client.get(target), 404)
    for target in (
        f"{CONNECTORS}?max_results=%zz",
        f"{CONNECTORS}?max_results=%",
        f"{CONNECTORS}?next_token=%ff%fe",
        f"{CONNECTORS}?next_token={'A' * 8000}",
    ):
        expect_error(client.get(target), 400)


def _raw(server, data, timeout=5.0):
    """Sends data and reads until one whole response, EOF or the timeout.
    (No half-close: ccfd keeps a half-closed connection with an incomplete
    request until its connection timeout, and SIGTERM then waits for it.)"""
    s = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server answered and closed before reading everything
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not got:
                break
            out += got
            if _response_complete(out.split(b"HTTP/1.1 100 Continue\r\n\r\n")[-1]):
                break
        return out
    finally:
        s.close()


def _signed(method, target, headers, body_signed, rest):
    """A raw request whose head is validly signed (over body_signed), then
    rest as sent: so that ccfd's auth lets it past the headers and the
    hostile framing after them is parsed, not refused unread with a 403.
    Signed when the test runs, not at import: a signature lasts 5 minutes."""
    def make(port):
        host = f"127.0.0.1:{port}"
        hdrs = sign_headers(method, target, [("Host", host), *headers], body_signed, host)
        head = "".join(f"{k}: {v}\r\n" for k, v in hdrs)
        return f"{method} {target} HTTP/1.1\r\n{head}\r\n".encode() + rest
    return make


RAW = [
    ("garbage-line", b"GARBAGE\r\n\r\n"),
    ("binary", bytes(range(256)) * 4),
    ("no-version", b"GET /api/v1/custom-connectors\r\n\r\n"),
    ("bad-version", b"GET /api/v1/custom-connectors HTTP/9.9\r\nHost: x\r\n\r\n"),
    ("header-no-colon", b"GET /api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n"),
    ("huge-header", b"GET /api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000 + b"\r\n\r\n"),
    ("many-headers", b"GET /api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\n" + b"X-A: b\r\n" * 5000 + b"\r\n"),
    ("huge-target", b"GET /api/v1/custom-connectors/" + b"a" * 200000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("negative-length", b"POST /api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}"),
    ("bad-length", b"POST /api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}"),
    ("huge-length", b"POST /api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
    ("two-lengths", b"POST /api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}"),
    ("length-and-chunked", b"POST /api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
    ("bad-chunk-size", _signed("POST", "/api/v1/custom-connectors", [("Transfer-Encoding", "chunked")], b"{}",
                               b"zz\r\n{}\r\n0\r\n\r\n")),
    ("huge-chunk-size", _signed("POST", "/api/v1/custom-connectors", [("Transfer-Encoding", "chunked")], b"{}",
                                b"ffffffffffffffffff\r\n{}\r\n0\r\n\r\n")),
    ("chunk-over-limit", _signed("POST", "/api/v1/custom-connectors", [("Transfer-Encoding", "chunked")], b"{}",
                                 b"900000\r\n{}")),
    ("unknown-coding", b"POST /api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n{}"),
    ("short-body", _signed("POST", "/api/v1/custom-connectors", [("Content-Length", "100")], b"{}",
                           b"{\"name\"")),
    ("nul-in-header", b"GET /api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n"),
    ("nul-in-target", b"GET /api/v1/custom-connectors\x00/x HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("absolute-form", b"GET http://127.0.0.1/api/v1/custom-connectors HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("http10", b"GET /api/v1/custom-connectors HTTP/1.0\r\n\r\n"),
    ("no-host", b"GET /api/v1/custom-connectors HTTP/1.1\r\n\r\n"),
    ("lf-only", b"GET /api/v1/custom-connectors HTTP/1.1\nHost: x\n\n"),
    ("expect-continue", _signed("POST", "/api/v1/custom-connectors", [("Expect", "100-continue"),
                                                                      ("Content-Length", "2")], b"{}", b"{}")),
    ("pipelined", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 50),
]


# Requests that leave the server waiting for more bytes: no answer is due.
INCOMPLETE = {"short-body", "chunk-over-limit"}


@pytest.mark.parametrize("name,data", RAW, ids=[r[0] for r in RAW])
def test_hostile_transport_does_not_crash(server, client, name, data):
    if callable(data):
        data = data(server.port)
    out = _raw(server, data, timeout=0.5 if name in INCOMPLETE else 5.0)
    if out.startswith(b"HTTP/"):
        status = int(out.split(b" ", 2)[1])
        assert status < 500 or status in (501, 505), out[:300]
        if status == 200:
            assert b"\r\n\r\n" in out
    assert server.running, "ccfd died"
    expect(client.get("/healthz"), 200)


def test_oversized_declared_length_on_every_route(server, client, victim):
    cid = victim["cid"]
    base = f"{CONNECTORS}/{cid}"
    for target in (CONNECTORS, base, f"{base}/documents", f"{base}/checkpoint"):
        head = (f"PUT {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                f"Content-Length: {2**40}\r\n\r\n").encode()
        _, data = raw_exchange(server.port, head, b"", timeout=10)
        r = parse_raw_response("PUT", target, data)
        expect_error(r, 413)


@pytest.mark.xfail(
    strict=True,
    reason="libmicrohttpd 0.9.75 answers a Content-Length that overflows uint64 itself, in "
    "parse_connection_headers, before the access handler's first call (which it then skips "
    "because a response is queued): an HTML 413 without x-amzn-RequestId, its header block "
    "sent twice (the state is overwritten after the error is queued). No option or callback "
    "runs between header parsing and that check.",
)
def test_overflowing_content_length_is_a_contract_413(server, client):
    """A Content-Length too big for any integer is still 'over the limit':
    413 PayloadTooLargeException in the contract's shape, with a request id."""
    target = CONNECTORS
    head = (f"POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Content-Length: 99999999999999999999999\r\n\r\n").encode()
    _, data = raw_exchange(server.port, head, b"", timeout=10)
    r = parse_raw_response("POST", target, data)
    check_response(r, client.ids)
    expect_error(r, 413)


def test_conflicting_content_lengths_are_rejected(server, client):
    """RFC 9112 6.3: differing Content-Length values are an unrecoverable
    framing error (a request-smuggling vector behind a proxy); the request
    must not be processed."""
    name = unique_name("smuggled")
    body = json.dumps({"name": name, "container_properties": {"command": ["x"]}}).encode()
    padded = body + b" " * 100
    head = (f"POST {CONNECTORS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(padded)}\r\nContent-Length: {len(body) - 5}\r\n\r\n").encode()
    _, data = raw_exchange(server.port, head, padded, timeout=10)
    made = [s for s in list_connectors_all(client) if s["name"] == name]
    for s in made:  # keep the final snapshot comparison about this module's other tests
        client.delete(f"{CONNECTORS}/{s['connector_id']}")
    assert not made, f"a request with two different Content-Lengths was processed: {data[:300]!r}"
    assert data.startswith(b"HTTP/1.1 400") or data == b"", data[:300]


def test_nul_in_path_id_is_not_found(server, client, victim):
    cid = victim["cid"]
    for target in (f"{CONNECTORS}/{cid}\x00x", f"{CONNECTORS}/{cid}\x00/documents"):
        out = _raw(server, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status = int(out.split(b" ", 2)[1]) if out.startswith(b"HTTP/") else None
        assert status in (400, 404, None), f"{target!r} reached a resource: {out[:300]!r}"


@pytest.mark.parametrize("n", [100, 1000, 3000])
def test_many_query_parameters_get_an_answer(server, client, n):
    """However many parameters a query has, the client gets an answer at once
    (a 200 with unknown ones ignored, or a 4xx), never a silent hang."""
    query = "&".join(f"p{i}={i}" for i in range(n))
    target = f"{CONNECTORS}?{query}"
    out = _raw(server, f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), timeout=5.0)
    assert out.startswith(b"HTTP/1.1 "), f"no answer within 5 s to a {len(target)}-byte target with {n} parameters"
    status = int(out.split(b" ", 2)[1])
    assert status == 200 or 400 <= status < 500, out[:300]
    expect(client.get("/healthz"), 200)


def test_many_unknown_keys_do_not_hurt(client):
    extra = ", ".join(f'"k{i}": {i}' for i in range(50000)).encode()
    body = _create()[:-1] + b", " + extra + b"}"
    r = expect(client.post(CONNECTORS, body=body), 201)
    cid = r.json["connector"]["connector_id"]
    expect(client.delete(f"{CONNECTORS}/{cid}"), 204)


def test_zz_records_unchanged_after_hostile_suite(server, client, victim):
    assert server.running
    expect(client.get("/healthz"), 200)
    after = _snapshot(client, victim["cid"])
    after["connectors"] = [c for c in after["connectors"] if c["connector_id"] not in victim["allowed"]]
    before = victim["before"]
    for k in before:
        assert after[k] == before[k], f"{k} changed during the hostile suite"
    client.create_connector()
