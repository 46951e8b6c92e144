"""ccfd with executor = batch against the AWS Batch stub (batchstub.py),
which checks each request's SigV4 signature (session token included) and
shape: a job runs to SUCCEEDED, FAILED with its exit code, FAILED on
Batch's timeout (the timeout Batch enforced, at least 60 s), STOPPED on
request (TerminateJob), and a job Batch refuses fails at once with Batch's
reason. The job definition is registered once per connector and again
only when the connector's properties change: on create and update (the
orchestrator, after the commit), and at a start whose definition is
missing (Batch was down at the update).
"""

import time

import pytest

from batchstub import BatchStub
from ccftest import CONNECTORS, expect, props

QUEUE = "arn:aws:batch:us-east-1:999999999999:job-queue/ccf"


@pytest.fixture
def batch(ccfd_factory, monkeypatch):
    stub = BatchStub()
    for k, v in stub.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    server = ccfd_factory(extra_args=("--executor", "batch", "--batch-job-queue", QUEUE))
    yield stub, server.client
    stub.close()
    assert not stub.problems, f"the Batch stub saw wrong requests: {stub.problems}"


def wait_job(c, cid, jid, statuses, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        job = c.get_job(cid, jid)
        if job["status"] in statuses or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def run(c, cid, outcome, end=("SUCCEEDED", "FAILED", "STOPPED")):
    jid = c.start_job(cid, {"environment": [{"name": "STUB_OUTCOME", "value": outcome}]})["job_id"]
    return jid, wait_job(c, cid, jid, end)


def test_job_succeeds_and_the_request_is_batchs(batch):
    stub, c = batch
    cid = c.create_connector(container_properties=props(timeout=30))["connector_id"]
    jid, job = run(c, cid, "exit:0")
    assert job["status"] == "SUCCEEDED" and job["exit_code"] == 0, job
    assert c.get_connector(cid)["status"] == "AVAILABLE"
    sub = stub.ops("submitjob")
    assert len(sub) == 1 and sub[0]["jobName"] == jid and sub[0]["jobQueue"] == QUEUE
    env = {e["name"]: e["value"] for e in sub[0]["containerOverrides"]["environment"]}
    assert env["CUSTOM_CONNECTOR_JOB_ID"] == jid and env["STUB_OUTCOME"] == "exit:0"
    assert env["CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN"].endswith(cid)
    assert "PATH" not in env and "HOME" not in env, "the host's PATH and HOME stay home"
    (d,) = stub.ops("registerjobdefinition")
    assert d["jobDefinitionName"] == f"ccf-{cid}"
    assert d["timeout"]["attemptDurationSeconds"] == 60, "Batch's shortest timeout"
    cp = d["containerProperties"]
    assert cp["image"] == props()["image_uri"] and cp["jobRoleArn"] == props()["job_role_arn"]
    assert {r["type"]: r["value"] for r in cp["resourceRequirements"]} == {"VCPU": "1",
                                                                          "MEMORY": "2048"}


def test_failures_timeouts_and_refusals(batch):
    stub, c = batch
    cid = c.create_connector(container_properties=props(timeout=120))["connector_id"]
    _, job = run(c, cid, "exit:3")
    assert job["status"] == "FAILED" and job["exit_code"] == 3
    assert job["failure_reason"] == "exited with code 3"
    _, job = run(c, cid, "timeout")
    assert job["status"] == "FAILED" and job["failure_reason"] == "timed out after 120 s", job
    _, job = run(c, cid, "refuse")
    assert job["status"] == "FAILED" and "AWS Batch refused the job" in job["failure_reason"]
    assert "STUB_OUTCOME=refuse" in job["failure_reason"]
    assert c.get_connector(cid)["status"] == "AVAILABLE"
    # One definition for the three jobs: the properties did not change.
    assert len(stub.ops("registerjobdefinition")) == 1


def test_stop_terminates_the_batch_job(batch):
    stub, c = batch
    cid = c.create_connector()["connector_id"]
    jid = c.start_job(cid, {"environment": [{"name": "STUB_OUTCOME", "value": "hang"}]})["job_id"]
    assert wait_job(c, cid, jid, ("RUNNING",))["status"] == "RUNNING"
    c.stop_job(cid, jid)
    job = wait_job(c, cid, jid, ("STOPPED", "FAILED", "SUCCEEDED"))
    assert job["status"] == "STOPPED" and job["failure_reason"] == "stopped on request", job
    (t,) = stub.ops("terminatejob")
    assert t["jobId"] == stub.job_by_name(jid)["jobId"]
    assert c.get_connector(cid)["status"] == "AVAILABLE"


def test_calls_reuse_kept_connections(batch):
    """ccfd's Batch calls go over two kept connections: the poller's
    (DescribeJobs) and the one submit, cancel and recover share (a call
    finding it busy would take one of its own: not here, one orchestrator)."""
    stub, c = batch
    cid = c.create_connector()["connector_id"]
    for outcome in ("exit:0", "exit:3"):
        run(c, cid, outcome)
    jid = c.start_job(cid, {"environment": [{"name": "STUB_OUTCOME", "value": "hang"}]})["job_id"]
    assert wait_job(c, cid, jid, ("RUNNING",))["status"] == "RUNNING"
    c.stop_job(cid, jid)
    assert wait_job(c, cid, jid, ("STOPPED",))["status"] == "STOPPED"
    assert len(stub.ops("submitjob")) == 3 and len(stub.ops("terminatejob")) == 1
    assert stub.connections <= 2, f"{stub.connections} connections for {len(stub.calls)} calls"


def test_changed_properties_register_a_new_revision(batch):
    stub, c = batch
    cid = c.create_connector()["connector_id"]
    run(c, cid, "exit:0")
    expect(c.put(f"{CONNECTORS}/{cid}", {"container_properties": props(
        resource_requirements={"cpu": 2, "memory": 4096})}), 200)
    jid, job = run(c, cid, "exit:0")
    assert job["status"] == "SUCCEEDED"
    regs = stub.ops("registerjobdefinition")
    assert len(regs) == 2
    assert stub.job_by_name(jid)["jobDefinition"].endswith(f"ccf-{cid}:2")


# ---- the definition registered on create and update (issue 18), not at the first start ----

def wait_calls(stub, op, n, timeout=20):
    """Waits until the stub has seen n calls of op (returns them)."""
    deadline = time.monotonic() + timeout
    while len(stub.ops(op)) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return stub.ops(op)


def test_create_registers_the_definition_before_any_start(batch):
    stub, c = batch
    cid = c.create_connector(container_properties=props(timeout=90))["connector_id"]
    (d,) = wait_calls(stub, "registerjobdefinition", 1)
    assert d["jobDefinitionName"] == f"ccf-{cid}"
    assert d["timeout"]["attemptDurationSeconds"] == 90
    assert stub.ops("submitjob") == [], "registered before any job was started"
    jid, job = run(c, cid, "exit:0")
    assert job["status"] == "SUCCEEDED", job
    assert len(stub.ops("registerjobdefinition")) == 1, "the start found it registered"
    assert stub.job_by_name(jid)["jobDefinition"].endswith(f"ccf-{cid}:1")


def test_update_registers_a_revision_only_when_properties_change(batch):
    stub, c = batch
    cid = c.create_connector()["connector_id"]
    wait_calls(stub, "registerjobdefinition", 1)
    looks = len(wait_calls(stub, "describejobdefinitions", 1))
    # Only the description: the orchestrator looks (one DescribeJobDefinitions)
    # and finds the latest revision still fits.
    expect(c.put(f"{CONNECTORS}/{cid}", {"description": "only words"}), 200)
    wait_calls(stub, "describejobdefinitions", looks + 1)
    assert len(stub.ops("registerjobdefinition")) == 1
    expect(c.put(f"{CONNECTORS}/{cid}", {"container_properties": props(
        resource_requirements={"cpu": 2, "memory": 4096})}), 200)
    regs = wait_calls(stub, "registerjobdefinition", 2)
    assert len(regs) == 2
    cp = regs[1]["containerProperties"]
    assert {r["type"]: r["value"] for r in cp["resourceRequirements"]} == {"VCPU": "2",
                                                                          "MEMORY": "4096"}
    assert stub.ops("submitjob") == []
    jid, job = run(c, cid, "exit:0")
    assert job["status"] == "SUCCEEDED"
    assert len(stub.ops("registerjobdefinition")) == 2
    assert stub.job_by_name(jid)["jobDefinition"].endswith(f"ccf-{cid}:2")


def test_batch_down_at_create_the_first_start_registers(batch):
    stub, c = batch
    stub.register_busy = True
    cid = c.create_connector()["connector_id"]  # 200 although Batch is down
    # The orchestrator tried (and failed): its DescribeJobDefinitions came
    # and its RegisterJobDefinition got a 500.
    wait_calls(stub, "registerjobdefinition", 1)
    assert stub.definitions == {}
    stub.register_busy = False
    jid, job = run(c, cid, "exit:0")
    assert job["status"] == "SUCCEEDED", job
    assert len(stub.definitions[f"ccf-{cid}"]) == 1, "the start registered it"
    assert stub.job_by_name(jid)["jobDefinition"].endswith(f"ccf-{cid}:1")
