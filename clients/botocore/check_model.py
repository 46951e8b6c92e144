#!/usr/bin/python3
"""Proves the botocore model beside this file against CONTRACT.md without a
server: loads it with botocore (AWS_DATA_PATH), builds every operation's
request through botocore's own serializer and signer and checks its method,
path, query and body; then feeds canned responses to botocore's rest-json
parser, errors included. Nothing is sent: a before-send hook stops each call.

    /usr/bin/python3 clients/botocore/check_model.py      # prints N passed, 0 failed

tests/service imports request_of() and client() from here.
"""
import io
import json
import os
import sys
from urllib.parse import parse_qsl, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ["AWS_DATA_PATH"] = HERE + os.pathsep + os.environ.get("AWS_DATA_PATH", "")

import botocore.session  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402

CID = "cc-0123456789ab"
JID = "ccj-0123456789ab"
WID = "wh-0123456789ab"
C = "/api/v1/custom-connectors"


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def client(endpoint_url="http://127.0.0.1:8787", region="us-east-1", key="AKIAIOSFODNN7EXAMPLE",
           secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", token=None, validate=True):
    """A botocore client of the ccf model (boto3.client('ccf', ...) is the same)."""
    from botocore.config import Config
    s = botocore.session.get_session()
    return s.create_client("ccf", region_name=region, endpoint_url=endpoint_url,
                           aws_access_key_id=key, aws_secret_access_key=secret,
                           aws_session_token=token,
                           config=Config(parameter_validation=validate,
                                         retries={"max_attempts": 1}))


def request_of(c, operation, **kwargs):
    """The prepared request botocore would send for one call: (method, url, headers, body)."""
    def stop(request, **_):
        raise Captured(request)
    c.meta.events.register_first("before-send.ccf", stop)
    try:
        getattr(c, operation)(**kwargs)
    except Captured as e:
        r = e.request
        headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in r.headers.items()}
        return r.method, r.url, headers, r.body or b""
    finally:
        c.meta.events.unregister("before-send.ccf", stop)
    raise AssertionError(operation + " sent nothing")


PROPS = {"command": ["/bin/echo", "hi"], "resource_requirements": {"cpu": 1.5, "memory": 2048},
         "timeout": 60, "environment": [{"name": "A", "value": "1"}]}
