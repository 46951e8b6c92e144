"""The bootstrap on the DynamoDB store (experimental: CCF_STORE=dynamodb://
with CCF_STORE_EXPERIMENTAL=true), against dynalite (scripts/dynalite.sh,
on loopback): test_lambda.py's API Gateway cases again, each through the
Runtime API stub. Skipped, with the reason, where dynalite is not
installed (make dynamo-deps)."""

import os
import subprocess

import pytest

import test_lambda as tl
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
def dyn_fn(dynalite, tmp_path_factory):
    prefix = "lam-" + os.urandom(4).hex()
    f = tl.Function(tmp_path_factory.mktemp("lambda-dynamo"),
                    CCF_STORE=f"dynamodb://{prefix}?region=us-east-1&endpoint={dynalite}",
                    CCF_STORE_EXPERIMENTAL="true", AWS_ACCESS_KEY_ID="AKIDLAMBDATESTS",
                    AWS_SECRET_ACCESS_KEY="lambda-tests")
    yield f
    f.close()


@pytest.mark.parametrize("case", CASES)
def test_api_events_on_the_dynamodb_store(dyn_fn, case):
    getattr(tl, case)(ApiGatewayClient(dyn_fn.stub))
