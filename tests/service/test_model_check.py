"""clients/botocore/check_model.py in make test: the botocore model builds
every operation's request as the contract says and parses every answer, so
that a model change that breaks boto3 fails the tests, not a user."""

import subprocess
import sys
from pathlib import Path

CHECK = Path(__file__).resolve().parents[2] / "clients" / "botocore" / "check_model.py"


def test_botocore_model_builds_and_parses_every_operation():
    r = subprocess.run([sys.executable, str(CHECK)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.rstrip().endswith(" 0 failed"), r.stdout + r.stderr
