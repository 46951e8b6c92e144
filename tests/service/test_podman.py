"""The podman executor beyond the shared job tests (test_job_runs.py runs
those on podman too): the runtime's memory limit, the exact environment
inside the container, stop ending the whole container, and containers
removed once their outcome is recorded. A real podman, on the throw-away
configuration of scripts/podman-env.sh."""

import os
import subprocess
import time

import pytest

from test_job_runs import IMAGE_MAP, TEST_IMAGE_URI, TERMINAL, logs, wait_job


@pytest.fixture
def pod(ccfd_factory, podman_env, monkeypatch):
    for k, v in podman_env.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("CCF_TEST_HOST_SECRET", "must-not-leak")
    return ccfd_factory(extra_args=["--stop-grace", "2", "--executor", "podman,local",
                                    "--image-map", IMAGE_MAP])


def props(script, **kw):
    p = {"image_uri": TEST_IMAGE_URI, "command": ["/bin/sh", "-c", script]}
    p.update(kw)
    return p


def containers(env, running=False):
    out = subprocess.run(["podman", "ps", *([] if running else ["-a"]), "--format", "{{.Names}}"],
                         capture_output=True,
                         text=True, env={**os.environ, **env}, timeout=60)
    assert out.returncode == 0, out.stderr  # an empty answer must mean "none", not "podman failed"
    return out.stdout.split()


def wait_running(env, names, timeout=60.0):
    """RUNNING means `podman run` has started, not that its container exists:
    under load creating it takes seconds. Wait until every one is up."""
    deadline = time.monotonic() + timeout
    while not set(names) <= set(containers(env, running=True)):
        assert time.monotonic() < deadline, f"{names} never ran"
        time.sleep(0.2)


def gone(env, name, timeout=15.0):
    """The container is removed right after its outcome is recorded."""
    deadline = time.monotonic() + timeout
    while name in containers(env):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_memory_over_the_limit_is_killed_and_said_so(pod, podman_env):
    c = pod.client
    # tail keeps the last line of a file without newlines: it grows till killed.
    cid = c.create_connector(container_properties=props(
        "tail /dev/zero", resource_requirements={"cpu": 1, "memory": 1024}))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=60)
    assert job["status"] == "FAILED" and job["exit_code"] == 137, job
    assert "out of memory" in job["failure_reason"] and "1024 MiB" in job["failure_reason"], job


def test_environment_is_exact_inside_the_container(pod, podman_env):
    c = pod.client
    cid = c.create_connector(container_properties=props("env | sort", environment=[
        {"name": "K", "value": "v w"}]))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=60)
    assert job["status"] == "SUCCEEDED", job
    text = logs(c, cid, jid).body.decode()
    names = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line}
    assert "K=v w" in text and f"CUSTOM_CONNECTOR_JOB_ID={jid}" in text, text
    assert "AWS_SECRET_ACCESS_KEY" in names and "AWS_SESSION_TOKEN" in names, text
    assert "CCF_TEST_HOST_SECRET" not in names and "must-not-leak" not in text, text
    # What the runtime itself adds may appear (SCALE.md); nothing else.
    allowed_extra = {"HOSTNAME", "container", "TERM", "SHLVL", "PWD", "HOME", "PATH"}
    assert names - allowed_extra <= {
        "CUSTOM_CONNECTOR_JOB_ID", "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID",
        "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN",
        "CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ARN_PREFIX", "AWS_REGION",
        "CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN", "K"}, names
    assert gone(podman_env, f"ccf-{jid}-1"), "removed once the outcome is recorded"


def test_stop_ends_the_whole_container(pod, podman_env):
    c = pod.client
    cid = c.create_connector(container_properties=props(
        "sleep 300 & sleep 300 & wait"))["connector_id"]
    jid = c.start_job(cid)["job_id"]
    wait_job(c, cid, jid, {"RUNNING"}, timeout=60)
    name = f"ccf-{jid}-1"
    deadline = time.monotonic() + 15
    while name not in containers(podman_env):
        assert time.monotonic() < deadline, "no container"
        time.sleep(0.1)
    c.stop_job(cid, jid)
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=30)
    assert job["status"] == "STOPPED", job
    assert gone(podman_env, name)


def test_kill_9_of_ccfd_while_containers_run(ccfd_factory, podman_env, monkeypatch):
    """kill -9 of ccfd with two containers running: one ends while ccfd is
    down, one runs on; after a restart each ends with its true outcome and
    both containers are removed."""
    for k, v in podman_env.items():
        monkeypatch.setenv(k, v)
    flags = ["--stop-grace", "2", "--executor", "podman,local", "--image-map", IMAGE_MAP]
    s = ccfd_factory(extra_args=flags)
    c = s.client
    ends = c.create_connector(container_properties=props("sleep 2; exit 7"))["connector_id"]
    runs = c.create_connector(container_properties=props("sleep 300"))["connector_id"]
    je, jr = c.start_job(ends)["job_id"], c.start_job(runs)["job_id"]
    for cid, jid in ((ends, je), (runs, jr)):
        wait_job(c, cid, jid, {"RUNNING"}, timeout=60)
    # Both containers up before the kill: the test is about what outlives ccfd.
    # The short one may already be gone if its 2 s passed while podman started the other.
    wait_running(podman_env, [f"ccf-{jr}-1"])
    data = s.data_dir
    s.kill()
    deadline = time.monotonic() + 30
    while f"ccf-{je}-1" in containers(podman_env, running=True):
        assert time.monotonic() < deadline, "the container went on after its command ended"
        time.sleep(0.2)
    assert f"ccf-{jr}-1" in containers(podman_env, running=True), "it must run on without ccfd"
    s2 = ccfd_factory(data_dir=data, extra_args=flags)
    c2 = s2.client
    job, _ = wait_job(c2, ends, je, TERMINAL, timeout=60)
    assert job["status"] == "FAILED" and job["exit_code"] == 7, job
    assert job["failure_reason"] == "exited with code 7", job
    assert gone(podman_env, f"ccf-{je}-1")
    assert c2.get_job(runs, jr)["status"] == "RUNNING"
    c2.stop_job(runs, jr)
    job, _ = wait_job(c2, runs, jr, TERMINAL, timeout=60)
    assert job["status"] == "STOPPED", job
    assert gone(podman_env, f"ccf-{jr}-1")
    for cid in (ends, runs):
        assert c2.get_connector(cid)["status"] == "AVAILABLE"
