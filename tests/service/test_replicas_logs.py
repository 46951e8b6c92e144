"""What a replica answers for work another one does (issue 15): a job's
logs read through any replica (shipped into PostgreSQL by the replica that
runs the job, store.h "What one replica shares"), the same bytes, offsets
and attempts as where it ran; and TestWebhook's ping taken by a follower,
delivered once by the leader's deliverer. Three replicas on a throw-away
PostgreSQL, as test_replicas.py."""
import time
from pathlib import Path

import pytest

from ccftest import CONNECTORS
from test_job_runs import logs
from test_replicas import (_OK, _WHY, FAILOVER_S, LOST_S, TERMINAL, start_jobs, wait_leader, wait_runs,
                           wait_status)
from test_replicas import cluster, replicas  # noqa: F401 (fixtures)
from webhook_receiver import Receiver

pytestmark = pytest.mark.skipif(not _OK, reason=f"no throw-away PostgreSQL here: {_WHY}")

HOOKS = "/api/v1/webhooks"
# ~4 s of output with a NUL and a line without its newline at the end.
WRITER = ('for i in $(seq 1 40); do printf "line %03d %s\\n" $i '
          '"$(head -c 200 /dev/zero | tr "\\0" x)"; sleep 0.1; done; printf "end\\000bin"')


def answers(servers, cid, jid, **params):
    """The logs operation's answer from every replica: (status, body, size
    header) each."""
    out = []
    for s in servers:
        r = logs(s.client, cid, jid, **params)
        assert r.status == 200, r
        out.append((r.body, r.header("x-ccf-log-size"), r.header("x-ccf-job-attempt")))
    return out


def follow(c, cid, jid):
    """Follows the log through one replica as a client would (offset by
    offset until the job ended and nothing is left); returns the bytes and
    whether any came while the job still ran."""
    got, off, while_running = b"", 0, False
    deadline = time.monotonic() + 60
    while True:
        r = logs(c, cid, jid, offset=off)
        assert r.status == 200, r
        assert int(r.header("x-ccf-log-size")) >= off + len(r.body)
        got += r.body
        off += len(r.body)
        status = r.header("x-ccf-job-status")
        while_running = while_running or (status == "RUNNING" and r.body != b"")
        if status in TERMINAL and r.body == b"":
            return got, while_running
        assert time.monotonic() < deadline, "the log never ended"
        time.sleep(0.2)


def test_logs_through_any_replica_while_running_and_after(replicas):
    servers = replicas(3)
    leader = wait_leader(servers)
    followers = [s for s in servers if s is not leader]
    c = followers[0].client
    cid = c.create_connector(container_properties={"command": ["/bin/sh", "-c", WRITER]})["connector_id"]
    jid = c.start_job(cid)["job_id"]
    wait_status(c, cid, jid, {"RUNNING"})
    followed, while_running = follow(followers[1].client, cid, jid)
    assert while_running, "a follower served the log while the job ran"
    job = wait_status(c, cid, jid, TERMINAL)
    assert job["status"] == "SUCCEEDED", job
    # After the end: every replica answers the same bytes as where it ran.
    whole = answers(servers, cid, jid)
    assert len({a for a in whole}) == 1, whole
    body = whole[0][0]
    assert followed == body and body.endswith(b"end\x00bin") and body.count(b"\n") == 40
    assert whole[0][1] == str(len(body))
    for params in ({"offset": 4, "limit": 10}, {"offset": -7}, {"offset": len(body)},
                   {"offset": 250, "limit": 300}):
        got = answers(servers, cid, jid, **params)
        assert len({a for a in got}) == 1, (params, got)
    assert answers(servers[:1], cid, jid, offset=-7)[0][0] == b"end\x00bin"[-7:]


def test_logs_of_jobs_run_on_every_replica(replicas, tmp_path):
    """Jobs run on every replica (one slot each): each job's log, shipped
    by the replica that ran it, is read the same through every replica,
    the leader's and the followers' alike."""
    servers = replicas(3, extra=("--max-jobs", "1"))
    leader = wait_leader(servers)
    marker = tmp_path / "where"
    who = ('echo "$CUSTOM_CONNECTOR_JOB_ID $HOME" >> "$MARKER"; echo "ran in $HOME"; '
           'for i in $(seq 1 20); do echo "line $i of $CUSTOM_CONNECTOR_JOB_ID"; sleep 0.1; done')
    jobs = start_jobs(leader.client, marker, 3, 0, props={"command": ["/bin/sh", "-c", who]})
    where = wait_runs(marker, [j for _, j in jobs])
    for cid, jid in jobs:
        job = wait_status(leader.client, cid, jid, TERMINAL, timeout=60)
        assert job["status"] == "SUCCEEDED", job
    assert len({w[0] for w in where.values()}) == 3, f"one job per replica: {where}"
    for cid, jid in jobs:
        got = answers(servers, cid, jid)
        assert len(set(got)) == 1, (where[jid], got)
        body = got[0][0].decode()
        home = body.split("\n")[0].removeprefix("ran in ")
        assert where[jid][0] in Path(home).parts, (where[jid], body)  # the runner's own bytes
        assert body.count(f"of {jid}") == 20, body


