"""The AWS profile's deployment, checked without AWS: deploy/aws/template.yaml
parsed (CloudFormation's short-form tags included) and checked for what
issue 18 asks (resource types that exist, every variable the bootstrap reads
set, every route of the API handler behind IAM auth, policies naming only
the tables, stream, queue, definitions and roles they need), the tables
against those the DynamoDB store makes on dynalite (keys, indexes,
projections, stream: the template cannot drift from the store's open), and
the zip of make aws-package: bootstrap at its root, libraries that need no glibc newer
than Lambda's 2.34, and the unpacked function answering under the Runtime
API stub by its bundled libraries.
"""

import http.client
import json
import os
import re
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import REPO, ccfd_binary, free_port
from dynproxy import DynamoProxy
from lambdastub import RuntimeStub, api_event

TEMPLATE = REPO / "deploy" / "aws" / "template.yaml"
LAMBDA_GLIBC = (2, 34)
PSEUDO = {"AWS::AccountId", "AWS::Region", "AWS::StackName", "AWS::Partition", "AWS::URLSuffix",
          "AWS::NoValue", "AWS::StackId", "AWS::NotificationARNs"}
# The types this template may use: each exists in CloudFormation's resource
# type reference (a misspelt one fails here rather than at deploy time).
KNOWN_TYPES = {
    "AWS::DynamoDB::Table", "AWS::IAM::Role", "AWS::Logs::LogGroup", "AWS::Lambda::Function",
    "AWS::Lambda::EventSourceMapping", "AWS::Lambda::Permission", "AWS::Events::Rule",
    "AWS::Batch::ComputeEnvironment", "AWS::Batch::JobQueue", "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource", "AWS::ApiGateway::Method", "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage", "AWS::Scheduler::ScheduleGroup", "AWS::Scheduler::Schedule",
}
# Batch actions without resource-level permissions: "*" is allowed for these only.
NO_RESOURCE_LEVEL = {"batch:DescribeJobs", "batch:ListJobs", "batch:DescribeJobDefinitions"}


class CfnLoader(yaml.SafeLoader):
    pass


