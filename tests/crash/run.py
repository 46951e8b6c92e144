#!/usr/bin/env python3
"""Crash consistency: a mixed workload against a real ccfd (--synchronous
FULL, jobs run by the local executor), SIGKILL at random moments, a restart
on the same data directory, and the invariants checked after every restart:

- every acknowledged write is there: connectors created, updated and
  deleted, document batches put and deleted, checkpoints put and deleted,
  jobs started and stops accepted;
- a write whose answer the kill cut off is either wholly there or wholly
  absent: each document batch carries a checksum of its own, so a half
  applied batch shows;
- nothing is there that no request asked for;
- a connector is IN_USE iff exactly one of its jobs has not ended, and its
  active_job_id is that job (checked on a copy of the database taken while
  ccfd is down, so that no job moves while it is read);
- the database passes PRAGMA integrity_check and foreign_key_check;
- every job ends with its true outcome: each job is told its exit code and
  run time in its environment, so SUCCEEDED / FAILED with that exit code,
  or STOPPED when a stop was accepted; an ended job never changes again;
- after the workload stops and a last restart, every job ends, every
  connector is AVAILABLE, no supervisor is left, and ccfd exits 0 on SIGTERM;
- jobs that write with their own keys: their stats are exact and every
  document's last job agrees with not_seen_by_job (crash_docstats.py).
- checkpoint versions (issue 12): the version is the one the last
  acknowledged put answered (a cut-off put: old + 1 if applied, else old),
  the kept history is that many versions back without a gap, and a
  conditional put on the acknowledged version succeeds;
- events (issue 13): each job's events are its transitions, once and in
  order, typed by the transition, with the job as it became (snapshot);
- client tokens (issue 12): a create or start retried with its token after a
  kill returns the acknowledged connector or job (a cut-off one: the one it
  made, or a fresh one if it made none), never a second one.
- webhooks (issue 13): a receiver on loopback that answers 500 now and then
  gets every event of the stream made after its webhook's creation, at
  least once, and in order: the ids it receives, repeats included, never go
  back (a repeat is only of the event in flight at a kill or a 500).
- on PostgreSQL (CRASH_STORE=postgres, make crash-postgres; pgstore.py):
  the same, the store read through psql while ccfd is down; then every
  backend of ccfd's pool terminated (pg_terminate_backend) ten times under
  creates: 503s with Retry-After, never a 500, writes back after each
  round without restarting ccfd, every acknowledged create present.
- on DynamoDB (CRASH_STORE=dynamodb, make crash-dynamo; dynstore.py): the
  same, the tables Scanned (boto3) while ccfd is down and mapped to the SQL
  rows (change records count when committed, or pending with their seq in
  the job item's seqs; a pending audit record with a tenant counts as the
  500 its reader will commit). It has no transactions, so some invariants
  are weaker by design (docs/DECISIONS.md), each checked exactly:
  * a cut-off document batch (one write per document, in id order) may
    land partly: each document is then the batch's or the old one, and
    those that are the batch's come first in id order (a prefix; counted
    as "partly", never as applied or not);
  * the audit log: a writer killed mid-request leaves its pending record,
    a 500 InternalFailure once settled, whether its writes landed wholly,
    partly or not at all; so unanswered requests' records are 2xx, 409 or
    such a 500, at most one per cut-off write, the 2xx ones at most the
    cut-off writes applied whole; answered ones are never left pending.
    (A request that fails after writing has its record voided though its
    writes may have partly landed: not exercised here, where any 5xx
    answer fails the run);
  * the IN_USE rule holds on what recovery at the next open makes of the
    tables: an IN_USE connector whose job item is missing (a start killed
    between its two writes) carries its pending_* attributes and the job
    exists after the restart; one IN_USE for an ended job names it no
    more after the restart; every other connector as on SQL;
  * a connector delete's cascade may be cut off: items under a connector
    that is gone are allowed only where a delete was cut off;
  * crash_docstats: a job's cut-off write whose count is missing (the
    count is written after the effect) may have any prefix of its effect
    (or the checkpoint old or new), found against the documents read once
    the job ended; an operator's cut-off put may be a prefix.
  * a cut-off stop whose change record was left pending, its write not
    landed, reads as not applied after the restart, yet a reader finishes
    it once the record is 5 s old (SETTLE_US) unless the job moved first:
    such a job ends STOPPED or with its true outcome ("later");
  The change log's own rule is checked too: no job holds a void record's
  seq, every job holds its committed records' seqs.
- the audit log (issue 13): every answered write of this process (and any
  answered 409) has exactly one record, with its status; no request id has
  two; reads have none; the records of no answered request (cut-off writes)
  are at most the writes cut off, and those with a 2xx at most the cut-off
  writes not found unapplied: a write that did not happen left no record.

CRASH_SEED=N replays a run's choices (the operations, their arguments and
the kill delays; thread timing still varies). CRASH_KILLS (default 50) sets
the number of kills; `make soak` runs 500. CCFD names the binary.
Exit status 0 when every invariant held, 1 otherwise (the data directory and
ccfd's log are kept then, and the seed is printed again).
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "service"))

import ccftest  # noqa: E402
import crash_docstats  # noqa: E402
import dynstore  # noqa: E402
import pgstore  # noqa: E402
import webhook_receiver  # noqa: E402
from ccftest import ACCOUNT_ID, CONNECTORS, REGION, Client  # noqa: E402

# Requests are signed (SigV4) by ccftest.Client when it can sign; a ccfd
# whose tests cannot sign yet runs with --auth none.
SIGNING = hasattr(ccftest, "write_credentials")

WORKERS = 3
CONNECTORS_PER_WORKER = 4
DOC_POOL = [f"doc-{i:03d}" for i in range(240)] + [f"\u00e9t\u00e9-{i}/\U0001f600" for i in range(60)]
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
# Each job learns its outcome from its environment; the log line lets a
# human match a job to what it was told.
# Retries (issue 12): a job exits 75 (retried by RETRY_STRATEGY) until its
# run number, counted in its HOME (kept across attempts), reaches UNTIL.
JOB_COMMAND = ["/bin/sh", "-c", 'n=$(cat "$HOME/runs" 2>/dev/null || echo 0); n=$((n+1)); '
               'echo $n > "$HOME/runs"; echo "code=$CODE sleep=$SLEEP run=$n"; sleep "$SLEEP"; '
               '[ "$n" -lt "${UNTIL:-1}" ] && exit 75; exit "$CODE"']
RETRY_STRATEGY = {"attempts": 3, "evaluate_on_exit": [{"on_exit_code": "75", "action": "RETRY"},
                                                      {"on_exit_code": "*", "action": "EXIT"}],
                  "backoff": {"initial_seconds": 1, "multiplier": 1}}
CUT_OFF = (ConnectionError, http.client.HTTPException, socket.timeout, OSError)

# Every answer any client of this process got: request id -> (method,
# status), for the audit check (jobs' own requests are not in it).
ANSWERED = {}
ANSWERED_LOCK = threading.Lock()
_request = ccftest.Client.request


def _answered_request(self, method, target, *a, **kw):
    r = _request(self, method, target, *a, **kw)
    rid = r.header("x-amzn-RequestId")
    if rid:
        with ANSWERED_LOCK:
            ANSWERED[rid] = (method, r.status)
    return r


ccftest.Client.request = _answered_request


class Broken(Exception):
    """An invariant does not hold."""


def check(cond, msg):
    if not cond:
        raise Broken(msg)


# ---------------------------------------------------------------- the model


class Job:
    def __init__(self, jid, code, sleep):
        self.id = jid
        self.code = code
        self.sleep = sleep
        self.stop = "no"  # "yes": a stop was accepted (202, or cut off but applied)
        self.ended = None  # (status, exit_code) once seen ended


class Conn:
    """A connector as its acknowledged writes left it."""

    def __init__(self, cid, name, description, timeout, owner):
        self.id = cid
        self.name = name
        self.description = description
        self.timeout = timeout
        self.owner = owner
        self.docs = {}
        self.checkpoint = None
        self.jobs = {}
        self.cp_version = 0  # the acknowledged checkpoint version (0: none)
        self.tokens = {}  # client_token -> (job id, request body) of acknowledged starts


class Pending:
    """The one write per worker whose answer the kill cut off."""

    def __init__(self, kind, conn=None, **kw):
        self.kind = kind
        self.conn = conn
        self.__dict__.update(kw)


class World:
    def __init__(self, seed):
        self.seed = seed
        self.conns = {}
        self.pending = []
        self.lock = threading.Lock()
        self.counter = 0
        self.stats = {"acked": 0, "cut_off": 0, "applied": 0, "not_applied": 0, "indistinct": 0, "jobs": 0,
                      "batches": 0, "ended": {}, "partly": 0}
        self.deleted_cut = set()  # connectors whose cut-off delete was applied
        self.recovery = {"finish": set(), "release": set()}  # dynamodb: what the next start owes
        self.unlanded = set()  # dynamodb: (job, status) of change records a reader may finish

    def next(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def owned(self, w):
        with self.lock:
            return [c for c in self.conns.values() if c.owner == w]


# --------------------------------------------------------------- the server


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ccfd:
    def __init__(self, binary, data, log):
        self.binary = binary
        self.data = data
        self.log = log
        self.proc = None
        self.port = None
        self.extra = []  # more flags (tests/crash/replicas.py: runner-lost-after)

    def auth_args(self):
        """With signed requests, the test account's key goes in ccfd's
        default credentials file; without, --auth none if ccfd has SigV4."""
        if SIGNING:
            self.data.mkdir(parents=True, exist_ok=True)
            ccftest.write_credentials(self.data / "credentials", [ACCOUNT_ID])
            return []
        out = subprocess.run([self.binary, "--help"], capture_output=True, text=True).stdout
        return ["--auth", "none"] if "--auth" in out else []

    def start(self):
        auth = self.auth_args()
        for attempt in range(3):
            # The same port again when it is free: running jobs call back
            # the endpoint they were given.
            self.port = self.port if attempt == 0 and self.port else free_port()
            with open(self.log, "ab") as log:
                self.proc = subprocess.Popen(
                    [self.binary, "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data),
                     "--region", REGION, "--account-id", ACCOUNT_ID, "--synchronous", "FULL",
                     "--stop-grace", "1", "--cpu-budget", "1000", "--memory-budget", "1048576",
                     "--log-level", "warn", "--webhook-allow-private",
                     "--webhook-retry-base-ms", "20", *auth, *pgstore.store_args(self.data),
                     *dynstore.store_args(self.data), *self.extra],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, env={**os.environ, **dynstore.env()})
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    c.request("GET", "/healthz")
                    ok = c.getresponse().status == 200
                    c.close()
                    if ok:
                        return
                except OSError:
                    pass
                time.sleep(0.01)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
                raise Broken("ccfd did not become ready within 20 s of a restart")
        raise Broken(f"ccfd exited with status {self.proc.returncode} during start-up")

    def client(self):
        return Client(self.port, timeout=30,
                      arn_prefix=f"arn:aws:ccf:{REGION}:{ACCOUNT_ID}:custom-connector/")

    def kill(self):
        check(self.proc.poll() is None,
              f"ccfd died by itself (status {self.proc.returncode}) before the kill")
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def abandon(self):
        """After a failure: no ccfd of ours may outlive the test."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise Broken("ccfd did not exit within 60 s of SIGTERM")
        check(rc == 0, f"ccfd exited with status {rc} after SIGTERM")


