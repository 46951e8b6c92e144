"""The AWS profile without ccfd's threads (docs/AWS.md, "Schedules on
EventBridge Scheduler"): the bootstrap under the Runtime API stub mirrors
connectors' schedules to the EventBridge Scheduler stub (which checks
SigV4 and botocore's model of every request), starts a scheduled job when
a schedule fires (or skips it while one runs), waits out a retry's backoff
on a one-time schedule whose fire submits the next attempt to the Batch
stub, and sends webhooks from the deliverer it runs."""

import datetime
import json
import sqlite3
import time

import pytest

import batchstub
from batchstub import BatchStub
from ccftest import ACCOUNT_ID, CONNECTORS, props, unique_name
from lambdastub import ApiGatewayClient
from schedstub import SchedulerStub
from test_lambda import QUEUE, Function, state_change, stream_records
from webhook_receiver import Receiver

GROUP = "ccf-test"
NOW = datetime.datetime.now


def utc(offset_s=0):
    return NOW(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)


@pytest.fixture
def sched_fn(tmp_path):
    sched = SchedulerStub()
    f = Function(tmp_path, CCF_WEBHOOK_DRAIN_MS="0", **sched.env(GROUP))
    yield f, sched, ApiGatewayClient(f.stub)
    f.close()
    sched.close()
    assert not sched.problems, f"the Scheduler stub saw wrong requests: {sched.problems}"


def name_of(cid):
    return f"ccf-s-{ACCOUNT_ID}-{cid}"


