"""Webhooks (CONTRACT-OPS.md "Webhooks"): the operations, the signature,
ordered delivery with retries, isolation of slow receivers, delivery across
kill -9, and the private-address rule. Receivers run on loopback, so the
servers that deliver run with --webhook-allow-private; the rule itself is
tested on the session server, which runs without it."""

import re
import statistics
import time

import pytest

from ccftest import CONNECTORS, OTHER_ACCOUNT_ID, REGION, Client, account_key, expect_error, unique_name
from webhook_receiver import Receiver, verify

HOOKS = "/api/v1/webhooks"
ID_RE = re.compile(r"^wh-[0-9a-f]{12}$")
SECRET_RE = re.compile(r"^whsec_[A-Za-z0-9_-]{43}$")
# Retries 20 ms, 40 ms, 80 ms ... apart: the tests' backoff base.
FAST = ["--executor", "none", "--webhook-allow-private", "--webhook-retry-base-ms", "20"]


@pytest.fixture
def receivers():
    made = []

    def make(**kw):
        r = Receiver(**kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def hooked(ccfd_factory):
    """A server that may deliver to loopback, with fast retries."""
    return ccfd_factory(extra_args=FAST)


def create(c, url, status=201, **body):
    r = c.post(HOOKS, {"url": url, **body}, check=False)
    assert r.status == status, r
    return r.json.get("webhook") if status == 201 else r


def connector_events(c, n):
    """n events of one new connector: created, then n - 1 updates; its id."""
    cid = c.create_connector(name=unique_name())["connector_id"]
    for i in range(n - 1):
        c.put(f"{CONNECTORS}/{cid}", {"description": f"update {i:04d}"})
    return cid


def eventually(fn, timeout=10):
    """fn() until it returns something true (the receiver may get an event
    a moment before ccfd records that it was delivered); its last value."""
    deadline = time.monotonic() + timeout
    while not (v := fn()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return v


def all_delivered(c, wid):
    d = c.get(f"{HOOKS}/{wid}/deliveries").json["deliveries"]
    return d if all(x["status"] == "DELIVERED" for x in d) else None


def metrics_with(c, line):
    m = c.get("/metrics", check=False).body.decode()
    return m if line in m else None


def mine(evs, cid):
    return [e for e in evs if e.get("connector_id") == cid]


def test_create_get_list_delete(hooked):
    c = hooked.client
    w = create(c, "http://127.0.0.1:9/x", description="to the void")
    assert ID_RE.match(w["webhook_id"]) and SECRET_RE.match(w["secret"])
    assert w["event_types"] == ["*"] and w["url"] == "http://127.0.0.1:9/x"
    assert w["description"] == "to the void" and w["created_at"].endswith("Z")
    got = c.get(f"{HOOKS}/{w['webhook_id']}").json["webhook"]
    assert got == {k: v for k, v in w.items() if k != "secret"}
    typed = create(c, "http://127.0.0.1:9/y", event_types=["job.failed", "job.succeeded"])
    assert typed["event_types"] == ["job.failed", "job.succeeded"] and "description" not in typed
    listed = c.get(HOOKS).json["webhooks"]
    assert [x["webhook_id"] for x in listed] == [w["webhook_id"], typed["webhook_id"]]
    assert all("secret" not in x for x in listed)
    assert w["secret"] not in c.get(HOOKS).body.decode()
    r = c.delete(f"{HOOKS}/{w['webhook_id']}")
    assert r.status == 204
    expect_error(c.get(f"{HOOKS}/{w['webhook_id']}", check=False), 404,
                 f"Webhook {w['webhook_id']} not found")
    expect_error(c.delete(f"{HOOKS}/{w['webhook_id']}", check=False), 404)
    expect_error(c.get(f"{HOOKS}/wh-nothex", check=False), 404)
    expect_error(c.post(f"{HOOKS}/wh-000000000000/test", check=False), 404)


def test_paging_and_the_limit_of_20(hooked):
    c = hooked.client
    ids = [create(c, f"http://127.0.0.1:9/{i}")["webhook_id"] for i in range(20)]
    r = create(c, "http://127.0.0.1:9/21st", status=400)
    expect_error(r, 400)
    assert r.json["errorType"] == "LimitExceededException"
    seen, _, _ = c.list_all(HOOKS, "webhooks", max_results=7)
    assert [w["webhook_id"] for w in seen] == ids
    c.delete(f"{HOOKS}/{ids[0]}")
    create(c, "http://127.0.0.1:9/again")


@pytest.mark.parametrize("body,mentions", [
    ({}, "url"),
    ({"url": 5}, "url"),
    ({"url": "ftp://127.0.0.1/x"}, "http"),
    ({"url": "http://user:pw@127.0.0.1/x"}, "user"),
    ({"url": "http:///nohost"}, "url"),
    ({"url": "http://127.0.0.1/a b"}, "url"),
    ({"url": "http://127.0.0.1/" + "a" * 2100}, "url"),
    ({"url": "http://127.0.0.1/", "event_types": []}, "event_types"),
    ({"url": "http://127.0.0.1/", "event_types": ["job.done"]}, "event_types"),
    ({"url": "http://127.0.0.1/", "event_types": ["*", "job.failed"]}, "event_types"),
    ({"url": "http://127.0.0.1/", "event_types": ["job.failed,job.succeeded"]}, "event_types"),
    ({"url": "http://127.0.0.1/", "event_types": "job.failed"}, "event_types"),
    ({"url": "http://127.0.0.1/", "event_types": ["job.failed\u0000x"]}, "event_types"),
    ({"url": "http://127.0.0.1/\u0000x"}, "url"),
    ({"url": "http://127.0.0.1/", "description": ""}, "description"),
    ({"url": "http://127.0.0.1/", "description": "x" * 1001}, "description"),
    ({"url": "http://127.0.0.1/", "client_token": "bad token"}, "client_token"),
])
def test_bad_bodies_are_400(hooked, body, mentions):
    r = hooked.client.post(HOOKS, body, check=False)
    expect_error(r, 400, mentions=(mentions,))


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/",
    "http://localhost:8080/", "http://[::1]/", "http://0.0.0.0/", "https://192.168.1.1/",
    "http://172.16.0.1/", "http://100.64.0.1/", "http://[fe80::1]/", "http://[fd00::1]/",
    "http://[::ffff:127.0.0.1]/", "http://2130706433/",
])
def test_private_addresses_refused_without_the_flag(client, url):
    """The session server runs without --webhook-allow-private."""
    r = client.post(HOOKS, {"url": url}, check=False)
    expect_error(r, 400, mentions=("url",))