def _tag(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            v = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                v = v.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            v = loader.construct_sequence(node, deep=True)
        else:
            v = loader.construct_mapping(node, deep=True)
        return {name: v}
    return construct


for _t in ("Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or",
           "FindInMap", "ImportValue", "Base64", "GetAZs", "Cidr"):
    CfnLoader.add_constructor("!" + _t, _tag("Ref" if _t == "Ref" else "Fn::" + _t))


@pytest.fixture(scope="module")
def tpl():
    return yaml.load(TEMPLATE.read_text(), Loader=CfnLoader)


def refs(node):
    """Every name a Ref, GetAtt or Sub refers to."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Ref":
                yield v
            elif k == "Fn::GetAtt":
                yield v[0]
            elif k == "Fn::Sub":
                text = v if isinstance(v, str) else v[0]
                for m in re.findall(r"\$\{([^}!]+)\}", text):
                    yield m.split(".", 1)[0]
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def of_type(tpl, t):
    return {k: r for k, r in tpl["Resources"].items() if r["Type"] == t}


def test_types_exist_and_every_reference_resolves(tpl):
    res = tpl["Resources"]
    for name, r in res.items():
        assert r["Type"] in KNOWN_TYPES, f"{name}: unknown type {r['Type']}"
    known = set(res) | set(tpl["Parameters"]) | PSEUDO
    missing = {n for n in refs(res) if n not in known}
    assert not missing, f"references to nothing: {missing}"


def test_the_function_and_its_three_sources(tpl):
    (fn,) = of_type(tpl, "AWS::Lambda::Function").values()
    p = fn["Properties"]
    assert p["Runtime"] == "provided.al2023" and p["Architectures"] == ["x86_64"]
    env = p["Environment"]["Variables"]
    # Every CCF_ variable the bootstrap reads, set (CCF_LOG_LEVEL included).
    read = set()
    for src in (REPO / "src" / "lambda").glob("*.c"):
        # getenv("CCF_X"), and the helpers' copy_env(..., "CCF_X"), env_true("CCF_X").
        read |= set(re.findall(r'"(CCF_[A-Z_]+)"', src.read_text()))
    assert read and read <= set(env), f"not set by the template: {read - set(env)}"
    assert env["CCF_EXECUTOR"] == "batch" and env["CCF_BATCH_JOB_QUEUE"] == {"Ref": "JobQueue"}
    assert env["CCF_STORE"]["Fn::Sub"].startswith("dynamodb://")
    maps = of_type(tpl, "AWS::Lambda::EventSourceMapping")
    assert {n: m["Properties"]["EventSourceArn"]["Fn::GetAtt"][0] for n, m in maps.items()} == {
        "JobsStreamMapping": "JobsTable", "ConnectorsStreamMapping": "ConnectorsTable"}
    for m in maps.values():
        assert m["Properties"]["EventSourceArn"]["Fn::GetAtt"][1] == "StreamArn"
        assert m["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert m["Properties"]["FunctionName"] == {"Ref": "Function"}
    # The job changes are never skipped; a connector's definition has the
    # submit as its safety net (docs/DECISIONS.md).
    assert maps["JobsStreamMapping"]["Properties"]["MaximumRetryAttempts"] == -1
    for t in ("JobsTable", "ConnectorsTable"):
        spec = tpl["Resources"][t]["Properties"]["StreamSpecification"]
        assert spec["StreamViewType"] == "NEW_AND_OLD_IMAGES", t
    (rule,) = of_type(tpl, "AWS::Events::Rule").values()
    pat = rule["Properties"]["EventPattern"]
    assert pat["source"] == ["aws.batch"] and pat["detail-type"] == ["Batch Job State Change"]
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    principals = {r["Properties"]["Principal"] for r in
                  of_type(tpl, "AWS::Lambda::Permission").values()}
    assert principals == {"events.amazonaws.com", "apigateway.amazonaws.com"}
    (ce,) = of_type(tpl, "AWS::Batch::ComputeEnvironment").values()
    assert ce["Properties"]["ComputeResources"]["Type"] == "FARGATE"


def api_routes():
    """The API handler's paths (src/api/route.c's table), as /-joined
    segments with {connector_id}, {job_id} and {webhook_id}. Every route
    row of the table is parsed, or this fails: a row whose segments the
    pattern missed (a new ID_ macro) must not drop out of the check."""
    text = (REPO / "src" / "api" / "route.c").read_text()
    ids = {"ID_C": "{connector_id}", "ID_J": "{job_id}", "ID_W": "{webhook_id}"}
    seg = r'(?:"[a-z-]+"|' + "|".join(ids) + ")"
    out = []
    for m in re.finditer(r"^\s*\{\{(" + seg + r"(?:, " + seg + r")*)\}", text, re.M):
        segs = [s.strip().strip('"') for s in m.group(1).split(",")]
        out.append("/api/v1/" + "/".join(ids.get(s, s) for s in segs))
    rows = re.findall(r"^    \{\{\"", text, re.M)
    assert len(out) == len(rows), f"parsed {len(out)} of route.c's {len(rows)} routes: {out}"
    return out


def test_every_route_is_there_behind_iam(tpl):
    res = tpl["Resources"]
    paths = {}

    def path_of(name):
        r = res[name]["Properties"]
        parent = r["ParentId"]
        base = "" if parent == {"Fn::GetAtt": ["RestApi", "RootResourceId"]} else \
            path_of(parent["Ref"])
        return base + "/" + r["PathPart"]

    for name in of_type(tpl, "AWS::ApiGateway::Resource"):
        paths[path_of(name)] = name
    routes = api_routes()
    assert len(routes) >= 17, routes  # 17 paths today
    methods = of_type(tpl, "AWS::ApiGateway::Method").values()
    for route in routes:
        assert route in paths, f"no API Gateway resource for {route}"
        ms = [m["Properties"] for m in methods
              if m["Properties"]["ResourceId"] == {"Ref": paths[route]}]
        assert ms, f"no method on {route}"
        for m in ms:
            assert m["AuthorizationType"] == "AWS_IAM", route
            assert m["Integration"]["Type"] == "AWS_PROXY", route
            assert "${Function.Arn}" in m["Integration"]["Uri"]["Fn::Sub"], route


STREAM_ACTIONS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                  "dynamodb:ListStreams"}


def test_policies_are_least_privilege(tpl):
    role = tpl["Resources"]["FunctionRole"]
    assert set(of_type(tpl, "AWS::IAM::Role")) == {"FunctionRole", "SchedulerRole"}
    tables = set(of_type(tpl, "AWS::DynamoDB::Table"))
    for pol in role["Properties"]["Policies"]:
        for st in pol["PolicyDocument"]["Statement"]:
            assert st["Effect"] == "Allow"
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            assert all("*" not in a for a in actions), f"wildcard action: {actions}"
            if "*" in resources:
                assert set(actions) <= NO_RESOURCE_LEVEL, f"'*' for {actions}"
                continue
            # (Scan: only on the tables the store scans, checked below.)
            for a in actions:
                assert not a.startswith("dynamodb:") or a not in (
                    "dynamodb:DeleteTable", "dynamodb:CreateTable"), a
            named = set(refs(resources))
            if any(a.startswith("dynamodb:") for a in actions):
                assert named and named <= tables, f"{actions} on {named}"
            if any(a in STREAM_ACTIONS for a in actions):
                # The streams' reads: only the two streams the mappings read.
                assert set(actions) <= STREAM_ACTIONS, actions
                assert sorted(r["Fn::GetAtt"][0] for r in resources) == [
                    "ConnectorsTable", "JobsTable"], resources
                assert all(r["Fn::GetAtt"][1] == "StreamArn" for r in resources), resources
            if "iam:PassRole" in actions:
                passed = st["Condition"]["StringEquals"]["iam:PassedToService"]
                if "scheduler.amazonaws.com" in passed:
                    # Only the role Scheduler invokes the function as.
                    assert passed == ["scheduler.amazonaws.com"]
                    assert resources == [{"Fn::GetAtt": ["SchedulerRole", "Arn"]}]
                else:
                    assert named == {"AWS::Partition", "AWS::AccountId", "JobRolePath"}
            if any(a.startswith("scheduler:") for a in actions):
                assert set(actions) <= {"scheduler:CreateSchedule", "scheduler:UpdateSchedule",
                                        "scheduler:DeleteSchedule"}, actions
                (res,) = resources
                assert ":schedule/${ScheduleGroup}/*" in res["Fn::Sub"], res
            if any(a.startswith("batch:") for a in actions):
                text = str(resources)
                assert "job-definition/ccf-*" in text or "JobQueue" in text or ":job/" in text


def test_schedules_invoke_only_the_function(tpl):
    res = tpl["Resources"]
    role = res["SchedulerRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    (pol,) = role["Policies"]
    (st,) = pol["PolicyDocument"]["Statement"]
    assert st["Action"] == ["lambda:InvokeFunction"]
    fn = res["Function"]["Properties"]
    # The role may invoke exactly the function the template names, and the
    # function tells Scheduler that same ARN as its schedules' target.
    assert fn["FunctionName"] == {"Fn::Sub": "${AWS::StackName}-ccf"}
    target = fn["Environment"]["Variables"]["CCF_SCHEDULER_TARGET_ARN"]
    assert st["Resource"] == target and target["Fn::Sub"].endswith(":function:${AWS::StackName}-ccf")
    env = fn["Environment"]["Variables"]
    assert env["CCF_SCHEDULE_GROUP"] == {"Ref": "ScheduleGroup"}
    assert env["CCF_SCHEDULER_ROLE_ARN"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    assert env["CCF_WEBHOOK_ALLOW_PRIVATE"] == "false"
    (tick,) = of_type(tpl, "AWS::Scheduler::Schedule").values()
    t = tick["Properties"]
    assert t["ScheduleExpression"] == "rate(1 minute)" and t["GroupName"] == {"Ref": "ScheduleGroup"}
    assert t["Target"]["Arn"] == {"Fn::GetAtt": ["Function", "Arn"]}
    assert t["Target"]["RoleArn"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    assert json.loads(t["Target"]["Input"]) == {"ccf_event": "tick"}


# ---- the tables: the template's against the store's own ----

DDB_SRC = REPO / "src" / "store" / "dynamodb"
DYNALITE = str(REPO / "scripts" / "dynalite.sh")


def store_prefix(tpl):
    """CCF_STORE's table prefix in the template ("${AWS::StackName}")."""
    env = tpl["Resources"]["Function"]["Properties"]["Environment"]["Variables"]
    m = re.fullmatch(r"dynamodb://([^?]+)\?region=\$\{AWS::Region\}&tables=existing",
                     env["CCF_STORE"]["Fn::Sub"])
    assert m, env["CCF_STORE"]
    return m.group(1)


