"""Fixtures: a real ccfd on loopback.

`server` / `client`: one ccfd for the whole session (most tests; each test
makes its own connectors). `ccfd_factory`: start, stop, kill and restart
ccfds on data directories of the test's own (restart and exact-count tests).

Each data directory gets a credentials file with a key for each test account
(ccftest.write_credentials) before its ccfd starts; clients sign with the key
of the server's account. Every ccfd runs with its stdout and stderr in a
file; when a test fails, the new part of each server's log is printed.
Stopping a server sends SIGTERM and requires exit status 0 and no sanitizer
report (under `make asan` a leak makes the exit status non-zero).
"""

import http.client
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from ccftest import (ACCOUNT_ID, OTHER_ACCOUNT_ID, REGION, Client, Ids, account_key, endpoint_client,
                     write_credentials)

REPO = Path(__file__).resolve().parents[2]
# CCFD_WRAPPER prefixes the ccfd command (make valgrind: "valgrind ..."); such
# a wrapper is slow to start and stop, so CCFD_TIMEOUT_SCALE stretches both.
WRAPPER = shlex.split(os.environ.get("CCFD_WRAPPER", ""))
TIMEOUT_SCALE = float(os.environ.get("CCFD_TIMEOUT_SCALE", "1"))
START_TIMEOUT = 10.0 * TIMEOUT_SCALE
STOP_TIMEOUT = 30.0 * TIMEOUT_SCALE
SANITIZER_MARKS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",
    "WARNING: ThreadSanitizer",
)


def ccfd_binary():
    path = os.environ.get("CCFD") or str(REPO / "build" / "ccfd")
    if not os.access(path, os.X_OK):
        pytest.fail(f"ccfd binary not found or not executable: {path} (build it, or set CCFD)")
    return path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_store_args(data_dir):
    """With CCF_TEST_PG_ADMIN (a libpq URI of a database to connect to, on a
    PostgreSQL the tests may create databases in: scripts/pg-cluster.sh's
    CCF_TEST_PG_URL), each ccfd gets a fresh database of its own there, once
    per data directory, so that its restarts find their data: the service
    tests against the PostgreSQL store (issue 15; make test-postgres). Without it:
    none, SQLite."""
    admin = os.environ.get("CCF_TEST_PG_ADMIN")
    if not admin:
        return []
    marker = Path(data_dir) / ".pg-database"
    if marker.exists():
        name = marker.read_text().strip()
    else:
        name = "svc_" + os.urandom(6).hex()
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", admin, "-c", f"CREATE DATABASE {name}"],
                       check=True, capture_output=True, timeout=30)
        marker.write_text(name)
    url = admin.rsplit("/", 1)[0] + "/" + name
    return ["--store", url]


def sqlite_only(why):
    """Marks a test of SQLite's own file (the data directory's ccf.db, its
    locks, its file system, `ccfd backup` of it): skipped, with its reason
    in the report, when the service tests run on PostgreSQL
    (CCF_TEST_PG_ADMIN) or DynamoDB (CCF_TEST_DYNAMO_ENDPOINT), where ccfd
    keeps no database file at all."""
    return pytest.mark.skipif(bool(os.environ.get("CCF_TEST_PG_ADMIN") or
                                   os.environ.get("CCF_TEST_DYNAMO_ENDPOINT")),
                              reason=f"tests SQLite's file ({why}); ccfd on PostgreSQL or "
                                     "DynamoDB has none")


def dynamo_store_args(data_dir):
    """With CCF_TEST_DYNAMO_ENDPOINT (a DynamoDB endpoint such as
    scripts/dynalite.sh's), each ccfd gets a table prefix of its own there,
    once per data directory, so that its restarts find their data: the
    service tests against the experimental DynamoDB store (issue 18).
    Without it: none."""
    endpoint = os.environ.get("CCF_TEST_DYNAMO_ENDPOINT")
    if not endpoint:
        return []
    marker = Path(data_dir) / ".dynamo-prefix"
    if marker.exists():
        prefix = marker.read_text().strip()
    else:
        prefix = "svc-" + os.urandom(6).hex()
        marker.write_text(prefix)
    return ["--store", f"dynamodb://{prefix}?region=us-east-1&endpoint={endpoint}",
            "--store-experimental"]