# ----------------------------------------------------------- the workload


class Worker(threading.Thread):
    """Runs writes on its own connectors until the kill cuts one off."""

    def __init__(self, world, w, port, rng, stop, killed):
        super().__init__(daemon=True)
        self.killed = killed
        self.world = world
        self.w = w
        self.client = Client(port, timeout=30,
                             arn_prefix=f"arn:aws:ccf:{REGION}:{ACCOUNT_ID}:custom-connector/")
        self.rng = rng
        self.stopped = stop
        self.error = None
        self.ops = 0

    def run(self):
        try:
            while not self.stopped.is_set():
                self.step()
                self.ops += 1
        except CUT_OFF:
            pass  # the kill: step() has recorded what was in flight
        except BaseException as e:  # noqa: B902 - reported by the main thread
            self.error = e
        finally:
            self.client.close()

    def send(self, pending, method, target, body=None):
        """One write; a cut-off answer leaves `pending` for the check."""
        try:
            if body is None:
                r = self.client.request(method, target)
            else:
                r = self.client.request(method, target, json_body=body)
        except CUT_OFF as e:
            # Only the kill may cut a request off.
            check(self.killed.is_set(), f"{method} {target} failed while ccfd ran: {e!r}")
            with self.world.lock:
                self.world.pending.append(pending)
                self.world.stats["cut_off"] += 1
            raise
        check(r.status < 500, f"{method} {target} answered {r.status}: {r.body[:300]!r}")
        with self.world.lock:
            self.world.stats["acked"] += 1
        return r

    def step(self):
        owned = self.world.owned(self.w)
        if len(owned) < CONNECTORS_PER_WORKER and self.rng.random() < 0.5:
            return self.create()
        if not owned:
            return self.create()
        c = self.rng.choice(owned)
        op = self.rng.choices(
            ["put_docs", "delete_docs", "checkpoint", "delete_checkpoint", "update_connector",
             "start_job", "stop_job", "delete_connector"],
            [30, 12, 12, 3, 8, 16, 4, 2])[0]
        getattr(self, op)(c)

    def create(self):
        n = self.world.next()
        name = f"crash-{self.world.seed:x}-w{self.w}-c{n}"
        desc = f"created by worker {self.w} as write {n}"
        timeout = self.rng.randint(60, 3600)
        props = {"command": JOB_COMMAND, "timeout": timeout}
        retry = self.rng.random() < 0.4
        if retry:
            props["retry_strategy"] = RETRY_STRATEGY
        body = {"name": name, "description": desc, "container_properties": props,
                "client_token": f"create-{self.world.seed:x}-{n}"}
        p = Pending("create", name=name, description=desc, timeout=timeout, owner=self.w,
                    retry=retry, body=body)
        r = self.send(p, "POST", CONNECTORS, body)
        check(r.status == 201, f"create answered {r.status}: {r.body[:300]!r}")
        cid = r.json["connector"]["connector_id"]
        with self.world.lock:
            self.world.conns[cid] = Conn(cid, name, desc, timeout, self.w)
            self.world.conns[cid].retry = retry

    def put_docs(self, c):
        n = self.world.next()
        ids = self.rng.sample(DOC_POOL, self.rng.randint(1, 120))
        # A checksum of this batch's own: a half-applied batch cannot hide.
        checksum = f"batch-{self.world.seed:x}-{n:08d}-".ljust(40, "~")
        p = Pending("docs", c, new={d: checksum for d in ids}, old={d: c.docs.get(d) for d in ids})
        r = self.send(p, "POST", f"{CONNECTORS}/{c.id}/documents",
                      {"documents": [{"document_id": d, "checksum": checksum} for d in ids]})
        check(r.status == 202, f"put documents on {c.id} answered {r.status}")
        c.docs.update(p.new)
        with self.world.lock:
            self.world.stats["batches"] += 1

    def delete_docs(self, c):
        pool = list(c.docs) if c.docs and self.rng.random() < 0.8 else DOC_POOL
        ids = self.rng.sample(pool, min(len(pool), self.rng.randint(1, 80)))
        p = Pending("docs", c, new={d: None for d in ids}, old={d: c.docs.get(d) for d in ids})
        r = self.send(p, "DELETE", f"{CONNECTORS}/{c.id}/documents", {"document_ids": ids})
        check(r.status == 202, f"delete documents on {c.id} answered {r.status}")
        for d in ids:
            c.docs.pop(d, None)
        with self.world.lock:
            self.world.stats["batches"] += 1

    def checkpoint(self, c):
        data = f"cursor {self.world.next()} \u0000 \u00e9 " + "x" * self.rng.randint(0, 3000)
        p = Pending("checkpoint", c, new=data, old=c.checkpoint, old_version=c.cp_version)
        body = {"checkpoint_data": data}
        if self.rng.random() < 0.5:  # this worker is its connectors' only writer: it holds
            body["expected_version"] = c.cp_version
        r = self.send(p, "PUT", f"{CONNECTORS}/{c.id}/checkpoint", body)
        check(r.status == 202, f"put checkpoint on {c.id} answered {r.status}: {r.body[:200]!r}")
        check(r.json.get("version") == c.cp_version + 1,
              f"put checkpoint on {c.id} after version {c.cp_version} answered {r.json}")
        c.checkpoint = data
        c.cp_version += 1

    def delete_checkpoint(self, c):
        p = Pending("checkpoint", c, new=None, old=c.checkpoint, old_version=c.cp_version)
        r = self.send(p, "DELETE", f"{CONNECTORS}/{c.id}/checkpoint")
        check(r.status == 204 or (r.status == 404 and c.checkpoint is None),
              f"delete checkpoint on {c.id} answered {r.status}; acknowledged: {c.checkpoint!r:.40}")
        c.checkpoint = None
        c.cp_version = 0

    def update_connector(self, c):
        n = self.world.next()
        new = {"name": f"{c.name.split('-u')[0]}-u{n}", "description": f"updated as write {n}",
               "timeout": self.rng.randint(60, 3600)}
        old = {"name": c.name, "description": c.description, "timeout": c.timeout}
        p = Pending("update", c, new=new, old=old)
        r = self.send(p, "PUT", f"{CONNECTORS}/{c.id}",
                      {"name": new["name"], "description": new["description"],
                       "container_properties": {"timeout": new["timeout"]}})
        check(r.status == 200, f"update of {c.id} answered {r.status}")
        if r.status == 200:
            c.name, c.description, c.timeout = new["name"], new["description"], new["timeout"]

    def start_job(self, c):
        code = self.rng.choice([0, 0, 1, 2])
        sleep = f"{self.rng.uniform(0, 1.5):.2f}"
        until = self.rng.randint(1, 3) if c.retry else 1
        body = {"environment": [{"name": "CODE", "value": str(code)},
                                {"name": "SLEEP", "value": sleep},
                                {"name": "UNTIL", "value": str(until)}]}
        if self.rng.random() < 0.5:
            body["client_token"] = f"start-{self.world.seed:x}-{self.world.next()}"
        p = Pending("start", c, code=code, sleep=sleep, until=until, body=body)
        r = self.send(p, "POST", f"{CONNECTORS}/{c.id}/jobs", body)
        check(r.status in (201, 409), f"start on {c.id} answered {r.status}")
        if r.status == 201:
            jid = r.json["job"]["job_id"]
            c.jobs[jid] = Job(jid, code, sleep)
            c.jobs[jid].until = until
            if "client_token" in body:
                c.tokens[body["client_token"]] = (jid, body)
            with self.world.lock:
                self.world.stats["jobs"] += 1

    def stop_job(self, c):
        live = [j for j in c.jobs.values() if j.ended is None]
        if not live:
            return self.start_job(c)
        j = self.rng.choice(live)
        p = Pending("stop", c, job=j)
        r = self.send(p, "POST", f"{CONNECTORS}/{c.id}/jobs/{j.id}/stop")
        check(r.status in (202, 409), f"stop of {j.id} answered {r.status}")
        if r.status == 202:
            j.stop = "yes"

    def delete_connector(self, c):
        p = Pending("delete", c)
        r = self.send(p, "DELETE", f"{CONNECTORS}/{c.id}")
        check(r.status in (204, 409), f"delete of {c.id} answered {r.status}")
        if r.status == 204:
            with self.world.lock:
                self.world.conns.pop(c.id, None)


