"""Request validation: each bad field is a 400 BadRequestException whose
message names the field, and nothing is written."""

import json

import pytest

from ccftest import (
    CONNECTORS,
    DROP,
    EXEC_ROLE,
    IMAGE_URI,
    JOB_ROLE,
    expect,
    expect_error,
    list_connectors_all,
    props,
    unique_name,
    with_defaults,
)


def rr(**kw):
    return props(resource_requirements=kw)


def env(*items):
    return props(environment=list(items))


def var(name, value="x"):
    return {"name": name, "value": value}


RESERVED = [
    "CUSTOM_CONNECTOR_JOB_ID",
    "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID",
    "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN",
    "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN_PREFIX",
    "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT",
    "CUSTOM_CONNECTOR_ANYTHING",
    "CUSTOM_CONNECTOR_",
    "AWS_REGION",
    "PATH",
    "HOME",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
]

# (id, name, description (None: absent), container_properties, words one of which the message names)
BAD_CREATES = [
    ("name-2", "ab", None, props(), "name"),
    ("name-129", "a" * 129, None, props(), "name"),
    ("name-space", "a b c", None, props(), "name"),
    ("name-underscore", "a_b_c", None, props(), "name"),
    ("name-dot", "a.b.c", None, props(), "name"),
    ("name-non-ascii", "ñame", None, props(), "name"),
    ("name-empty", "", None, props(), "name"),
    ("name-nul", "abc\u0000", None, props(), "name"),
    ("name-newline", "abc\n", None, props(), "name"),
    ("description-2", "ok-name", "ab", props(), "description"),
    ("description-1001", "ok-name", "d" * 1001, props(), "description"),
    ("description-1001-code-points", "ok-name", "é" * 1001, props(), "description"),
    ("description-empty", "ok-name", "", props(), "description"),
    ("image-no-path", "ok-name", None, props(image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/"), "image_uri"),
    ("image-no-slash", "ok-name", None, props(image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com"), "image_uri"),
    ("image-11-digits", "ok-name", None, props(image_uri="12345678901.dkr.ecr.us-east-1.amazonaws.com/x"), "image_uri"),
    ("image-13-digits", "ok-name", None, props(image_uri="1234567890123.dkr.ecr.us-east-1.amazonaws.com/x"), "image_uri"),
    ("image-docker-hub", "ok-name", None, props(image_uri="docker.io/library/ubuntu:22.04"), "image_uri"),
    ("image-upper-region", "ok-name", None, props(image_uri="123456789012.dkr.ecr.US-EAST-1.amazonaws.com/x"), "image_uri"),
    ("image-dot-unescaped", "ok-name", None, props(image_uri="123456789012Xdkr.ecr.us-east-1.amazonaws.com/x"), "image_uri"),
    ("image-prefix", "ok-name", None, props(image_uri="x123456789012.dkr.ecr.us-east-1.amazonaws.com/x"), "image_uri"),
    ("image-2049", "ok-name", None, props(image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/" + "x" * 2004), "image_uri"),
    ("image-number", "ok-name", None, props(image_uri=123), "image_uri"),
    ("image-empty", "ok-name", None, props(image_uri=""), "image_uri"),
    ("image-missing", "ok-name", None, props(image_uri=DROP), "image_uri"),
    ("exec-role-missing", "ok-name", None, props(execution_role_arn=DROP), "execution_role_arn"),
    ("job-role-missing", "ok-name", None, props(job_role_arn=DROP), "job_role_arn"),
    ("exec-role-user", "ok-name", None, props(execution_role_arn="arn:aws:iam::123456789012:user/x"), "execution_role_arn"),
    ("exec-role-11-digits", "ok-name", None, props(execution_role_arn="arn:aws:iam::12345678901:role/x"), "execution_role_arn"),
    ("exec-role-empty-name", "ok-name", None, props(execution_role_arn="arn:aws:iam::123456789012:role/"), "execution_role_arn"),
    ("exec-role-partition", "ok-name", None, props(execution_role_arn="arn:aws-cn:iam::123456789012:role/x"), "execution_role_arn"),
    ("exec-role-2049", "ok-name", None, props(execution_role_arn="arn:aws:iam::123456789012:role/" + "r" * 2018), "execution_role_arn"),
    ("job-role-user", "ok-name", None, props(job_role_arn="arn:aws:iam::123456789012:user/x"), "job_role_arn"),
    ("job-role-prefix", "ok-name", None, props(job_role_arn=" arn:aws:iam::123456789012:role/x"), "job_role_arn"),
    ("job-role-number", "ok-name", None, props(job_role_arn=5), "job_role_arn"),
    ("cpu-0", "ok-name", None, rr(cpu=0), "cpu"),
    ("cpu-0.5", "ok-name", None, rr(cpu=0.5), "cpu"),
    ("cpu-17", "ok-name", None, rr(cpu=17), "cpu"),
    ("cpu-16.5", "ok-name", None, rr(cpu=16.5), "cpu"),
    ("cpu-negative", "ok-name", None, rr(cpu=-1), "cpu"),
    ("cpu-string", "ok-name", None, rr(cpu="1"), "cpu"),
    ("cpu-bool", "ok-name", None, rr(cpu=True), "cpu"),
    ("cpu-array", "ok-name", None, rr(cpu=[1]), "cpu"),
    ("memory-1023", "ok-name", None, rr(memory=1023), "memory"),
    ("memory-122881", "ok-name", None, rr(memory=122881), "memory"),
    ("memory-float", "ok-name", None, rr(memory=2048.0), "memory"),
    ("memory-fraction", "ok-name", None, rr(memory=2048.5), "memory"),
    ("memory-string", "ok-name", None, rr(memory="2048"), "memory"),
    ("memory-negative", "ok-name", None, rr(memory=-2048), "memory"),
    ("memory-bool", "ok-name", None, rr(memory=True), "memory"),
    ("rr-array", "ok-name", None, props(resource_requirements=[1, 2048]), "resource_requirements"),
    ("rr-string", "ok-name", None, props(resource_requirements="big"), "resource_requirements"),
    ("timeout-0", "ok-name", None, props(timeout=0), "timeout"),
    ("timeout-604801", "ok-name", None, props(timeout=604801), "timeout"),
    ("timeout-negative", "ok-name", None, props(timeout=-5), "timeout"),
    ("timeout-float", "ok-name", None, props(timeout=3600.0), "timeout"),
    ("timeout-string", "ok-name", None, props(timeout="60"), "timeout"),
    ("command-empty", "ok-name", None, props(command=[]), "command"),
    ("command-65", "ok-name", None, props(command=["x"] * 65), "command"),
    ("command-empty-string", "ok-name", None, props(command=["run", ""]), "command"),
    ("command-4097", "ok-name", None, props(command=["c" * 4097]), "command"),
    ("command-4097-code-points", "ok-name", None, props(command=["é" * 4097]), "command"),
    ("command-string", "ok-name", None, props(command="ls -l"), "command"),
    ("command-number-item", "ok-name", None, props(command=["ls", 1]), "command"),
    ("command-null-item", "ok-name", None, props(command=["ls", None]), "command"),
    ("command-object", "ok-name", None, props(command={"0": "ls"}), "command"),
    ("command-only-missing-image-and-roles", "ok-name", None, {"resource_requirements": {"cpu": 1}}, "image_uri"),
    ("env-51", "ok-name", None, env(*[var(f"V{i}") for i in range(51)]), "environment"),
    ("env-name-digit-first", "ok-name", None, env(var("1A")), "environment"),
    ("env-name-dash", "ok-name", None, env(var("A-B")), "environment"),
    ("env-name-empty", "ok-name", None, env(var("")), "environment"),
    ("env-name-129", "ok-name", None, env(var("A" * 129)), "environment"),
    ("env-name-equals", "ok-name", None, env(var("A=B")), "environment"),
    ("env-duplicate", "ok-name", None, env(var("A", "1"), var("A", "2")), "environment"),
    ("env-value-4097", "ok-name", None, env(var("A", "v" * 4097)), "environment"),
    ("env-value-number", "ok-name", None, env(var("A", 5)), "environment"),
    ("env-item-string", "ok-name", None, env("A=1"), "environment"),
    ("env-object", "ok-name", None, props(environment={"A": "1"}), "environment"),
] + [
    (f"env-reserved-{n}", "ok-name", None, env(var(n)), ("environment", n)) for n in RESERVED
]


@pytest.mark.parametrize(
    "name,description,cp,field", [b[1:] for b in BAD_CREATES], ids=[b[0] for b in BAD_CREATES]
)
def test_bad_create_is_400_naming_the_field(client, name, description, cp, field):
    name = unique_name(name) if name == "ok-name" else name
    body = {"name": name, "container_properties": cp}
    if description is not None:
        body["description"] = description
    r = client.post(CONNECTORS, body)
    expect_error(r, 400, mentions=field if isinstance(field, tuple) else (field,))


def test_bad_creates_write_nothing(client):
    before = list_connectors_all(client)
    for _, name, description, cp, _ in BAD_CREATES[::7]:
        body = {"name": unique_name() if name == "ok-name" else name, "container_properties": cp}
        if description is not None:
            body["description"] = description
        expect_error(client.post(CONNECTORS, body), 400)
    assert list_connectors_all(client) == before


@pytest.mark.parametrize(
    "body,field",
    [
        ({"container_properties": props()}, "name"),
        ({"name": None, "container_properties": props()}, "name"),
        ({"name": 123, "container_properties": props()}, "name"),
        ({"name": ["abc"], "container_properties": props()}, "name"),
        ({"name": "ok-name"}, "container_properties"),
        ({"name": "ok-name", "container_properties": None}, "container_properties"),
        ({"name": "ok-name", "container_properties": "x"}, "container_properties"),
        ({"name": "ok-name", "container_properties": []}, "container_properties"),
        ({"name": "ok-name", "container_properties": 1}, "container_properties"),
        ({"name": "ok-name", "description": 5, "container_properties": props()}, "description"),
        ({"name": "ok-name", "description": {}, "container_properties": props()}, "description"),
    ],
    ids=[
        "name-missing", "name-null", "name-number", "name-array", "properties-missing", "properties-null",
        "properties-string", "properties-array", "properties-number", "description-number", "description-object",
    ],
)
def test_missing_or_mistyped_top_fields_are_400(client, body, field):
    expect_error(client.post(CONNECTORS, body), 400, mentions=(field,))


GOOD_CREATES = [
    ("cpu-1.5", rr(cpu=1.5)),
    ("cpu-16", rr(cpu=16)),
    ("cpu-16.0", rr(cpu=16.0)),
    ("cpu-1", rr(cpu=1)),
    ("memory-1024", rr(memory=1024)),
    ("memory-122880", rr(memory=122880)),
    ("memory-2048", rr(memory=2048)),
    ("timeout-1", props(timeout=1)),
    ("timeout-604800", props(timeout=604800)),
    ("command-64", props(command=["x"] * 64)),
    ("command-4096", props(command=["c" * 4096])),
    ("command-only", {"command": ["/usr/bin/env"]}),
    ("command-and-exec-role", {"command": ["x"], "execution_role_arn": EXEC_ROLE}),
    ("env-50", env(*[var(f"V{i}") for i in range(50)])),
    ("env-empty", props(environment=[])),
    ("env-name-128", env(var("A" * 128))),
    ("env-name-lower-under", env(var("a_B_9"))),
    ("env-value-empty", env(var("A", ""))),
    ("env-value-4096", env(var("A", "é" * 4096))),
    ("env-path-lowercase", env(var("path"))),
    ("image-2048", props(image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/" + "x" * 2003)),
    ("roles-2048", props(execution_role_arn="arn:aws:iam::123456789012:role/" + "r" * 2017, job_role_arn=JOB_ROLE)),
    ("image-other-region", props(image_uri="000000000000.dkr.ecr.ap-southeast-2.amazonaws.com/a/b@sha256:00")),
]


@pytest.mark.parametrize("cp", [g[1] for g in GOOD_CREATES], ids=[g[0] for g in GOOD_CREATES])
def test_boundary_values_are_accepted(client, cp):
    s = client.create_connector(container_properties=cp)
    got = client.get_connector(s["connector_id"])["container_properties"]
    assert got == with_defaults(cp)


def test_lengths_are_code_points(client):
    assert len(IMAGE_URI) >= 20
    s = client.create_connector(description="é" * 1000, container_properties=props(command=["😀" * 4096]))
    g = client.get_connector(s["connector_id"])
    assert g["description"] == "é" * 1000
    assert g["container_properties"]["command"] == ["😀" * 4096]


def test_integer_fields_reject_exponent_and_fraction_forms(client):
    for raw in (b"2e3", b"2048.0", b"2.048e3", b"20480e-1"):
        body = (
            b'{"name": "' + unique_name().encode() + b'", "container_properties": {"image_uri": "' + IMAGE_URI.encode()
            + b'", "execution_role_arn": "' + EXEC_ROLE.encode() + b'", "job_role_arn": "' + JOB_ROLE.encode()
            + b'", "resource_requirements": {"memory": ' + raw + b"}}}"
        )
        expect_error(client.post(CONNECTORS, body=body), 400, mentions=("memory",))
    ok = json.dumps({"name": unique_name(), "container_properties": rr(memory=2048)}).encode()
    expect(client.post(CONNECTORS, body=ok), 201)


def test_timeout_rejects_exponent_form(client):
    body = json.dumps({"name": unique_name(), "container_properties": props(timeout=7)}).encode()
    expect_error(client.post(CONNECTORS, body=body.replace(b'"timeout": 7', b'"timeout": 1e2')), 400, mentions=("timeout",))


def test_escaped_key_names_are_decoded(client):
    name = unique_name("esc")
    body = (b'{"n\\u0061me": "' + name.encode() + b'", "\\u0063ontainer_properties": {"command": ["x"]},'
            b' "descr\\u0069ption": "via escapes"}')
    r = expect(client.post(CONNECTORS, body=body), 201)
    assert r.json["connector"]["name"] == name
    assert r.json["connector"]["description"] == "via escapes"


def test_nested_unknown_fields_are_ignored(client):
    deep = {"x": 1}
    for _ in range(32):
        deep = {"d": [deep]}
    s = client.create_connector(container_properties={"command": ["x"], "bogus": deep}, bogus=deep)
    assert client.get_connector(s["connector_id"])["container_properties"] == with_defaults({"command": ["x"]})


def test_cpu_accepts_exponent_form(client):
    body = json.dumps({"name": unique_name(), "container_properties": rr(cpu=0)}).encode()
    body = body.replace(b'"cpu": 0', b'"cpu": 15E-1')
    r = expect(client.post(CONNECTORS, body=body), 201)
    cp = client.get_connector(r.json["connector"]["connector_id"])["container_properties"]
    assert cp["resource_requirements"]["cpu"] == 1.5


TOP_LEVEL = [b"[]", b'[{"name": "abc"}]', b'"abc"', b"1", b"null", b"true", b"{}"]
BODY_OPS = [
    ("create", "POST", "{connectors}"),
    ("update", "PUT", "{connector}"),
    ("start", "POST", "{connector}/jobs"),
    ("documents-put", "POST", "{connector}/documents"),
    ("documents-delete", "DELETE", "{connector}/documents"),
    ("checkpoint-put", "PUT", "{connector}/checkpoint"),
]


TOP_LEVEL_IDS = ["array", "array-of-object", "string", "number", "null", "bool", "empty-object"]


@pytest.mark.parametrize("raw", TOP_LEVEL, ids=TOP_LEVEL_IDS)
@pytest.mark.parametrize("op,method,route", BODY_OPS, ids=[o[0] for o in BODY_OPS])
def test_top_level_must_be_an_object(client, op, method, route, raw):
    if op == "start" and raw == b"{}":
        pytest.skip("{} is a valid start body")
    cid = client.create_connector()["connector_id"]
    target = route.format(connectors=CONNECTORS, connector=f"{CONNECTORS}/{cid}")
    before = client.get_connector(cid)
    expect_error(client.request(method, target, body=raw), 400)
    assert client.get_connector(cid) == before
    assert client.list_page(f"{CONNECTORS}/{cid}/jobs", "jobs")[0] == []
