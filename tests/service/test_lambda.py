"""The AWS profile's Lambda function, `bootstrap`, under a Runtime API stub
(lambdastub.py): API Gateway events for the operations, checked with the
black-box tests' own expectations (ccftest.check_response); DynamoDB
Streams records built from the store's own writes; Batch state changes
from EventBridge; malformed events of each kind reported to the error
endpoint while the function keeps serving; an init error; and that no
symbol of the binary needs a glibc newer than Lambda's 2.34.

Until the DynamoDB store exists the function runs on a SQLite file
(CCF_STORE=sqlite:PATH) in the test's temp dir.
"""

import json
import os
import re
import shlex
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ccftest import (ACCOUNT_ID, CONNECTORS, OTHER_ACCOUNT_ID, REGION, checksum, expect,
                     expect_error, not_found_connector, not_found_job, props, unique_name)
from conftest import REPO, SANITIZER_MARKS
from batchstub import BatchStub
from lambdastub import ApiGatewayClient, RuntimeStub, api_event

WRAPPER = shlex.split(os.environ.get("CCFD_WRAPPER", ""))
SCALE = float(os.environ.get("CCFD_TIMEOUT_SCALE", "1"))
STATUS_NAMES = ["STARTED", "RUNNING", "STOPPING", "SUCCEEDED", "FAILED", "STOPPED"]
LAMBDA_GLIBC = (2, 34)
QUEUE = "arn:aws:batch:us-east-1:999999999999:job-queue/ccf"


def bootstrap_binary():
    path = os.environ.get("BOOTSTRAP") or str(REPO / "build" / "bootstrap")
    if not os.access(path, os.X_OK):
        pytest.fail(f"bootstrap not built: {path} (make, or set BOOTSTRAP)")
    return path


