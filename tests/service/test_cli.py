"""The ccf command-line client (build/ccf, on libccf) against a real ccfd.

Every subcommand's happy path with its JSON output parsed and checked, the
exit codes (0 ok, 1 API or other failure, 2 usage, 3 a waited-for job that
FAILED or STOPPED), paging, batching of document files, waiting for jobs and
following their logs. A small fake server checks what no real ccfd can show
yet: that requests are SigV4-signed correctly (sorted, encoded queries; the
session token signed) from each credentials source, and that malformed
answers end in an error, never a crash.

ccf runs with a clean environment (no AWS_* or CCF_* variables) in a
directory of its own, so that no ./var/credentials is picked up by chance;
when the server's data directory has a credentials file (once ccfd
authenticates), ccf is pointed at it and signs.
"""

import hashlib
import hmac
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse
from pathlib import Path

import pytest

from ccftest import (
    ACCOUNT_ID,
    CONNECTORS,
    MISSING_CONNECTOR,
    MISSING_JOB,
    checksum,
    not_found_checkpoint,
    not_found_connector,
    not_found_job,
    props,
    unique_name,
)
from conftest import REPO, SANITIZER_MARKS

try:  # the test accounts' keys, once the service tests sign
    from ccftest import OTHER_ACCOUNT_ID, account_key
except ImportError:  # pragma: no cover
    OTHER_ACCOUNT_ID = account_key = None

CONNECTOR_ID_RE = re.compile(r"^cc-[0-9a-f]{12}$")
JOB_ID_RE = re.compile(r"^ccj-[0-9a-f]{12}$")

GROUPS = {
    "connector": ["create", "get", "list", "update", "delete"],
    "job": ["start", "get", "list", "stop", "wait", "logs"],
    "document": ["put", "delete", "list"],
    "checkpoint": ["put", "get", "delete", "versions", "restore"],
}


def ccf_binary():
    path = os.environ.get("CCF_BIN")
    if not path and os.environ.get("CCFD"):
        path = str(Path(os.environ["CCFD"]).parent / "ccf")
    path = path or str(REPO / "build" / "ccf")
    if not os.access(path, os.X_OK):
        pytest.fail(f"ccf binary not found or not executable: {path} (build it, or set CCF_BIN)")
    return path


class Result:
    def __init__(self, args, rc, raw, err):
        self.args, self.rc, self.raw, self.err = args, rc, raw, err
        self.out = raw.decode("utf-8", "replace")

    @property
    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:
            raise AssertionError(f"ccf printed no JSON ({e}): {self}") from None

    def __str__(self):
        out = self.out if len(self.out) < 2000 else self.out[:2000] + "..."
        return f"ccf {' '.join(self.args)} -> {self.rc}\nstdout: {out}\nstderr: {self.err}"


def base_env(endpoint):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "CCF_", "CUSTOM_CONNECTOR_"))}
    env["CCF_ENDPOINT"] = endpoint
    return env


def run_ccf(endpoint, *args, cwd, env=None, input=None, timeout=120, data_dir=None):
    e = base_env(endpoint)
    e["HOME"] = str(cwd)  # no ~/.aws/credentials of the machine's
    # The server's credentials file (conftest writes it, the server's own
    # account first): ccf signs with its first key, as with ./var/credentials.
    if data_dir is not None and (Path(data_dir) / "credentials").exists():
        e["CCF_CREDENTIALS_FILE"] = str(Path(data_dir) / "credentials")
    e.update(env or {})
    p = subprocess.run([ccf_binary(), *args], cwd=cwd, env=e, input=input, capture_output=True,
                       timeout=timeout)
    r = Result(list(args), p.returncode, p.stdout, p.stderr.decode("utf-8", "replace"))
    marks = [m for m in SANITIZER_MARKS if m in r.err]
    assert not marks, f"sanitizer report from ccf: {r}"
    return r


@pytest.fixture
def ccf(server, tmp_path):
    """ccf(*args, ...) against the session's ccfd (it runs no jobs)."""
    def call(*args, **kw):
        return run_ccf(f"http://127.0.0.1:{server.port}", *args, cwd=tmp_path,
                       data_dir=server.data_dir, **kw)
    return call


def ccf_for(srv, cwd):
    def call(*args, **kw):
        return run_ccf(f"http://127.0.0.1:{srv.port}", *args, cwd=cwd, data_dir=srv.data_dir, **kw)
    return call


def ok(r, rc=0):
    assert r.rc == rc, f"expected exit {rc}: {r}"
    return r


def api_error(r, error_type, message=None):
    assert r.rc == 1, f"expected exit 1: {r}"
    assert r.out == "", f"a failed command prints nothing on stdout: {r}"
    line = r.err.strip().splitlines()[-1]
    assert line.startswith(f"ccf: {error_type}: "), f"stderr: {r}"
    if message is not None:
        assert line == f"ccf: {error_type}: {message}", f"stderr: {r}"
    return r


def usage_error(r, mentions=None):
    assert r.rc == 2, f"expected exit 2: {r}"
    assert r.err.startswith("ccf: UsageError: "), f"stderr: {r}"
    if mentions:
        assert mentions in r.err, f"stderr: {r}"
    assert r.out == "", f"usage errors print nothing on stdout: {r}"
    return r


def create(ccf, *extra, name=None):
    r = ok(ccf("connector", "create", "--output", "json", "--name", name or unique_name("cli"),
               *extra))
    c = r.json["connector"]
    assert CONNECTOR_ID_RE.match(c["connector_id"]), r
    return c


# ---------------------------------------------------------------- help, usage

def test_help_on_every_subcommand(ccf):
    r = ok(ccf("--help"))
    assert "Usage: ccf <group> <command>" in r.out and "Exit status" in r.out
    usage = ccf()
    assert usage.rc == 2 and "Usage: ccf" in usage.err
    for group, cmds in GROUPS.items():
        r = ok(ccf(group, "--help"))
        for c in cmds:
            assert c in r.out, r
        assert ccf(group).rc == 2
        for c in cmds:
            r = ok(ccf(group, c, "--help"))
            assert r.out.startswith(f"Usage: ccf {group} {c}"), r
            assert "Example" in r.out, r
            assert ok(ccf(group, c, "-h")).out == r.out


