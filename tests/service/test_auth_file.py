"""ccfd's credentials file (first start, mode, `ccfd credentials`, SIGHUP,
expired keys, what the log names) and auth = none."""

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from authtest import DENIED, REPO, SCALE, UNRECOGNIZED, refused
from ccftest import (
    ACCOUNT_ID,
    CONNECTORS,
    MISSING_CONNECTOR,
    OTHER_ACCOUNT_ID,
    REGION,
    Client,
    account_key,
    expect,
    write_credentials,
)


# The credentials file.


def ccfd_binary():
    return os.environ.get("CCFD") or str(REPO / "build" / "ccfd")


def run_ccfd(*args, timeout=10, **kw):
    return subprocess.run([ccfd_binary(), *args], capture_output=True, text=True, timeout=timeout, **kw)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_readable_credentials_file_refuses_to_start(tmp_path, mode):
    data = tmp_path / "data"
    data.mkdir()
    write_credentials(data / "credentials", [ACCOUNT_ID])
    os.chmod(data / "credentials", mode)
    r = run_ccfd("--listen", "127.0.0.1:0", "--data-dir", str(data), "--executor", "none")
    assert r.returncode == 1, r
    assert "auth.credentials_mode" in r.stderr and "chmod 600" in r.stderr, r.stderr
    assert "listening" not in r.stdout


def test_missing_named_credentials_file_refuses_to_start(tmp_path):
    r = run_ccfd("--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "d"), "--executor", "none",
                 "--credentials-file", str(tmp_path / "nope"))
    assert r.returncode == 1 and "ccfd credentials add" in r.stderr, r
    assert not (tmp_path / "nope").exists()


