"""Idempotent creates and starts (CONTRACT-OPS.md): client_token on
CreateCustomConnector and StartCustomConnectorJob. The same token and body
replay the first answer, as the resource is now; another body is a 409; the
token is checked before the connector's state; concurrent requests with one
token make one resource."""

import json
import secrets
import time

import pytest

from ccftest import (
    CONNECTORS,
    OTHER_ACCOUNT_ID,
    Client,
    account_key,
    expect,
    expect_error,
    props,
    unique_name,
)
from test_concurrency import run_together


def token():
    return "t-" + secrets.token_hex(8)


def create_body(tok, name=None, **extra):
    return {"name": name or unique_name(), "container_properties": props(), "client_token": tok, **extra}


def jobs(cid):
    return f"{CONNECTORS}/{cid}/jobs"


def test_create_replays_first_connector(client):
    tok = token()
    body = create_body(tok, description="first")
    a = expect(client.post(CONNECTORS, body), 201).json["connector"]
    b = expect(client.post(CONNECTORS, body), 201).json["connector"]
    assert a == b
    # As it is now: an update shows in the replay.
    expect(client.put(f"{CONNECTORS}/{a['connector_id']}", {"description": "changed"}), 200)
    c = expect(client.post(CONNECTORS, body), 201).json["connector"]
    assert c["connector_id"] == a["connector_id"] and c["description"] == "changed"
    named = [x for x in client.list_all(CONNECTORS, "connectors", max_results=100)[0]
             if x["name"] == body["name"]]
    assert len(named) == 1


def test_create_body_compared_as_json_value(client):
    tok = token()
    name = unique_name()
    p = props()
    first = json.dumps({"name": name, "container_properties": p, "client_token": tok})
    # Other key order (nested too) and spacing: the same JSON value.
    again = json.dumps({"client_token": tok, "container_properties": dict(reversed(list(p.items()))),
                        "name": name}, indent=3)
    a = expect(client.post(CONNECTORS, body=first), 201).json["connector"]
    b = expect(client.post(CONNECTORS, body=again), 201).json["connector"]
    assert a["connector_id"] == b["connector_id"]


@pytest.mark.parametrize("change", [
    {"name": "another-name"},
    {"description": "now with one"},
    {"container_properties": props(timeout=60)},
    {"unknown_field": 1},  # ignored by validation, but the body is not the same
])
def test_create_other_body_is_409(client, change):
    tok = token()
    body = create_body(tok)
    a = expect(client.post(CONNECTORS, body), 201).json["connector"]
    r = expect_error(client.post(CONNECTORS, {**body, **change}), 409)
    assert "client_token" in r.json["message"] and "different" in r.json["message"], r
    # The first is still what the token replays.
    assert expect(client.post(CONNECTORS, body), 201).json["connector"]["connector_id"] == a["connector_id"]


def test_create_replay_after_delete_is_409(client):
    body = create_body(token())
    a = expect(client.post(CONNECTORS, body), 201).json["connector"]
    expect(client.delete(f"{CONNECTORS}/{a['connector_id']}"), 204)
    r = expect_error(client.post(CONNECTORS, body), 409)
    assert a["connector_id"] in r.json["message"] and "deleted" in r.json["message"], r


@pytest.mark.parametrize("bad", ["", "x" * 65, "a b", "a.b", "ü", 5, None, ["a"], {"a": 1}])
def test_bad_tokens_are_400(client, bad):
    r = expect_error(client.post(CONNECTORS, create_body(bad)), 400)
    assert "client_token" in r.json["message"]
    cid = client.create_connector()["connector_id"]
    expect_error(client.post(jobs(cid), {"client_token": bad}), 400)


def test_token_of_64_chars(client):
    tok = "A-_z" * 16
    body = create_body(tok)
    a = expect(client.post(CONNECTORS, body), 201).json["connector"]
    assert expect(client.post(CONNECTORS, body), 201).json["connector"] == a


def test_validation_comes_before_the_token(client):
    body = create_body(token())
    expect(client.post(CONNECTORS, body), 201)
    expect_error(client.post(CONNECTORS, {**body, "name": "x"}), 400)


def test_tokens_are_per_tenant_and_operation(server, client):
    tok = token()
    body = create_body(tok)
    a = expect(client.post(CONNECTORS, body), 201).json["connector"]
    other = Client(server.port, ids=client.ids, credentials=account_key(OTHER_ACCOUNT_ID),
                   arn_prefix=f"arn:aws:ccf:{server.region}:{OTHER_ACCOUNT_ID}:custom-connector/")
    try:
        b = expect(other.post(CONNECTORS, body), 201).json["connector"]
    finally:
        other.close()
    assert a["connector_id"] != b["connector_id"]
    # The same token on a start is another operation.
    j = expect(client.post(jobs(a["connector_id"]), {"client_token": tok}), 201).json["job"]
    assert j["connector_id"] == a["connector_id"]


