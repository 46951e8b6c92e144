"""CreateCustomConnector, GetCustomConnector, UpdateCustomConnector,
ListCustomConnectors, DeleteCustomConnector: success paths and shapes."""

import json

import pytest

from ccftest import (
    ARN_PREFIX,
    CONNECTOR_ID_RE,
    CONNECTORS,
    EXEC_ROLE,
    IMAGE_URI,
    JOB_ROLE,
    MISSING_CONNECTOR,
    SUMMARY_OPTIONAL,
    SUMMARY_REQUIRED,
    assert_recent,
    checksum,
    expect,
    expect_error,
    list_connectors_all,
    merge_patch,
    not_found_connector,
    parse_time,
    props,
    unique_name,
    with_defaults,
)


def assert_summary(s, name=None, description=None, status="AVAILABLE", arn_prefix=ARN_PREFIX):
    assert isinstance(s, dict)
    assert SUMMARY_REQUIRED <= set(s) <= SUMMARY_REQUIRED | SUMMARY_OPTIONAL, s
    assert CONNECTOR_ID_RE.match(s["connector_id"]), s
    assert s["arn"] == arn_prefix + s["connector_id"], s
    assert s["status"] == status, s
    if name is not None:
        assert s["name"] == name, s
    if description is None:
        assert "description" not in s, s
    else:
        assert s["description"] == description, s
    if status == "AVAILABLE":
        assert "active_job_id" not in s, s
    assert parse_time(s["updated_at"]) >= parse_time(s["created_at"]), s


def test_create_returns_201_and_summary(client):
    name = unique_name("create")
    r = expect(
        client.post(
            CONNECTORS,
            {"name": name, "description": "a connector", "container_properties": props()},
        ),
        201,
    )
    assert set(r.json) == {"connector"}, r
    s = r.json["connector"]
    assert_summary(s, name=name, description="a connector", arn_prefix=client.arn_prefix)
    assert "container_properties" not in s, f"create answers a summary: {r}"
    assert_recent(s["created_at"])


def test_create_without_description_omits_it(client):
    s = client.create_connector()
    assert_summary(s, arn_prefix=client.arn_prefix)
    g = client.get_connector(s["connector_id"])
    assert "description" not in g


def test_create_ids_are_unique(client):
    ids = {client.create_connector()["connector_id"] for _ in range(20)}
    assert len(ids) == 20


def test_get_returns_summary_and_properties_with_defaults(client):
    name = unique_name("get")
    s = client.create_connector(name=name, description="described")
    r = expect(client.get(f"{CONNECTORS}/{s['connector_id']}"), 200)
    assert set(r.json) == {"connector"}, r
    g = r.json["connector"]
    assert set(g) - {"container_properties"} == set(s), r
    for k in s:
        assert g[k] == s[k], f"{k}: {r}"
    cp = g["container_properties"]
    assert cp == {
        "image_uri": IMAGE_URI,
        "execution_role_arn": EXEC_ROLE,
        "job_role_arn": JOB_ROLE,
        "resource_requirements": {"cpu": 1, "memory": 2048},
        "timeout": 3600,
    }, r
    rr = cp["resource_requirements"]
    assert isinstance(rr["memory"], int) and isinstance(cp["timeout"], int), r
    assert isinstance(rr["cpu"], (int, float)) and not isinstance(rr["cpu"], bool), r


FULL_PROPS = {
    "image_uri": IMAGE_URI,
    "execution_role_arn": EXEC_ROLE,
    "job_role_arn": JOB_ROLE,
    "resource_requirements": {"cpu": 2, "memory": 4096},
    "timeout": 120,
    "command": ["run", "--flag", "é 😀"],
    "environment": [{"name": "A", "value": "1"}, {"name": "b_2", "value": ""}],
}


@pytest.mark.parametrize(
    "cp",
    [
        FULL_PROPS,
        {**props(), "resource_requirements": {"cpu": 1.5, "memory": 1024}, "timeout": 1},
        {**props(), "resource_requirements": {"cpu": 16, "memory": 122880}, "timeout": 604800},
        {**props(), "resource_requirements": {"cpu": 4}},
        {**props(), "resource_requirements": {"memory": 3000}},
        {"command": ["/bin/true"]},
        {"command": ["x"] * 64, "environment": [{"name": f"V{i}", "value": "v"} for i in range(50)]},
        {"command": ["y" * 4096, "é" * 4096]},
        {"command": ["z"], "environment": [{"name": "N" * 128, "value": "é" * 4096}]},
        {"command": ["z"], "image_uri": IMAGE_URI},
    ],
    ids=[
        "full",
        "cpu-fraction-minimums",
        "maximums",
        "cpu-only",
        "memory-only",
        "command-only",
        "command-64-env-50",
        "command-4096-chars",
        "env-name-128-value-4096",
        "command-and-image",
    ],
)
def test_get_returns_properties_as_given(client, cp):
    s = client.create_connector(container_properties=cp)
    g = client.get_connector(s["connector_id"])
    assert g["container_properties"] == with_defaults(cp)


