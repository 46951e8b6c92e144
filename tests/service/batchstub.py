"""An AWS Batch API stub (standard library + botocore's signer) for the
batch executor's tests. It checks every request's SigV4 signature
(service "batch", the stub's region, its one key, and the session token
when one is expected) and the request shapes of AWS's API reference for
the six operations the executor uses (RegisterJobDefinition,
DescribeJobDefinitions, SubmitJob, ListJobs, TerminateJob, DescribeJobs):
each request is validated against botocore's own model of the Batch API
(method, path, members, types, required members), then by hand for the
rules the model does not carry (name patterns, Fargate, limits), answers as
Batch does (errors as 400 ClientException), and plays each job's state
changes: SUBMITTED until the first DescribeJobs, RUNNING at it, then the
outcome at the next the job's own environment asks for in
STUB_OUTCOME: "exit:N" (SUCCEEDED for 0, else FAILED with that exit code),
"timeout" (FAILED, Batch's timeout reason), "refuse" (SubmitJob refused),
"hang" (RUNNING until terminated). Anything wrong is recorded in
.problems, which a test asserts empty.
"""

import datetime
import http.server
import json
import re
import threading
import time
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.loaders import Loader
from botocore.model import ServiceModel
from botocore.validate import ParamValidator

KEY_ID = "AKIABATCHSTUB0000001"
SECRET = "batchstubsecret/0000000000000000000000000"
TOKEN = "FwoGZXIvYXdzEBatchStubSessionToken//+=="
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")
STEPS = ["SUBMITTED", "RUNNABLE", "STARTING", "RUNNING"]
MODEL = ServiceModel(Loader().load_service_model("batch", "service-2"), "batch")
# The operations the executor may call, by their rest-json path.
OPS = {MODEL.operation_model(o).http["requestUri"]: o for o in (
    "RegisterJobDefinition", "DescribeJobDefinitions", "SubmitJob", "ListJobs", "TerminateJob",
    "DescribeJobs")}


class _Verify(SigV4Auth):
    """botocore's SigV4 over exactly the headers the client signed, at the
    client's own X-Amz-Date."""

    def __init__(self, creds, region, when, signed, service="batch"):
        super().__init__(creds, service, region)
        self._when = when
        self._signed = signed

    def headers_to_sign(self, request):
        out = super().headers_to_sign(request)
        for name in list(out.keys()):
            if name not in self._signed:
                del out[name]
        return out

    def signature_of(self, request):
        request.context["timestamp"] = self._when
        creq = self.canonical_request(request)
        return self.signature(self.string_to_sign(request, creq), request)


