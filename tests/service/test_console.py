"""The web console (issue 17): ccfd serves it unsigned from memory with its
security headers, hashed assets cached for a year and the page revalidated;
no path reaches outside the compiled-in table; the API's auth is unchanged;
and the whole console works in headless chromium (tests/console/run.mjs,
puppeteer-core), its screenshots under build/test-output/console/ (output_dir)."""

import http.client
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ccftest import ACCOUNT_ID, CONNECTORS, REGION, account_key, expect_error

REPO = Path(__file__).resolve().parents[2]
CONSOLE_TESTS = REPO / "tests" / "console"


def output_dir(env):
    """Where the browser test's screenshots go: CONSOLE_OUT, else
    test-output/console beside the ccfd under test, with a suffix per store
    and wrapper. .ci/run runs make valgrind beside make test-postgres and
    make asan: one directory for all would be emptied by one run while
    another writes to it."""
    if env.get("CONSOLE_OUT"):
        return Path(env["CONSOLE_OUT"])
    ccfd = Path(env.get("CCFD") or REPO / "build" / "ccfd")
    name = "console"
    if env.get("CCF_TEST_PG_ADMIN"):
        name += "-postgres"
    if env.get("CCF_TEST_DYNAMO_ENDPOINT"):
        name += "-dynamodb"
    if env.get("CCFD_WRAPPER"):
        name += "-" + Path(env["CCFD_WRAPPER"].split()[0]).name
    return ccfd.resolve().parent / "test-output" / name


OUT = output_dir(os.environ)
CSP_PARTS = ("default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'")


