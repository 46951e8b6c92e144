"""The AWS profile's deployment, checked without AWS: deploy/aws/template.yaml
parsed (CloudFormation's short-form tags included) and checked for what
issue 18 asks (resource types that exist, every variable the bootstrap reads
set, every route of the API handler behind IAM auth, policies naming only
the tables, stream, queue, definitions and roles they need), and the zip of
make aws-package: bootstrap at its root, libraries that need no glibc newer
than Lambda's 2.34, and the unpacked function answering under the Runtime
API stub by its bundled libraries.
"""

import json
import os
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml

from conftest import REPO
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
    (m,) = of_type(tpl, "AWS::Lambda::EventSourceMapping").values()
    assert m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["JobsTable", "StreamArn"]}
    assert m["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    jobs = tpl["Resources"]["JobsTable"]["Properties"]
    assert jobs["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
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
    segments with {connector_id} and {job_id}."""
    text = (REPO / "src" / "api" / "route.c").read_text()
    out = []
    for m in re.finditer(r"\{\{((?:\"[a-z-]+\"|ID_C|ID_J)(?:, (?:\"[a-z-]+\"|ID_C|ID_J))*)\}",
                         text):
        segs = [s.strip().strip('"') for s in m.group(1).split(",")]
        out.append("/api/v1/" + "/".join({"ID_C": "{connector_id}", "ID_J": "{job_id}"}.get(s, s)
                                          for s in segs))
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
    assert len(routes) >= 12, routes  # 12 paths today, 19 operations
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
            for a in actions:
                assert not a.startswith("dynamodb:") or a not in (
                    "dynamodb:Scan", "dynamodb:DeleteTable", "dynamodb:CreateTable"), a
            named = set(refs(resources))
            if any(a.startswith("dynamodb:") for a in actions):
                assert named and named <= tables, f"{actions} on {named}"
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