# ----------------------------------------------------------- the checks


def open_snapshot(data, work):
    """The store as the next start sees it: a copy of SQLite's files taken
    while ccfd is down, or, on PostgreSQL (CRASH_STORE=postgres), its
    database itself, which nothing writes while ccfd is down."""
    if pgstore.enabled():
        return pgstore.Db(data)
    snap = work / "snapshot"
    shutil.rmtree(snap, ignore_errors=True)
    snap.mkdir()
    for f in ("ccf.db", "ccf.db-wal"):
        if (data / f).exists():
            shutil.copy2(data / f, snap / f)
    return sqlite3.connect(snap / "ccf.db")


def snapshot_check(data, work, world=None):
    """integrity_check, foreign keys and the IN_USE rule, on a copy of the
    database files taken while ccfd is down (what the next start sees)."""
    if dynstore.enabled():
        return dyn_snapshot_check(data, world)
    db = open_snapshot(data, work)
    try:
        if not pgstore.enabled():  # PostgreSQL checks its pages and keys itself
            rows = db.execute("PRAGMA integrity_check").fetchall()
            check(rows == [("ok",)], f"integrity_check: {rows[:5]}")
            rows = db.execute("PRAGMA foreign_key_check").fetchall()
            check(rows == [], f"foreign_key_check: {rows[:5]}")
        # Job statuses 0-2 have not ended (STARTED, RUNNING, STOPPING).
        for cid, status, active in db.execute("SELECT id, status, active_job_id FROM connectors"):
            live = [r[0] for r in db.execute(
                "SELECT id FROM jobs WHERE connector_id = ? AND status < 3", (cid,))]
            if status == 1:
                check(live == [active], f"{cid} IN_USE with active {active}, unended jobs {live}")
            else:
                check(live == [] and not active, f"{cid} AVAILABLE but unended jobs {live}")
        check_job_events(db)
        if pgstore.enabled():
            AUDIT_SNAPSHOT[:] = db.execute(AUDIT_ROWS)
    finally:
        db.close()


