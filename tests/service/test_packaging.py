"""Packaging: `make` builds what `make install` lays out; the systemd unit
passes `systemd-analyze verify` (Debian's systemd package, no running
systemd needed); the sample ccfd.conf, ccfd(8) and the bash completion
stay in step with ccfd's key table.

The make runs reuse the build the tests run against (BUILD is the
directory of $CCFD), so they build nothing new.
"""

import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, ccfd_binary

INSTALLED = [
    "usr/local/bin/ccfd",
    "usr/local/bin/ccfd-supervise",
    "usr/local/bin/ccf",
    "usr/local/lib/libccf.a",
    "usr/local/include/ccf_client.h",
    "usr/local/share/man/man1/ccf.1",
    "usr/local/share/man/man8/ccfd.8",
    "usr/local/lib/systemd/system/ccfd.service",
    "usr/local/lib/sysusers.d/ccf.conf",
    "usr/local/share/bash-completion/completions/ccf",
    "usr/local/share/bash-completion/completions/ccfd",
    "usr/local/share/doc/ccf/ccfd.conf.sample",
    "usr/local/share/doc/ccf/README.md",
    "etc/ccf/ccfd.conf",
]


def make(*args):
    build = str(Path(ccfd_binary()).resolve().parent)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CCF_") and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    r = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(REPO), f"BUILD={build}",
                        *args], env=env, capture_output=True, text=True, timeout=600)
    return r


def help_keys():
    out = subprocess.run([ccfd_binary(), "--help"], capture_output=True, text=True).stdout
    keys = re.findall(r"^  --([a-z][a-z0-9-]*)", out, re.M)
    return [k for k in keys if k not in ("help", "version", "print-config")]


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("destdir")
    r = make("install", f"DESTDIR={d}")
    assert r.returncode == 0, r.stdout + r.stderr
    return d


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    """An install under a real prefix: the unit names binaries that exist."""
    d = tmp_path_factory.mktemp("prefix")
    r = make("install", f"PREFIX={d}/usr", f"SYSCONFDIR={d}/etc")
    assert r.returncode == 0, r.stdout + r.stderr
    return d


def test_default_goal_is_all():
    """`make` alone builds the binaries, not a benchmark."""
    r = make("-p", "-q", "nothing-at-all")
    assert re.search(r"^\.DEFAULT_GOAL := all$", r.stdout, re.M), "the default goal is not all"
    deps = re.search(r"^all: (.*)$", r.stdout, re.M).group(1).split()
    for target in ("ccfd", "ccfd-supervise", "ccf", "libccf.a", "ccfd.conf"):
        assert any(d.endswith("/" + target) for d in deps), target


def test_make_install_lays_out_every_file(destdir):
    missing = [p for p in INSTALLED if not (destdir / p).is_file()]
    assert not missing, missing
    for b in ("ccfd", "ccfd-supervise", "ccf"):
        assert os.access(destdir / "usr/local/bin" / b, os.X_OK)
    assert (destdir / "usr/local/lib/systemd/system/ccfd.service").stat().st_mode & 0o777 == 0o644


def test_install_keeps_an_edited_config(tmp_path):
    conf = tmp_path / "etc/ccf/ccfd.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("threads = 3\n")
    r = make("install", f"DESTDIR={tmp_path}")
    assert r.returncode == 0, r.stderr
    assert conf.read_text() == "threads = 3\n"
    assert (tmp_path / "usr/local/share/doc/ccf/ccfd.conf.sample").stat().st_size > 1000


def test_installed_unit_passes_systemd_analyze_verify(prefix):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing: run scripts/deps.sh (Debian's systemd package)")
    unit = prefix / "usr/lib/systemd/system/ccfd.service"
    env = dict(os.environ, MANPATH=str(prefix / "usr/share/man"))  # Documentation=man:ccfd(8)
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], env=env, capture_output=True,
                       text=True, timeout=120)
    # Unknown keys are only warnings: any output at all is a failure.
    assert r.returncode == 0 and r.stderr == "" and r.stdout == "", r.stdout + r.stderr
    assert f"ExecStart={prefix}/usr/bin/ccfd --config {prefix}/etc/ccf/ccfd.conf" in unit.read_text()


def unit_settings(path):
    out = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            out.setdefault(k, []).append(v)
    return out


def test_unit_runs_as_its_own_user_with_hardening(destdir):
    u = unit_settings(destdir / "usr/local/lib/systemd/system/ccfd.service")
    for k, v in {
        "User": "ccf", "StateDirectory": "ccf", "ExecReload": "/bin/kill -HUP $MAINPID",
        "ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
        "KillMode": "process", "ExecStart": "/usr/local/bin/ccfd --config /etc/ccf/ccfd.conf",
    }.items():
        assert u.get(k) == [v], k
    assert "MemoryDenyWriteExecute" not in u  # would break JIT interpreters in jobs
    sysusers = (destdir / "usr/local/lib/sysusers.d/ccf.conf").read_text()
    assert re.search(r"^u ccf - .* /var/lib/ccf$", sysusers, re.M)


