"""The botocore model as a drop-in for the original's: a connector written
against the original builder kit's interface (kit_connector.py), run as a
real ccfd job through boto3 and clients/botocore, pages past 1,000 stored
documents and syncs. The kit types created_at/updated_at as str, as the
original's generated model does; a model that types them `timestamp` hands
it datetimes and the same job fails, which the second test shows."""

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import pytest

from ccftest import CONNECTORS

from conftest import REPO

MODEL_DIR = REPO / "clients" / "botocore"
CONNECTOR = Path(__file__).with_name("kit_connector.py")
SCALE = float(os.environ.get("CCFD_TIMEOUT_SCALE", "1"))
TERMINAL = {"SUCCEEDED", "FAILED", "STOPPED"}
STORED = 1200  # more than 1,000: 24 pages at the default page size of 50


def digest(doc_id, version):
    return hashlib.sha256(f"{doc_id}/{version}".encode()).hexdigest()


def seed(client, cid, n):
    docs = [{"document_id": f"s{i:04d}", "checksum": digest(f"s{i:04d}", "v1")} for i in range(n)]
    for i in range(0, n, 1000):
        client.put_documents(cid, docs[i:i + 1000])


def run_kit_job(srv, model_dir, **env):
    c = srv.client
    variables = {"AWS_DATA_PATH": str(model_dir), **{k: str(v) for k, v in env.items()}}
    cid = c.create_connector(container_properties={
        "command": [sys.executable, str(CONNECTOR)], "timeout": 300,
        "environment": [{"name": k, "value": v} for k, v in variables.items()]})["connector_id"]
    seed(c, cid, STORED)
    jid = c.start_job(cid)["job_id"]
    deadline = time.monotonic() + 120 * SCALE
    while (job := c.get_job(cid, jid))["status"] not in TERMINAL:
        assert time.monotonic() < deadline, f"kit job stuck: {job}"
        time.sleep(0.1)
    r = c.get(f"{CONNECTORS}/{cid}/jobs/{jid}/logs", check=False)
    assert r.status == 200, r
    return cid, job, r.body.decode("utf-8", "replace")


def old_model(tmp_path):
    """Today's model with Timestamp typed as botocore's `timestamp`, as it was."""
    src = MODEL_DIR / "ccf" / "2026-11-25"
    dst = tmp_path / "old-model" / "ccf" / "2026-11-25"
    dst.mkdir(parents=True)
    model = json.loads((src / "service-2.json").read_text())
    model["shapes"]["Timestamp"] = {"type": "timestamp", "timestampFormat": "iso8601"}
    (dst / "service-2.json").write_text(json.dumps(model))
    (dst / "paginators-1.json").write_text((src / "paginators-1.json").read_text())
    return dst.parent.parent


def test_model_types_timestamps_as_strings_and_keeps_query_members():
    model = json.loads((MODEL_DIR / "ccf" / "2026-11-25" / "service-2.json").read_text())
    assert model["shapes"]["Timestamp"]["type"] == "string"
    assert not [n for n, s in model["shapes"].items() if s["type"] == "timestamp"]
    for op in ("ListCustomConnectors", "ListCustomConnectorJobs", "ListCustomConnectorDocuments"):
        members = model["shapes"][model["operations"][op]["input"]["shape"]]["members"]
        for q in ("max_results", "next_token"):
            assert members[q]["location"] == "querystring" and members[q]["locationName"] == q, op


def test_kit_connector_pages_past_1000_documents(ccfd_factory):
    srv = ccfd_factory(extra_args=[])
    cid, job, log = run_kit_job(srv, MODEL_DIR, KIT_DOCS=STORED + 30, KIT_CHANGED=50,
                                KIT_VERSION="v2", KIT_DELETE="s0100,s0101,s1199,never-stored")
    assert job["status"] == "SUCCEEDED", (job, log)
    # All 1,200 listed (24 pages), 50 changed + 30 new put, 4 ids deleted.
    assert f"kit-sync: listed {STORED}, put 80, deleted 4, newest 20" in log, log
    docs = {d["document_id"]: d["checksum"]
            for d in srv.client.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)[0]}
    assert len(docs) == STORED + 30 - 3
    assert docs["s0000"] == digest("s0000", "v2") and docs["s0050"] == digest("s0050", "v1")
    assert docs[f"s{STORED + 29:04d}"] == digest(f"s{STORED + 29:04d}", "v1")
    assert not {"s0100", "s0101", "s1199"} & docs.keys()


def test_kit_connector_fails_with_timestamps_typed_timestamp(ccfd_factory, tmp_path):
    """The negative control: the same job against the old typing fails on
    the kit's str check, before it writes anything."""
    srv = ccfd_factory(extra_args=[])
    cid, job, log = run_kit_job(srv, old_model(tmp_path), KIT_DOCS=STORED, KIT_CHANGED=5,
                                KIT_VERSION="v2")
    assert job["status"] == "FAILED", (job, log)
    assert "document field created_at: expected str, got datetime" in log, log
    docs = srv.client.list_all(f"{CONNECTORS}/{cid}/documents", "documents", max_results=1000)[0]
    assert all(d["checksum"] == digest(d["document_id"], "v1") for d in docs)
