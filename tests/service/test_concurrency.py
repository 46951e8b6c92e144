"""Concurrent requests: atomic state changes, no lost updates, all-or-nothing
batches. (20 concurrent starts on one connector: test_jobs.py.)"""

import threading

from ccftest import CONNECTORS, Client, checksum, expect, expect_error, with_defaults


def run_together(server, client, calls, timeout=30):
    """Runs each call(c) in its own thread with its own connection, all
    released at once; returns their results in order."""
    n = len(calls)
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def worker(i):
        c = Client(server.port, ids=client.ids)
        try:
            c._connection().connect()
            barrier.wait(timeout=10)
            results[i] = calls[i](c)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(f"call {i}: {e!r}")
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    assert not errors, errors
    return results


def test_delete_and_start_race_has_one_winner(server, client):
    for _ in range(15):
        cid = client.create_connector()["connector_id"]
        d, s = run_together(
            server,
            client,
            [lambda c: c.delete(f"{CONNECTORS}/{cid}"), lambda c: c.post(f"{CONNECTORS}/{cid}/jobs")],
        )
        if d.status == 204:
            expect_error(s, 404)
            expect_error(client.get(f"{CONNECTORS}/{cid}"), 404)
            expect_error(client.get(f"{CONNECTORS}/{cid}/jobs"), 404)
        else:
            expect_error(d, 409)
            expect(s, 201)
            c = client.get_connector(cid)
            assert c["status"] == "IN_USE"
            jobs, _, _ = client.list_page(f"{CONNECTORS}/{cid}/jobs", "jobs")
            assert [j["job_id"] for j in jobs] == [s.json["job"]["job_id"]]


def test_concurrent_merge_patches_lose_nothing(server, client):
    base = {"command": ["run"], "resource_requirements": {"cpu": 1, "memory": 2048}, "timeout": 10}
    for _ in range(5):
        cid = client.create_connector(description="before", container_properties=base)["connector_id"]
        patches = [
            {"name": "renamed-concurrently"},
            {"description": "described concurrently"},
            {"container_properties": {"resource_requirements": {"cpu": 3}}},
            {"container_properties": {"resource_requirements": {"memory": 4096}}},
            {"container_properties": {"timeout": 99}},
            {"container_properties": {"command": ["other", "args"]}},
        ]
        results = run_together(
            server, client, [lambda c, p=p: c.put(f"{CONNECTORS}/{cid}", p) for p in patches]
        )
        for r in results:
            expect(r, 200)
        g = client.get_connector(cid)
        assert g["name"] == "renamed-concurrently"
        assert g["description"] == "described concurrently"
        assert g["container_properties"] == with_defaults(
            {"command": ["other", "args"], "resource_requirements": {"cpu": 3, "memory": 4096}, "timeout": 99}
        ), "a concurrent merge patch was lost"


def test_concurrent_batches_are_all_or_nothing(server, client):
    cid = client.create_connector()["connector_id"]
    ids = [f"doc-{i:04d}" for i in range(300)]
    writers = 8

    def put(k):
        docs = [{"document_id": d, "checksum": checksum(f"writer{k}-")} for d in ids]
        return lambda c: c.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs})

    for r in run_together(server, client, [put(k) for k in range(writers)]):
        expect(r, 202)
    docs, _, _ = client.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)
    assert [d["document_id"] for d in docs] == ids
    sums = {d["checksum"] for d in docs}
    assert len(sums) == 1, f"batches interleaved: {len(sums)} different writers' checksums in one final state"


def test_concurrent_puts_and_deletes_on_one_connector(server, client):
    cid = client.create_connector()["connector_id"]
    calls = []
    for k in range(10):
        docs = [{"document_id": f"k{k}-{i}", "checksum": checksum()} for i in range(50)]
        calls.append(lambda c, docs=docs: c.post(f"{CONNECTORS}/{cid}/documents", {"documents": docs}))
        calls.append(lambda c, k=k: c.delete(f"{CONNECTORS}/{cid}/documents", {"document_ids": [f"k{k}-0"]}))
    for r in run_together(server, client, calls):
        expect(r, 202)
    docs, _, _ = client.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)
    got = {d["document_id"] for d in docs}
    for k in range(10):
        assert {f"k{k}-{i}" for i in range(1, 50)} <= got