def test_first_start_makes_a_key_and_prints_how_to_use_it(tmp_path):
    data = tmp_path / "fresh"
    data.mkdir()
    proc = subprocess.Popen([ccfd_binary(), "--listen", "127.0.0.1:0", "--data-dir", str(data), "--executor",
                             "none", "--account-id", "111122223333"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out = ""
        deadline = time.monotonic() + 10 * SCALE
        while "curl --aws-sigv4" not in out and time.monotonic() < deadline:
            out += proc.stdout.readline()
        creds = data / "credentials"
        assert f"made {creds}" in out, out
        assert creds.stat().st_mode & 0o777 == 0o600
        port = int(re.search(r"listening on http://127\.0\.0\.1:(\d+)/", out).group(1))
        key = re.search(r"export AWS_ACCESS_KEY_ID=(AKIA[A-Z2-7]{16})", out).group(1)
        secret_cmd = re.search(r'export AWS_SECRET_ACCESS_KEY="\$\((.*)\)"', out).group(1)
        secret = subprocess.run(["/bin/sh", "-c", secret_cmd], capture_output=True, text=True).stdout.strip()
        assert secret and secret not in out, "the secret must not be printed"
        # The printed curl command, as printed.
        curl = re.search(r"^\s*(curl --aws-sigv4 .*)$", out, re.M).group(1)
        r = subprocess.run(["/bin/sh", "-c", curl], capture_output=True, text=True, timeout=10,
                           env={"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret})
        assert json.loads(r.stdout) == {"connectors": []}, r
        made = Client(port, credentials=(key, secret), arn_prefix="arn:aws:ccf:us-east-1:111122223333:custom-connector/").create_connector()
        assert ":111122223333:" in made["arn"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def _start_output(data, *flags):
    """Starts ccfd on data, returns its stdout up to a clean SIGTERM stop."""
    proc = subprocess.Popen([ccfd_binary(), "--listen", "127.0.0.1:0", "--data-dir", str(data), "--executor",
                             "none", "--account-id", "111122223333", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out = ""
        deadline = time.monotonic() + 10 * SCALE
        while "listening on" not in out and time.monotonic() < deadline:
            out += proc.stdout.readline()
        assert "listening on" in out, out
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        # Not communicate(): with a timeout it reads the pipe's descriptor and
        # misses what readline() already pulled into the TextIOWrapper.
        rest = proc.stdout.read()
        proc.stdout.close()
        assert proc.returncode == 0
    return out + rest


def test_signing_banner_after_a_first_start_that_failed(tmp_path):
    """A first start that cannot listen has made the credentials file; the
    next start still says how to sign with its key, and so does every start
    while the file holds only that key, unless --quiet."""
    data = tmp_path / "fresh"
    data.mkdir()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        r = run_ccfd("--listen", f"127.0.0.1:{port}", "--data-dir", str(data), "--executor", "none",
                     "--account-id", "111122223333")
    assert r.returncode == 1 and "listen" in r.stderr, r
    assert "AWS_ACCESS_KEY_ID" not in r.stdout, r
    creds = data / "credentials"
    key = re.search(r"^\[(AKIA[A-Z2-7]{16})\]$", creds.read_text(), re.M).group(1)
    for _ in range(2):
        out = _start_output(data)
        assert f"made {creds}" in out and f"export AWS_ACCESS_KEY_ID={key}" in out, out
    out = _start_output(data, "--quiet")
    assert "AWS_ACCESS_KEY_ID" not in out and "listening on" in out, out
    # Once the operator has a key of their own, the first one is theirs to manage.
    assert _admin("add", "--data-dir", str(data), "--account-id", OTHER_ACCOUNT_ID).returncode == 0
    out = _start_output(data)
    assert "AWS_ACCESS_KEY_ID" not in out, out


def _admin(*args):
    return run_ccfd("credentials", *args)


def test_credentials_subcommand_and_sighup(ccfd_factory):
    s = ccfd_factory()
    d = str(s.data_dir)
    r = _admin("add", "--data-dir", d, "--account-id", OTHER_ACCOUNT_ID)
    assert r.returncode == 0, r
    key = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", r.stdout).group(1)
    secret = re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", r.stdout).group(1)
    assert "kill -HUP" in r.stdout
    listed = _admin("list", "--data-dir", d)
    assert listed.returncode == 0 and key in listed.stdout and secret not in listed.stdout, listed
    assert (Path(d) / "credentials").stat().st_mode & 0o777 == 0o600

    new = Client(s.port, credentials=(key, secret), arn_prefix=f"arn:aws:ccf:{REGION}:{OTHER_ACCOUNT_ID}:custom-connector/")
    refused(new.get(CONNECTORS), UNRECOGNIZED)  # not before the reload
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5 * SCALE
    while (r := new.get(CONNECTORS)).status != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    expect(r, 200)
    assert new.create_connector()["arn"].split(":")[4] == OTHER_ACCOUNT_ID

    # A scoped key, from the file: its connector's documents only.
    cid = s.client.create_connector()["connector_id"]
    r = _admin("add", "--data-dir", d, "--account-id", ACCOUNT_ID, "--connector-id", cid)
    assert r.returncode == 0, r
    scoped = (re.search(r"AWS_ACCESS_KEY_ID=(\S+)", r.stdout).group(1),
              re.search(r"AWS_SECRET_ACCESS_KEY=(\S+)", r.stdout).group(1))

    # A file others can read is refused on reload: the keys in use stay.
    os.chmod(Path(d) / "credentials", 0o644)
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5 * SCALE
    while "auth.reload_failed" not in s.log_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "auth.reload_failed" in s.log_text()
    expect(new.get(CONNECTORS), 200)
    refused(Client(s.port, credentials=scoped).get(f"{CONNECTORS}/{cid}/documents"), UNRECOGNIZED)
    os.chmod(Path(d) / "credentials", 0o600)
    s.proc.send_signal(signal.SIGHUP)
    sc = Client(s.port, credentials=scoped)
    deadline = time.monotonic() + 5 * SCALE
    while (r := sc.get(f"{CONNECTORS}/{cid}/documents")).status != 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    expect(r, 200)
    refused(sc.get(f"{CONNECTORS}/{cid}"), DENIED)
    refused(sc.get(CONNECTORS), DENIED)

    r = _admin("revoke", key, "--data-dir", d)
    assert r.returncode == 0 and "kill -HUP" in r.stdout, r
    assert _admin("revoke", key, "--data-dir", d).returncode == 1
    s.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 5 * SCALE
    while (r := new.get(CONNECTORS)).status == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    refused(r, UNRECOGNIZED)
    expect(s.client.get(CONNECTORS), 200)
    assert secret not in s.log_text()


def test_credentials_subcommand_usage_errors(tmp_path):
    assert _admin().returncode == 2
    assert _admin("nope").returncode == 2
    assert _admin("add", "--data-dir", str(tmp_path)).returncode == 2  # no --account-id
    assert _admin("add", "--data-dir", str(tmp_path), "--account-id", "123").returncode == 2
    assert _admin("add", "--data-dir", str(tmp_path), "--account-id", ACCOUNT_ID,
                  "--expires-at", "2001-01-01T00:00:00Z").returncode == 2
    assert _admin("list", "--data-dir", str(tmp_path)).returncode == 1  # no file yet
    assert _admin("--help").returncode == 0


def test_expired_key_in_the_file(ccfd_factory, tmp_path):
    data = tmp_path / "exp"
    data.mkdir()
    write_credentials(data / "credentials", [ACCOUNT_ID])
    with open(data / "credentials", "a") as f:
        f.write("[AKIAEXPIRED000000000]\nsecret_access_key = expired-secret-0123456789\n"
                "account_id = 123456789012\nexpires_at = 2001-01-01T00:00:00Z\n")
    s = ccfd_factory(data_dir=data)
    r = Client(s.port, credentials=("AKIAEXPIRED000000000", "expired-secret-0123456789")).get(CONNECTORS)
    refused(r, UNRECOGNIZED, "The security token included in the request is expired.")


def test_log_names_the_signer_never_the_secret(server, client):
    client.get(f"{CONNECTORS}/{MISSING_CONNECTOR}")
    rid = client.get(CONNECTORS).header("x-amzn-RequestId")
    key, secret = account_key(ACCOUNT_ID)
    deadline = time.monotonic() + 2 * SCALE
    while rid not in server.log_text() and time.monotonic() < deadline:
        time.sleep(0.02)
    line = next(x for x in server.log_text().splitlines() if rid in x)
    assert f"account={ACCOUNT_ID}" in line and f"access_key_id={key}" in line, line
    assert secret not in server.log_text()


# auth = none.


def test_auth_none_serves_unsigned_requests_as_the_local_account(ccfd_factory):
    s = ccfd_factory(account_id="444455556666", extra_args=["--executor", "none", "--auth", "none"])
    anon = Client(s.port, credentials=None, arn_prefix=f"arn:aws:ccf:{REGION}:444455556666:custom-connector/")
    made = anon.create_connector()
    assert ":444455556666:" in made["arn"]
    assert "auth.credentials_loaded" not in s.log_text() and "ccfd.auth_off" in s.log_text()


def test_auth_none_only_on_loopback(tmp_path):
    r = run_ccfd("--listen", "0.0.0.0:0", "--allow-insecure-listen", "--auth", "none", "--data-dir",
                 str(tmp_path / "d"))
    assert r.returncode == 2 and "auth" in r.stderr, r