@pytest.mark.parametrize(
    "name", ["abc", "A-b-9", "a" * 128, "---", "0123456789"], ids=["3", "mixed", "128", "dashes", "digits"]
)
def test_create_accepts_valid_names(client, name):
    s = client.create_connector(name=name)
    assert s["name"] == name


@pytest.mark.parametrize("desc", ["abc", "d" * 1000, "é" * 1000, "中文描述 with\nnewline"])
def test_create_accepts_valid_descriptions(client, desc):
    s = client.create_connector(description=desc)
    assert s["description"] == desc
    assert client.get_connector(s["connector_id"])["description"] == desc


def test_names_need_not_be_unique(client):
    name = unique_name("same")
    a = client.create_connector(name=name)
    b = client.create_connector(name=name)
    assert a["connector_id"] != b["connector_id"]


def test_unknown_fields_are_ignored(client):
    body = {
        "name": unique_name("extra"),
        "container_properties": {**props(), "bogus_inner": {"x": 1}},
        "bogus": [1, 2, {"y": None}],
        "connector_id": "cc-000000000000",
        "status": "IN_USE",
    }
    r = expect(client.post(CONNECTORS, body), 201)
    s = r.json["connector"]
    assert s["connector_id"] != "cc-000000000000"
    assert s["status"] == "AVAILABLE"
    assert "bogus" not in s
    g = client.get_connector(s["connector_id"])
    assert g["container_properties"] == with_defaults(props()), "unknown fields must not be stored"


def test_create_accepts_charset_and_no_content_type(client):
    body = {"name": unique_name("ct"), "container_properties": props()}
    for ct in ("application/json; charset=utf-8", "application/json;charset=UTF-8", None):
        r = client.post(CONNECTORS, body, content_type=ct)
        expect(r, 201)


def test_create_accepts_chunked_body(client):
    raw = json.dumps({"name": unique_name("chunk"), "container_properties": props()}).encode()
    r = client.post(CONNECTORS, chunks=[raw[:10], raw[10:50], raw[50:]])
    expect(r, 201)
    assert r.json["connector"]["name"] == json.loads(raw)["name"]


# Update: RFC 7396 merge patch.

BASE_FOR_UPDATE = {
    "image_uri": IMAGE_URI,
    "execution_role_arn": EXEC_ROLE,
    "job_role_arn": JOB_ROLE,
    "resource_requirements": {"cpu": 2, "memory": 4096},
    "timeout": 120,
    "command": ["run", "--x"],
    "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
}

UPDATES = [
    ("name", {"name": "new-name"}),
    ("description-set", {"description": "new description"}),
    ("description-null-removes", {"description": None}),
    ("nested-memory-keeps-cpu", {"container_properties": {"resource_requirements": {"memory": 8192}}}),
    ("nested-cpu-fraction", {"container_properties": {"resource_requirements": {"cpu": 1.5}}}),
    ("nested-cpu-null-default", {"container_properties": {"resource_requirements": {"cpu": None}}}),
    ("rr-null-defaults", {"container_properties": {"resource_requirements": None}}),
    ("timeout-set", {"container_properties": {"timeout": 7}}),
    ("timeout-null-default", {"container_properties": {"timeout": None}}),
    ("command-replaced", {"container_properties": {"command": ["x"]}}),
    ("command-null", {"container_properties": {"command": None}}),
    ("env-replaced", {"container_properties": {"environment": [{"name": "C", "value": "3"}]}}),
    ("env-emptied", {"container_properties": {"environment": []}}),
    ("env-null", {"container_properties": {"environment": None}}),
    ("image-null-with-command", {"container_properties": {"image_uri": None}}),
    (
        "image-and-roles-null-with-command",
        {"container_properties": {"image_uri": None, "execution_role_arn": None, "job_role_arn": None}},
    ),
    ("image-changed", {"container_properties": {"image_uri": "210987654321.dkr.ecr.eu-west-1.amazonaws.com/x"}}),
    ("unknown-field-ignored", {"name": "n-2", "bogus": 5, "container_properties": {"bogus": 1}}),
    (
        "several",
        {
            "name": "several",
            "description": "both",
            "container_properties": {"timeout": 60, "resource_requirements": {"cpu": 3}},
        },
    ),
]