def dyn_snapshot_check(data, world):
    """snapshot_check on DynamoDB (dynstore.Snapshot: the tables read while
    ccfd is down). No transaction holds a start's or an end's two writes
    together, so the IN_USE rule is checked on what recovery at the next
    open makes of them (connectors.c, ddb__recover): a connector IN_USE
    whose job item is missing (a start that died between its reservation
    and its job's write) must carry what recovery needs to write that job,
    and the job must exist after the restart (finished); one IN_USE for an
    ended job (an end that died before the release) must name another job
    or none after it (released). Items left under a deleted connector (its
    cascade cut off) are allowed only under a connector whose delete was
    cut off by a kill."""
    snap = dynstore.Snapshot(data)
    check(not snap.bad, f"change log against the job items: {snap.bad[:3]}")
    status = {j[0]: j[2] for j in snap.jobs}
    for cid, st, active, pending in snap.connectors:
        live = snap.live(cid)
        if st != 1:
            check(live == [] and not active, f"{cid} AVAILABLE but unended jobs {live}")
            continue
        world.stats["in_use_seen"] = world.stats.get("in_use_seen", 0) + 1
        if live == [active]:
            continue
        check(live == [], f"{cid} IN_USE with active {active}, unended jobs {live}")
        if active not in status:
            check(pending, f"{cid} IN_USE for a missing job {active}, without its pending_* to finish it")
            world.recovery["finish"].add(active)
        else:
            world.recovery["release"].add((cid, active))
    allowed = world.deleted_cut | {p.conn.id for p in world.pending if p.kind == "delete"}
    check(snap.orphans <= allowed,
          f"items under connectors that are gone, with no delete cut off: {sorted(snap.orphans - allowed)[:3]}")
    world.stats["orphans"] = len(snap.orphans)
    world.stats["changes_seen"] = len(snap.job_changes)
    world.unlanded |= snap.unlanded
    check_job_events(Rows(snap.job_changes, [(j[0], j[2]) for j in snap.jobs]))
    AUDIT_SNAPSHOT[:] = snap.audit


class Rows:
    """The two queries check_job_events makes, answered from rows."""

    def __init__(self, changes, jobs):
        self.changes, self.jobs = changes, jobs

    def execute(self, sql):
        return self.changes if "job_changes" in sql else self.jobs


def dyn_recovered(world, data):
    """After a restart on DynamoDB: recovery at open finished every
    half-done start and released every connector an ended job held."""
    if not dynstore.enabled():
        return
    jobs, conns = dynstore.jobs_and_connectors(data)
    for jid in world.recovery["finish"]:
        check(jid in jobs, f"a start that died half-way ({jid}) was not finished by recovery")
    for cid, jid in world.recovery["release"]:
        check(cid not in conns or conns[cid][1] != jid,
              f"{cid} still names its ended job {jid} after recovery: {conns.get(cid)}")
    world.stats["finished"] = world.stats.get("finished", 0) + len(world.recovery["finish"])
    world.stats["released"] = world.stats.get("released", 0) + len(world.recovery["release"])
    world.recovery = {"finish": set(), "release": set()}


JOB_EVENT = {0: "job.retrying", 1: "job.running", 2: "job.stopping", 3: "job.succeeded",
             4: "job.failed", 5: "job.stopped"}


def check_job_events(db):
    """Issue 13: each job's events are its transitions, once and in order:
    job.started first, each event leaving the status the one before it
    reached, the last reaching the job's status now, each typed by its
    transition and carrying the job as it became."""
    rows = {}
    for jid, old, new, typ, detail in db.execute(
            "SELECT job_id, old_status, new_status, type, detail FROM job_changes "
            "WHERE new_status >= 0 ORDER BY seq"):
        rows.setdefault(jid, []).append((old, new, typ, detail))
    for jid, status in db.execute("SELECT id, status FROM jobs"):
        evs = rows.get(jid, [])
        check(evs and evs[0][0] == -1 and evs[0][1] == 0 and evs[0][2] == "job.started",
              f"{jid}: events do not begin with job.started: {[e[:3] for e in evs]}")
        for a, b in zip(evs, evs[1:]):
            check(b[0] == a[1] and b[0] != b[1],
                  f"{jid}: events out of order or repeated: {[e[:3] for e in evs]}")
        for old, new, typ, detail in evs[1:]:
            check(typ == JOB_EVENT[new], f"{jid}: {old}->{new} typed {typ}")
        for old, new, typ, detail in evs:
            d = json.loads(detail)
            check(d["job_id"] == jid and d["status"] == ["STARTED", "RUNNING", "STOPPING",
                                                         "SUCCEEDED", "FAILED", "STOPPED"][new],
                  f"{jid}: the {typ} event's detail is not the job as it became: {d}")
        check(evs[-1][1] == status, f"{jid}: last event reaches {evs[-1][1]}, the job is {status}")


def recorded(method, status):
    """What the audit log records (CONTRACT-OPS.md "Audit log")."""
    return status in (403, 409, 429) or (method not in ("GET", "HEAD") and 200 <= status < 300)


def answered_now():
    with ANSWERED_LOCK:
        return dict(ANSWERED)


AUDIT_ROWS = ("SELECT request_id, operation, status, principal_job, connector_id "
              "FROM audit_events WHERE tenant != ''")
# On PostgreSQL and DynamoDB there is no copy of the store to read later:
# snapshot_check keeps the audit records as they were while ccfd was down,
# since the restarted ccfd records the checks' own requests. On DynamoDB a
# row has a sixth field: a pending record the reader commits as a 500.
AUDIT_SNAPSHOT = []


def check_audit(world, work, answered, skip):
    """Issue 13, on the snapshot snapshot_check took while ccfd was down (and
    `answered` taken then): one record per answered write, none for a read,
    none twice, none for a write that did not happen (counted: the records
    of unanswered requests against the workers' cut-off writes; the
    connectors in `skip` are crash_docstats', whose cut-offs it counts)."""
    if pgstore.enabled() or dynstore.enabled():
        rows = AUDIT_SNAPSHOT  # read by snapshot_check while ccfd was down
    else:
        db = sqlite3.connect(work / "snapshot" / "ccf.db")
        try:
            rows = db.execute(AUDIT_ROWS).fetchall()
        finally:
            db.close()
    seen, dead = {}, set()
    for rid, op, status, job, cid, *settled in rows:
        check(rid not in seen, f"request {rid} ({op}) has two audit records")
        seen[rid] = (op, status, job, cid)
        if settled and settled[0]:
            dead.add(rid)
    check(not dead & set(answered), f"answered requests left pending: {sorted(dead & set(answered))[:3]}")
    for rid, (method, status) in answered.items():
        if recorded(method, status):
            check(rid in seen, f"{method} answered {status} (request {rid}) has no audit record")
            check(seen[rid][1] == status, f"request {rid}: answered {status}, recorded {seen[rid]}")
        else:
            check(rid not in seen, f"{method} answered {status} (request {rid}) was recorded")
    # The test's own writes are signed with keys, never a job's.
    unanswered = [v for rid, v in seen.items()
                  if rid not in answered and not v[2] and v[3] not in skip]
    s = world.stats
    check(len(unanswered) <= s["cut_off"],
          f"{len(unanswered)} audit records of no answered request, {s['cut_off']} writes cut off")
    done = [v for v in unanswered if 200 <= v[1] < 300]
    # A batch applied partly (DynamoDB) was cut off before its record's commit.
    whole = s["cut_off"] - s["not_applied"] - s["partly"]
    check(len(done) <= whole, f"{len(done)} records of unanswered writes that succeeded, but only "
          f"{whole} cut-off writes may have been applied whole")
    # DynamoDB: a writer killed after its record's pending put leaves a 500
    # (whether its writes landed wholly, partly or not at all); every other
    # unanswered record is a success, as on the other stores.
    fails = [v for rid, v in seen.items() if rid not in answered and not v[2] and v[3] not in skip
             and not 200 <= v[1] < 300 and v[1] != 409]
    check(all(v[1] == 500 for v in fails) and (dynstore.enabled() or not fails),
          f"records of unanswered writes neither a success, a 409 nor a dead writer's 500: {fails[:3]}")
    world.stats["audited"] = len(seen)
    world.stats["settled500"] = len(dead)


