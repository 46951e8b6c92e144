"""README.md's "Run several replicas" section, run as written (issue 15:
"README's "Run several replicas" runs as written, nginx in front
included"): its sh blocks, one after the other in one bash, as a reader
would type them into one shell (the throw-away PostgreSQL lives as long as
that shell: `$$`), in a scratch directory holding `build/` (the binaries
under test), `scripts/` and `ccf.conf` (the section's nginx block).

Substituted, consistently, and nothing else: the ports (8801-8803 become
three free ports P1-P3, as the blocks' `880$i` becomes `P$i`; 8787 a free
port), since other tests and engineers share this machine, and the cluster
directory /tmp/ccf-pg (one of this run's own, for the same reason).

Then, beside what the blocks print: signed requests through nginx work
(ccf create, start --wait, list), /readyz through the replicas shows
exactly one leader, the leader killed (-9, by its pidfile, as the block
does) requests through nginx go on and another replica leads within
FAILOVER_S. Everything is stopped by its pidfile in a finally.

Skipped, as test_replicas.py is, where scripts/pg-cluster.sh cannot make a
cluster (not root, no PostgreSQL) and under make test-postgres; and under
make test-dynamo (the same PostgreSQL run again). nginx missing FAILS
(scripts/deps.sh installs it)."""

import json
import os
import random
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import SANITIZER_MARKS, TIMEOUT_SCALE, WRAPPER, ccfd_binary
from clitest import base_env, ccf_binary
from test_replicas import _OK, _WHY

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
FAILOVER_S = 10 * TIMEOUT_SCALE  # SCALE.md: another replica leads within 10 s
BLOCK_TIMEOUT_S = 120 * TIMEOUT_SCALE

pytestmark = [
    pytest.mark.skipif(not _OK, reason=f"no throw-away PostgreSQL here: {_WHY}"),
    # Its replicas are on a PostgreSQL of their own whatever the suite's
    # store: make test-dynamo would run the same thing again.
    pytest.mark.skipif(bool(os.environ.get("CCF_TEST_DYNAMO_ENDPOINT")),
                       reason="the section's replicas are on PostgreSQL; make service runs it"),
]


def section():
    text = README.read_text()
    start = text.index("\n## Run several replicas\n")
    return text[start:text.index("\n## ", start + 1)]


def blocks(text, lang):
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, re.S | re.M)


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def below_ephemeral():
    """The ports below the kernel's ephemeral range: there no other test's
    bind(0) or outgoing connection takes one between our check and the
    replica's bind."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    return min(low, 65536) - 1


def free_prefix():
    """A prefix P such that ports P1, P2 and P3 are free: the blocks write
    `127.0.0.1:880$i`, so the replicas' ports must differ in their last
    digit only, as 8801-8803 do."""
    for _ in range(200):
        p = random.randrange(1100, below_ephemeral() // 10)
        if all(port_free(p * 10 + i) for i in (1, 2, 3)):
            return str(p)
    pytest.fail("no three free ports P1-P3 found")


def free_port(taken):
    for _ in range(200):
        p = random.randrange(11000, below_ephemeral())
        if p // 10 != int(taken) and port_free(p):
            return p
    pytest.fail("no free port found")


class Shell:
    """One bash, fed the blocks on its stdin, as a terminal would be: state
    (PG* exported, URL, CID, L, `$$`) carries from block to block. Each
    failing command is reported on stderr as `FAILED rc <cmd>` (an ERR
    trap), so that a step that fails is seen without stopping the ones the
    README runs after it."""

    def __init__(self, cwd, env, errpath):
        self.errpath = Path(errpath)
        self.err = open(errpath, "ab")  # O_APPEND: the shell's writes go to the end
        self.proc = subprocess.Popen(["bash", "--norc", "--noprofile"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err, cwd=cwd, env=env,
                                     text=True)
        self.n = 0
        self.run("set -o pipefail\ntrap 'echo \"FAILED $? $BASH_COMMAND\" >&2' ERR\n")

    def run(self, script, timeout=BLOCK_TIMEOUT_S):
        """The block's stdout and the stderr it wrote."""
        self.n += 1
        mark = f"__block_{self.n}_done__"
        start = self.errpath.stat().st_size
        self.proc.stdin.write(script + f"\necho {mark}\n")
        self.proc.stdin.flush()
        # os.read on the pipe, not readline: a buffered reader may hold the
        # mark while select() says the pipe is empty.
        buf, deadline = b"", time.monotonic() + timeout
        while f"\n{mark}\n".encode() not in b"\n" + buf:
            left = deadline - time.monotonic()
            assert left > 0, f"block did not end within {timeout}s:\n{script}\nso far:\n{buf.decode()}"
            ready, _, _ = select.select([self.proc.stdout], [], [], left)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"bash ended during the block:\n{script}\n{buf.decode()}"
                buf += chunk
        out = (b"\n" + buf).split(f"\n{mark}\n".encode())[0][1:]
        with open(self.errpath, "rb") as f:
            f.seek(start)
            err = f.read().decode("utf-8", "replace")
        assert not [m for m in SANITIZER_MARKS if m in err], err
        return out.decode("utf-8", "replace"), err

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()  # the shell exits at its input's end
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.err.close()


