"""The crash test's DynamoDB side (CRASH_STORE=dynamodb, make crash-dynamo):
ccfd's store is a fresh table prefix per data directory on the dynalite
(or DynamoDB) that CCF_TEST_DYNAMO_ENDPOINT names (scripts/with-dynalite.sh
starts one), kept across restarts; the checks that read the store while
ccfd is down Scan its tables (boto3, ConsistentRead, every page) and map
the items to the rows SQL gives on the other stores, with what the next
start's recovery and readers will make of what a kill left half-done
(src/store/dynamodb/: connectors.c's recover, changes.c's and audit.c's
settling of pending records). No copy is needed: nothing writes the tables
while ccfd is down (a job's own calls go through ccfd)."""

import os
from pathlib import Path

REGION = "us-east-1"
KEYS = {"AWS_ACCESS_KEY_ID": "AKIDCRASHTESTS", "AWS_SECRET_ACCESS_KEY": "crash-tests"}
JOB_STATUS = {"STARTED": 0, "RUNNING": 1, "STOPPING": 2, "SUCCEEDED": 3, "FAILED": 4, "STOPPED": 5}


def enabled():
    return os.environ.get("CRASH_STORE", "sqlite") == "dynamodb"


def _endpoint():
    ep = os.environ.get("CCF_TEST_DYNAMO_ENDPOINT")
    if not ep:
        raise RuntimeError("CRASH_STORE=dynamodb needs CCF_TEST_DYNAMO_ENDPOINT "
                           "(run it under scripts/with-dynalite.sh)")
    return ep


def prefix(data):
    """The table prefix of data directory `data`: made on first use, kept
    across ccfd's restarts on that directory."""
    marker = Path(data) / ".dynamo-prefix"
    if marker.exists():
        return marker.read_text().strip()
    name = "crash-" + os.urandom(6).hex()
    Path(data).mkdir(parents=True, exist_ok=True)
    marker.write_text(name)
    return name


def store_args(data):
    if not enabled():
        return []
    return ["--store", f"dynamodb://{prefix(data)}?region={REGION}&endpoint={_endpoint()}",
            "--store-experimental"]


def env():
    """The store signs its requests with the environment's keys (dynalite
    checks that they are signed, not by whom)."""
    return {k: os.environ.get(k, v) for k, v in KEYS.items()} if enabled() else {}


class Tables:
    """Every item of data's tables, read once (Scan, ConsistentRead)."""

    def __init__(self, data):
        import boto3  # python3-boto3 (Debian): only this store's run needs it
        from boto3.dynamodb.types import TypeDeserializer

        keys = env()
        self.ddb = boto3.client("dynamodb", endpoint_url=_endpoint(), region_name=REGION,
                                aws_access_key_id=keys["AWS_ACCESS_KEY_ID"],
                                aws_secret_access_key=keys["AWS_SECRET_ACCESS_KEY"])
        self.des = TypeDeserializer()
        self.prefix = prefix(data)

    def scan(self, suffix):
        out, start = [], None
        while True:
            kw = {"TableName": self.prefix + suffix, "ConsistentRead": True}
            if start:
                kw["ExclusiveStartKey"] = start
            try:
                r = self.ddb.scan(**kw)
            except self.ddb.exceptions.ResourceNotFoundException:
                return []  # not made yet (ccfd makes them at open)
            out += [{k: self.des.deserialize(v) for k, v in it.items()} for it in r["Items"]]
            start = r.get("LastEvaluatedKey")
            if not start:
                return out


def _n(v):
    return int(v) if v is not None else None


class Snapshot:
    """The store as the next start will see it, as rows:

    - connectors: (id, status, active_job_id, pending): pending says that
      the item carries what recovery needs to write its job (pending_*);
    - jobs: (id, connector_id, status number, seqs);
    - job_changes: (job_id, old_status, new_status, type, detail) of every
      job change that landed, in seq order: committed records, and pending
      ones whose seq the job item holds (its write landed: the reader will
      commit it); a pending record whose write did not land is left out
      (the reader then does that write itself, or voids it: either way the
      next snapshot sees the outcome); those are kept in `unlanded`;
    - audit: (request_id, operation, status, principal_job, connector_id,
      settled_500) of the records with a tenant: committed ones as they
      are, pending ones as the reader will commit them (500,
      InternalFailure: their writer died); a pending record with no tenant
      will be voided and is left out;
    - orphans: connector ids with jobs, documents or checkpoints but no
      connector item (a delete's cascade cut off);
    - bad: what breaks the log's own rules (a void record the job holds,
      a committed one it does not)."""

    def __init__(self, data):
        t = Tables(data)
        self.bad = []
        self.connectors = [(c["id"], _n(c["status"]), c.get("active_job_id"),
                            "pending_created_at" in c) for c in t.scan("-connectors")]
        jobs = t.scan("-jobs")
        self.jobs = [(j["job_id"], j["connector_id"], JOB_STATUS[j["status"]],
                      {int(s) for s in j.get("seqs", ())}) for j in jobs]
        seqs = {j[0]: j[3] for j in self.jobs}
        landed = []
        self.unlanded = set()  # (job id, new status) of pending records not landed
        for r in t.scan("-changes"):
            jid, ns = r.get("jid"), _n(r.get("ns"))
            if jid is None or ns is None or ns < 0:
                continue  # a gap's fence, or an event that is not a job change
            seq, st = int(r["seq"]), r["st"]
            held = seq in seqs.get(jid, ())
            if st == "v" and held:
                self.bad.append(f"job {jid} holds seq {seq}, a void record")
            if st == "c" and jid in seqs and not held:
                self.bad.append(f"job {jid} does not hold seq {seq}, a committed record")
            if st == "c" or (st == "p" and held):
                landed.append((seq, jid, _n(r["os"]), ns, r["type"], r["detail"]))
            elif st == "p":
                self.unlanded.add((jid, ns))
        self.job_changes = [row[1:] for row in sorted(landed)]
        self.audit = []
        for r in t.scan("-audit"):
            st = r.get("st")
            if st == "c" and r.get("tenant"):
                self.audit.append((r.get("rid", ""), r.get("op", ""), _n(r["status"]),
                                   r.get("pj", ""), r.get("cid", ""), False))
            elif st == "p" and r.get("ptenant"):
                self.audit.append((r.get("rid", ""), r.get("op", ""), 500, r.get("pj", ""),
                                   r.get("cid", ""), True))
        have = {c[0] for c in self.connectors}
        under = {j[1] for j in self.jobs}
        for suffix in ("-documents", "-checkpoints"):
            under |= {it["pk"].rsplit("#", 1)[1] for it in t.scan(suffix)}
        self.orphans = under - have

    def live(self, cid):
        return [j[0] for j in self.jobs if j[1] == cid and j[2] < 3]


def jobs_and_connectors(data):
    """After a restart (recovery done at open): job id -> status name, and
    connector id -> (status, active_job_id), read from the tables."""
    t = Tables(data)
    jobs = {j["job_id"]: j["status"] for j in t.scan("-jobs")}
    conns = {c["id"]: (_n(c["status"]), c.get("active_job_id")) for c in t.scan("-connectors")}
    return jobs, conns
