"""Running connectors written on the kit (clients/python) as ccfd jobs:
shared by test_kit.py, test_kit_compat.py and bench/kit_sync.py."""

import hashlib
import os
import time
from pathlib import Path

from ccftest import CONNECTORS

REPO = Path(__file__).resolve().parents[2]
KIT = REPO / "clients" / "python"
PYTHON = "/usr/bin/python3"
SCALE = float(os.environ.get("CCFD_TIMEOUT_SCALE", "1"))
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def retry_429(fn, *args, **kw):
    """An operator's request under a rate limit: sent again after a 429."""
    while True:
        r = fn(*args, check=False, **kw)
        if r.status != 429:
            return r
        time.sleep(float(r.header("Retry-After") or 1))


def create(client, argv, env=None, timeout=600):
    variables = {"PYTHONPATH": str(KIT), **(env or {})}
    r = retry_429(client.post, CONNECTORS, {
        "name": "kit", "container_properties": {
            "command": [str(a) for a in argv], "timeout": timeout,
            "environment": [{"name": k, "value": str(v)} for k, v in variables.items()]}})
    assert r.status == 201, r
    return r.json["connector"]["connector_id"]


def run(client, cid, env=None, wait=120):
    """Starts a job (with the job's own variables env), waits for its end;
    returns (job, log text)."""
    body = {"environment": [{"name": k, "value": str(v)} for k, v in (env or {}).items()]}
    r = retry_429(client.post, f"{CONNECTORS}/{cid}/jobs", body)
    assert r.status == 201, r
    jid = r.json["job"]["job_id"]
    deadline = time.monotonic() + wait * SCALE
    while True:
        r = retry_429(client.get, f"{CONNECTORS}/{cid}/jobs/{jid}")
        job = r.json["job"]
        if job["status"] in TERMINAL:
            break
        assert time.monotonic() < deadline, f"kit job stuck: {job}"
        time.sleep(0.2)
    r = retry_429(client.get, f"{CONNECTORS}/{cid}/jobs/{jid}/logs")
    assert r.status == 200, r
    return job, r.body.decode("utf-8", "replace")


def stored(client, cid):
    """document_id -> checksum of everything ccfd stores for cid."""
    out, token = {}, None
    while True:
        path = f"{CONNECTORS}/{cid}/documents?max_results=1000" + (f"&next_token={token}" if token else "")
        r = retry_429(client.get, path)
        assert r.status == 200, r
        out.update((d["document_id"], d["checksum"]) for d in r.json["documents"])
        token = r.json.get("next_token")
        if not token:
            return out