def test_usage_errors_exit_2_and_send_nothing(tmp_path):
    # Nothing listens at this endpoint: a usage error never gets that far.
    def dead(*args):
        return run_ccf("http://127.0.0.1:1", *args, cwd=tmp_path)

    r = usage_error(dead("nothing", "list"), "unknown group")
    # Regression: the hint had two spaces ("ccf  --help") without a command.
    assert r.err.endswith("\nTry 'ccf --help'.\n"), r
    assert usage_error(dead("connector", "list", "--bogus")).err.endswith(
        "\nTry 'ccf connector list --help'.\n")
    usage_error(dead("connector", "frobnicate"), "unknown command")
    usage_error(dead("connector", "list", "--bogus"), "unknown option --bogus")
    usage_error(dead("connector", "list", "-x"), "unknown option -x")
    usage_error(dead("connector", "list", "--max-items"), "--max-items needs a value")
    usage_error(dead("connector", "list", "--max-items", "0"), "--max-items")
    usage_error(dead("connector", "list", "--page-size", "101"), "--page-size")
    usage_error(dead("connector", "list", "--output", "xml"), "--output")
    usage_error(dead("connector", "list", "extra"), "unexpected word 'extra'")
    usage_error(dead("connector", "create", "--command", "/bin/true"), "--name is required")
    usage_error(dead("connector", "create", "--name", "x", "--name", "y"), "given twice")
    usage_error(dead("connector", "create", "--name", "abc", "--timeout", "ten"), "--timeout")
    usage_error(dead("connector", "create", "--name", "abc", "--cpu", "1x"), "--cpu")
    usage_error(dead("connector", "create", "--name", "abc", "--env", "NOEQUALS"), "NAME=VALUE")
    usage_error(dead("connector", "create", "--name", "abc", "--arg", "-c"), "--command")
    usage_error(dead("connector", "get"), "connector id is required")
    usage_error(dead("connector", "update", MISSING_CONNECTOR), "nothing to update")
    usage_error(dead("connector", "update", MISSING_CONNECTOR, "--unset", "bogus"), "bogus")
    usage_error(dead("job", "get", MISSING_CONNECTOR), "job id is required")
    usage_error(dead("job", "logs", MISSING_CONNECTOR, MISSING_JOB, "--tail", "1", "--offset", "1"))
    usage_error(dead("job", "start", MISSING_CONNECTOR, "--wait=yes"), "takes no value")
    usage_error(dead("document", "put", "--connector", MISSING_CONNECTOR), "--file")
    usage_error(dead("document", "delete", MISSING_CONNECTOR), "delete")
    usage_error(dead("checkpoint", "put", MISSING_CONNECTOR), "--data")
    usage_error(dead("connector", "list", "--secret-access-key", "x"), "--access-key-id")
    # The connection error itself, for contrast: exit 1.
    api_error(dead("connector", "list", "--no-sign-request"), "ConnectionError")


# ---------------------------------------------------------------- connectors

def test_connector_create_get_list_update_delete(ccf, client):
    name = unique_name("cli")
    r = ok(ccf("connector", "create", "--name", name, "--description", "synced by ccf",
               "--command", "/bin/sh", "--arg", "-c", "--arg", "echo \"$GREETING\"",
               "--timeout", "600", "--cpu", "1.5", "--memory", "4096",
               "--env", "GREETING=hello world", "--env", "EMPTY=", "--output", "json"))
    c = r.json["connector"]
    assert c["name"] == name and c["description"] == "synced by ccf"
    assert c["status"] == "AVAILABLE" and "container_properties" not in c
    cid = c["connector_id"]
    assert c["arn"].endswith("/" + cid)

    g = ok(ccf("connector", "get", cid, "--output", "json")).json["connector"]
    assert g["container_properties"] == {
        "resource_requirements": {"cpu": 1.5, "memory": 4096},
        "timeout": 600,
        "command": ["/bin/sh", "-c", "echo \"$GREETING\""],
        "environment": [{"name": "GREETING", "value": "hello world"}, {"name": "EMPTY", "value": ""}],
    }
    assert client.get_connector(cid)["container_properties"] == g["container_properties"]

    listed = ok(ccf("connector", "list", "--output", "json")).json
    assert set(listed) == {"connectors"}
    assert [x for x in listed["connectors"] if x["connector_id"] == cid] == [c]

    u = ok(ccf("connector", "update", cid, "--name", name + "-2", "--timeout", "1200",
               "--unset", "description", "--unset", "cpu", "--output", "json")).json["connector"]
    assert u["name"] == name + "-2" and "description" not in u
    g = client.get_connector(cid)
    assert g["container_properties"]["timeout"] == 1200
    assert g["container_properties"]["resource_requirements"] == {"cpu": 1, "memory": 4096}
    assert g["container_properties"]["command"][0] == "/bin/sh"

    # --command/--env replace the whole list (merge patch on arrays).
    ok(ccf("connector", "update", cid, "--env", "ONLY=1", "--", "/bin/echo", "hi"))
    g = client.get_connector(cid)["container_properties"]
    assert g["environment"] == [{"name": "ONLY", "value": "1"}]
    assert g["command"] == ["/bin/echo", "hi"]

    r = ok(ccf("connector", "delete", cid))
    assert r.out == ""
    api_error(ccf("connector", "get", cid), "ResourceNotFoundException", not_found_connector(cid))
    assert client.get(f"{CONNECTORS}/{cid}").status == 404


def test_connector_command_forms(ccf, client, tmp_path):
    script = tmp_path / "sync.sh"
    script.write_text("#!/bin/sh\necho synced\n")
    script.chmod(0o755)
    # Everything after -- is the command; a relative program here becomes absolute.
    c = create(ccf, "--", "./sync.sh", "--full", "-v")
    cmd = client.get_connector(c["connector_id"])["container_properties"]["command"]
    assert cmd == [str(script.resolve()), "--full", "-v"]
    # --command plus --arg; a name without a slash stays for the job PATH.
    c = create(ccf, "--command", "sh", "--arg", "-c", "--arg", "exit 0", "--", "extra")
    cmd = client.get_connector(c["connector_id"])["container_properties"]["command"]
    assert cmd == ["sh", "-c", "exit 0", "extra"]
    # The image form.
    p = props()
    c = create(ccf, "--image-uri", p["image_uri"], "--execution-role-arn", p["execution_role_arn"],
               "--job-role-arn", p["job_role_arn"])
    got = client.get_connector(c["connector_id"])["container_properties"]
    assert got["image_uri"] == p["image_uri"] and "command" not in got


def test_table_output(ccf):
    c = create(ccf, "--command", "/bin/true", "--env", "A=1")
    cid = c["connector_id"]
    r = ok(ccf("connector", "get", cid, "--output", "table"))
    assert re.search(rf"^connector_id\s+{cid}$", r.out, re.M), r
    assert re.search(r"^command\s+/bin/true$", r.out, re.M), r
    assert re.search(r"^environment\s+A=1$", r.out, re.M), r
    r = ok(ccf("connector", "list", "--output", "table"))
    assert r.out.splitlines()[0].split() == ["CONNECTOR_ID", "STATUS", "CREATED_AT", "NAME"]
    assert any(line.startswith(cid) for line in r.out.splitlines()), r
    # Not a terminal and no --output: JSON.
    assert "connectors" in ok(ccf("connector", "list")).json


