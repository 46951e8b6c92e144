"""An EventBridge Scheduler API stub (standard library + botocore) for the
Lambda function's schedules. It checks every request's SigV4 signature
(service "scheduler", the stub's region and key, the session token), and
the request against botocore's own model of the API (scheduler
2021-06-30: CreateSchedule POST /schedules/NAME, UpdateSchedule PUT,
DeleteSchedule DELETE ?groupName=, GetSchedule GET), answering as
Scheduler does: ConflictException (409) for a create of a schedule that
exists, ResourceNotFoundException (404) for an update, get or delete of
one that does not. Anything wrong is recorded in .problems, which a test
asserts empty. .schedules holds what exists, by (group, name)."""

import datetime
import http.server
import json
import re
import threading
import urllib.parse

from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

KEY_ID = "AKIASCHEDSTUB0000001"
SECRET = "schedstubsecret/000000000000000000000000"
TOKEN = "FwoGZXIvYXdzESchedStubSessionToken//+=="
NAME_RE = re.compile(r"^[0-9a-zA-Z_.-]{1,64}$")
OPS = {"POST": "CreateSchedule", "PUT": "UpdateSchedule", "DELETE": "DeleteSchedule",
       "GET": "GetSchedule"}
from batchstub import _Verify as _BatchVerify  # noqa: E402

MODEL = ServiceModel(Loader().load_service_model("scheduler", "service-2"), "scheduler")


def _Verify(creds, region, when, signed):
    """The Batch stub's verifier, for the scheduler service."""
    return _BatchVerify(creds, region, when, signed, "scheduler")


