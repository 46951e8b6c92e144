"""Schedules, the scheduler, pause and resume (CONTRACT-OPS.md "Schedules",
"Pause and resume") against real ccfds. The servers run no jobs
(--executor none): a scheduled job stays STARTED and its connector IN_USE,
which is what the skip rule needs, and nothing else is tested here."""

import time
from datetime import datetime, timedelta, timezone

import pytest

from ccftest import CONNECTORS, expect, expect_error, parse_time, props, unique_name
from conftest import TIMEOUT_SCALE


def ts(s):
    return parse_time(s).timestamp()


def at_expr(t):
    return "at(" + datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ")"


def ahead(seconds):
    """A whole second at least `seconds` from now, and its at() expression."""
    due = int(time.time()) + seconds
    return due, at_expr(due)


def create(c, schedule, **extra):
    body = {"name": unique_name(), "container_properties": props(), "schedule": schedule}
    body.update(extra)
    return expect(c.post(CONNECTORS, body), 201).json["connector"]


def jobs_of(c, cid):
    return expect(c.get(f"{CONNECTORS}/{cid}/jobs"), 200).json["jobs"]


def sleep_until(t):
    time.sleep(max(0.0, t - time.time()))


def wait_jobs(c, cid, n, timeout):
    deadline = time.time() + timeout
    while True:
        js = jobs_of(c, cid)
        if len(js) >= n or time.time() > deadline:
            return js
        time.sleep(0.05)


def update(c, cid, body, status=200):
    r = c.put(f"{CONNECTORS}/{cid}", body)
    if status != 200:
        return r
    return expect(r, 200).json["connector"]


def pause(c, cid, body=None):
    return expect(c.post(f"{CONNECTORS}/{cid}/pause", body) if body is not None
                  else c.post(f"{CONNECTORS}/{cid}/pause"), 200).json["connector"]


def resume(c, cid):
    return expect(c.post(f"{CONNECTORS}/{cid}/resume"), 200).json["connector"]


def test_at_fires_once_within_a_second(client):
    due, expr = ahead(3)
    conn = create(client, {"expression": expr})
    cid = conn["connector_id"]
    assert conn["schedule"] == {"expression": expr, "timezone": "UTC", "state": "ENABLED",
                                "catch_up": True}
    assert ts(conn["next_run_at"]) == due
    assert jobs_of(client, cid) == []
    js = wait_jobs(client, cid, 1, due - time.time() + 3 * TIMEOUT_SCALE)
    assert len(js) == 1, js
    job = js[0]
    assert job["trigger"] == "SCHEDULE"
    late = ts(job["created_at"]) - due  # ccfd's latency: a second, stretched under valgrind
    assert 0 <= late < 1.0 * TIMEOUT_SCALE, f"created {late:.3f} s after the due time: {job}"
    time.sleep(1.5)
    assert len(jobs_of(client, cid)) == 1, "an at() schedule runs once"
    got = client.get_connector(cid)
    assert "next_run_at" not in got, "an at() whose time has come has no next time"
    assert got["status"] == "IN_USE" and got["active_job_id"] == job["job_id"]


def test_api_jobs_carry_trigger_api(client):
    cid = client.create_connector()["connector_id"]
    assert client.start_job(cid)["trigger"] == "API"
    assert jobs_of(client, cid)[0]["trigger"] == "API"


def skipped_logged(log, cid):
    return any("schedule.skipped" in line and cid in line for line in log.splitlines())


