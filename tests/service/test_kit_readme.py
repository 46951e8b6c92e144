"""The README's "Write a connector" section works as written: its shell
blocks run, in order, in one bash from the repository's directory, against
a real ccfd (the only changes: CCF_ENDPOINT and the AWS_* key point ccf at
the test's server, PORT at a free port); its Python block compiles."""

import os
import re
import signal
import subprocess

from ccftest import ACCOUNT_ID, REGION, account_key
from conftest import REPO, free_port


def section(title):
    text = (REPO / "README.md").read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def blocks(text, lang):
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


def run_script(script, env):
    """bash in a session of its own, so that whatever it left running (the
    stand-in API when a step failed) is ended by its process group id."""
    p = subprocess.Popen(["bash", "-e", "-o", "pipefail", "-c", script], cwd=REPO, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=120)
    finally:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, out, err


def test_write_a_connector_section_runs_as_written(ccfd_factory, tmp_path):
    s = ccfd_factory(extra_args=[])
    text = section("Write a connector")
    for code in blocks(text, "python"):
        compile(code, "README.md", "exec")
    script = "\n".join(blocks(text, "sh"))
    assert "ccf connector create" in script and "http_json_connector.py" in script
    key = account_key(ACCOUNT_ID)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CCF_", "AWS_"))}
    env.update(CCF_ENDPOINT=f"http://127.0.0.1:{s.port}", AWS_ACCESS_KEY_ID=key[0],
               AWS_SECRET_ACCESS_KEY=key[1], AWS_REGION=REGION, PORT=str(free_port()), TMPDIR=str(tmp_path))
    rc, out, err = run_script(script, env)
    assert rc == 0, out + err
    runs = re.findall(r"(Files|HttpJson): done in [0-9.]+ s: (.*)", out)
    assert [name for name, _ in runs] == ["Files", "Files", "HttpJson"], out
    assert runs[0][1].startswith("listed 0, seen 3, unchanged 0, pushed 3,"), out
    assert "seen 2, unchanged 1, pushed 1, push failed 0, deleted 1," in runs[1][1], out
    assert "seen 2, unchanged 0, pushed 2," in runs[2][1], out
    assert re.search(r"^a\.txt\s+c\.txt$|^a\.txt\nc\.txt$", out, re.M), out
    assert re.search(r'^\{"finished_at":"[0-9TZ:-]+","items":2\}$', out, re.M), out
