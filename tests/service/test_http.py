"""Routing, general response rules, 404/405/413/415 and the order of checks."""

import http.client
import time
import json

import pytest

from ccftest import (
    BODY_MAX,
    CONNECTORS,
    MISSING_CONNECTOR,
    MISSING_JOB,
    Client,
    check_response,
    checksum,
    expect,
    expect_error,
    media_type,
    parse_raw_response,
    props,
    raw_exchange,
    sign_headers,
    signed_head,
    unique_name,
)


@pytest.fixture(scope="module")
def ids(client):
    """A connector (IN_USE, with a job) for routes that need real ids."""
    cid = client.create_connector()["connector_id"]
    jid = client.start_job(cid)["job_id"]
    return cid, jid


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status == 200, r


def test_request_ids_are_unique(server):
    c = Client(server.port)  # its own id registry, on top of the session one
    seen = set()
    for i in range(40):
        r = c.get(f"{CONNECTORS}/{MISSING_CONNECTOR}" if i % 2 else CONNECTORS + "?max_results=1")
        rid = r.header("x-amzn-RequestId")
        assert rid and rid not in seen, r
        seen.add(rid)
    c.close()


def test_success_and_error_responses_are_json(client, ids):
    cid, _ = ids
    for r in (client.get(f"{CONNECTORS}/{cid}"), client.get(f"{CONNECTORS}/{MISSING_CONNECTOR}"),
              client.post(CONNECTORS, body=b"{")):
        assert media_type(r.header("Content-Type")) == "application/json", r
        assert r.header("x-amzn-RequestId"), r


UNKNOWN_ROUTES = [
    "/api/v1/nope",
    "/api/v1",
    "/api/v1/",
    "/api/v1/custom-connectors/",
    "/api/v1/custom-connectors//jobs",
    "/api/v1/custom-connector",
    "/api/v1/Custom-Connectors",
    "/API/V1/custom-connectors",
    "/api/v2/custom-connectors",
    "/api/v1/custom-connectors/{cid}/",
    "/api/v1/custom-connectors/{cid}/nope",
    "/api/v1/custom-connectors/{cid}/jobs/",
    "/api/v1/custom-connectors/{cid}/jobs/{jid}/",
    "/api/v1/custom-connectors/{cid}/jobs/{jid}/nope",
    "/api/v1/custom-connectors/{cid}/jobs/{jid}/stop/x",
    "/api/v1/custom-connectors/{cid}/documents/x",
    "/api/v1/custom-connectors/{cid}/checkpoint/x",
    "/api/v1/custom-connectors/{cid}/documents/",
]


@pytest.mark.parametrize("path", UNKNOWN_ROUTES)
def test_unknown_route_is_404(client, ids, path):
    cid, jid = ids
    r = client.get(path.format(cid=cid, jid=jid))
    expect_error(r, 404)


BAD_CONNECTOR_IDS = [
    "cc-XYZ",
    "cc-0123456789AB",
    "cc-0123456789a",
    "cc-0123456789abc",
    "cc-0123456789ag",
    "CC-0123456789ab",
    "cc_0123456789ab",
    "ccj-0123456789ab",
    "0123456789ab",
    "..",
    "%2e%2e",
    "%2e%2e%2f",
    "..%2f",
    "%00",
    "cc-0123456789ab%00",
    "%20cc-0123456789ab",
    "cc-0123456789ab%20",
    "cc-%30123456789ab",
    "cc-0123456789ab;x",
    "%ff",
    "c" * 5000,
    "cc-" + "a" * 5000,
]


ID_ROUTES = [
    ("GET", "/api/v1/custom-connectors/{c}"),
    ("PUT", "/api/v1/custom-connectors/{c}"),
    ("DELETE", "/api/v1/custom-connectors/{c}"),
    ("GET", "/api/v1/custom-connectors/{c}/jobs"),
    ("POST", "/api/v1/custom-connectors/{c}/jobs"),
    ("GET", "/api/v1/custom-connectors/{c}/documents"),
    ("POST", "/api/v1/custom-connectors/{c}/documents"),
    ("DELETE", "/api/v1/custom-connectors/{c}/documents"),
    ("GET", "/api/v1/custom-connectors/{c}/checkpoint"),
    ("PUT", "/api/v1/custom-connectors/{c}/checkpoint"),
    ("DELETE", "/api/v1/custom-connectors/{c}/checkpoint"),
    ("GET", "/api/v1/custom-connectors/{c}/jobs/{j}"),
    ("POST", "/api/v1/custom-connectors/{c}/jobs/{j}/stop"),
]