# python name, kwargs, method, path, query, body (None: no body expected)
CASES = [
    ("create_custom_connector", {"name": "my-conn", "container_properties": PROPS},
     "POST", C, {}, {"name": "my-conn", "container_properties": PROPS}),
    ("get_custom_connector", {"connector_id": CID}, "GET", C + "/" + CID, {}, None),
    ("update_custom_connector", {"connector_id": CID, "description": "new one"},
     "PUT", C + "/" + CID, {}, {"description": "new one"}),
    ("list_custom_connectors", {"max_results": 2, "next_token": "abc"},
     "GET", C, {"max_results": "2", "next_token": "abc"}, None),
    ("delete_custom_connector", {"connector_id": CID}, "DELETE", C + "/" + CID, {}, None),
    ("start_custom_connector_job", {"connector_id": CID}, "POST", C + "/" + CID + "/jobs", {}, {}),
    ("start_custom_connector_job", {"connector_id": CID, "environment": [{"name": "X", "value": "y"}]},
     "POST", C + "/" + CID + "/jobs", {}, {"environment": [{"name": "X", "value": "y"}]}),
    ("list_custom_connector_jobs", {"connector_id": CID, "status": "RUNNING", "max_results": 5},
     "GET", C + "/" + CID + "/jobs", {"status": "RUNNING", "max_results": "5"}, None),
    ("stop_custom_connector_job", {"connector_id": CID, "job_id": JID},
     "POST", C + "/" + CID + "/jobs/" + JID + "/stop", {}, None),
    ("get_custom_connector_job", {"connector_id": CID, "job_id": JID},
     "GET", C + "/" + CID + "/jobs/" + JID, {}, None),
    ("get_custom_connector_job_logs", {"connector_id": CID, "job_id": JID, "offset": -100,
                                       "limit": 4096},
     "GET", C + "/" + CID + "/jobs/" + JID + "/logs", {"offset": "-100", "limit": "4096"}, None),
    ("batch_put_custom_connector_documents",
     {"connector_id": CID, "documents": [{"document_id": "d1", "checksum": "c" * 32}]},
     "POST", C + "/" + CID + "/documents", {},
     {"documents": [{"document_id": "d1", "checksum": "c" * 32}]}),
    ("batch_delete_custom_connector_documents", {"connector_id": CID, "document_ids": ["d1", "d2"]},
     "DELETE", C + "/" + CID + "/documents", {}, {"document_ids": ["d1", "d2"]}),
    ("list_custom_connector_documents", {"connector_id": CID, "max_results": 1000},
     "GET", C + "/" + CID + "/documents", {"max_results": "1000"}, None),
    ("put_custom_connector_checkpoint", {"connector_id": CID, "checkpoint_data": "x\u0000y"},
     "PUT", C + "/" + CID + "/checkpoint", {}, {"checkpoint_data": "x\u0000y"}),
    ("get_custom_connector_checkpoint", {"connector_id": CID}, "GET", C + "/" + CID + "/checkpoint",
     {}, None),
    ("delete_custom_connector_checkpoint", {"connector_id": CID},
     "DELETE", C + "/" + CID + "/checkpoint", {}, None),
    # Operations of CONTRACT-OPS.md (milestone 2).
    ("pause_custom_connector", {"connector_id": CID, "stop_active_job": True},
     "POST", C + "/" + CID + "/pause", {}, {"stop_active_job": True}),
    ("resume_custom_connector", {"connector_id": CID}, "POST", C + "/" + CID + "/resume", {},
     None),
    ("list_custom_connector_checkpoint_versions", {"connector_id": CID, "max_results": 3},
     "GET", C + "/" + CID + "/checkpoint/versions", {"max_results": "3"}, None),
    ("list_events", {"after": "abc", "wait_seconds": 20, "types": "job.failed"},
     "GET", "/api/v1/events", {"after": "abc", "wait_seconds": "20", "types": "job.failed"},
     None),
    ("create_webhook", {"url": "https://example.com/hook", "event_types": ["job.failed"]},
     "POST", "/api/v1/webhooks", {},
     {"url": "https://example.com/hook", "event_types": ["job.failed"]}),
    ("list_webhooks", {"max_results": 7}, "GET", "/api/v1/webhooks", {"max_results": "7"}, None),
    ("get_webhook", {"webhook_id": WID}, "GET", "/api/v1/webhooks/" + WID, {}, None),
    ("delete_webhook", {"webhook_id": WID}, "DELETE", "/api/v1/webhooks/" + WID, {}, None),
    ("test_webhook", {"webhook_id": WID}, "POST", "/api/v1/webhooks/" + WID + "/test", {}, None),
    ("list_webhook_deliveries", {"webhook_id": WID, "next_token": "abc"},
     "GET", "/api/v1/webhooks/" + WID + "/deliveries", {"next_token": "abc"}, None),
    ("list_audit_events", {"after": "abc", "max_results": 7},
     "GET", "/api/v1/audit-events", {"after": "abc", "max_results": "7"}, None),
]
# Operations whose client_token botocore fills in by itself (idempotencyToken).
TOKENED = {"create_custom_connector", "start_custom_connector_job", "create_webhook"}

ERROR_TYPES = {
    "BadRequestException": 400, "MissingAuthenticationTokenException": 403,
    "InvalidSignatureException": 403, "UnrecognizedClientException": 403,
    "AccessDeniedException": 403, "ResourceNotFoundException": 404,
    "MethodNotAllowedException": 405, "ConflictException": 409,
    "PayloadTooLargeException": 413, "UnsupportedMediaTypeException": 415,
    "ThrottlingException": 429, "LimitExceededException": 400, "InternalServerErrorException": 500,
    "ServiceUnavailableException": 503,
}