def test_document_table_header_is_as_wide_as_its_rows(ccf, client):
    """Regression: the header's CHECKSUM column was 8 wide, the rows' 32 to
    64, so DOCUMENT_ID stood over the checksums."""
    cid = create(ccf, "--command", "/bin/true")["connector_id"]
    sha = hashlib.sha256(b"x").hexdigest()
    client.put_documents(cid, [{"document_id": "a/one.txt", "checksum": sha},
                               {"document_id": "b", "checksum": "0123456789abcdef0123456789abcdef"}])
    lines = ok(ccf("document", "list", cid, "--output", "table")).out.splitlines()
    header, rows = lines[0], lines[1:]
    assert header.split() == ["UPDATED_AT", "CHECKSUM", "DOCUMENT_ID"], lines
    assert len(rows) == 2, lines
    for row, (doc_id, checksum) in zip(rows, (("a/one.txt", sha), ("b", "0123456789abcdef" * 2))):
        assert row.index(checksum) == header.index("CHECKSUM"), lines
        assert row.rindex(doc_id) == header.index("DOCUMENT_ID"), lines
        assert row.endswith(doc_id), lines


def test_api_errors_exit_1(ccf, client):
    api_error(ccf("connector", "get", MISSING_CONNECTOR), "ResourceNotFoundException",
              f"Connector {MISSING_CONNECTOR} not found")
    api_error(ccf("connector", "delete", MISSING_CONNECTOR), "ResourceNotFoundException",
              not_found_connector(MISSING_CONNECTOR))
    api_error(ccf("connector", "create", "--name", "x", "--command", "/bin/true"),
              "BadRequestException")
    api_error(ccf("connector", "create", "--name", "no-command"), "BadRequestException")
    c = create(ccf, "--command", "/bin/true")
    cid = c["connector_id"]
    api_error(ccf("job", "get", cid, MISSING_JOB), "ResourceNotFoundException",
              not_found_job(MISSING_JOB))
    api_error(ccf("connector", "update", cid, "--timeout", "0"), "BadRequestException")
    api_error(ccf("job", "start", cid, "--env", "CUSTOM_CONNECTOR_JOB_ID=x"), "BadRequestException")
    # This server runs no jobs: the job stays STARTED and the connector IN_USE.
    ok(ccf("job", "start", cid))
    api_error(ccf("connector", "delete", cid), "ConflictException")
    api_error(ccf("job", "start", cid), "ConflictException")
    api_error(ccf("checkpoint", "get", cid), "ResourceNotFoundException", not_found_checkpoint(cid))
    # A list whose first page fails prints no half-made JSON.
    api_error(ccf("job", "list", MISSING_CONNECTOR), "ResourceNotFoundException",
              not_found_connector(MISSING_CONNECTOR))


# ---------------------------------------------------------------- paging

def test_paging_through_250_connectors(ccfd_factory, tmp_path):
    srv = ccfd_factory()
    ccf = ccf_for(srv, tmp_path)
    made = [srv.client.create_connector(name=f"page-{i:03d}")["connector_id"] for i in range(250)]

    every = ok(ccf("connector", "list", "--output", "json")).json
    assert set(every) == {"connectors"}
    assert [c["connector_id"] for c in every["connectors"]] == made  # oldest first, no repeats
    small = ok(ccf("connector", "list", "--page-size", "7", "--output", "json")).json
    assert [c["connector_id"] for c in small["connectors"]] == made

    # --max-items stops on a page boundary and hands back a token to resume.
    first = ok(ccf("connector", "list", "--max-items", "120", "--page-size", "50",
                   "--output", "json")).json
    assert [c["connector_id"] for c in first["connectors"]] == made[:120]
    assert first["next_token"]
    rest = ok(ccf("connector", "list", "--starting-token", first["next_token"],
                  "--output", "json")).json
    assert [c["connector_id"] for c in rest["connectors"]] == made[120:]
    assert "next_token" not in rest
    exact = ok(ccf("connector", "list", "--max-items", "250", "--output", "json")).json
    assert len(exact["connectors"]) == 250 and "next_token" not in exact
    table = ok(ccf("connector", "list", "--max-items", "3", "--output", "table"))
    assert len(table.out.splitlines()) == 4 and "--starting-token" in table.err
    api_error(ccf("connector", "list", "--starting-token", "not-a-token"), "BadRequestException")


# ---------------------------------------------------------------- documents

def doc_lines(n, prefix="doc", seed="s"):
    """n documents, alternating JSON lines and tab-separated lines."""
    lines, want = [], {}
    for i in range(n):
        did = f"{prefix}/{i:06d}.txt"
        sum_ = hashlib.sha256(f"{seed}{i}".encode()).hexdigest()
        want[did] = sum_
        if i % 2:
            lines.append(json.dumps({"document_id": did, "checksum": sum_}))
        else:
            lines.append(f"{did}\t{sum_}")
    return lines, want


def all_documents(client, cid):
    items, _, _ = client.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)
    return {d["document_id"]: d["checksum"] for d in items}


def test_document_put_10000_lines(ccf, client, tmp_path):
    cid = create(ccf, "--command", "/bin/true")["connector_id"]
    lines, want = doc_lines(10000)
    f = tmp_path / "checksums.jsonl"
    f.write_text("\n".join(lines[:5000]) + "\n\n  \n" + "\r\n".join(lines[5000:]) + "\n")
    r = ok(ccf("document", "put", "--connector", cid, "--file", str(f), "--output", "json"))
    assert r.json == {"put": 10000, "batches": 10}
    assert all_documents(client, cid) == want

    listed = ok(ccf("document", "list", cid, "--output", "json")).json
    assert set(listed) == {"documents"}
    assert {d["document_id"]: d["checksum"] for d in listed["documents"]} == want
    assert [d["document_id"] for d in listed["documents"]] == sorted(want)
    part = ok(ccf("document", "list", "--connector", cid, "--max-items", "1500",
                  "--output", "json")).json
    assert len(part["documents"]) == 1500 and part["next_token"]
    rest = ok(ccf("document", "list", cid, "--starting-token", part["next_token"],
                  "--output", "json")).json
    assert len(rest["documents"]) == 8500


def test_document_put_stdin_duplicates_and_errors(ccf, client, tmp_path):
    cid = create(ccf, "--command", "/bin/true")["connector_id"]
    a, b = checksum("a"), checksum("b")
    # The same id twice: the later line wins (the batch is sent early).
    text = f"x\t{a}\ny\t{a}\nx\t{b}\n"
    r = ok(ccf("document", "put", cid, "--file", "-", "--output", "json", input=text.encode()))
    assert r.json == {"put": 3, "batches": 2}
    assert all_documents(client, cid) == {"x": b, "y": a}

    bad = tmp_path / "bad.tsv"
    bad.write_text(f"ok1\t{a}\nno tab here\n")
    r = api_error(ccf("document", "put", cid, "--file", str(bad)), "InputError")
    assert f"{bad}:2:" in r.err
    short = tmp_path / "short.tsv"
    short.write_text(f"s1\t{a}\ns2\tshort\n")
    r = api_error(ccf("document", "put", cid, "--file", str(short)), "BadRequestException")
    assert "lines 1-2" in r.err and "0 documents were put" in r.err
    assert "s1" not in all_documents(client, cid)  # a batch is all or nothing
    api_error(ccf("document", "put", cid, "--file", str(tmp_path / "missing")), "FileError")
    good = tmp_path / "good.tsv"
    good.write_text(f"g1\t{a}\n")
    api_error(ccf("document", "put", MISSING_CONNECTOR, "--file", str(good)),
              "ResourceNotFoundException", not_found_connector(MISSING_CONNECTOR) +
              f" (the batch of 1 from {good}, lines 1-1; 0 documents were put before it)")


