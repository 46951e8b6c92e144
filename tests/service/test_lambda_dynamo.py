"""The bootstrap on the DynamoDB store (experimental: CCF_STORE=dynamodb://
with CCF_STORE_EXPERIMENTAL=true), against dynalite (scripts/dynalite.sh,
on loopback): test_lambda.py's API Gateway cases again, each through the
Runtime API stub; and DynamoDB Streams records made of the job items the
store really wrote (read back from dynalite, which keeps no stream), so
that the stream decoder and the store agree on the item (docs/AWS.md, "The
job item"). Skipped, with the reason, where dynalite is not installed
(make dynamo-deps)."""

import os
import subprocess

import botocore.session
import pytest

import test_lambda as tl
from ccftest import ACCOUNT_ID, REGION
from conftest import REPO
from lambdastub import ApiGatewayClient

SCRIPT = str(REPO / "scripts" / "dynalite.sh")
CASES = ["test_connector_operations", "test_documents_and_checkpoint", "test_job_operations",
         "test_errors_in_the_contracts_shape"]


@pytest.fixture(scope="module")
def dynalite(tmp_path_factory):
    why = subprocess.run([SCRIPT, "check"], capture_output=True, text=True)
    if why.returncode != 0:
        pytest.skip(why.stdout.strip() or "dynalite cannot run here")
    d = str(tmp_path_factory.mktemp("dynalite"))
    out = subprocess.run([SCRIPT, "start", d, str(os.getpid())], capture_output=True, text=True,
                         check=True).stdout
    env = dict(line.split("=", 1) for line in out.split() if "=" in line)
    yield env["CCF_TEST_DYNAMO_ENDPOINT"]
    subprocess.run([SCRIPT, "stop", d], check=False)


@pytest.fixture(scope="module")
def prefix():
    return "lam-" + os.urandom(4).hex()


def dyn_function(tmp, dynalite, prefix):
    return tl.Function(tmp, CCF_STORE=f"dynamodb://{prefix}?region=us-east-1&endpoint={dynalite}",
                       CCF_STORE_EXPERIMENTAL="true", AWS_ACCESS_KEY_ID="AKIDLAMBDATESTS",
                       AWS_SECRET_ACCESS_KEY="lambda-tests")


@pytest.fixture(scope="module")
def dyn_fn(dynalite, prefix, tmp_path_factory):
    f = dyn_function(tmp_path_factory.mktemp("lambda-dynamo"), dynalite, prefix)
    yield f
    f.close()


@pytest.mark.parametrize("case", CASES)
def test_api_events_on_the_dynamodb_store(dyn_fn, case):
    getattr(tl, case)(ApiGatewayClient(dyn_fn.stub))


def job_item(dynalite, prefix, cid, jid):
    ddb = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=dynalite,
        aws_access_key_id="AKIDLAMBDATESTS", aws_secret_access_key="lambda-tests")
    out = ddb.get_item(TableName=f"{prefix}-jobs", ConsistentRead=True,
                       Key={"pk": {"S": f"{REGION}#{ACCOUNT_ID}#{cid}"}, "job_id": {"S": jid}})
    assert "Item" in out, f"no job item for {jid}"
    return out["Item"]


def record(seq, old, new):
    ddb = {"Keys": {"pk": new["pk"], "job_id": new["job_id"]}, "NewImage": new,
           "SequenceNumber": f"{seq:021d}", "SizeBytes": 400,
           "StreamViewType": "NEW_AND_OLD_IMAGES"}
    if old is not None:
        ddb["OldImage"] = old
    return {"eventID": f"ev{seq}", "eventName": "MODIFY" if old else "INSERT",
            "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": REGION,
            "dynamodb": ddb}


def test_stream_records_of_the_stores_own_job_items(dyn_fn, dynalite, prefix):
    api = ApiGatewayClient(dyn_fn.stub)
    cid = api.create_connector()["connector_id"]
    jid = api.start_job(cid)["job_id"]
    started = job_item(dynalite, prefix, cid, jid)
    api.stop_job(cid, jid)
    stopping = job_item(dynalite, prefix, cid, jid)
    assert (started["status"], stopping["status"]) == ({"S": "STARTED"}, {"S": "STOPPING"})
    # No executor here: the new job's record is the batch's failure (as in
    # test_lambda.py), and it decoded: a record that does not decode fails
    # the whole invocation instead.
    out = dyn_fn.stub.invoke({"Records": [record(1, None, started)]})
    assert out == {"batchItemFailures": [{"itemIdentifier": f"{1:021d}"}]}
    # The stop, from the item's images before and after: ends it STOPPED.
    assert dyn_fn.stub.invoke({"Records": [record(2, started, stopping)]}) == {
        "batchItemFailures": []}
    job = api.get_job(cid, jid)
    assert job["status"] == "STOPPED" and job["failure_reason"] == "stopped on request"
    assert api.get_connector(cid)["status"] == "AVAILABLE"
    ended = job_item(dynalite, prefix, cid, jid)
    assert int(ended["version"]["N"]) > int(stopping["version"]["N"])
    # The end's own record changes nothing more (an ended job is no action).
    assert dyn_fn.stub.invoke({"Records": [record(3, stopping, ended)]}) == {
        "batchItemFailures": []}
    assert api.get_job(cid, jid)["status"] == "STOPPED"


def test_a_long_poll_sees_another_instances_write(dyn_fn, dynalite, prefix, tmp_path):
    """Two instances on one DynamoDB store, as on AWS (test_lambda.py's case)."""
    other = dyn_function(tmp_path, dynalite, prefix)
    try:
        tl.long_poll_across_instances(dyn_fn, other)
    finally:
        other.close()


def test_tables_existing_opens_without_describing_or_creating(dyn_fn, dynalite, prefix, tmp_path):
    """tables=existing (the template's CCF_STORE): the open trusts the
    deployment's tables, so an instance on tables another made serves them,
    and one on a prefix without tables is an init error (its secret's
    GetItem finds no table), never a table made behind the template's back."""
    existing = f"dynamodb://{prefix}?region=us-east-1&endpoint={dynalite}&tables=existing"
    keys = {"CCF_STORE_EXPERIMENTAL": "true", "AWS_ACCESS_KEY_ID": "AKIDLAMBDATESTS",
            "AWS_SECRET_ACCESS_KEY": "lambda-tests"}
    client = ApiGatewayClient(dyn_fn.stub)
    cid = client.create_connector(name="made-before")["connector_id"]
    for d in ("existing", "bare"):
        (tmp_path / d).mkdir()
    other = tl.Function(tmp_path / "existing", CCF_STORE=existing, **keys)
    try:
        got = ApiGatewayClient(other.stub).get_connector(cid)
        assert got["name"] == "made-before", got
    finally:
        other.close()
    none = "nt-" + os.urandom(4).hex()
    bare = tl.Function(tmp_path / "bare", CCF_STORE=existing.replace(prefix, none), **keys)
    err, _ = bare.stub.wait_init_error()
    assert "cannot be opened" in err["errorMessage"], err
    assert bare.proc.wait(timeout=30 * tl.SCALE) == 1
    bare.stub.close()
    bare.log.close()
    ddb = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=dynalite, aws_access_key_id="x",
        aws_secret_access_key="x")
    names = ddb.list_tables(ExclusiveStartTableName=none, Limit=100)["TableNames"]
    assert not any(n.startswith(none) for n in names), names
