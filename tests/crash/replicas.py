#!/usr/bin/env python3
"""Crash consistency with several replicas (issue 15, make crash-replicas):
CRASH_REPLICAS (default 3) ccfd on one throw-away PostgreSQL database
(scripts/with-pg.sh; pgstore.py), run.py's signed mixed workload spread
over all of them (each request of a worker goes to a replica drawn at
random: creates, document batches, checkpoints, updates, job starts and
stops), and in a loop a `kill -9` of, alternately, the current leader (as
/readyz says) and a replica that runs a job (its `jobs.runner` against
DATA_DIR/replica-id), then a restart of the killed one on its own data
directory (the same replica id). Every other runner kill waits past
runner-lost-after (3 s) before the restart, so that its jobs end "runner
lost"; the others restart at once, so that the replica re-adopts its jobs.

Checked after every round, through a client that sends each request (each
page of every listing, too: small pages) to the next replica:
- run.py's invariants: every acknowledged write present, a cut-off write
  wholly applied or wholly not (batches carry their own checksum), nothing
  unasked for, checkpoint versions, client tokens, every job's outcome;
- every job ends with its true outcome, or FAILED "runner lost" only if its
  runner was killed while it had not ended; its attempts are consistent;
- no job ran twice: each run of a job appends its replica's HOME to a file
  of its own in a shared directory; a job has no more runs than attempts
  (one more while not ended: the run can write before RUNNING is recorded),
  and an ended job that exited did run;
- the survivors answer /readyz 200 and exactly one of them leads (within
  30 s, a hang guard: SCALE.md's 10 s is test_replicas.py's); a follower's
  kill leaves the leader where it was; after the restart, exactly one of
  all the replicas leads and all are ready;
- schedules kept firing: a rate(1 minute) connector's schedule.fired and
  schedule.skipped events are its due times, each once, every due time
  more than 30 s old present; at the end each of six at() connectors (due
  during the run) has exactly one SCHEDULE job.
At the end: every job ended, every connector AVAILABLE, each replica exits
0 on SIGTERM, then, with all of them down, the store's IN_USE rule and
every job's events (crash_checks.snapshot_check) and no supervisor left.

Not here (run.py covers them on one ccfd): the audit log's per-process
bookkeeping, jobs writing with their own keys (crash_docstats.py) and
webhook delivery.

CRASH_SEED replays the choices, CRASH_KILLS (default 12) sets the kills.
Exit status 0 when every invariant held, 1 otherwise (data, logs and the
seed kept)."""

import datetime
import http.client
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

# run.py's parts: the model, the workers and the checks. crash_world first:
# it puts tests/service (ccftest) on the path.
import crash_world
from crash_world import Broken, check
import crash_checks
import crash_workload

import ccftest
from ccftest import CONNECTORS
import crash_docstats
import pgstore

LOST_S = 3  # runner-lost-after
LOST = "runner lost"
LEADER_WAIT_S = 30  # a hang guard only; the failover bound is test_replicas.py's
MARKS = None  # the directory of the per-job run files (set by main)


def job_command(marks):
    """run.py's job, counting its runs in a file of the job's own in a
    shared directory instead of its HOME (an attempt may run on another
    replica, with another HOME); each run writes its HOME, so a run twice
    shows, and where."""
    return ["/bin/sh", "-c",
            f'f={marks}/$CUSTOM_CONNECTOR_JOB_ID; echo "$HOME" >> "$f"; n=$(wc -l < "$f"); '
            'echo "code=$CODE sleep=$SLEEP run=$n"; sleep "$SLEEP"; '
            '[ "$n" -lt "${UNTIL:-1}" ] && exit 75; exit "$CODE"']


def ts(s):
    """An RFC 3339 UTC time (with or without its fraction) as Unix seconds."""
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if "." in s else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.datetime.strptime(s, fmt).replace(tzinfo=datetime.timezone.utc).timestamp()


def runs_of(jid):
    f = MARKS / jid
    return f.read_text().splitlines() if f.exists() else []


# ------------------------------------------------------------ the replicas