class SchedulerStub:
    def __init__(self, region="us-east-1", account="999999999999",
                 key=(KEY_ID, SECRET, TOKEN)):
        self.region = region
        self.account = account
        self.key_id, self.secret, self.token = key
        self.lock = threading.Lock()
        self.problems = []
        self.calls = []  # (operation, name, params)
        self.schedules = {}  # (group, name) -> params of the last create/update
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def _any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                status, out = stub.handle(self.command, self.path, dict(self.headers.items()),
                                          body)
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status != 200:
                    self.send_header("x-amzn-ErrorType", out.get("__type", ""))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _any

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def env(self, group="ccf-test"):
        """What the function needs to reach the stub (its credentials are
        the template's role's)."""
        e = {"AWS_ENDPOINT_URL_SCHEDULER": self.url, "AWS_ACCESS_KEY_ID": self.key_id,
             "AWS_SECRET_ACCESS_KEY": self.secret, "CCF_SCHEDULE_GROUP": group,
             "CCF_SCHEDULER_TARGET_ARN":
                 f"arn:aws:lambda:{self.region}:{self.account}:function:ccf-fn",
             "CCF_SCHEDULER_ROLE_ARN": f"arn:aws:iam::{self.account}:role/ccf-scheduler"}
        if self.token:
            e["AWS_SESSION_TOKEN"] = self.token
        return e

    def ops(self, op):
        with self.lock:
            return [(name, p) for o, name, p in self.calls if o == op]

    def clear(self):
        with self.lock:
            self.calls.clear()

    def problem(self, text):
        with self.lock:
            self.problems.append(text)

    def check_signature(self, method, path, headers, body):
        h = {k.lower(): v for k, v in headers.items()}
        m = re.match(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$",
                     h.get("authorization", ""))
        if not m:
            return "Authorization header is not SigV4"
        key, day, region, service, signed, sig = m.groups()
        if key != self.key_id or region != self.region or service != "scheduler":
            return f"credential scope {key}/{region}/{service}"
        date = h.get("x-amz-date", "")
        if not date.startswith(day):
            return "X-Amz-Date does not match the credential's day"
        when = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
        if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 300:
            return "X-Amz-Date more than 5 minutes away"
        names = signed.split(";")
        if "host" not in names or "x-amz-date" not in names:
            return "host and x-amz-date must be signed"
        if self.token and (h.get("x-amz-security-token") != self.token or
                           "x-amz-security-token" not in names):
            return "no signed X-Amz-Security-Token with the session token"
        req = AWSRequest(method=method, url=f"http://{h['host']}{path}", data=body,
                         headers={n: h.get(n, "") for n in names})
        v = _Verify(Credentials(self.key_id, self.secret, self.token or None), self.region, date,
                    set(names))
        if sig != v.signature_of(req):
            return "signature does not match"
        return None

    def handle(self, method, path, headers, body):
        err = self.check_signature(method, path, headers, body)
        if err:
            self.problem(f"{method} {path}: {err}")
            return 403, {"__type": "InvalidSignatureException", "Message": err}
        url = urllib.parse.urlsplit(path)
        m = re.match(r"^/schedules/([^/]+)$", url.path)
        op = OPS.get(method)
        if not m or not op:
            self.problem(f"unknown operation {method} {path}")
            return 404, {"__type": "UnknownOperationException", "Message": "no such operation"}
        name = urllib.parse.unquote(m.group(1))
        query = dict(urllib.parse.parse_qsl(url.query))
        try:
            params = json.loads(body) if body else {}
        except ValueError:
            self.problem(f"{op}: body is not JSON")
            return 400, {"__type": "ValidationException", "Message": "body is not JSON"}
        params["Name"] = name
        if "groupName" in query:
            params["GroupName"] = query["groupName"]
        if "clientToken" in query:
            params["ClientToken"] = query["clientToken"]
        # ActionAfterCompletion (NONE | DELETE, Create and Update) is newer
        # than this botocore's model (1.29): checked here by hand.
        after = params.pop("ActionAfterCompletion", None)
        if after is not None and (op not in ("CreateSchedule", "UpdateSchedule") or
                                  after not in ("NONE", "DELETE")):
            self.problem(f"{op} {name}: ActionAfterCompletion {after!r}")
        report = ParamValidator().validate(params, MODEL.operation_model(op).input_shape)
        if after is not None:
            params["ActionAfterCompletion"] = after
        if report.has_errors():
            self.problem(f"{op} {name}: {report.generate_report()}")
            return 400, {"__type": "ValidationException", "Message": report.generate_report()}
        if not NAME_RE.match(name):
            self.problem(f"{op}: bad name {name!r}")
            return 400, {"__type": "ValidationException", "Message": "bad name"}
        if op in ("CreateSchedule", "UpdateSchedule"):
            expr = params["ScheduleExpression"]
            if not re.match(r"^(at|rate|cron)\(.+\)$", expr):
                self.problem(f"{op} {name}: bad expression {expr!r}")
            try:
                json.loads(params["Target"].get("Input", "{}"))
            except ValueError:
                self.problem(f"{op} {name}: Target.Input is not JSON")
        key = (params.get("GroupName", "default"), name)
        with self.lock:
            self.calls.append((op, name, params))
            exists = key in self.schedules
            if op == "CreateSchedule" and exists:
                return 409, {"__type": "ConflictException", "Message": f"{name} exists"}
            if op != "CreateSchedule" and not exists:
                return 404, {"__type": "ResourceNotFoundException",
                             "Message": f"Schedule {name} does not exist."}
            arn = f"arn:aws:scheduler:{self.region}:{self.account}:schedule/{key[0]}/{name}"
            if op == "DeleteSchedule":
                del self.schedules[key]
                return 200, {}
            if op == "GetSchedule":
                return 200, dict(self.schedules[key], Arn=arn)
            self.schedules[key] = params
            return 200, {"ScheduleArn": arn}

    def fire_input(self, name, group="ccf-test", when=None):
        """The event Scheduler invokes the function with: the schedule's
        Input, its context attributes filled in."""
        p = self.schedules[(group, name)]
        when = when or datetime.datetime.now(datetime.timezone.utc)
        text = p["Target"]["Input"].replace("<aws.scheduler.scheduled-time>",
                                            when.strftime("%Y-%m-%dT%H:%M:%SZ"))
        return json.loads(text)