def store_env():
    """The DynamoDB store signs its requests with the environment's keys;
    dynalite checks that they are signed, not by whom."""
    if not os.environ.get("CCF_TEST_DYNAMO_ENDPOINT"):
        return {}
    return {"AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "AKIDSERVICETESTS"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "service-tests")}


class Server:
    instances = []

    def __init__(self, data_dir, log_path, cwd, region=REGION, account_id=ACCOUNT_ID, extra_args=(),
                 ssl_context=None):
        self.extra_args = list(extra_args)
        self.ssl_context = ssl_context  # an ssl.SSLContext for a ccfd given --tls-cert
        self.region = region
        self.account_id = account_id
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.cwd = Path(cwd)
        self.proc = None
        self.port = None
        self.client = None
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        self.store_args = pg_store_args(self.data_dir) or dynamo_store_args(self.data_dir)
        Server.instances.append(self)

    def log_text(self, offset=0):
        with open(self.log_path, "rb") as f:
            f.seek(offset)
            return f.read().decode("utf-8", "replace")

    def log_size(self):
        return self.log_path.stat().st_size

    def tail(self, offset=0, lines=120):
        text = self.log_text(offset).splitlines()
        cut = "" if len(text) <= lines else f"... ({len(text) - lines} lines before)\n"
        return cut + "\n".join(text[-lines:])

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        assert not self.running
        binary = ccfd_binary()
        # ccfd's default credentials file: a key for each test account.
        write_credentials(self.data_dir / "credentials", sorted({ACCOUNT_ID, OTHER_ACCOUNT_ID, self.account_id}))
        for attempt in range(3):
            self.port = free_port()
            offset = self.log_size()
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(
                    [
                        *WRAPPER,
                        binary,
                        "--listen", f"127.0.0.1:{self.port}",
                        "--data-dir", str(self.data_dir),
                        "--region", self.region,
                        "--account-id", self.account_id,
                        "--synchronous", "OFF",
                        *self.store_args,
                        *self.extra_args,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    cwd=self.cwd,
                    # ccfd reads CCF_ variables (CCF_DATA_DIR...): a test's
                    # server gets only its flags, whatever the shell exports.
                    env={**{k: v for k, v in os.environ.items() if not k.startswith("CCF_")},
                         **store_env()},
                )
            if self._wait_ready():
                prefix = f"arn:aws:ccf:{self.region}:{self.account_id}:custom-connector/"
                self.client = Client(self.port, ids=Ids(), arn_prefix=prefix, region=self.region,
                                     credentials=account_key(self.account_id),
                                     ssl_context=self.ssl_context)
                return self
            rc = self.proc.poll()
            text = self.log_text(offset)
            if rc is not None and "in use" in text and attempt < 2:
                continue  # lost the race for the port
            if rc is None:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(
                    f"ccfd did not answer GET /healthz 200 within {START_TIMEOUT}s; log:\n"
                    + self.tail(offset)
                )
            pytest.fail(f"ccfd exited with status {rc} during start-up; log:\n" + self.tail(offset))

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if self.ssl_context is not None:
                    c = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=2,
                                                    context=self.ssl_context)
                else:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.02)
        return False

    def stop(self, sig=signal.SIGTERM):
        """Stops the server; with SIGTERM, asserts a clean exit (status 0,
        no sanitizer report). Returns the exit status."""
        if self.client is not None:
            self.client.close()
        if self.proc is None or self.proc.poll() is not None:
            rc = None if self.proc is None else self.proc.returncode
            if sig == signal.SIGTERM and rc is not None:
                pytest.fail(f"ccfd had already exited with status {rc}; log:\n" + self.tail())
            return rc
        offset_hint = max(0, self.log_size() - 200000)
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"ccfd did not exit within {STOP_TIMEOUT}s of {sig!r}; log:\n" + self.tail())
        if sig == signal.SIGTERM:
            text = self.log_text(offset_hint)
            marks = [m for m in SANITIZER_MARKS if m in text]
            if marks:
                first = min(text.index(m) for m in marks)
                report = "\n".join(text[first:].splitlines()[:200])
                pytest.fail(f"ccfd exited with status {rc} after SIGTERM and a sanitizer report:\n{report}")
            if rc != 0:
                pytest.fail(f"ccfd exited with status {rc} after SIGTERM; log:\n" + self.tail(offset_hint, lines=200))
        return rc

    def kill(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    d = tmp_path_factory.mktemp("ccfd-session")
    # The API tests check what the API records: this server runs no jobs, so
    # a job stays STARTED (or STOPPING) as the API left it. Jobs that run are
    # tested in test_job_runs.py on servers of their own.
    s = Server(d / "data", d / "ccfd.log", d, extra_args=["--executor", "none"])
    s.start()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def client(request):
    """The session server's client, or with --integ the deployment's."""
    if request.config.getoption("--integ"):
        return request.config._ccf_integ_client
    return request.getfixturevalue("server").client


# make integ (--integ): the black-box tests, those that need nothing but an
# endpoint and one account's credentials, against CCF_ENDPOINT with the
# AWS_* credentials, as the original framework's `make integ` does against a
# deployed API. A test that starts, reads or restarts a ccfd of its own (one
# of these fixtures) or signs as a second tenant cannot run there.
INTEG_MODULES = {
    "test_connectors", "test_jobs", "test_documents", "test_checkpoint", "test_pagination",
    "test_validation", "test_query", "test_hostile", "test_http", "test_auth", "test_auth_jobs",
    "test_auth_file",
}
LOCAL_FIXTURES = {"server", "ccfd_factory"}
# Tests that need a job to stay as the API left it (STARTED, its connector
# IN_USE), as on the session server (executor none) and on the original's
# deployment (Batch takes longer than a test to start a job). Where the
# deployment runs jobs, they are deselected, and the run says so.
JOB_STATE_TESTS = {
    "test_wrong_method_is_405_with_allow", "test_bad_job_id_is_404",
    "test_body_with_non_json_type_is_415_on_any_method", "test_dot_segments_are_not_resolved",
    "test_status_filter_percent_encoded", "test_stop_job_of_another_connector_is_404",
    "test_stop_job", "test_stop_accepts_no_body_and_empty_object",
    "test_start_job_puts_connector_in_use", "test_second_start_is_409",
    "test_list_jobs_status_filter", "test_list_jobs_shape", "test_list_jobs_only_of_its_connector",
    "test_get_job", "test_update_while_in_use_is_allowed",
    "test_delete_in_use_is_409_and_keeps_connector", "test_checkpoint_while_in_use",
}


def pytest_addoption(parser):
    parser.addoption("--integ", action="store_true",
                     help="run the black-box tests against CCF_ENDPOINT with the AWS_* "
                          "credentials instead of a ccfd of their own (make integ)")


def pytest_configure(config):
    if config.getoption("--integ") and not os.environ.get("CCF_ENDPOINT"):
        raise pytest.UsageError("--integ needs CCF_ENDPOINT (and AWS_ACCESS_KEY_ID, "
                                "AWS_SECRET_ACCESS_KEY[, AWS_SESSION_TOKEN, AWS_REGION])")


# What cannot pass on the experimental DynamoDB store by design (make
# test-dynamo; docs/DECISIONS.md), by module, module::test or
# module::test[param], with its
# reason: the one place such tests are skipped (SQLite's own file aside:
# sqlite_only). Anything else failing there is a bug.
DYNAMO_SKIP = {
    "test_concurrency::test_concurrent_batches_are_all_or_nothing":
        "a document batch is one write per document, not one transaction (dynalite has none)",
    "test_cli_jobs::test_document_put_100000_timing":
        "100,000 documents are 100,000 single-item writes: longer than its 120 s on dynalite",
    "test_replicas": "replicas share a PostgreSQL store; the DynamoDB store is not shared",
}


def dynamo_skips(items):
    if not os.environ.get("CCF_TEST_DYNAMO_ENDPOINT"):
        return
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        why = (DYNAMO_SKIP.get(f"{module}::{item.name}") or
               DYNAMO_SKIP.get(f"{module}::{item.originalname}") or DYNAMO_SKIP.get(module))
        if why:
            item.add_marker(pytest.mark.skip(reason=f"not on DynamoDB: {why}"))


# make test runs the service tests on several workers (pytest-xdist, the
# Makefile's SERVICE_JOBS, --dist loadgroup). A session fixture is made once
# per worker: the tests of each heavy one (a podman storage with its image
# built, a Slurm cluster) are kept on one worker, a group each, so that each
# is made once, as in a serial run. Their groups go first: they are the
# longest units of work, and started last they would end the run alone.
HEAVY_GROUPS = {"podman_env": "podman", "slurm_cluster": "slurm"}


def heavy_group(item):
    """The group of a test that needs a heavy session fixture, by name or
    by test_job_runs' backend parameter (it asks for the fixture at run time)."""
    spec = getattr(item, "callspec", None)
    backend = spec.params.get("backend") if spec is not None else None
    for fixture, group in HEAVY_GROUPS.items():
        if fixture in item.fixturenames or backend == group:
            return group
    return None


def xdist_groups(config, items):
    if config.getoption("dist", "no") != "loadgroup" and not getattr(config.option, "loadgroup", False):
        return
    grouped = []
    for item in items:
        group = heavy_group(item)
        if group:
            item.add_marker(pytest.mark.xdist_group(group))
            grouped.append(item)
    ids = {id(i) for i in grouped}
    items[:] = grouped + [i for i in items if id(i) not in ids]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    dynamo_skips(items)
    xdist_groups(config, items)
    if not config.getoption("--integ"):
        return
    c = endpoint_client(os.environ["CCF_ENDPOINT"])
    config._ccf_integ_client = c
    keep, drop = [], []
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1]
        local = LOCAL_FIXTURES & set(item.fixturenames)
        job_state = c.runs_jobs and item.originalname in JOB_STATE_TESTS
        (drop if local or job_state or module not in INTEG_MODULES else keep).append(item)
    config.hook.pytest_deselected(items=drop)
    items[:] = keep
    print(f"\nmake integ: {os.environ['CCF_ENDPOINT']} as {c.arn_prefix}; "
          f"{'it runs jobs: the tests that need a job left STARTED are deselected' if c.runs_jobs else 'it leaves jobs STARTED'}")