def test_document_delete(ccf, client, tmp_path):
    cid = create(ccf, "--command", "/bin/true")["connector_id"]
    lines, want = doc_lines(2500, prefix="d")
    client_docs = [{"document_id": k, "checksum": v} for k, v in want.items()]
    for i in range(0, len(client_docs), 1000):
        client.put_documents(cid, client_docs[i:i + 1000])
    ids = sorted(want)
    f = tmp_path / "ids.txt"
    # Plain ids, and put's own line formats (the id is taken).
    f.write_text("\n".join(ids[:1000]) + "\n" + "\n".join(lines[1000:2400]) + "\n")
    r = ok(ccf("document", "delete", "--connector", cid, ids[2400], ids[2401], "never-existed",
               "--file", str(f), "--output", "json"))
    # Regression: "never-existed" was counted as deleted. The API's {} does
    # not say which ids were stored, so ccf reports the ids it sent.
    assert r.json == {"ids_sent": 2403, "batches": 4}
    assert sorted(all_documents(client, cid)) == ids[2402:]
    r = ok(ccf("document", "delete", cid, ids[2402], "never-existed", "--output", "table"))
    assert r.out == ("sent 2 ids to delete in 1 batches; none of them is stored now (an id that "
                     "was not stored is not an error)\n"), r
    assert "deleted 2" not in r.out and ids[2402] not in all_documents(client, cid)


# ---------------------------------------------------------------- checkpoint

def test_checkpoint_put_get_delete(ccf, tmp_path):
    cid = create(ccf, "--command", "/bin/true")["connector_id"]
    ok(ccf("checkpoint", "put", cid, "--data", "cursor=42"))
    cp = ok(ccf("checkpoint", "get", cid, "--output", "json")).json["checkpoint"]
    assert cp["connector_id"] == cid and cp["checkpoint_data"] == "cursor=42"
    created = cp["created_at"]

    data = "línea 1\n\ttab \u2603 \"quoted\"\n"
    f = tmp_path / "state"
    f.write_bytes(data.encode())
    ok(ccf("checkpoint", "put", "--connector", cid, "--file", str(f)))
    # Data that ends with a newline comes back byte for byte.
    assert ok(ccf("checkpoint", "get", cid, "--data-only")).raw == data.encode()
    cp = ok(ccf("checkpoint", "get", cid, "--output", "json")).json["checkpoint"]
    assert cp["checkpoint_data"] == data and cp["created_at"] == created
    ok(ccf("checkpoint", "put", cid, "--file", "-", input=b"from stdin"))
    # Regression: --data-only ended without a newline (glued to the prompt,
    # and lost by `while read`). One is added when the data has none ...
    assert ok(ccf("checkpoint", "get", cid, "--data-only")).raw == b"from stdin\n"
    # ... and the exact bytes are in the JSON.
    assert ok(ccf("checkpoint", "get", cid, "--output", "json")).json["checkpoint"][
        "checkpoint_data"] == "from stdin"
    ok(ccf("checkpoint", "delete", cid))
    api_error(ccf("checkpoint", "get", cid), "ResourceNotFoundException", not_found_checkpoint(cid))
    api_error(ccf("checkpoint", "delete", cid), "ResourceNotFoundException")


# ---------------------------------------------------------------- jobs (API only)

def test_job_start_get_list_stop(ccf, client):
    cid = create(ccf, "--command", "/bin/true")["connector_id"]
    j = ok(ccf("job", "start", cid, "--env", "SINCE=2026-01-01", "--output", "json")).json["job"]
    jid = j["job_id"]
    assert JOB_ID_RE.match(jid) and j["status"] == "STARTED" and j["connector_id"] == cid
    g = ok(ccf("job", "get", cid, jid, "--output", "json")).json["job"]
    assert g["job_id"] == jid and g["status"] == "STARTED"
    assert ok(ccf("job", "get", "--connector", cid, "--job", jid, "--output", "json")).json == {"job": g}
    listed = ok(ccf("job", "list", cid, "--output", "json")).json
    assert [x["job_id"] for x in listed["jobs"]] == [jid]
    assert ok(ccf("job", "list", cid, "--status", "SUCCEEDED", "--output", "json")).json == {"jobs": []}
    # Regression: a successful stop printed nothing. It shows the job now.
    r = ok(ccf("job", "stop", cid, jid, "--output", "json"))
    assert r.json["job"]["job_id"] == jid and r.json["job"]["status"] in ("STOPPING", "STOPPED"), r
    assert client.get_job(cid, jid)["status"] in ("STOPPING", "STOPPED")
    table = ok(ccf("job", "get", cid, jid, "--output", "table"))
    assert re.search(rf"^job_id\s+{jid}$", table.out, re.M), table
    api_error(ccf("job", "stop", cid, MISSING_JOB), "ResourceNotFoundException",
              not_found_job(MISSING_JOB))
    api_error(ccf("job", "list", cid, "--status", "DONE"), "BadRequestException")


# ---------------------------------------------------------------- jobs that run

@pytest.fixture
def runner(ccfd_factory, tmp_path):
    srv = ccfd_factory(extra_args=[])  # the local executor: jobs run
    return ccf_for(srv, tmp_path), srv


def test_job_start_wait_exit_codes(runner):
    ccf, srv = runner
    ok_c = create(ccf, "--", "/bin/sh", "-c", "echo fine")["connector_id"]
    r = ok(ccf("job", "start", ok_c, "--wait", "--output", "json"))
    j = r.json["job"]
    assert j["status"] == "SUCCEEDED" and j["exit_code"] == 0 and j["completed_at"]
    assert f"job {j['job_id']}: SUCCEEDED" in r.err

    bad = create(ccf, "--", "/bin/sh", "-c", "echo failing >&2; exit 3")["connector_id"]
    r = ccf("job", "start", bad, "--wait", "--output", "json")
    assert r.rc == 3, r
    j = r.json["job"]
    assert j["status"] == "FAILED" and j["exit_code"] == 3
    assert "FAILED, exit code 3" in r.err
    # job wait on an ended job answers at once with the same outcome.
    w = ccf("job", "wait", bad, j["job_id"], "--output", "json")
    assert w.rc == 3 and w.json["job"]["job_id"] == j["job_id"]

    # Stopped: exit 3 as well.
    slow = create(ccf, "--", "/bin/sh", "-c", "sleep 30")["connector_id"]
    j = ok(ccf("job", "start", slow, "--output", "json")).json["job"]
    ok(ccf("job", "stop", slow, j["job_id"]))
    w = ccf("job", "wait", slow, j["job_id"], "--output", "json")
    assert w.rc == 3 and w.json["job"]["status"] == "STOPPED", w

    # Several jobs, then a filtered list paged two at a time (three query
    # parameters, which a signed request must send sorted).
    for _ in range(5):
        ok(ccf("job", "start", ok_c, "--wait"))
    listed = ok(ccf("job", "list", ok_c, "--status", "SUCCEEDED", "--page-size", "2",
                    "--output", "json")).json["jobs"]
    assert len(listed) == 6 and all(x["status"] == "SUCCEEDED" for x in listed)
    assert listed == sorted(listed, key=lambda x: x["created_at"], reverse=True)