def check_requests(c, ok):
    seen = set()
    for name, kwargs, method, path, query, body in CASES:
        m, url, headers, raw = request_of(c, name, **kwargs)
        u = urlsplit(url)
        got_q = dict(parse_qsl(u.query, keep_blank_values=True))
        ok(m == method and u.path == path and got_q == query, f"{name}: {m} {url}")
        if body is None:
            ok(raw in (b"", b"{}"), f"{name}: no body expected, got {raw!r}")
        else:
            got = json.loads(raw)
            if name in TOKENED:  # a fresh uuid on every call
                token = got.pop("client_token", "")
                ok(len(token) == 36 and token.count("-") == 4, f"{name}: client_token {token!r}")
            ok(got == body, f"{name}: body {raw!r}")
            ok(headers.get("Content-Type") == "application/json", f"{name}: content type")
        auth = headers.get("Authorization", "")
        ok("/us-east-1/execute-api/aws4_request" in auth, f"{name}: signed for execute-api: {auth}")
        seen.add(c.meta.method_to_api_mapping[name])
    ops = set(c.meta.service_model.operation_names)
    ok(seen == ops, f"every operation built: missing {sorted(ops - seen)}")
    ok(len(ops) == 27, f"27 operations (14 original + 13 extensions), got {len(ops)}")


class FakeRaw:
    """What botocore reads an HTTP body from (urllib3's response, in a real call)."""

    def __init__(self, data):
        self._b = io.BytesIO(data)

    def stream(self, *args, **kwargs):
        yield self._b.read()

    def read(self, *args, **kwargs):
        return self._b.read(*args)


def respond(c, operation, kwargs, status, headers, body):
    """Calls operation, answering it with a canned response instead of sending it."""
    def answer(request, **_):
        return AWSResponse(request.url, status, headers, FakeRaw(body))
    c.meta.events.register_first("before-send.ccf", answer)
    try:
        return getattr(c, operation)(**kwargs)
    finally:
        c.meta.events.unregister("before-send.ccf", answer)


def check_responses(c, ok):
    ids = {"connector_id": CID, "job_id": JID}
    # A streaming payload: bytes that are not UTF-8 survive.
    r = respond(c, "get_custom_connector_job_logs", ids, 200,
                {"x-ccf-log-size": "11", "x-ccf-job-status": "RUNNING",
                 "content-type": "text/plain; charset=utf-8"}, b"hello\xffworld")
    ok(r["logs"].read() == b"hello\xffworld" and r.get("log_size") == 11
       and r.get("job_status") == "RUNNING" and "log_truncated" not in r, f"logs: {r}")
    r = respond(c, "get_custom_connector_job", ids, 200, {"content-type": "application/json"},
                json.dumps({"job": {"job_id": JID, "connector_id": CID, "status": "FAILED",
                                    "created_at": "2026-11-24T23:54:14.123456Z",
                                    "updated_at": "2026-11-24T23:54:15.000001Z",
                                    "exit_code": 137}}).encode())
    # Timestamps stay the contract's strings, as the original's model has them.
    ok(r["job"]["exit_code"] == 137 and r["job"]["created_at"] == "2026-11-24T23:54:14.123456Z",
       f"job: {r}")
    r = respond(c, "delete_custom_connector", {"connector_id": CID}, 204, {}, b"")
    ok(r["ResponseMetadata"]["HTTPStatusCode"] == 204, "204 without a body")
    for name, status in ERROR_TYPES.items():
        try:
            respond(c, "get_custom_connector", {"connector_id": CID}, status,
                    {"x-amzn-ErrorType": name, "content-type": "application/json"},
                    json.dumps({"message": "m " + name, "errorType": name}).encode())
            ok(False, f"error {name} raised nothing")
        except getattr(c.exceptions, name) as e:
            ok(e.response["Error"]["Code"] == name and e.response["Error"]["Message"] == "m " + name,
               f"error {name}: {e.response['Error']}")


def main():
    passed, failed = 0, 0

    def ok(cond, what):
        nonlocal passed, failed
        if cond:
            passed += 1
        else:
            failed += 1
            print("FAIL: " + what)
    c = client()
    check_requests(c, ok)
    check_responses(c, ok)
    ok(c.can_paginate("list_custom_connectors"), "paginator for list_custom_connectors")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
