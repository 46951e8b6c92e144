"""Checkpoint versions and conditional writes (CONTRACT-OPS.md): version and
ETag, If-Match / If-None-Match: * / expected_version and their 412s, the
kept history, ?version=N, and what a delete does to them."""

import http.client
import json

import pytest

from ccftest import (
    CONNECTORS,
    MISSING_CONNECTOR,
    assert_recent,
    expect,
    expect_error,
    not_found_checkpoint,
    not_found_connector,
    parse_time,
    sign_headers,
)
from test_concurrency import run_together


def cp(cid):
    return f"{CONNECTORS}/{cid}/checkpoint"


def put(client, cid, data, headers=None, **extra):
    return client.put(cp(cid), {"checkpoint_data": data, **extra}, headers=headers)


def test_versions_count_up_and_etag_matches(client):
    cid = client.create_connector()["connector_id"]
    for n in range(1, 4):
        r = expect(put(client, cid, f"s{n}"), 202)
        assert r.json == {"version": n}, r
        assert r.header("ETag") == f'"{n}"', r
        g = expect(client.get(cp(cid)), 200)
        assert g.json["checkpoint"]["version"] == n, g
        assert g.json["checkpoint"]["checkpoint_data"] == f"s{n}", g
        assert g.header("ETag") == f'"{n}"', g


def test_delete_restarts_at_one_and_drops_history(client):
    cid = client.create_connector()["connector_id"]
    for n in range(3):
        expect(put(client, cid, f"s{n}"), 202)
    expect(client.delete(cp(cid)), 204)
    expect_error(client.get(f"{cp(cid)}/versions"), 404, not_found_checkpoint(cid))
    expect_error(client.get(f"{cp(cid)}?version=2"), 404, not_found_checkpoint(cid))
    assert expect(put(client, cid, "again"), 202).json == {"version": 1}
    r = expect(client.get(f"{cp(cid)}/versions"), 200)
    assert [v["version"] for v in r.json["versions"]] == [1], r


def test_if_match(client):
    cid = client.create_connector()["connector_id"]
    expect_error(put(client, cid, "x", {"If-Match": '"1"'}), 412)
    expect_error(put(client, cid, "x", {"If-Match": "*"}), 412)
    expect(put(client, cid, "a"), 202)
    r = expect(put(client, cid, "b", {"If-Match": '"1"'}), 202)
    assert r.json == {"version": 2}
    r = expect_error(put(client, cid, "c", {"If-Match": '"1"'}), 412)
    assert "version" in r.json["message"]
    # Nothing was written by the 412.
    g = expect(client.get(cp(cid)), 200).json["checkpoint"]
    assert (g["version"], g["checkpoint_data"]) == (2, "b")
    expect(put(client, cid, "c", {"If-Match": "2"}), 202)  # an unquoted N is taken too
    expect(put(client, cid, "d", {"If-Match": "*"}), 202)
    assert expect(client.get(cp(cid)), 200).json["checkpoint"]["version"] == 4


def test_if_none_match_star(client):
    cid = client.create_connector()["connector_id"]
    assert expect(put(client, cid, "a", {"If-None-Match": "*"}), 202).json == {"version": 1}
    expect_error(put(client, cid, "b", {"If-None-Match": "*"}), 412)
    assert expect(client.get(cp(cid)), 200).json["checkpoint"]["checkpoint_data"] == "a"


def test_expected_version(client):
    cid = client.create_connector()["connector_id"]
    expect_error(put(client, cid, "a", expected_version=1), 412)
    assert expect(put(client, cid, "a", expected_version=0), 202).json == {"version": 1}
    expect_error(put(client, cid, "b", expected_version=0), 412)
    assert expect(put(client, cid, "b", expected_version=1), 202).json == {"version": 2}
    expect_error(put(client, cid, "c", expected_version=1), 412)


@pytest.mark.parametrize(
    "headers, extra",
    [
        ({"If-Match": '"1"'}, {"expected_version": 1}),
        ({"If-Match": '"1"', "If-None-Match": "*"}, {}),
        ({"If-None-Match": "*"}, {"expected_version": 0}),
        ({"If-Match": '"x"'}, {}),
        ({"If-Match": '"0"'}, {}),
        ({"If-Match": '"01"'}, {}),
        ({"If-Match": '"1", "2"'}, {}),
        ({"If-Match": 'W/"1"'}, {}),
        ({"If-Match": ""}, {}),
        ({"If-Match": '"99999999999999999999"'}, {}),
        ({"If-None-Match": '"1"'}, {}),
        ({}, {"expected_version": -1}),
        ({}, {"expected_version": 1.0}),
        ({}, {"expected_version": "1"}),
        ({}, {"expected_version": None}),
    ],
)
def test_bad_conditions_are_400(client, headers, extra):
    cid = client.create_connector()["connector_id"]
    expect(put(client, cid, "a"), 202)
    expect_error(put(client, cid, "b", headers, **extra), 400)
    assert expect(client.get(cp(cid)), 200).json["checkpoint"]["version"] == 1


