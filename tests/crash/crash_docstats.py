"""The crash test's part for per-job statistics and deletion detection
(CONTRACT-OPS.md, "Per-job document statistics" and "Documents no job has
seen"), driven by run.py.

A few connectors of their own (names start with PREFIX; run.py's workers
never touch them) run jobs one after another. Each job is a small Python
program (JOB_SCRIPT) that calls the API with the key injected into its
environment: document puts (checksums from a small set, so that puts are
added, updated and unchanged), deletes and checkpoint puts, logging each
write before it sends it and its answer after. A job stops at its first
write that fails other than by a refused connection (a refused one was
never sent, and is retried while ccfd restarts), so at most its last
write is unknown. Between jobs the driver puts a few documents with the
operator's key (no job), with a checksum of its own.

After every restart, each connector's history is replayed from empty, in
the order its writes were made (one job at a time, the operator's puts
between them), and checked:
- the stats of every ended job equal the counts of its acknowledged writes,
  plus those of its cut-off last write if and only if that write took
  effect: the replay then applies it, and the documents must agree (counts
  and documents move together);
- once no job runs on the connector: its documents and checkpoint are what
  the replay says, and for the latest jobs (and one older one) the
  not_seen_by_job listing is exactly the documents whose latest put another
  job or the operator made.
"""

import json
import os
import random
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "service"))

from ccftest import ACCOUNT_ID, CONNECTORS, REGION, Client  # noqa: E402

PREFIX = "crash-ds-"
CONNECTORS_N = 3
POOL = [f"j/{i:02d}" for i in range(20)] + ["j/\u00e9t\u00e9", "j/\U0001f600"]
SUMS = [c * 64 for c in "abc"]
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
ZERO = {"documents_added": 0, "documents_updated": 0, "documents_unchanged": 0,
        "documents_deleted": 0, "checkpoint_puts": 0}

# The job: its writes and their answers go to DS_LOG/<job id>.log, one JSON
# object a line ({"n", "op", ...} before the write, {"n", "ack"} or
# {"n", "cut"} after).
JOB_SCRIPT = r'''
import json, os, random, sys, time, urllib.parse
sys.path.insert(0, DS_TESTS)
os.environ["CCF_STRICT"] = "0"
from ccftest import Client, CONNECTORS

env = os.environ
jid = env["CUSTOM_CONNECTOR_JOB_ID"]
cid = env["CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"]
ep = urllib.parse.urlsplit(env["CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"])
client = Client(ep.port, host=ep.hostname, timeout=10, region=env["AWS_REGION"],
                credentials=(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"],
                             env.get("AWS_SESSION_TOKEN")))
rng = random.Random(env["DS_SEED"])
pool, sums = POOL, SUMS
log = open(os.path.join(DS_LOG, jid + ".log"), "a", buffering=1)
base = f"{CONNECTORS}/{cid}"


def send(n, method, target, body):
    deadline = time.monotonic() + 10
    while True:
        try:
            return client.request(method, target, json_body=body, check=False).status
        except ConnectionRefusedError:  # never sent: ccfd is restarting
            client.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


for n in range(rng.randint(5, 60)):
    kind = rng.choices(["put", "delete", "checkpoint"], [6, 2, 2])[0]
    if kind == "put":
        docs = {d: rng.choice(sums) for d in rng.sample(pool, rng.randint(1, 12))}
        rec, req = {"docs": docs}, ("POST", f"{base}/documents", {"documents": [
            {"document_id": d, "checksum": s} for d, s in docs.items()]})
    elif kind == "delete":
        ids = rng.sample(pool, rng.randint(1, 6))
        rec, req = {"ids": ids}, ("DELETE", f"{base}/documents", {"document_ids": ids})
    else:
        data = f"{jid} write {n}"
        rec, req = {"data": data}, ("PUT", f"{base}/checkpoint", {"checkpoint_data": data})
    log.write(json.dumps({"n": n, "op": kind, **rec}) + "\n")
    try:
        status = send(n, *req)
    except Exception as e:
        log.write(json.dumps({"n": n, "cut": repr(e)}) + "\n")
        break
    if status // 100 != 2:
        log.write(json.dumps({"n": n, "cut": status}) + "\n")
        break
    log.write(json.dumps({"n": n, "ack": status}) + "\n")
    time.sleep(rng.uniform(0, 0.01))
'''