@pytest.fixture
def ccfd_factory(tmp_path):
    """make(data_dir=None, region=..., account_id=..., extra_args=...) -> a
    started Server on its own data directory (or the one given, to restart on
    the same data). By default it runs no jobs (--executor none); job tests
    pass the flags they want instead.
    Servers still running at the end are stopped with SIGTERM and must exit
    cleanly."""
    made = []

    def make(data_dir=None, region=REGION, account_id=ACCOUNT_ID, extra_args=("--executor", "none"),
             ssl_context=None):
        n = len(made)
        s = Server(data_dir or tmp_path / f"data{n}", tmp_path / f"ccfd{n}.log", tmp_path, region, account_id,
                   extra_args, ssl_context)
        made.append(s)
        return s.start()

    yield make
    failures = []
    for s in made:
        if s.running:
            try:
                s.stop()
            except BaseException as e:  # pytest.fail raises a BaseException
                failures.append(str(e))
    if failures:
        pytest.fail("\n".join(failures))


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture(autouse=True)
def _server_log_on_failure(request):
    """Prints what each ccfd logged during a failed test."""
    offsets = {id(s): s.log_size() for s in Server.instances}
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is None or not rep.failed:
        return
    for s in Server.instances:
        off = offsets.get(id(s), 0)
        if s.log_size() > off:
            print(f"\n----- ccfd log ({s.log_path}, port {s.port}) -----")
            print(s.tail(off))