def test_job_logs_follow(runner):
    ccf, srv = runner
    script = "for i in 1 2 3 4 5; do echo line$i; sleep 0.2; done; echo done >&2"
    cid = create(ccf, "--", "/bin/sh", "-c", script)["connector_id"]
    j = ok(ccf("job", "start", cid, "--output", "json")).json["job"]
    r = ok(ccf("job", "logs", cid, j["job_id"], "--follow"))
    assert r.out == "line1\nline2\nline3\nline4\nline5\ndone\n", r
    assert srv.client.get_job(cid, j["job_id"])["status"] == "SUCCEEDED"
    # After the end: the whole log, or its tail.
    assert ok(ccf("job", "logs", cid, j["job_id"])).out == r.out
    assert ok(ccf("job", "logs", cid, j["job_id"], "--tail", "5")).out == "done\n"
    assert ok(ccf("job", "logs", cid, j["job_id"], "--offset", "6")).out == r.out[6:]

    # start --follow: the output, then the outcome as the exit status.
    fail = create(ccf, "--", "/bin/sh", "-c", "echo before; sleep 0.3; echo after; exit 4")
    r = ccf("job", "start", fail["connector_id"], "--follow")
    assert r.rc == 3 and r.out == "before\nafter\n", r
    assert "exit code 4" in r.err


def test_large_log_in_chunks(runner):
    ccf, srv = runner
    # 3 MiB of output: more than one logs answer (1 MiB each).
    cid = create(ccf, "--", "/bin/sh", "-c",
                 "i=0; while [ $i -lt 3072 ]; do printf '%01023d\\n' $i; i=$((i+1)); done")
    r = ccf("job", "start", cid["connector_id"], "--follow")
    assert r.rc == 0 and len(r.out) == 3 * 1024 * 1024, (r.rc, len(r.out), r.err)
    jid = srv.client.list_page(f"{CONNECTORS}/{cid['connector_id']}/jobs", "jobs")[0][0]["job_id"]
    assert ok(ccf("job", "logs", cid["connector_id"], jid)).out == r.out


# ---------------------------------------------------------------- authentication

def test_signed_requests_against_ccfd(ccf, server, tmp_path):
    """ccf's libcurl signature, as ccfd verifies it (once ccfd authenticates)."""
    if account_key is None or not (server.data_dir / "credentials").exists():
        pytest.skip("ccfd has no credentials file: requests are not authenticated yet")
    endpoint = f"http://127.0.0.1:{server.port}"
    unsigned = run_ccf(endpoint, "connector", "list", "--max-items", "1", "--no-sign-request",
                       cwd=tmp_path)
    if unsigned.rc == 0:
        pytest.skip("ccfd accepts unsigned requests: authentication is off")
    api_error(unsigned, "MissingAuthenticationTokenException")

    cid = create(ccf, "--command", "/bin/true")["connector_id"]  # signed from the file
    key, secret = account_key(ACCOUNT_ID)[:2]
    good = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
    r = ok(run_ccf(endpoint, "connector", "get", cid, "--output", "json", cwd=tmp_path, env=good))
    assert r.json["connector"]["connector_id"] == cid
    # Bodies, and queries with several parameters (signed sorted and encoded).
    f = tmp_path / "docs.tsv"
    f.write_text("".join(f"d/{i:04d} é+=&?\t{checksum(str(i))}\n" for i in range(2500)))
    ok(run_ccf(endpoint, "document", "put", cid, "--file", str(f), cwd=tmp_path, env=good))
    r = ok(run_ccf(endpoint, "document", "list", cid, "--page-size", "7", "--max-items", "30",
                   "--output", "json", cwd=tmp_path, env=good))
    assert len(r.json["documents"]) == 30 and r.json["next_token"]  # 4 pages of 7, then 2
    r = ok(run_ccf(endpoint, "document", "list", cid, "--starting-token", r.json["next_token"],
                   "--output", "json", cwd=tmp_path, env=good))
    assert len(r.json["documents"]) == 2500 - 30
    r = ok(run_ccf(endpoint, "job", "list", cid, "--status", "FAILED", "--page-size", "2",
                   "--output", "json", cwd=tmp_path, env=good))
    assert r.json == {"jobs": []}

    bad = dict(good, AWS_SECRET_ACCESS_KEY="not-the-secret-0000")
    api_error(run_ccf(endpoint, "connector", "get", cid, cwd=tmp_path, env=bad),
              "InvalidSignatureException")
    unknown = {"AWS_ACCESS_KEY_ID": "AKIANOSUCHKEY0000000", "AWS_SECRET_ACCESS_KEY": secret}
    api_error(run_ccf(endpoint, "connector", "get", cid, cwd=tmp_path, env=unknown),
              "UnrecognizedClientException")
    # Another tenant's key: the connector does not exist for it.
    other = account_key(OTHER_ACCOUNT_ID)[:2]
    api_error(run_ccf(endpoint, "connector", "get", cid, cwd=tmp_path,
                      env={"AWS_ACCESS_KEY_ID": other[0], "AWS_SECRET_ACCESS_KEY": other[1]}),
              "ResourceNotFoundException", not_found_connector(cid))


# ---------------------------------------------------------------- a fake server

