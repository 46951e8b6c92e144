"""Jobs that run: the orchestrator, the status handler and the local
executor, with real processes, against ccfds of their own (the session
server runs no jobs). Each test says which contract rule it proves."""

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from ccftest import ACCOUNT_ID, CONNECTORS, REGION, unique_name
from conftest import TIMEOUT_SCALE

TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}

# The same tests run on each backend (issue 14): on podman, each command
# runs in the test image (busybox; scripts/podman-env.sh), by image-map
# from an ECR URI, with the job's directory mounted at the same path.
BACKEND = {"name": "local"}
TEST_IMAGE_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-test:latest"
IMAGE_MAP = r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/ccf-test(:.*)?=localhost/ccf-test/busybox"
# The dir-sync example as an image (examples/dir-sync-image.sh).
DIR_SYNC_URI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/ccf-dir-sync:latest"
DIR_SYNC_MAP = r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/ccf-dir-sync(:.*)?=localhost/ccf-examples/dir-sync"
# What cannot hold inside a container as written (host pids, host paths).
LOCAL_ONLY = {
    "test_stop_a_running_job_kills_its_whole_group": "checks host pids; test_podman_stop_* instead",
    "test_environment_is_exact": "PATH and HOME differ in the image; test_podman_environment instead",
    "test_command_not_found_fails": "podman reports 127 differently",
    "test_image_only_connector_fails_with_a_reason": "podman runs image-only connectors",
}


@pytest.fixture(autouse=True, params=["local", "podman", "slurm"])
def backend(request, monkeypatch):
    """The backend every test of this file runs its jobs on (issue 14): the
    same tests for local processes, podman containers (the commands in the
    test image) and a one-node Slurm cluster (conftest.slurm_cluster)."""
    name = request.param
    if name == "podman":
        why = LOCAL_ONLY.get(request.node.originalname)
        if why:
            pytest.skip(f"local only: {why}")
        for k, v in request.getfixturevalue("podman_env").items():
            monkeypatch.setenv(k, v)
        flags = ["--executor", "podman,local", "--image-map", IMAGE_MAP, "--image-map", DIR_SYNC_MAP]
    elif name == "slurm":
        conf = request.getfixturevalue("slurm_cluster")
        flags = ["--executor", "slurm", "--slurm-conf", str(conf)]
    else:
        flags = ["--executor", "local"]
    BACKEND.update(name=name, flags=flags)
    yield name
    BACKEND.update(name="local", flags=[])
    if name == "slurm":
        # The cluster outlives each test's ccfd: a job a failed test left
        # behind would hold its CPUs and make the next tests wait.
        env = dict(os.environ, SLURM_CONF=str(conf))
        subprocess.run(["scancel", "--full", "--signal=KILL", "--user", str(os.getuid())],
                       env=env, capture_output=True, timeout=30)


@pytest.fixture
def ccfd_factory(ccfd_factory, backend):
    """Every ccfd of these tests runs its jobs on the backend of the run."""

    def make(*args, extra_args=(), **kw):
        return ccfd_factory(*args, extra_args=[*BACKEND["flags"], *extra_args], **kw)

    make.backend = backend
    return make


def whole_capacity(ccfd_factory):
    """resource_requirements that fill the capacity that --max-jobs 1 gives
    a local ccfd: on Slurm, every CPU of the one-node test cluster."""
    return {"cpu": os.cpu_count()} if ccfd_factory.backend == "slurm" else {}


def jobs_server(ccfd_factory, *flags, data_dir=None):
    extra = ["--stop-grace", "2"]
    return ccfd_factory(data_dir=data_dir, extra_args=[*extra, *flags])


def command_props(argv, timeout=None, environment=None, **rr):
    p = {"command": list(argv)}
    if BACKEND["name"] == "podman":
        p["image_uri"] = TEST_IMAGE_URI
    if timeout is not None:
        p["timeout"] = timeout
    if environment is not None:
        p["environment"] = environment
    if rr:
        p["resource_requirements"] = rr
    return p


def sh(script, **kw):
    return command_props(["/bin/sh", "-c", script], **kw)