class Replica(crash_world.Ccfd):
    def __init__(self, binary, work, i):
        super().__init__(binary, work / f"data{i}", work / f"ccfd{i}.log")
        self.i = i
        self.extra = ["--runner-lost-after", str(LOST_S), "--max-jobs", "4"]

    def replica_id(self):
        return (self.data / "replica-id").read_text().strip()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def readyz(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            c.request("GET", "/readyz")
            r = c.getresponse()
            return r.status, json.loads(r.read() or b"{}")
        finally:
            c.close()


def one_leader(replicas, timeout=LEADER_WAIT_S):
    """The one leader among `replicas`, once all are ready and exactly one
    leads; two leaders at any moment is a failure."""
    deadline = time.monotonic() + timeout
    while True:
        ready, leading = True, []
        for r in replicas:
            check(r.alive(), f"replica {r.i} died by itself (status {r.proc.returncode})")
            status, body = r.readyz()
            ready = ready and status == 200
            if status == 200 and body.get("leader"):
                leading.append(r)
        check(len(leading) <= 1, f"replicas {[r.i for r in leading]} all say they lead")
        if ready and len(leading) == 1:
            return leading[0]
        check(time.monotonic() < deadline,
              f"after {timeout} s: ready {ready}, leaders {[r.i for r in leading]}")
        time.sleep(0.05)


class Rotating(ccftest.Client):
    """A client that sends each request to the next replica in turn: a
    listing's pages are asked of different replicas."""

    def __init__(self, replicas):
        self.clients = [r.client() for r in replicas]
        self.n = 0
        self.pages = 0

    def request(self, *a, **kw):
        c = self.clients[self.n % len(self.clients)]
        self.n += 1
        return c.request(*a, **kw)

    def list_page(self, path, key, **params):
        self.pages += 1
        return super().list_page(path, key, **params)

    def close(self):
        for c in self.clients:
            c.close()


def small_pages(client, path, key):
    """crash_checks.list_all with small pages, so that every listing has several,
    each asked of another replica."""
    items, _, _ = client.list_all(path, key, max_results=40 if key == "documents" else 5)
    return items


class SpreadWorker(crash_workload.Worker):
    """run.py's worker; each of its requests goes to a replica drawn at
    random."""

    def __init__(self, world, w, replicas, rng, stop, killed):
        super().__init__(world, w, replicas[0].port, rng, stop, killed)
        self.clients = [r.client() for r in replicas]

    def send(self, pending, method, target, body=None):
        self.client = self.rng.choice(self.clients)
        return super().send(pending, method, target, body)

    def run(self):
        try:
            super().run()
        finally:
            for c in self.clients:
                c.close()


# ------------------------------------------------------------- the checks


class Tally:
    def __init__(self):
        self.exposed = set()  # jobs not ended whose runner was killed
        self.lost = set()  # jobs seen ended "runner lost"
        self.runs = 0
        self.kills = {"leader": 0, "runner": 0, "other": 0}
        self.waited = 0  # runner kills restarted after runner-lost-after
        self.failover = 0.0  # the longest leader kill -> one leader among the survivors
        self.log = []  # the kills, for a failure's report


TALLY = Tally()


def check_attempts(c, j, job):
    """crash_checks.check_attempts for replicas: an attempt may also end "runner
    lost" (then retried or final), and no attempt runs twice."""
    a, st, n = job.get("attempts", []), job["status"], job.get("attempt", 0)
    where = f"job {j.id} of {c.id} ({st}, until={j.until}, stop={j.stop}): {job}"
    check([x["attempt"] for x in a] == list(range(1, n + 1)), f"attempts not 1..{n}: {where}")
    check(n <= (crash_world.RETRY_STRATEGY["attempts"] if c.retry else 1), f"too many attempts: {where}")
    lost = [x for x in a if x.get("reason") == LOST]
    for x in a[:-1]:
        check((x.get("exit_code") == 75 or x.get("reason") == LOST) and "completed_at" in x,
              f"a retried attempt: {where}")
    if st == "RUNNING":
        check(a and "completed_at" not in a[-1], f"RUNNING without an open attempt: {where}")
    if st in crash_world.TERMINAL and a:
        check("completed_at" in a[-1], f"ended with an open attempt: {where}")
        check(job.get("exit_code") == a[-1].get("exit_code"), f"exit code not the last: {where}")
    # A job without a retry strategy (no attempts shown) runs at most once;
    # one with a strategy as many times as it has attempts, one more while
    # its last is not recorded (the run can write its line before RUNNING
    # is recorded, and a stop or a lost runner can come in between).
    ran = runs_of(j.id)
    exited = st in ("SUCCEEDED", "FAILED") and job.get("failure_reason") != LOST
    most = 1 if not c.retry else n if exited else n + 1
    check(len(ran) <= max(most, 1),
          f"ran {len(ran)} times ({ran}) in {n} attempts: an attempt ran twice: {where}")
    if (job.get("failure_reason") == LOST or lost) and j.id not in TALLY.exposed:
        runner = TALLY.db.execute("SELECT runner FROM jobs WHERE id = ?", (j.id,))
        raise Broken(f"'runner lost' but no runner of it was killed (runner {runner}, "
                     f"replicas {TALLY.ids}): {where}")
    if job.get("failure_reason") == LOST:
        TALLY.lost.add(j.id)
    elif st in ("SUCCEEDED", "FAILED") and j.stop != "yes":
        check(ran and job.get("exit_code") == j.code, f"outcome (ran {len(ran)} times): {where}")
        # Without a lost attempt, each attempt is one run: exit 75 until UNTIL.
        check(lost or len(ran) == max(n, 1) == j.until, f"outcome (ran {len(ran)} times): {where}")


_true_outcome = crash_checks.true_outcome


def true_outcome(j, job):
    if job["status"] == "FAILED" and job.get("failure_reason") == LOST:
        return j.id in TALLY.exposed
    return _true_outcome(j, job)


def expose(db, victim):
    """The jobs of the killed replica not ended: they may end "runner lost"."""
    rid = victim.replica_id()
    TALLY.exposed |= {r[0] for r in db.execute(
        "SELECT id FROM jobs WHERE runner = ? AND status < 3", (rid,))}


# ------------------------------------------------------------- schedules


class Schedules:
    """A rate(1 minute) connector and six at() ones (catch_up, the
    default), made before the workload, named so that run.py's checks
    leave them alone."""

    PREFIX = "rsched-"

    def __init__(self, client):
        cmd = {"command": ["/bin/true"]}
        r = client.post(CONNECTORS, {"name": self.PREFIX + "rate", "container_properties": cmd,
                                     "schedule": {"expression": "rate(1 minute)"}})
        check(r.status == 201, f"create the rate schedule: {r}")
        self.rate = r.json["connector"]["connector_id"]
        self.first = ts(r.json["connector"]["next_run_at"])
        self.at = []
        base = int(time.time())
        for i in range(6):
            due = base + 15 + 10 * i  # within 12 rounds
            at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due))
            r = client.post(CONNECTORS, {"name": f"{self.PREFIX}at-{i}", "container_properties": cmd,
                                         "schedule": {"expression": f"at({at})"}})
            check(r.status == 201, f"create an at() schedule: {r}")
            self.at.append((r.json["connector"]["connector_id"], due))
        self.fired = 0

    @classmethod
    def owns(cls, summary):
        return summary["name"].startswith(cls.PREFIX)

    def check_rate(self, client, at_least=0):
        """Its due times, each once; none more than 30 s old missing. With
        at_least, first waits (up to 30 s past its due time) for that many."""
        due = self.first + 60 * (at_least - 1) + 30
        while at_least and self.rate_events(client) < at_least and time.time() < due:
            time.sleep(0.5)
        got, after = [], None
        while True:
            r = client.get(f"/api/v1/events?connector_id={self.rate}&max_results=1000"
                           "&types=schedule.fired,schedule.skipped" + (f"&after={after}" if after else ""))
            check(r.status == 200, f"read the rate schedule's events: {r}")
            got += [ts(e["detail"]["due_at"]) for e in r.json["events"]]
            after = r.json["next_cursor"]
            if not r.json["events"]:
                break
        now = time.time()
        check(len(got) == len(set(got)), f"rate(1 minute): a due time fired twice: {got}")
        want = [self.first + 60 * k for k in range(len(got))]
        check(sorted(got) == want, f"rate(1 minute): due times {got}, wanted {want}")
        check(not got or got[-1] <= now + 1, f"rate(1 minute): fired before its time: {got}")
        check(self.first + 60 * len(got) > now - 30,
              f"rate(1 minute): {len(got)} runs from {self.first}, the next due more than 30 s ago")
        jobs = [j for j in crash_checks.list_all(client, f"{CONNECTORS}/{self.rate}/jobs", "jobs")]
        check(all(j["trigger"] == "SCHEDULE" for j in jobs), f"rate: a job no schedule started: {jobs}")
        check(len(jobs) <= len(got), f"rate: {len(jobs)} jobs for {len(got)} due times")
        check(len(got) >= at_least, f"rate(1 minute): {len(got)} runs, wanted {at_least} by now")
        self.fired = len(got)

    def rate_events(self, client):
        r = client.get(f"/api/v1/events?connector_id={self.rate}&max_results=1000"
                       "&types=schedule.fired,schedule.skipped")
        check(r.status == 200, f"read the rate schedule's events: {r}")
        return len(r.json["events"])

    def check_at(self, client):
        """Exactly one SCHEDULE job each, once every due time is 30 s old."""
        wait = max(due for _, due in self.at) + 30 - time.time()
        if wait > 0:
            time.sleep(wait)
        for cid, due in self.at:
            jobs = crash_checks.list_all(client, f"{CONNECTORS}/{cid}/jobs", "jobs")
            check(len(jobs) == 1 and jobs[0]["trigger"] == "SCHEDULE",
                  f"{cid}: at() due {due}: jobs {jobs}")
            check(jobs[0]["status"] == "SUCCEEDED"
                  or (jobs[0].get("failure_reason") == LOST and jobs[0]["job_id"] in TALLY.exposed),
                  f"{cid}: at() job {jobs[0]}")
            got = client.get_connector(cid)
            check("next_run_at" not in got, f"{cid}: the at() still has a next run: {got}")


