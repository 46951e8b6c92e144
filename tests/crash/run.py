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
The parts: crash_world.py (the model, the ccfd under test),
crash_workload.py (the workers, the webhook), crash_checks.py (the
invariants); this file drives them (run, run_schedules, run_backend_kills).
Exit status 0 when every invariant held, 1 otherwise (the data directory and
ccfd's log are kept then, and the seed is printed again).
"""

import os
import random
import shutil
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

# crash_world first: it puts tests/service (ccftest) on the path.
from crash_world import CUT_OFF, REPO, SIGNING, WORKERS, Broken, Ccfd, World, check
from crash_workload import Hook, Worker
from crash_checks import (
    answered_now,
    check_audit,
    dyn_recovered,
    list_all,
    snapshot_check,
    supervisors_left,
    verify,
    wait_all_ended,
)
import crash_docstats
import dynstore
import pgstore
from ccftest import CONNECTORS


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
