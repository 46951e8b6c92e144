"""kill -9 of ccfd while jobs start and run, on whichever store the suite
runs (written for DynamoDB, issue 18, where a job write and its change
record are separate calls: docs/DECISIONS.md "The change log"). Every
acknowledged start becomes a job that runs exactly once and ends, its
connector is freed, and the events show each job started once and ended
once, in order."""

import time

from test_job_runs import TERMINAL, jobs_server, sh, wait_job
from test_events import read_all

ROUNDS = 2
PER_ROUND = 6


def test_kill9_while_jobs_start_and_run_loses_none_and_runs_none_twice(ccfd_factory, tmp_path):
    runs = tmp_path / "runs"
    srv = jobs_server(ccfd_factory)
    acked = []
    for _ in range(ROUNDS):
        c = srv.client
        cids = [c.create_connector(container_properties=sh(f'echo "$CUSTOM_CONNECTOR_JOB_ID" >> {runs}; sleep 0.5'))[
            "connector_id"] for _ in range(PER_ROUND)]
        for i, cid in enumerate(cids):
            acked.append((cid, c.start_job(cid)["job_id"]))
            if i == PER_ROUND // 2:
                time.sleep(0.3)  # some are running by the kill, some just started
        srv.kill()
        srv.start()
    c = srv.client
    for cid, jid in acked:
        job, _ = wait_job(c, cid, jid, TERMINAL, timeout=60)
        assert job["status"] == "SUCCEEDED", job
        assert c.get_connector(cid)["status"] == "AVAILABLE"
    lines = runs.read_text().split()
    assert sorted(lines) == sorted(jid for _, jid in acked), "each job ran exactly once"
    events, _ = read_all(c)
    for cid, jid in acked:
        mine = [e["type"] for e in events if e.get("job_id") == jid]
        assert mine.count("job.started") == 1, (jid, mine)
        assert mine[0] == "job.started" and mine[-1] == "job.succeeded", (jid, mine)
        assert mine.count("job.succeeded") == 1, (jid, mine)
    seqs = [e["event_id"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