def failed(err):
    return [x for x in err.splitlines() if x.startswith("FAILED")]


def leaders(prefix, replicas):
    """{replica: leader flag} of those answering /readyz 200."""
    seen = {}
    for i in replicas:
        p = subprocess.run(["curl", "-s", "-m", "5", f"http://127.0.0.1:{prefix}{i}/readyz"],
                           capture_output=True, text=True)
        if p.returncode == 0 and p.stdout.strip():
            seen[i] = json.loads(p.stdout)["leader"]
    return seen


def kill_by_pidfile(path, sig=signal.SIGTERM, wait_s=30 * TIMEOUT_SCALE):
    """Signals the pid in path and waits for it to be gone: a process the
    shell started is not our child, so kill -0 polls it."""
    try:
        pid = int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def make_build(work):
    """work/build with the binaries under test: links, or for ccfd under a
    wrapper (make valgrind) a script that execs it there (so `$!` is still
    ccfd's pid)."""
    build = work / "build"
    build.mkdir()
    (build / "ccf").symlink_to(ccf_binary())
    if WRAPPER:
        (build / "ccfd").write_text(f"#!/bin/sh\nexec {shlex.join(WRAPPER)} {shlex.quote(ccfd_binary())} \"$@\"\n")
        (build / "ccfd").chmod(0o755)
    else:
        (build / "ccfd").symlink_to(ccfd_binary())