# DynamoDB (CRASH_STORE=dynamodb): a batch is one write per document and
# a job's statistics are counted after its write: see uncounted().
DYNAMO = os.environ.get("CRASH_STORE") == "dynamodb"


class Broken(AssertionError):
    """An invariant does not hold (run.py reports it with the seed)."""


def check(cond, msg):
    if not cond:
        raise Broken(msg)


def owns(summary):
    return summary["name"].startswith(PREFIX)


class DsConn:
    """A connector and its writes in the order they were made: ("op", docs,
    applied) for an operator's put (applied None while unknown), ("job",
    id) for a job."""

    def __init__(self, cid):
        self.id = cid
        self.timeline = []
        self.live = None  # the job started and not yet seen ended
        self.pending_start = False
        # DynamoDB: job id -> (documents, checkpoint) read once it had ended,
        # before the connector's next write (resolves its cut-off write).
        self.after = {}


class Docstats:
    def __init__(self, work, seed, cut_off):
        self.work = work
        self.logs = work / "ds-logs"
        self.logs.mkdir(exist_ok=True)
        self.script = work / "ds-job.py"
        consts = (f"DS_TESTS = {str(REPO / 'tests' / 'service')!r}\nDS_LOG = {str(self.logs)!r}\n"
                  f"POOL = {POOL!r}\nSUMS = {SUMS!r}\n")
        self.script.write_text(consts + JOB_SCRIPT)
        self.seed = seed
        self.cut_off = cut_off
        self.conns = []
        self.lock = threading.Lock()
        self.counter = 0
        self.stats = {"jobs": 0, "job_writes": 0, "job_cut": 0, "job_cut_applied": 0,
                      "op_puts": 0, "listings": 0, "op_partly": 0}
        self.uncounted_jobs = set()  # DynamoDB: cut-off writes with an effect, not counted
        self.judged = {}  # job id -> (acked writes, cut-off write applied or None)

    def next(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def client(self, port):
        return Client(port, timeout=30,
                      arn_prefix=f"arn:aws:ccf:{REGION}:{ACCOUNT_ID}:custom-connector/")

    def setup(self, port):
        c = self.client(port)
        try:
            for i in range(CONNECTORS_N):
                r = c.post(CONNECTORS, {"name": f"{PREFIX}{self.seed:x}-{i}", "container_properties": {
                    "command": [sys.executable, str(self.script)], "timeout": 600}})
                check(r.status == 201, f"create answered {r.status}: {r.body[:200]!r}")
                self.conns.append(DsConn(r.json["connector"]["connector_id"]))
        finally:
            c.close()

    def drivers(self, port, rng, stop, killed):
        return [Driver(self, c, port, random.Random(rng.getrandbits(64)), stop, killed)
                for c in self.conns]

    # ------------------------------------------------------------ checks

    def verify(self, client, final=False):
        for c in self.conns:
            self.resolve_start(client, c)
            jobs = {j["job_id"]: j for j in
                    client.list_all(f"{CONNECTORS}/{c.id}/jobs", "jobs", max_results=100)[0]}
            self.replay(client, c, jobs, final)

    def resolve_start(self, client, c):
        """A cut-off start: the job exists or not; at most one."""
        if not c.pending_start:
            return
        known = {x[1] for x in c.timeline if x[0] == "job"}
        jobs = client.list_all(f"{CONNECTORS}/{c.id}/jobs", "jobs", max_results=100)[0]
        new = [j["job_id"] for j in jobs if j["job_id"] not in known]
        check(len(new) <= 1, f"{len(new)} unknown jobs on {c.id} after one cut-off start")
        if new:
            c.timeline.append(("job", new[0]))
            c.live = new[0]  # the driver waits for it before the next start
            self.stats["jobs"] += 1
        c.pending_start = False

    def resolve_op(self, client, c, i):
        """The operator's cut-off put (its checksum is its own), made when
        no job ran and followed by nothing: wholly there or not at all."""
        _, docs, _ = c.timeline[i]
        have = self.documents(client, c)
        got = {d: have.get(d) == s for d, s in docs.items()}
        if DYNAMO and len(set(got.values())) == 2:
            # One write per document, by id: a prefix landed.
            flags = [got[d] for d in sorted(docs, key=str.encode)]
            check(flags == sorted(flags, reverse=True), f"operator's put on {c.id} not a prefix: {got}")
            c.timeline[i] = ("op", {d: s for d, s in docs.items() if got[d]}, True)
            self.stats["op_partly"] += 1
            return
        check(len(set(got.values())) == 1, f"operator's put half applied on {c.id}: {got}")
        c.timeline[i] = ("op", docs, all(got.values()))

    def documents(self, client, c, **params):
        items = client.list_all(f"{CONNECTORS}/{c.id}/documents", "documents", max_results=1000,
                                **params)[0]
        return {d["document_id"]: d["checksum"] for d in items}

    def read_log(self, jid):
        path = self.logs / f"{jid}.log"
        writes, outcome = [], {}
        if path.exists():
            for line in path.read_text().splitlines():
                rec = json.loads(line)
                if "op" in rec:
                    writes.append(rec)
                else:
                    outcome[rec["n"]] = "ack" if "ack" in rec else "cut"
        for w in writes[:-1]:
            check(outcome.get(w["n"]) == "ack", f"job {jid} wrote on after a failed write: {w}")
        return writes, outcome

    def replay(self, client, c, jobs, final):
        docs, ckpt, ended = {}, None, []
        for i, item in enumerate(c.timeline):
            if item[0] == "op":
                if item[2] is None:
                    check(i == len(c.timeline) - 1, f"unresolved put on {c.id} not last")
                    self.resolve_op(client, c, i)
                    item = c.timeline[i]
                if item[2]:
                    docs.update({d: (s, None) for d, s in item[1].items()})
                continue
            jid = item[1]
            job = jobs.get(jid)
            check(job is not None, f"acknowledged job {jid} of {c.id} is gone")
            if job["status"] not in TERMINAL:
                check(i == len(c.timeline) - 1, f"job {jid} of {c.id} runs while a later one exists")
                check(not final, f"job {jid} of {c.id} did not end: {job}")
                return
            check(job["status"] == "SUCCEEDED", f"docstats job {jid} ended {job}")
            if DYNAMO and i == len(c.timeline) - 1 and jid not in c.after:
                c.after[jid] = self.observe(client, c)  # ended, nothing written since
            ckpt = self.replay_job(c, jid, job, docs, ckpt)
            ended.append(jid)
        self.compare(client, c, docs, ckpt, ended)

    def replay_job(self, c, jid, job, docs, ckpt):
        writes, outcome = self.read_log(jid)
        want = dict(ZERO)
        for w in writes:
            trial, counts = dict(docs), dict(ZERO)
            new_ckpt = apply_write(w, jid, trial, counts, ckpt)
            if outcome.get(w["n"]) != "ack":
                # Cut off: its counts and its effect are both there or both not.
                got = job.get("stats", ZERO)
                plus = {k: want[k] + counts[k] for k in want}
                check(got in (want, plus), f"stats of {jid} ({c.id}) are {got}: acknowledged "
                      f"writes make {want}, with the cut-off {w['op']} {plus}")
                applied = got == plus and plus != want
                self.judge(jid, len(writes) - 1, applied)
                if not applied and DYNAMO:
                    # Counted after its effect: uncounted, any prefix of it may stand.
                    ckpt = self.uncounted(c, jid, w, docs, ckpt)
                    continue
                if not applied:
                    continue
            want = {k: want[k] + counts[k] for k in want}
            docs.clear()
            docs.update(trial)
            ckpt = new_ckpt
        check(job.get("stats", ZERO) == want,
              f"stats of {jid} ({c.id}) are {job.get('stats')}, its writes make {want}")
        if jid not in self.judged:
            self.judge(jid, len(writes), None)
        return ckpt

    def observe(self, client, c):
        r = client.get(f"{CONNECTORS}/{c.id}/checkpoint", check=False)
        return self.documents(client, c), (r.json["checkpoint"]["checkpoint_data"]
                                           if r.status == 200 else None)

    def uncounted(self, c, jid, w, docs, ckpt):
        """DynamoDB: a job's cut-off write whose count is not there (the
        count is written after the documents or the checkpoint's switch):
        the state seen once the job ended must be a prefix of it (by id, as
        the store writes) over the replay, or the checkpoint old or new.
        The documents it may have rewritten with their own checksum keep
        either job as their last (not_seen then accepts both)."""
        check(jid in c.after, f"job {jid} of {c.id}: its end's documents were never read")
        seen, seen_ckpt = c.after[jid]
        if w["op"] == "checkpoint":
            check(seen_ckpt in (ckpt, w["data"]), f"checkpoint of {c.id} after {jid}: {seen_ckpt!r}")
            if seen_ckpt != ckpt:
                self.uncounted_jobs.add(jid)
            return seen_ckpt
        ids = sorted(w["docs"] if w["op"] == "put" else w["ids"], key=str.encode)
        fits = []
        for k in range(len(ids) + 1):
            trial = dict(docs)
            part = {"op": w["op"], "docs": {d: w["docs"][d] for d in ids[:k]}} if w["op"] == "put" \
                else {"op": "delete", "ids": ids[:k]}
            apply_write(part, jid, trial, dict(ZERO), ckpt)
            if {d: v[0] for d, v in trial.items()} == seen:
                fits.append(trial)
        check(fits, f"documents of {c.id} after job {jid} are no prefix of its cut-off {w['op']}")
        if len(fits) > 1 or fits[0] != docs:
            self.uncounted_jobs.add(jid)
        merged = {}
        for d in fits[0]:
            lasts = {f[d][1] for f in fits}
            merged[d] = (fits[0][d][0], lasts.pop() if len(lasts) == 1 else frozenset(lasts))
        docs.clear()
        docs.update(merged)
        return ckpt

    def judge(self, jid, acked, applied):
        if jid in self.judged:
            check(self.judged[jid] == (acked, applied), f"job {jid} judged differently now")
            return
        self.judged[jid] = (acked, applied)
        self.stats["job_writes"] += acked
        if applied is not None:
            self.stats["job_cut"] += 1
            self.stats["job_cut_applied"] += int(applied)

    def compare(self, client, c, docs, ckpt, ended):
        """No job runs: documents, checkpoint and not-seen listings."""
        have = self.documents(client, c)
        want = {d: s for d, (s, _) in docs.items()}
        check(have == want, f"documents of {c.id}: replay {sorted(want.items())[:4]}..., "
              f"found {sorted(have.items())[:4]}... (differ on "
              f"{sorted(set(have.items()) ^ set(want.items()))[:4]})")
        r = client.get(f"{CONNECTORS}/{c.id}/checkpoint", check=False)
        got = r.json["checkpoint"]["checkpoint_data"] if r.status == 200 else None
        check(got == ckpt, f"checkpoint of {c.id}: replay {ckpt!r}, found {got!r}")
        sample = ended[-3:] + ([random.choice(ended[:-3])] if len(ended) > 3 else [])
        for jid in sample:
            unseen = set(self.documents(client, c, not_seen_by_job=jid))
            exp = {d for d, (_, last) in docs.items() if last != jid}
            either = {d for d, (_, last) in docs.items() if isinstance(last, frozenset)}
            unseen, exp = unseen - either, exp - either  # DynamoDB's uncounted prefixes
            check(unseen == exp, f"not_seen_by_job={jid} on {c.id}: listed {sorted(unseen)}, "
                  f"last put by others {sorted(exp)} (extra {sorted(unseen - exp)}, "
                  f"missing {sorted(exp - unseen)})")
            self.stats["listings"] += 1

    def summary(self):
        s = self.stats
        return (f"docstats: {s['jobs']} jobs wrote with their own keys ({s['job_writes']} "
                f"acknowledged writes, {s['job_cut']} cut off: {s['job_cut_applied']} counted with "
                f"their effect, {s['job_cut'] - s['job_cut_applied']} neither"
                + (f"; DynamoDB: {len(self.uncounted_jobs)} uncounted with some effect, {s['op_partly']} "
                   f"operator puts partly" if DYNAMO else "") + f"), {s['op_puts']} "
                f"operator puts, stats exact and {s['listings']} not-seen listings right")


def apply_write(w, jid, docs, counts, ckpt):
    """Applies one of jid's writes to docs and counts; returns the checkpoint."""
    if w["op"] == "put":
        for d, s in w["docs"].items():
            old = docs.get(d)
            key = "documents_added" if old is None else (
                "documents_unchanged" if old[0] == s else "documents_updated")
            counts[key] += 1
            docs[d] = (s, jid)
    elif w["op"] == "delete":
        for d in w["ids"]:
            if docs.pop(d, None) is not None:
                counts["documents_deleted"] += 1
    else:
        counts["checkpoint_puts"] += 1
        return w["data"]
    return ckpt


class Driver(threading.Thread):
    """Starts jobs on one connector, one after another, and between them
    sometimes puts documents with the operator's key, until the kill."""

    def __init__(self, ds, conn, port, rng, stop, killed):
        super().__init__(daemon=True)
        self.ds, self.c, self.rng = ds, conn, rng
        self.stopped, self.killed = stop, killed
        self.client = ds.client(port)
        self.error = None

    def run(self):
        try:
            while not self.stopped.is_set():
                self.step()
        except self.ds.cut_off:
            pass  # the kill; what was in flight is recorded
        except BaseException as e:  # noqa: B902 - reported by run.py
            self.error = e
        finally:
            self.client.close()

    def cut(self, what, e):
        check(self.killed.is_set(), f"{what} on {self.c.id} failed while ccfd ran: {e!r}")

    def step(self):
        c = self.c
        if c.live is not None:
            job = self.client.get(f"{CONNECTORS}/{c.id}/jobs/{c.live}", check=False)
            check(job.status == 200, f"get job {c.live} answered {job.status}")
            if job.json["job"]["status"] in TERMINAL:
                if DYNAMO:  # before anything else writes here
                    c.after[c.live] = self.ds.observe(self.client, c)
                c.live = None
            else:
                time.sleep(0.05)
            return
        if self.rng.random() < 0.3:
            self.operator_put()
        self.start_job()

    def operator_put(self):
        c, n = self.c, self.ds.next()
        s = f"op-{self.ds.seed:x}-{n:08d}".ljust(64, "~")
        docs = {d: s for d in self.rng.sample(POOL, self.rng.randint(1, 5))}
        c.timeline.append(("op", docs, None))
        try:
            r = self.client.post(f"{CONNECTORS}/{c.id}/documents",
                                 {"documents": [{"document_id": d, "checksum": s} for d in docs]})
        except self.ds.cut_off as e:
            self.cut("operator put", e)
            raise
        check(r.status == 202, f"operator put on {c.id} answered {r.status}")
        c.timeline[-1] = ("op", docs, True)
        self.ds.stats["op_puts"] += 1

    def start_job(self):
        c = self.c
        env = [{"name": "DS_SEED", "value": str(self.rng.getrandbits(32))}]
        c.pending_start = True
        try:
            r = self.client.post(f"{CONNECTORS}/{c.id}/jobs", {"environment": env})
        except self.ds.cut_off as e:
            self.cut("start", e)
            raise
        check(r.status == 201, f"start on {c.id} answered {r.status}: {r.body[:200]!r}")
        c.pending_start = False
        c.live = r.json["job"]["job_id"]
        c.timeline.append(("job", c.live))
        self.ds.stats["jobs"] += 1
