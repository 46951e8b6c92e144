"""PutCustomConnectorCheckpoint, GetCustomConnectorCheckpoint,
DeleteCustomConnectorCheckpoint."""

import json
import time

import pytest

from ccftest import (
    CHECKPOINT_KEYS,
    CHECKPOINT_MAX,
    CONNECTORS,
    MISSING_CONNECTOR,
    assert_recent,
    expect,
    expect_error,
    not_found_checkpoint,
    not_found_connector,
    parse_time,
)


def cp_path(cid):
    return f"{CONNECTORS}/{cid}/checkpoint"


def test_put_get_delete(client):
    cid = client.create_connector()["connector_id"]
    r = expect(client.put(cp_path(cid), {"checkpoint_data": "state-1"}), 202)
    assert r.json == {"version": 1}, r
    r = expect(client.get(cp_path(cid)), 200)
    assert set(r.json) == {"checkpoint"}, r
    c = r.json["checkpoint"]
    assert set(c) == CHECKPOINT_KEYS, r
    assert c["connector_id"] == cid
    assert c["checkpoint_data"] == "state-1"
    assert_recent(c["created_at"])
    assert parse_time(c["updated_at"]) >= parse_time(c["created_at"])
    r = expect(client.delete(cp_path(cid)), 204)
    assert r.body == b""
    expect_error(client.get(cp_path(cid)), 404, message=not_found_checkpoint(cid))


def test_put_keeps_created_at(client):
    cid = client.create_connector()["connector_id"]
    client.put_checkpoint(cid, "one")
    first = client.get_checkpoint(cid)
    time.sleep(0.002)
    client.put_checkpoint(cid, "two")
    second = client.get_checkpoint(cid)
    assert second["checkpoint_data"] == "two"
    assert second["created_at"] == first["created_at"]
    assert parse_time(second["updated_at"]) > parse_time(first["updated_at"])


def test_missing_checkpoint_is_404_with_exact_message(client):
    cid = client.create_connector()["connector_id"]
    msg = f"Checkpoint for connector {cid} not found"
    expect_error(client.get(cp_path(cid)), 404, message=msg)
    expect_error(client.delete(cp_path(cid)), 404, message=msg)
    client.put_checkpoint(cid, "x")
    expect(client.delete(cp_path(cid)), 204)
    expect_error(client.delete(cp_path(cid)), 404, message=msg)


def test_unknown_connector(client):
    p = cp_path(MISSING_CONNECTOR)
    msgs = (not_found_connector(MISSING_CONNECTOR), not_found_checkpoint(MISSING_CONNECTOR))
    expect_error(client.put(p, {"checkpoint_data": "x"}), 404, message=not_found_connector(MISSING_CONNECTOR))
    expect_error(client.get(p), 404, message=msgs)
    expect_error(client.delete(p), 404, message=msgs)


ROUND_TRIPS = [
    ("nul", "\u0000"),
    ("nul-inside", "a\u0000b\u0000"),
    ("non-ascii", "é中😀\u00a0\u2028"),
    ("controls", "".join(chr(c) for c in range(0x20)) + "\u007f\u0085\u009f"),
    ("escapes", '\\"/\b\f\n\r\t'),
    ("json-text", '{"cursor": 12, "nested": {"a": [null, true]}}'),
    ("one-byte", "x"),
    ("whitespace", "   "),
    ("noncharacters", "\ufffe\uffff\U0010ffff"),
]


@pytest.mark.parametrize("data", [r[1] for r in ROUND_TRIPS], ids=[r[0] for r in ROUND_TRIPS])
@pytest.mark.parametrize("ascii_escaped", [False, True], ids=["utf8", "escaped"])
def test_data_round_trips_exactly(client, data, ascii_escaped):
    cid = client.create_connector()["connector_id"]
    body = json.dumps({"checkpoint_data": data}, ensure_ascii=ascii_escaped).encode("utf-8")
    expect(client.put(cp_path(cid), body=body), 202)
    r = expect(client.get(cp_path(cid)), 200)
    assert r.json["checkpoint"]["checkpoint_data"] == data, r
    assert r.json["checkpoint"]["checkpoint_data"].encode("utf-8") == data.encode("utf-8")