@pytest.mark.parametrize("patch", [u[1] for u in UPDATES], ids=[u[0] for u in UPDATES])
def test_update_is_a_merge_patch(client, patch):
    s = client.create_connector(description="original", container_properties=BASE_FOR_UPDATE)
    cid = s["connector_id"]
    r = expect(client.put(f"{CONNECTORS}/{cid}", patch), 200)
    assert set(r.json) == {"connector"}, r
    u = r.json["connector"]
    assert "container_properties" not in u, f"update answers a summary: {r}"
    known = {k: v for k, v in patch.items() if k in ("name", "description", "container_properties")}
    cp_patch = known.get("container_properties", {})
    if isinstance(cp_patch, dict):
        cp_patch = {k: v for k, v in cp_patch.items() if k != "bogus"}
    before = {"name": s["name"], "description": "original", "container_properties": BASE_FOR_UPDATE}
    known["container_properties"] = cp_patch
    want = merge_patch(before, known)
    assert u["connector_id"] == cid and u["arn"] == s["arn"]
    assert u["name"] == want["name"], r
    assert u.get("description") == want.get("description"), r
    assert u["created_at"] == s["created_at"], r
    assert parse_time(u["updated_at"]) > parse_time(s["updated_at"]), r
    g = client.get_connector(cid)
    assert {k: v for k, v in g.items() if k != "container_properties"} == u
    assert g["container_properties"] == with_defaults(want["container_properties"])


def test_update_while_in_use_is_allowed(client):
    s = client.create_connector()
    cid = s["connector_id"]
    job = client.start_job(cid)
    r = expect(client.put(f"{CONNECTORS}/{cid}", {"description": "changed in use"}), 200)
    assert r.json["connector"]["status"] == "IN_USE"
    assert r.json["connector"]["description"] == "changed in use"
    if "active_job_id" in r.json["connector"]:
        assert r.json["connector"]["active_job_id"] == job["job_id"]
    assert client.get_job(cid, job["job_id"])["status"] == "STARTED"


BAD_UPDATES_IMAGE = [
    ("empty", {}),
    ("only-unknown", {"bogus": 1}),
    ("empty-properties", {"container_properties": {}}),
    ("only-empty-objects", {"container_properties": {"resource_requirements": {}}}),
    ("name-null", {"name": None}),
    ("properties-null", {"container_properties": None}),
    ("image-null-without-command", {"container_properties": {"image_uri": None}}),
    ("exec-role-null-without-command", {"container_properties": {"execution_role_arn": None}}),
    ("job-role-null-without-command", {"container_properties": {"job_role_arn": None}}),
    ("name-short", {"name": "ab"}),
    ("name-underscore", {"name": "a_b"}),
    ("description-short", {"description": "ab"}),
    ("memory-low", {"container_properties": {"resource_requirements": {"memory": 100}}}),
    ("memory-float", {"container_properties": {"resource_requirements": {"memory": 2048.0}}}),
    ("cpu-high", {"container_properties": {"resource_requirements": {"cpu": 17}}}),
    ("timeout-zero", {"container_properties": {"timeout": 0}}),
    ("command-empty", {"container_properties": {"command": []}}),
    ("image-bad", {"container_properties": {"image_uri": "docker.io/library/ubuntu"}}),
    ("env-reserved", {"container_properties": {"environment": [{"name": "PATH", "value": "/"}]}}),
    ("name-wrong-type", {"name": 5}),
    ("properties-wrong-type", {"container_properties": []}),
    ("rr-wrong-type", {"container_properties": {"resource_requirements": 1}}),
]


@pytest.mark.parametrize("patch", [b[1] for b in BAD_UPDATES_IMAGE], ids=[b[0] for b in BAD_UPDATES_IMAGE])
def test_bad_update_is_400_and_changes_nothing(client, patch):
    s = client.create_connector(description="unchanged")
    cid = s["connector_id"]
    before = client.get_connector(cid)
    expect_error(client.put(f"{CONNECTORS}/{cid}", patch), 400)
    assert client.get_connector(cid) == before


def test_update_removing_command_of_command_only_connector_is_400(client):
    s = client.create_connector(container_properties={"command": ["/bin/true"]})
    cid = s["connector_id"]
    before = client.get_connector(cid)
    expect_error(
        client.put(f"{CONNECTORS}/{cid}", {"container_properties": {"command": None}}),
        400,
        mentions=("image_uri", "command", "execution_role_arn", "job_role_arn"),
    )
    assert client.get_connector(cid) == before


def test_update_adding_image_lets_command_go(client):
    s = client.create_connector(container_properties={"command": ["/bin/true"]})
    cid = s["connector_id"]
    patch = {"container_properties": {**props(), "command": None}}
    expect(client.put(f"{CONNECTORS}/{cid}", patch), 200)
    assert client.get_connector(cid)["container_properties"] == with_defaults(props())


def test_update_unknown_connector_is_404(client):
    r = client.put(f"{CONNECTORS}/{MISSING_CONNECTOR}", {"name": "whatever"})
    expect_error(r, 404, message=not_found_connector(MISSING_CONNECTOR))