def get(port, path, method="GET"):
    """Unsigned, and the path sent byte for byte (http.client keeps dots)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        c.request(method, path)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        c.close()


def check_security(headers):
    csp = headers.get("content-security-policy", "")
    for part in CSP_PARTS:
        assert part in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("x-frame-options") == "DENY"


def assets_of(page):
    return re.findall(r'(?:src|href)="\./(assets/[^"]+)"', page)


def test_each_lane_has_its_own_screenshot_directory(tmp_path):
    """make test, make test-postgres, make asan and make valgrind (which
    .ci/run runs beside the others) never share the directory that the
    browser test empties first."""
    plain = {"CCFD": str(REPO / "build" / "ccfd")}
    lanes = [plain, dict(plain, CCF_TEST_PG_ADMIN="postgresql://x"),
             dict(plain, CCFD_WRAPPER="valgrind -q --leak-check=full"),
             {"CCFD": str(REPO / "build" / "asan" / "ccfd")}]
    dirs = [output_dir(env) for env in lanes]
    assert dirs[0] == REPO / "build" / "test-output" / "console"
    assert dirs[2] == REPO / "build" / "test-output" / "console-valgrind"
    assert dirs[3] == REPO / "build" / "asan" / "test-output" / "console"
    assert len(set(dirs)) == len(dirs), dirs
    assert output_dir(dict(plain, CONSOLE_OUT=str(tmp_path))) == tmp_path


def test_redirects_and_the_page(server):
    for path in ("/", "/console"):
        status, h, body = get(server.port, path)
        assert (status, h.get("location")) == (302, "/console/"), (path, status, h)
        check_security(h)
    status, h, body = get(server.port, "/console/")
    assert status == 200
    assert h["content-type"] == "text/html; charset=utf-8"
    assert h["cache-control"] == "no-cache"
    check_security(h)
    page = body.decode()
    # No inline script or style: the CSP would refuse them.
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), page
    assert "style=" not in page and "<style" not in page
    assert len(assets_of(page)) == 3, page
    status, h, _ = get(server.port, "/console/", method="HEAD")
    assert status == 200 and h["content-type"].startswith("text/html")


def test_assets_are_hashed_and_cached_for_a_year(server):
    _, _, body = get(server.port, "/console/")
    seen = {}
    todo = [f"/console/{a}" for a in assets_of(body.decode())]
    while todo:  # the modules the entry point imports, and theirs
        path = todo.pop()
        if path in seen:
            continue
        status, h, data = get(server.port, path)
        assert status == 200, path
        check_security(h)
        assert h["cache-control"] == "public, max-age=31536000, immutable", path
        name = path.rsplit("/", 1)[1]
        assert re.fullmatch(r"[a-z0-9_-]+\.[0-9a-f]{12}\.(js|css|svg)", name), name
        assert h["content-type"] == {"css": "text/css; charset=utf-8", "svg": "image/svg+xml",
                                     "js": "text/javascript; charset=utf-8"}[name.rsplit(".", 1)[1]]
        seen[path] = data
        todo += ["/console/assets/" + m for m in re.findall(rb'from "\./([^"]+)"', data)
                 for m in [m.decode()]]
    assert len(seen) >= 8, sorted(seen)
    # The whole console's size, for the report.
    print(f"FIGURE console-assets: {len(seen)} assets, {sum(map(len, seen.values()))} bytes "
          f"+ the page {len(body)} bytes")


def test_config_json_names_the_region(server):
    status, h, body = get(server.port, "/console/config.json")
    assert status == 200 and h["content-type"] == "application/json"
    assert h["cache-control"] == "no-cache"
    assert json.loads(body) == {"region": REGION, "service": "execute-api"}


@pytest.mark.parametrize("path", [
    "/console/nope.js", "/console/assets/app.js", "/console/assets/app.000000000000.js",
    "/console/../healthz", "/console/assets/../../api/v1/custom-connectors",
    "/console/%2e%2e/healthz", "/console//", "/console/index.html", "/console/config.json/",
    "/console/assets/../config.json", "/console/" + "a" * 4000,
])
def test_unknown_or_traversing_paths_are_404(server, path):
    status, h, body = get(server.port, path)
    assert status == 404, (path, status, body[:200])
    check_security(h)
    err = json.loads(body)
    assert err["errorType"] == "ResourceNotFoundException" and err["message"]
    assert h["x-amzn-errortype"] == "ResourceNotFoundException"


def test_only_get_and_head(server):
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, h, body = get(server.port, "/console/", method=method)
        assert status == 405, method
        assert h["allow"] == "GET, HEAD"
        assert json.loads(body)["errorType"] == "MethodNotAllowedException"


def test_the_api_still_needs_a_signature(server, client):
    """The console is open; nothing under /api/v1 became so."""
    status, h, body = get(server.port, CONNECTORS)
    assert status == 403 and json.loads(body)["errorType"] == "MissingAuthenticationTokenException"
    status, _, _ = get(server.port, "/console/" + CONNECTORS)
    assert status == 404
    assert "content-security-policy" not in h  # API answers are not the console's
    expect_error(client.get("/api/v1/console/"), 404)


def _browser_tools():
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    missing = [what for what, ok in (
        ("node (Debian's nodejs)", shutil.which("node")),
        (f"chromium ({chromium})", os.access(chromium, os.X_OK)),
        ("puppeteer-core (make console-deps)", (CONSOLE_TESTS / "node_modules" / "puppeteer-core").is_dir()),
    ) if not ok]
    if missing:
        pytest.fail("the browser tests need " + ", ".join(missing) + ": make test installs them")
    return chromium


TOKEN_KEY = "AKIACONSOLETOKEN0001"


def test_console_in_a_browser(ccfd_factory, tmp_path):
    """Sign in with the credentials file's key, create, start, follow the
    log, pause and resume, stop a long job, delete, events, sign out: each
    step and its screenshot in tests/console/run.mjs."""
    chromium = _browser_tools()
    data = tmp_path / "console-data"
    data.mkdir()
    # A second key of the same account, issued with a session token: the
    # page signs X-Amz-Security-Token too. The server adds the test keys.
    fd = os.open(data / "credentials", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"[{TOKEN_KEY}]\nsecret_access_key = console/secret/with+odd=chars\n"
                f"account_id = {ACCOUNT_ID}\nsession_token = tok/console+session=token\n\n")
    srv = ccfd_factory(data_dir=data, extra_args=["--executor", "local", "--stop-grace", "2"])
    key_id, _ = account_key(ACCOUNT_ID)
    if OUT.exists():
        shutil.rmtree(OUT)
    env = dict(os.environ, CONSOLE_URL=f"http://127.0.0.1:{srv.port}",
               CONSOLE_CREDENTIALS=str(srv.data_dir / "credentials"), CONSOLE_KEY_ID=key_id,
               CONSOLE_TOKEN_KEY_ID=TOKEN_KEY,
               CONSOLE_OUT=str(OUT), CHROMIUM=chromium, HOME=str(srv.cwd))
    scale = float(os.environ.get("CCFD_TIMEOUT_SCALE", "1"))
    t0 = time.monotonic()
    r = subprocess.run(["node", str(CONSOLE_TESTS / "run.mjs")], env=env, capture_output=True, text=True,
                       timeout=300 * scale)
    print(r.stdout)
    assert r.returncode == 0, r.stdout + r.stderr
    shots = sorted(p.name for p in OUT.glob("*.png"))
    assert {"signin.png", "signin-error.png", "connectors.png", "connectors-scheduled.png", "connector.png",
            "connector-paused.png", "connector-kit.png", "job.png", "job-stopped.png", "events.png"} <= set(shots), shots
    print(f"FIGURE console-browser: {time.monotonic() - t0:.1f} s; screenshots in {OUT}: {shots}")
