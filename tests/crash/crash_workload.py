"""The crash test's workload (run.py drives it): the workers' mixed
requests (connectors, documents, checkpoints, jobs, with and without client
tokens), each acknowledged or cut-off write noted in the World, and the
webhook whose receiver answers 500 now and then."""

import threading
import time

# crash_world first: it puts tests/service (ccftest) on the path.
import crash_world
from crash_world import (
    CONNECTORS_PER_WORKER,
    CUT_OFF,
    DOC_POOL,
    RETRY_STRATEGY,
    Conn,
    Job,
    Pending,
    check,
)
import webhook_receiver
from ccftest import ACCOUNT_ID, CONNECTORS, REGION, Client


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
        # Read at the call: replicas.py sets its own (runs counted in a shared dir).
        props = {"command": crash_world.JOB_COMMAND, "timeout": timeout}
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
