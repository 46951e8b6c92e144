"""Retries (CONTRACT-OPS.md "Retries"): several attempts inside one job,
against ccfds of their own that run real processes, on each backend. Waits are measured
from the attempts' own recorded times."""

import datetime
import time

from ccftest import CONNECTORS, parse_time
from conftest import TIMEOUT_SCALE
from test_job_runs import TERMINAL, jobs_server, logs, sh, wait_job
# Every test here runs once per backend (local, podman, slurm), as test_job_runs.py's.
from test_job_runs import backend, ccfd_factory  # noqa: F401

# Counts its runs in $HOME, which the job keeps from attempt to attempt.
COUNTER = 'n=$(cat "$HOME/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$HOME/n"; echo "run $n"; '


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)


def retrying(script, strategy, **kw):
    p = sh(script, **kw)
    p["retry_strategy"] = strategy
    return p


def wait_attempt(c, cid, jid, n, timeout=20.0):
    """Polls until attempt n has ended and the job waits for the next one."""
    deadline = time.monotonic() + timeout * TIMEOUT_SCALE  # a deadline: it stretches
    while True:
        job = c.get_job(cid, jid)
        if "next_attempt_at" in job and job.get("attempt") == n:
            return job
        assert job["status"] not in TERMINAL, job
        assert time.monotonic() < deadline, job
        time.sleep(0.02)


def test_75_twice_then_0_succeeds_after_three_attempts_with_backoff(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    strategy = {"attempts": 3, "evaluate_on_exit": [{"on_exit_code": "75", "action": "RETRY"}],
                "backoff": {"initial_seconds": 1, "multiplier": 2}}
    cid = c.create_connector(
        container_properties=retrying(COUNTER + '[ "$n" -ge 3 ] && exit 0; exit 75', strategy)
    )["connector_id"]
    jid = c.start_job(cid)["job_id"]
    waiting = wait_attempt(c, cid, jid, 1)
    assert waiting["status"] == "STARTED" and waiting["attempts"][0]["exit_code"] == 75, waiting
    assert "exit_code" not in waiting, waiting  # the job's outcome is not known yet
    assert c.get_connector(cid)["status"] == "IN_USE"
    waits = [waiting, wait_attempt(c, cid, jid, 2)]
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=30)
    assert job["status"] == "SUCCEEDED" and job["exit_code"] == 0, job
    assert job["attempt"] == 3 and "next_attempt_at" not in job, job
    assert [a["attempt"] for a in job["attempts"]] == [1, 2, 3], job
    assert [a["exit_code"] for a in job["attempts"]] == [75, 75, 0], job
    assert job["attempts"][0]["reason"] == "exited with code 75", job
    assert "reason" not in job["attempts"][2], job
    assert job["started_at"] == job["attempts"][0]["started_at"], job
    # The backoff, exactly: ±10 % jitter around 1 s then 2 s, added to the
    # moment the orchestrator handled the attempt's end, which lies between
    # the end the supervisor recorded (completed_at) and the transition's
    # write (updated_at, the store's clock read after it): so the stored
    # next_attempt_at is at least 0.9 x base after the one and at most 1.1 x
    # base after the other, however long the machine took to notice the end.
    # The next attempt starts then, not before, and soon after: how soon is
    # the machine's (a supervisor, container or Slurm step started: 1.6 s
    # was seen on Slurm beside CI's other lane, 0.5 s on podman).
    late = 5.0 * TIMEOUT_SCALE
    for i, (base, w) in enumerate(zip((1.0, 2.0), waits)):
        ended = parse_time(w["attempts"][i]["completed_at"])
        written = parse_time(w["updated_at"])
        due = parse_time(w["next_attempt_at"])
        assert (due - ended).total_seconds() >= 0.9 * base, w
        assert (due - written).total_seconds() <= 1.1 * base, w
        started = parse_time(job["attempts"][i + 1]["started_at"])
        assert 0 <= (started - due).total_seconds() < late, (w, job)
    for i in (1, 2, 3):
        r = logs(c, cid, jid, attempt=i)
        assert r.status == 200 and r.body.decode() == f"run {i}\n", (i, r)
    assert logs(c, cid, jid).body == b"run 3\n"  # the latest by default
    assert logs(c, cid, jid).header("x-ccf-job-attempt") == "3"


