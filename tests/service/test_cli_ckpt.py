"""The ccf CLI's checkpoint versions (put --if-match / --if-none-match, get
--version, versions, restore) and client tokens (--client-token on create
and start; job start's own token, kept across its retries)."""

import json
import socket
import threading

from ccftest import CONNECTORS, expect
from clitest import api_error, ccf, create, ok, run_ccf, usage_error  # noqa: F401 - ccf: a fixture


def test_checkpoint_versions_and_conditions(ccf, client):  # noqa: F811
    cid = create(ccf, "--", "/bin/true")["connector_id"]
    assert ok(ccf("checkpoint", "put", cid, "--data", "a", "--if-none-match", "--output",
                  "json")).json == {"version": 1}
    api_error(ccf("checkpoint", "put", cid, "--data", "x", "--if-none-match"),
              "PreconditionFailedException")
    assert ok(ccf("checkpoint", "put", cid, "--data", "b", "--if-match", "1", "--output",
                  "json")).json == {"version": 2}
    api_error(ccf("checkpoint", "put", cid, "--data", "x", "--if-match", "1"),
              "PreconditionFailedException")
    assert "version" in ok(ccf("checkpoint", "put", cid, "--data", "c")).out
    usage_error(ccf("checkpoint", "put", cid, "--data", "x", "--if-match", "1", "--if-none-match"))
    usage_error(ccf("checkpoint", "put", cid, "--data", "x", "--if-match", "zero"))
    cp = ok(ccf("checkpoint", "get", cid, "--output", "json")).json["checkpoint"]
    assert cp["version"] == 3 and cp["checkpoint_data"] == "c"
    assert ok(ccf("checkpoint", "get", cid, "--version", "1", "--data-only")).out == "a\n"  # a text line
    api_error(ccf("checkpoint", "get", cid, "--version", "9"), "ResourceNotFoundException")
    r = ok(ccf("checkpoint", "versions", cid, "--page-size", "2", "--output", "json"))
    assert [v["version"] for v in r.json["versions"]] == [3, 2, 1]
    assert [v["size"] for v in r.json["versions"]] == [1, 1, 1]
    r = ok(ccf("checkpoint", "versions", cid, "--max-items", "2", "--output", "json"))
    assert [v["version"] for v in r.json["versions"]] == [3, 2]
    assert "VERSION" in ok(ccf("checkpoint", "versions", cid, "--output", "table")).out
    # restore: version 1's data becomes version 4.
    assert ok(ccf("checkpoint", "restore", cid, "--version", "1", "--output", "json")).json == {
        "version": 4}
    cp = expect(client.get(f"{CONNECTORS}/{cid}/checkpoint"), 200).json["checkpoint"]
    assert (cp["version"], cp["checkpoint_data"]) == (4, "a")
    usage_error(ccf("checkpoint", "restore", cid))
    api_error(ccf("checkpoint", "restore", cid, "--version", "99"), "ResourceNotFoundException")
    ok(ccf("checkpoint", "delete", cid))
    api_error(ccf("checkpoint", "versions", cid), "ResourceNotFoundException")


def test_client_token_flags(ccf):  # noqa: F811
    a = create(ccf, "--client-token", "cli-create-1", "--", "/bin/true", name="cli-tok")
    b = create(ccf, "--client-token", "cli-create-1", "--", "/bin/true", name="cli-tok")
    assert a["connector_id"] == b["connector_id"]
    api_error(ccf("connector", "create", "--name", "other", "--client-token", "cli-create-1", "--",
                  "/bin/true"), "ConflictException")
    cid = a["connector_id"]
    j1 = ok(ccf("job", "start", cid, "--client-token", "s1", "--output", "json")).json["job"]
    j2 = ok(ccf("job", "start", cid, "--client-token", "s1", "--output", "json")).json["job"]
    assert j1["job_id"] == j2["job_id"]
    # Without --client-token each command is a new start: the connector is busy.
    api_error(ccf("job", "start", cid), "ConflictException")
    api_error(ccf("job", "start", cid, "--client-token", "bad token"), "BadRequestException")


class DropFirst:
    """Answers a StartCustomConnectorJob, but drops the first connection
    after reading the request, as a network that fails mid-call does."""

    def __init__(self):
        self.bodies = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def read_request(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        n = int([h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0])
        while len(body) < n:
            body += conn.recv(65536)
        return body

    def serve(self):
        for i in range(2):
            conn, _ = self.sock.accept()
            with conn:
                self.bodies.append(json.loads(self.read_request(conn)))
                if i == 0:
                    continue  # closed without an answer
                job = {"job": {"job_id": "ccj-0123456789ab", "connector_id": "cc-0123456789ab",
                               "status": "STARTED", "created_at": "2026-11-24T23:54:14.123456Z",
                               "updated_at": "2026-11-24T23:54:14.123456Z"}}
                out = json.dumps(job).encode()
                conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                             b"Content-Length: " + str(len(out)).encode() + b"\r\n\r\n" + out)


def test_job_start_retries_with_its_own_token(tmp_path):
    fake = DropFirst()
    # Unsigned: the fake checks no signature, and ccf refuses to send without
    # credentials unless told so.
    r = run_ccf(f"http://127.0.0.1:{fake.port}", "--no-sign-request", "job", "start",
                "cc-0123456789ab", "--output", "json", cwd=tmp_path)
    assert r.rc == 0 and r.json["job"]["job_id"] == "ccj-0123456789ab", r
    assert len(fake.bodies) == 2
    tok = fake.bodies[0].get("client_token")
    assert tok and len(tok) == 32 and fake.bodies[1]["client_token"] == tok