def list_all(client, path, key):
    items, _, _ = client.list_all(path, key, max_results=1000 if key == "documents" else 100)
    return items


def resolve(world, client, p):
    """A cut-off write: wholly applied or wholly not; the model follows."""
    c = p.conn
    if p.kind == "create":
        return  # settled by check_connectors, which sees every connector
    if p.kind == "delete":
        r = client.get(f"{CONNECTORS}/{c.id}", check=False)
        if r.status == 404:
            world.conns.pop(c.id, None)
            world.deleted_cut.add(c.id)
            world.stats["applied"] += 1
        else:
            world.stats["not_applied"] += 1
        return
    if c.id not in world.conns:
        return
    # A write whose new value equals the old one cannot be told applied or
    # not: it counts as neither (the audit check allows it either way).
    same = False
    if p.kind == "docs":
        have = {d["document_id"]: d["checksum"] for d in
                list_all(client, f"{CONNECTORS}/{c.id}/documents", "documents")}
        got = {d: have.get(d) for d in p.new}
        if dynstore.enabled() and got not in (p.new, p.old):
            # One write per document, in the batch's order: a prefix landed.
            check(partly_applied(p, got), f"document batch on {c.id} is not a prefix applied: "
                  f"{[(d, got[d] == p.new[d], got[d] == p.old[d]) for d in sorted(got, key=str.encode)][:8]}")
            world.stats["partly"] += 1
            for d, v in got.items():
                if v is None:
                    c.docs.pop(d, None)
                else:
                    c.docs[d] = v
            return
        check(got in (p.new, p.old), f"document batch half applied on {c.id}: "
              f"{sum(got[d] == p.new[d] for d in got)} of {len(got)} documents new")
        applied = got == p.new and p.new != p.old
        same = p.new == p.old
        for d, v in got.items():
            if v is None:
                c.docs.pop(d, None)
            else:
                c.docs[d] = v
    elif p.kind == "checkpoint":
        r = client.get(f"{CONNECTORS}/{c.id}/checkpoint", check=False)
        got = r.json["checkpoint"]["checkpoint_data"] if r.status == 200 else None
        check(got in (p.new, p.old), f"checkpoint of {c.id} is neither the old nor the new one")
        applied = got == p.new and p.new != p.old
        same = p.new == p.old
        c.checkpoint = got
        ckpt_resolve(c, p, r, applied)
    elif p.kind == "update":
        conn = client.get_connector(c.id)
        got = {"name": conn["name"], "description": conn.get("description"),
               "timeout": conn["container_properties"]["timeout"]}
        check(got in (p.new, p.old), f"update of {c.id} half applied: {got}")
        applied = got == p.new
        same = p.new == p.old
        c.name, c.description, c.timeout = got["name"], got["description"], got["timeout"]
    elif p.kind == "start":
        known = set(c.jobs)
        new = [j for j in list_all(client, f"{CONNECTORS}/{c.id}/jobs", "jobs")
               if j["job_id"] not in known]
        check(len(new) <= 1, f"{len(new)} unknown jobs on {c.id} after one cut-off start")
        applied = bool(new)
        p.found = new[0]["job_id"] if new else None
        if new:
            c.jobs[new[0]["job_id"]] = Job(new[0]["job_id"], p.code, p.sleep)
            c.jobs[new[0]["job_id"]].until = p.until
            world.stats["jobs"] += 1
    elif p.kind == "stop":
        # Only an accepted stop makes a job STOPPING or STOPPED.
        applied = client.get_job(c.id, p.job.id)["status"] in ("STOPPING", "STOPPED")
        if applied:
            p.job.stop = "yes"
        elif {(p.job.id, 2), (p.job.id, 5)} & world.unlanded:
            # DynamoDB: the stop's change record was left pending with its
            # write not landed; a reader finishes it once it is SETTLE_US
            # old, unless the job moved first (then it is voided).
            p.job.stop = "later"
            world.stats["stop_later"] = world.stats.get("stop_later", 0) + 1
            return
    world.stats["indistinct" if same else "applied" if applied else "not_applied"] += 1


def partly_applied(p, got):
    """Each document is the batch's or the old one, and those that are the
    batch's (and differ from the old) all come before those that are not,
    in the order the store writes them: by id, bytewise (core/body.c sorts
    a batch before the store sees it)."""
    seq = []
    for d in sorted(p.new, key=lambda x: x.encode()):
        if got[d] not in (p.new[d], p.old[d]):
            return False
        if p.new[d] != p.old[d]:
            seq.append(got[d] == p.new[d])
    return seq == sorted(seq, reverse=True)


def check_connectors(world, client, pending_creates):
    """Every acknowledged connector and its state; nothing unasked for."""
    seen = {c["connector_id"]: c for c in list_all(client, CONNECTORS, "connectors")}
    for cid, c in list(world.conns.items()):
        check(cid in seen, f"acknowledged connector {cid} ({c.name}) is gone")
    creates = {p.name: p for p in pending_creates}
    for cid, s in seen.items():
        if cid in world.conns or crash_docstats.owns(s):
            continue
        p = creates.pop(s["name"], None)
        check(p is not None, f"connector {cid} ({s['name']}) exists but no request made it")
        world.conns[cid] = Conn(cid, p.name, p.description, p.timeout, p.owner)
        world.conns[cid].retry = p.retry
        world.stats["applied"] += 1
    world.stats["not_applied"] += len(creates)
    for cid, c in world.conns.items():
        got = client.get_connector(cid)
        check((got["name"], got.get("description"), got["container_properties"]["timeout"])
              == (c.name, c.description, c.timeout), f"acknowledged update of {cid} lost: {got}")
        docs = {d["document_id"]: d["checksum"] for d in
                list_all(client, f"{CONNECTORS}/{cid}/documents", "documents")}
        if docs != c.docs:
            lost = {d: v for d, v in c.docs.items() if docs.get(d) != v}
            extra = {d: v for d, v in docs.items() if c.docs.get(d) != v}
            raise Broken(f"documents of {cid} differ: lost or stale {list(lost.items())[:3]}, "
                         f"unexpected {list(extra.items())[:3]}")
        r = client.get(f"{CONNECTORS}/{cid}/checkpoint", check=False)
        got_cp = r.json["checkpoint"]["checkpoint_data"] if r.status == 200 else None
        check(got_cp == c.checkpoint, f"checkpoint of {cid}: acknowledged {c.checkpoint!r:.60}, "
              f"found {got_cp!r:.60}")
        check_jobs(world, client, c)