def test_an_exit_rule_ends_at_the_first_failure(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    strategy = {"attempts": 5, "evaluate_on_exit": [
        {"on_exit_code": "75", "action": "RETRY"}, {"on_exit_code": "*", "action": "EXIT"}],
        "backoff": {"initial_seconds": 0}}
    cid = c.create_connector(container_properties=retrying(COUNTER + "exit 3", strategy))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL)
    assert job["status"] == "FAILED" and job["exit_code"] == 3, job
    assert job["attempt"] == 1 and len(job["attempts"]) == 1, job


def test_no_matching_rule_retries_until_attempts_run_out(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    strategy = {"attempts": 3, "backoff": {"initial_seconds": 0}}
    cid = c.create_connector(container_properties=retrying(COUNTER + "exit 4", strategy))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL)
    assert job["status"] == "FAILED" and job["exit_code"] == 4, job
    assert [a["exit_code"] for a in job["attempts"]] == [4, 4, 4], job


def test_stop_during_the_wait_ends_stopped_at_once(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    strategy = {"attempts": 3, "backoff": {"initial_seconds": 600}}
    cid = c.create_connector(container_properties=retrying("exit 75", strategy))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    waiting = wait_attempt(c, cid, jid, 1)
    due = parse_time(waiting["next_attempt_at"])
    left = (due - parse_time(waiting["attempts"][0]["completed_at"])).total_seconds()
    assert 540 <= left <= 660, waiting
    t0 = time.monotonic()
    assert c.stop_job(cid, jid) is not None
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=5)
    # Against the 600 s wait: ccfd's own latency, stretched under valgrind.
    assert time.monotonic() - t0 < 2 * TIMEOUT_SCALE, "a stop during the wait must not wait for anything"
    assert job["status"] == "STOPPED" and job["exit_code"] == 75, job
    assert job["attempt"] == 1 and "next_attempt_at" not in job, job
    assert c.get_connector(cid)["status"] == "AVAILABLE"


def test_timeout_counts_per_attempt_and_a_reason_rule_retries_it(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    strategy = {"attempts": 2, "evaluate_on_exit": [
        {"on_reason": "timed out*", "action": "RETRY"}, {"on_exit_code": "*", "action": "EXIT"}],
        "backoff": {"initial_seconds": 0}}
    # Attempt 1 outlives its timeout; attempt 2 finishes in time. 4 s, not 1:
    # a container or a Slurm step on a loaded machine takes a second or more
    # to start, which a 1 s timeout counts (attempt 2 then timed out too).
    script = COUNTER + '[ "$n" -ge 2 ] && exit 0; sleep 30'
    cid = c.create_connector(container_properties=retrying(script, strategy, timeout=4))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=40)
    assert job["status"] == "SUCCEEDED", job
    assert job["attempts"][0]["reason"] == "timed out after 4 s", job
    assert job["attempts"][1]["exit_code"] == 0, job


