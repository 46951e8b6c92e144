"""The ccf CLI's schedule and pause options (issue 12) against the session's
ccfd (it runs no jobs): what each option sends, read back through the API's
answer as ccf prints it."""

from clitest import ccf  # noqa: F401  (the fixture)

from ccftest import unique_name


def create(ccf, *opts):
    r = ccf("connector", "create", "--name", unique_name("sched"), "--output", "json", *opts,
            "--", "/bin/true")
    assert r.rc == 0, r
    return r.json["connector"]


def test_create_with_a_schedule_fills_in_its_defaults(ccf):
    c = create(ccf, "--schedule", "cron(30 2 ? * MON-FRI *)", "--timezone", "Europe/Paris")
    assert c["schedule"] == {"expression": "cron(30 2 ? * MON-FRI *)", "timezone": "Europe/Paris",
                             "state": "ENABLED", "catch_up": True}
    assert c["next_run_at"].endswith("Z")
    got = ccf("connector", "get", c["connector_id"], "--output", "json")
    assert got.rc == 0 and got.json["connector"]["schedule"] == c["schedule"], got


def test_update_disables_then_removes_the_schedule(ccf):
    c = create(ccf, "--schedule", "rate(1 hour)", "--no-catch-up")
    assert c["schedule"]["catch_up"] is False and "next_run_at" in c
    r = ccf("connector", "update", c["connector_id"], "--schedule-state", "DISABLED",
            "--output", "json")
    assert r.rc == 0, r
    assert r.json["connector"]["schedule"]["state"] == "DISABLED"
    assert "next_run_at" not in r.json["connector"]
    r = ccf("connector", "update", c["connector_id"], "--no-schedule", "--output", "json")
    assert r.rc == 0, r
    assert "schedule" not in r.json["connector"] and "next_run_at" not in r.json["connector"]


def test_a_bad_expression_is_the_servers_400_naming_the_field(ccf):
    r = ccf("connector", "create", "--name", unique_name("sched"), "--schedule", "rate(0 minutes)",
            "--", "/bin/true")
    assert r.rc == 1, r
    assert "BadRequestException" in r.err and "schedule.expression" in r.err, r


def test_pause_refuses_starts_and_resume_allows_them(ccf):
    cid = create(ccf, "--schedule", "rate(5 minutes)")["connector_id"]
    r = ccf("connector", "pause", cid, "--output", "json")
    assert r.rc == 0 and r.json["connector"]["paused"] is True, r
    assert "next_run_at" not in r.json["connector"]
    r = ccf("job", "start", cid)
    assert r.rc == 1 and "ConflictException" in r.err and "paused" in r.err, r
    r = ccf("connector", "resume", cid, "--output", "json")
    assert r.rc == 0 and "paused" not in r.json["connector"], r
    assert "next_run_at" in r.json["connector"]
    r = ccf("job", "start", cid, "--output", "json")
    assert r.rc == 0 and r.json["job"]["trigger"] == "API", r