def true_outcome(j, job):
    status, code = job["status"], job.get("exit_code")
    if j.stop == "yes":
        return status == "STOPPED"
    if j.stop == "later" and status == "STOPPED":
        return True
    if j.code == 0:
        return status == "SUCCEEDED" and code == 0
    return status == "FAILED" and code == j.code


def check_attempts(c, j, job):
    """Retries (issue 12): every attempt is accounted for, consistent with
    the job's status and exit code and with what the job was told to do."""
    a, st, n = job.get("attempts", []), job["status"], job.get("attempt", 0)
    where = f"job {j.id} of {c.id} ({st}, until={j.until}, stop={j.stop}): {job}"
    check([x["attempt"] for x in a] == list(range(1, n + 1)), f"attempts not 1..{n}: {where}")
    check(n <= (RETRY_STRATEGY["attempts"] if c.retry else 1), f"too many attempts: {where}")
    for x in a[:-1]:
        check(x.get("exit_code") == 75 and "completed_at" in x, f"a retried attempt: {where}")
    if "next_attempt_at" in job:
        check(st in ("STARTED", "STOPPING") and a and "completed_at" in a[-1], f"wait: {where}")
    if st == "RUNNING":
        check(a and "completed_at" not in a[-1], f"RUNNING without an open attempt: {where}")
    if st in TERMINAL and a:
        check("completed_at" in a[-1], f"ended with an open attempt: {where}")
        check(job.get("exit_code") == a[-1].get("exit_code"), f"exit code not the last: {where}")
    if st in ("SUCCEEDED", "FAILED") and j.stop != "yes":
        check(n == j.until and a[-1].get("exit_code") == j.code, f"outcome: {where}")


def check_jobs(world, client, c):
    jobs = {j["job_id"]: j for j in list_all(client, f"{CONNECTORS}/{c.id}/jobs", "jobs")}
    for jid, j in c.jobs.items():
        check(jid in jobs, f"acknowledged job {jid} of {c.id} is gone")
        job = jobs[jid]
        check_attempts(c, j, job)
        if j.ended is not None:
            check((job["status"], job.get("exit_code")) == j.ended,
                  f"ended job {jid} changed from {j.ended} to {job['status']}")
        elif job["status"] in TERMINAL:
            check(true_outcome(j, job), f"job {jid} told to exit {j.code} (stop: {j.stop}) "
                  f"ended {job['status']} exit_code={job.get('exit_code')}: {job}")
            j.ended = (job["status"], job.get("exit_code"))
            world.stats["ended"][job["status"]] = world.stats["ended"].get(job["status"], 0) + 1
    unknown = set(jobs) - set(c.jobs)
    check(not unknown, f"jobs {sorted(unknown)} of {c.id} exist but no request made them")


def verify(world, client):
    pending, world.pending = world.pending, []
    for p in pending:
        resolve(world, client, p)
    check_connectors(world, client, [p for p in pending if p.kind == "create"])
    check_versions_and_tokens(world, client, pending)


# ------------------------------ checkpoint versions and client tokens (issue 12)

HISTORY = 10  # ccfd's default checkpoint-history


def ckpt_resolve(c, p, r, applied):
    """A cut-off checkpoint put or delete: the version moved with the data."""
    got = r.json["checkpoint"]["version"] if r.status == 200 else 0
    if p.new is None:  # a delete
        want = 0 if applied or p.old is None else p.old_version
    else:
        want = p.old_version + 1 if applied else p.old_version
    check(got == want, f"checkpoint of {c.id}: version {got} after a cut-off write "
          f"(acknowledged {p.old_version}, applied: {applied})")
    c.cp_version = got


def check_checkpoint_versions(client, c):
    r = client.get(f"{CONNECTORS}/{c.id}/checkpoint", check=False)
    got = r.json["checkpoint"]["version"] if r.status == 200 else 0
    check(got == c.cp_version, f"checkpoint of {c.id}: version {got}, acknowledged {c.cp_version}")
    if not got:
        return
    check(r.header("ETag") == f'"{got}"', f"checkpoint of {c.id}: ETag {r.header('ETag')}")
    vs = [v["version"] for v in list_all(client, f"{CONNECTORS}/{c.id}/checkpoint/versions",
                                         "versions")]
    want = list(range(got, max(0, got - HISTORY), -1))
    check(vs == want, f"checkpoint of {c.id}: versions {vs[:12]}, wanted {want[:12]}")


def retry_token(world, client, c, token, body, jid):
    """A start sent again with its token: the job it made (jid), or a new
    job if it made none (jid None: then 201 or 409)."""
    r = client.post(f"{CONNECTORS}/{c.id}/jobs", body, check=False)
    if jid is not None:
        check(r.status == 201 and r.json["job"]["job_id"] == jid,
              f"start on {c.id} retried with token {token}: {r.status} {r.body[:200]!r}, "
              f"acknowledged job {jid}")
        return
    check(r.status in (201, 409), f"start on {c.id} retried with token {token}: {r.status}")
    if r.status == 201:
        new = r.json["job"]["job_id"]
        check(new not in c.jobs, f"retried token {token} returned known job {new}")
        env = {e["name"]: e["value"] for e in body["environment"]}
        c.jobs[new] = Job(new, int(env["CODE"]), env["SLEEP"])
        c.jobs[new].until = int(env["UNTIL"])
        c.tokens[token] = (new, body)
        world.stats["jobs"] += 1


def retry_create(world, client, p):
    r = client.post(CONNECTORS, p.body, check=False)
    check(r.status == 201, f"create retried with token {p.body['client_token']}: {r.status}")
    cid = r.json["connector"]["connector_id"]
    made = [x for x in world.conns.values() if x.name == p.name]
    if made:  # the cut-off create made it: the token returns that one
        check(cid == made[0].id, f"create retried with its token made {cid}, not {made[0].id}")
    else:  # it made none: now it does, once
        world.conns[cid] = Conn(cid, p.name, p.description, p.timeout, p.owner)
        world.conns[cid].retry = p.retry


def check_versions_and_tokens(world, client, pending):
    for p in pending:
        if p.kind == "create":
            retry_create(world, client, p)
        elif p.kind == "start" and "client_token" in p.body and p.conn.id in world.conns:
            retry_token(world, client, p.conn, p.body["client_token"], p.body,
                        getattr(p, "found", None))
    for c in world.conns.values():
        check_checkpoint_versions(client, c)
        for token, (jid, body) in list(c.tokens.items())[-5:]:
            retry_token(world, client, c, token, body, jid)