def template_tables(tpl):
    """{suffix: the table's Properties}, the suffix being what follows the
    store's prefix in its TableName (the store names PREFIX + suffix)."""
    prefix = store_prefix(tpl)
    out = {}
    for name, r in of_type(tpl, "AWS::DynamoDB::Table").items():
        tn = r["Properties"]["TableName"]["Fn::Sub"]
        assert tn.startswith(prefix), f"{name}: {tn} is not under CCF_STORE's prefix {prefix}"
        out[tn[len(prefix):]] = r["Properties"]
    return out


def _keys(ks):
    return [(k["AttributeName"], k["KeyType"]) for k in ks]


def _projection(p):
    return (p["ProjectionType"], tuple(sorted(p.get("NonKeyAttributes", []))))


def _indexes(props, kind):
    return {i["IndexName"]: (_keys(i["KeySchema"]), _projection(i["Projection"]))
            for i in props.get(kind, [])}


def shape(props):
    """What must agree, from CloudFormation Properties or a DescribeTable
    answer (the same member names)."""
    stream = props.get("StreamSpecification") or {}
    enabled = stream.get("StreamEnabled", "StreamViewType" in stream)
    return {
        "keys": _keys(props["KeySchema"]),
        "attributes": sorted((a["AttributeName"], a["AttributeType"])
                             for a in props["AttributeDefinitions"]),
        "lsi": _indexes(props, "LocalSecondaryIndexes"),
        "gsi": _indexes(props, "GlobalSecondaryIndexes"),
        "stream": stream.get("StreamViewType") if enabled else None,
    }


