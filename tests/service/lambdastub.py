"""A Lambda Runtime API stub (standard library only) and a client that
speaks the ccf API through it as API Gateway REST proxy events.

RuntimeStub serves the four endpoints a custom runtime uses
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
GET  /2018-06-01/runtime/invocation/next        hands out the next event
POST /2018-06-01/runtime/invocation/{id}/response  collects the answer
POST /2018-06-01/runtime/invocation/{id}/error     collects an error
POST /2018-06-01/runtime/init/error                collects an init error
invoke() queues one event and waits for what the function posts back.
Closing the stub answers a waiting `next` with 500, so the function's loop
ends (as when Lambda's runtime goes away).
"""

import base64
import http.server
import json
import queue
import threading
import urllib.parse
import uuid

from ccftest import _UNSET, ACCOUNT_ID, STRICT, Client, Response, account_key, check_response
from conftest import TIMEOUT_SCALE

PREFIX = "/2018-06-01/runtime"
# API Gateway's own account (the API's owner), not the caller's.
API_OWNER_ACCOUNT = "999999999999"


class RuntimeStub:
    def __init__(self):
        self.events = queue.Queue()
        self.results = {}  # request id -> ("response"|"error", body bytes, headers)
        self.cond = threading.Condition()
        self.init_errors = []
        self.next_calls = 0
        self.handed_out = 0  # events the function has taken
        self.closing = False
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each answer waits for a delayed ACK

            def log_message(self, *a):
                pass

            def _reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != PREFIX + "/invocation/next":
                    return self._reply(404)
                with stub.cond:
                    stub.next_calls += 1
                    stub.cond.notify_all()
                while True:
                    try:
                        rid, body = stub.events.get(timeout=0.2)
                        with stub.cond:
                            stub.handed_out += 1
                            stub.cond.notify_all()
                        break
                    except queue.Empty:
                        if stub.closing:
                            return self._reply(500, b'{"errorMessage":"runtime closing"}')
                self._reply(200, body, [
                    ("Lambda-Runtime-Aws-Request-Id", rid),
                    ("Lambda-Runtime-Deadline-Ms", "9999999999999"),
                    ("Lambda-Runtime-Invoked-Function-Arn",
                     "arn:aws:lambda:us-east-1:999999999999:function:ccf"),
                    ("Content-Type", "application/json"),
                ])

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                if self.path == PREFIX + "/init/error":
                    with stub.cond:
                        stub.init_errors.append((json.loads(body), hdrs))
                        stub.cond.notify_all()
                    return self._reply(202, b'{"status":"OK"}')
                parts = self.path[len(PREFIX):].split("/")
                # ['', 'invocation', id, 'response'|'error']
                if len(parts) != 4 or parts[1] != "invocation" or parts[3] not in (
                        "response", "error"):
                    return self._reply(404)
                with stub.cond:
                    stub.results[parts[2]] = (parts[3], body, hdrs)
                    stub.cond.notify_all()
                self._reply(202, b'{"status":"OK"}')

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.address = "127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def invoke_raw(self, body, timeout=None):
        """Queues one event (bytes); returns (kind, body bytes, headers)."""
        # A deadline, not a bound on our latency: it stretches under a
        # wrapper (valgrind: 1 MiB of escaped NULs took over 30 s in CI).
        timeout = 30 * TIMEOUT_SCALE if timeout is None else timeout
        rid = str(uuid.uuid4())
        self.events.put((rid, body))
        with self.cond:
            ok = self.cond.wait_for(lambda: rid in self.results, timeout=timeout)
            assert ok, f"the function did not answer invocation {rid} in {timeout} s"
            return self.results.pop(rid)

    def invoke(self, event, timeout=None):
        """Queues one event (an object) and returns the function's JSON
        answer; an error posted instead fails the test."""
        kind, body, _ = self.invoke_raw(json.dumps(event).encode(), timeout)
        assert kind == "response", f"invocation failed: {body!r}"
        return json.loads(body)

    def invoke_error(self, event, timeout=None):
        """An event the function must report as an error: returns
        (the error's body as an object, the request's headers)."""
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        kind, out, hdrs = self.invoke_raw(body, timeout)
        assert kind == "error", f"expected an error, got a response: {out!r}"
        return json.loads(out), hdrs

    def wait_init_error(self, timeout=30):
        with self.cond:
            assert self.cond.wait_for(lambda: self.init_errors, timeout=timeout), \
                "no init error reported"
            return self.init_errors[0]

    def close(self):
        self.closing = True
        self.httpd.shutdown()
        self.httpd.server_close()