def test_concurrent_creates_with_one_token_make_one(server, client):
    for _ in range(15):
        body = create_body(token())
        rs = run_together(server, client, [lambda c: c.post(CONNECTORS, body)] * 4)
        assert [r.status for r in rs] == [201] * 4, [str(r) for r in rs]
        ids = {r.json["connector"]["connector_id"] for r in rs}
        assert len(ids) == 1, ids
        named = [x for x in client.list_all(CONNECTORS, "connectors", max_results=100)[0]
                 if x["name"] == body["name"]]
        assert len(named) == 1


def test_start_replays_first_job_while_busy(client):
    # The session server runs no jobs: the first stays STARTED, the connector IN_USE.
    cid = client.create_connector()["connector_id"]
    tok = token()
    body = {"client_token": tok, "environment": [{"name": "A", "value": "1"}]}
    a = expect(client.post(jobs(cid), body), 201).json["job"]
    b = expect(client.post(jobs(cid), body), 201).json["job"]
    assert a["job_id"] == b["job_id"]
    expect_error(client.post(jobs(cid), {"client_token": token()}), 409)  # another token: busy
    expect_error(client.post(jobs(cid)), 409)
    r = expect_error(client.post(jobs(cid), {"client_token": tok}), 409)  # other body
    assert "client_token" in r.json["message"]
    listed = client.list_all(jobs(cid), "jobs", max_results=100)[0]
    assert [j["job_id"] for j in listed] == [a["job_id"]]


def test_start_token_is_per_connector(client):
    tok = token()
    c1 = client.create_connector()["connector_id"]
    c2 = client.create_connector()["connector_id"]
    j1 = expect(client.post(jobs(c1), {"client_token": tok}), 201).json["job"]
    j2 = expect(client.post(jobs(c2), {"client_token": tok}), 201).json["job"]
    assert j1["job_id"] != j2["job_id"]


def test_concurrent_starts_with_one_token_start_one_job(server, client):
    for _ in range(15):
        cid = client.create_connector()["connector_id"]
        tok = token()
        rs = run_together(server, client, [lambda c: c.post(jobs(cid), {"client_token": tok})] * 4)
        assert [r.status for r in rs] == [201] * 4, [str(r) for r in rs]
        assert len({r.json["job"]["job_id"] for r in rs}) == 1
        assert len(client.list_all(jobs(cid), "jobs", max_results=100)[0]) == 1


def test_start_replay_of_ended_job(ccfd_factory):
    s = ccfd_factory(extra_args=["--stop-grace", "2"])
    c = s.client
    cid = c.create_connector(container_properties={"command": ["/bin/true"]})["connector_id"]
    body = {"client_token": token()}
    a = expect(c.post(jobs(cid), body), 201).json["job"]
    deadline = time.monotonic() + 20
    while c.get(f"{jobs(cid)}/{a['job_id']}").json["job"]["status"] != "SUCCEEDED":
        assert time.monotonic() < deadline, "job did not end"
        time.sleep(0.05)
    b = expect(c.post(jobs(cid), body), 201).json["job"]
    assert b["job_id"] == a["job_id"] and b["status"] == "SUCCEEDED"
    # The connector is free again: another token starts another job.
    d = expect(c.post(jobs(cid), {"client_token": token()}), 201).json["job"]
    assert d["job_id"] != a["job_id"]


def test_tokens_survive_a_restart(ccfd_factory):
    s = ccfd_factory()
    body = create_body(token())
    a = expect(s.client.post(CONNECTORS, body), 201).json["connector"]
    j = expect(s.client.post(jobs(a["connector_id"]), {"client_token": "start-1"}), 201).json["job"]
    s.kill()
    s.start()
    assert expect(s.client.post(CONNECTORS, body), 201).json["connector"]["connector_id"] == a["connector_id"]
    r = expect(s.client.post(jobs(a["connector_id"]), {"client_token": "start-1"}), 201)
    assert r.json["job"]["job_id"] == j["job_id"]


def test_start_replay_after_connector_deleted_is_404(ccfd_factory):
    s = ccfd_factory(extra_args=["--stop-grace", "2"])
    c = s.client
    cid = c.create_connector(container_properties={"command": ["/bin/true"]})["connector_id"]
    a = expect(c.post(jobs(cid), {"client_token": "tok"}), 201).json["job"]
    deadline = time.monotonic() + 20
    while c.get(f"{jobs(cid)}/{a['job_id']}").json["job"]["status"] != "SUCCEEDED":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    expect(c.delete(f"{CONNECTORS}/{cid}"), 204)
    expect_error(c.post(jobs(cid), {"client_token": "tok"}), 404)


# boto3 with the model in clients/botocore: client_token carries botocore's
# idempotencyToken trait, so boto3 fills it in when the caller does not.
from authtest import boto3_client  # noqa: E402,F401 - a fixture