def differences(store, template):
    """Every way the template's tables ({suffix: Properties}) differ from
    the store's ({suffix: DescribeTable's Table}); [] when they agree."""
    out = [f"{s}: the store makes it, the template has none" for s in sorted(set(store) - set(template))]
    out += [f"{s}: in the template, not made by the store" for s in sorted(set(template) - set(store))]
    for s in sorted(set(store) & set(template)):
        want, got = shape(store[s]), shape(template[s])
        for k in want:
            if want[k] != got[k]:
                out.append(f"{s}: {k}: the store has {want[k]}, the template {got[k]}")
    return out


class CreateTableRecorder:
    """Keeps each CreateTable request's body (dynproxy.py in front of
    dynalite): dynalite takes a StreamSpecification without keeping it
    (DescribeTable does not show one), so the stream the store asks for is
    read from its own request."""

    def __init__(self, upstream):
        self.created = {}

        def observe(action, body, _answer):
            if action == "CreateTable":
                req = json.loads(body)
                self.created[req["TableName"]] = req

        self.proxy = DynamoProxy(upstream, observe)
        self.url = self.proxy.url

    def close(self):
        self.proxy.close()


@pytest.fixture(scope="module")
def dynalite_endpoint(tmp_path_factory):
    endpoint = os.environ.get("CCF_TEST_DYNAMO_ENDPOINT")
    if endpoint:
        yield endpoint
        return
    why = subprocess.run([DYNALITE, "check"], capture_output=True, text=True)
    if why.returncode != 0:
        pytest.skip(why.stdout.strip() or "dynalite cannot run here")
    d = str(tmp_path_factory.mktemp("dynalite"))
    out = subprocess.run([DYNALITE, "start", d, str(os.getpid())], capture_output=True,
                         text=True, check=True).stdout
    yield dict(line.split("=", 1) for line in out.split() if "=" in line)[
        "CCF_TEST_DYNAMO_ENDPOINT"]
    subprocess.run([DYNALITE, "stop", d], check=False)