class BatchStub:
    def __init__(self, region="us-east-1", account="999999999999", token=TOKEN):
        self.region = region
        self.account = account
        self.token = token
        self.lock = threading.Lock()
        self.problems = []
        self.calls = []  # (operation, request body)
        self.definitions = {}  # name -> [definition dicts], revision = index + 1
        self.jobs = {}  # batch job id -> detail dict (+ private keys)
        self.connections = 0  # TCP connections accepted: kept ones are reused
        self.busy = set()  # job names whose SubmitJob answers 500 (Batch unavailable)
        self.register_busy = False  # RegisterJobDefinition answers 500 (Batch unavailable)
        stub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                with stub.lock:
                    stub.connections += 1

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                status, out = stub.handle(self.command, self.path, dict(self.headers.items()), body)
                data = json.dumps(out).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if status != 200:
                    self.send_header("x-amzn-ErrorType", out.get("__type", "ClientException"))
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def env(self):
        """What the executor's process needs to reach the stub."""
        e = {"AWS_ENDPOINT_URL_BATCH": self.url, "AWS_ACCESS_KEY_ID": KEY_ID,
             "AWS_SECRET_ACCESS_KEY": SECRET}
        if self.token:
            e["AWS_SESSION_TOKEN"] = self.token
        return e

    # ---- checks ----

    def problem(self, text):
        with self.lock:
            self.problems.append(text)

    def check_signature(self, method, path, headers, body):
        h = {k.lower(): v for k, v in headers.items()}
        auth = h.get("authorization", "")
        m = re.match(r"^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$", auth)
        if not m:
            return f"Authorization header is not SigV4: {auth!r}"
        key, day, region, service, signed, sig = m.groups()
        if key != KEY_ID or region != self.region or service != "batch":
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
        if self.token and h.get("x-amz-security-token") != self.token:
            return "no X-Amz-Security-Token with the session token"
        req = AWSRequest(method=method, url=f"http://{h['host']}{path}", data=body,
                         headers={n: h.get(n, "") for n in names})
        creds = Credentials(KEY_ID, SECRET, self.token or None)
        v = _Verify(creds, self.region, date, set(names))
        # _modify_request_before_signing's job, by hand: keep the client's headers.
        if sig != v.signature_of(req):
            return "signature does not match"
        return None

    # ---- dispatch ----

    def handle(self, method, path, headers, body):
        err = self.check_signature(method, path, headers, body)
        if err:
            self.problem(f"{path}: {err}")
            return 403, {"__type": "InvalidSignatureException", "message": err}
        if not (headers.get("Content-Type") or headers.get("content-type", "")).startswith(
                "application/json"):
            self.problem(f"{path}: Content-Type is not JSON")
        try:
            req = json.loads(body)
        except ValueError:
            self.problem(f"{path}: body is not JSON")
            return 400, {"__type": "ClientException", "message": "body is not JSON"}
        op = path.rsplit("/", 1)[-1]
        with self.lock:
            self.calls.append((op, req))
        fn = getattr(self, "op_" + op, None)
        model = OPS.get(path)
        if fn is None or model is None or method != MODEL.operation_model(model).http["method"]:
            self.problem(f"unknown operation {method} {path}")
            return 404, {"__type": "ClientException", "message": "unknown operation"}
        report = ParamValidator().validate(req, MODEL.operation_model(model).input_shape)
        if report.has_errors():
            self.problem(f"{model}: {report.generate_report()}")
            return 400, {"__type": "ClientException", "message": report.generate_report()}
        try:
            with self.lock:
                return 200, fn(req)
        except ClientError as e:
            return 400, {"__type": "ClientException", "message": str(e)}
        except ServerError as e:
            return 500, {"__type": "ServerException", "message": str(e)}

    def expect(self, cond, text):
        if not cond:
            self.problems.append(text)
            raise ClientError(text)

    # ---- operations (shapes from the AWS Batch API reference) ----

    def op_registerjobdefinition(self, r):
        if self.register_busy:
            raise ServerError("Batch is unavailable (the stub's register_busy)")
        name = r.get("jobDefinitionName")
        self.expect(isinstance(name, str) and NAME_RE.match(name), "bad jobDefinitionName")
        self.expect(r.get("type") in ("container", "multinode"), "bad type")
        cp = r.get("containerProperties")
        self.expect(isinstance(cp, dict) and isinstance(cp.get("image"), str) and cp["image"],
                    "containerProperties.image")
        caps = r.get("platformCapabilities", ["EC2"])
        self.expect(isinstance(caps, list) and set(caps) <= {"EC2", "FARGATE"}, "capabilities")
        if "FARGATE" in caps:
            self.expect(isinstance(cp.get("executionRoleArn"), str), "FARGATE needs a role")
        for rr in cp.get("resourceRequirements", []):
            self.expect(rr.get("type") in ("VCPU", "MEMORY", "GPU") and
                        isinstance(rr.get("value"), str), "resourceRequirements")
        t = r.get("timeout", {}).get("attemptDurationSeconds", 60)
        self.expect(isinstance(t, int) and t >= 60, "attemptDurationSeconds must be >= 60")
        a = r.get("retryStrategy", {}).get("attempts", 1)
        self.expect(isinstance(a, int) and 1 <= a <= 10, "retryStrategy.attempts 1..10")
        params = r.get("parameters", {})
        self.expect(all(isinstance(v, str) for v in params.values()), "parameters are strings")
        revs = self.definitions.setdefault(name, [])
        d = dict(r, revision=len(revs) + 1, status="ACTIVE",
                 jobDefinitionArn=f"arn:aws:batch:{self.region}:{self.account}:job-definition/"
                                  f"{name}:{len(revs) + 1}")
        revs.append(d)
        return {"jobDefinitionName": name, "jobDefinitionArn": d["jobDefinitionArn"],
                "revision": d["revision"]}

    def op_describejobdefinitions(self, r):
        name = r.get("jobDefinitionName")
        defs = [d for n, revs in self.definitions.items() for d in revs if name in (None, n)]
        return {"jobDefinitions": [d for d in defs if r.get("status") in (None, d["status"])]}

    def op_submitjob(self, r):
        self.expect(isinstance(r.get("jobName"), str) and NAME_RE.match(r["jobName"]), "jobName")
        self.expect(isinstance(r.get("jobQueue"), str) and r["jobQueue"], "jobQueue")
        arn = r.get("jobDefinition")
        d = next((d for revs in self.definitions.values() for d in revs
                  if d["jobDefinitionArn"] == arn), None)
        self.expect(d is not None, f"unknown jobDefinition {arn}")
        over = r.get("containerOverrides", {})
        env = over.get("environment", [])
        self.expect(all(isinstance(e, dict) and set(e) == {"name", "value"} and
                        all(isinstance(x, str) for x in e.values()) for e in env), "environment")
        self.expect(not any(e["name"].startswith("AWS_BATCH") for e in env), "AWS_BATCH names")
        envd = {e["name"]: e["value"] for e in env}
        if r["jobName"] in self.busy:
            raise ServerError(f"the stub is busy for {r['jobName']}")
        if envd.get("STUB_OUTCOME") == "refuse":
            raise ClientError("the stub refuses this job (STUB_OUTCOME=refuse)")
        jid = str(uuid.uuid4())
        now = int(time.time() * 1000)
        self.jobs[jid] = {
            "jobArn": f"arn:aws:batch:{self.region}:{self.account}:job/{jid}", "jobId": jid,
            "jobName": r["jobName"], "jobQueue": r["jobQueue"], "status": "SUBMITTED",
            "createdAt": now, "jobDefinition": arn, "attempts": [], "dependsOn": [],
            "parameters": d.get("parameters", {}), "timeout": d.get("timeout", {}),
            "container": {"image": d["containerProperties"]["image"], "environment": env,
                          "command": over.get("command", [])},
            "_outcome": envd.get("STUB_OUTCOME", "exit:0"), "_definition": d,
        }
        return {"jobArn": self.jobs[jid]["jobArn"], "jobName": r["jobName"], "jobId": jid}

    def op_terminatejob(self, r):
        self.expect(isinstance(r.get("jobId"), str), "jobId")
        self.expect(isinstance(r.get("reason"), str) and r["reason"], "reason")
        j = self.jobs.get(r["jobId"])
        self.expect(j is not None, "unknown jobId")
        if j["status"] not in ("SUCCEEDED", "FAILED"):
            was_running = j["status"] == "RUNNING"
            j.update(status="FAILED", statusReason=r["reason"],
                     stoppedAt=int(time.time() * 1000))
            if was_running:
                j["container"]["exitCode"] = 143
            j["_terminated"] = True
        return {}

    def op_listjobs(self, r):
        flt = r.get("filters", [])
        self.expect(isinstance(r.get("jobQueue"), str) and r["jobQueue"], "jobQueue")
        self.expect(isinstance(flt, list) and all(
            f.get("name") in ("JOB_NAME", "JOB_DEFINITION", "BEFORE_CREATED_AT",
                              "AFTER_CREATED_AT") and isinstance(f.get("values"), list)
            for f in flt), "filters")
        names = {v for f in flt if f["name"] == "JOB_NAME" for v in f["values"]}
        out = [{"jobArn": j["jobArn"], "jobId": j["jobId"], "jobName": j["jobName"],
                "createdAt": j["createdAt"], "status": j["status"]}
               for j in self.jobs.values() if j["jobQueue"] == r["jobQueue"] and
               (not names or j["jobName"] in names)]
        return {"jobSummaryList": out}

    def op_describejobs(self, r):
        ids = r.get("jobs")
        self.expect(isinstance(ids, list) and 1 <= len(ids) <= 100, "jobs: 1..100 ids")
        out = []
        for jid in ids:
            j = self.jobs.get(jid)
            if j is None:
                continue
            self.advance(j)
            out.append({k: v for k, v in j.items() if not k.startswith("_")})
        return {"jobs": out}

    def advance(self, j):
        st = j["status"]
        now = int(time.time() * 1000)
        if st in STEPS[:-1]:
            # Batch's way to RUNNING, all of it between two looks (the
            # executor reports only RUNNING): keeps each job to two polls.
            j["status"] = "RUNNING"
            j["startedAt"] = now
            return
        if st != "RUNNING":
            return
        out = j["_outcome"]
        if out == "hang":
            return
        j["stoppedAt"] = now
        if out == "timeout":
            j.update(status="FAILED", statusReason="Job attempt duration exceeded timeout")
            return
        code = int(out.split(":", 1)[1])
        j["container"]["exitCode"] = code
        j["status"] = "SUCCEEDED" if code == 0 else "FAILED"
        if code:
            j["statusReason"] = "Essential container in task exited"

    # ---- for the tests ----

    def job_by_name(self, name):
        with self.lock:
            return next((j for j in self.jobs.values() if j["jobName"] == name), None)

    def ops(self, op):
        with self.lock:
            return [r for o, r in self.calls if o == op]


class ClientError(Exception):
    pass


class ServerError(Exception):
    pass