def test_signature_headers_and_body(hooked, receivers):
    c = hooked.client
    rcv = receivers()
    w = create(c, rcv.url)
    cid = connector_events(c, 1)
    rcv.wait_for(lambda evs: len(mine(evs, cid)) == 1)
    _, headers, body = rcv.got[0]
    assert verify(w["secret"], headers, body)
    assert not verify("whsec_" + "A" * 43, headers, body)
    assert headers["content-type"] == "application/json"
    assert headers["ccf-webhook-id"] == w["webhook_id"]
    ev = rcv.events()[0]
    assert headers["ccf-event-id"] == ev["event_id"]
    stream = c.get("/api/v1/events?types=connector.created").json["events"]
    assert ev in stream and ev["detail"]["connector_id"] == cid


def test_only_events_after_creation_and_of_its_types(hooked, receivers):
    c = hooked.client
    before = connector_events(c, 2)
    rcv = receivers()
    create(c, rcv.url, event_types=["connector.deleted"])
    cid = connector_events(c, 3)
    c.delete(f"{CONNECTORS}/{cid}")
    evs = rcv.wait_for(lambda evs: len(evs) >= 1)
    time.sleep(0.3)
    assert [e["type"] for e in rcv.events()] == ["connector.deleted"]
    assert evs[0]["connector_id"] == cid and not mine(rcv.events(), before)


def test_500_three_times_then_200_holds_later_events(hooked, receivers):
    c = hooked.client
    rcv = receivers(answers=[500, 500, 500])
    w = create(c, rcv.url)
    cid = connector_events(c, 3)
    evs = rcv.wait_for(lambda evs: len(mine(evs, cid)) >= 6)
    ids = [e["event_id"] for e in mine(evs, cid)]
    first, second, third = sorted(set(ids))
    assert ids == [first] * 4 + [second, third]
    d = eventually(lambda: all_delivered(c, w["webhook_id"]))
    by_id = {x["event_id"]: x for x in d}
    assert [x["event_id"] for x in d] == [third, second, first]  # newest first
    assert by_id[first]["status"] == "DELIVERED" and by_id[first]["attempts"] == 4
    assert by_id[first]["last_status_code"] == 200 and by_id[second]["attempts"] == 1
    m = eventually(lambda: metrics_with(c, 'ccf_webhook_deliveries_total{result="delivered"} 3'))
    assert m and 'ccf_webhook_deliveries_total{result="retried"} 3' in m