def test_quick_jobs_logs_through_every_replica(replicas):
    """Jobs that end at once: the executor's end can come before the
    runner records RUNNING, and the flush at that end must still ship the
    attempt, so that every replica reads it once the job has ended."""
    servers = replicas(3, extra=("--max-jobs", "2"))
    wait_leader(servers)
    jobs = []
    for i in range(8):
        c = servers[i % 3].client
        cid = c.create_connector(container_properties={"command": ["/bin/sh", "-c", 'echo "quick $CUSTOM_CONNECTOR_JOB_ID"']})["connector_id"]
        jobs.append((cid, c.start_job(cid)["job_id"]))
    for cid, jid in jobs:
        job = wait_status(servers[0].client, cid, jid, TERMINAL, timeout=60)
        assert job["status"] == "SUCCEEDED" and job["attempt"] == 1, job
        got = answers(servers, cid, jid)
        assert {a[0] for a in got} == {f"quick {jid}\n".encode()}, got


def test_log_of_a_lost_runners_attempt_read_through_the_survivors(replicas, tmp_path):
    """kill -9 of the replica running a job: what it shipped of attempt 1
    before it died stays readable through the survivors (the log that
    matters most), and attempt 2, run on a survivor after "runner lost",
    is read whole through each of them."""
    servers = replicas(3, extra=("--runner-lost-after", str(LOST_S), "--max-jobs", "1"))
    wait_leader(servers)
    marker = tmp_path / "lost"
    script = ('echo "$CUSTOM_CONNECTOR_JOB_ID $HOME" >> "$MARKER"; '
              'if [ "$(grep -c "$CUSTOM_CONNECTOR_JOB_ID" "$MARKER")" -gt 1 ]; then echo "attempt two"; exit 0; fi; '
              'for i in $(seq 1 120); do printf "line %03d\\n" $i; sleep 0.1; done')
    props = {"command": ["/bin/sh", "-c", script],
             "retry_strategy": {"attempts": 2, "evaluate_on_exit": [{"on_reason": "runner lost", "action": "RETRY"}],
                                "backoff": {"initial_seconds": 1, "multiplier": 1, "max_seconds": 1}}}
    (cid, jid), = start_jobs(servers[0].client, marker, 1, 0, props=props)
    ran = wait_runs(marker, [jid])[jid]
    runner = next(s for s in servers if s.name == ran[0])
    survivors = [s for s in servers if s is not runner]
    # Shipped while it runs: a survivor reads lines before the kill.
    deadline = time.monotonic() + 30
    while logs(survivors[0].client, cid, jid, attempt=1).body.count(b"\n") < 5:
        assert time.monotonic() < deadline, "nothing shipped from the runner"
        time.sleep(0.2)
    runner.kill()
    job = wait_status(survivors[0].client, cid, jid, TERMINAL, timeout=FAILOVER_S + LOST_S + 30)
    assert job["status"] == "SUCCEEDED" and job["attempt"] == 2, job
    assert job["attempts"][0]["reason"] == "runner lost", job
    # The survivor that ran attempt 2 holds the job's directory, not attempt 1.
    first = {logs(s.client, cid, jid, attempt=1).body for s in survivors}
    assert len(first) == 1, first
    lines = first.pop().decode().splitlines()
    assert len(lines) >= 5 and lines == [f"line {i:03d}" for i in range(1, len(lines) + 1)], lines
    for s in survivors:
        r = logs(s.client, cid, jid)
        assert r.body == b"attempt two\n" and r.header("x-ccf-job-attempt") == "2", r


def test_attempts_through_any_replica(replicas):
    servers = replicas(3)
    wait_leader(servers)
    c = servers[1].client
    counter = ('n=$(cat "$HOME/n" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$HOME/n"; '
               'echo "run $n"; [ "$n" -ge 2 ] && exit 0; exit 75')
    props = {"command": ["/bin/sh", "-c", counter],
             "retry_strategy": {"attempts": 2, "evaluate_on_exit": [{"on_exit_code": "75", "action": "RETRY"}],
                                "backoff": {"initial_seconds": 1, "multiplier": 2}}}
    cid = c.create_connector(container_properties=props)["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job = wait_status(c, cid, jid, TERMINAL, timeout=30)
    assert job["status"] == "SUCCEEDED" and job["attempt"] == 2, job
    for s in servers:
        sc = s.client
        assert logs(sc, cid, jid, attempt=1).body == b"run 1\n"
        assert logs(sc, cid, jid, attempt=2).body == b"run 2\n"
        r = logs(sc, cid, jid)
        assert r.body == b"run 2\n" and r.header("x-ccf-job-attempt") == "2", r
        assert logs(sc, cid, jid, attempt=3).status == 404


def test_ping_through_a_follower_is_delivered_once(replicas):
    servers = replicas(3, extra=("--webhook-allow-private",))
    leader = wait_leader(servers)
    followers = [s for s in servers if s is not leader]
    rcv = Receiver()
    try:
        r = followers[0].client.post(HOOKS, {"url": rcv.url, "event_types": ["job.failed"]}, check=False)
        assert r.status == 201, r
        wid = r.json["webhook"]["webhook_id"]
        for s in followers + [leader]:
            assert s.client.post(f"{HOOKS}/{wid}/test", check=False).status == 202
        evs = rcv.wait_for(lambda evs: len(evs) >= 3, timeout=20)
        time.sleep(2)  # room for a duplicate to show
        evs = rcv.events()
        assert [e["type"] for e in evs] == ["ping"] * 3, evs
        assert len({e["event_id"] for e in evs}) == 3, evs
        # Pings are outside the event stream: none listed as a delivery.
        assert followers[1].client.get(f"{HOOKS}/{wid}/deliveries").json["deliveries"] == []
    finally:
        rcv.close()