def test_due_while_in_use_is_skipped(server, client):
    cid = client.create_connector()["connector_id"]
    first = client.start_job(cid)  # the connector is IN_USE from now on (no executor)
    due, expr = ahead(2)
    offset = server.log_size()
    got = update(client, cid, {"schedule": {"expression": expr}})
    assert ts(got["next_run_at"]) == due
    sleep_until(due)
    # The scheduler logs the skip after its transaction commits: once the
    # line is there, the store says what it did.
    deadline = time.monotonic() + 10 * TIMEOUT_SCALE
    while not skipped_logged(server.log_text(offset), cid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert skipped_logged(server.log_text(offset), cid), server.tail(offset)
    js = jobs_of(client, cid)
    assert [j["job_id"] for j in js] == [first["job_id"]], f"the due run was not skipped: {js}"
    assert "next_run_at" not in client.get_connector(cid)


def test_pause_drops_due_runs_and_resume_restores(client):
    due, expr = ahead(3)
    cid = create(client, {"expression": expr})["connector_id"]
    p = pause(client, cid)
    assert p["paused"] is True and "next_run_at" not in p
    assert pause(client, cid)["paused"] is True  # idempotent
    assert client.get_connector(cid)["paused"] is True
    r = client.post(f"{CONNECTORS}/{cid}/jobs")
    expect_error(r, 409, f"Connector {cid} is paused")
    sleep_until(due + 1.5)
    assert jobs_of(client, cid) == [], "a run due while paused must not start"
    r = resume(client, cid)
    assert "paused" not in r and "next_run_at" not in r, "a dropped at() is not caught up"
    time.sleep(1.0)
    assert jobs_of(client, cid) == []
    # resume before the due time: the run is back
    due2, expr2 = ahead(3)
    update(client, cid, {"schedule": {"expression": expr2}})
    pause(client, cid, {})
    r = resume(client, cid)
    assert "paused" not in resume(client, cid)  # idempotent
    assert ts(r["next_run_at"]) == due2
    js = wait_jobs(client, cid, 1, due2 - time.time() + 3 * TIMEOUT_SCALE)
    assert len(js) == 1 and js[0]["trigger"] == "SCHEDULE", js


def test_pause_stop_active_job(client):
    cid = client.create_connector()["connector_id"]
    jid = client.start_job(cid)["job_id"]
    got = pause(client, cid, {"stop_active_job": False})
    assert got["paused"] and client.get_job(cid, jid)["status"] == "STARTED"
    got = pause(client, cid, {"stop_active_job": True})
    assert client.get_job(cid, jid)["status"] == "STOPPING"
    idle = client.create_connector()["connector_id"]
    assert pause(client, idle, {"stop_active_job": True})["paused"] is True  # nothing to stop


@pytest.mark.parametrize("catch_up", [True, False])
def test_catch_up_after_kill(ccfd_factory, catch_up):
    srv = ccfd_factory()
    c = srv.client
    due, expr = ahead(3)
    cid = create(c, {"expression": expr, "catch_up": catch_up})["connector_id"]
    srv.kill()
    sleep_until(due + 1.5)
    c = srv.start().client
    # The missed run is handled in one transaction that starts its job (or
    # not) and clears next_run_at, some time after the start: wait for it.
    deadline = time.monotonic() + 10 * TIMEOUT_SCALE
    while "next_run_at" in c.get_connector(cid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "next_run_at" not in c.get_connector(cid)
    js = jobs_of(c, cid)
    assert len(js) == (1 if catch_up else 0), js
    if catch_up:
        assert js[0]["trigger"] == "SCHEDULE"
    c = srv.restart().client
    time.sleep(1.0)
    assert len(jobs_of(c, cid)) == (1 if catch_up else 0), "a restart must not run it again"


def test_rate_anchor_and_next_run_at_rules(client):
    before = time.time()
    conn = create(client, {"expression": "rate(5 minutes)", "timezone": "Europe/Paris",
                           "environment": [{"name": "MODE", "value": "FULL"}]})
    cid = conn["connector_id"]
    assert conn["schedule"]["environment"] == [{"name": "MODE", "value": "FULL"}]
    nxt = ts(conn["next_run_at"])
    assert before + 300 - 1 <= nxt <= time.time() + 300 + 1
    time.sleep(1.1)
    # environment or catch_up alone does not move the anchor
    got = update(client, cid, {"schedule": {"environment": None, "catch_up": False}})
    assert ts(got["next_run_at"]) == nxt and "environment" not in got["schedule"]
    assert got["schedule"]["catch_up"] is False and got["schedule"]["expression"] == "rate(5 minutes)"
    # nor does an update of something else
    assert ts(update(client, cid, {"description": "desc"})["next_run_at"]) == nxt
    # a new expression does
    t = time.time()
    got = update(client, cid, {"schedule": {"expression": "rate(10 minutes)"}})
    assert t + 600 - 1 <= ts(got["next_run_at"]) <= time.time() + 600 + 1
    # DISABLED: no next time; ENABLED again: anchored at that change
    got = update(client, cid, {"schedule": {"state": "DISABLED"}})
    assert got["schedule"]["state"] == "DISABLED" and "next_run_at" not in got
    time.sleep(1.1)
    t = time.time()
    got = update(client, cid, {"schedule": {"state": "ENABLED"}})
    assert t + 600 - 1 <= ts(got["next_run_at"]) <= time.time() + 600 + 1
    # paused: no next time; resumed: the same anchor
    nxt = ts(got["next_run_at"])
    assert "next_run_at" not in pause(client, cid)
    assert ts(resume(client, cid)["next_run_at"]) == nxt
    # listed with its schedule
    listed = [x for x in client.list_all(CONNECTORS, "connectors", max_results=100)[0]
              if x["connector_id"] == cid]
    assert listed[0]["schedule"]["expression"] == "rate(10 minutes)"
    assert ts(listed[0]["next_run_at"]) == nxt
    # null removes it
    got = update(client, cid, {"schedule": None})
    assert "schedule" not in got and "next_run_at" not in got
    assert "schedule" not in client.get_connector(cid)


def test_cron_next_run_at_in_a_zone(client):
    conn = create(client, {"expression": "cron(0 3 ? * MON-FRI *)", "timezone": "Europe/Paris"})
    nxt = datetime.fromtimestamp(ts(conn["next_run_at"]), timezone.utc)
    paris = nxt.astimezone(timezone(timedelta(hours=1 if nxt.month in (1, 2, 11, 12) else 2)))
    assert paris.minute == 0 and paris.weekday() < 5
    assert nxt > datetime.now(timezone.utc)


@pytest.mark.parametrize("schedule,mentions", [
    ("rate(1 hour)", "schedule"),
    ({"expression": "rate(0 minutes)"}, "schedule.expression"),
    ({"expression": "cron(0 3 * * MON *)"}, "schedule.expression"),
    ({"expression": "every day"}, "schedule.expression"),
    ({}, "schedule.expression"),
    ({"expression": "rate(1 hour)", "timezone": "Mars/Olympus"}, "schedule.timezone"),
    ({"expression": "rate(1 hour)", "timezone": "../../etc/passwd"}, "schedule.timezone"),
    ({"expression": "rate(1 hour)", "state": "ON"}, "schedule.state"),
    ({"expression": "rate(1 hour)", "catch_up": "yes"}, "schedule.catch_up"),
    ({"expression": "rate(1 hour)", "environment": [{"name": "A"}]}, "schedule.environment"),
    ({"expression": "at(2020-01-01T00:00:00)"}, "schedule.expression"),
])
def test_schedule_validation(client, schedule, mentions):
    body = {"name": unique_name(), "container_properties": props(), "schedule": schedule}
    r = expect_error(client.post(CONNECTORS, body), 400)
    assert mentions in r.json["message"], r
    cid = client.create_connector()["connector_id"]
    r = expect_error(client.put(f"{CONNECTORS}/{cid}", {"schedule": schedule}), 400)
    # an empty patch is an empty update; anything else is refused for the same reason
    assert (mentions if schedule != {} else "The update is empty") in r.json["message"], r
    assert "schedule" not in client.get_connector(cid)


def test_past_at_only_refused_when_set(client):
    due, expr = ahead(2)
    cid = create(client, {"expression": expr})["connector_id"]
    pause(client, cid)
    sleep_until(due + 1)
    # the at() has passed, but an update that leaves it alone is fine
    assert update(client, cid, {"description": "later"})["schedule"]["expression"] == expr
    assert update(client, cid, {"schedule": {"catch_up": False}})["schedule"]["catch_up"] is False
    r = update(client, cid, {"schedule": {"expression": expr, "timezone": "Asia/Tokyo"}}, status=400)
    expect_error(r, 400)


def test_pause_validation_and_missing(client):
    cid = client.create_connector()["connector_id"]
    r = client.post(f"{CONNECTORS}/{cid}/pause", {"stop_active_job": "yes"})
    expect_error(r, 400, "stop_active_job must be true or false")
    r = client.post(f"{CONNECTORS}/{cid}/pause", [1])
    expect_error(r, 400)
    expect_error(client.post(f"{CONNECTORS}/cc-0123456789ab/pause"), 404)
    expect_error(client.post(f"{CONNECTORS}/cc-0123456789ab/resume"), 404)
    r = client.get(f"{CONNECTORS}/{cid}/pause")
    expect_error(r, 405)
    assert "paused" not in client.get_connector(cid)


def connector_events(c, cid):
    """Every event of connector cid, oldest first (GET /api/v1/events)."""
    out, after = [], None
    while True:
        b = expect(c.get("/api/v1/events" + (f"?after={after}" if after else "")), 200).json
        out.extend(e for e in b["events"] if e["connector_id"] == cid)
        if not b["events"]:
            return out
        after = b["next_cursor"]


def test_fired_and_skipped_runs_are_events(client):
    """schedule.fired (with its job) and schedule.skipped (with why) are in
    the event stream on every store, after the job's own job.started."""
    due, expr = ahead(2)
    cid = create(client, {"expression": expr})["connector_id"]
    js = wait_jobs(client, cid, 1, due - time.time() + 5 * TIMEOUT_SCALE)
    assert len(js) == 1, js
    jid = js[0]["job_id"]
    due2, expr2 = ahead(2)
    update(client, cid, {"schedule": {"expression": expr2}})  # IN_USE: skipped when due
    deadline = due2 + 10 * TIMEOUT_SCALE
    while True:
        evs = [e for e in connector_events(client, cid) if e["type"].startswith("schedule.")]
        if len(evs) == 2 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert [e["type"] for e in evs] == ["schedule.fired", "schedule.skipped"], evs
    fired, skipped = evs
    assert fired["job_id"] == jid and fired["detail"]["job_id"] == jid
    assert ts(fired["detail"]["due_at"]) == due
    assert ts(skipped["detail"]["due_at"]) == due2 and "job_id" not in skipped["detail"]
    assert skipped["detail"]["reason"] == "the connector is IN_USE"
    types = [e["type"] for e in connector_events(client, cid)]
    assert types.index("job.started") < types.index("schedule.fired"), types
