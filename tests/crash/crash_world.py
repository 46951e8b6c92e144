"""The crash test's world (run.py drives it): what the workload believes
the store holds (World, its connectors, jobs and cut-off writes), the ccfd
under test (Ccfd: started, SIGKILLed and restarted on one data directory),
every answer this process got (ANSWERED, for the audit check) and Broken,
raised when an invariant does not hold."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "service"))

import ccftest  # noqa: E402
import dynstore  # noqa: E402
import pgstore  # noqa: E402
from ccftest import ACCOUNT_ID, REGION, Client  # noqa: E402

# Requests are signed (SigV4) by ccftest.Client when it can sign; a ccfd
# whose tests cannot sign yet runs with --auth none.
SIGNING = hasattr(ccftest, "write_credentials")

WORKERS = 3
CONNECTORS_PER_WORKER = 4
DOC_POOL = [f"doc-{i:03d}" for i in range(240)] + [f"\u00e9t\u00e9-{i}/\U0001f600" for i in range(60)]
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
# Each job learns its outcome from its environment; the log line lets a
# human match a job to what it was told.
# Retries (issue 12): a job exits 75 (retried by RETRY_STRATEGY) until its
# run number, counted in its HOME (kept across attempts), reaches UNTIL.
JOB_COMMAND = ["/bin/sh", "-c", 'n=$(cat "$HOME/runs" 2>/dev/null || echo 0); n=$((n+1)); '
               'echo $n > "$HOME/runs"; echo "code=$CODE sleep=$SLEEP run=$n"; sleep "$SLEEP"; '
               '[ "$n" -lt "${UNTIL:-1}" ] && exit 75; exit "$CODE"']
RETRY_STRATEGY = {"attempts": 3, "evaluate_on_exit": [{"on_exit_code": "75", "action": "RETRY"},
                                                      {"on_exit_code": "*", "action": "EXIT"}],
                  "backoff": {"initial_seconds": 1, "multiplier": 1}}
CUT_OFF = (ConnectionError, http.client.HTTPException, socket.timeout, OSError)

# Every answer any client of this process got: request id -> (method,
# status), for the audit check (jobs' own requests are not in it).
ANSWERED = {}
ANSWERED_LOCK = threading.Lock()
_request = ccftest.Client.request


def _answered_request(self, method, target, *a, **kw):
    r = _request(self, method, target, *a, **kw)
    rid = r.header("x-amzn-RequestId")
    if rid:
        with ANSWERED_LOCK:
            ANSWERED[rid] = (method, r.status)
    return r


ccftest.Client.request = _answered_request


class Broken(Exception):
    """An invariant does not hold."""


def check(cond, msg):
    if not cond:
        raise Broken(msg)


# ---------------------------------------------------------------- the model


class Job:
    def __init__(self, jid, code, sleep):
        self.id = jid
        self.code = code
        self.sleep = sleep
        self.stop = "no"  # "yes": a stop was accepted (202, or cut off but applied)
        self.ended = None  # (status, exit_code) once seen ended


class Conn:
    """A connector as its acknowledged writes left it."""

    def __init__(self, cid, name, description, timeout, owner):
        self.id = cid
        self.name = name
        self.description = description
        self.timeout = timeout
        self.owner = owner
        self.docs = {}
        self.checkpoint = None
        self.jobs = {}
        self.cp_version = 0  # the acknowledged checkpoint version (0: none)
        self.tokens = {}  # client_token -> (job id, request body) of acknowledged starts


class Pending:
    """The one write per worker whose answer the kill cut off."""

    def __init__(self, kind, conn=None, **kw):
        self.kind = kind
        self.conn = conn
        self.__dict__.update(kw)


class World:
    def __init__(self, seed):
        self.seed = seed
        self.conns = {}
        self.pending = []
        self.lock = threading.Lock()
        self.counter = 0
        self.stats = {"acked": 0, "cut_off": 0, "applied": 0, "not_applied": 0, "indistinct": 0, "jobs": 0,
                      "batches": 0, "ended": {}, "partly": 0}
        self.deleted_cut = set()  # connectors whose cut-off delete was applied
        self.recovery = {"finish": set(), "release": set()}  # dynamodb: what the next start owes
        self.unlanded = set()  # dynamodb: (job, status) of change records a reader may finish

    def next(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def owned(self, w):
        with self.lock:
            return [c for c in self.conns.values() if c.owner == w]


# --------------------------------------------------------------- the server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ccfd:
    def __init__(self, binary, data, log):
        self.binary = binary
        self.data = data
        self.log = log
        self.proc = None
        self.port = None
        self.extra = []  # more flags (tests/crash/replicas.py: runner-lost-after)

    def auth_args(self):
        """With signed requests, the test account's key goes in ccfd's
        default credentials file; without, --auth none if ccfd has SigV4."""
        if SIGNING:
            self.data.mkdir(parents=True, exist_ok=True)
            ccftest.write_credentials(self.data / "credentials", [ACCOUNT_ID])
            return []
        out = subprocess.run([self.binary, "--help"], capture_output=True, text=True).stdout
        return ["--auth", "none"] if "--auth" in out else []

    def start(self):
        auth = self.auth_args()
        for attempt in range(3):
            # The same port again when it is free: running jobs call back
            # the endpoint they were given.
            self.port = self.port if attempt == 0 and self.port else free_port()
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [self.binary, "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data),
                     "--region", REGION, "--account-id", ACCOUNT_ID, "--synchronous", "FULL",
                     "--stop-grace", "1", "--cpu-budget", "1000", "--memory-budget", "1048576",
                     "--log-level", "warn", "--webhook-allow-private",
                     "--webhook-retry-base-ms", "20", *auth, *pgstore.store_args(self.data),
                     *dynstore.store_args(self.data), *self.extra],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env={**os.environ, **dynstore.env()})
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    c.request("GET", "/healthz")
                    ok = c.getresponse().status == 200
                    c.close()
                    if ok:
                        return
                except OSError:
                    pass
                time.sleep(0.01)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise Broken("ccfd did not become ready within 20 s of a restart")
        raise Broken(f"ccfd exited with status {self.proc.returncode} during start-up")

    def client(self):
        return Client(self.port, timeout=30,
                      arn_prefix=f"arn:aws:ccf:{REGION}:{ACCOUNT_ID}:custom-connector/")

    def kill(self):
        check(self.proc.poll() is None,
              f"ccfd died by itself (status {self.proc.returncode}) before the kill")
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def abandon(self):
        """After a failure: no ccfd of ours may outlive the test."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Broken("ccfd did not exit within 60 s of SIGTERM")
        check(rc == 0, f"ccfd exited with status {rc} after SIGTERM")