@pytest.fixture(scope="session")
def podman_env():
    """A throw-away podman configuration (scripts/podman-env.sh): its own
    storage and containers.conf, and the test image built locally. Yields
    the variables ccfd needs; removes every container and the storage at
    the end. Skips only where this machine cannot run podman."""
    import shutil
    import subprocess

    if not shutil.which("podman") or not shutil.which("runc"):
        pytest.skip("podman and runc are not installed (scripts/deps.sh installs them)")
    script = Path(__file__).resolve().parents[2] / "scripts" / "podman-env.sh"
    # A short directory of its own, not under pytest's: podman's sockets
    # under its runroot outgrow a socket path's 108 bytes from a deeper
    # directory (pytest-xdist's popen-gwN/), and then each `podman run`
    # waits ~20 s past its container's exit (every podman test failed so).
    d = Path(tempfile.mkdtemp(prefix="ccf-podman-", dir="/tmp"))
    out = subprocess.run([str(script), str(d)], capture_output=True, text=True, timeout=300)
    if out.returncode != 0:
        subprocess.run([str(script), "--stop", str(d)], capture_output=True, timeout=300)
        pytest.fail(f"podman-env.sh failed: {out.stderr}")
    env = dict(line.split("=", 1) for line in out.stdout.split() if "=" in line)
    yield env
    subprocess.run([str(script), "--stop", str(d)], capture_output=True, timeout=300)


# ---- job backends (test_job_runs.backend runs its tests on each) ----

SLURM_CLUSTER = REPO / "scripts" / "slurm-cluster.sh"


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """A one-node Slurm cluster on 127.0.0.1 for the whole session
    (scripts/slurm-cluster.sh: munged, slurmctld, slurmd, stopped by their
    pidfiles); yields its slurm.conf. Skipped, with the reason, only where
    this machine cannot run one (not root, or slurm-wlm/munge missing)."""
    check = subprocess.run([str(SLURM_CLUSTER), "check"], capture_output=True, text=True)
    if check.returncode != 0:
        pytest.skip(f"no Slurm cluster here: {check.stdout.strip() or check.stderr.strip()}")
    d = tmp_path_factory.mktemp("slurm")
    r = subprocess.run([str(SLURM_CLUSTER), "start", str(d)], capture_output=True, text=True,
                       timeout=120)
    if r.returncode != 0:
        subprocess.run([str(SLURM_CLUSTER), "stop", str(d)], timeout=60)
        pytest.fail(f"the Slurm cluster did not start: {r.stderr.strip()}")
    yield d / "slurm.conf"
    subprocess.run([str(SLURM_CLUSTER), "stop", str(d)], timeout=60, check=True)