def test_one_mib_is_accepted(client):
    cid = client.create_connector()["connector_id"]
    data = "x" * (CHECKPOINT_MAX - 3) + "é!"
    assert len(data.encode()) == CHECKPOINT_MAX
    client.put_checkpoint(cid, data)
    assert client.get_checkpoint(cid)["checkpoint_data"] == data


def test_one_mib_of_nul_is_accepted(client):
    cid = client.create_connector()["connector_id"]
    data = "\u0000" * CHECKPOINT_MAX
    client.put_checkpoint(cid, data)
    assert client.get_checkpoint(cid)["checkpoint_data"] == data


def test_one_mib_of_four_byte_chars_is_accepted(client):
    cid = client.create_connector()["connector_id"]
    data = "\U0001F600" * (CHECKPOINT_MAX // 4)
    client.put_checkpoint(cid, data)
    assert client.get_checkpoint(cid)["checkpoint_data"] == data


@pytest.mark.parametrize(
    "data",
    ["x" * (CHECKPOINT_MAX + 1), "\U0001F600" * (CHECKPOINT_MAX // 4) + "x", "é" * (CHECKPOINT_MAX // 2) + "x"],
    ids=["ascii", "four-byte-plus-one", "two-byte-plus-one"],
)
def test_over_one_mib_is_400_and_keeps_old(client, data):
    cid = client.create_connector()["connector_id"]
    client.put_checkpoint(cid, "old")
    before = client.get_checkpoint(cid)
    assert len(data.encode()) == CHECKPOINT_MAX + 1
    expect_error(client.put(cp_path(cid), {"checkpoint_data": data}), 400, mentions=("checkpoint_data",))
    assert client.get_checkpoint(cid) == before


BAD = [
    ("empty-string", {"checkpoint_data": ""}),
    ("missing", {}),
    ("null", {"checkpoint_data": None}),
    ("number", {"checkpoint_data": 1}),
    ("object", {"checkpoint_data": {"a": 1}}),
    ("array", {"checkpoint_data": ["a"]}),
    ("bool", {"checkpoint_data": True}),
]


@pytest.mark.parametrize("body", [b[1] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_body_is_400(client, body):
    cid = client.create_connector()["connector_id"]
    expect_error(client.put(cp_path(cid), body), 400, mentions=("checkpoint_data",))
    expect_error(client.get(cp_path(cid)), 404, message=not_found_checkpoint(cid))


def test_lone_surrogate_in_data_is_400(client):
    cid = client.create_connector()["connector_id"]
    expect_error(client.put(cp_path(cid), body=b'{"checkpoint_data": "a\\ud800b"}'), 400)


def test_checkpoint_while_in_use(client):
    cid = client.create_connector()["connector_id"]
    job = client.start_job(cid)
    client.put_checkpoint(cid, "during job")
    client.stop_job(cid, job["job_id"])
    client.put_checkpoint(cid, "while stopping")
    assert client.get_checkpoint(cid)["checkpoint_data"] == "while stopping"
    expect(client.delete(cp_path(cid)), 204)


def test_checkpoints_are_per_connector(client):
    a = client.create_connector()["connector_id"]
    b = client.create_connector()["connector_id"]
    client.put_checkpoint(a, "A")
    expect_error(client.get(cp_path(b)), 404, message=not_found_checkpoint(b))
    client.put_checkpoint(b, "B")
    assert client.get_checkpoint(a)["checkpoint_data"] == "A"
    assert client.get_checkpoint(b)["connector_id"] == b
    expect(client.delete(cp_path(a)), 204)
    assert client.get_checkpoint(b)["checkpoint_data"] == "B"