def test_failed_after_retry_for_then_the_next_goes(ccfd_factory, receivers):
    s = ccfd_factory(extra_args=FAST + ["--webhook-retry-for", "1"])
    c = s.client
    # 503 for the connector's creation, 200 for what follows.
    rcv = receivers(status_for=lambda ev: 503 if ev["type"] == "connector.created" else 200)
    w = create(c, rcv.url)
    cid = connector_events(c, 2)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        d = c.get(f"{HOOKS}/{w['webhook_id']}/deliveries").json["deliveries"]
        if [x["status"] for x in d] == ["DELIVERED", "FAILED"]:
            break
        time.sleep(0.1)
    assert [x["status"] for x in d] == ["DELIVERED", "FAILED"], d
    assert d[1]["attempts"] >= 2 and d[1]["last_status_code"] == 503
    assert len(mine(rcv.events(), cid)) == d[1]["attempts"] + 1
    # The deliverer counts the outcome right after recording it: the
    # FAILED read above may come first.
    assert eventually(lambda: metrics_with(c, 'ccf_webhook_deliveries_total{result="failed"} 1')), \
        c.get("/metrics", check=False).body.decode()


def test_a_receiver_that_never_answers_delays_neither_the_api_nor_another(ccfd_factory, receivers):
    s = ccfd_factory(extra_args=FAST + ["--webhook-timeout", "30"])
    c = s.client
    cid0 = c.create_connector(name=unique_name())["connector_id"]

    def p99_of_gets(n=200):
        times = []
        for _ in range(n):
            t = time.perf_counter()
            c.get(f"{CONNECTORS}/{cid0}")
            times.append(time.perf_counter() - t)
        return statistics.quantiles(times, n=100)[98]

    before = p99_of_gets()
    dead = receivers(hang=True)
    live = receivers()
    create(c, dead.url)
    create(c, live.url)
    cid = connector_events(c, 5)
    evs = live.wait_for(lambda evs: len(mine(evs, cid)) == 5, timeout=10)
    assert [e["detail"].get("description") for e in mine(evs, cid)][1:] == [
        f"update {i:04d}" for i in range(4)]
    during = p99_of_gets()
    assert len(dead.got) == 1  # its first event, still waiting for an answer
    print(f"GET p99 without a dead receiver {before * 1000:.2f} ms, with one {during * 1000:.2f} ms")
    assert during < max(10 * before, 0.25)  # grossly: nothing waits on the receiver


def test_kill9_mid_delivery_loses_no_event(ccfd_factory, receivers, tmp_path):
    s = ccfd_factory(extra_args=FAST)
    c = s.client
    rcv = receivers(delay=0.05)
    create(c, rcv.url)
    cid = connector_events(c, 40)
    rcv.wait_for(lambda evs: len(mine(evs, cid)) >= 5)
    s.kill()
    s.start()
    c = s.client
    evs = rcv.wait_for(lambda evs: len({e["event_id"] for e in mine(evs, cid)}) == 40, timeout=30)
    ids = [e["event_id"] for e in mine(evs, cid)]
    firsts = list(dict.fromkeys(ids))
    assert firsts == sorted(firsts)  # in order; a repeat only of what was in flight
    assert len(ids) - len(firsts) <= 2


def test_test_sends_a_ping_at_once(hooked, receivers):
    c = hooked.client
    rcv = receivers()
    w = create(c, rcv.url, event_types=["job.failed"])
    r = c.post(f"{HOOKS}/{w['webhook_id']}/test")
    assert r.status == 202
    evs = rcv.wait_for(lambda evs: len(evs) == 1, timeout=10)
    assert evs[0]["type"] == "ping" and "connector_id" not in evs[0]
    _, headers, body = rcv.got[0]
    assert verify(w["secret"], headers, body) and headers["ccf-event-id"] == evs[0]["event_id"]
    # Outside the event stream: not a delivery (DECISIONS.md, "Pings").
    assert c.get(f"{HOOKS}/{w['webhook_id']}/deliveries").json["deliveries"] == []


