"""Per-job document statistics and deletion detection (CONTRACT-OPS.md,
"Per-job document statistics" and "Documents no job has seen"), against
real ccfds that run jobs: the job's command calls the API with its own key
through the ccf CLI, as a connector would."""

import os
import shlex
import subprocess

import pytest

from ccftest import (CONNECTORS, checksum, expect_error, job_ccf_binary, not_found_connector,
                     not_found_job)
from conftest import REPO
from test_job_runs import TERMINAL, jobs_server, sh, wait_job

S1, S2 = checksum("one"), checksum("two")


def ccf_bin():
    path = job_ccf_binary()
    if not os.access(path, os.X_OK):
        pytest.fail(f"ccf binary not found: {path} (build it, or set CCF_BIN)")
    return path


def job_script(lines):
    """A /bin/sh job that runs each `ccf ...` line with the job's own key."""
    prelude = (
        f'ccf() {{ {shlex.quote(ccf_bin())} --endpoint "$CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT" "$@"; }}\n'
        'CC="$CUSTOM_CONNECTOR_FRAMEWORK_CUSTOM_CONNECTOR_ID"\n'
        "set -e\n"
    )
    return sh(prelude + "\n".join(lines) + "\n")


def run(c, cid):
    jid = c.start_job(cid)["job_id"]
    job, _ = wait_job(c, cid, jid, TERMINAL, timeout=30)
    assert job["status"] == "SUCCEEDED", job
    return jid, job


def unseen(c, cid, jid, **params):
    items, _, _ = c.list_all(f"{CONNECTORS}/{cid}/documents", "documents", not_seen_by_job=jid,
                             **params)
    return [d["document_id"] for d in items]


def test_stats_count_what_the_job_did_with_its_key(ccfd_factory):
    s = jobs_server(ccfd_factory)
    c = s.client
    put = "\\n".join([f"new-1\\t{S1}", f"new-2\\t{S1}", f"same\\t{S1}", f"changed\\t{S2}"])
    cid = c.create_connector(container_properties=job_script([
        f"printf '{put}\\n' > sums.tsv",
        "ccf document put --connector $CC --file sums.tsv",
        "ccf document delete --connector $CC gone never-existed",
        "ccf checkpoint put $CC --data cursor=1",
        "ccf checkpoint put $CC --data cursor=2",
    ]))["connector_id"]
    # The operator's writes before the run: what the job finds, not counted.
    c.put_documents(cid, [{"document_id": d, "checksum": S1}
                          for d in ("same", "changed", "gone", "untouched")])
    jid, job = run(c, cid)
    assert job["stats"] == {"documents_added": 2, "documents_updated": 1,
                            "documents_unchanged": 1, "documents_deleted": 1,
                            "checkpoint_puts": 2}
    # The operator's writes after it never count in the job's stats.
    c.put_documents(cid, [{"document_id": "new-1", "checksum": S2}])
    c.put_checkpoint(cid, "by hand")
    assert c.get_job(cid, jid)["stats"] == job["stats"]
    listed, _, _ = c.list_all(f"{CONNECTORS}/{cid}/jobs", "jobs")
    assert listed[0]["stats"] == job["stats"]
    # new-1 was last put by the operator, untouched never by the job.
    assert unseen(c, cid, jid) == ["new-1", "untouched"]
    # The CLI shows them: JSON and the table.
    env = {**os.environ, "CCF_CREDENTIALS_FILE": str(s.data_dir / "credentials")}
    for fmt, want in (("json", '"documents_added":2'), ("table", "documents_unchanged")):
        out = subprocess.run([ccf_bin(), "--endpoint", f"http://127.0.0.1:{s.port}", "--output",
                              fmt, "job", "get", cid, jid], env=env, capture_output=True,
                             text=True, check=False)
        assert out.returncode == 0, out.stderr
        assert want in out.stdout, out.stdout


def test_a_job_that_never_ran_has_no_stats(ccfd_factory):
    s = jobs_server(ccfd_factory, "--executor", "none")
    c = s.client
    cid = c.create_connector(container_properties=sh("true"))["connector_id"]
    job = c.start_job(cid)
    assert "stats" not in job
    assert "stats" not in c.get_job(cid, job["job_id"])


