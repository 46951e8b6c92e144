"""One ccfd per data directory (CONTRACT-OPS "Transport and operation"):
a second ccfd on the same directory exits at once, non-zero, naming the
holder's pid; the kernel drops the lock when the holder dies, so a restart
after kill -9 is never blocked, not even by the job supervisors that outlive
ccfd. `ccfd credentials` still works beside a live ccfd."""

import re
import subprocess
import time

from conftest import ccfd_binary, free_port
from ccftest import ACCOUNT_ID
from test_job_runs import jobs_server, sh, wait_job


def second_ccfd(data_dir, timeout=10):
    """Runs another ccfd on data_dir; returns (exit status, output, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run([ccfd_binary(), "--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(data_dir),
                        "--executor", "none"], stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)
    return p.returncode, (p.stdout + p.stderr).decode("utf-8", "replace"), time.monotonic() - t0


def test_second_ccfd_exits_naming_the_holder_while_the_first_serves(ccfd_factory):
    first = ccfd_factory()
    cid = first.client.create_connector()["connector_id"]
    rc, out, took = second_ccfd(first.data_dir)
    assert rc == 1, out
    assert re.search(rf"\bholder_pid={first.proc.pid}\b", out), out
    assert "event=ccfd.data_dir_locked" in out, out
    assert "listening" not in out, out
    print(f"second ccfd refused in {took * 1000:.0f} ms")
    # The first one never noticed.
    assert first.client.get_connector(cid)["status"] == "AVAILABLE"
    assert (first.data_dir / "ccfd.lock").read_text().strip() == str(first.proc.pid)


def test_restart_after_kill_9_is_not_blocked(ccfd_factory):
    first = ccfd_factory()
    cid = first.client.create_connector()["connector_id"]
    first.kill()
    again = ccfd_factory(data_dir=first.data_dir)  # fails the test if it cannot start
    assert again.client.get_connector(cid)["connector_id"] == cid
    rc, out, _ = second_ccfd(first.data_dir)
    assert rc == 1 and f"holder_pid={again.proc.pid}" in out, out


def test_restart_after_kill_9_while_a_job_runs(ccfd_factory):
    """The job's supervisor outlives ccfd: it must not hold the lock."""
    s = jobs_server(ccfd_factory)
    c = s.client
    cid = c.create_connector(container_properties=sh("sleep 300"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    wait_job(c, cid, jid, {"RUNNING"})
    s.kill()
    again = jobs_server(ccfd_factory, data_dir=s.data_dir)
    job = again.client.get_job(cid, jid)
    assert job["status"] == "RUNNING", job  # re-adopted, not lost
    again.client.stop_job(cid, jid)
    wait_job(again.client, cid, jid, {"STOPPED"})


def test_credentials_tool_runs_beside_a_live_ccfd(ccfd_factory):
    s = ccfd_factory()
    p = subprocess.run([ccfd_binary(), "credentials", "list", "--data-dir", str(s.data_dir)],
                       capture_output=True, timeout=10)
    assert p.returncode == 0, p.stderr
    assert ACCOUNT_ID in p.stdout.decode()


def test_a_clean_stop_leaves_no_pid_behind(ccfd_factory):
    s = ccfd_factory()
    s.stop()
    assert (s.data_dir / "ccfd.lock").read_text() == ""
