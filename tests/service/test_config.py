"""ccfd's configuration: every key from the INI file, the environment
(CCF_ + the key in upper case, '_' for '-') and flags, in that order of
strength (CONTRACT-OPS.md, "Configuration"); --print-config, which writes
the sample ccfd.conf; access-log; the data directory's mode in octal.

Most tests run `ccfd ... --print-config`, which loads every source and
prints the result without starting a server.
"""

import http.client
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import ccfd_binary, free_port

KEY_LINE = re.compile(r"^(#?)([a-z][a-z0-9-]*) =(?: (.*))?$")


def clean_env(**extra):
    """The environment without any CCF_ variable, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CCF_")}
    env.update(extra)
    return env


def run(*args, env=None, cwd=None):
    return subprocess.run([ccfd_binary(), *args], env=env if env is not None else clean_env(),
                          cwd=cwd, capture_output=True, text=True, timeout=30)


def printed(*args, env=None):
    """{key: (value, given)} from `ccfd ARGS --print-config`."""
    r = run(*args, "--print-config", env=env)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        m = KEY_LINE.match(line)
        if m:
            out[m.group(2)] = (m.group(3) or "", m.group(1) == "")
    return out


def help_keys():
    """Every key, from ccfd --help (the table's own listing)."""
    r = run("--help")
    assert r.returncode == 0
    keys = re.findall(r"^  --([a-z][a-z0-9-]*)", r.stdout, re.M)
    return [k for k in keys if k not in ("help", "version", "print-config", "config")]


def test_print_config_lists_every_key():
    keys = help_keys()
    assert len(keys) >= 25 and "access-log" in keys
    p = printed()
    assert sorted(p) == sorted(keys)
    assert not any(given for _, given in p.values()), "nothing was set, all are defaults"
    assert p["listen"] == ("127.0.0.1:8787", False)
    assert p["access-log"] == ("on", False)
    assert p["retention"] == ("604800", False)


def test_print_config_names_each_variable():
    out = run("--print-config").stdout
    for key in help_keys():
        var = "CCF_" + key.upper().replace("-", "_")
        assert f"--{key}, {var}:" in out


def test_printed_config_reads_back_the_same(tmp_path):
    """Every value --print-config writes, uncommented, is accepted by its key
    and printed back unchanged: the sample cannot drift from the setters."""
    first = printed("--data-dir", str(tmp_path / "d"), "--access-log=off", "--auth", "none",
                    "--listen", "[::1]:0", "--cpu-budget", "1.5")
    conf = tmp_path / "all.conf"
    conf.write_text("".join(f"{k} = {v}\n" for k, (v, _) in first.items() if v))
    second = printed("--config", str(conf))
    for k, (v, _) in first.items():
        if v:
            assert second[k] == (v, True), k
    assert second["listen"][0] == "[::1]:0" and second["access-log"][0] == "off"


def test_sample_config_starts_ccfd(ccfd_factory, tmp_path):
    """The sample `make install` puts in /etc/ccf (ccfd --data-dir
    /var/lib/ccf --print-config) is a config file ccfd starts with."""
    sample = tmp_path / "ccfd.conf"
    r = run("--data-dir", "/var/lib/ccf", "--print-config")
    assert r.returncode == 0, r.stderr
    sample.write_text(r.stdout)
    assert re.search(r"^data-dir = /var/lib/ccf$", r.stdout, re.M)
    # The fixture's flags (listen, data-dir, ...) beat the file's data-dir.
    s = ccfd_factory(extra_args=["--executor", "none", "--config", str(sample)])
    assert s.client.get("/healthz").status == 200


def test_precedence_flag_beats_env_beats_file(tmp_path):
    conf = tmp_path / "c.conf"
    conf.write_text("threads = 2\nstop-grace = 7\nregion = eu-west-1\n")
    env = clean_env(CCF_THREADS="3", CCF_REGION="eu-central-1")
    p = printed("--config", str(conf), "--threads", "4", env=env)
    assert p["threads"] == ("4", True)  # flag over env over file
    assert p["region"] == ("eu-central-1", True)  # env over file
    assert p["stop-grace"] == ("7", True)  # file over default
    p = printed("--config", str(conf), env=env)
    assert p["threads"] == ("3", True)
    p = printed("--config", str(conf))
    assert p["threads"] == ("2", True)


def test_every_key_has_its_variable(tmp_path):
    """A value for each key through its CCF_ variable alone."""
    values = {
        "listen": "127.0.0.1:9", "data-dir": str(tmp_path), "region": "eu-west-3",
        "account-id": "123456789012", "auth": "none", "credentials-file": str(tmp_path / "c"),
        "signing-name": "ccf", "log-level": "debug", "log-format": "json", "access-log": "off",
        "log-flush-ms": "0", "threads": "3", "write-threads": "5", "synchronous": "NORMAL",
        "store": "sqlite", "store-experimental": "on", "runner-lost-after": "7",
        "connection-limit": "77", "connection-timeout": "9", "allow-insecure-listen": "on",
        "executor": "none", "api-endpoint": "http://127.0.0.1:9/", "job-path": "/bin",
        "max-jobs": "4", "cpu-budget": "3", "memory-budget": "2048", "stop-grace": "2",
        "job-log-max": "8192", "retention": "60", "tls-cert": str(tmp_path / "cert.pem"),
        "tls-key": str(tmp_path / "key.pem"), "quiet": "on", "rate-limit": "2.5:7",
        "image-map": r"a(b)=c\1", "podman-network": "bridge",
        "slurm-conf": str(tmp_path / "slurm.conf"), "slurm-partition": "batch",
        "checkpoint-history": "25", "metrics": "off", "webhook-allow-private": "on",
        "webhook-retry-for": "600", "webhook-retry-base-ms": "250", "webhook-timeout": "3",
        "webhook-ca-bundle": str(tmp_path / "ca.pem"), "audit-retention": "120",
        "batch-job-queue": "arn:aws:batch:eu-west-3:123456789012:job-queue/ccf",
    }
    assert sorted(values) == sorted(help_keys()), "a new key: give it a value here"
    env = clean_env(**{"CCF_" + k.upper().replace("-", "_"): v for k, v in values.items()})
    p = printed(env=env)
    for k, v in values.items():
        assert p[k] == (v, True), k


@pytest.mark.parametrize("args", [
    ["--executor", "local,local"], ["--executor", "kubernetes"], ["--executor", "local,"],
    ["--executor", "none,local"], ["--image-map", "no-equals-sign"], ["--image-map", "(=x"],
    ["--image-map", "a=\\1"], ["--image-map", "=x"],
])
def test_bad_executor_or_image_map_stops_ccfd(args, tmp_path):
    """A list of executors or an image-map rule ccfd cannot use stops it at
    start with a line naming the flag (issue 14)."""
    out = subprocess.run([ccfd_binary(), "--data-dir", str(tmp_path), *args], capture_output=True,
                         text=True, timeout=10, env=clean_env())
    assert out.returncode == 2, out
    assert args[0] in out.stderr, out.stderr


def test_unknown_ccf_variable_is_ignored():
    env = clean_env(CCF_NO_SUCH_KEY="x", CCF_ENDPOINT="http://example.com", CCF_BIN="/nope")
    p = printed(env=env)
    assert not any(given for _, given in p.values())


def test_empty_variable_is_unset():
    p = printed(env=clean_env(CCF_THREADS="", CCF_LISTEN=""))
    assert p["listen"] == ("127.0.0.1:8787", False)


@pytest.mark.parametrize("var,value,words", [
    ("CCF_THREADS", "abc", "expected an integer 1..1024"),
    ("CCF_LISTEN", "nowhere", "expected IPv4:PORT"),
    ("CCF_ACCESS_LOG", "maybe", "expected true or false"),
    ("CCF_AUTH", "basic", "expected sigv4 or none"),
    ("CCF_LOG_LEVEL", "loud", "expected debug, info, warn or error"),
    ("CCF_CHECKPOINT_HISTORY", "1001", "expected a number of versions 1..1000"),
])
def test_bad_variable_is_a_usage_error_naming_it(var, value, words):
    r = run("--print-config", env=clean_env(**{var: value}))
    assert r.returncode == 2
    assert r.stdout == ""
    line = r.stderr.strip()
    assert var in line and value in line and words in line, line
    assert len(line.splitlines()) == 1


def test_flag_fixes_what_the_environment_got_wrong_first():
    """The environment is read, and refused, before the flags: a bad CCF_
    value is an error even when a flag names the same key."""
    r = run("--threads", "2", "--print-config", env=clean_env(CCF_THREADS="0"))
    assert r.returncode == 2 and "CCF_THREADS" in r.stderr


def test_ccf_config_names_the_file(tmp_path):
    a, b = tmp_path / "a.conf", tmp_path / "b.conf"
    a.write_text("stop-grace = 11\n")
    b.write_text("stop-grace = 12\n")
    assert printed(env=clean_env(CCF_CONFIG=str(a)))["stop-grace"] == ("11", True)
    assert printed("--config", str(b), env=clean_env(CCF_CONFIG=str(a)))["stop-grace"][0] == "12"
    r = run("--print-config", env=clean_env(CCF_CONFIG=str(tmp_path / "missing.conf")))
    assert r.returncode == 2 and "missing.conf" in r.stderr


def test_boolean_flag_with_and_without_value():
    assert printed("--allow-insecure-listen")["allow-insecure-listen"] == ("on", True)
    assert printed("--allow-insecure-listen=false")["allow-insecure-listen"] == ("off", True)
    assert printed("--access-log=no")["access-log"] == ("off", True)
    r = run("--access-log=perhaps", "--print-config")
    assert r.returncode == 2 and "--access-log" in r.stderr


def test_cross_key_rules_apply_to_the_environment():
    r = run("--print-config", env=clean_env(CCF_LISTEN="0.0.0.0:8787"))
    assert r.returncode == 2 and "allow-insecure-listen" in r.stderr
    p = printed(env=clean_env(CCF_LISTEN="0.0.0.0:8787", CCF_ALLOW_INSECURE_LISTEN="true"))
    assert p["listen"] == ("0.0.0.0:8787", True)


def _healthz(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/healthz")
        status = c.getresponse().status
        c.close()
        return status
    except OSError:
        return None


def test_ccfd_runs_from_the_environment_alone(tmp_path):
    """No flag and no file: a container's or a systemd unit's Environment=."""
    port = free_port()
    data = tmp_path / "data"
    env = clean_env(CCF_LISTEN=f"127.0.0.1:{port}", CCF_DATA_DIR=str(data),
                    CCF_EXECUTOR="none", CCF_SYNCHRONOUS="OFF", CCF_LOG_FORMAT="json")
    log = open(tmp_path / "ccfd.log", "wb")
    proc = subprocess.Popen([ccfd_binary()], env=env, cwd=tmp_path, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while _healthz(port) != 200:
            assert proc.poll() is None, (tmp_path / "ccfd.log").read_text()
            assert time.monotonic() < deadline, "ccfd did not answer on CCF_LISTEN's port"
            time.sleep(0.05)
        assert (data / "ccf.db").exists() and (data / "credentials").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        log.close()
    text = (tmp_path / "ccfd.log").read_text()
    assert '"event":"ccfd.listening"' in text  # CCF_LOG_FORMAT=json took


def test_access_log_off_keeps_other_info_lines(ccfd_factory):
    s = ccfd_factory(extra_args=["--executor", "none", "--access-log=off"])
    off = s.log_size()
    for _ in range(5):
        assert s.client.get("/api/v1/custom-connectors").status == 200
    s.stop()
    text = s.log_text()
    assert "event=ccfd.listening" in text and "event=ccfd.stopped" in text
    assert "event=http.request" not in text[off:]


def test_access_log_on_by_default(ccfd_factory):
    s = ccfd_factory()
    assert s.client.get("/api/v1/custom-connectors").status == 200
    s.stop()
    assert "event=http.request" in s.log_text()


def test_data_dir_mode_is_logged_in_octal(ccfd_factory, tmp_path):
    data = tmp_path / "open"
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)
    s = ccfd_factory(data_dir=data)
    s.stop()
    assert re.search(r"event=ccfd.data_dir_mode .*mode=0755", s.log_text()), s.tail()


@pytest.mark.parametrize("value", ["postgresql://ccf:s3cret@127.0.0.1:1/ccf",
                                   "postgres://ccf:s3cret@127.0.0.1:1/ccf",
                                   "dynamodb://ccf?region=us-east-1&endpoint=http://s3cret:1",
                                   "mysql://x", ""])
def test_store_postgresql_is_taken_and_others_refused(value, tmp_path):
    """store = postgresql://... is taken without store-experimental (one
    ccfd on PostgreSQL passes the whole service suite: make test-postgres):
    with no server there, ccfd cannot open its store and exits 1, not 2;
    dynamodb://... is refused without store-experimental (issue 18), with a
    line that says so; anything but sqlite, a libpq URI or dynamodb:// is a
    usage error. No line echoes the URI, whose password would land in a log."""
    out = subprocess.run([ccfd_binary(), "--data-dir", str(tmp_path), "--listen", "127.0.0.1:0",
                          "--store", value], capture_output=True, text=True, timeout=10,
                         env=clean_env())
    assert "s3cret" not in out.stderr and "s3cret" not in out.stdout
    if value.startswith("postgres"):
        assert out.returncode == 1, out
        assert "experimental" not in out.stderr and "store.open_failed" in out.stderr, out.stderr
    elif value.startswith("dynamodb"):
        assert out.returncode == 2, out
        assert "--store-experimental" in out.stderr, out.stderr
    else:
        assert out.returncode == 2, out
        assert "--store" in out.stderr and "expected sqlite, postgresql://" in out.stderr, out


@pytest.mark.parametrize("value,shown", [
    ("postgresql://ccf:s3cret@db.example:5432/ccf?sslmode=require",
     "postgresql://ccf:***@db.example:5432/ccf?sslmode=require"),
    ("postgres://ccf@db.example/ccf?password=s3cret&sslmode=require",
     "postgres://ccf@db.example/ccf?password=***&sslmode=require"),
    ("postgresql:///ccf?host=/run/pg&PASSWORD=s3cret", "postgresql:///ccf?host=/run/pg&PASSWORD=***"),
    ("postgresql://ccf@db.example/ccf", "postgresql://ccf@db.example/ccf"),
])
def test_print_config_redacts_the_store_password(value, shown):
    """--print-config shows which database is meant, never its password
    (in the URI's userinfo or a password= parameter)."""
    r = run("--store", value, "--print-config")
    assert r.returncode == 0, r.stderr
    assert "s3cret" not in r.stdout
    assert f"store = {shown}" in r.stdout.splitlines(), r.stdout


def test_unreachable_postgresql_logs_its_redacted_url(tmp_path):
    """A PostgreSQL that cannot be reached at start is named by its url,
    password redacted, not by the SQLite file ccfd does not use."""
    out = subprocess.run([ccfd_binary(), "--data-dir", str(tmp_path), "--listen", "127.0.0.1:0",
                          "--store", "postgresql://ccf:s3cret@127.0.0.1:1/ccf"],
                         capture_output=True, text=True, timeout=10, env=clean_env())
    assert out.returncode == 1, out
    line = next(ln for ln in out.stderr.splitlines() if "ccfd.store_open_failed" in ln)
    assert "store=postgresql://ccf:***@127.0.0.1:1/ccf" in line, line
    assert "ccf.db" not in line and "s3cret" not in out.stderr