def test_logs_attempt_parameter_is_checked(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector(container_properties=sh("echo hi"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL)
    # Without a strategy a job still carries its one attempt.
    assert job["attempt"] == 1 and len(job["attempts"]) == 1, job
    assert logs(c, cid, jid, attempt=1).body == b"hi\n"
    for bad in ("0", "-1", "x", "1.5", ""):
        r = logs(c, cid, jid, attempt=bad)
        assert r.status == 400 and "attempt" in r.json["message"], (bad, r)
    r = logs(c, cid, jid, attempt=2)
    assert r.status == 404 and r.json["errorType"] == "ResourceNotFoundException", r


def test_retry_strategy_is_validated_stored_and_merged(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector(container_properties=sh("true"))["connector_id"]
    full = c.get(f"{CONNECTORS}/{cid}").json["connector"]
    assert "retry_strategy" not in full["container_properties"], full
    for bad, field in (({"attempts": 11}, "attempts"), ({"attempts": "3"}, "attempts"),
                       ({"evaluate_on_exit": [{"action": "RETRY"}]}, "evaluate_on_exit"),
                       ({"backoff": {"multiplier": 0.5}}, "multiplier"), ([], "retry_strategy")):
        r = c.put(f"{CONNECTORS}/{cid}", {"container_properties": {"retry_strategy": bad}},
                  check=False)
        assert r.status == 400 and field in r.json["message"], (bad, r)
    r = c.put(f"{CONNECTORS}/{cid}", {"container_properties": {"retry_strategy": {"attempts": 4}}})
    got = c.get(f"{CONNECTORS}/{cid}").json["connector"]["container_properties"]["retry_strategy"]
    assert got == {"attempts": 4, "evaluate_on_exit": [],
                   "backoff": {"initial_seconds": 10, "multiplier": 2, "max_seconds": 3600}}, got
    c.put(f"{CONNECTORS}/{cid}", {"container_properties": {"retry_strategy": {"backoff": {"multiplier": 1.5}}}})
    got = c.get(f"{CONNECTORS}/{cid}").json["connector"]["container_properties"]["retry_strategy"]
    assert got["attempts"] == 4 and got["backoff"]["multiplier"] == 1.5, got
    c.put(f"{CONNECTORS}/{cid}", {"container_properties": {"retry_strategy": None}})
    got = c.get(f"{CONNECTORS}/{cid}").json["connector"]["container_properties"]
    assert "retry_strategy" not in got, got


def test_kill_9_during_the_wait_resumes_it_at_its_stored_time(ccfd_factory):
    s = jobs_server(ccfd_factory)
    c = s.client
    # The wait must outlast ccfd's restart and its first submit, or the
    # two cases below overlap: plain, 8 s; under valgrind the restart alone
    # took 12-23 s in CI, so the wait stretches (up to 40 s).
    backoff = int(8 * min(max(TIMEOUT_SCALE, 1), 5))
    strategy = {"attempts": 3, "backoff": {"initial_seconds": backoff}}
    cid = c.create_connector(
        container_properties=retrying(COUNTER + '[ "$n" -ge 2 ] && exit 0; exit 75', strategy)
    )["connector_id"]
    jid = c.start_job(cid)["job_id"]
    waiting = wait_attempt(c, cid, jid, 1)
    due = parse_time(waiting["next_attempt_at"])
    # Killed with about 4 s of the wait left: a ccfd that began the wait
    # again at its recovery would start attempt 2 at the kill's time plus
    # 0.9 x backoff at the earliest (less the jitter), past due; one that
    # resumes it starts it at due, or at its restart, plus its latency.
    time.sleep(max(0.0, (due - now_utc()).total_seconds() - 4))
    killed_at = now_utc()
    s.kill()
    s.start()
    c = s.client
    again = c.get_job(cid, jid)
    assert again["status"] == "STARTED" and again["next_attempt_at"] == waiting["next_attempt_at"], again
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=30 + backoff)
    assert job["status"] == "SUCCEEDED", job
    assert [a["exit_code"] for a in job["attempts"]] == [75, 0], job
    started = parse_time(job["attempts"][1]["started_at"])
    assert started >= due, (waiting, job)
    assert started < killed_at + datetime.timedelta(seconds=0.9 * backoff), (killed_at, waiting, job)
    assert logs(c, cid, jid, attempt=1).body == b"run 1\n"


def test_kill_9_during_attempts_keeps_every_attempt(ccfd_factory):
    s = jobs_server(ccfd_factory)
    c = s.client
    strategy = {"attempts": 3, "backoff": {"initial_seconds": 0}}
    # Each attempt announces itself, then runs long enough to be killed under.
    script = COUNTER + 'touch "$HOME/started.$n"; sleep 1.5; [ "$n" -ge 3 ] && exit 0; exit 75'
    cid = c.create_connector(container_properties=retrying(script, strategy))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    home = s.data_dir / "jobs" / jid / "work"
    for n in (1, 2):
        deadline = time.monotonic() + 20
        while not (home / f"started.{n}").exists():
            assert time.monotonic() < deadline, f"attempt {n} never started"
            time.sleep(0.02)
        s.kill()  # ccfd only: the attempt runs on under its supervisor
        s.start()
        c = s.client
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=30)
    assert job["status"] == "SUCCEEDED", job
    assert [a["exit_code"] for a in job["attempts"]] == [75, 75, 0], job
    assert [a["attempt"] for a in job["attempts"]] == [1, 2, 3], job
    for i in (1, 2, 3):
        assert logs(c, cid, jid, attempt=i).body == f"run {i}\n".encode(), i
