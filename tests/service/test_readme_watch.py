"""README.md's "Watch it" section, run as written (issue 13: "the README's
"Watch it" section works as written"): every sh block, the scrape config
and the webhook receiver, against a ccfd started as `make run` would be
(the local executor, the data in ./var beside the shell's working
directory), with two substitutions only: the server's port for 8787 and a
free port for the receiver's 8000. The walk-through's ccfd allows private
webhook addresses, as its text says it must."""

import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SANITIZER_MARKS, TIMEOUT_SCALE
from clitest import base_env, ccf_binary

README = Path(__file__).resolve().parents[2] / "README.md"


def watch_it():
    text = README.read_text()
    start = text.index("\n## Watch it\n")
    return text[start:text.index("\n## ", start + 1)]


def blocks(section, lang):
    return re.findall(rf"^```{lang}\n(.*?)^```$", section, re.S | re.M)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_block(script, cwd, env, port, rport):
    """The block under bash with pipefail; each failing command is reported
    on stderr as `FAILED rc <cmd>` (an ERR trap), so that a step that fails
    is seen without stopping the ones the README runs after it."""
    script = script.replace("127.0.0.1:8787", f"127.0.0.1:{port}").replace(
        "127.0.0.1:8000", f"127.0.0.1:{rport}").replace("receiver.py 8000", f"receiver.py {rport}")
    prologue = "set -o pipefail\ntrap 'echo \"FAILED $? $BASH_COMMAND\" >&2' ERR\n"
    p = subprocess.run(["bash", "-c", prologue + script + "\nwait_then_kill\n"], cwd=cwd, env=env,
                       capture_output=True, text=True, timeout=120 * TIMEOUT_SCALE)
    assert not [m for m in SANITIZER_MARKS if m in p.stderr], p.stderr
    return p.stdout, p.stderr


# Appended to each block: a receiver the block started in the background
# is stopped once ccfd says the webhook's events were delivered.
EPILOGUE = """
wait_then_kill() {
    [ -n "$!" ] || return 0
    for _ in $(seq $((200 * ${SCALE:-1}))); do
        d=$(ccf webhook deliveries "$(echo "$WH" | jq -r .webhook.webhook_id)" --output json)
        echo "$d" | jq -e '.deliveries | length > 0 and all(.status == "DELIVERED")' >/dev/null && break
        sleep 0.1
    done
    sleep 1  # the ping, sent once and not recorded, has arrived by now
    kill "$!"
}
"""


def test_watch_it_works_as_written(ccfd_factory, tmp_path):
    for tool in ("jq", "promtool", "curl"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (scripts/deps.sh)")
    section = watch_it()
    sh = blocks(section, "sh")
    assert len(sh) == 4, "the section's sh blocks: metrics, events, webhooks, audit"
    srv = ccfd_factory(extra_args=["--executor", "local", "--webhook-allow-private"])
    work = tmp_path / "repo"
    work.mkdir()
    (work / "var").symlink_to(srv.data_dir)  # ccf finds ./var/credentials, as after make run
    build = Path(ccf_binary()).parent
    env = base_env(f"http://127.0.0.1:{srv.port}")
    env["HOME"] = str(work)
    env["SCALE"] = str(max(1, round(TIMEOUT_SCALE)))  # valgrind: the epilogue waits longer
    env["PATH"] = f"{build}:{env['PATH']}"
    (work / "receiver.py").write_text(blocks(section[section.index("### Webhooks"):], "python")[0])
    (work / "prometheus.yml").write_text(blocks(section, "yaml")[0])
    rport = free_port()

    def run(script):
        return run_block(EPILOGUE + script, work, env, srv.port, rport)

    # /readyz, /metrics, promtool; the scrape configuration.
    out, err = run(sh[0])
    assert "FAILED" not in err, err
    assert '{"status":"ok","leader":true}' in out, out
    assert 'ccf_build_info{version="' in out and "ccf_http_requests_total{" in out, out
    p = subprocess.run(["promtool", "check", "config", "prometheus.yml"], cwd=work,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    # Events: the list and a follow (stopped by the timeout after one event).
    cid = srv.client.create_connector(container_properties={"command": ["/bin/true"]})["connector_id"]
    listing, follow = sh[1].strip().splitlines()
    out, err = run(listing)
    assert "FAILED" not in err and "connector.created" in out and "next_cursor: " in err, (out, err)
    follow = follow.split("#")[0].strip()
    srv.client.start_job(cid)
    out, err = run(f"timeout {5 * TIMEOUT_SCALE:g} {follow} | head -1")
    assert '"type":"job.succeeded"' in out, (out, err)
    # Webhooks: create, the receiver, a job, a ping, the deliveries.
    out, err = run(sh[2])
    assert "FAILED" not in err, (out, err)
    printed = [x.split() for x in out.splitlines() if x.startswith("ev-")]
    types = [x[1] for x in printed]
    assert "job.succeeded" in types and "ping" in types, out
    assert '"type":"job.succeeded"' in out.replace(" ", ""), out  # the deliveries listed
    # Who did what: one write, one 409, the records and the refusals.
    time.sleep(0.1)
    out, err = run(sh[3])
    failed = [x for x in err.splitlines() if x.startswith("FAILED")]
    assert len(failed) == 1 and "ccf job start" in failed[0], err  # the 409, as the README says
    assert "ConflictException" in err, err
    refusals = [x for x in out.splitlines() if x.startswith('{"time"') and '"status":409' in x]
    assert len(refusals) >= 2, out  # in `ccf audit` and in the jq filter
