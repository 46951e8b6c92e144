"""The kit's examples as ccfd jobs beyond the README's run: the HTTP JSON
connector against a fake paged API (pages followed, changes and removals
found, hostile ids kept inside TARGET_DIR, a failing API failing the job
without deleting anything), and the directory connector with nested
directories and an id, put by someone else, that points outside its
target."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ccftest import CONNECTORS
from kitjobs import PYTHON, REPO, create, run, sha256, stored

HTTP_JSON = REPO / "examples" / "http_json_connector.py"
DIR = REPO / "examples" / "dir_connector.py"
PAGE = 1000


class FakeApi:
    """GET /items?page=N: {"items": [...], "next": URL | null}, 1000 a page;
    fail_page makes that page a 500."""

    def __init__(self):
        self.items = []
        self.fail_page = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                page = int(self.path.partition("page=")[2] or 0)
                if page == api.fail_page:
                    self.send_response(500)
                    self.end_headers()
                    return
                chunk = api.items[page * PAGE:(page + 1) * PAGE]
                more = (page + 1) * PAGE < len(api.items)
                body = json.dumps({"items": chunk, "next": f"{api.url}?page={page + 1}" if more else None})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/items"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def api():
    a = FakeApi()
    yield a
    a.close()


def test_http_json_connector_pages_and_follows_changes(ccfd_factory, api, tmp_path):
    c = ccfd_factory(extra_args=[]).client
    target = tmp_path / "target"
    api.items = [{"id": i, "title": f"item {i}"} for i in range(2500)] + [{"id": "../escape", "title": "x"}]
    cid = create(c, [PYTHON, HTTP_JSON], {"API_URL": api.url, "TARGET_DIR": target})
    job, log = run(c, cid)
    assert job["status"] == "SUCCEEDED", (job, log)
    assert len(list(target.iterdir())) == 2501 and (target / "..%2Fescape.json").is_file(), log
    assert not (tmp_path / "escape.json").exists()
    docs = stored(c, cid)
    assert docs["7"] == sha256(json.dumps({"id": 7, "title": "item 7"}, sort_keys=True))

    api.items[5]["title"] = "changed"
    del api.items[7]
    api.items.append({"id": "new", "title": "new"})
    job, log = run(c, cid)
    assert job["status"] == "SUCCEEDED", (job, log)
    assert job["stats"]["documents_updated"] == 1 and job["stats"]["documents_added"] == 1, job
    assert job["stats"]["documents_deleted"] == 1, job
    assert json.loads((target / "5.json").read_text())["title"] == "changed"
    assert not (target / "7.json").exists() and (target / "new.json").is_file()
    assert "last run: {'finished_at'" in log and "'items': 2501" in log, log

    # The API fails on its second page: the job fails, nothing is deleted.
    api.fail_page = 1
    job, log = run(c, cid)
    assert job["status"] == "FAILED" and "HTTP Error 500" in log, (job, log)
    assert len(stored(c, cid)) == 2501 and len(list(target.iterdir())) == 2501


def test_dir_connector_keeps_to_its_target(ccfd_factory, tmp_path):
    c = ccfd_factory(extra_args=[]).client
    src, target = tmp_path / "src", tmp_path / "target"
    (src / "a" / "b").mkdir(parents=True)
    (src / "a" / "b" / "deep.txt").write_text("deep")
    (src / "top.txt").write_text("top")
    victim = tmp_path / "victim.txt"
    victim.write_text("must stay")
    cid = create(c, [PYTHON, DIR], {"SYNC_DIR": src, "TARGET_DIR": target})
    # Someone else's document whose id climbs out of TARGET_DIR.
    c.put_documents(cid, [{"document_id": "../victim.txt", "checksum": "c" * 64}])
    job, log = run(c, cid)
    assert job["status"] == "SUCCEEDED", (job, log)
    assert (target / "a" / "b" / "deep.txt").read_text() == "deep" and (target / "top.txt").is_file()
    assert victim.read_text() == "must stay"
    assert set(stored(c, cid)) == {"a/b/deep.txt", "top.txt"}, log
    assert (target / "top.txt").read_text() == "top"
    r = c.get(f"{CONNECTORS}/{cid}/jobs/{job['job_id']}")
    assert r.json["job"]["stats"]["documents_deleted"] == 1
