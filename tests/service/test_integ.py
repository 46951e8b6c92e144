"""make integ's plumbing: scripts/integ-local.sh starts a ccfd by hand (its
own account and region, the key it makes in the AWS_* variables) and runs
`make integ` against it. A few tests only here: CI runs the whole of it
(make integ-local)."""

import os
import re
import subprocess

from conftest import REPO, ccfd_binary

PICK = "test_healthz or test_create_returns_201_and_summary or test_get_job"


def integ(*make_args, ccfd_args=""):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CCF_", "AWS_")) and k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env["INTEG_CCFD_ARGS"] = ccfd_args
    return subprocess.run([str(REPO / "scripts/integ-local.sh"), ccfd_binary(), *make_args],
                          env=env, capture_output=True, text=True, timeout=600)


def passed(r):
    assert r.returncode == 0, r.stdout + r.stderr
    assert " failed" not in r.stdout and " error" not in r.stdout, r.stdout
    return int(re.search(r"(\d+) passed", r.stdout).group(1))


def test_make_integ_runs_against_a_hand_started_ccfd():
    idle = integ(f"INTEG_ARGS=-k '{PICK}'", ccfd_args="--executor none")
    assert "as arn:aws:ccf:eu-west-2:444455556666:custom-connector/" in idle.stdout
    assert "it leaves jobs STARTED" in idle.stdout
    running = integ(f"INTEG_ARGS=-k '{PICK}'")
    assert "it runs jobs" in running.stdout
    # test_get_job needs its job left STARTED: deselected, not failed.
    assert passed(idle) >= 3 and passed(running) == passed(idle) - 1


def test_make_integ_fails_against_a_wrong_key():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    env.update(CCF_ENDPOINT="http://127.0.0.1:1", AWS_ACCESS_KEY_ID="AKIAX",
               AWS_SECRET_ACCESS_KEY="x")
    r = subprocess.run(["make", "-s", "-C", str(REPO), "integ", "INTEG_ARGS=-k test_healthz"],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    env.pop("CCF_ENDPOINT")
    r = subprocess.run(["make", "-s", "-C", str(REPO), "integ"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and "set CCF_ENDPOINT" in r.stderr