def wait_all_ended(world, client, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        verify(world, client)
        live = [(c.id, j.id) for c in world.conns.values() for j in c.jobs.values() if j.ended is None]
        busy = [c["connector_id"] for c in list_all(client, CONNECTORS, "connectors")
                if c["status"] != "AVAILABLE"]
        if not live and not busy:
            return
        check(time.monotonic() < deadline,
              f"after {timeout}s: jobs not ended {live[:5]}, connectors not AVAILABLE {busy[:5]}")
        time.sleep(0.2)


def supervisors_left(data):
    """Supervisors of this data directory still running (zombies aside)."""
    left = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if b"supervise" in argv and state != "Z" and any(str(data).encode() in a for a in argv):
            left.append(int(pid))
    return left


# ----------------------------------------------------------- webhooks


class Hook:
    """A webhook to a receiver on loopback that answers 500 one time in
    ten, made before the workload: it must get every later event."""

    def __init__(self, rng):
        lock = threading.Lock()

        def status_for(ev):
            with lock:
                return 500 if rng.random() < 0.1 else 200

        self.rcv = webhook_receiver.Receiver(status_for=status_for)
        self.id = None

    def setup(self, client):
        r = client.post("/api/v1/webhooks", {"url": self.rcv.url})
        check(r.status == 201, f"create a webhook: {r}")
        self.id = r.json["webhook"]["webhook_id"]
        # Every event after this cursor happened after the webhook's creation.
        self.after = self.read(client)[1]

    @staticmethod
    def read(client, after=None):
        stream = []
        while True:
            r = client.get("/api/v1/events?max_results=1000" + (f"&after={after}" if after else ""))
            check(r.status == 200, f"read the events: {r}")
            stream += [e["event_id"] for e in r.json["events"]]
            after = r.json["next_cursor"]
            if not r.json["events"]:
                return stream, after

    def verify(self, client, timeout=120):
        """Every event after the webhook's creation reached the receiver;
        the ids received (ev- and 16 hex digits: their order is the
        stream's) never go back. Returns (events, deliveries received)."""
        stream = set(self.read(client, self.after)[0])
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.rcv.event_ids()
            if stream <= set(got):
                break
            time.sleep(0.2)
        missing = sorted(stream - set(got))
        check(not missing,
              f"webhook: {len(missing)} events never delivered within {timeout}s, e.g. {missing[:3]}")
        back = [(a, b) for a, b in zip(got, got[1:]) if b < a]
        check(not back, f"webhook: events out of order: {back[:3]}")
        return len(set(got)), len(got)

    def close(self):
        self.rcv.close()


# ----------------------------------------------------------------- main


def run(seed, kills, srv, work):
    rng = random.Random(seed)
    world = World(seed)
    data = srv.data
    srv.start()
    ds = crash_docstats.Docstats(work, seed, CUT_OFF)
    ds.setup(srv.port)
    hook = Hook(random.Random(rng.getrandbits(64)))
    client = srv.client()
    hook.setup(client)
    client.close()
    t0 = time.monotonic()
    for k in range(kills):
        stop, killed = threading.Event(), threading.Event()
        workers = [Worker(world, w, srv.port, random.Random(rng.getrandbits(64)), stop, killed)
                   for w in range(WORKERS)] + ds.drivers(srv.port, rng, stop, killed)
        # Some kills land while recovery is still running, most under load.
        delay = rng.uniform(0, 0.15) if rng.random() < 0.2 else rng.uniform(0.15, 2.0)
        for w in workers:
            w.start()
        time.sleep(delay)
        killed.set()
        srv.kill()
        stop.set()
        for w in workers:
            w.join(60)
            check(not w.is_alive(), f"worker {getattr(w, 'w', w.name)} hung after the kill")
            if w.error is not None:
                raise w.error
        snapshot_check(data, work, world)
        answered = answered_now()
        srv.start()
        dyn_recovered(world, data)
        client = srv.client()
        verify(world, client)
        check_audit(world, work, answered, {c.id for c in ds.conns})
        ds.verify(client)
        client.close()
        if (k + 1) % 10 == 0 or k + 1 == kills:
            s = world.stats
            print(f"crash: {k + 1}/{kills} kills, {time.monotonic() - t0:.0f}s: {s['acked']} writes "
                  f"acknowledged, {s['cut_off']} cut off ({s['applied']} applied, "
                  f"{s['not_applied']} not), {len(world.conns)} connectors, {s['jobs']} jobs",
                  flush=True)
    # The workload has stopped: a last crash, then everything must settle.
    srv.kill()
    snapshot_check(data, work, world)
    srv.start()
    dyn_recovered(world, data)
    client = srv.client()
    wait_all_ended(world, client)
    ds.verify(client, final=True)
    world.hook = hook.verify(client)
    hook.close()
    client.close()
    srv.stop()
    snapshot_check(data, work, world)
    check(not world.recovery["finish"] and not world.recovery["release"],
          f"a clean stop left work for recovery: {world.recovery}")
    deadline = time.monotonic() + 10
    while supervisors_left(data) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = supervisors_left(data)
    check(not left, f"supervisors still running 10 s after every job ended: {left}")
    world.docstats = ds.summary()
    return world, time.monotonic() - t0


# ----------------------------------------------------------- schedules


def run_schedules(seed, binary, work, n=40, spread=20.0):
    """Schedules across kills (issue 12), on a ccfd of its own: n connectors
    with at() runs spread over `spread` seconds, half with catch_up, while
    ccfd is SIGKILLed and restarted at random moments. Afterwards each
    connector has at most one SCHEDULE job (no run doubled); with catch_up
    exactly one (no run lost: one due while down is caught up at start-up);
    without, one if it fell due while ccfd was up and none if it fell due
    while ccfd was down (times within 0.3 s of a kill or start may go either
    way). Returns (runs, caught up, dropped)."""
    rng = random.Random(seed ^ 0x5C4ED)
    srv = Ccfd(binary, work / "sched-data", work / "sched-ccfd.log")
    srv.start()
    try:
        client = srv.client()
        base = int(time.time()) + 3
        conns = []
        for i in range(n):
            due = base + int(i * spread / n)
            at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(due))
            body = {"name": f"sched-{i}", "container_properties": {"command": ["/bin/true"]},
                    "schedule": {"expression": f"at({at})", "catch_up": i % 2 == 0}}
            r = client.post(CONNECTORS, body)
            check(r.status == 201, f"create with a schedule: {r}")
            conns.append((r.json["connector"]["connector_id"], due, i % 2 == 0))
        client.close()
        down = []  # (killed at, started again at)
        while time.time() < base + spread + 1:
            time.sleep(rng.uniform(0.2, 1.5))
            killed = time.time()
            srv.kill()
            time.sleep(rng.uniform(0.0, 1.5))
            restarting = time.time()
            srv.start()
            # Down until ready: on DynamoDB a start takes a second or more
            # (the tables described, recovery's Scan) and a run due then,
            # without catch_up, is one missed while down.
            down.append((killed, restarting, time.time()))
        time.sleep(2.0)
        client = srv.client()
        runs = caught = dropped = 0
        for cid, due, catch_up in conns:
            r = client.get(f"{CONNECTORS}/{cid}/jobs")
            jobs = [j for j in r.json["jobs"] if j.get("trigger") == "SCHEDULE"]
            check(len(jobs) == len(r.json["jobs"]), f"{cid}: a job no schedule started: {r}")
            check(len(jobs) <= 1, f"{cid}: the at() run was doubled: {jobs}")
            was_down = any(k + 0.3 < due < s - 0.3 for k, s, _ in down)
            was_up = not any(k - 0.3 < due < ready + 0.3 for k, _, ready in down)
            if catch_up:
                check(len(jobs) == 1, f"{cid}: a catch_up run was lost (due {due}): {r}")
            elif was_down:
                check(not jobs, f"{cid}: due while down without catch_up, yet it ran: {jobs}")
            elif was_up:
                check(len(jobs) == 1, f"{cid}: due while up, yet it did not run: {r}")
            got = client.get(f"{CONNECTORS}/{cid}").json["connector"]
            check("next_run_at" not in got, f"{cid}: the at() still has a next run: {got}")
            runs += len(jobs)
            caught += len(jobs) if catch_up and any(k < due < s for k, s, _ in down) else 0
            dropped += 0 if jobs else 1
        client.close()
        srv.stop()
        return runs, caught, dropped, len(down)
    finally:
        srv.abandon()