def test_tenants_are_isolated(hooked, receivers):
    c = hooked.client
    other = Client(hooked.port, ids=c.ids, credentials=account_key(OTHER_ACCOUNT_ID),
                   arn_prefix=f"arn:aws:ccf:{REGION}:{OTHER_ACCOUNT_ID}:custom-connector/")
    rcv = receivers()
    w = create(c, rcv.url)
    for path in (f"{HOOKS}/{w['webhook_id']}", f"{HOOKS}/{w['webhook_id']}/deliveries"):
        expect_error(other.get(path, check=False), 404)
    expect_error(other.delete(f"{HOOKS}/{w['webhook_id']}", check=False), 404)
    expect_error(other.post(f"{HOOKS}/{w['webhook_id']}/test", check=False), 404)
    assert other.get(HOOKS).json["webhooks"] == []
    theirs = other.create_connector(name=unique_name())["connector_id"]
    ours = connector_events(c, 1)
    rcv.wait_for(lambda evs: mine(evs, ours))
    time.sleep(0.2)
    assert not mine(rcv.events(), theirs)
    for _ in range(20):  # their own 20 are theirs
        create(other, "http://127.0.0.1:9/")


def test_client_token_replays_the_create(hooked):
    c = hooked.client
    a = create(c, "http://127.0.0.1:9/t", client_token="tok-1")
    b = create(c, "http://127.0.0.1:9/t", client_token="tok-1")
    assert a == b
    expect_error(c.post(HOOKS, {"url": "http://127.0.0.1:9/other", "client_token": "tok-1"},
                        check=False), 409, mentions=("client_token",))
    assert len(c.get(HOOKS).json["webhooks"]) == 1
    c.delete(f"{HOOKS}/{a['webhook_id']}")
    expect_error(c.post(HOOKS, {"url": "http://127.0.0.1:9/t", "client_token": "tok-1"},
                        check=False), 409, mentions=("deleted",))


def test_deliveries_paging(hooked, receivers):
    c = hooked.client
    rcv = receivers()
    w = create(c, rcv.url)
    cid = connector_events(c, 7)
    rcv.wait_for(lambda evs: len(mine(evs, cid)) == 7)
    assert eventually(lambda: all_delivered(c, w["webhook_id"]))
    got, _, _ = c.list_all(f"{HOOKS}/{w['webhook_id']}/deliveries", "deliveries", max_results=3)
    assert [x["event_id"] for x in got] == sorted(rcv.event_ids(), reverse=True)
    assert all(x["status"] == "DELIVERED" and x["attempts"] == 1 for x in got)
    r = c.get(f"{HOOKS}/{w['webhook_id']}/deliveries?next_token=bogus", check=False)
    expect_error(r, 400, mentions=("next_token",))


def test_cli_webhook_commands(hooked, receivers, tmp_path):
    from clitest import run_ccf

    def ccf(*args):
        return run_ccf(f"http://127.0.0.1:{hooked.port}", "--output", "json", *args, cwd=tmp_path,
                       data_dir=hooked.data_dir)

    rcv = receivers()
    r = ccf("webhook", "create", "--url", rcv.url, "--event-types", "connector.created,connector.deleted",
            "--description", "from the cli")
    assert r.rc == 0, r
    w = r.json["webhook"]
    assert SECRET_RE.match(w["secret"]) and w["event_types"] == ["connector.created", "connector.deleted"]
    got = ccf("webhook", "get", w["webhook_id"])
    assert got.rc == 0 and got.json["webhook"] == {k: v for k, v in w.items() if k != "secret"}
    listed = ccf("webhook", "list")
    assert [x["webhook_id"] for x in listed.json["webhooks"]] == [w["webhook_id"]]
    assert ccf("webhook", "test", w["webhook_id"]).rc == 0
    rcv.wait_for(lambda evs: any(e["type"] == "ping" for e in evs))
    cid = connector_events(hooked.client, 1)
    rcv.wait_for(lambda evs: mine(evs, cid))
    assert eventually(lambda: all_delivered(hooked.client, w["webhook_id"]))
    d = ccf("webhook", "deliveries", w["webhook_id"])
    assert d.rc == 0 and [x["status"] for x in d.json["deliveries"]] == ["DELIVERED"], d
    assert ccf("webhook", "delete", w["webhook_id"]).rc == 0
    gone = ccf("webhook", "get", w["webhook_id"])
    assert gone.rc == 1 and "ResourceNotFoundException" in gone.err
    bad = ccf("webhook", "get", "nope")
    assert bad.rc != 0