class Function:
    """One bootstrap process under its own stub, as Lambda runs it: only
    the variables the template sets (nothing of the test's environment)."""

    def __init__(self, tmp, **env):
        self.stub = RuntimeStub()
        self.db = Path(tmp) / "ccf.db"
        self.log = open(Path(tmp) / "bootstrap.log", "w+b")
        self.env = {"AWS_LAMBDA_RUNTIME_API": self.stub.address, "AWS_REGION": REGION,
                    "CCF_STORE": f"sqlite:{self.db}", "PATH": "/usr/bin:/bin"}
        self.env.update({k: v for k, v in env.items() if v is not None})
        for k in [k for k, v in env.items() if v is None]:
            self.env.pop(k, None)
        self.proc = subprocess.Popen([*WRAPPER, bootstrap_binary()], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace")

    def close(self):
        """Ends the Runtime API; the function must leave its loop (status 1:
        the runtime is gone) without a sanitizer's or valgrind's report."""
        self.stub.close()
        try:
            rc = self.proc.wait(timeout=30 * SCALE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("bootstrap did not exit when its runtime went away:\n" + self.text())
        text = self.text()
        self.log.close()
        marks = [m for m in SANITIZER_MARKS if m in text]
        assert not marks, f"sanitizer report:\n{text[-8000:]}"
        assert rc == 1, f"bootstrap exited with {rc} (99: valgrind found errors):\n{text[-8000:]}"


@pytest.fixture(scope="module")
def fn(tmp_path_factory):
    """One function for the module, as Lambda keeps a warm instance: every
    test makes its own connectors."""
    f = Function(tmp_path_factory.mktemp("lambda"))
    yield f
    f.close()


@pytest.fixture
def api(fn):
    return ApiGatewayClient(fn.stub)


# ---- API Gateway events: every operation, the contract's answers ----


def test_connector_operations(api):
    c = api.create_connector(name=unique_name("lam"), description="through API Gateway")
    cid = c["connector_id"]
    assert api.get_connector(cid)["name"] == c["name"]
    r = expect(api.put(f"{CONNECTORS}/{cid}", {"description": "changed"}),
               200)
    assert r.json["connector"]["description"] == "changed"
    items, pages, _ = api.list_all(CONNECTORS, "connectors", max_results=1)
    assert cid in [x["connector_id"] for x in items] and len(pages) >= 1
    expect(api.delete(f"{CONNECTORS}/{cid}"), 204)
    expect_error(api.get(f"{CONNECTORS}/{cid}"), 404, not_found_connector(cid))


def test_documents_and_checkpoint(api):
    cid = api.create_connector()["connector_id"]
    api.put_documents(cid, [{"document_id": f"d{i}", "checksum": checksum(str(i))}
                            for i in range(3)])
    docs, pages, _ = api.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=2)
    assert [d["document_id"] for d in docs] == ["d0", "d1", "d2"] and len(pages) == 2
    api.delete_documents(cid, ["d1"])
    docs, _, _ = api.list_all(f"{CONNECTORS}/{cid}/documents", "documents")
    assert [d["document_id"] for d in docs] == ["d0", "d2"]
    data = "caf\u00e9 \u2603 " + "x" * 1000
    api.put_checkpoint(cid, data)
    ck = api.get_checkpoint(cid)
    assert ck["checkpoint_data"] == data and ck["connector_id"] == cid
    expect(api.delete(f"{CONNECTORS}/{cid}/checkpoint"), 204)
    expect_error(api.get(f"{CONNECTORS}/{cid}/checkpoint"), 404)


def test_job_operations(api):
    cid = api.create_connector()["connector_id"]
    job = api.start_job(cid, {"environment": [{"name": "A", "value": "1"}]})
    jid = job["job_id"]
    assert job["status"] == "STARTED"
    expect_error(api.post(f"{CONNECTORS}/{cid}/jobs", {}), 409)
    assert api.get_job(cid, jid)["status"] == "STARTED"
    jobs, _, _ = api.list_all(f"{CONNECTORS}/{cid}/jobs", "jobs", status="STARTED")
    assert [j["job_id"] for j in jobs] == [jid]
    api.stop_job(cid, jid)
    assert api.get_job(cid, jid)["status"] == "STOPPING"
    expect_error(api.get(f"{CONNECTORS}/{cid}/jobs/ccj-000000000000"), 404,
                 not_found_job("ccj-000000000000"))


def test_errors_in_the_contracts_shape(api):
    expect_error(api.post(CONNECTORS, body=b"{not json"), 400)
    expect_error(api.post(CONNECTORS, body=b"{}", content_type="text/plain"), 415)
    r = expect_error(api.request("PUT", CONNECTORS, json_body={}), 405)
    assert r.header("Allow")
    expect_error(api.get("/api/v1/nowhere"), 404)
    expect_error(api.get(CONNECTORS + "?max_results=0"), 400, mentions="max_results")
    expect_error(api.get(CONNECTORS + "?max_results=1&max_results=2"), 400)


def test_tenant_is_the_callers_account(fn, api):
    cid = api.create_connector()["connector_id"]
    other = ApiGatewayClient(fn.stub, account_id=OTHER_ACCOUNT_ID,
                             arn_prefix=f"arn:aws:ccf:{REGION}:{OTHER_ACCOUNT_ID}:custom-connector/")
    expect_error(other.get(f"{CONNECTORS}/{cid}"), 404, not_found_connector(cid))
    assert api.get_connector(cid)["arn"].startswith(f"arn:aws:ccf:{REGION}:{ACCOUNT_ID}:")


def test_base64_body_and_encoded_query(fn, api):
    cid = api.create_connector()["connector_id"]
    body = ('{"documents":[{"document_id":"a b/\u00e9?&=","checksum":"%s"}]}'
            % checksum()).encode()
    ev = api_event("POST", f"{CONNECTORS}/{cid}/documents", body,
                   [("content-type", "application/json")], base64_body=True)
    assert fn.stub.invoke(ev)["statusCode"] == 202
    r = fn.stub.invoke(api_event("GET", f"{CONNECTORS}/{cid}/documents?max_results=5"))
    assert r["statusCode"] == 200 and '"a b/\\u00e9?&="' in r["body"] or "a b/é?&=" in r["body"]


def long_poll_across_instances(a, b):
    """ListEvents' wait_seconds on Lambda: the write that ends the wait
    comes through another instance of the function (b, on a's store), which
    no commit hook of the waiting one (a) hears: the poll must still
    return it."""
    ca, cb = ApiGatewayClient(a.stub), ApiGatewayClient(b.stub)
    cursor = expect(ca.get("/api/v1/events?max_results=1000"), 200).json["next_cursor"]
    got = {}

    def poll():
        got["r"] = ca.get(f"/api/v1/events?after={cursor}&wait_seconds=20")

    handed = a.stub.handed_out
    t = threading.Thread(target=poll)
    t.start()
    with a.stub.cond:  # a has taken the poll
        assert a.stub.cond.wait_for(lambda: a.stub.handed_out > handed, timeout=30 * SCALE)
    time.sleep(0.5)  # and has read once: the write comes after that read
    cid = cb.create_connector()["connector_id"]
    t.join(60 * SCALE)
    assert not t.is_alive()
    events = expect(got["r"], 200).json["events"]
    assert [(e["type"], e.get("connector_id")) for e in events] == [
        ("connector.created", cid)], events


def test_a_long_poll_sees_another_instances_write(tmp_path):
    a = Function(tmp_path)
    b_dir = tmp_path / "b"
    b_dir.mkdir()
    b = Function(b_dir, CCF_STORE=f"sqlite:{a.db}")
    try:
        long_poll_across_instances(a, b)
    finally:
        b.close()
        a.close()


# ---- DynamoDB Streams: records built from the store's own writes ----


def stream_records(db, job_id):
    """The job changes the store wrote (its outbox), each as a DynamoDB
    Streams record of the job item (docs/AWS.md, "The job item")."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute("SELECT seq, tenant, connector_id, job_id, old_status, new_status, at "
                           "FROM job_changes WHERE job_id = ? AND new_status >= 0 "
                           "ORDER BY seq", (job_id,)).fetchall()
    finally:
        con.close()
    out = []
    for seq, tenant, cid, jid, old, new, at in rows:
        region, account = re.split(r"[/:#|]", tenant, maxsplit=1)
        def image(status):
            return {"pk": {"S": f"{region}#{account}#{cid}"}, "job_id": {"S": jid},
                    "region": {"S": region}, "account_id": {"S": account},
                    "connector_id": {"S": cid}, "status": {"S": STATUS_NAMES[status]},
                    "updated_at": {"N": str(at)}, "version": {"N": str(seq)}}
        ddb = {"ApproximateCreationDateTime": at // 1000000,
               "Keys": {"pk": {"S": f"{region}#{account}#{cid}"}, "job_id": {"S": jid}},
               "NewImage": image(new), "SequenceNumber": f"{seq:021d}", "SizeBytes": 300,
               "StreamViewType": "NEW_AND_OLD_IMAGES"}
        if old >= 0:
            ddb["OldImage"] = image(old)
        out.append({"eventID": f"ev{seq}", "eventName": "INSERT" if old < 0 else "MODIFY",
                    "eventVersion": "1.1", "eventSource": "aws:dynamodb",
                    "awsRegion": region, "dynamodb": ddb,
                    "eventSourceARN": "arn:aws:dynamodb:us-east-1:999999999999:table/ccf-jobs/"
                                      "stream/2026-12-07T00:00:00.000"})
    return out


def test_stream_stop_of_a_job_that_never_ran(fn, api):
    cid = api.create_connector()["connector_id"]
    jid = api.start_job(cid)["job_id"]
    api.stop_job(cid, jid)
    records = stream_records(fn.db, jid)
    assert [r["dynamodb"]["NewImage"]["status"]["S"] for r in records] == ["STARTED", "STOPPING"]
    # No executor in this bootstrap yet: the new job's record fails and is
    # named for Lambda's retry; the stop needs none.
    out = fn.stub.invoke({"Records": records[:1]})
    assert out == {"batchItemFailures": [{"itemIdentifier": records[0]["dynamodb"]
                                          ["SequenceNumber"]}]}
    out = fn.stub.invoke({"Records": records[1:]})
    assert out == {"batchItemFailures": []}
    job = api.get_job(cid, jid)
    assert job["status"] == "STOPPED" and job["failure_reason"] == "stopped on request"
    assert api.get_connector(cid)["status"] == "AVAILABLE"
    # At least once: the same record again changes nothing.
    assert fn.stub.invoke({"Records": records[1:]}) == {"batchItemFailures": []}
    assert api.get_job(cid, jid)["status"] == "STOPPED"


# ---- EventBridge: Batch Job State Change to the status handler ----


def batch_event(cid, jid, status, exit_code=None, reason=None, account=ACCOUNT_ID):
    """A "Batch Job State Change" as AWS's documentation shows it, for the
    job the Batch executor submitted (job name = ccf job id, the
    environment as container overrides)."""
    container = {"image": "connector:latest", "vcpus": 1, "memory": 2048, "command": [],
                 "volumes": [], "mountPoints": [], "ulimits": [],
                 "environment": [
                     {"name": "CUSTOM_CONNECTOR_JOB_ID", "value": jid},
                     {"name": "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN",
                      "value": f"arn:aws:ccf:{REGION}:{account}:custom-connector/{cid}"}]}
    if exit_code is not None:
        container["exitCode"] = exit_code
    detail = {"jobName": jid, "jobId": "4c7599ae-0a82-49aa-ba5a-4727fcce14a8",
              "jobQueue": "arn:aws:batch:us-east-1:999999999999:job-queue/ccf",
              "status": status, "attempts": [], "createdAt": 1508781340401,
              "startedAt": 1508781345000, "retryStrategy": {"attempts": 1}, "dependsOn": [],
              "jobDefinition": "arn:aws:batch:us-east-1:999999999999:job-definition/ccf-x:1",
              "parameters": {}, "container": container}
    if status in ("SUCCEEDED", "FAILED"):
        detail["stoppedAt"] = 1508781350000
    if reason is not None:
        detail["statusReason"] = reason
    return {"version": "0", "id": "c8f9c4b5-76e5-d76a-f980-7011e206042b",
            "detail-type": "Batch Job State Change", "source": "aws.batch",
            "account": "999999999999", "time": "2017-10-23T17:56:03Z", "region": REGION,
            "resources": ["arn:aws:batch:us-east-1:999999999999:job/4c7599ae"],
            "detail": detail}


def test_batch_state_changes_end_the_job(fn, api):
    cid = api.create_connector()["connector_id"]
    jid = api.start_job(cid)["job_id"]
    for status in ("SUBMITTED", "RUNNABLE", "STARTING"):
        assert fn.stub.invoke(batch_event(cid, jid, status)) == {}
        assert api.get_job(cid, jid)["status"] == "STARTED"
    fn.stub.invoke(batch_event(cid, jid, "RUNNING"))
    job = api.get_job(cid, jid)
    assert job["status"] == "RUNNING" and "started_at" in job
    fn.stub.invoke(batch_event(cid, jid, "SUCCEEDED", exit_code=0))
    job = api.get_job(cid, jid)
    assert job["status"] == "SUCCEEDED" and job["exit_code"] == 0
    assert api.get_connector(cid)["status"] == "AVAILABLE"
    # Redelivered: nothing moves.
    fn.stub.invoke(batch_event(cid, jid, "FAILED", exit_code=3))
    assert api.get_job(cid, jid)["status"] == "SUCCEEDED"


def test_batch_failures_map_to_the_contracts_outcomes(fn, api):
    cid = api.create_connector()["connector_id"]
    cases = [
        (dict(exit_code=3, reason="Essential container in task exited"), "FAILED", 3,
         "exited with code 3"),
        (dict(exit_code=137), "FAILED", 137, "exited with code 137 (killed by signal 9)"),
        (dict(reason="Job attempt duration exceeded timeout"), "FAILED", None, "timed out after"),
        (dict(reason="CannotPullContainerError: no such image"), "FAILED", None,
         "AWS Batch: CannotPullContainerError: no such image"),
    ]
    for kw, status, code, why in cases:
        jid = api.start_job(cid)["job_id"]
        fn.stub.invoke(batch_event(cid, jid, "RUNNING"))
        fn.stub.invoke(batch_event(cid, jid, "FAILED", **kw))
        job = api.get_job(cid, jid)
        assert job["status"] == status and job.get("exit_code") == code, job
        assert job["failure_reason"].startswith(why), job
        assert api.get_connector(cid)["status"] == "AVAILABLE"


def test_stopping_job_ends_stopped_whatever_batch_says(fn, api):
    cid = api.create_connector()["connector_id"]
    jid = api.start_job(cid)["job_id"]
    fn.stub.invoke(batch_event(cid, jid, "RUNNING"))
    api.stop_job(cid, jid)
    fn.stub.invoke(batch_event(cid, jid, "FAILED", exit_code=143,
                               reason="Terminated by ccf: stopped on request"))
    job = api.get_job(cid, jid)
    assert job["status"] == "STOPPED" and job["failure_reason"] == "stopped on request"
    assert job["exit_code"] == 143


# ---- hostile events: each reported, and the function keeps serving ----

MALFORMED = [
    (b"{not json", "MalformedEvent"),
    (b"[]", "UnknownEvent"),
    (b'{"hello": "world"}', "UnknownEvent"),
    (b'{"httpMethod": "GET", "requestContext": {}, "path": "/api/v1/custom-connectors"}',
     "MalformedApiGatewayEvent"),
    (b'{"httpMethod": "G ET", "path": "/x", "requestContext": {"accountId": "123456789012"}}',
     "MalformedApiGatewayEvent"),
    (b'{"httpMethod": "GET", "path": "/x", "body": "!!", "isBase64Encoded": true,'
     b' "requestContext": {"accountId": "123456789012"}}', "MalformedApiGatewayEvent"),
    (b'{"Records": [{"eventSource": "aws:dynamodb", "eventName": "INSERT", "dynamodb": {}}]}',
     "MalformedStreamEvent"),
    (b'{"Records": [{"eventSource": "aws:dynamodb", "eventName": "INSERT", "dynamodb":'
     b' {"SequenceNumber": "1", "NewImage": {"status": {"S": "STARTED"}}}}]}',
     "MalformedStreamEvent"),
    (b'{"source": "aws.batch", "detail-type": "Batch Job State Change", "detail": {}}',
     "MalformedBatchStateChange"),
    (b'{"source": "aws.batch", "detail-type": "Batch Job State Change", "detail":'
     b' {"jobName": "ccj-0123456789ab", "jobId": "x", "status": "RUNNING"}}',
     "MalformedBatchStateChange"),
]


@pytest.mark.parametrize("body,etype", MALFORMED, ids=[m[1] + str(i) for i, m in
                                                       enumerate(MALFORMED)])
def test_malformed_events_are_reported(fn, api, body, etype):
    err, hdrs = fn.stub.invoke_error(body)
    assert err["errorType"] == etype, err
    assert hdrs.get("lambda-runtime-function-error-type") == etype
    assert 0 < len(err["errorMessage"]) < 600 and err["errorMessage"].isprintable(), err
    # And the next event is served.
    api.create_connector()


def test_unknown_connector_in_a_state_change(fn, api):
    cid = api.create_connector()["connector_id"]
    # A job nobody knows: applied as nothing (the event says so in the log).
    assert fn.stub.invoke(batch_event(cid, "ccj-0123456789ab", "SUCCEEDED", exit_code=0)) == {}
    assert api.get_connector(cid)["status"] == "AVAILABLE"


# ---- start-up ----


def test_init_error_when_the_store_is_not_configured(tmp_path):
    f = Function(tmp_path, CCF_STORE=None)
    err, hdrs = f.stub.wait_init_error()
    assert err["errorType"] == "InitError" and "CCF_STORE" in err["errorMessage"]
    assert f.proc.wait(timeout=30 * SCALE) == 1
    f.stub.close()
    f.log.close()


@pytest.mark.parametrize("env,says", [
    ({"CCF_EXECUTOR": "kubernetes"}, "CCF_EXECUTOR"),
    ({"CCF_EXECUTOR": "batch"}, "CCF_BATCH_JOB_QUEUE"),
    ({"AWS_REGION": "Mars 1"}, "AWS_REGION"),
    ({"CCF_STORE": "dynamodb://ccf-?region=us-east-1"}, "CCF_STORE_EXPERIMENTAL"),
    # A bad CCF_STORE: a scheme the function has not, a file it cannot
    # make, a DynamoDB endpoint nobody answers at (the open describes the tables).
    ({"CCF_STORE": "postgres://localhost/ccf"}, "CCF_STORE must be"),
    ({"CCF_STORE": "sqlite:/nonexistent-ccf-dir/sub/ccf.db"}, "cannot be opened"),
    ({"CCF_STORE": "dynamodb://ccf?region=us-east-1&endpoint=http://127.0.0.1:9",
      "CCF_STORE_EXPERIMENTAL": "true", "AWS_ACCESS_KEY_ID": "AKIDINITTEST",
      "AWS_SECRET_ACCESS_KEY": "init-test"}, "cannot be opened"),
    ({"CCF_SCHEDULE_GROUP": "ccf"}, "CCF_SCHEDULER_TARGET_ARN"),
    ({"CCF_SCHEDULE_GROUP": "no/slash"}, "CCF_SCHEDULE_GROUP"),
    ({"CCF_WEBHOOK_DRAIN_MS": "-1"}, "CCF_WEBHOOK_DRAIN_MS"),
])
def test_init_error_for_a_bad_configuration(tmp_path, env, says):
    f = Function(tmp_path, **env)
    err, _ = f.stub.wait_init_error()
    assert says in err["errorMessage"], err
    assert f.proc.wait(timeout=30 * SCALE) == 1
    f.stub.close()
    f.log.close()


# ---- with the Batch executor, against the Batch stub ----


@pytest.fixture
def batch_fn(tmp_path):
    stub = BatchStub()
    f = Function(tmp_path, CCF_EXECUTOR="batch", CCF_BATCH_JOB_QUEUE=QUEUE, TMPDIR=str(tmp_path),
                 CCF_API_ENDPOINT="https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod/",
                 **stub.env())
    yield f, stub, ApiGatewayClient(f.stub)
    f.close()
    stub.close()
    assert not stub.problems, f"the Batch stub saw wrong requests: {stub.problems}"


def state_change(stub, jid):
    """The EventBridge event of the Batch job's state now: its detail is
    DescribeJobs' (as on AWS), taken from the stub."""
    j = stub.job_by_name(jid)
    detail = {k: v for k, v in j.items() if not k.startswith("_")}
    return {"version": "0", "id": "c8f9c4b5-76e5-d76a-f980-7011e206042b",
            "detail-type": "Batch Job State Change", "source": "aws.batch",
            "account": "999999999999", "time": "2026-12-07T00:00:00Z", "region": REGION,
            "resources": [j["jobArn"]], "detail": detail}


def test_stream_submits_to_batch_and_eventbridge_ends_the_job(batch_fn):
    fn, stub, api = batch_fn
    cid = api.create_connector()["connector_id"]
    jid = api.start_job(cid, {"environment": [{"name": "STUB_OUTCOME", "value": "exit:0"}]})[
        "job_id"]
    records = stream_records(fn.db, jid)
    assert fn.stub.invoke({"Records": records}) == {"batchItemFailures": []}
    (sub,) = stub.ops("submitjob")
    assert sub["jobName"] == jid and sub["jobQueue"] == QUEUE
    env = {e["name"]: e["value"] for e in sub["containerOverrides"]["environment"]}
    assert env["CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"].startswith("https://abcdef1234.")
    # Redelivered: not submitted twice (found by its name).
    assert fn.stub.invoke({"Records": records}) == {"batchItemFailures": []}
    assert len(stub.ops("submitjob")) == 1
    stub.op_describejobs({"jobs": [stub.job_by_name(jid)["jobId"]]})  # Batch runs it
    fn.stub.invoke(state_change(stub, jid))
    assert api.get_job(cid, jid)["status"] == "RUNNING"
    stub.op_describejobs({"jobs": [stub.job_by_name(jid)["jobId"]]})  # and it ends
    fn.stub.invoke(state_change(stub, jid))
    job = api.get_job(cid, jid)
    assert job["status"] == "SUCCEEDED" and job["exit_code"] == 0
    assert api.get_connector(cid)["status"] == "AVAILABLE"


def connector_record(db, cid, old_properties=None, name="INSERT", seq=1):
    """A DynamoDB Streams record of the connectors table (NEW_AND_OLD_IMAGES)
    for connector cid as the store holds it now: an INSERT, or a MODIFY
    whose OldImage had old_properties (the DynamoDB store's connector item:
    pk "REGION#ACCOUNT", id, properties, ...)."""
    con = sqlite3.connect(db)
    try:
        tenant, props_, status, updated, version = con.execute(
            "SELECT tenant, properties, status, updated_at, version FROM connectors "
            "WHERE id = ?", (cid,)).fetchone()
    finally:
        con.close()
    region, account = re.split(r"[/:#|]", tenant, maxsplit=1)

    def image(properties):
        return {"pk": {"S": f"{region}#{account}"}, "id": {"S": cid}, "name": {"S": "n"},
                "properties": {"S": properties}, "status": {"N": str(status)},
                "updated_at": {"N": str(updated)}, "version": {"N": str(version)},
                "sched": {"S": "all"}, "next_run_at": {"N": "0"}}
    ddb = {"Keys": {"pk": {"S": f"{region}#{account}"}, "id": {"S": cid}},
           "NewImage": image(props_), "SequenceNumber": f"{seq:021d}", "SizeBytes": 300,
           "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if name == "MODIFY":
        ddb["OldImage"] = image(old_properties if old_properties is not None else props_)
    return {"eventID": f"c{seq}", "eventName": name, "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": ddb,
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:999999999999:table/ccf-connectors/"
                              "stream/2026-12-07T00:00:00.000"}


def test_connector_stream_registers_the_job_definition(batch_fn):
    """The connectors table's stream (ConnectorsStreamMapping): a new
    connector registers its definition before any job; a MODIFY that kept
    the properties (a job's status flip, a description) registers nothing;
    one that changed them registers a revision, which the next job uses."""
    fn, stub, api = batch_fn
    cid = api.create_connector()["connector_id"]
    assert stub.ops("registerjobdefinition") == [], "the API call itself never calls Batch"
    assert fn.stub.invoke({"Records": [connector_record(fn.db, cid)]}) == {
        "batchItemFailures": []}
    (d,) = stub.ops("registerjobdefinition")
    assert d["jobDefinitionName"] == f"ccf-{cid}"
    before = props()
    expect(api.put(f"{CONNECTORS}/{cid}", {"description": "words"}), 200)
    rec = connector_record(fn.db, cid, name="MODIFY", seq=2)
    assert fn.stub.invoke({"Records": [rec]}) == {"batchItemFailures": []}
    assert len(stub.ops("registerjobdefinition")) == 1
    assert len(stub.ops("describejobdefinitions")) == 1, "not even looked at"
    expect(api.put(f"{CONNECTORS}/{cid}", {"container_properties": props(timeout=300)}), 200)
    rec = connector_record(fn.db, cid, old_properties=json.dumps(before), name="MODIFY", seq=3)
    assert fn.stub.invoke({"Records": [rec]}) == {"batchItemFailures": []}
    regs = stub.ops("registerjobdefinition")
    assert len(regs) == 2 and regs[1]["timeout"]["attemptDurationSeconds"] == 300
    jid = api.start_job(cid)["job_id"]
    assert fn.stub.invoke({"Records": stream_records(fn.db, jid)}) == {"batchItemFailures": []}
    assert len(stub.ops("registerjobdefinition")) == 2, "the job found its definition"
    assert stub.job_by_name(jid)["jobDefinition"].endswith(f"ccf-{cid}:2")


def test_a_failed_registration_is_no_batch_item_failure(batch_fn):
    fn, stub, api = batch_fn
    cid = api.create_connector()["connector_id"]
    stub.register_busy = True
    assert fn.stub.invoke({"Records": [connector_record(fn.db, cid)]}) == {
        "batchItemFailures": []}, "the submit registers it: no retry of the record"
    assert stub.definitions == {}
    stub.register_busy = False
    jid = api.start_job(cid)["job_id"]
    assert fn.stub.invoke({"Records": stream_records(fn.db, jid)}) == {"batchItemFailures": []}
    assert len(stub.definitions[f"ccf-{cid}"]) == 1
    assert stub.job_by_name(jid)["jobDefinition"].endswith(f"ccf-{cid}:1")


def test_a_connector_record_without_its_identity_is_malformed(batch_fn):
    fn, stub, api = batch_fn
    cid = api.create_connector()["connector_id"]
    rec = connector_record(fn.db, cid)
    rec["dynamodb"]["NewImage"]["pk"] = {"S": "no-hash"}
    err, _ = fn.stub.invoke_error({"Records": [rec]})
    assert err["errorType"] == "MalformedStreamEvent", err
    assert "connector image" in err["errorMessage"], err
    assert stub.ops("registerjobdefinition") == []


def test_stream_stop_terminates_the_batch_job(batch_fn):
    fn, stub, api = batch_fn
    cid = api.create_connector()["connector_id"]
    jid = api.start_job(cid, {"environment": [{"name": "STUB_OUTCOME", "value": "hang"}]})[
        "job_id"]
    fn.stub.invoke({"Records": stream_records(fn.db, jid)})
    stub.op_describejobs({"jobs": [stub.job_by_name(jid)["jobId"]]})
    fn.stub.invoke(state_change(stub, jid))
    api.stop_job(cid, jid)
    stop = stream_records(fn.db, jid)[-1:]
    assert stop[0]["dynamodb"]["NewImage"]["status"]["S"] == "STOPPING"
    assert fn.stub.invoke({"Records": stop}) == {"batchItemFailures": []}
    (t,) = stub.ops("terminatejob")
    assert t["jobId"] == stub.job_by_name(jid)["jobId"]
    assert api.get_job(cid, jid)["status"] == "STOPPING", "the outcome ends it, not the stop"
    fn.stub.invoke(state_change(stub, jid))
    job = api.get_job(cid, jid)
    assert job["status"] == "STOPPED" and job["failure_reason"] == "stopped on request"
    assert api.get_connector(cid)["status"] == "AVAILABLE"


def test_batch_timeout_is_the_one_batch_enforced(batch_fn):
    fn, stub, api = batch_fn
    cid = api.create_connector(container_properties=props(timeout=5))["connector_id"]
    jid = api.start_job(cid, {"environment": [{"name": "STUB_OUTCOME", "value": "timeout"}]})[
        "job_id"]
    fn.stub.invoke({"Records": stream_records(fn.db, jid)})
    for _ in range(2):
        stub.op_describejobs({"jobs": [stub.job_by_name(jid)["jobId"]]})
        fn.stub.invoke(state_change(stub, jid))
    job = api.get_job(cid, jid)
    assert job["status"] == "FAILED" and job["failure_reason"] == "timed out after 60 s", job


def test_a_job_batch_refuses_fails_at_once(batch_fn):
    fn, stub, api = batch_fn
    cid = api.create_connector()["connector_id"]
    jid = api.start_job(cid, {"environment": [{"name": "STUB_OUTCOME", "value": "refuse"}]})[
        "job_id"]
    assert fn.stub.invoke({"Records": stream_records(fn.db, jid)}) == {"batchItemFailures": []}
    job = api.get_job(cid, jid)
    assert job["status"] == "FAILED" and "AWS Batch refused the job" in job["failure_reason"]
    assert api.get_connector(cid)["status"] == "AVAILABLE"


def test_a_record_batch_cannot_take_is_the_batch_item_failure(batch_fn):
    """Partial failure: Batch is unavailable for the second job of three.
    The first is submitted, the second is the one batchItemFailures names,
    the third waits (Lambda retries from the failed one, the later ones
    with it); the retry submits both, and the first not again."""
    fn, stub, api = batch_fn
    jids = [api.start_job(api.create_connector()["connector_id"])["job_id"] for _ in range(3)]
    records = [stream_records(fn.db, jid)[0] for jid in jids]
    stub.busy.add(jids[1])
    out = fn.stub.invoke({"Records": records})
    assert out == {"batchItemFailures": [{"itemIdentifier": records[1]["dynamodb"]
                                          ["SequenceNumber"]}]}
    assert [s["jobName"] for s in stub.ops("submitjob") if s["jobName"] != jids[1]] == jids[:1]
    stub.busy.clear()
    assert fn.stub.invoke({"Records": records[1:]}) == {"batchItemFailures": []}
    names = [s["jobName"] for s in stub.ops("submitjob")]
    assert names == [jids[0], jids[1], jids[1], jids[2]], names  # the 500, then its retry
    assert all(stub.job_by_name(j) for j in jids)


def test_batch_calls_share_one_kept_connection(batch_fn):
    """Every Batch call of the function (ListJobs, DescribeJobDefinitions,
    RegisterJobDefinition, SubmitJob, TerminateJob) goes over one kept
    connection: one TLS handshake per instance, not one per call."""
    fn, stub, api = batch_fn
    for _ in range(2):
        cid = api.create_connector()["connector_id"]
        jid = api.start_job(cid, {"environment": [{"name": "STUB_OUTCOME", "value": "hang"}]})[
            "job_id"]
        fn.stub.invoke({"Records": stream_records(fn.db, jid)})
        api.stop_job(cid, jid)
        assert fn.stub.invoke({"Records": stream_records(fn.db, jid)[-1:]}) == {
            "batchItemFailures": []}
    assert len(stub.calls) >= 10 and len(stub.ops("terminatejob")) == 2, stub.calls
    assert stub.connections == 1, f"{stub.connections} connections for {len(stub.calls)} calls"


def test_no_symbol_needs_a_glibc_newer_than_lambdas():
    out = subprocess.run(["objdump", "-T", bootstrap_binary()], capture_output=True, text=True,
                         check=True).stdout
    versions = {tuple(int(x) for x in m.split(".")) for m in re.findall(r"GLIBC_([0-9.]+)", out)}
    assert versions, "objdump found no GLIBC symbol versions: is it dynamically linked?"
    newer = sorted(v for v in versions if v > LAMBDA_GLIBC)
    assert not newer, f"symbols need glibc {newer}, Lambda's provided.al2023 has 2.34"