VALID_BODIES = {
    "PUT /api/v1/custom-connectors/{c}": {"name": "renamed"},
    "POST /api/v1/custom-connectors/{c}/documents": {"documents": [{"document_id": "a", "checksum": "c" * 32}]},
    "DELETE /api/v1/custom-connectors/{c}/documents": {"document_ids": ["a"]},
    "PUT /api/v1/custom-connectors/{c}/checkpoint": {"checkpoint_data": "x"},
}


def _body_for(method, route):
    b = VALID_BODIES.get(f"{method} {route}")
    return json.dumps(b).encode() if b is not None else None


@pytest.mark.parametrize("bad", BAD_CONNECTOR_IDS, ids=lambda s: s if len(s) < 40 else f"long-{len(s)}")
@pytest.mark.parametrize("method,route", ID_ROUTES, ids=[f"{m}-{r.split('{c}')[1] or '/'}" for m, r in ID_ROUTES])
def test_bad_connector_id_is_404(client, method, route, bad):
    target = route.format(c=bad, j=MISSING_JOB)
    r = client.request(method, target, body=_body_for(method, route))
    expect_error(r, 404)


BAD_JOB_IDS = ["ccj-XYZ", "ccj-0123456789AB", "ccj-0123456789a", "ccj-0123456789abc", "cc-0123456789ab",
               "..", "%2e%2e%2f", "%00", "ccj-0123456789ab%00", "j" * 5000]


@pytest.mark.parametrize("bad", BAD_JOB_IDS, ids=lambda s: s if len(s) < 40 else f"long-{len(s)}")
@pytest.mark.parametrize("method,route", ID_ROUTES[-2:], ids=["get-job", "stop"])
def test_bad_job_id_is_404(client, ids, method, route, bad):
    cid, jid = ids
    r = client.request(method, route.format(c=cid, j=bad))
    expect_error(r, 404)
    assert client.get_job(cid, jid)["status"] == "STARTED"


def test_dot_segments_are_not_resolved(client):
    cid = client.create_connector()["connector_id"]
    jid = client.start_job(cid)["job_id"]
    # Raw targets, sent as written. Resolving the dot segments would turn each
    # into a valid stop (202); as written they match no route.
    for target in (
        f"{CONNECTORS}/{cid}/jobs/../jobs/{jid}/stop",
        f"{CONNECTORS}/../custom-connectors/{cid}/jobs/{jid}/stop",
        f"{CONNECTORS}/{cid}/jobs/%2e%2e/jobs/{jid}/stop",
    ):
        expect_error(client.post(target), 404)
    assert client.get_job(cid, jid)["status"] == "STARTED"


METHODS = [
    ("/api/v1/custom-connectors", {"GET", "POST"}, ["PUT", "DELETE", "PATCH", "OPTIONS", "FOO"]),
    ("/api/v1/custom-connectors/{c}", {"GET", "PUT", "DELETE"}, ["POST", "PATCH", "OPTIONS", "FOO"]),
    ("/api/v1/custom-connectors/{c}/jobs", {"GET", "POST"}, ["PUT", "DELETE", "PATCH"]),
    ("/api/v1/custom-connectors/{c}/jobs/{j}", {"GET"}, ["POST", "PUT", "DELETE", "PATCH"]),
    ("/api/v1/custom-connectors/{c}/jobs/{j}/stop", {"POST"}, ["GET", "PUT", "DELETE", "PATCH"]),
    ("/api/v1/custom-connectors/{c}/documents", {"GET", "POST", "DELETE"}, ["PUT", "PATCH"]),
    ("/api/v1/custom-connectors/{c}/checkpoint", {"GET", "PUT", "DELETE"}, ["POST", "PATCH"]),
]
METHOD_CASES = [(route, allowed, m) for route, allowed, ms in METHODS for m in ms]


def _route_id(method, route):
    return f"{method}-{route.split('custom-connectors')[1] or '/'}"


def _allow_set(r):
    return {m.strip().upper() for m in (r.header("Allow") or "").split(",") if m.strip()}