def test_boto3_tokens_and_checkpoint_versions(server, boto3_client):  # noqa: F811
    ccf = boto3_client(server)
    cp = {"image_uri": props()["image_uri"], "execution_role_arn": props()["execution_role_arn"],
          "job_role_arn": props()["job_role_arn"]}
    name = unique_name()
    a = ccf.create_custom_connector(name=name, container_properties=cp, client_token="boto-1")
    b = ccf.create_custom_connector(name=name, container_properties=cp, client_token="boto-1")
    assert a["connector"]["connector_id"] == b["connector"]["connector_id"]
    with pytest.raises(ccf.exceptions.ConflictException):
        ccf.create_custom_connector(name=name + "x", container_properties=cp, client_token="boto-1")
    # No token given: boto3 makes a fresh one per call, so two calls make two.
    c = ccf.create_custom_connector(name=name, container_properties=cp)
    d = ccf.create_custom_connector(name=name, container_properties=cp)
    assert c["connector"]["connector_id"] != d["connector"]["connector_id"]
    cid = a["connector"]["connector_id"]
    j1 = ccf.start_custom_connector_job(connector_id=cid, client_token="run-1")["job"]
    j2 = ccf.start_custom_connector_job(connector_id=cid, client_token="run-1")["job"]
    assert j1["job_id"] == j2["job_id"]

    r = ccf.put_custom_connector_checkpoint(connector_id=cid, checkpoint_data="a", if_none_match="*")
    assert r["version"] == 1 and r["etag"] == '"1"'
    with pytest.raises(ccf.exceptions.PreconditionFailedException):
        ccf.put_custom_connector_checkpoint(connector_id=cid, checkpoint_data="b", if_none_match="*")
    assert ccf.put_custom_connector_checkpoint(connector_id=cid, checkpoint_data="b",
                                               if_match='"1"')["version"] == 2
    assert ccf.put_custom_connector_checkpoint(connector_id=cid, checkpoint_data="c",
                                               expected_version=2)["version"] == 3
    g = ccf.get_custom_connector_checkpoint(connector_id=cid, version=2)
    assert g["checkpoint"]["checkpoint_data"] == "b" and g["etag"] == '"2"'
    pages = ccf.get_paginator("list_custom_connector_checkpoint_versions").paginate(
        connector_id=cid, PaginationConfig={"PageSize": 2})
    assert [v["version"] for p in pages for v in p["versions"]] == [3, 2, 1]


# ---- with pause and schedules (the merge of issue 12's parts) ----

def test_start_token_checked_before_the_pause(ccfd_factory):
    """A retried start returns its first job while the connector is paused,
    busy or not; a new token meets the pause's 409."""
    c = ccfd_factory(extra_args=["--stop-grace", "2"]).client
    cid = c.create_connector(container_properties={"command": ["/bin/sleep", "2"]})["connector_id"]
    body = {"client_token": token()}
    a = expect(c.post(jobs(cid), body), 201).json["job"]
    assert a["trigger"] == "API"
    expect(c.post(f"{CONNECTORS}/{cid}/pause"), 200)
    b = expect(c.post(jobs(cid), body), 201).json["job"]  # paused and busy
    assert b["job_id"] == a["job_id"] and b["status"] in ("STARTED", "RUNNING"), b
    expect_error(c.post(jobs(cid), {"client_token": token()}), 409, f"Connector {cid} is paused")
    deadline = time.monotonic() + 20
    while c.get(f"{jobs(cid)}/{a['job_id']}").json["job"]["status"] != "SUCCEEDED":
        assert time.monotonic() < deadline, "job did not end"
        time.sleep(0.05)
    b = expect(c.post(jobs(cid), body), 201).json["job"]  # paused, idle, job ended
    assert b["job_id"] == a["job_id"] and b["status"] == "SUCCEEDED", b
    expect_error(c.post(jobs(cid), {"client_token": token()}), 409, f"Connector {cid} is paused")
    expect(c.post(f"{CONNECTORS}/{cid}/resume"), 200)
    d = expect(c.post(jobs(cid), {"client_token": token()}), 201).json["job"]
    assert d["job_id"] != a["job_id"] and d["trigger"] == "API"
    assert len(c.list_all(jobs(cid), "jobs", max_results=100)[0]) == 2


def test_create_with_token_and_schedule(client):
    tok = token()
    sched = {"expression": "rate(1 hour)", "timezone": "Europe/Paris"}
    body = create_body(tok, schedule=sched)
    a = expect(client.post(CONNECTORS, body), 201).json["connector"]
    assert a["schedule"]["expression"] == "rate(1 hour)" and "next_run_at" in a, a
    b = expect(client.post(CONNECTORS, body), 201).json["connector"]
    assert b["connector_id"] == a["connector_id"]
    assert b["schedule"] == a["schedule"] and b["next_run_at"] == a["next_run_at"], b
    # The schedule is part of the body: another one with the token is a 409.
    other = dict(body, schedule=dict(sched, expression="rate(2 hours)"))
    r = expect_error(client.post(CONNECTORS, other), 409)
    assert "client_token" in r.json["message"]
    # A bad schedule is a 400 before the token is looked at.
    expect_error(client.post(CONNECTORS, dict(body, schedule={"expression": "rate(0 hours)"})),
                 400, mentions=("schedule",))
    named = [x for x in client.list_all(CONNECTORS, "connectors", max_results=100)[0]
             if x["name"] == body["name"]]
    assert len(named) == 1