# ----------------------------------------------------------------- the loop


def running_victim(db, replicas):
    """A replica that runs a job now (RUNNING, by jobs.runner), or None."""
    ids = {r.replica_id(): r for r in replicas}
    busy = [ids[row[0]] for row in db.execute(
        "SELECT runner FROM jobs WHERE status = 1 AND runner IS NOT NULL") if row[0] in ids]
    return busy[0] if busy else None


def round_(k, world, replicas, rng, db, sched):
    stop, killed = threading.Event(), threading.Event()
    workers = [SpreadWorker(world, w, replicas, random.Random(rng.getrandbits(64)), stop, killed)
               for w in range(crash_world.WORKERS)]
    for w in workers:
        w.start()
    time.sleep(rng.uniform(1.5, 4.0))
    leader = one_leader(replicas)
    if k % 2 == 0:
        victim, why = leader, "leader"
    else:
        victim = running_victim(db, replicas)
        why = "runner" if victim is not None else "other"
        victim = victim or rng.choice(replicas)
    TALLY.kills[why] += 1
    expose(db, victim)  # its jobs now, then those assigned until its session's end showed
    killed.set()
    t_kill = time.monotonic()
    victim.kill()
    expose(db, victim)
    TALLY.log.append(f"round {k}: kill -9 of replica {victim.i} ({why}) at "
                     f"{datetime.datetime.now(datetime.timezone.utc):%H:%M:%S.%f}")
    stop.set()
    for w in workers:
        w.join(60)
        check(not w.is_alive(), f"worker {w.w} hung after the kill")
        if w.error is not None:
            raise w.error
    survivors = [r for r in replicas if r is not victim]
    now = one_leader(survivors)
    if victim is leader:  # a figure, not a check (test_replicas.py bounds it)
        TALLY.failover = max(TALLY.failover, time.monotonic() - t_kill)
    check(victim is leader or now is leader,
          f"a follower's kill (replica {victim.i}) moved the leadership from {leader.i} to {now.i}")
    if why == "runner" and TALLY.kills["runner"] % 2 == 0:
        time.sleep(LOST_S + 1.5)  # past runner-lost-after: its jobs end "runner lost"
        TALLY.waited += 1
    expose(db, victim)
    victim.start()
    one_leader(replicas)
    client = Rotating(replicas)
    try:
        crash_checks.verify(world, client)
        sched.check_rate(client)
    finally:
        client.close()
    return client.pages