class FakeApi:
    """An HTTP server that records requests and answers from a table, to
    check signing and the client's handling of answers no ccfd gives."""

    def __init__(self):
        self.requests = []
        self.routes = {}  # (method, path) -> (status, headers, body bytes)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_one(self, method):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                path = self.path.split("?")[0]
                fake.requests.append({
                    "method": method, "target": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                answers = fake.routes.get((method, path), [(404, {}, json.dumps(
                    {"message": "no route", "errorType": "ResourceNotFoundException"}).encode())])
                status, headers, out = answers.pop(0) if len(answers) > 1 else answers[0]
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def do_GET(self):
                self.handle_one("GET")

            def do_POST(self):
                self.handle_one("POST")

            def do_PUT(self):
                self.handle_one("PUT")

            def do_DELETE(self):
                self.handle_one("DELETE")

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def route(self, method, path, status=200, body=b"", headers=None, times=None):
        """Answers (method, path) so; with times=N only the next N times,
        then what is routed after (the last answer repeats)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        h = {"Content-Type": "application/json"} if body else {}
        h.update(headers or {})
        if times is None:
            self.routes[(method, path)] = [(status, h, body)]
        else:
            self.routes.setdefault((method, path), [])
            self.routes[(method, path)][:0] = [(status, h, body)] * times

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake(tmp_path):
    f = FakeApi()
    yield f
    f.close()


# The fake server checks signatures only where a test asks; ccf must sign
# with something, as it no longer sends unsigned unless told to.
FAKE_KEYS = {"AWS_ACCESS_KEY_ID": "AKIAFAKE000000000000", "AWS_SECRET_ACCESS_KEY": "fake"}


def fake_ccf(fake, tmp_path, *args, env=None, cwd=None, keys=True, **kw):
    if env is None and keys:
        env = FAKE_KEYS
    return run_ccf(f"http://127.0.0.1:{fake.port}", *args, cwd=cwd or tmp_path, env=env, **kw)


T0 = "2026-11-24T23:54:14.123456Z"
CID = "cc-0123456789ab"


def summary(cid=CID):
    return {"connector_id": cid, "arn": f"arn:aws:ccf:us-east-1:123456789012:custom-connector/{cid}",
            "name": "n-1", "status": "AVAILABLE", "created_at": T0, "updated_at": T0}


def sigv4_check(req, key_id, secret, region="us-east-1", service="execute-api", token=None):
    """Verifies req's SigV4 signature as AWS documents it (and as ccfd will)."""
    h = req["headers"]
    m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                     r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})", h.get("authorization", ""))
    assert m, f"no SigV4 Authorization header: {h}"
    kid, date, reg, svc, signed, sig = m.groups()
    assert (kid, reg, svc) == (key_id, region, service)
    amz_date = h["x-amz-date"]
    assert amz_date.startswith(date)
    signed_list = signed.split(";")
    assert "host" in signed_list and "x-amz-date" in signed_list
    if token:
        assert h["x-amz-security-token"] == token and "x-amz-security-token" in signed_list
    else:
        assert "x-amz-security-token" not in h
    path, _, query = req["target"].partition("?")
    enc = lambda s: urllib.parse.quote(s, safe="-_.~")  # noqa: E731
    pairs = sorted((enc(urllib.parse.unquote(k)), enc(urllib.parse.unquote(v)))
                   for k, _, v in (p.partition("=") for p in query.split("&") if p))
    canon_query = "&".join(f"{k}={v}" for k, v in pairs)
    # libcurl signs the query as sent: it must already be canonical.
    assert query == canon_query, f"query not sorted/encoded: {query!r} vs {canon_query!r}"
    canon_headers = "".join(f"{n}:{' '.join(h[n].split())}\n" for n in signed_list)
    canon = "\n".join([req["method"], "/".join(enc(s) for s in path.split("/")), canon_query,
                       canon_headers, signed, hashlib.sha256(req["body"]).hexdigest()])
    scope = f"{date}/{reg}/{svc}/aws4_request"
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canon.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, reg, svc, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(want, sig), f"bad signature for {req['method']} {req['target']}"