def test_installed_sample_config_is_every_key_and_loads(destdir):
    sample = (destdir / "etc/ccf/ccfd.conf").read_text()
    assert sample == (destdir / "usr/local/share/doc/ccf/ccfd.conf.sample").read_text()
    keys = [k for k in help_keys() if k != "config"]
    for k in keys:
        assert re.search(rf"^#?{re.escape(k)} =", sample, re.M), k
    assert re.search(r"^data-dir = /var/lib/ccf$", sample, re.M)
    r = subprocess.run([ccfd_binary(), "--config", str(destdir / "etc/ccf/ccfd.conf"),
                        "--print-config"], capture_output=True, text=True, env={})
    assert r.returncode == 0, r.stderr
    assert re.search(r"^data-dir = /var/lib/ccf$", r.stdout, re.M)


def test_man_page_documents_every_key():
    page = (REPO / "docs/ccfd.8").read_text()
    for k in help_keys():
        roff = k.replace("-", "\\-")
        assert re.search(rf"^\.BI? {re.escape(roff)}\b", page, re.M), k
    for section in ("SIGNALS", "EXIT STATUS", "FILES", "CREDENTIALS", "ENVIRONMENT"):
        assert f".SH {section}" in page
    assert ".BR ccfd (8)" in (REPO / "docs/ccf.1").read_text()
    r = subprocess.run(["man", "--warnings", "-l", "-Tutf8", str(REPO / "docs/ccfd.8")],
                       capture_output=True, text=True, env=dict(os.environ, MANWIDTH="80"))
    if r.returncode == 0:  # man-db present: no roff warnings
        assert r.stderr == "", r.stderr


def test_bash_completion_offers_ccfd_options(destdir):
    comp = destdir / "usr/local/share/bash-completion/completions/ccfd"
    script = (f"source {comp}; COMP_WORDS=({ccfd_binary()} --acc); COMP_CWORD=1; _ccfd; "
              "echo ${COMPREPLY[@]}; COMP_WORDS=(ccfd --log-level w); COMP_CWORD=2; _ccfd; "
              "echo ${COMPREPLY[@]}")
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
    lines = r.stdout.splitlines()
    assert sorted(lines[0].split()) == ["--access-log", "--account-id"], r.stdout + r.stderr
    assert lines[1] == "warn"


def allowed_syscalls(group):
    """Every system call of a systemd syscall group, nested groups expanded."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                         check=True).stdout
    groups, name = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            name = line.split()[0]
            groups[name] = set()
        elif name and line.strip() and not line.strip().startswith("#"):
            groups[name].add(line.strip())

    def expand(g, seen=()):
        calls = set()
        for x in groups.get(g, ()):
            calls |= expand(x, seen + (g,)) if x.startswith("@") and x not in seen else {x}
        return calls

    return expand(group)


def test_unit_syscall_filter_allows_what_ccfd_and_jobs_use(ccfd_factory, tmp_path, monkeypatch,
                                                            request):
    """ccfd, its job supervisors and a job (a shell running python3 and
    coreutils, calling ccfd back) under strace -f: every system call they
    make is in the unit's SystemCallFilter, so the hardening lets jobs run."""
    import conftest
    from test_job_runs import sh, wait_job

    if not shutil.which("strace"):
        pytest.fail("strace is missing: run scripts/deps.sh")
    unit = (REPO / "contrib/ccfd.service.in").read_text()
    group = re.search(r"^SystemCallFilter=(@[a-z-]+)$", unit, re.M).group(1)
    trace = tmp_path / "strace"
    monkeypatch.setattr(conftest, "WRAPPER", ["strace", "-f", "-qq", "-o", str(trace)])
    # make asan: LeakSanitizer cannot run under ptrace (the other tests check leaks).
    asan = os.environ.get("ASAN_OPTIONS", "")
    monkeypatch.setenv("ASAN_OPTIONS", (asan + ":" if asan else "") + "detect_leaks=0")
    s = ccfd_factory(extra_args=["--stop-grace", "2"])
    children = Path(f"/proc/{s.proc.pid}/task/{s.proc.pid}/children").read_text().split()
    assert len(children) == 1, children
    ccfd_pid = int(children[0])

    def kill_ccfd():  # on failure: a SIGTERM to strace would leave ccfd behind
        try:
            os.kill(ccfd_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    request.addfinalizer(kill_ccfd)
    script = ('python3 -c "import json, os, socket, urllib.request; '
              "urllib.request.urlopen(os.environ['CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT'] "
              "+ 'healthz').read(); print(json.dumps({'ok': 1}))\"; ls / > /dev/null; "
              "sleep 0.1 & wait; mktemp -d > /dev/null; echo done")
    c = s.client.create_connector(container_properties=sh(script, timeout=60))
    job = s.client.start_job(c["connector_id"])
    wait_job(s.client, c["connector_id"], job["job_id"], {"SUCCEEDED"}, timeout=60)
    # SIGTERM to ccfd, not to strace (s.proc); strace ends when its tracees
    # have: ccfd, and the supervisor, which exits once its job is collected.
    s.client.close()
    os.kill(ccfd_pid, signal.SIGTERM)
    assert s.proc.wait(timeout=60) == 0, s.tail()
    used = set()
    for path in tmp_path.glob("strace*"):
        for line in path.read_text(errors="replace").splitlines():
            m = re.match(r"^\d+\s+([a-z0-9_]+)\(", line)
            if m:
                used.add(m.group(1))
    assert {"execve", "clone", "setpgid", "wait4"} & used, "strace saw nothing: bad wrapper"
    denied = used - allowed_syscalls(group)
    assert not denied, f"{group} would refuse (EPERM) {sorted(denied)}"