@pytest.mark.parametrize("route,allowed,method", METHOD_CASES, ids=[_route_id(m, r) for r, _, m in METHOD_CASES])
def test_wrong_method_is_405_with_allow(client, ids, route, allowed, method):
    cid, jid = ids
    r = client.request(method, route.format(c=cid, j=jid))
    expect_error(r, 405)
    allow = _allow_set(r)
    assert allowed <= allow <= allowed | {"HEAD", "OPTIONS"}, f"Allow {allow} for {allowed}: {r}"
    assert method not in allow
    assert client.get_job(cid, jid)["status"] == "STARTED"


@pytest.mark.parametrize("bad", ["cc-XYZ", "cc-0123456789AB", "c" * 300], ids=["XYZ", "upper", "long"])
def test_405_beats_bad_id(client, bad):
    expect_error(client.request("PATCH", f"{CONNECTORS}/{bad}"), 405)
    expect_error(client.get(f"{CONNECTORS}/{bad}/jobs/ccj-bad/stop"), 405)
    expect_error(client.put(f"{CONNECTORS}/{bad}/documents", body=b"x", content_type="text/plain"), 405)


BAD_TYPES = [
    "text/plain",
    "text/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/jsonx",
    "application/json-seq",
    "application/octet-stream",
    "application",
    "*/*",
]


@pytest.mark.parametrize("ct", BAD_TYPES)
def test_create_with_non_json_type_is_415(client, ct):
    body = json.dumps({"name": unique_name("ct"), "container_properties": props()}).encode()
    expect_error(client.post(CONNECTORS, body=body, content_type=ct), 415)


@pytest.mark.parametrize("ct", ["application/json", "application/json; charset=utf-8", "application/json;charset=UTF-8",
                                "Application/JSON", "application/json ; charset=utf-8", None])
def test_create_with_json_or_no_type_is_accepted(client, ct):
    body = json.dumps({"name": unique_name("ct"), "container_properties": props()}).encode()
    expect(client.post(CONNECTORS, body=body, content_type=ct), 201)


BODY_ROUTES = [
    ("POST", "/api/v1/custom-connectors"),
    ("PUT", "/api/v1/custom-connectors/{c}"),
    ("POST", "/api/v1/custom-connectors/{c}/jobs"),
    ("POST", "/api/v1/custom-connectors/{c}/jobs/{j}/stop"),
    ("POST", "/api/v1/custom-connectors/{c}/documents"),
    ("DELETE", "/api/v1/custom-connectors/{c}/documents"),
    ("PUT", "/api/v1/custom-connectors/{c}/checkpoint"),
    ("GET", "/api/v1/custom-connectors"),
    ("GET", "/api/v1/custom-connectors/{c}"),
    ("GET", "/api/v1/custom-connectors/{c}/checkpoint"),
    ("DELETE", "/api/v1/custom-connectors/{c}"),
    ("DELETE", "/api/v1/custom-connectors/{c}/checkpoint"),
]


@pytest.mark.parametrize("method,route", BODY_ROUTES, ids=[_route_id(m, r) for m, r in BODY_ROUTES])
def test_body_with_non_json_type_is_415_on_any_method(client, method, route):
    cid = client.create_connector()["connector_id"]
    client.put_checkpoint(cid, "kept")
    other = client.create_connector()["connector_id"]
    jid = client.start_job(other)["job_id"]
    target = route.format(c=cid if "{j}" not in route else other, j=jid)
    expect_error(client.request(method, target, body=b"{}", content_type="text/plain"), 415)
    # Nothing happened.
    assert client.get_connector(cid)["status"] == "AVAILABLE"
    assert client.get_checkpoint(cid)["checkpoint_data"] == "kept"
    assert client.get_job(other, jid)["status"] == "STARTED"


def test_body_on_get_is_ignored(client):
    cid = client.create_connector()["connector_id"]
    for body, ct in ((b"not json at all", None), (b"{", "application/json"), (b'{"name": 1}', "application/json")):
        r = expect(client.get(f"{CONNECTORS}/{cid}", body=body, content_type=ct), 200)
        assert r.json["connector"]["connector_id"] == cid


# Order of checks.


def test_order_unknown_route_beats_bad_content_type(client):
    expect_error(client.post("/api/v1/nope", body=b"x", content_type="text/plain"), 404)
    expect_error(client.post(f"{CONNECTORS}/", body=b"x", content_type="text/plain"), 404)