@pytest.fixture(scope="module")
def store_tables(dynalite_endpoint, tmp_path_factory):
    """The tables a ccfd on the DynamoDB store creates on an empty dynalite,
    by suffix: DescribeTable's Table, with the StreamSpecification of the
    store's CreateTable request. Skipped where dynalite cannot run."""
    boto3 = pytest.importorskip("boto3")
    keys = {"AWS_ACCESS_KEY_ID": "AKIDDEPLOYTESTS", "AWS_SECRET_ACCESS_KEY": "deploy-tests"}
    prefix = "tpl-" + os.urandom(4).hex()
    data = tmp_path_factory.mktemp("ccfd-tables")
    port = free_port()
    rec = CreateTableRecorder(dynalite_endpoint)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CCF_", "AWS_"))}
    with open(data / "ccfd.log", "wb") as log:
        p = subprocess.Popen([ccfd_binary(), "--listen", f"127.0.0.1:{port}", "--data-dir",
                              str(data), "--store",
                              f"dynamodb://{prefix}?region=us-east-1&endpoint={rec.url}",
                              "--store-experimental"], env={**env, **keys},
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        # Up once it answers: its open made every table by then.
        deadline = time.monotonic() + 120
        while p.poll() is None and time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("ccfd did not start on dynalite:\n" + (data / "ccfd.log").read_text())
        ddb = boto3.client("dynamodb", endpoint_url=dynalite_endpoint, region_name="us-east-1",
                           aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                           aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])
        # Every page: under make test-dynamo the shared dynalite holds every
        # other test's tables too, and ours may sort past the first 100.
        names = [n for page in ddb.get_paginator("list_tables").paginate()
                 for n in page["TableNames"] if n.startswith(prefix)]
        out = {}
        for n in names:
            out[n[len(prefix):]] = table = ddb.describe_table(TableName=n)["Table"]
            table.pop("StreamSpecification", None)
            if "StreamSpecification" in rec.created[n]:
                table["StreamSpecification"] = rec.created[n]["StreamSpecification"]
        yield out
    finally:
        p.terminate()
        p.wait(timeout=60)
        rec.close()


def test_the_template_has_the_stores_tables(tpl, store_tables):
    # The store's suffixes are ddb_int.h's DDB__T_ names: a table made at
    # open under a name the header does not list would escape this test.
    declared = set(re.findall(r'#define DDB__T_[A-Z]+ +"(-[a-z]+)"',
                              (DDB_SRC / "ddb_int.h").read_text()))
    assert declared and set(store_tables) == declared, (set(store_tables), declared)
    assert differences(store_tables, template_tables(tpl)) == []
    # The orchestrator's stream (JobsStreamMapping) is the jobs table's; the
    # connectors' (ConnectorsStreamMapping) registers job definitions.
    assert shape(store_tables["-jobs"])["stream"] == "NEW_AND_OLD_IMAGES"
    assert shape(store_tables["-connectors"])["stream"] == "NEW_AND_OLD_IMAGES"
    assert sorted(s for s, t in store_tables.items() if shape(t)["stream"]) == ["-connectors",
                                                                               "-jobs"]


def test_the_comparison_sees_a_missing_table_or_index(tpl, store_tables):
    """differences() is not vacuous: the template without one table, or
    without one index of each kind, or with another projection, differs."""
    tables = template_tables(tpl)
    assert any("the template has none" in d for d in differences(
        store_tables, {s: p for s, p in tables.items() if s != "-changes"}))
    for kind in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes"):
        cut = json.loads(json.dumps(tables))
        cut["-jobs"][kind] = cut["-jobs"][kind][1:] or None
        if cut["-jobs"][kind] is None:
            del cut["-jobs"][kind]
        assert any(d.startswith("-jobs: ") for d in differences(store_tables, cut)), kind
    cut = json.loads(json.dumps(tables))
    cut["-connectors"]["GlobalSecondaryIndexes"][0]["Projection"] = {"ProjectionType": "ALL"}
    assert differences(store_tables, cut)
    for t in ("-jobs", "-connectors"):
        cut = json.loads(json.dumps(tables))
        del cut[t]["StreamSpecification"]
        assert differences(store_tables, cut), t


