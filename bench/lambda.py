#!/usr/bin/python3
"""The Lambda bootstrap's figures (issue 18): cold start, per-event time and
peak RSS, under the tests' Runtime API stub. Never part of the tests.

  bench/lambda.py [--bootstrap build/bootstrap] [--runs N] [--events N]
  scripts/with-dynalite.sh bench/lambda.py --dynamodb   # also on dynalite

- cold start: from just before the process is spawned to its first
  GET .../invocation/next at the stub (the stub's clock), N runs, each on a
  fresh SQLite store in a temp dir (the store is opened and migrated
  within it), then N on a store an earlier start made, median and max;
  also the process's own CPU time by then (all threads, schedstat), which
  a loaded machine does not inflate as it does the wall time;
- per event: N API Gateway events of each kind, one after another, each
  timed from the stub queueing it to the function's answer arriving
  (round trip through the stub: an upper bound of the function's own time),
  median and p99;
- peak RSS: VmHWM of the process after the events;
- with --dynamodb (under scripts/with-dynalite.sh): the cold start also on
  the DynamoDB store at CCF_TEST_DYNAMO_ENDPOINT, its tables made by a
  first start, opened with tables=ensure (described one by one) and with
  tables=existing (the template's: not described);
- with --dynamodb --connectors N [--in-use K] [--before BOOTSTRAP]: only
  the store open's cost with N connectors in the table, K of them IN_USE
  (each with its job), tables=existing: the cold start's wall time of
  this bootstrap and of BEFORE (e.g. /work/main/build/bootstrap, an
  earlier version), interleaved, then one start of each through a
  counting proxy: its DynamoDB requests by action and the items they read
  (Scan's and Query's ScannedCount, GetItem's item), as DynamoDB bills
  reads. The connectors are written straight into the table
  (BatchWriteItem) as the store writes them.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "service"))

from dynproxy import DynamoProxy  # noqa: E402
from lambdastub import RuntimeStub, api_event  # noqa: E402

PROPS = {"image_uri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/c:1",
         "execution_role_arn": "arn:aws:iam::123456789012:role/exec",
         "job_role_arn": "arn:aws:iam::123456789012:role/job"}


STORE = None  # a dynamodb:// URL instead of a SQLite file in the run's temp dir


def spawn(binary, stub, d):
    env = {"AWS_LAMBDA_RUNTIME_API": stub.address, "AWS_REGION": "us-east-1",
           "CCF_STORE": STORE or f"sqlite:{d}/ccf.db", "CCF_LOG_LEVEL": "error"}
    if STORE:
        env.update(CCF_STORE_EXPERIMENTAL="true", AWS_ACCESS_KEY_ID="AKIDBENCH",
                   AWS_SECRET_ACCESS_KEY="bench")
    return subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def cpu_ms(pid):
    """CPU time of every thread of pid so far (schedstat's ns on CPU): what
    the start cost the process itself, whatever else the machine runs."""
    total = 0
    for t in Path(f"/proc/{pid}/task").iterdir():
        total += int((t / "schedstat").read_text().split()[0])
    return total / 1e6


def cold_start(binary, fresh=True):
    """(wall ms, CPU ms) from spawn to the first next; the store made by
    this start (fresh) or one an earlier start made (a warm /tmp)."""
    with tempfile.TemporaryDirectory() as d:
        if not fresh:
            stub = RuntimeStub()
            p = spawn(binary, stub, d)
            with stub.cond:
                stub.cond.wait_for(lambda: stub.next_calls > 0, timeout=30)
            stub.close()
            p.wait()
        stub = RuntimeStub()
        t0 = time.monotonic()
        p = spawn(binary, stub, d)
        with stub.cond:
            stub.cond.wait_for(lambda: stub.next_calls > 0, timeout=30)
            t1 = time.monotonic()
        cpu = cpu_ms(p.pid)  # blocked in next now: its start is all counted
        stub.close()
        p.wait()
        return (t1 - t0) * 1000, cpu


def timed(stub, ev):
    t0 = time.monotonic()
    out = stub.invoke(ev)
    assert out["statusCode"] < 300, out
    return (time.monotonic() - t0) * 1000


def per_event(binary, n):
    with tempfile.TemporaryDirectory() as d:
        stub = RuntimeStub()
        p = spawn(binary, stub, d)
        c = "/api/v1/custom-connectors"
        ct = [("Content-Type", "application/json")]
        times = {"CreateCustomConnector": [], "GetCustomConnector": [],
                 "ListCustomConnectors": [], "BatchPutDocuments(100)": []}
        cids = []
        for i in range(n):
            body = json.dumps({"name": f"b-{i}", "container_properties": PROPS}).encode()
            ev = api_event("POST", c, body, ct)
            t0 = time.monotonic()
            out = stub.invoke(ev)
            times["CreateCustomConnector"].append((time.monotonic() - t0) * 1000)
            cids.append(json.loads(out["body"])["connector"]["connector_id"])
        for cid in cids:
            times["GetCustomConnector"].append(timed(stub, api_event("GET", f"{c}/{cid}")))
        for _ in range(n):
            times["ListCustomConnectors"].append(timed(stub, api_event("GET", c + "?max_results=50")))
        docs = {"documents": [{"document_id": f"d{i}", "checksum": "x" * 64} for i in range(100)]}
        for cid in cids:
            ev = api_event("POST", f"{c}/{cid}/documents", json.dumps(docs).encode(), ct)
            times["BatchPutDocuments(100)"].append(timed(stub, ev))
        status = Path(f"/proc/{p.pid}/status").read_text()
        hwm = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
        stub.close()
        p.wait()
        return times, int(hwm)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", default=str(REPO / "build" / "bootstrap"))
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--dynamodb", action="store_true")
    ap.add_argument("--connectors", type=int, default=0)
    ap.add_argument("--in-use", type=int, default=5)
    ap.add_argument("--before", default=None)
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, {os.uname().release}, load average "
          f"{os.getloadavg()[0]:.2f}")
    if a.dynamodb and a.connectors:
        open_cost(a)
        return
    for fresh in (True, False):
        cs = [cold_start(a.bootstrap, fresh) for _ in range(a.runs)]
        wall, cpu = [c[0] for c in cs], [c[1] for c in cs]
        print(f"cold start (spawn -> first next), {'new' if fresh else 'existing'} store, "
              f"{a.runs} runs: wall median {statistics.median(wall):.1f} ms, max {max(wall):.1f} "
              f"ms; the process's CPU median {statistics.median(cpu):.1f} ms, max {max(cpu):.1f} ms")
    times, hwm = per_event(a.bootstrap, a.events)
    for k, v in times.items():
        v.sort()
        print(f"{k}: {len(v)} events, median {statistics.median(v):.2f} ms, "
              f"p99 {v[int(len(v) * 0.99) - 1]:.2f} ms (round trip through the stub)")
    print(f"peak RSS (VmHWM) after the events: {hwm / 1024:.1f} MiB")
    if a.dynamodb:
        dynamodb_cold_starts(a)


def dynamodb_cold_starts(a):
    global STORE
    base = (f"dynamodb://bench-{os.urandom(4).hex()}?region=us-east-1"
            f"&endpoint={os.environ['CCF_TEST_DYNAMO_ENDPOINT']}")
    STORE = base
    cold_start(a.bootstrap, fresh=False)  # makes the tables
    res = {"ensure": [], "existing": []}
    for _ in range(a.runs):  # interleaved: the machine's load falls on both alike
        for mode, r in res.items():
            STORE = f"{base}&tables={mode}"
            r.append(cold_start(a.bootstrap))
    for mode, cs in res.items():
        wall, cpu = [c[0] for c in cs], [c[1] for c in cs]
        print(f"cold start on dynalite, tables={mode}, {a.runs} runs: wall median "
              f"{statistics.median(wall):.1f} ms, max {max(wall):.1f} ms; the process's CPU "
              f"median {statistics.median(cpu):.1f} ms, max {max(cpu):.1f} ms")


# ---- --connectors: the open's cost with many connectors ----


class ReadCounter:
    """Counts each DynamoDB request by action and table, and the items its
    answer says it read (dynproxy.py in front of dynalite)."""

    def __init__(self, upstream):
        import threading

        self.calls, self.read = {}, 0
        self.lock = threading.Lock()
        self.proxy = DynamoProxy(upstream, self.observe)
        self.url = self.proxy.url

    def observe(self, action, body, answer):
        try:  # "Scan -connectors": the action and the table's suffix
            table = json.loads(body).get("TableName", "")
            action += " " + table[table.rfind("-"):]
            ans = json.loads(answer)
        except ValueError:
            ans = {}
        n = ans.get("ScannedCount", 0) + (1 if "Item" in ans else 0)
        with self.lock:
            self.calls[action] = self.calls.get(action, 0) + 1
            self.read += n

    def close(self):
        self.proxy.close()


def populate(endpoint, prefix, n, in_use):
    """n connector items of one tenant as connectors.c writes them, the
    first in_use of them IN_USE naming a job (written by the first open's
    recovery, as a start that died half-way)."""
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench")
    now = int(time.time() * 1e6)
    items = []
    for i in range(n):
        cid = f"cc-{os.urandom(6).hex()}"
        it = {"pk": {"S": "us-east-1#123456789012"}, "id": {"S": cid},
              "ck": {"S": f"{now + i:016x}:{cid}"}, "name": {"S": f"bench-{i}"},
              "properties": {"S": json.dumps(PROPS)}, "status": {"N": "0"},
              "created_at": {"N": str(now + i)}, "updated_at": {"N": str(now + i)},
              "version": {"N": "1"}, "schedule_anchor": {"N": "0"}, "next_run_at": {"N": "0"},
              "paused": {"BOOL": False}, "sched": {"S": "all"}}
        if i < in_use:
            it.update({"status": {"N": "1"}, "active_job_id": {"S": f"ccj-{os.urandom(6).hex()}"},
                       "pending_created_at": {"N": str(now)}, "pending_trigger": {"N": "1"},
                       "pending_env": {"S": ""}, "in_use": {"S": "u"}})
        items.append({"PutRequest": {"Item": it}})
    for i in range(0, n, 25):
        batch = {f"{prefix}-connectors": items[i:i + 25]}
        while batch:
            batch = ddb.batch_write_item(RequestItems=batch).get("UnprocessedItems")


def open_cost(a):
    global STORE
    endpoint = os.environ["CCF_TEST_DYNAMO_ENDPOINT"]
    prefix = f"bench-{os.urandom(4).hex()}"
    STORE = f"dynamodb://{prefix}?region=us-east-1&endpoint={endpoint}"
    cold_start(a.bootstrap, fresh=False)  # makes the tables (with this version's indexes)
    populate(endpoint, prefix, a.connectors, a.in_use)
    bins = {"this": a.bootstrap}
    if a.before:
        bins["before"] = a.before
    STORE += "&tables=existing"
    cold_start(a.bootstrap)  # recovery writes the K jobs: every later start finds them
    print(f"{a.connectors} connectors, {a.in_use} IN_USE, tables=existing; load average "
          f"{os.getloadavg()[0]:.2f}")
    res = {k: [] for k in bins}
    for _ in range(a.runs):  # interleaved: the machine's load falls on both alike
        for k, b in bins.items():
            res[k].append(cold_start(b))
    for k, cs in res.items():
        wall, cpu = [c[0] for c in cs], [c[1] for c in cs]
        print(f"  {k} ({bins[k]}), {a.runs} runs: wall median {statistics.median(wall):.1f} ms, "
              f"max {max(wall):.1f} ms; the process's CPU median {statistics.median(cpu):.1f} ms")
    direct = STORE
    for k, b in bins.items():
        proxy = ReadCounter(endpoint)
        STORE = direct.replace(endpoint, proxy.url)
        cold_start(b)
        proxy.close()
        calls = ", ".join(f"{n} {act}" for act, n in sorted(proxy.calls.items()))
        print(f"  {k}: requests {calls}; items read {proxy.read}")
    STORE = direct
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
