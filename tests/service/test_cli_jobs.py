"""The ccf CLI with jobs that run (a ccfd of the test's own with the local
executor): waiting and its exit codes (3 for a job that FAILED or STOPPED),
following logs, Ctrl-C during a follow, and a 100,000-document put timed
(printed, not asserted).
"""

import hashlib
import json
import re
import signal
import subprocess
import time

import pytest

from ccftest import CONNECTORS, unique_name
from clitest import (  # noqa: F401 - runner: a fixture
    base_env,
    ccf_binary,
    ccf_for,
    create,
    ok,
    runner,
)


def test_job_start_wait_exit_codes(runner):
    ccf, srv = runner
    ok_c = create(ccf, "--", "/bin/sh", "-c", "echo fine")["connector_id"]
    r = ok(ccf("job", "start", ok_c, "--wait", "--output", "json"))
    j = r.json["job"]
    assert j["status"] == "SUCCEEDED" and j["exit_code"] == 0 and j["completed_at"]
    assert f"job {j['job_id']}: SUCCEEDED" in r.err

    bad = create(ccf, "--", "/bin/sh", "-c", "echo failing >&2; exit 3")["connector_id"]
    r = ccf("job", "start", bad, "--wait", "--output", "json")
    assert r.rc == 3, r
    j = r.json["job"]
    assert j["status"] == "FAILED" and j["exit_code"] == 3
    assert "FAILED, exit code 3" in r.err
    # job wait on an ended job answers at once with the same outcome.
    w = ccf("job", "wait", bad, j["job_id"], "--output", "json")
    assert w.rc == 3 and w.json["job"]["job_id"] == j["job_id"]

    # Stopped: exit 3 as well.
    slow = create(ccf, "--", "/bin/sh", "-c", "sleep 30")["connector_id"]
    j = ok(ccf("job", "start", slow, "--output", "json")).json["job"]
    ok(ccf("job", "stop", slow, j["job_id"]))
    w = ccf("job", "wait", slow, j["job_id"], "--output", "json")
    assert w.rc == 3 and w.json["job"]["status"] == "STOPPED", w

    # Several jobs, then a filtered list paged two at a time (three query
    # parameters, which a signed request must send sorted).
    for _ in range(5):
        ok(ccf("job", "start", ok_c, "--wait"))
    listed = ok(ccf("job", "list", ok_c, "--status", "SUCCEEDED", "--page-size", "2",
                    "--output", "json")).json["jobs"]
    assert len(listed) == 6 and all(x["status"] == "SUCCEEDED" for x in listed)
    assert listed == sorted(listed, key=lambda x: x["created_at"], reverse=True)


def test_job_logs_follow(runner):
    ccf, srv = runner
    script = "for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done; echo done >&2"
    cid = create(ccf, "--", "/bin/sh", "-c", script)["connector_id"]
    j = ok(ccf("job", "start", cid, "--output", "json")).json["job"]
    r = ok(ccf("job", "logs", cid, j["job_id"], "--follow"))
    assert r.out == "line1\nline2\nline3\nline4\nline5\ndone\n", r
    assert srv.client.get_job(cid, j["job_id"])["status"] == "SUCCEEDED"
    # After the end: the whole log, or its tail.
    assert ok(ccf("job", "logs", cid, j["job_id"])).out == r.out
    assert ok(ccf("job", "logs", cid, j["job_id"], "--tail", "5")).out == "done\n"
    assert ok(ccf("job", "logs", cid, j["job_id"], "--offset", "6")).out == r.out[6:]

    # start --follow: the output, then the outcome as the exit status.
    fail = create(ccf, "--", "/bin/sh", "-c", "echo before; sleep 0.3; echo after; exit 4")
    r = ccf("job", "start", fail["connector_id"], "--follow")
    assert r.rc == 3 and r.out == "before\nafter\n", r
    assert "exit code 4" in r.err


def test_large_log_in_chunks(runner):
    ccf, srv = runner
    # 3 MiB of output: more than one logs answer (1 MiB each).
    cid = create(ccf, "--", "/bin/sh", "-c",
                 "i=0; while [ $i -lt 3072 ]; do printf '%01023d\\n' $i; i=$((i+1)); done")
    r = ccf("job", "start", cid["connector_id"], "--follow")
    assert r.rc == 0 and len(r.out) == 3 * 1024 * 1024, (r.rc, len(r.out), r.err)
    jid = srv.client.list_page(f"{CONNECTORS}/{cid['connector_id']}/jobs", "jobs")[0][0]["job_id"]
    assert ok(ccf("job", "logs", cid["connector_id"], jid)).out == r.out


# ---------------------------------------------------------------- timing