def run_replicas(seed, kills, replicas, work):
    rng = random.Random(seed)
    world = crash_world.World(seed)
    for r in replicas[1:]:
        pgstore.share(replicas[0].data, r.data)
    for r in replicas:
        r.start()
    one_leader(replicas)
    db = pgstore.Db(replicas[0].data)
    TALLY.db, TALLY.ids = db, {r.i: r.replica_id() for r in replicas}
    client = Rotating(replicas)
    sched = Schedules(client)
    client.close()
    t0 = time.monotonic()
    pages = 0
    for k in range(kills):
        pages += round_(k, world, replicas, rng, db, sched)
        if (k + 1) % 4 == 0 or k + 1 == kills:
            s = world.stats
            print(f"crash-replicas: {k + 1}/{kills} kills, {time.monotonic() - t0:.0f}s: "
                  f"{s['acked']} writes acknowledged, {s['cut_off']} cut off, {s['jobs']} jobs, "
                  f"{len(TALLY.lost)} runner lost", flush=True)
    client = Rotating(replicas)
    try:
        crash_checks.wait_all_ended(world, client)
        sched.check_at(client)
        sched.check_rate(client, at_least=2)
        pages += client.pages
    finally:
        client.close()
    for r in replicas:
        r.stop()
    crash_checks.snapshot_check(replicas[0].data, work)
    for r in replicas:
        deadline = time.monotonic() + 10
        while crash_checks.supervisors_left(r.data) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = crash_checks.supervisors_left(r.data)
        check(not left, f"replica {r.i}: supervisors still running after every job ended: {left}")
    TALLY.runs = sum(len(f.read_text().splitlines()) for f in MARKS.iterdir())
    return world, sched, pages, time.monotonic() - t0


