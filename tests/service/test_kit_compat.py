"""A connector written for the original builder kit (kit_original_connector.py)
runs unchanged on our custom_connector_framework, as a ccfd job with
clients/python on PYTHONPATH and no AWS_DATA_PATH: the model is found on
import, listing pages past 1,000, the checkpoint is a string on the wire
and a dict to the connector, and a document Q Business refused is not
recorded, so the next sync sends it again."""

import json
from pathlib import Path

from ccftest import CONNECTORS
from kitjobs import PYTHON, create, run, stored

CONNECTOR = Path(__file__).with_name("kit_original_connector.py")
FILES = 1100  # more than one page of 1,000


def target(path):
    ops = [json.loads(ln) for ln in path.read_text().splitlines()] if path.exists() else []
    put = sorted(i for op in ops if op["op"] == "put" for i in op["ids"])
    deleted = sorted(i for op in ops if op["op"] == "delete" for i in op["ids"])
    return ops, put, deleted


def test_original_interface_connector_runs_unchanged(ccfd_factory, tmp_path):
    s = ccfd_factory(extra_args=[])
    c = s.client
    src = tmp_path / "src"
    src.mkdir()
    for i in range(FILES):
        (src / f"f{i:04d}.txt").write_text(f"file {i}\n")
    out = tmp_path / "qbusiness.jsonl"
    cid = create(c, [PYTHON, CONNECTOR], {"SRC_DIR": src, "QB_OUT": out})

    job, log = run(c, cid, {"QB_FAIL": "f0007.txt,f1050.txt"})
    assert job["status"] == "SUCCEEDED", (job, log)
    ops, put, _ = target(out)
    assert ops[0]["op"] == "start" and ops[-1]["op"] == "stop", ops[:2]
    assert len(put) == FILES and all(len(op["ids"]) <= 10 for op in ops if op["op"] == "put")
    assert ops[1]["acl"]["accessControls"][0]["principals"][0]["user"]["access"] == "ALLOW", ops[1]
    docs = stored(c, cid)
    assert len(docs) == FILES - 2 and "f0007.txt" not in docs and "f1050.txt" not in docs
    assert "checkpoint before: null" in log and f"stored after: {FILES - 2}" in log, log
    raw = c.get(f"{CONNECTORS}/{cid}/checkpoint").json["checkpoint"]["checkpoint_data"]
    assert json.loads(raw) == {"runs": "1", "source": str(src)}, raw

    # Two files changed, one new, two gone: those, and the two refused, only.
    out.unlink()
    (src / "f0001.txt").write_text("changed\n")
    (src / "f1099.txt").write_text("changed\n")
    (src / "f2000.txt").write_text("new\n")
    for name in ("f0003.txt", "f0004.txt"):
        (src / name).unlink()
    job, log = run(c, cid, {"DELETE_IDS": "f0003.txt,f0004.txt"})
    assert job["status"] == "SUCCEEDED", (job, log)
    _, put, deleted = target(out)
    assert put == ["f0001.txt", "f0007.txt", "f1050.txt", "f1099.txt", "f2000.txt"], (put, log)
    assert deleted == ["f0003.txt", "f0004.txt"]
    docs = stored(c, cid)
    assert len(docs) == FILES - 1 and "f0003.txt" not in docs and "f0007.txt" in docs
    assert 'checkpoint before: {"runs": "1"' in log, log
    assert job["stats"]["documents_updated"] == 2 and job["stats"]["documents_added"] == 3, job