def wait_job(client, cid, jid, statuses, timeout=20.0):
    """Polls the job until its status is one of statuses; returns it.
    timeout is a deadline, not a bound: it stretches with TIMEOUT_SCALE."""
    deadline = time.monotonic() + timeout * TIMEOUT_SCALE
    seen = []
    while True:
        job = client.get_job(cid, jid)
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] in statuses:
            return job, seen
        assert job["status"] not in TERMINAL, f"ended {job['status']}, wanted {statuses}: {job}"
        assert time.monotonic() < deadline, f"job stuck in {seen} (wanted {statuses}): {job}"
        time.sleep(0.02)


def job_home(server, jid):
    return Path(server.data_dir) / "jobs" / jid / "work"


def logs(client, cid, jid, **params):
    q = "&".join(f"{k}={v}" for k, v in params.items())
    target = f"{CONNECTORS}/{cid}/jobs/{jid}/logs" + (f"?{q}" if q else "")
    return client.get(target, check=False)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is not running; it only waits for its parent to reap it.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_exit_0_runs_then_succeeds_and_frees_the_connector(ccfd_factory):
    s = jobs_server(ccfd_factory)
    c = s.client
    cid = c.create_connector(container_properties=sh("sleep 0.3; echo done"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    _, seen = wait_job(c, cid, jid, {"RUNNING"})
    job, seen2 = wait_job(c, cid, jid, TERMINAL)
    assert job["status"] == "SUCCEEDED", job
    assert job["exit_code"] == 0 and "failure_reason" not in job, job
    assert "started_at" in job and "completed_at" in job, job
    assert job["started_at"] <= job["completed_at"], job
    assert c.get_connector(cid)["status"] == "AVAILABLE"
    assert "active_job_id" not in c.get_connector(cid)


def test_exit_3_fails_with_its_exit_code(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector(container_properties=sh("exit 3"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL)
    assert job["status"] == "FAILED" and job["exit_code"] == 3, job
    assert "3" in job["failure_reason"], job
    assert c.get_connector(cid)["status"] == "AVAILABLE"
    # A new job can start at once.
    jid2 = c.start_job(cid)["job_id"]
    assert wait_job(c, cid, jid2, TERMINAL)[0]["status"] == "FAILED"


def test_killed_by_signal_is_128_plus_n(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector(container_properties=sh("kill -9 $$"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL)
    assert job["status"] == "FAILED" and job["exit_code"] == 137, job


def test_stop_a_running_job_kills_its_whole_group(ccfd_factory):
    s = jobs_server(ccfd_factory)
    c = s.client
    script = "sleep 300 & echo $! > child; echo $$ > pid; wait"
    cid = c.create_connector(container_properties=sh(script))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    wait_job(c, cid, jid, {"RUNNING"})
    home = job_home(s, jid)
    deadline = time.monotonic() + 10
    while not ((home / "pid").exists() and (home / "child").exists()):
        assert time.monotonic() < deadline, "the job never wrote its pids"
        time.sleep(0.02)
    time.sleep(0.05)
    pids = [int((home / n).read_text()) for n in ("pid", "child")]
    assert all(alive(p) for p in pids)
    t0 = time.monotonic()
    c.stop_job(cid, jid)
    job, _ = wait_job(c, cid, jid, TERMINAL)
    took = time.monotonic() - t0
    assert job["status"] == "STOPPED", job
    assert job["failure_reason"] == "stopped on request", job
    # The grace is the job's; the rest is ccfd's latency (stretched under valgrind).
    assert took < 2 + 3 * TIMEOUT_SCALE, f"stop took {took:.1f}s with a 2 s grace period"
    deadline = time.monotonic() + 3
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(alive(p) for p in pids), "a process of the stopped job is still running"
    assert c.get_connector(cid)["status"] == "AVAILABLE"


def test_a_job_that_ignores_sigterm_is_killed_after_the_grace(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector(container_properties=sh("trap '' TERM; sleep 300"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    wait_job(c, cid, jid, {"RUNNING"})
    time.sleep(0.2)  # let the shell install its trap
    c.stop_job(cid, jid)
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=10)
    assert job["status"] == "STOPPED", job


def test_timeout_fails_the_job(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector(container_properties=sh("sleep 300", timeout=1))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=15)
    assert job["status"] == "FAILED", job
    assert job["failure_reason"] == "timed out after 1 s", job
    assert c.get_connector(cid)["status"] == "AVAILABLE"


def test_stop_before_it_ever_ran_ends_stopped_and_never_runs(ccfd_factory, tmp_path):
    s = jobs_server(ccfd_factory, "--max-jobs", "1")
    c = s.client
    blocker = c.create_connector(container_properties=sh("sleep 300", **whole_capacity(ccfd_factory)))[
        "connector_id"
    ]
    bjid = c.start_job(blocker)["job_id"]
    wait_job(c, blocker, bjid, {"RUNNING"})
    marker = tmp_path / "ran"
    cid = c.create_connector(container_properties=sh(f"touch {marker}"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    time.sleep(0.3)
    assert c.get_job(cid, jid)["status"] == "STARTED", "it must wait for capacity"
    c.stop_job(cid, jid)
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=5)
    assert job["status"] == "STOPPED" and "exit_code" not in job and "started_at" not in job, job
    assert c.get_connector(cid)["status"] == "AVAILABLE"
    c.stop_job(blocker, bjid)
    wait_job(c, blocker, bjid, TERMINAL)
    time.sleep(0.5)
    assert not marker.exists(), "a job stopped before it ran must never run"


def test_environment_is_exact(ccfd_factory):
    s = jobs_server(ccfd_factory)
    c = s.client
    env = [{"name": "SHARED", "value": "from-connector"}, {"name": "ONLY_CONNECTOR", "value": "c"}]
    cid = c.create_connector(container_properties=command_props(["env"], environment=env))[
        "connector_id"
    ]
    jid = c.start_job(cid, {"environment": [{"name": "SHARED", "value": "from job"},
                                            {"name": "MULTI", "value": "a\nb=c"}]})["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL)
    assert job["status"] == "SUCCEEDED", job
    r = logs(c, cid, jid)
    assert r.status == 200, r
    home = str(job_home(s, jid))
    expected = [
        f"CUSTOM_CONNECTOR_JOB_ID={jid}",
        f"CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID={cid}",
        f"CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN=arn:aws:ccf:{REGION}:{ACCOUNT_ID}:custom-connector/{cid}",
        f"CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN_PREFIX=arn:aws:ccf:{REGION}:{ACCOUNT_ID}",
        f"AWS_REGION={REGION}",
        f"CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT=http://127.0.0.1:{s.port}/",
        "PATH=/usr/local/bin:/usr/bin:/bin",
        f"HOME={home}",
        # The job's own key pair (auth = sigv4), checked by pattern below.
        "AWS_ACCESS_KEY_ID=",
        "AWS_SECRET_ACCESS_KEY=",
        "AWS_SESSION_TOKEN=",
        "ONLY_CONNECTOR=c",
        "SHARED=from job",
        "MULTI=a",
        "b=c",
    ]
    lines = r.body.decode().splitlines()
    if ccfd_factory.backend == "slurm":
        # SCALE.md: Slurm's own SLURM_* may appear, and Slurm hands the
        # environment over in an order of its own (docs/DECISIONS.md).
        lines = [ln for ln in lines if not re.match(r"SLURMD?_[A-Z_]*=", ln)]
        order = {e.split("=", 1)[0]: k for k, e in enumerate(expected)}
        lines.sort(key=lambda ln: order.get(ln.split("=", 1)[0], len(expected)))
    assert len(lines) == len(expected), lines
    for i, pattern in ((8, r"ASIA[A-Z2-7]{16}"), (9, r"[A-Za-z0-9+/]{40}"), (10, r"[A-Za-z0-9+/]{96}")):
        assert re.fullmatch(re.escape(expected[i]) + pattern, lines[i]), lines[i]
        lines[i] = expected[i]
    assert lines == expected


def test_logs_offsets_and_headers(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector(container_properties=sh("printf 0123456789; printf abc >&2"))[
        "connector_id"
    ]
    jid = c.start_job(cid)["job_id"]
    wait_job(c, cid, jid, TERMINAL)
    r = logs(c, cid, jid)
    assert r.status == 200 and r.header("Content-Type") == "text/plain; charset=utf-8", r
    assert r.body == b"0123456789abc", r
    assert r.header("x-ccf-log-size") == "13" and r.header("x-ccf-job-status") == "SUCCEEDED", r
    assert r.header("x-ccf-log-truncated") is None
    assert logs(c, cid, jid, offset=4, limit=3).body == b"456"
    assert logs(c, cid, jid, offset=-3).body == b"abc"
    assert logs(c, cid, jid, offset=13).body == b""
    for bad in ({"limit": 0}, {"limit": 1048577}, {"offset": "x"}, {"offset": ""}):
        r = logs(c, cid, jid, **bad)
        assert r.status == 400, r
    other = c.create_connector()["connector_id"]
    assert logs(c, other, jid).status == 404


def test_image_only_connector_fails_with_a_reason(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector()["connector_id"]  # image_uri, no command
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=5)
    assert job["status"] == "FAILED" and "image_uri" in job["failure_reason"], job
    assert c.get_connector(cid)["status"] == "AVAILABLE"


def test_job_larger_than_the_whole_capacity_fails_at_once(ccfd_factory):
    c = jobs_server(ccfd_factory, "--cpu-budget", "2").client
    cid = c.create_connector(container_properties=sh("true", cpu=4))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=5)
    assert job["status"] == "FAILED" and "capacity" in job["failure_reason"], job


def test_command_not_found_fails(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector(container_properties=command_props(["no-such-program-xyz"]))[
        "connector_id"
    ]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL)
    assert job["status"] == "FAILED" and job["exit_code"] == 127, job


def test_capacity_two_runs_at_most_two(ccfd_factory):
    # Observed through the API: each job logs when it starts and ends, on
    # the kernel's monotonic clock (/proc/uptime, the same in a container).
    c = jobs_server(ccfd_factory, "--max-jobs", "2").client
    # 2 s each, not 0.5: on a loaded machine (make test's parallel workers
    # beside CI's other lane) Slurm took longer than 0.5 s to start each
    # job, none overlapped, and the peak was 1 (the bound held; the test
    # could not show the second slot used).
    script = 'echo "start $(cut -d" " -f1 /proc/uptime)"; sleep 2; echo "end $(cut -d" " -f1 /proc/uptime)"'
    started = []
    for _ in range(5):
        cid = c.create_connector(container_properties=sh(script))["connector_id"]
        started.append((cid, c.start_job(cid)["job_id"]))
    events = []
    for cid, jid in started:
        job, _ = wait_job(c, cid, jid, TERMINAL, timeout=60)
        assert job["status"] == "SUCCEEDED", job
        for line in logs(c, cid, jid).body.decode().splitlines():
            kind, t = line.split()
            events.append((float(t), 1 if kind == "start" else -1))
    events.sort(key=lambda e: (e[0], e[1]))
    level = peak = 0
    for _, d in events:
        level += d
        peak = max(peak, level)
    assert len(events) == 10 and peak == 2, (peak, events)


def test_waiting_for_capacity_says_why_until_it_runs(ccfd_factory, tmp_path):
    if ccfd_factory.backend == "slurm":
        pytest.skip("max-jobs does not bound Slurm, whose capacity is the cluster's CPUs")
    s = jobs_server(ccfd_factory, "--max-jobs", "1")
    c = s.client
    blocker = c.create_connector(container_properties=sh("sleep 300"))["connector_id"]
    bjid = c.start_job(blocker)["job_id"]
    wait_job(c, blocker, bjid, {"RUNNING"}, timeout=60)
    cid = c.create_connector(container_properties=sh("echo ran"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    want = "waiting for capacity: 1 of 1 jobs running (pool machine)"
    deadline = time.monotonic() + 10
    while (job := c.get_job(cid, jid)).get("status_reason") != want:
        assert job["status"] == "STARTED" and time.monotonic() < deadline, job
        time.sleep(0.05)
    assert "status_reason" not in c.get_job(blocker, bjid)
    listed = c.get(f"{CONNECTORS}/{cid}/jobs").json["jobs"][0]
    assert listed["status_reason"] == want, listed
    # libccf and the CLI show it too.
    from clitest import run_ccf

    ep = f"http://127.0.0.1:{s.port}"
    r = run_ccf(ep, "job", "get", cid, jid, "--output", "json", cwd=tmp_path, data_dir=s.data_dir)
    assert r.rc == 0 and r.json["job"]["status_reason"] == want, r
    r = run_ccf(ep, "job", "get", cid, jid, "--output", "table", cwd=tmp_path, data_dir=s.data_dir)
    assert r.rc == 0 and want in r.out, r
    c.stop_job(blocker, bjid)
    wait_job(c, blocker, bjid, TERMINAL, timeout=30)
    job, seen = wait_job(c, cid, jid, TERMINAL, timeout=60)
    assert job["status"] == "SUCCEEDED" and "status_reason" not in job, job
    # While it ran, it no longer said it waited.
    assert all("status_reason" not in j or j["status"] == "STARTED"
               for j in c.get(f"{CONNECTORS}/{cid}/jobs").json["jobs"])


def test_update_while_in_use_applies_to_the_next_job(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector(container_properties=sh("sleep 0.5; exit 1"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    wait_job(c, cid, jid, {"RUNNING"})
    r = c.put(f"{CONNECTORS}/{cid}", {"container_properties": {"command": ["/bin/true"]}})
    assert r.status == 200, r
    assert wait_job(c, cid, jid, TERMINAL)[0]["status"] == "FAILED"
    jid2 = c.start_job(cid)["job_id"]
    assert wait_job(c, cid, jid2, TERMINAL)[0]["status"] == "SUCCEEDED"


def test_sigkill_while_jobs_run_and_finish(ccfd_factory, tmp_path):
    s = jobs_server(ccfd_factory)
    c = s.client
    long_cid = c.create_connector(container_properties=sh("sleep 2; exit 0"))["connector_id"]
    fail_cid = c.create_connector(container_properties=sh("sleep 1; exit 5"))["connector_id"]
    stop_cid = c.create_connector(container_properties=sh("sleep 300"))["connector_id"]
    long_j = c.start_job(long_cid)["job_id"]
    fail_j = c.start_job(fail_cid)["job_id"]
    stop_j = c.start_job(stop_cid)["job_id"]
    for cid, jid in ((long_cid, long_j), (fail_cid, fail_j), (stop_cid, stop_j)):
        wait_job(c, cid, jid, {"RUNNING"})
    data = s.data_dir
    s.kill()
    time.sleep(2.5)  # the first two end while ccfd is down
    s2 = jobs_server(ccfd_factory, data_dir=data)
    c2 = s2.client
    assert wait_job(c2, long_cid, long_j, TERMINAL)[0]["status"] == "SUCCEEDED"
    job, _ = wait_job(c2, fail_cid, fail_j, TERMINAL)
    assert job["status"] == "FAILED" and job["exit_code"] == 5, job
    # The job that still runs was re-adopted: it can be stopped.
    assert c2.get_job(stop_cid, stop_j)["status"] == "RUNNING"
    c2.stop_job(stop_cid, stop_j)
    assert wait_job(c2, stop_cid, stop_j, TERMINAL)[0]["status"] == "STOPPED"
    for cid in (long_cid, fail_cid, stop_cid):
        assert c2.get_connector(cid)["status"] == "AVAILABLE"


def test_sigkill_with_queued_jobs_runs_them_after_restart(ccfd_factory):
    s = jobs_server(ccfd_factory, "--max-jobs", "1")
    c = s.client
    first = c.create_connector(container_properties=sh("sleep 1", **whole_capacity(ccfd_factory)))[
        "connector_id"
    ]
    second = c.create_connector(container_properties=sh("true"))["connector_id"]
    j1 = c.start_job(first)["job_id"]
    wait_job(c, first, j1, {"RUNNING"})
    j2 = c.start_job(second)["job_id"]
    data = s.data_dir
    s.kill()
    s2 = jobs_server(ccfd_factory, "--max-jobs", "1", data_dir=data)
    c2 = s2.client
    assert wait_job(c2, first, j1, TERMINAL)[0]["status"] == "SUCCEEDED"
    assert wait_job(c2, second, j2, TERMINAL)[0]["status"] == "SUCCEEDED"


def test_list_jobs_newest_first_across_runs(ccfd_factory):
    c = jobs_server(ccfd_factory).client
    cid = c.create_connector(container_properties=sh("true"))["connector_id"]
    ids = []
    for _ in range(5):
        jid = c.start_job(cid)["job_id"]
        wait_job(c, cid, jid, TERMINAL)
        ids.append(jid)
    items, pages, _ = c.list_all(f"{CONNECTORS}/{cid}/jobs", "jobs", max_results=2)
    assert [j["job_id"] for j in items] == ids[::-1]
    assert len(pages) == 3
    items, _, _ = c.list_all(f"{CONNECTORS}/{cid}/jobs", "jobs", max_results=2, status="SUCCEEDED")
    assert len(items) == 5
    items, _, _ = c.list_all(f"{CONNECTORS}/{cid}/jobs", "jobs", status="FAILED")
    assert items == []


def test_example_dir_sync_connector_sends_only_changes(ccfd_factory, tmp_path, monkeypatch):
    import hashlib

    from conftest import REPO

    src = tmp_path / "src"
    if BACKEND["name"] == "podman":
        out = subprocess.run([str(REPO / "examples" / "dir-sync-image.sh")], capture_output=True,
                             text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        # containers.conf's volumes: every container of this ccfd sees src.
        conf = tmp_path / "containers.conf"
        text = Path(os.environ["CONTAINERS_CONF"]).read_text()
        conf.write_text(text.replace("[containers]\n", f'[containers]\nvolumes = ["{src}:{src}:ro"]\n', 1))
        monkeypatch.setenv("CONTAINERS_CONF", str(conf))
    s = jobs_server(ccfd_factory)
    c = s.client
    (src / "sub").mkdir(parents=True)
    for name, text in (("a.txt", "alpha"), ("b.txt", "beta"), ("sub/c.txt", "gamma"), ("é ü.txt", "x")):
        (src / name).write_text(text)
    script = str(REPO / "examples" / "dir-sync.sh")
    env = [{"name": "SYNC_DIR", "value": str(src)}]
    if BACKEND["name"] == "podman":
        # The example as an image, its command the image's own; the
        # directory reaches it as podman's configuration says (a volume).
        props = {"image_uri": DIR_SYNC_URI, "environment": env,
                 "execution_role_arn": "arn:aws:iam::123456789012:role/ccf-exec",
                 "job_role_arn": "arn:aws:iam::123456789012:role/ccf-job"}
    else:
        props = command_props([script], environment=env)
    cid = c.create_connector(container_properties=props)["connector_id"]

    def run():
        jid = c.start_job(cid)["job_id"]
        job, _ = wait_job(c, cid, jid, TERMINAL, timeout=30)
        out = logs(c, cid, jid).body.decode()
        assert job["status"] == "SUCCEEDED", (job, out)
        return out

    def stored():
        items, _, _ = c.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)
        return {d["document_id"]: d["checksum"] for d in items}

    def expected():
        return {
            str(p.relative_to(src)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in src.rglob("*")
            if p.is_file()
        }

    assert "4 files, put 4, deleted 0" in run()
    assert stored() == expected()
    first = c.get_checkpoint(cid)
    (src / "a.txt").write_text("alpha 2")
    (src / "b.txt").unlink()
    (src / "d.txt").write_text("delta")
    assert "4 files, put 2, deleted 1" in run()
    assert stored() == expected()
    assert "4 files, put 0, deleted 0" in run()
    cp = c.get_checkpoint(cid)
    assert cp["created_at"] == first["created_at"] and '"files":4' in cp["checkpoint_data"]