def main():
    global MARKS
    if not pgstore.enabled():
        print("crash-replicas: needs CRASH_STORE=postgres under scripts/with-pg.sh (make crash-replicas)",
              file=sys.stderr)
        return 2
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().getrandbits(32))
    kills = int(os.environ.get("CRASH_KILLS") or 12)
    n = int(os.environ.get("CRASH_REPLICAS") or 3)
    check(n >= 2, "CRASH_REPLICAS: at least 2")
    binary = os.environ.get("CCFD") or str(crash_world.REPO / "build" / "ccfd")
    print(f"crash-replicas: seed {seed}, {n} replicas, {kills} kills (replay with CRASH_SEED={seed})",
          flush=True)
    work = Path(tempfile.mkdtemp(prefix="ccf-crash-replicas-"))
    MARKS = work / "marks"
    MARKS.mkdir()
    crash_world.JOB_COMMAND = job_command(MARKS)
    crash_checks.check_attempts = check_attempts
    crash_checks.true_outcome = true_outcome
    crash_checks.list_all = small_pages
    owns = crash_docstats.owns
    crash_docstats.owns = lambda s: owns(s) or Schedules.owns(s)
    replicas = [Replica(binary, work, i) for i in range(n)]
    try:
        world, sched, pages, took = run_replicas(seed, kills, replicas, work)
    except Exception as e:  # noqa: B902 - every failure is reported with its seed
        if not isinstance(e, (Broken, AssertionError)):
            traceback.print_exc()
        print("crash-replicas: " + "\n".join(TALLY.log[-4:]), file=sys.stderr)
        print(f"crash-replicas: FAILED (seed {seed}): {e}", file=sys.stderr)
        for r in replicas:
            log = r.log.read_text(errors="replace").splitlines() if r.log.exists() else []
            print(f"crash-replicas: replica {r.i}'s log, last lines:\n" + "\n".join(log[-25:]),
                  file=sys.stderr)
        print(f"crash-replicas: data and logs kept in {work}; replay with CRASH_SEED={seed}",
              file=sys.stderr)
        return 1
    finally:
        for r in replicas:
            r.abandon()
    s, t = world.stats, TALLY
    ended = ", ".join(f"{v} {k}" for k, v in sorted(s["ended"].items()))
    print(f"crash-replicas: OK: {n} replicas on one PostgreSQL, {sum(t.kills.values())} kill -9 "
          f"survived in {took:.0f}s ({t.kills['leader']} of the leader, {t.kills['runner']} of a "
          f"replica running a job ({t.waited} restarted after runner-lost-after), {t.kills['other']} "
          f"of another: no job running); {s['acked']} writes acknowledged ({s['batches']} document "
          f"batches) over every replica, all present; {s['cut_off']} cut off ({s['applied']} applied "
          f"whole, {s['not_applied']} not at all, none half); {s['jobs']} jobs, {t.runs} runs, none "
          f"twice; every one ended with its true outcome or runner lost ({ended}; "
          f"{len(t.lost)} runner lost); {pages} listing pages, each asked of the next replica; "
          f"schedules: rate(1 minute) {sched.fired} due times each fired once, {len(sched.at)} at() "
          f"once each; one leader among the survivors after every kill (at most {t.failover:.1f} s after "
          f"the leader's); seed {seed}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
