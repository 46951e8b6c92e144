"""Events (CONTRACT-OPS.md "Events"): one event per transition, written in
the transaction of the change, read per tenant with cursors, filters and
long polls, pruned with the jobs' retention."""

import time

import pytest

from ccftest import CONNECTORS, OTHER_ACCOUNT_ID, REGION, Client, account_key, expect_error, unique_name

EVENTS = "/api/v1/events"


def read(c, check=True, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items() if v is not None)
    r = c.get(EVENTS + (f"?{q}" if q else ""), check=False)
    if check:
        assert r.status == 200, r
    return r


def read_all(c, after=None, **params):
    """Every event after `after`, page by page; (events, cursor)."""
    out = []
    while True:
        b = read(c, after=after, **params).json
        assert "next_cursor" in b
        after = b["next_cursor"]
        if not b["events"]:
            return out, after
        out.extend(b["events"])


def other_client(server, client):
    return Client(server.port, ids=client.ids, credentials=account_key(OTHER_ACCOUNT_ID),
                  arn_prefix=f"arn:aws:ccf:{REGION}:{OTHER_ACCOUNT_ID}:custom-connector/")


def tail(c):
    return read_all(c)[1]


def test_connector_lifecycle_events_in_order(client):
    start = tail(client)
    cid = client.create_connector(name=unique_name())["connector_id"]
    client.put(f"{CONNECTORS}/{cid}", {"description": "changed"})
    client.post(f"{CONNECTORS}/{cid}/pause")
    client.post(f"{CONNECTORS}/{cid}/resume")
    client.put_checkpoint(cid, "one")
    client.put_checkpoint(cid, "two")
    client.delete(f"{CONNECTORS}/{cid}")
    evs, _ = read_all(client, after=start)
    mine = [e for e in evs if e["connector_id"] == cid]
    assert [e["type"] for e in mine] == [
        "connector.created", "connector.updated", "connector.paused", "connector.resumed",
        "checkpoint.updated", "checkpoint.updated", "connector.deleted"]
    assert mine[0]["detail"]["connector_id"] == cid and mine[0]["detail"]["name"]
    assert mine[1]["detail"]["description"] == "changed"
    assert mine[2]["detail"]["paused"] is True and "paused" not in mine[3]["detail"]
    assert [e["detail"] for e in mine[4:6]] == [{"version": 1}, {"version": 2}]
    assert mine[6]["detail"]["connector_id"] == cid
    ids = [e["event_id"] for e in mine]
    assert len(set(ids)) == len(ids) and ids == sorted(ids)
    for e in mine:
        assert set(e) == {"event_id", "time", "type", "connector_id", "detail"}
        assert e["time"].endswith("Z")


def test_job_start_and_stop_events_carry_the_job(client):
    start = tail(client)
    cid = client.create_connector(name=unique_name())["connector_id"]
    jid = client.start_job(cid)["job_id"]
    client.stop_job(cid, jid)
    evs, _ = read_all(client, after=start, connector_id=cid, types="job.started,job.stopping,job.stopped")
    assert [e["type"] for e in evs][:2] == ["job.started", "job.stopping"]
    assert all(e["job_id"] == jid and e["detail"]["job_id"] == jid for e in evs)
    assert evs[0]["detail"]["status"] == "STARTED" and evs[1]["detail"]["status"] == "STOPPING"


def test_filters(client):
    start = tail(client)
    a = client.create_connector(name=unique_name())["connector_id"]
    b = client.create_connector(name=unique_name())["connector_id"]
    client.put_checkpoint(a, "x")
    client.put_checkpoint(b, "y")
    evs, _ = read_all(client, after=start, connector_id=b)
    assert [e["type"] for e in evs] == ["connector.created", "checkpoint.updated"]
    evs, _ = read_all(client, after=start, types="checkpoint.updated")
    assert [e["connector_id"] for e in evs] == [a, b]
    evs, _ = read_all(client, after=start, types="checkpoint.updated,connector.created", connector_id=a)
    assert [e["type"] for e in evs] == ["connector.created", "checkpoint.updated"]
    # A cursor from a filtered read goes on in the unfiltered stream.
    first = read(client, after=start, connector_id=a, max_results=1).json
    assert len(first["events"]) == 1
    rest, _ = read_all(client, after=first["next_cursor"])
    assert [(e["connector_id"], e["type"]) for e in rest] == [
        (b, "connector.created"), (a, "checkpoint.updated"), (b, "checkpoint.updated")]


@pytest.mark.parametrize("params,mentions", [
    ({"types": "job.nope"}, "job.nope"),
    ({"types": "job.started,"}, "types"),
    ({"types": ""}, None),
    ({"max_results": "0"}, "max_results"),
    ({"max_results": "1001"}, "max_results"),
    ({"wait_seconds": "21"}, "wait_seconds"),
    ({"wait_seconds": "-1"}, "wait_seconds"),
    ({"after": "bm90LWEtY3Vyc29y"}, "after"),
    ({"after": "%00"}, None),
])
def test_bad_parameters_are_400(client, params, mentions):
    r = read(client, check=False, **params)
    expect_error(r, 400, mentions=(mentions,) if mentions else ())
    assert r.json["errorType"] == "BadRequestException"


def test_unknown_connector_is_404(client):
    expect_error(read(client, check=False, connector_id="cc-000000000000"), 404)
    expect_error(read(client, check=False, connector_id="nope"), 404)


def test_tenants_never_see_each_other(server, client):
    other = other_client(server, client)
    mine, theirs = tail(client), tail(other)
    cid = client.create_connector(name=unique_name())["connector_id"]
    oid = other.create_connector(name=unique_name())["connector_id"]
    evs, _ = read_all(client, after=mine)
    assert cid in {e["connector_id"] for e in evs} and oid not in {e["connector_id"] for e in evs}
    evs, _ = read_all(other, after=theirs)
    assert [e["connector_id"] for e in evs] == [oid]
    # Another tenant's cursor and connector are refused.
    expect_error(read(other, check=False, after=mine), 400)
    expect_error(read(other, check=False, connector_id=cid), 404)


def test_max_results_and_next_cursor_always_present(client):
    start = tail(client)
    cid = client.create_connector(name=unique_name())["connector_id"]
    for i in range(5):
        client.put_checkpoint(cid, str(i))
    b = read(client, after=start, max_results=2).json
    assert len(b["events"]) == 2
    seen = b["events"]
    while b["events"]:
        b = read(client, after=b["next_cursor"], max_results=2).json
        seen += b["events"]
    assert [e["type"] for e in seen] == ["connector.created"] + ["checkpoint.updated"] * 5
    assert b["next_cursor"]


def test_paging_over_ten_thousand_events_has_no_gap_or_duplicate(ccfd_factory):
    s = ccfd_factory()
    c = s.client
    cid = c.create_connector(name=unique_name())["connector_id"]
    n = 10_000
    for i in range(n):
        c.put_checkpoint(cid, str(i))
    got, cursor = [], None
    while True:
        b = read(c, after=cursor, max_results=1000).json
        cursor = b["next_cursor"]
        if not b["events"]:
            break
        got += b["events"]
    assert len(got) == n + 1
    assert [e["detail"]["version"] for e in got[1:]] == list(range(1, n + 1))
    assert len({e["event_id"] for e in got}) == n + 1