def test_order_of_checks(client):
    # A bad body is a 400 before the missing connector's 404; a missing
    # connector is a 404 before the condition's 412.
    expect_error(client.put(cp(MISSING_CONNECTOR), {"checkpoint_data": ""}, headers={"If-Match": '"1"'}),
                 400)
    expect_error(put(client, MISSING_CONNECTOR, "a", {"If-Match": '"1"'}), 404,
                 not_found_connector(MISSING_CONNECTOR))
    expect_error(put(client, MISSING_CONNECTOR, "a", {"If-Match": '"x"'}), 400)


def test_repeated_if_match_header_is_400(server, client):
    cid = client.create_connector()["connector_id"]
    expect(put(client, cid, "a"), 202)
    r = raw_put(server, cid, {"checkpoint_data": "b"}, [("If-Match", '"1"'), ("If-Match", '"1"')],
                sign=True)
    assert r[0] == 400, r


def raw_put(server, cid, body, extra_headers, sign):
    """A PUT whose extra headers are signed (sign=True) or added after
    signing, as clients that sign only Host and X-Amz-* send them."""
    host = f"127.0.0.1:{server.port}"
    data = json.dumps(body).encode()
    base = [("Host", host), ("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    hdrs = sign_headers("PUT", cp(cid), base + (extra_headers if sign else []), data, host)
    if not sign:
        hdrs += extra_headers
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest("PUT", cp(cid), skip_host=True, skip_accept_encoding=True)
        for k, v in hdrs:
            conn.putheader(k, v)
        conn.endheaders(data)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


@pytest.mark.parametrize("sign", [True, False])
def test_if_match_signed_or_not(server, client, sign):
    cid = client.create_connector()["connector_id"]
    expect(put(client, cid, "a"), 202)
    assert raw_put(server, cid, {"checkpoint_data": "b"}, [("If-Match", '"1"')], sign) == (
        202, {"version": 2})
    status, body = raw_put(server, cid, {"checkpoint_data": "c"}, [("If-Match", '"1"')], sign)
    assert status == 412 and body["errorType"] == "PreconditionFailedException", body


def test_history_paging_and_get_version(client):
    cid = client.create_connector()["connector_id"]
    for n in range(1, 16):  # 15 puts; the default history keeps 10
        expect(put(client, cid, "v" * n), 202)
    r = expect(client.get(f"{cp(cid)}/versions"), 200)
    vs = r.json["versions"]
    assert "next_token" not in r.json
    assert [v["version"] for v in vs] == list(range(15, 5, -1)), r
    assert [v["size"] for v in vs] == list(range(15, 5, -1)), r
    assert all(set(v) == {"version", "size", "created_at"} for v in vs)
    for v in vs:
        assert_recent(v["created_at"])
    times = [parse_time(v["created_at"]) for v in vs]
    assert times == sorted(times, reverse=True)
    # Pages of 3 give the same list.
    pages, _, _ = client.list_all(f"{cp(cid)}/versions", "versions", max_results=3)
    assert [v["version"] for v in pages] == list(range(15, 5, -1))
    cur = expect(client.get(cp(cid)), 200).json["checkpoint"]
    for n in (6, 10, 14, 15):
        g = expect(client.get(f"{cp(cid)}?version={n}"), 200)
        c = g.json["checkpoint"]
        assert c["version"] == n and c["checkpoint_data"] == "v" * n, g
        assert g.header("ETag") == f'"{n}"'
        assert c["created_at"] == cur["created_at"]
        assert c["updated_at"] == vs[15 - n]["created_at"]
    for n in (1, 5, 16, 999):
        r = expect_error(client.get(f"{cp(cid)}?version={n}"), 404)
        assert cid in r.json["message"] and "not kept" in r.json["message"], r


@pytest.mark.parametrize("bad", ["x", "0", "-1", "1.5", "1e3", "01", "", "99999999999999999999"])
def test_bad_version_query_is_400(client, bad):
    cid = client.create_connector()["connector_id"]
    expect(put(client, cid, "a"), 202)
    expect_error(client.get(f"{cp(cid)}?version={bad}"), 400)


def test_versions_404s_and_bad_paging(client):
    cid = client.create_connector()["connector_id"]
    expect_error(client.get(f"{cp(cid)}/versions"), 404, not_found_checkpoint(cid))
    expect_error(client.get(f"{cp(MISSING_CONNECTOR)}/versions"), 404,
                 not_found_connector(MISSING_CONNECTOR))
    expect(put(client, cid, "a"), 202)
    expect_error(client.get(f"{cp(cid)}/versions?max_results=0"), 400)
    expect_error(client.get(f"{cp(cid)}/versions?max_results=101"), 400)
    expect_error(client.get(f"{cp(cid)}/versions?next_token=abc"), 400)
    r = expect(client.get(f"{cp(cid)}/versions", check=True), 200)
    assert r.json == {"versions": [r.json["versions"][0]]}
    expect_error(client.post(f"{cp(cid)}/versions", {}), 405)


def test_history_setting(ccfd_factory):
    s = ccfd_factory(extra_args=("--executor", "none", "--checkpoint-history", "1"))
    c = s.client
    cid = c.create_connector()["connector_id"]
    for n in range(1, 4):
        expect(put(c, cid, f"s{n}"), 202)
    r = expect(c.get(f"{cp(cid)}/versions"), 200)
    assert [v["version"] for v in r.json["versions"]] == [3]
    expect_error(c.get(f"{cp(cid)}?version=2"), 404)
    s.stop()
    s2 = ccfd_factory(data_dir=s.data_dir, extra_args=("--executor", "none", "--checkpoint-history", "3"))
    expect(put(s2.client, cid, "s4"), 202)
    r = expect(s2.client.get(f"{cp(cid)}/versions"), 200)
    assert [v["version"] for v in r.json["versions"]] == [4, 3]


def test_two_writers_exactly_one_wins(server, client):
    """Both read version N and write with If-Match N (or expected_version N):
    exactly one 202, the other 412, for many rounds."""
    cid = client.create_connector()["connector_id"]
    expect(put(client, cid, "start"), 202)
    for rnd in range(40):
        cur = expect(client.get(cp(cid)), 200).json["checkpoint"]["version"]
        if rnd % 2:
            calls = [lambda c, w=w: put(c, cid, f"{rnd}-{w}", {"If-Match": f'"{cur}"'}) for w in "ab"]
        else:
            calls = [lambda c, w=w: put(c, cid, f"{rnd}-{w}", expected_version=cur) for w in "ab"]
        rs = run_together(server, client, calls)
        statuses = sorted(r.status for r in rs)
        assert statuses == [202, 412], [str(r) for r in rs]
        winner = next(r for r in rs if r.status == 202)
        assert winner.json == {"version": cur + 1}
        g = expect(client.get(cp(cid)), 200).json["checkpoint"]
        assert g["version"] == cur + 1
        assert g["checkpoint_data"] == json.loads(winner.req_body)["checkpoint_data"]


def test_first_writers_race_if_none_match(server, client):
    for _ in range(20):
        cid = client.create_connector()["connector_id"]
        rs = run_together(server, client,
                          [lambda c, w=w: put(c, cid, w, {"If-None-Match": "*"}) for w in "abc"])
        assert sorted(r.status for r in rs) == [202, 412, 412], [str(r) for r in rs]


def test_job_key_conditional_puts_count_in_stats(ccfd_factory):
    """A conditional put made with a job's own key counts in its
    checkpoint_puts, in the put's transaction; one refused with 412 counts
    nothing (Per-job document statistics)."""
    from test_docstats import job_script, run
    from test_job_runs import jobs_server

    s = jobs_server(ccfd_factory)
    c = s.client
    cid = c.create_connector(container_properties=job_script([
        "ccf checkpoint put $CC --data a --if-none-match",
        "! ccf checkpoint put $CC --data x --if-none-match",
        "! ccf checkpoint put $CC --data x --if-match 7",
        "ccf checkpoint put $CC --data b --if-match 1",
    ]))["connector_id"]
    jid, job = run(c, cid)
    assert job["stats"]["checkpoint_puts"] == 2, job
    g = expect(c.get(cp(cid)), 200).json["checkpoint"]
    assert g["version"] == 2 and g["checkpoint_data"] == "b", g