def test_schedule_set_change_pause_and_delete_are_mirrored(sched_fn):
    fn, sched, api = sched_fn
    c = api.create_connector(schedule={"expression": "cron(0 3 ? * MON-FRI *)",
                                       "timezone": "Europe/Paris"})
    cid, name = c["connector_id"], name_of(c["connector_id"])
    assert len(name) <= 64
    # Update first (404), then create.
    assert [n for n, _ in sched.ops("UpdateSchedule")] == [name]
    ((n, p),) = sched.ops("CreateSchedule")
    assert n == name and p["GroupName"] == GROUP
    assert p["ScheduleExpression"] == "cron(0 3 ? * MON-FRI *)"
    assert p["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert p["FlexibleTimeWindow"] == {"Mode": "OFF"} and p["ActionAfterCompletion"] == "NONE"
    assert "StartDate" not in p  # cron and at count from nothing
    env = sched.env(GROUP)
    assert p["Target"]["Arn"] == env["CCF_SCHEDULER_TARGET_ARN"]
    assert p["Target"]["RoleArn"] == env["CCF_SCHEDULER_ROLE_ARN"]
    fire = sched.fire_input(name, GROUP)
    assert fire["ccf_event"] == "schedule.fire" and fire["connector_id"] == cid
    assert fire["account_id"] == ACCOUNT_ID

    sched.clear()
    api.request("PUT", f"{CONNECTORS}/{cid}", {"schedule": {"expression": "rate(5 minutes)"}})
    ((n, p),) = sched.ops("UpdateSchedule")
    # A rate starts on Scheduler when ccf's next run is (ccf counts from its anchor).
    nxt = api.get_connector(cid)["next_run_at"]
    assert p["StartDate"] == int(datetime.datetime.fromisoformat(
        nxt.replace("Z", "+00:00")).timestamp())
    # A merge patch: the zone set before stays.
    assert p["ScheduleExpression"] == "rate(5 minutes)"
    assert p["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert not sched.ops("CreateSchedule")

    # A change that does not touch the schedule still puts the same one (idempotent).
    sched.clear()
    api.request("PUT", f"{CONNECTORS}/{cid}", {"description": "no schedule change"})
    assert sched.schedules[(GROUP, name)]["ScheduleExpression"] == "rate(5 minutes)"

    sched.clear()
    assert api.request("POST", f"{CONNECTORS}/{cid}/pause").status == 200
    assert [n for n, _ in sched.ops("DeleteSchedule")] == [name]
    assert (GROUP, name) not in sched.schedules
    assert api.request("POST", f"{CONNECTORS}/{cid}/resume").status == 200
    assert (GROUP, name) in sched.schedules

    # Disabled, then removed: no schedule on Scheduler either way.
    api.request("PUT", f"{CONNECTORS}/{cid}",
                {"schedule": {"expression": "rate(5 minutes)", "state": "DISABLED"}})
    assert (GROUP, name) not in sched.schedules
    api.request("PUT", f"{CONNECTORS}/{cid}",
                {"schedule": {"expression": "rate(1 hour)", "state": "ENABLED"}})
    assert sched.schedules[(GROUP, name)]["ScheduleExpression"] == "rate(1 hour)"
    api.request("PUT", f"{CONNECTORS}/{cid}", {"schedule": None})
    assert (GROUP, name) not in sched.schedules

    # Deleting a scheduled connector deletes its schedule.
    api.request("PUT", f"{CONNECTORS}/{cid}", {"schedule": {"expression": "rate(1 hour)"}})
    assert (GROUP, name) in sched.schedules
    assert api.request("DELETE", f"{CONNECTORS}/{cid}").status == 204
    assert (GROUP, name) not in sched.schedules
    # Reads and failed writes call nothing.
    sched.clear()
    api.request("GET", CONNECTORS)
    api.request("PUT", f"{CONNECTORS}/{cid}", {"schedule": {"expression": "rate(0 minutes)"}})
    assert sched.calls == []


def test_a_fire_starts_a_job_and_is_skipped_while_one_runs(sched_fn):
    fn, sched, api = sched_fn
    c = api.create_connector(schedule={"expression": "rate(1 minute)",
                                       "environment": [{"name": "FROM", "value": "schedule"}]})
    cid, name = c["connector_id"], name_of(c["connector_id"])
    due = datetime.datetime.fromisoformat(c["next_run_at"].replace("Z", "+00:00"))
    out = fn.stub.invoke(sched.fire_input(name, GROUP, when=due))
    assert out["result"] == "started", out
    job = api.get_job(cid, out["job_id"])
    assert job["trigger"] == "SCHEDULE" and job["status"] == "STARTED"
    nxt = api.get_connector(cid)["next_run_at"]
    assert nxt > c["next_run_at"]
    # The same fire again (at least once): not due any more, nothing started.
    assert fn.stub.invoke(sched.fire_input(name, GROUP, when=due)) == {"result": "not_due"}
    # The next run while the job has not ended: skipped, and the run moves on.
    due2 = datetime.datetime.fromisoformat(nxt.replace("Z", "+00:00"))
    assert fn.stub.invoke(sched.fire_input(name, GROUP, when=due2)) == {"result": "skipped"}
    assert api.get_connector(cid)["next_run_at"] > nxt
    jobs = api.request("GET", f"{CONNECTORS}/{cid}/jobs").json["jobs"]
    assert len(jobs) == 1


def test_a_stale_fire_puts_the_mirror_right(sched_fn):
    fn, sched, api = sched_fn
    c = api.create_connector(schedule={"expression": "rate(1 hour)"})
    cid, name = c["connector_id"], name_of(c["connector_id"])
    fire = sched.fire_input(name, GROUP)
    # Lost sync: the schedule Scheduler has says every minute.
    sched.schedules[(GROUP, name)]["ScheduleExpression"] = "rate(1 minute)"
    assert fn.stub.invoke(fire) == {"result": "not_due"}
    assert sched.schedules[(GROUP, name)]["ScheduleExpression"] == "rate(1 hour)"
    # Its schedule removed while Scheduler kept it (a sync lost): its fire
    # deletes it; so does a fire for a connector that is gone.
    kept = dict(sched.schedules[(GROUP, name)])
    api.request("PUT", f"{CONNECTORS}/{cid}", {"schedule": None})
    sched.schedules[(GROUP, name)] = kept
    assert fn.stub.invoke(fire) == {"result": "not_due"}
    assert (GROUP, name) not in sched.schedules
    assert api.request("DELETE", f"{CONNECTORS}/{cid}").status == 204
    sched.schedules[(GROUP, name)] = kept
    assert fn.stub.invoke(fire) == {"result": "not_due"}
    assert (GROUP, name) not in sched.schedules


def test_the_tick_fires_what_a_lost_schedule_did_not(sched_fn):
    fn, sched, api = sched_fn
    c = api.create_connector(schedule={"expression": "rate(1 hour)"})
    cid, name = c["connector_id"], name_of(c["connector_id"])
    del sched.schedules[(GROUP, name)]  # lost
    con = sqlite3.connect(fn.db)
    try:
        con.execute("UPDATE connectors SET next_run_at = ? WHERE id = ?",
                    (int(time.time()) - 600, cid))
        con.commit()
    finally:
        con.close()
    assert fn.stub.invoke({"ccf_event": "tick"}) == {"swept": 1}
    jobs = api.request("GET", f"{CONNECTORS}/{cid}/jobs").json["jobs"]
    assert [j["trigger"] for j in jobs] == ["SCHEDULE"]
    assert (GROUP, name) in sched.schedules, "the tick puts the lost schedule back"
    assert fn.stub.invoke({"ccf_event": "tick"}) == {"swept": 0}


@pytest.mark.parametrize("event", [
    {"ccf_event": "schedule.fire"},
    {"ccf_event": "schedule.fire", "region": "us-east-1", "account_id": ACCOUNT_ID,
     "connector_id": "cc-0123456789ab", "scheduled_time": "<aws.scheduler.scheduled-time>"},
    {"ccf_event": "schedule.fire", "region": "us-east-1", "account_id": ACCOUNT_ID,
     "connector_id": "cc-0123456789ab", "scheduled_time": "2026-02-31T00:00:00Z"},
    {"ccf_event": "job.next_attempt", "region": "us-east-1", "account_id": ACCOUNT_ID,
     "connector_id": "cc-0123456789ab", "job_id": "../etc"},
    {"ccf_event": "reboot\u0001"},
    {"ccf_event": "schedule.fire", "region": "eu-west-1", "account_id": ACCOUNT_ID,
     "connector_id": "cc-0123456789ab", "scheduled_time": "2026-12-07T10:00:00Z"},
])
def test_malformed_ccf_events_are_reported(sched_fn, event):
    fn, sched, api = sched_fn
    err, hdrs = fn.stub.invoke_error(json.dumps(event).encode())
    assert err["errorType"] == "MalformedCcfEvent", err
    assert 0 < len(err["errorMessage"]) < 600 and err["errorMessage"].isprintable(), err
    # And it keeps serving.
    assert fn.stub.invoke({"ccf_event": "tick"}) == {"swept": 0}


def test_retry_waits_on_a_one_time_schedule(tmp_path):
    batch = BatchStub()
    # One credential pair in the function's environment (its role's): both take it.
    sched = SchedulerStub(key=(batchstub.KEY_ID, batchstub.SECRET, batchstub.TOKEN))
    fn = Function(tmp_path, CCF_EXECUTOR="batch", CCF_BATCH_JOB_QUEUE=QUEUE, TMPDIR=str(tmp_path),
                  CCF_API_ENDPOINT="https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod/",
                  **{**batch.env(), **sched.env(GROUP)})
    try:
        api = ApiGatewayClient(fn.stub)
        cp = props()
        cp["retry_strategy"] = {"attempts": 2, "backoff": {"initial_seconds": 3}}
        cid = api.create_connector(container_properties=cp)["connector_id"]
        jid = api.start_job(cid, {"environment": [{"name": "STUB_OUTCOME", "value": "exit:1"}]})[
            "job_id"]
        assert fn.stub.invoke({"Records": stream_records(fn.db, jid)}) == {"batchItemFailures": []}
        for _ in range(2):  # RUNNING, then FAILED (exit 1)
            batch.op_describejobs({"jobs": [batch.job_by_name(jid)["jobId"]]})
            fn.stub.invoke(state_change(batch, jid))
        job = api.get_job(cid, jid)
        assert job["status"] == "STARTED" and job["attempt"] == 1, job
        wait = stream_records(fn.db, jid)[-1:]
        assert wait[0]["dynamodb"]["OldImage"]["status"]["S"] == "RUNNING"
        assert fn.stub.invoke({"Records": wait}) == {"batchItemFailures": []}
        name = f"ccf-r-{ACCOUNT_ID}-{jid}"
        ((n, p),) = sched.ops("CreateSchedule")
        assert n == name and p["ActionAfterCompletion"] == "DELETE"
        assert p["ScheduleExpression"].startswith("at(") and p["ScheduleExpressionTimezone"] == "UTC"
        assert len(batch.ops("submitjob")) == 1, "no attempt 2 before its time"
        fire = sched.fire_input(name, GROUP)
        assert fire == {"ccf_event": "job.next_attempt", "region": "us-east-1",
                        "account_id": ACCOUNT_ID, "connector_id": cid, "job_id": jid}
        # Scheduler fires at the at() time: wait for it as Scheduler does.
        at = datetime.datetime.strptime(p["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)")
        while datetime.datetime.utcnow() < at:
            time.sleep(0.2)
        assert fn.stub.invoke(fire) == {}
        subs = batch.ops("submitjob")
        assert len(subs) == 2 and subs[1]["jobName"] == jid, subs
        # Scheduler delivers at least once: the same fire again submits nothing.
        assert fn.stub.invoke(fire) == {}
        assert len(batch.ops("submitjob")) == 2
        assert api.get_job(cid, jid)["attempt"] == 1  # RUNNING only once Batch says so
        with batch.lock:  # attempt 2's Batch job: the newest of that name
            second = [j for j in batch.jobs.values() if j["jobName"] == jid][-1]
        for _ in range(2):  # attempt 2: RUNNING, then FAILED again; no attempt 3
            batch.op_describejobs({"jobs": [second["jobId"]]})
            ev = state_change(batch, jid)
            ev["detail"] = {k: v for k, v in second.items() if not k.startswith("_")}
            fn.stub.invoke(ev)
        job = api.get_job(cid, jid)
        assert job["status"] == "FAILED" and job["attempt"] == 2, job
        assert len(sched.ops("CreateSchedule")) == 1
    finally:
        fn.close()
        batch.close()
        sched.close()
    assert not batch.problems and not sched.problems, (batch.problems, sched.problems)


def test_webhooks_are_delivered_by_the_function(tmp_path):
    rcv = Receiver()
    fn = Function(tmp_path, CCF_WEBHOOK_ALLOW_PRIVATE="1", CCF_WEBHOOK_DRAIN_MS="200")
    try:
        api = ApiGatewayClient(fn.stub)
        r = api.request("POST", "/api/v1/webhooks", {"url": rcv.url})
        assert r.status == 201, r
        cid = api.create_connector(name=unique_name("hook"))["connector_id"]
        assert fn.stub.invoke({"ccf_event": "tick"}) == {"swept": 0}
        evs = rcv.wait_for(lambda e: any(x.get("connector_id") == cid for x in e))
        assert any(x["type"] == "connector.created" for x in evs), evs
    finally:
        fn.close()
        rcv.close()