def readme_receiver():
    """The README's receiver, verbatim: the python block under "### Webhooks"."""
    from pathlib import Path
    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = text[text.index("### Webhooks"):]
    start = section.index("```python\n") + len("```python\n")
    return section[start:section.index("```", start)]


def test_readme_receiver_verifies_the_signature(hooked, tmp_path):
    import socket
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    script = tmp_path / "receiver.py"
    script.write_text(readme_receiver())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    c = hooked.client
    w = create(c, f"http://127.0.0.1:{port}/")
    proc = subprocess.Popen([sys.executable, str(script), str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True,
                            env={"WEBHOOK_SECRET": w["secret"], "PATH": "/usr/bin:/bin"})
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        forged = urllib.request.Request(f"http://127.0.0.1:{port}/", data=b'{"event_id":"x"}',
                                        headers={"ccf-signature": "t=1,v1=00"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(forged, timeout=5)
        assert e.value.code == 400
        cid = connector_events(c, 1)
        line = proc.stdout.readline().split()
        assert line[1:] == ["connector.created", cid], line
        assert eventually(lambda: all_delivered(c, w["webhook_id"]))
    finally:
        proc.terminate()
        proc.wait(10)


def test_clean_stop_with_a_ping_and_an_attempt_in_flight(hooked, receivers):
    """SIGTERM while a receiver holds an attempt and a ping: ccfd exits 0
    without waiting for them (and, under valgrind or ASan, frees what they
    held)."""
    c = hooked.client
    dead = receivers(hang=True)
    w = create(c, dead.url)
    connector_events(c, 1)
    c.post(f"{HOOKS}/{w['webhook_id']}/test")
    dead.wait_for(lambda evs: len(evs) == 2, timeout=10)
    hooked.stop()  # asserts exit status 0 and no sanitizer report


def test_a_host_name_is_resolved_and_pinned(hooked, receivers):
    """localhost goes through the resolver thread and the pinned addresses."""
    c = hooked.client
    rcv = receivers()
    w = create(c, f"http://localhost:{rcv.port}/hook")
    cid = connector_events(c, 2)
    rcv.wait_for(lambda evs: len(mine(evs, cid)) == 2)
    assert rcv.got[0][1]["host"] == f"localhost:{rcv.port}"
    assert eventually(lambda: all_delivered(c, w["webhook_id"]))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_private_address_refused_again_at_delivery(ccfd_factory, receivers, host):
    """A webhook made while private addresses were allowed: once the
    operator turns the flag off, each delivery is refused after
    resolution, and nothing reaches the receiver."""
    s = ccfd_factory(extra_args=FAST)
    rcv = receivers()
    w = create(s.client, f"http://{host}:{rcv.port}/hook")
    s.stop()
    s.extra_args = ["--executor", "none", "--webhook-retry-base-ms", "20"]
    s.start()
    c = s.client
    connector_events(c, 1)

    def refused():
        d = c.get(f"{HOOKS}/{w['webhook_id']}/deliveries").json["deliveries"]
        return d if d and d[-1]["attempts"] >= 2 else None

    d = eventually(refused)
    assert d and d[-1]["status"] == "PENDING" and "private" in d[-1]["last_error"], d
    assert "last_status_code" not in d[-1]
    assert rcv.got == []


def test_https_certificates_are_verified(ccfd_factory, receivers, tmp_path):
    """An https receiver whose certificate a test CA signed: refused
    (PENDING, a certificate error) without that CA, delivered with it in
    --webhook-ca-bundle."""
    import ssl

    from test_tls import PKI

    pki = PKI(tmp_path / "pki")
    cert, key = pki.leaf("receiver")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    rcv = receivers(ssl_context=ctx)
    for bundle, delivered in (([], False), (["--webhook-ca-bundle", str(pki.ca)], True)):
        s = ccfd_factory(extra_args=FAST + bundle)
        c = s.client
        w = create(c, rcv.url)
        cid = connector_events(c, 1)
        if delivered:
            rcv.wait_for(lambda evs: mine(evs, cid))
            assert eventually(lambda: all_delivered(c, w["webhook_id"]))
        else:
            def refused():
                d = c.get(f"{HOOKS}/{w['webhook_id']}/deliveries").json["deliveries"]
                return d if d and d[0]["attempts"] >= 1 else None

            d = eventually(refused)
            assert d and d[0]["status"] == "PENDING" and "certificate" in d[0]["last_error"].lower(), d
            assert not mine(rcv.events(), cid)
        s.stop()
