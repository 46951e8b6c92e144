"""The black-box service tests of the API (the modules make integ runs
that need nothing but a client) again, through the Lambda bootstrap: each
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

# Those that talk to a ccfd of their own (its port, its process) are not
# API Gateway's: left out here.
for _name, _fn in list(globals().items()):
    if _name.startswith("test_") and callable(_fn) and (
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
