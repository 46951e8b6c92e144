"""The black-box service tests of the API (the modules make integ runs
that need nothing but a client, and those of the operations contract:
events, checkpoint versions, idempotency, document statistics, schedules,
pause and resume, webhooks, the audit log) again, through the Lambda bootstrap: each
request an API Gateway event under the Runtime API stub, the same
expectations (SCALE.md: "The black-box service tests also run through the
API Gateway event path"). The imported tests take this module's client."""

import inspect

import pytest

from lambdastub import ApiGatewayClient
from test_lambda import Function

from test_connectors import *  # noqa: F401,F403,E402
from test_jobs import *  # noqa: F401,F403,E402
from test_documents import *  # noqa: F401,F403,E402
from test_checkpoint import *  # noqa: F401,F403,E402
from test_pagination import *  # noqa: F401,F403,E402
from test_validation import *  # noqa: F401,F403,E402
from test_query import *  # noqa: F401,F403,E402
# The operations contract's (CONTRACT-OPS.md): every operation of route.c.
from test_events import *  # noqa: F401,F403,E402
from test_checkpoint_versions import *  # noqa: F401,F403,E402
from test_idempotency import *  # noqa: F401,F403,E402
from test_docstats import *  # noqa: F401,F403,E402
from test_schedules import *  # noqa: F401,F403,E402
from test_webhooks import *  # noqa: F401,F403,E402
from test_audit import *  # noqa: F401,F403,E402

# Not the API's behaviour but ccfd's own threads, which the function does
# not run: schedules fire from EventBridge Scheduler here
# (test_lambda_schedules.py), and a long poll woken by a commit on another
# connection needs two requests at once, which one instance never serves
# (test_lambda_dynamo.py's two instances on one store do it instead).
NOT_THROUGH_LAMBDA = {
    "test_long_poll_returns_soon_after_a_commit",
    "test_long_poll_does_not_hold_a_worker_thread",  # ccfd's HTTP threads
    "test_at_fires_once_within_a_second",
    "test_pause_drops_due_runs_and_resume_restores",
    "test_fired_and_skipped_runs_are_events",
}

# Those that talk to a ccfd of their own (its port, its process) are not
# API Gateway's: left out here.
for _name, _fn in list(globals().items()):
    if _name.startswith("test_") and callable(_fn) and (
            _name in NOT_THROUGH_LAMBDA or
            {"server", "ccfd_factory"} & set(inspect.signature(_fn).parameters)):
        del globals()[_name]


@pytest.fixture(scope="module")
def lambda_fn(tmp_path_factory):
    f = Function(tmp_path_factory.mktemp("lambda-blackbox"))
    yield f
    f.close()


@pytest.fixture(scope="module")
def client(lambda_fn):  # noqa: F811 (this module's client: the function's)
    return ApiGatewayClient(lambda_fn.stub)
