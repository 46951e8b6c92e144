"""The crash test's checks (run.py runs them after every restart): the
store's snapshot while ccfd is down (SQLite, PostgreSQL or DynamoDB), the
job events, the audit log, every acknowledged write present and every
cut-off one wholly there or absent, the jobs' true outcomes, checkpoint
versions and client tokens, and no supervisor left."""

import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

# crash_world first: it puts tests/service (ccftest) on the path.
from crash_world import ANSWERED, ANSWERED_LOCK, RETRY_STRATEGY, TERMINAL, Broken, Conn, Job, check
import crash_docstats
import dynstore
import pgstore
from ccftest import CONNECTORS


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