def test_full_scan_finds_what_was_deleted_at_the_source(ccfd_factory, tmp_path):
    """The README's pattern: put every document seen, then list the rest."""
    s = jobs_server(ccfd_factory)
    c = s.client
    src = tmp_path / "src"
    src.mkdir()
    for i in range(30):
        (src / f"f{i:02d}").write_text(str(i))
    cid = c.create_connector(container_properties=job_script([
        f"cd {shlex.quote(str(src))}",
        "for f in *; do printf '%s\\t%s\\n' \"$f\" \"$(sha256sum < \"$f\" | cut -c1-64)\"; done > $OLDPWD/sums.tsv",
        "cd $OLDPWD",
        "ccf document put --connector $CC --file sums.tsv",
        "ccf document list --connector $CC --not-seen-by-job $CUSTOM_CONNECTOR_JOB_ID "
        "--output json | jq -r '.documents[].document_id' > gone.txt",
        "if [ -s gone.txt ]; then ccf document delete --connector $CC --file gone.txt; fi",
    ]))["connector_id"]
    first, job = run(c, cid)
    assert job["stats"]["documents_added"] == 30 and job["stats"]["documents_deleted"] == 0
    for i in (3, 7, 21):
        (src / f"f{i:02d}").unlink()
    (src / "f07").write_text("back, changed")  # deleted, then back before the run
    (src / "f99").write_text("new")
    second, job = run(c, cid)
    assert job["stats"] == {"documents_added": 1, "documents_updated": 1,
                            "documents_unchanged": 27, "documents_deleted": 2,
                            "checkpoint_puts": 0}
    items, _, _ = c.list_all(f"{CONNECTORS}/{cid}/documents", "documents")
    assert sorted(d["document_id"] for d in items) == sorted(p.name for p in src.iterdir())
    assert unseen(c, cid, second) == []
    # Every document the second job kept, the first did not make last.
    assert len(unseen(c, cid, first, max_results=7)) == 29


def test_not_seen_by_job_404s_and_page_tokens(ccfd_factory):
    s = jobs_server(ccfd_factory)
    c = s.client
    cid = c.create_connector(container_properties=sh("true"))["connector_id"]
    other = c.create_connector(container_properties=sh("true"))["connector_id"]
    jid, _ = run(c, cid)
    jid2, _ = run(c, cid)
    oj, _ = run(c, other)
    c.put_documents(cid, [{"document_id": f"d{i}", "checksum": S1} for i in range(5)])
    base = f"{CONNECTORS}/{cid}/documents"

    expect_error(c.get(f"{base}?not_seen_by_job={oj}", check=False), 404, not_found_job(oj))
    expect_error(c.get(f"{base}?not_seen_by_job=ccj-nothex!!", check=False), 404)
    expect_error(c.get(f"{base}?not_seen_by_job=ccj-000000000000", check=False), 404,
                 not_found_job("ccj-000000000000"))
    expect_error(c.get(f"{CONNECTORS}/cc-000000000000/documents?not_seen_by_job={jid}",
                       check=False), 404, not_found_connector("cc-000000000000"))
    expect_error(c.get(f"{base}?not_seen_by_job=", check=False), 400)
    expect_error(c.get(f"{base}?not_seen_by_job={jid}&not_seen_by_job={jid}", check=False), 400)

    # Nothing put by the job: every document is unseen, over pages.
    assert unseen(c, cid, jid, max_results=2) == [f"d{i}" for i in range(5)]
    token = c.get(f"{base}?not_seen_by_job={jid}&max_results=2").json["next_token"]
    plain = c.get(f"{base}?max_results=2").json["next_token"]
    nxt = c.get(f"{base}?not_seen_by_job={jid}&max_results=2&next_token={token}").json
    assert [d["document_id"] for d in nxt["documents"]] == ["d2", "d3"]
    # A token is bound to its filter: not to the plain list, another job,
    # or the other way round.
    expect_error(c.get(f"{base}?next_token={token}", check=False), 400)
    expect_error(c.get(f"{base}?not_seen_by_job={jid2}&next_token={token}", check=False), 400)
    expect_error(c.get(f"{base}?not_seen_by_job={jid}&next_token={plain}", check=False), 400)