def run_backend_kills(binary, work, rounds=10):
    """PostgreSQL only: writers keep creating connectors (with client
    tokens) while every backend of ccfd's pool is terminated, `rounds`
    times. Each answer is 201 or a 503 with Retry-After, never another 5xx;
    ccfd keeps running (the same process) and writes succeed again after
    each round without a restart; every acknowledged create is there at
    the end. Returns (acknowledged, 503s, backends ended)."""
    srv = Ccfd(binary, work / "pgkill-data", work / "pgkill-ccfd.log")
    acked, unavailable, lock = [], [0], threading.Lock()
    stop = threading.Event()
    errors = []

    def writer(w):
        client = srv.client()
        n = 0
        try:
            while not stop.is_set():
                n += 1
                r = client.request("POST", CONNECTORS, json_body={
                    "name": f"pgkill-w{w}-{n}", "container_properties": {"command": ["/bin/true"]},
                    "client_token": f"pgkill-{w}-{n}"})
                if r.status == 503:
                    check(r.header("Retry-After"), "a 503 without Retry-After")
                    with lock:
                        unavailable[0] += 1
                    continue
                check(r.status == 201, f"create answered {r.status}: {r.body[:300]!r}")
                with lock:
                    acked.append(r.json["connector"]["connector_id"])
        except BaseException as e:  # noqa: B902 - reported by the main thread
            errors.append(e)
        finally:
            client.close()

    srv.start()
    try:
        pid = srv.proc.pid
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()
        ended = 0
        for _ in range(rounds):
            time.sleep(0.3)
            ended += pgstore.terminate_backends(srv.data)
            with lock:
                before = len(acked)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not errors:
                with lock:
                    if len(acked) > before:
                        break
                time.sleep(0.02)
            check(not errors, f"a writer failed: {errors[:1]}")
            check(len(acked) > before, "no write succeeded within 10 s of the backends' end")
        stop.set()
        for t in threads:
            t.join(60)
        check(not errors, f"a writer failed: {errors[:1]}")
        check(srv.proc.poll() is None and srv.proc.pid == pid, "ccfd did not survive its backends")
        check(unavailable[0] > 0, f"{ended} backends ended and not one 503: the rounds tested nothing")
        client = srv.client()
        have = {c["connector_id"] for c in list_all(client, CONNECTORS, "connectors")}
        client.close()
        missing = set(acked) - have
        check(not missing, f"{len(missing)} acknowledged creates are gone: {sorted(missing)[:3]}")
        srv.stop()
        return len(acked), unavailable[0], ended
    finally:
        stop.set()
        srv.abandon()


def main():
    seed = int(os.environ.get("CRASH_SEED") or random.SystemRandom().getrandbits(32))
    kills = int(os.environ.get("CRASH_KILLS") or 50)
    binary = os.environ.get("CCFD") or str(REPO / "build" / "ccfd")
    print(f"crash: seed {seed}, {kills} kills, requests {'signed' if SIGNING else 'unsigned'} "
          f"(replay with CRASH_SEED={seed})", flush=True)
    work = Path(tempfile.mkdtemp(prefix="ccf-crash-"))
    srv = Ccfd(binary, work / "data", work / "ccfd.log")
    try:
        world, took = run(seed, kills, srv, work)
    except Exception as e:  # noqa: B902 - every failure is reported with its seed
        if not isinstance(e, (Broken, AssertionError)):
            traceback.print_exc()
        print(f"crash: FAILED (seed {seed}): {e}", file=sys.stderr)
        log = (work / "ccfd.log").read_text(errors="replace").splitlines()
        print("crash: ccfd log, last lines:\n" + "\n".join(log[-40:]), file=sys.stderr)
        print(f"crash: data and log kept in {work}; replay with CRASH_SEED={seed}", file=sys.stderr)
        return 1
    finally:
        srv.abandon()
    if os.environ.get("CRASH_SCHEDULES", "1") != "0":
        try:
            runs, caught, dropped, nkills = run_schedules(seed, binary, work)
        except (Broken, AssertionError) as e:
            print(f"crash: schedules FAILED (seed {seed}): {e}", file=sys.stderr)
            print(f"crash: data and log kept in {work}", file=sys.stderr)
            return 1
        print(f"crash: schedules OK across {nkills} SIGKILLs: {runs} at() runs, none doubled, "
              f"{caught} caught up at start-up, {dropped} dropped (due while down, no catch_up)")
    if pgstore.enabled():
        try:
            acked, unavailable, ended = run_backend_kills(binary, work)
        except (Broken, AssertionError) as e:
            print(f"crash: PostgreSQL backends' end FAILED (seed {seed}): {e}", file=sys.stderr)
            print(f"crash: data and log kept in {work}", file=sys.stderr)
            return 1
        print(f"crash: PostgreSQL: {ended} backends of ccfd's pool terminated in 10 rounds under "
              f"creates: {unavailable} answers 503 with Retry-After, none 500, ccfd never restarted, "
              f"writes back after each round, all {acked} acknowledged creates present")
    s = world.stats
    ended = ", ".join(f"{n} {k}" for k, n in sorted(s["ended"].items()))
    print(f"crash: audit: {s.get('audited', 0)} records checked against the answers")
    if dynstore.enabled():
        print(f"crash: DynamoDB: {s['partly']} document batches applied partly (a prefix, each "
              f"document the batch's or the old one); {s.get('settled500', 0)} audit records left pending "
              f"by dead writers, read as the 500 a reader makes them (last snapshot); recovery finished {s.get('finished', 0)} "
              f"half-done starts and released {s.get('released', 0)} connectors of ended jobs; "
              f"{s.get('orphans', 0)} connectors' items left by a cut-off delete's cascade; "
              f"{s.get('in_use_seen', 0)} IN_USE connectors checked in the snapshots, "
              f"{s.get('changes_seen', 0)} job changes in the last; {s.get('stop_later', 0)} cut-off "
              f"stops left pending, for a reader to finish or void")
    print(f"crash: OK: {kills + 1} SIGKILLs survived in {took:.0f}s; {s['acked']} writes acknowledged "
          f"({s['batches']} document batches), all present; {s['cut_off']} cut off by a kill "
          f"({s['applied']} applied whole, {s['not_applied']} not at all, "
          f"{s['indistinct']} rewriting the same value, {s['partly']} partly); "
          f"{s['jobs']} jobs started, every one seen to end ended with its true outcome ({ended}); "
          f"{world.docstats}; webhook: {world.hook[0]} events all delivered in order "
          f"({world.hook[1]} deliveries with repeats); seed {seed}")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