def test_document_put_100000_timing(ccfd_factory, tmp_path, capsys):
    """Measures (does not assert) a 100,000-document put against a local ccfd."""
    srv = ccfd_factory()
    ccf = ccf_for(srv, tmp_path)
    cid = create(ccf, "--command", "/bin/true")["connector_id"]
    f = tmp_path / "100k.tsv"
    with open(f, "w") as out:
        for i in range(100000):
            out.write(f"docs/file-{i:06d}.txt\t{hashlib.sha256(str(i).encode()).hexdigest()}\n")
    t0 = time.monotonic()
    r = ok(ccf("document", "put", cid, "--file", str(f), "--output", "json"))
    elapsed = time.monotonic() - t0
    assert r.json == {"put": 100000, "batches": 100}
    t0 = time.monotonic()
    listed = ok(ccf("document", "list", cid, "--output", "json")).json["documents"]
    list_elapsed = time.monotonic() - t0
    assert len(listed) == 100000
    with capsys.disabled():
        print(f"\n[timing] ccf document put, 100,000 documents (100 batches, --synchronous OFF): "
              f"{elapsed:.2f} s ({100000 / elapsed:,.0f} documents/s); "
              f"ccf document list of them: {list_elapsed:.2f} s")


# ---------------------------------------------------------------- Ctrl-C

def test_ctrl_c_during_follow_says_how_to_stop_the_job(runner, tmp_path):
    """Regression: Ctrl-C during `job start --follow` killed ccf and left the
    job running without a word. Now ccf says so, names the stop command and
    exits 130; the job runs on until stopped."""
    ccf, srv = runner
    cid = create(ccf, "--", "/bin/sh", "-c", "echo started; exec sleep 60")["connector_id"]
    env = base_env(f"http://127.0.0.1:{srv.port}")
    env.update(HOME=str(tmp_path), CCF_CREDENTIALS_FILE=str(srv.data_dir / "credentials"))
    p = subprocess.Popen([ccf_binary(), "job", "start", cid, "--follow"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"started\n"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = err.decode()
    assert p.returncode == 130, (p.returncode, out, err)
    # The job's first line can reach ccf before its RUNNING is stored (a
    # slow store: DynamoDB), so ccf may name STARTED, the status it read.
    m = re.search(r"ccf: Interrupted: job (ccj-[0-9a-f]{12}) is left (STARTED|RUNNING), not stopped; "
                  r"stop it with:\n  ccf job stop (cc-[0-9a-f]{12}) (ccj-[0-9a-f]{12})\n$", err)
    assert m and m.group(3) == cid and m.group(1) == m.group(4), err
    jid = m.group(1)
    deadline = time.monotonic() + 20
    while srv.client.get_job(cid, jid)["status"] != "RUNNING":
        assert time.monotonic() < deadline, "the job did not run on after the Ctrl-C"
        time.sleep(0.05)
    # The command it printed works.
    assert ok(ccf("job", "stop", cid, jid, "--output", "json")).json["job"]["status"] in (
        "STOPPING", "STOPPED")
    w = ccf("job", "wait", cid, jid, "--output", "json")
    assert w.rc == 3 and w.json["job"]["status"] == "STOPPED", w


@pytest.mark.parametrize("cmd", ["events", "audit"])
def test_follow_ends_on_ctrl_c_with_the_cursor(ccfd_factory, tmp_path, cmd):
    """`ccf events --follow` and `ccf audit --follow` (src/cli/cursor.c):
    Ctrl-C ends the read with 130, and the cursor to resume from still goes
    to stderr. events is in a long poll then (the signal takes effect when
    the poll answers), audit between two reads."""
    srv = ccfd_factory()
    cid = srv.client.create_connector(name=unique_name("cli"))["connector_id"]
    srv.client.put_checkpoint(cid, "x")  # an event and an audit record
    env = base_env(f"http://127.0.0.1:{srv.port}")
    env["HOME"] = str(tmp_path)
    env["CCF_CREDENTIALS_FILE"] = str(srv.data_dir / "credentials")
    p = subprocess.Popen([ccf_binary(), cmd, "--follow", "--output", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
                         text=True)
    try:
        first = p.stdout.readline()
        assert json.loads(first)  # reading: past the first page
        p.send_signal(signal.SIGINT)
        srv.client.put_checkpoint(cid, "y")  # answers a long poll now, not in 20 s
        out, err = p.communicate(timeout=60)
        out = first + out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, (p.returncode, out, err)
    assert re.fullmatch(r"next_cursor: \S+\n", err), err
    # It resumes after everything printed: the second put's item, if that
    # came after the last read, and nothing printed already.
    r = ccf_for(srv, tmp_path)(cmd, "--output", "json", "--after", err.split()[1])
    assert r.rc == 0 and len(r.out.splitlines()) <= 1, r
    assert not set(r.out.splitlines()) & set(out.splitlines()), (r, out)