def test_replicas_work_as_written(tmp_path):
    assert shutil.which("nginx"), "nginx is not installed (scripts/deps.sh installs it)"
    for tool in ("curl", "createdb"):
        assert shutil.which(tool), f"{tool} is not installed (scripts/deps.sh)"
    text = section()
    sh = blocks(text, "sh")
    nginx = blocks(text, "nginx")
    assert len(sh) == 7, "the section's sh blocks: database, replicas, readyz, use, nginx, kill, and one more?"
    assert len(nginx) == 1, "the section's nginx block"

    prefix = free_prefix()
    nport = free_port(prefix)
    pgdir = f"/tmp/ccf-pg-{os.getpid()}-{os.urandom(3).hex()}"

    def subst(s):
        return (s.replace("127.0.0.1:880", f"127.0.0.1:{prefix}")
                 .replace("127.0.0.1:8787", f"127.0.0.1:{nport}")
                 .replace("/tmp/ccf-pg", pgdir))

    work = tmp_path / "repo"
    work.mkdir()
    make_build(work)
    (work / "scripts").symlink_to(ROOT / "scripts")
    (work / "ccf.conf").write_text(subst(nginx[0]))
    env = base_env("")
    del env["CCF_ENDPOINT"]  # none by default: the blocks name theirs
    env["HOME"] = str(work)
    for k in [k for k in env if k.startswith("PG")]:
        del env[k]  # the blocks' own cluster, nothing the caller exports
    shell = Shell(work, env, tmp_path / "shell.err")
    var = work / "var"
    try:
        # The database.
        out, err = shell.run(subst(sh[0]))
        assert not failed(err), err
        # Three replicas: all ready, exactly one leads.
        out, err = shell.run(subst(sh[1]))
        assert not failed(err), err
        deadline = time.monotonic() + FAILOVER_S + 20 * TIMEOUT_SCALE
        while True:
            seen = leaders(prefix, (1, 2, 3))
            if len(seen) == 3 and sum(seen.values()) == 1:
                break
            assert time.monotonic() < deadline, (seen, [(var / f"replica{i}.log").read_text() for i in (1, 2, 3)])
            time.sleep(0.2)
        leader = next(i for i, v in seen.items() if v)
        out, err = shell.run(subst(sh[2]))
        assert not failed(err), err
        lines = [json.loads(x) for x in out.splitlines() if x.strip()]
        assert len(lines) == 3 and all(x["status"] == "ok" for x in lines), out
        assert [x["leader"] for x in lines].count(True) == 1, out
        # ccf through each replica: create, start --wait, list.
        out, err = shell.run(subst(sh[3]))
        assert not failed(err), err
        assert "SUCCEEDED" in out, (out, err)
        # nginx in front: the http-context snippet wrapped, run, used.
        out, err = shell.run(subst(sh[4]))
        assert not failed(err), (out, err, (var / "nginx.log").read_text())
        assert '"status":"ok"' in out, (out, err)
        assert out.count("SUCCEEDED") >= 2, (out, err)  # the start's end and the list
        assert (var / "nginx.pid").exists()
        cid = shell.run("echo $CID")[0].strip()
        assert cid, "CID is set by the use block"
        through_nginx(work, env, nport, cid, 2)
        # Kill the leader: the block finds it, kills it, a job through nginx.
        out, err = shell.run(subst(sh[5]))
        assert shell.run("echo $L")[0].strip() == str(leader)
        # The only failure: the curl to the killed replica's /readyz.
        assert all(f"curl -s http://127.0.0.1:{prefix}$i/readyz" in x for x in failed(err)), err
        assert len(failed(err)) <= 1, err
        assert "SUCCEEDED" in out, (out, err)
        deadline = time.monotonic() + FAILOVER_S
        rest = [i for i in (1, 2, 3) if i != leader]
        while True:
            seen = leaders(prefix, rest)
            if len(seen) == 2 and sum(seen.values()) == 1:
                break
            assert time.monotonic() < deadline, f"no new leader within {FAILOVER_S}s: {seen}"
            time.sleep(0.2)
        assert not leaders(prefix, (leader,)), "the killed replica answers"
        through_nginx(work, env, nport, cid, 3)
        # Stop the rest, as the block does: nginx and both replicas end
        # (nginx removes its pidfile as it exits: its pid is read before).
        names = [f"replica{i}" for i in rest] + ["nginx"]
        pids = {name: int((var / f"{name}.pid").read_text().split()[0]) for name in names}
        out, err = shell.run(subst(sh[6]))
        assert not failed(err), err
        for name, pid in pids.items():
            deadline = time.monotonic() + 30 * TIMEOUT_SCALE
            while pid_alive(pid):
                assert time.monotonic() < deadline, f"{name} ({pid}) did not stop"
                time.sleep(0.1)
        for i in (1, 2, 3):
            log = (var / f"replica{i}.log").read_text()
            assert not [m for m in SANITIZER_MARKS if m in log], log
            # valgrind -q (make valgrind) writes only its errors and leaks.
            assert not (WRAPPER and re.search(r"^==\d+== ", log, re.M)), log
    finally:
        kill_by_pidfile(var / "nginx.pid")
        for i in (1, 2, 3):
            kill_by_pidfile(var / f"replica{i}.pid")
        shell.close()
        subprocess.run([str(ROOT / "scripts" / "pg-cluster.sh"), "stop", pgdir], capture_output=True, timeout=60)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def through_nginx(work, env, nport, cid, at_least):
    """A job started and listed with ccf through nginx alone, and a new
    connector created there: signed requests pass the proxy."""
    def ccf(*args):
        p = subprocess.run(["build/ccf", "--endpoint", f"http://127.0.0.1:{nport}", "--output", "json", *args],
                           cwd=work, env={**env, "CCF_CREDENTIALS_FILE": "var/credentials"},
                           capture_output=True, text=True, timeout=BLOCK_TIMEOUT_S)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
        return json.loads(p.stdout) if p.stdout.strip() else {}

    made = ccf("connector", "create", "--name", f"via-nginx-{os.urandom(3).hex()}", "--", "/bin/true")
    assert made["connector"]["connector_id"]
    ccf("job", "start", cid, "--wait")
    jobs = ccf("job", "list", cid)
    assert len(jobs["jobs"]) >= at_least, jobs
