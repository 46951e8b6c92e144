"""TLS (CONTRACT-OPS.md, "Transport and operation"): ccfd with tls-cert and
tls-key serves HTTPS, TLS 1.2 and 1.3 only; SIGHUP swaps the certificate for
new connections while open ones keep theirs; a non-loopback address needs no
allow-insecure-listen then; jobs are given an https:// endpoint; boto3, the
AWS CLI, curl --aws-sigv4 and ccf (--ca-bundle / AWS_CA_BUNDLE) work over it
and refuse an expired certificate.

Each test makes its own CA and certificates with the openssl command in a
temporary directory: a CA, leaves for localhost and 127.0.0.1 signed by it,
and one whose validity ended in 2020 (openssl ca -startdate/-enddate)."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import warnings
from pathlib import Path

import pytest

from ccftest import CONNECTORS, account_key, job_ccf_binary, props, unique_name
from conftest import REPO

MODEL_DIR = REPO / "clients" / "botocore"
SCALE = float(os.environ.get("CCFD_TIMEOUT_SCALE", "1"))

CA_CONF = """[ca]
default_ca = test_ca
[test_ca]
dir = {dir}
database = {dir}/index.txt
new_certs_dir = {dir}
serial = {dir}/serial
default_md = sha256
policy = any
copy_extensions = copy
unique_subject = no
[any]
commonName = supplied
"""


def openssl(cwd, *args):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"


class PKI:
    """A test CA in dir, and leaves it signs (PEM files; keys mode 0600)."""

    def __init__(self, d):
        self.dir = Path(d)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.ca = self.dir / "ca.pem"
        self.n = 0
        openssl(self.dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/CN=ccf test CA",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        (self.dir / "index.txt").write_text("")
        (self.dir / "serial").write_text("1000\n")
        (self.dir / "ca.cnf").write_text(CA_CONF.format(dir=self.dir))

    def leaf(self, name, expired=False):
        """(cert path, key path) for localhost and 127.0.0.1."""
        self.n += 1
        key, csr, cert = (self.dir / f"{name}.{ext}" for ext in ("key", "csr", "pem"))
        openssl(self.dir, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key.name, "-out", csr.name, "-subj", f"/CN=localhost {name}",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1")
        dates = ["-startdate", "20200101000000Z", "-enddate", "20200201000000Z"] if expired else ["-days", "30"]
        openssl(self.dir, "ca", "-config", "ca.cnf", "-batch", "-notext", "-cert", "ca.pem", "-keyfile", "ca.key",
                "-in", csr.name, "-out", cert.name, *dates)
        os.chmod(key, 0o600)
        return cert, key


def der(pem_path):
    return ssl.PEM_cert_to_DER_cert(Path(pem_path).read_text())


@pytest.fixture
def pki(tmp_path):
    return PKI(tmp_path / "pki")


def ca_context(pki):
    return ssl.create_default_context(cafile=str(pki.ca))


def tls_server(ccfd_factory, pki, cert=None, key=None, extra=("--executor", "none")):
    if cert is None:
        cert, key = pki.leaf("server")
    return ccfd_factory(extra_args=["--tls-cert", str(cert), "--tls-key", str(key), *extra],
                        ssl_context=ca_context(pki))


def wait_log(server, pattern, offset, timeout=5.0):
    deadline = time.monotonic() + timeout * SCALE
    while not re.search(pattern, server.log_text(offset)):
        assert time.monotonic() < deadline, f"no {pattern!r} in the log:\n{server.tail(offset)}"
        time.sleep(0.02)


def run_ccfd(args, timeout=10):
    binary = os.environ.get("CCFD") or str(REPO / "build" / "ccfd")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout * SCALE)


# The clients.


def curl(server, pki, target, *extra):
    key, secret = account_key(server.account_id)
    return subprocess.run(
        ["curl", "-sS", "--cacert", str(pki.ca), "--aws-sigv4", f"aws:amz:{server.region}:execute-api",
         "--user", f"{key}:{secret}", *extra, f"https://127.0.0.1:{server.port}{target}"],
        capture_output=True, text=True, timeout=30)


def ccf_cli(server, tmp_path, *args, env=None):
    binary = os.environ.get("CCF_BIN") or str(REPO / "build" / "ccf")
    key, secret = account_key(server.account_id)
    e = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": key,
         "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": server.region,
         "CCF_ENDPOINT": f"https://127.0.0.1:{server.port}", **(env or {})}
    return subprocess.run([binary, *args, "--output", "json"], env=e, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


def aws_cli(server, tmp_path, *args):
    aws = "/usr/bin/aws" if os.access("/usr/bin/aws", os.X_OK) else shutil.which("aws")
    if not aws:
        pytest.fail("the AWS CLI is missing: scripts/deps.sh installs Debian's awscli")
    key, secret = account_key(server.account_id)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "AWS_DATA_PATH": str(MODEL_DIR), "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_PAGER": ""}
    return subprocess.run(
        [aws, "ccf", *args, "--endpoint-url", f"https://127.0.0.1:{server.port}", "--region", server.region,
         "--output", "json"],
        env=env, capture_output=True, text=True, timeout=60)


def boto3_client(server, monkeypatch, tmp_path, verify):
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    monkeypatch.setenv("AWS_DATA_PATH", str(MODEL_DIR))
    for var in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(var, str(tmp_path / "none"))
    key, secret = account_key(server.account_id)
    return boto3.session.Session().client(
        "ccf", endpoint_url=f"https://127.0.0.1:{server.port}", region_name=server.region,
        aws_access_key_id=key, aws_secret_access_key=secret, verify=verify,
        config=Config(retries={"max_attempts": 1}))


def test_every_client_over_https_with_the_test_ca(ccfd_factory, pki, tmp_path, monkeypatch):
    s = tls_server(ccfd_factory, pki)
    name = unique_name("tls")
    # http.client (the test suite's own client), signed, over TLS.
    r = s.client.post(CONNECTORS, {"name": name, "container_properties": props()})
    assert r.status == 201, r
    cid = r.json["connector"]["connector_id"]
    assert s.client.get_connector(cid)["name"] == name
    assert s.client._conn.sock.version() in ("TLSv1.2", "TLSv1.3")

    # curl --aws-sigv4
    r = curl(s, pki, f"{CONNECTORS}/{cid}", "-w", "\n%{http_code}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("\n200") and json.loads(r.stdout.rsplit("\n", 1)[0])["connector"]["name"] == name

    # ccf, with --ca-bundle and with AWS_CA_BUNDLE
    r = ccf_cli(s, tmp_path, "connector", "get", cid, "--ca-bundle", str(pki.ca))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["connector"]["connector_id"] == cid
    r = ccf_cli(s, tmp_path, "connector", "list", env={"AWS_CA_BUNDLE": str(pki.ca)})
    assert r.returncode == 0, r.stderr
    assert cid in [c["connector_id"] for c in json.loads(r.stdout)["connectors"]]

    # boto3 (verify= a CA file, as AWS_CA_BUNDLE would give it)
    ccf = boto3_client(s, monkeypatch, tmp_path, str(pki.ca))
    assert ccf.get_custom_connector(connector_id=cid)["connector"]["name"] == name

    # the AWS CLI with --ca-bundle
    r = aws_cli(s, tmp_path, "get-custom-connector", "--connector_id", cid, "--ca-bundle", str(pki.ca))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["connector"]["connector_id"] == cid


def test_clients_refuse_a_certificate_they_cannot_verify(ccfd_factory, pki, tmp_path, monkeypatch):
    """Without the test CA (the system's CAs only), nothing is sent."""
    s = tls_server(ccfd_factory, pki)
    r = ccf_cli(s, tmp_path, "connector", "list")
    assert r.returncode == 1 and "ConnectionError" in r.stderr and "certificate" in r.stderr, r.stderr
    other = PKI(tmp_path / "other")  # a CA that did not sign it
    r = ccf_cli(s, tmp_path, "connector", "list", "--ca-bundle", str(other.ca))
    assert r.returncode == 1 and "certificate" in r.stderr, r.stderr
    r = subprocess.run(["curl", "-sS", f"https://127.0.0.1:{s.port}/healthz"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 60, r  # CURLE_PEER_FAILED_VERIFICATION


def test_expired_certificate_is_refused_by_every_client(ccfd_factory, pki, tmp_path, monkeypatch):
    cert, key = pki.leaf("expired", expired=True)
    s = ccfd_factory(extra_args=["--tls-cert", str(cert), "--tls-key", str(key), "--executor", "none"],
                     ssl_context=ssl._create_unverified_context())  # the fixture's own probe only
    assert "tls.certificate_not_valid_now" in s.log_text()

    with pytest.raises(ssl.SSLCertVerificationError, match="expired"):
        c = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=10, context=ca_context(pki))
        c.request("GET", "/healthz")
    r = curl(s, pki, CONNECTORS)
    assert r.returncode == 60 and "expired" in r.stderr, r
    r = ccf_cli(s, tmp_path, "connector", "list", "--ca-bundle", str(pki.ca))
    assert r.returncode == 1 and "expired" in r.stderr, r.stderr
    from botocore.exceptions import SSLError

    with pytest.raises(SSLError, match="expired"):
        boto3_client(s, monkeypatch, tmp_path, str(pki.ca)).list_custom_connectors()
    r = aws_cli(s, tmp_path, "list-custom-connectors", "--ca-bundle", str(pki.ca))
    assert r.returncode != 0 and "expired" in r.stderr, r.stderr


def handshake(port, context):
    """The TLS version agreed, or the ssl.SSLError / OSError raised."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as t:
                return t.version()
        except (ssl.SSLError, OSError) as e:
            return e


def legacy_context(pki, version):
    """A client that offers exactly this version, weak ciphers allowed
    (OpenSSL 3 does not offer TLS 1.0/1.1 at its default security level)."""
    ctx = ca_context(pki)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():  # Python deprecates what this test must offer
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


def test_only_tls_1_2_and_1_3_are_accepted(ccfd_factory, pki):
    s = tls_server(ccfd_factory, pki)
    assert handshake(s.port, legacy_context(pki, ssl.TLSVersion.TLSv1_3)) == "TLSv1.3"
    assert handshake(s.port, legacy_context(pki, ssl.TLSVersion.TLSv1_2)) == "TLSv1.2"
    for v in ("TLSv1", "TLSv1_1"):
        v = getattr(ssl.TLSVersion, v)
        got = handshake(s.port, legacy_context(pki, v))
        assert isinstance(got, Exception), f"{v.name} was accepted: {got}"
    # openssl s_client, the operator's check
    for flag in ("-tls1", "-tls1_1"):
        r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{s.port}", flag,
                            "-cipher", "DEFAULT:@SECLEVEL=0"], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode != 0, f"{flag} was accepted: {r.stdout}"
    # plain HTTP to the HTTPS port gets no HTTP answer
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    with pytest.raises((http.client.HTTPException, OSError)):
        c.request("GET", "/healthz")
        c.getresponse()
    c.close()
    assert s.client.get("/healthz", check=False).status == 200  # still serving


def test_sighup_swaps_the_certificate_while_connections_stay_up(ccfd_factory, pki, tmp_path):
    a_cert, a_key = pki.leaf("a")
    b_cert, b_key = pki.leaf("b")
    cert, key = tmp_path / "tls.pem", tmp_path / "tls.key"
    shutil.copy(a_cert, cert)
    shutil.copy(a_key, key)
    s = tls_server(ccfd_factory, pki, cert, key)
    old = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=10, context=ca_context(pki))
    old.request("GET", "/healthz")
    assert old.getresponse().read() and old.sock.getpeercert(binary_form=True) == der(a_cert)

    shutil.copy(b_cert, cert)
    shutil.copy(b_key, key)
    off = s.log_size()
    s.proc.send_signal(signal.SIGHUP)
    wait_log(s, r"event=tls\.certificate_loaded", off)
    wait_log(s, r"event=auth\.credentials_reloaded", off)  # the credentials too, as before

    new = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=10, context=ca_context(pki))
    new.request("GET", "/healthz")
    assert new.getresponse().status == 200
    assert new.sock.getpeercert(binary_form=True) == der(b_cert)
    # The connection opened before keeps its certificate and its keep-alive.
    sock = old.sock
    old.request("GET", "/healthz")
    assert old.getresponse().status == 200
    assert old.sock is sock and sock.getpeercert(binary_form=True) == der(a_cert)
    assert s.client.get(f"{CONNECTORS}/cc-000000000000", check=False).status == 404  # signed too

    # A certificate that does not load keeps the one in use: here a key
    # that is not the certificate's.
    shutil.copy(a_key, key)
    off = s.log_size()
    s.proc.send_signal(signal.SIGHUP)
    wait_log(s, r"event=tls\.reload_failed", off)
    assert "tls.key_mismatch" in s.log_text(off)
    third = http.client.HTTPSConnection("127.0.0.1", s.port, timeout=10, context=ca_context(pki))
    third.request("GET", "/healthz")
    assert third.getresponse().status == 200
    assert third.sock.getpeercert(binary_form=True) == der(b_cert)
    for c in (old, new, third):
        c.close()


def test_jobs_get_an_https_endpoint_and_call_back_over_it(ccfd_factory, pki, tmp_path):
    s = tls_server(ccfd_factory, pki, extra=("--stop-grace", "2"))
    ccf = job_ccf_binary()
    script = ('echo "endpoint=$CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT"; '
              f'exec {ccf} job get "$CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID" "$CUSTOM_CONNECTOR_JOB_ID" '
              '--output json')
    p = {"command": ["/bin/sh", "-c", script],
         "environment": [{"name": "AWS_CA_BUNDLE", "value": str(pki.ca)}]}
    r = s.client.post(CONNECTORS, {"name": unique_name("tlsjob"), "container_properties": p})
    assert r.status == 201, r
    cid = r.json["connector"]["connector_id"]
    jid = s.client.start_job(cid)["job_id"]
    deadline = time.monotonic() + 20 * SCALE
    while (job := s.client.get_job(cid, jid))["status"] not in ("SUCCEEDED", "FAILED", "STOPPED"):
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    out = s.client.get(f"{CONNECTORS}/{cid}/jobs/{jid}/logs", check=False).body.decode()
    assert job["status"] == "SUCCEEDED", out
    assert f"endpoint=https://127.0.0.1:{s.port}/" in out
    assert json.loads(out.split("\n", 1)[1])["job"]["job_id"] == jid


# Configuration.


def test_tls_config_errors(pki, tmp_path):
    cert, key = pki.leaf("cfg")
    data = ["--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0"]
    r = run_ccfd([*data, "--tls-cert", str(cert)])
    assert r.returncode == 2 and "tls-key" in r.stderr, r
    r = run_ccfd([*data, "--tls-key", str(key)])
    assert r.returncode == 2 and "tls-cert" in r.stderr, r
    r = run_ccfd([*data, "--listen", "0.0.0.0:0"])  # plain HTTP off loopback: still refused
    assert r.returncode == 2 and "allow-insecure-listen" in r.stderr, r
    r = run_ccfd(["--help"])
    assert "--tls-cert FILE" in r.stdout and "--tls-key FILE" in r.stdout

    # Files that do not load: exit 1, and the log says which and why.
    other_cert, other_key = pki.leaf("other")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    open_key = tmp_path / "open.key"
    shutil.copy(key, open_key)
    os.chmod(open_key, 0o644)
    not_a_key = tmp_path / "cert-as-key.pem"
    shutil.copy(cert, not_a_key)
    os.chmod(not_a_key, 0o600)
    for c, k, event in [(garbage, key, "tls.certificate_invalid"), (cert, other_key, "tls.key_mismatch"),
                        (cert, open_key, "tls.key_mode"), (tmp_path / "missing.pem", key, "tls.file_unreadable"),
                        (cert, not_a_key, "tls.key_invalid")]:
        r = run_ccfd([*data, "--tls-cert", str(c), "--tls-key", str(k), "--executor", "none"])
        assert r.returncode == 1 and event in r.stderr, (event, r.stderr)


def test_off_loopback_listen_is_allowed_with_tls(ccfd_factory, pki, tmp_path):
    """0.0.0.0 binds every address; the test only connects to 127.0.0.1."""
    cert, key = pki.leaf("any")
    s = ccfd_factory(extra_args=["--tls-cert", str(cert), "--tls-key", str(key), "--executor", "none"],
                     ssl_context=ca_context(pki))
    # ccfd_factory listens on 127.0.0.1: start a second one on 0.0.0.0 directly.
    port = s.port
    s.stop()
    binary = os.environ.get("CCFD") or str(REPO / "build" / "ccfd")
    log = open(tmp_path / "any.log", "wb")
    p = subprocess.Popen([binary, "--listen", f"0.0.0.0:{port}", "--data-dir", str(s.data_dir),
                          "--tls-cert", str(cert), "--tls-key", str(key), "--executor", "none"],
                         stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10 * SCALE
        while True:
            assert p.poll() is None, (tmp_path / "any.log").read_text()
            try:
                c = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=ca_context(pki))
                c.request("GET", "/healthz")
                assert c.getresponse().status == 200
                c.close()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "any.log").read_text()
                time.sleep(0.05)
        text = (tmp_path / "any.log").read_text()
        assert "insecure_listen" not in text and f"https://0.0.0.0:{port}/" in text
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30 * SCALE) == 0
        log.close()
