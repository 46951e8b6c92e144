"""What the ccf CLI's service tests (test_cli*.py) share: ccf run with a
clean environment (no AWS_* or CCF_* variables) in a directory of its own,
so that no ./var/credentials is picked up by chance; when the server's data
directory has a credentials file (once ccfd authenticates), ccf is pointed
at it and signs. Its result, and the checks of its exit codes and output.

The fixtures (ccf: the session's ccfd, which runs no jobs; runner: a ccfd
of the test's own whose local executor runs them) are imported by the test
modules that use them, as test_auth's boto3_client is.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from ccftest import unique_name
from conftest import REPO, SANITIZER_MARKS, TIMEOUT_SCALE


CONNECTOR_ID_RE = re.compile(r"^cc-[0-9a-f]{12}$")
JOB_ID_RE = re.compile(r"^ccj-[0-9a-f]{12}$")

GROUPS = {
    "connector": ["create", "get", "list", "update", "delete"],
    "job": ["start", "get", "list", "stop", "wait", "logs"],
    "document": ["put", "delete", "list"],
    "checkpoint": ["put", "get", "delete", "versions", "restore"],
}


def ccf_binary():
    path = os.environ.get("CCF_BIN")
    if not path and os.environ.get("CCFD"):
        path = str(Path(os.environ["CCFD"]).parent / "ccf")
    path = path or str(REPO / "build" / "ccf")
    if not os.access(path, os.X_OK):
        pytest.fail(f"ccf binary not found or not executable: {path} (build it, or set CCF_BIN)")
    return path


class Result:
    def __init__(self, args, rc, raw, err):
        self.args, self.rc, self.raw, self.err = args, rc, raw, err
        self.out = raw.decode("utf-8", "replace")

    @property
    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError(f"ccf printed no JSON ({e}): {self}") from None

    def __str__(self):
        out = self.out if len(self.out) < 2000 else self.out[:2000] + "..."
        return f"ccf {' '.join(self.args)} -> {self.rc}\nstdout: {out}\nstderr: {self.err}"


def base_env(endpoint):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CCF_", "CUSTOM_CONNECTOR_"))}
    env["CCF_ENDPOINT"] = endpoint
    return env


def run_ccf(endpoint, *args, cwd, env=None, input=None, timeout=120 * TIMEOUT_SCALE, data_dir=None):
    e = base_env(endpoint)
    e["HOME"] = str(cwd)  # no ~/.aws/credentials of the machine's
    # The server's credentials file (conftest writes it, the server's own
    # account first): ccf signs with its first key, as with ./var/credentials.
    if data_dir is not None and (Path(data_dir) / "credentials").exists():
        e["CCF_CREDENTIALS_FILE"] = str(Path(data_dir) / "credentials")
    e.update(env or {})
    p = subprocess.run([ccf_binary(), *args], cwd=cwd, env=e, input=input, capture_output=True,
                       timeout=timeout)
    r = Result(list(args), p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))
    marks = [m for m in SANITIZER_MARKS if m in r.err]
    assert not marks, f"sanitizer report from ccf: {r}"
    return r


@pytest.fixture
def ccf(server, tmp_path):
    """ccf(*args, ...) against the session's ccfd (it runs no jobs)."""
    def call(*args, **kw):
        return run_ccf(f"http://127.0.0.1:{server.port}", *args, cwd=tmp_path,
                       data_dir=server.data_dir, **kw)
    return call


def ccf_for(srv, cwd):
    def call(*args, **kw):
        return run_ccf(f"http://127.0.0.1:{srv.port}", *args, cwd=cwd, data_dir=srv.data_dir, **kw)
    return call


def ok(r, rc=0):
    assert r.rc == rc, f"expected exit {rc}: {r}"
    return r


def api_error(r, error_type, message=None):
    assert r.rc == 1, f"expected exit 1: {r}"
    assert r.out == "", f"a failed command prints nothing on stdout: {r}"
    line = r.err.strip().splitlines()[-1]
    assert line.startswith(f"ccf: {error_type}: "), f"stderr: {r}"
    if message is not None:
        assert line == f"ccf: {error_type}: {message}", f"stderr: {r}"
    return r


def usage_error(r, mentions=None):
    assert r.rc == 2, f"expected exit 2: {r}"
    assert r.err.startswith("ccf: UsageError: "), f"stderr: {r}"
    if mentions:
        assert mentions in r.err, f"stderr: {r}"
    assert r.out == "", f"usage errors print nothing on stdout: {r}"
    return r


def create(ccf, *extra, name=None):
    r = ok(ccf("connector", "create", "--output", "json", "--name", name or unique_name("cli"),
               *extra))
    c = r.json["connector"]
    assert CONNECTOR_ID_RE.match(c["connector_id"]), r
    return c


@pytest.fixture
def runner(ccfd_factory, tmp_path):
    srv = ccfd_factory(extra_args=[])  # the local executor: jobs run
    return ccf_for(srv, tmp_path), srv