def test_get_unknown_connector_is_404_with_exact_message(client):
    r = client.get(f"{CONNECTORS}/{MISSING_CONNECTOR}")
    expect_error(r, 404, message="Connector cc-0123456789ab not found")


# List.


def test_list_shape_and_order(client):
    made = [client.create_connector()["connector_id"] for _ in range(3)]
    items = list_connectors_all(client)
    for s in items:
        assert SUMMARY_REQUIRED <= set(s) <= SUMMARY_REQUIRED | SUMMARY_OPTIONAL, s
        assert "container_properties" not in s, s
    keys = [(parse_time(s["created_at"]), s["connector_id"]) for s in items]
    assert keys == sorted(keys), "connectors must be ordered by created_at, then id"
    ids = [s["connector_id"] for s in items]
    assert len(ids) == len(set(ids))
    pos = [ids.index(c) for c in made]
    assert pos == sorted(pos), "connectors created in order must be listed in that order"


def test_list_entry_equals_get_summary(client):
    s = client.create_connector(description="listed")
    cid = s["connector_id"]
    items = list_connectors_all(client)
    (entry,) = [x for x in items if x["connector_id"] == cid]
    assert entry == s


def test_list_max_results_limits_page(client):
    for _ in range(3):
        client.create_connector()
    page, token, r = client.list_page(CONNECTORS, "connectors", max_results=2)
    assert len(page) == 2, r
    assert token, f"more connectors exist, so next_token must be present: {r}"
    page2, _, _ = client.list_page(CONNECTORS, "connectors", max_results=2, next_token=token)
    assert page2 and page2[0]["connector_id"] not in {p["connector_id"] for p in page}


def test_list_default_page_size_is_50(client):
    for _ in range(51 - len(list_connectors_all(client))):
        client.create_connector()
    page, token, r = client.list_page(CONNECTORS, "connectors")
    assert len(page) == 50, r
    assert token


# Delete.


def test_delete_returns_204_then_404(client):
    cid = client.create_connector()["connector_id"]
    r = expect(client.delete(f"{CONNECTORS}/{cid}"), 204)
    assert r.body == b""
    expect_error(client.get(f"{CONNECTORS}/{cid}"), 404, message=not_found_connector(cid))
    expect_error(client.delete(f"{CONNECTORS}/{cid}"), 404, message=not_found_connector(cid))
    expect_error(client.put(f"{CONNECTORS}/{cid}", {"name": "again"}), 404, message=not_found_connector(cid))
    assert cid not in {s["connector_id"] for s in list_connectors_all(client)}


def test_delete_in_use_is_409_and_keeps_connector(client):
    cid = client.create_connector()["connector_id"]
    job = client.start_job(cid)
    expect_error(client.delete(f"{CONNECTORS}/{cid}"), 409, mentions=(cid, "IN_USE", "in use", "job"))
    assert client.get_connector(cid)["status"] == "IN_USE"
    client.stop_job(cid, job["job_id"])
    # STOPPING is not terminal: the connector stays IN_USE until the job ends.
    expect_error(client.delete(f"{CONNECTORS}/{cid}"), 409)
    assert client.get_job(cid, job["job_id"])["status"] in ("STOPPING", "STOPPED")


def test_delete_cascades_documents_and_checkpoint(client):
    cid = client.create_connector()["connector_id"]
    client.put_documents(cid, [{"document_id": "d1", "checksum": checksum("1")}])
    client.put_checkpoint(cid, "state")
    expect(client.delete(f"{CONNECTORS}/{cid}"), 204)
    msg = not_found_connector(cid)
    expect_error(client.get(f"{CONNECTORS}/{cid}/documents"), 404, message=msg)
    expect_error(
        client.get(f"{CONNECTORS}/{cid}/checkpoint"), 404, message=(msg, f"Checkpoint for connector {cid} not found")
    )
    expect_error(client.get(f"{CONNECTORS}/{cid}/jobs"), 404, message=msg)
    expect_error(client.post(f"{CONNECTORS}/{cid}/jobs"), 404, message=msg)
    expect_error(
        client.post(f"{CONNECTORS}/{cid}/documents", {"documents": [{"document_id": "d2", "checksum": checksum()}]}),
        404,
        message=msg,
    )
    expect_error(client.put(f"{CONNECTORS}/{cid}/checkpoint", {"checkpoint_data": "x"}), 404, message=msg)
    # A new connector starts empty.
    new = client.create_connector()["connector_id"]
    assert new != cid
    page, token, _ = client.list_page(f"{CONNECTORS}/{new}/documents", "documents")
    assert page == [] and token is None
    expect_error(client.get(f"{CONNECTORS}/{new}/checkpoint"), 404, message=f"Checkpoint for connector {new} not found")