def api_event(method, target, body=None, headers=(), account_id=ACCOUNT_ID, base64_body=False):
    """An API Gateway REST proxy event (payload 1.0) as AWS's documentation
    shows one for a {proxy+} resource under IAM auth."""
    url = urllib.parse.urlsplit(target)
    path = urllib.parse.unquote(url.path)
    multi_q = {}
    for k, v in urllib.parse.parse_qsl(url.query, keep_blank_values=True):
        multi_q.setdefault(k, []).append(v)
    multi_h = {}
    for k, v in headers:
        multi_h.setdefault(k, []).append(v)
    if isinstance(body, (bytes, bytearray)):
        if base64_body:
            body = base64.b64encode(body).decode()
        else:
            body = body.decode("utf-8")
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in multi_h.items()} or None,
        "multiValueHeaders": multi_h or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_q.items()} or None,
        "multiValueQueryStringParameters": multi_q or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "extendedRequestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": "09/Apr/2015:12:34:56 +0000",
            "path": "/prod" + path,
            "accountId": API_OWNER_ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "abcdef1234",
            "requestTimeEpoch": 1428582896000,
            "requestId": str(uuid.uuid4()),
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": account_id,
                "cognitoIdentityId": None,
                "caller": "AIDAEXAMPLE",
                "sourceIp": "127.0.0.1",
                "principalOrgId": None,
                "accessKey": account_key(account_id)[0],  # the signer's (IAM auth)
                "userArn": f"arn:aws:iam::{account_id}:user/tester",
                "userAgent": "ccf-tests",
                "user": "AIDAEXAMPLE",
            },
            "domainName": "abcdef1234.execute-api.us-east-1.amazonaws.com",
            "apiId": "abcdef1234",
        },
        "body": body,
        "isBase64Encoded": bool(base64_body and body is not None),
    }


class ApiGatewayClient(Client):
    """Client's helpers and checks, with each request sent as an API
    Gateway event through the stub instead of over HTTP."""

    def __init__(self, stub, account_id=ACCOUNT_ID, **kw):
        super().__init__(0, **kw)
        self.stub = stub
        self.account_id = account_id

    def request(self, method, target, json_body=_UNSET, body=None, content_type=_UNSET,
                headers=None, chunks=None, check=True):
        if chunks is not None:  # API Gateway hands the function the whole body
            body = b"".join(bytes(c) for c in chunks)
        if json_body is not _UNSET:
            body = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        if isinstance(body, str):
            body = body.encode("utf-8")
        hdrs = []
        if content_type is _UNSET:
            content_type = "application/json" if body is not None else None
        if content_type is not None:
            hdrs.append(("Content-Type", content_type))
        for k, v in (headers or {}).items():
            if v is not None:
                hdrs.append((k, v))
        answer = self.stub.invoke(api_event(method, target, body, hdrs, self.account_id))
        assert set(answer) <= {"statusCode", "headers", "multiValueHeaders", "body",
                               "isBase64Encoded"}, f"not a proxy response: {answer}"
        data = answer.get("body") or ""
        data = base64.b64decode(data) if answer.get("isBase64Encoded") else data.encode()
        resp = Response(method, target, body, answer["statusCode"], "",
                        list((answer.get("headers") or {}).items()), data)
        if check and STRICT:
            check_response(resp, self.ids, self.arn_prefix)
        return resp