def test_requests_are_signed_from_every_source(fake, tmp_path):
    fake.route("GET", "/api/v1/custom-connectors", body={"connectors": [summary()]})
    fake.route("POST", "/api/v1/custom-connectors/" + CID + "/documents", 202, body={})
    fake.route("PUT", "/api/v1/custom-connectors/" + CID + "/checkpoint", 202, body={})
    fake.route("DELETE", "/api/v1/custom-connectors/" + CID, 204)

    # No credentials anywhere: an error that says where ccf looked, and
    # nothing sent; unsigned only when asked for.
    before = len(fake.requests)
    r = fake_ccf(fake, tmp_path, "connector", "list", keys=False)
    assert r.rc == 2 and r.out == "", r
    assert r.err.startswith("ccf: CredentialsError: no credentials found; looked in: "), r
    for place in ("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (not set)",
                  f"{tmp_path}/.aws/credentials (no such file)", "CCF_CREDENTIALS_FILE (not set)",
                  "./var/credentials (no such file)", "--no-sign-request"):
        assert place in r.err, r
    assert len(fake.requests) == before
    ok(fake_ccf(fake, tmp_path, "connector", "list", "--no-sign-request", keys=False))
    assert "authorization" not in fake.requests[-1]["headers"]
    usage_error(fake_ccf(fake, tmp_path, "connector", "list", "--no-sign-request", "--profile", "x"),
                "--no-sign-request")

    # The environment; a session token is sent and signed.
    env = {"AWS_ACCESS_KEY_ID": "AKIAENV0000000000000", "AWS_SECRET_ACCESS_KEY": "env/secret+key",
           "AWS_SESSION_TOKEN": "tok-123", "AWS_REGION": "eu-west-1"}
    ok(fake_ccf(fake, tmp_path, "connector", "list", "--page-size", "7", "--starting-token",
                "a b=c/d", env=env))
    req = fake.requests[-1]
    assert req["target"] == "/api/v1/custom-connectors?max_results=7&next_token=a%20b%3Dc%2Fd"
    sigv4_check(req, "AKIAENV0000000000000", "env/secret+key", region="eu-west-1", token="tok-123")

    # Bodies are signed too: a document batch, a checkpoint, an empty DELETE.
    f = tmp_path / "d.tsv"
    f.write_text(f"a\t{checksum()}\nb\u00e9\t{checksum('b')}\n")
    ok(fake_ccf(fake, tmp_path, "document", "put", CID, "--file", str(f), env=env))
    sigv4_check(fake.requests[-1], "AKIAENV0000000000000", "env/secret+key", region="eu-west-1",
                token="tok-123")
    assert fake.requests[-1]["headers"]["content-type"] == "application/json"
    ok(fake_ccf(fake, tmp_path, "checkpoint", "put", CID, "--data", "x\u00e9", env=env))
    sigv4_check(fake.requests[-1], "AKIAENV0000000000000", "env/secret+key", region="eu-west-1",
                token="tok-123")
    ok(fake_ccf(fake, tmp_path, "connector", "delete", CID, env=env))
    sigv4_check(fake.requests[-1], "AKIAENV0000000000000", "env/secret+key", region="eu-west-1",
                token="tok-123")

    # Flags beat the environment.
    ok(fake_ccf(fake, tmp_path, "connector", "list", "--access-key-id", "AKIAFLAG000000000000",
                "--secret-access-key", "flagsecret", "--region", "us-west-2", env=env))
    sigv4_check(fake.requests[-1], "AKIAFLAG000000000000", "flagsecret", region="us-west-2")

    # CCF_CREDENTIALS_FILE: the first section, or the one --access-key-id names.
    cred = tmp_path / "creds"
    cred.write_text("# ccf\n[AKIAFILEONE000000000]\nsecret_access_key = one\naccount_id = 123456789012\n"
                    "\n[AKIAFILETWO000000000]\nsecret_access_key = two\nsession_token = t2\n")
    cred.chmod(0o600)
    ok(fake_ccf(fake, tmp_path, "connector", "list", env={"CCF_CREDENTIALS_FILE": str(cred)}))
    sigv4_check(fake.requests[-1], "AKIAFILEONE000000000", "one")
    ok(fake_ccf(fake, tmp_path, "connector", "list", "--access-key-id", "AKIAFILETWO000000000",
                env={"CCF_CREDENTIALS_FILE": str(cred)}))
    sigv4_check(fake.requests[-1], "AKIAFILETWO000000000", "two", token="t2")
    r = fake_ccf(fake, tmp_path, "connector", "list", "--access-key-id", "AKIANOSUCHKEY0000000",
                 env={"CCF_CREDENTIALS_FILE": str(cred)})
    assert r.rc == 2 and "CredentialsError" in r.err
    r = fake_ccf(fake, tmp_path, "connector", "list",
                 env={"CCF_CREDENTIALS_FILE": str(tmp_path / "nope")})
    assert r.rc == 2 and "CCF_CREDENTIALS_FILE" in r.err

    # Last: ./var/credentials, as `make run` leaves it.
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "credentials").write_text(
        "[AKIALOCAL00000000000]\nsecret_access_key = s3cr3t-local\n")
    ok(fake_ccf(fake, tmp_path, "connector", "list", keys=False))
    sigv4_check(fake.requests[-1], "AKIALOCAL00000000000", "s3cr3t-local")

    # The AWS shared credentials file (HOME is tmp_path) comes before
    # CCF_CREDENTIALS_FILE and ./var/credentials: [default], AWS_PROFILE,
    # --profile (which outranks the AWS_* keys), AWS_SHARED_CREDENTIALS_FILE.
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws" / "credentials").write_text(
        "[default]\naws_access_key_id = AKIADEFAULT000000000\naws_secret_access_key = s3cr3t-default\n"
        "# a comment\n[dev]\naws_access_key_id = AKIADEV0000000000000\n"
        "aws_secret_access_key = s3cr3t-dev\naws_session_token = devtok\n")
    ok(fake_ccf(fake, tmp_path, "connector", "list", env={"CCF_CREDENTIALS_FILE": str(cred)}))
    sigv4_check(fake.requests[-1], "AKIADEFAULT000000000", "s3cr3t-default")
    ok(fake_ccf(fake, tmp_path, "connector", "list", env={"AWS_PROFILE": "dev"}))
    sigv4_check(fake.requests[-1], "AKIADEV0000000000000", "s3cr3t-dev", token="devtok")
    ok(fake_ccf(fake, tmp_path, "connector", "list", "--profile", "dev", env=env))
    sigv4_check(fake.requests[-1], "AKIADEV0000000000000", "s3cr3t-dev", token="devtok", region="eu-west-1")
    ok(fake_ccf(fake, tmp_path, "connector", "list", env={**env, "AWS_PROFILE": "dev"}))
    sigv4_check(fake.requests[-1], "AKIAENV0000000000000", "env/secret+key", region="eu-west-1",
                token="tok-123")
    r = fake_ccf(fake, tmp_path, "connector", "list", "--profile", "nope", keys=False)
    assert r.rc == 2 and "no profile [nope] (named by --profile)" in r.err, r
    other = tmp_path / "other-credentials"
    other.write_text("[default]\naws_access_key_id = AKIAOTHER00000000000\n"
                     "aws_secret_access_key = s3cr3t-other\n")
    ok(fake_ccf(fake, tmp_path, "connector", "list",
                env={"AWS_SHARED_CREDENTIALS_FILE": str(other)}))
    sigv4_check(fake.requests[-1], "AKIAOTHER00000000000", "s3cr3t-other")
    # A secret is never sent.
    for req in fake.requests:
        sent = req["target"] + "".join(req["headers"].values()) + req["body"].decode("utf-8", "replace")
        assert not any(x in sent for x in ("s3cr3t-local", "env/secret+key", "flagsecret", "s3cr3t-default",
                                           "s3cr3t-dev", "s3cr3t-other"))


def test_malformed_answers_are_errors(fake, tmp_path):
    def expect(r, error_type):
        assert r.rc == 1, r
        assert r.err.startswith(f"ccf: {error_type}: "), r

    base = "/api/v1/custom-connectors/" + CID
    fake.route("GET", base, body=b"this is not json")
    expect(fake_ccf(fake, tmp_path, "connector", "get", CID), "InvalidResponseError")
    fake.route("GET", base, body={"connector": {"connector_id": CID, "name": 5}})
    expect(fake_ccf(fake, tmp_path, "connector", "get", CID), "InvalidResponseError")
    fake.route("GET", base, body={"connector": summary()})  # no container_properties
    expect(fake_ccf(fake, tmp_path, "connector", "get", CID), "InvalidResponseError")
    fake.route("GET", base, 500, b"<html>oops</html>", {"Content-Type": "text/html"})
    r = fake_ccf(fake, tmp_path, "connector", "get", CID)
    expect(r, "HttpError")
    assert "500" in r.err
    fake.route("GET", base, 404, {"message": "gone\u001b[2J", "errorType": "ResourceNotFoundException"})
    r = fake_ccf(fake, tmp_path, "connector", "get", CID)
    expect(r, "ResourceNotFoundException")
    assert "\u001b" not in r.err

    # Pages that would loop forever: an empty page with a token, a repeated token.
    fake.route("GET", "/api/v1/custom-connectors", body={"connectors": [], "next_token": "again"})
    expect(fake_ccf(fake, tmp_path, "connector", "list"), "InvalidResponseError")
    fake.route("GET", "/api/v1/custom-connectors",
               body={"connectors": [summary()], "next_token": "again"})
    expect(fake_ccf(fake, tmp_path, "connector", "list", "--starting-token", "again"),
           "InvalidResponseError")
    fake.route("GET", "/api/v1/custom-connectors", body={"connectors": [summary()] * 3})
    expect(fake_ccf(fake, tmp_path, "connector", "list", "--page-size", "2"), "InvalidResponseError")

    # Logs without their headers.
    fake.route("GET", base + "/jobs/ccj-0123456789ab/logs", body=b"text")
    expect(fake_ccf(fake, tmp_path, "job", "logs", CID, "ccj-0123456789ab"), "InvalidResponseError")

    # 503 is retried as Retry-After says, then reported.
    fake.route("GET", base + "/checkpoint", 503,
               {"message": "shutting down", "errorType": "ServiceUnavailableException"},
               {"Retry-After": "0"})
    before = len(fake.requests)
    expect(fake_ccf(fake, tmp_path, "checkpoint", "get", CID), "ServiceUnavailableException")
    assert len(fake.requests) - before == 4