def test_the_tables_policy_is_what_the_store_calls(tpl):
    """The function may call on the tables exactly the actions
    src/store/dynamodb/ calls (CreateTable and UpdateTable aside: only with
    tables=ensure, for a table or index that DescribeTable does not find,
    which the template makes), on every table,
    with index/* for the tables that have indexes, and Scan only on the
    tables the code scans."""
    calls = {}
    for src in DDB_SRC.glob("*.c"):
        for m in re.finditer(r'ddb__(?:call|each_page|each_item)\(\w+, "(\w+)"',
                             src.read_text()):
            calls.setdefault(m.group(1), set()).add(src.name)
    assert "Query" in calls and "Scan" in calls, calls
    (pol,) = [p for p in tpl["Resources"]["FunctionRole"]["Properties"]["Policies"]
              if p["PolicyName"] == "tables"]
    granted = {}
    for st in pol["PolicyDocument"]["Statement"]:
        for a in st["Action"] if isinstance(st["Action"], list) else [st["Action"]]:
            granted.setdefault(a, []).extend(st["Resource"] if isinstance(st["Resource"], list)
                                             else [st["Resource"]])
    stream = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
              "dynamodb:ListStreams"}
    assert "UpdateTable" in calls, calls
    assert set(granted) - stream == {"dynamodb:" + a for a in calls
                                     if a not in ("CreateTable", "UpdateTable")}
    tables = of_type(tpl, "AWS::DynamoDB::Table")
    for a, res in granted.items():
        if a in stream:
            continue
        arns = {r["Fn::GetAtt"][0] for r in res if "Fn::GetAtt" in r}
        index = {r["Fn::Sub"] for r in res if "Fn::Sub" in r}
        if a == "dynamodb:Scan":
            # Each scanned table, by the file that scans it (its DDB__T_ name).
            scanned = set()
            for f in calls["Scan"]:
                text = (DDB_SRC / f).read_text()
                for t in re.findall(r"ddb__table\(\w+, (DDB__T_[A-Z]+)", text):
                    if re.search(r"ddb__table\(\w+, " + t + r",[^;]*;(?:(?!ddb__table).)*?\"Scan\"",
                                 text, re.S):
                        scanned.add(t)
            assert len(arns) == len(scanned) and not index, (a, arns, scanned)
            continue
        assert arns == set(tables), f"{a}: not on every table: {set(tables) - arns}"
        with_index = {n for n, r in tables.items() if r["Properties"].get("LocalSecondaryIndexes")
                      or r["Properties"].get("GlobalSecondaryIndexes")}
        assert index == {"${%s.Arn}/index/*" % n for n in with_index}, (a, index)


# ---- make aws-package ----


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    out = tmp_path_factory.mktemp("aws")
    binary = os.environ.get("BOOTSTRAP") or str(REPO / "build" / "bootstrap")
    subprocess.run([str(REPO / "scripts" / "aws-package.sh"), binary, str(out)], check=True,
                   capture_output=True)
    return out / "ccf-lambda.zip"


def glibc_versions(path):
    out = subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True,
                         check=True).stdout
    return {tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_([0-9.]+)\b", out)}


def test_the_zip_holds_bootstrap_and_its_libraries(package, tmp_path):
    with zipfile.ZipFile(package) as z:
        names = z.namelist()
        info = z.getinfo("bootstrap")
        assert (info.external_attr >> 16) & 0o777 == 0o755, "bootstrap must be executable"
        z.extractall(tmp_path / "fn")
    assert all(n == "bootstrap" or n.startswith("lib/") for n in names), names
    libs = [n for n in names if n.startswith("lib/")]
    assert any("libcurl" in n for n in libs) and not any(
        re.search(r"lib/(libc|libm|libresolv|ld-linux)[.-]", n) for n in libs), libs
    # A sanitizer build (make asan) bundles the compiler's runtime
    # libraries, which this machine's glibc built: the zip Lambda gets is
    # make aws-package's, from the plain build.
    if "__asan_init" in subprocess.run(["nm", "-D", str(tmp_path / "fn" / "bootstrap")],
                                       capture_output=True, text=True).stdout:
        libs = []
    for n in ["bootstrap"] + libs:
        newer = sorted(v for v in glibc_versions(tmp_path / "fn" / n) if v > LAMBDA_GLIBC)
        assert not newer, f"{n} needs glibc {newer}; Lambda's provided.al2023 has 2.34"


def test_the_unpacked_function_serves_with_its_own_libraries(package, tmp_path):
    with zipfile.ZipFile(package) as z:
        z.extractall(tmp_path / "fn")
    boot = tmp_path / "fn" / "bootstrap"
    boot.chmod(0o755)
    ldd = subprocess.run(["ldd", str(boot)], capture_output=True, text=True, check=True).stdout
    assert str(tmp_path / "fn" / "lib" / "libcurl.so.4") in ldd, ldd
    stub = RuntimeStub()
    p = subprocess.Popen([str(boot)], env={"AWS_LAMBDA_RUNTIME_API": stub.address,
                                           "AWS_REGION": "us-east-1",
                                           "CCF_STORE": f"sqlite:{tmp_path}/ccf.db"},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = stub.invoke(api_event("GET", "/api/v1/custom-connectors"))
        assert out["statusCode"] == 200 and '"connectors":[]' in out["body"]
    finally:
        stub.close()
        assert p.wait(timeout=30) == 1