def test_order_bad_id_beats_415(client):
    expect_error(client.put(f"{CONNECTORS}/cc-XYZ", body=b"x", content_type="text/plain"), 404)
    expect_error(client.post(f"{CONNECTORS}/cc-XYZ/documents", body=b"x", content_type="text/plain"), 404)
    expect_error(client.put(f"{CONNECTORS}/cc-XYZ/checkpoint", body=b"x", content_type="text/plain"), 404)


def test_order_415_beats_bad_body(client):
    expect_error(client.post(CONNECTORS, body=b"{not json", content_type="text/plain"), 415)
    expect_error(client.post(CONNECTORS, body=b"{}", content_type="text/plain"), 415)
    expect_error(client.put(f"{CONNECTORS}/{MISSING_CONNECTOR}", body=b"{", content_type="text/plain"), 415)


ORDER_400_BEATS_404 = [
    ("PUT", "/api/v1/custom-connectors/{m}", b"{"),
    ("PUT", "/api/v1/custom-connectors/{m}", b"{}"),
    ("PUT", "/api/v1/custom-connectors/{m}", b'{"name": "a"}'),
    ("POST", "/api/v1/custom-connectors/{m}/jobs", b'{"environment": [{"name": "PATH", "value": "x"}]}'),
    ("POST", "/api/v1/custom-connectors/{m}/jobs", b"[]"),
    ("POST", "/api/v1/custom-connectors/{m}/documents", b'{"documents": []}'),
    ("DELETE", "/api/v1/custom-connectors/{m}/documents", b'{"document_ids": [""]}'),
    ("PUT", "/api/v1/custom-connectors/{m}/checkpoint", b'{"checkpoint_data": ""}'),
    ("GET", "/api/v1/custom-connectors/{m}/jobs?max_results=0", None),
    ("GET", "/api/v1/custom-connectors/{m}/jobs?status=BOGUS", None),
    ("GET", "/api/v1/custom-connectors/{m}/jobs?next_token=garbage", None),
    ("GET", "/api/v1/custom-connectors/{m}/documents?max_results=1001", None),
    ("GET", "/api/v1/custom-connectors/{m}/documents?next_token=garbage", None),
]


@pytest.mark.parametrize("method,route,body", ORDER_400_BEATS_404)
def test_order_bad_request_beats_missing_connector(client, method, route, body):
    r = client.request(method, route.format(m=MISSING_CONNECTOR), body=body)
    expect_error(r, 400)


# 413.


def _head(method, target, length=None, extra=""):
    h = f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    if length is not None:
        h += f"Content-Length: {length}\r\n"
    return (h + extra + "\r\n").encode()


def test_declared_length_over_limit_is_413_before_body(server, client):
    head = _head("POST", CONNECTORS, 9437184)
    sent, data = raw_exchange(server.port, head, b"", timeout=10)
    assert data, "no answer to headers declaring a 9 MiB body (the server waited for the body)"
    r = parse_raw_response("POST", CONNECTORS, data)
    check_response(r, client.ids)
    expect_error(r, 413)
    expect(client.get("/healthz"), 200)


@pytest.mark.parametrize(
    "target",
    ["/api/v1/nope", f"{CONNECTORS}/cc-XYZ", f"{CONNECTORS}/{MISSING_CONNECTOR}/documents"],
    ids=["unknown-route", "bad-id", "missing-connector"],
)
def test_413_is_checked_first(server, client, target):
    sent, data = raw_exchange(server.port, _head("POST", target, BODY_MAX + 1), b"", timeout=10)
    assert data, f"no answer to headers declaring an oversized body on {target}"
    r = parse_raw_response("POST", target, data)
    check_response(r, client.ids)
    expect_error(r, 413)


def test_body_of_9_mib_is_413(server, client):
    body = b'{"checkpoint_data": "' + b"x" * (9 * 1024 * 1024) + b'"}'
    cid = client.create_connector()["connector_id"]
    target = f"{CONNECTORS}/{cid}/checkpoint"
    sent, data = raw_exchange(server.port, _head("PUT", target, len(body)), body, timeout=30)
    r = parse_raw_response("PUT", target, data)
    check_response(r, client.ids)
    expect_error(r, 413)
    expect_error(client.get(target), 404)