def test_wait_rides_out_an_unavailable_server(fake, tmp_path):
    jid = "ccj-0123456789ab"
    path = f"/api/v1/custom-connectors/{CID}/jobs/{jid}"
    job = {"job_id": jid, "connector_id": CID, "created_at": T0, "updated_at": T0}
    fake.route("GET", path, body={"job": dict(job, status="SUCCEEDED", exit_code=0)})
    fake.route("GET", path, 503, {"message": "restarting", "errorType": "ServiceUnavailableException"},
               {"Retry-After": "0"}, times=6)
    fake.route("GET", path, body={"job": dict(job, status="RUNNING")}, times=1)
    r = fake_ccf(fake, tmp_path, "job", "wait", CID, jid, "--output", "json")
    assert r.rc == 0 and r.json["job"]["status"] == "SUCCEEDED", r
    assert "retrying for up to" in r.err
    # A failure that is no outage ends the wait at once.
    fake.route("GET", path, 404, {"message": f"Job {jid} not found",
                                  "errorType": "ResourceNotFoundException"})
    api_error(fake_ccf(fake, tmp_path, "job", "wait", CID, jid), "ResourceNotFoundException")


# ---------------------------------------------------------------- timing

def test_document_put_100000_timing(ccfd_factory, tmp_path, capsys):
    """Measures (does not assert) a 100,000-document put against a local ccfd."""
    srv = ccfd_factory()
    ccf = ccf_for(srv, tmp_path)
    cid = create(ccf, "--command", "/bin/true")["connector_id"]
    f = tmp_path / "100k.tsv"
    with open(f, "w") as out:
        for i in range(100000):
            out.write(f"docs/file-{i:06d}.txt\t{hashlib.sha256(str(i).encode()).hexdigest()}\n")
    t0 = time.monotonic()
    r = ok(ccf("document", "put", cid, "--file", str(f), "--output", "json"))
    elapsed = time.monotonic() - t0
    assert r.json == {"put": 100000, "batches": 100}
    t0 = time.monotonic()
    listed = ok(ccf("document", "list", cid, "--output", "json")).json["documents"]
    list_elapsed = time.monotonic() - t0
    assert len(listed) == 100000
    with capsys.disabled():
        print(f"\n[timing] ccf document put, 100,000 documents (100 batches, --synchronous OFF): "
              f"{elapsed:.2f} s ({100000 / elapsed:,.0f} documents/s); "
              f"ccf document list of them: {list_elapsed:.2f} s")


# ---------------------------------------------------------------- Ctrl-C

def test_ctrl_c_during_follow_says_how_to_stop_the_job(runner, tmp_path):
    """Regression: Ctrl-C during `job start --follow` killed ccf and left the
    job running without a word. Now ccf says so, names the stop command and
    exits 130; the job runs on until stopped."""
    ccf, srv = runner
    cid = create(ccf, "--", "/bin/sh", "-c", "echo started; exec sleep 60")["connector_id"]
    env = base_env(f"http://127.0.0.1:{srv.port}")
    env.update(HOME=str(tmp_path), CCF_CREDENTIALS_FILE=str(srv.data_dir / "credentials"))
    p = subprocess.Popen([ccf_binary(), "job", "start", cid, "--follow"], cwd=tmp_path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"started\n"
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    err = err.decode()
    assert p.returncode == 130, (p.returncode, out, err)
    # The job's first line can reach ccf before its RUNNING is stored (a
    # slow store: DynamoDB), so ccf may name STARTED, the status it read.
    m = re.search(r"ccf: Interrupted: job (ccj-[0-9a-f]{12}) is left (STARTED|RUNNING), not stopped; "
                  r"stop it with:\n  ccf job stop (cc-[0-9a-f]{12}) (ccj-[0-9a-f]{12})\n$", err)
    assert m and m.group(3) == cid and m.group(1) == m.group(4), err
    jid = m.group(1)
    deadline = time.monotonic() + 20
    while srv.client.get_job(cid, jid)["status"] != "RUNNING":
        assert time.monotonic() < deadline, "the job did not run on after the Ctrl-C"
        time.sleep(0.05)
    # The command it printed works.
    assert ok(ccf("job", "stop", cid, jid, "--output", "json")).json["job"]["status"] in (
        "STOPPING", "STOPPED")
    w = ccf("job", "wait", cid, jid, "--output", "json")
    assert w.rc == 3 and w.json["job"]["status"] == "STOPPED", w


@pytest.mark.parametrize("cmd", ["events", "audit"])
def test_follow_ends_on_ctrl_c_with_the_cursor(ccfd_factory, tmp_path, cmd):
    """`ccf events --follow` and `ccf audit --follow` (src/cli/cursor.c):
    Ctrl-C ends the read with 130, and the cursor to resume from still goes
    to stderr. events is in a long poll then (the signal takes effect when
    the poll answers), audit between two reads."""
    srv = ccfd_factory()
    cid = srv.client.create_connector(name=unique_name("cli"))["connector_id"]
    srv.client.put_checkpoint(cid, "x")  # an event and an audit record
    env = base_env(f"http://127.0.0.1:{srv.port}")
    env["HOME"] = str(tmp_path)
    env["CCF_CREDENTIALS_FILE"] = str(srv.data_dir / "credentials")
    p = subprocess.Popen([ccf_binary(), cmd, "--follow", "--output", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path,
                         text=True)
    try:
        first = p.stdout.readline()
        assert json.loads(first)  # reading: past the first page
        p.send_signal(signal.SIGINT)
        srv.client.put_checkpoint(cid, "y")  # answers a long poll now, not in 20 s
        out, err = p.communicate(timeout=60)
        out = first + out
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, (p.returncode, out, err)
    assert re.fullmatch(r"next_cursor: \S+\n", err), err
    # It resumes after everything printed: the second put's item, if that
    # came after the last read, and nothing printed already.
    r = ccf_for(srv, tmp_path)(cmd, "--output", "json", "--after", err.split()[1])
    assert r.rc == 0 and len(r.out.splitlines()) <= 1, r
    assert not set(r.out.splitlines()) & set(out.splitlines()), (r, out)


# ---------------------------------------------------------------- the man page

def test_man_page_names_only_pages_that_exist():
    """Regression: ccf.1 named a ccfd(8) that did not exist. Every page of
    ours it names must be in the tree (make install installs docs/*.N)."""
    text = (REPO / "docs" / "ccf.1").read_text()
    refs = set(re.findall(r"^\.BR (\S+) \((\d)\)", text, re.M))
    assert ("ccfd", "8") in refs and ("jq", "1") in refs, refs
    ours = {(n, s) for n, s in refs if n.startswith("ccf")}
    missing = [f"{n}({s})" for n, s in ours if not list((REPO / "docs").glob(f"{n}.{s}"))]
    for option in ("--profile", "--no-sign-request"):
        assert option.replace("-", "\\-") in text, option
    if missing == ["ccfd(8)"]:
        # docs/ccfd.8 is written on another branch of the same issue; once
        # merged, this test checks it for real.
        pytest.xfail("docs/ccfd.8 is not in this tree yet")
    assert not missing, f"ccf.1 names pages that are not in the tree: {missing}"