def test_concurrent_stops_are_idempotent(server, client):
    cid = client.create_connector()["connector_id"]
    jid = client.start_job(cid)["job_id"]
    results = run_together(
        server, client, [lambda c: c.post(f"{CONNECTORS}/{cid}/jobs/{jid}/stop") for _ in range(10)]
    )
    for r in results:
        expect(r, 202)
        assert r.json == {}
    assert client.get_job(cid, jid)["status"] == "STOPPING"


def test_concurrent_checkpoint_puts_keep_one_whole_value(server, client):
    cid = client.create_connector()["connector_id"]
    values = [f"{k}:" + str(k) * 100000 for k in range(8)]
    results = run_together(
        server, client, [lambda c, v=v: c.put(f"{CONNECTORS}/{cid}/checkpoint", {"checkpoint_data": v}) for v in values]
    )
    for r in results:
        expect(r, 202)
    cp = client.get_checkpoint(cid)
    assert cp["checkpoint_data"] in values


def test_concurrent_creates_get_distinct_ids_and_all_list(server, client):
    results = run_together(server, client, [lambda c: c.post(CONNECTORS, {
        "name": "concurrent-create", "container_properties": {"command": ["x"]}}) for _ in range(20)])
    ids = [expect(r, 201).json["connector"]["connector_id"] for r in results]
    assert len(set(ids)) == 20
    listed = [s for s in client.list_all(CONNECTORS, "connectors", max_results=100)[0] if s["connector_id"] in ids]
    assert len(listed) == 20
    keys = [(s["created_at"], s["connector_id"]) for s in listed]
    assert keys == sorted(keys)


def burst(server, client, n=24):
    """n concurrent writes of mixed kinds; every one must succeed."""
    cid = client.create_connector()["connector_id"]
    calls = []
    for i in range(n):
        if i % 3 == 0:
            calls.append(lambda c: c.post(CONNECTORS, {"name": "burst", "container_properties": {"command": ["x"]}}))
        elif i % 3 == 1:
            calls.append(lambda c, i=i: c.post(f"{CONNECTORS}/{cid}/documents", {
                "documents": [{"document_id": f"d{i}-{k}", "checksum": checksum(f"{i}{k}")} for k in range(50)]}))
        else:
            calls.append(lambda c, i=i: c.put(f"{CONNECTORS}/{cid}/checkpoint", {"checkpoint_data": f"cp{i}"}))
    for r in run_together(server, client, calls):
        assert r.status in (201, 202), r
    docs = client.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)[0]
    assert len(docs) == 50 * len([i for i in range(n) if i % 3 == 1])


def test_writes_run_on_any_number_of_writer_threads(ccfd_factory):
    # 0: writes run on the HTTP threads; 1: one writer, every batch of one.
    for writers in ("0", "1", "64"):
        s = ccfd_factory(extra_args=("--executor", "none", "--write-threads", writers))
        burst(s, s.client)
        s.stop()


def test_sigterm_during_a_burst_of_writes_answers_them(ccfd_factory):
    s = ccfd_factory(extra_args=("--executor", "none", "--synchronous", "FULL"))
    cid = s.client.create_connector()["connector_id"]
    results, stop = [], threading.Event()

    def writer(k):
        c = Client(s.port, ids=s.client.ids)
        i = 0
        while not stop.is_set():
            try:
                r = c.post(f"{CONNECTORS}/{cid}/documents",
                           {"documents": [{"document_id": f"w{k}-{i}", "checksum": checksum(f"{k}{i}")}]})
            except OSError:
                break  # the server closed the connection: it is stopping
            results.append((f"w{k}-{i}", r.status))
            i += 1
        c.close()

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    while len(results) < 200:
        threading.Event().wait(0.01)
    s.stop()  # SIGTERM: must exit 0 (the fixture checks), with writes in flight
    stop.set()
    for t in threads:
        t.join(10)
    # Every write answered 202 is there after a restart; the rest got 503.
    assert {st for _, st in results} <= {202, 503}, {st for _, st in results}
    s.start()
    stored = {d["document_id"] for d in s.client.list_all(f"{CONNECTORS}/{cid}/documents", "documents",
                                                          max_results=1000)[0]}
    acked = {doc for doc, st in results if st == 202}
    assert acked <= stored