def _chunked(body, size=65536):
    out = bytearray()
    for i in range(0, len(body), size):
        part = body[i : i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


def test_chunked_body_over_limit_is_413(server, client):
    cid = client.create_connector()["connector_id"]
    target = f"{CONNECTORS}/{cid}/checkpoint"
    body = b'{"checkpoint_data": "' + b"y" * (9 * 1024 * 1024) + b'"}'
    # Signed: an unsigned one would get its 403 before the body is read.
    head = signed_head(server.port, "PUT", target, [("Content-Type", "application/json"),
                                                     ("Transfer-Encoding", "chunked")], body)
    sent, data = raw_exchange(server.port, head, _chunked(body), timeout=30)
    r = parse_raw_response("PUT", target, data)
    check_response(r, client.ids)
    expect_error(r, 413)
    expect_error(client.get(target), 404)
    expect(client.get("/healthz"), 200)


def _padded_checkpoint(total):
    data = "\u0000" * (1024 * 1024)
    raw = json.dumps({"checkpoint_data": data}).encode()
    assert len(raw) <= total
    return raw + b" " * (total - len(raw)), data


def test_body_of_exactly_8_mib_is_accepted(client):
    cid = client.create_connector()["connector_id"]
    body, data = _padded_checkpoint(BODY_MAX)
    assert len(body) == BODY_MAX
    expect(client.put(f"{CONNECTORS}/{cid}/checkpoint", body=body), 202)
    assert client.get_checkpoint(cid)["checkpoint_data"] == data


def test_body_of_8_mib_plus_one_is_413(server, client):
    cid = client.create_connector()["connector_id"]
    body, _ = _padded_checkpoint(BODY_MAX + 1)
    target = f"{CONNECTORS}/{cid}/checkpoint"
    sent, data = raw_exchange(server.port, _head("PUT", target, len(body)), body, timeout=30)
    r = parse_raw_response("PUT", target, data)
    check_response(r, client.ids)
    expect_error(r, 413)
    expect_error(client.get(target), 404)


def test_server_answers_after_413s(client):
    expect(client.get("/healthz"), 200)
    client.create_connector()


# Not-found messages.


def test_not_found_messages(client, ids):
    cid, _ = ids
    expect_error(client.get(f"{CONNECTORS}/{MISSING_CONNECTOR}"), 404, message="Connector cc-0123456789ab not found")
    expect_error(client.get(f"{CONNECTORS}/{cid}/jobs/{MISSING_JOB}"), 404, message="Job ccj-0123456789ab not found")
    expect_error(
        client.post(f"{CONNECTORS}/{cid}/jobs/{MISSING_JOB}/stop"), 404, message="Job ccj-0123456789ab not found"
    )
    fresh = client.create_connector()["connector_id"]
    expect_error(
        client.get(f"{CONNECTORS}/{fresh}/checkpoint"), 404, message=f"Checkpoint for connector {fresh} not found"
    )


def test_error_message_for_long_id_is_bounded(client):
    r = client.get(f"{CONNECTORS}/{'c' * 5000}")
    expect_error(r, 404)
    assert len(r.json["message"]) <= 1024


def test_keep_alive_survives_errors(server):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    host = f"127.0.0.1:{server.port}"
    sock = None
    try:
        for target in ("/api/v1/nope", f"{CONNECTORS}/{MISSING_CONNECTOR}", CONNECTORS + "?max_results=1"):
            c.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
            for k, v in sign_headers("GET", target, [("Host", host)], b"", host):
                c.putheader(k, v)
            c.endheaders()
            r = c.getresponse()
            r.read()
            assert r.status in (200, 404)
            sock = sock or c.sock
            assert c.sock is sock, "the server closed the connection after an error"
    finally:
        c.close()


def test_documents_route_with_body_and_missing_connector_reads_all(client):
    # A valid body on a missing connector: 404 after the body was read.
    r = client.post(f"{CONNECTORS}/{MISSING_CONNECTOR}/documents",
                    {"documents": [{"document_id": "a", "checksum": checksum()}]})
    expect_error(r, 404, message="Connector cc-0123456789ab not found")
    expect(client.get("/healthz"), 200)


def test_request_id_is_in_the_log_line(server, client):
    r = client.get(f"{CONNECTORS}/{MISSING_CONNECTOR}")
    rid = r.header("x-amzn-RequestId")
    deadline = time.monotonic() + 2
    while rid not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    lines = [line for line in server.log_text().splitlines() if rid in line]
    assert lines, f"request id {rid} not in the server's log"
    assert any(MISSING_CONNECTOR in line or "404" in line for line in lines), lines
