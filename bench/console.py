#!/usr/bin/python3
"""The web console's figures (issue 17): what it adds to ccfd and how long
its browser test takes. Never part of the tests.

  bench/console.py BUILD [--before CCFD] [--runs N]

- the console's files: count and bytes, as served (the generated table);
- ccfd's size, unstripped and stripped, and with --before (a ccfd built
  from the commit before the console) the difference;
- the browser test (tests/service/test_console.py's browser test, ccfd on
  the local executor), N runs, wall time of each, and the sum of its steps
  as tests/console/run.mjs timed them.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def stripped_size(binary):
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "s"
        subprocess.run(["strip", "-o", str(out), binary], check=True)
        return out.stat().st_size


def assets(build):
    text = (Path(build) / "gen" / "console_assets.c").read_text()
    rows = re.findall(r'\{"(/console/[^"]*)", asset\d+, (\d+),', text)
    return [(p, int(n)) for p, n in rows]


def browser_runs(build, runs):
    out = []
    for _ in range(runs):
        out_dir = Path(build, "test-output", "console-bench").resolve()
        env = dict(os.environ, CCFD=str(Path(build, "ccfd").resolve()), CCF_BIN=str(Path(build, "ccf").resolve()),
                   CONSOLE_OUT=str(out_dir))
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/service/test_console.py", "-k", "browser"], cwd=REPO, env=env,
                           capture_output=True, text=True)
        wall = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit(r.stdout + r.stderr)
        steps = json.loads((out_dir / "steps.json").read_text())
        out.append((wall, sum(s["ms"] for s in steps["steps"]) / 1000))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--before", help="a ccfd built without the console")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    files = assets(a.build)
    print(f"console files: {len(files)}, {sum(n for _, n in files)} bytes as served")
    for p, n in files:
        print(f"  {n:7d}  {p}")
    ccfd = str(Path(a.build, "ccfd"))
    size, ssize = os.path.getsize(ccfd), stripped_size(ccfd)
    print(f"ccfd: {size} bytes, {ssize} stripped")
    if a.before:
        bsize, bssize = os.path.getsize(a.before), stripped_size(a.before)
        print(f"before: {bsize} bytes, {bssize} stripped; the console adds {size - bsize} "
              f"({ssize - bssize} stripped, {100 * (ssize - bssize) / bssize:.1f} %)")
    for wall, steps in browser_runs(a.build, a.runs):
        print(f"browser test: {wall:.1f} s wall (pytest, ccfd, chromium), {steps:.1f} s in its steps")


if __name__ == "__main__":
    main()
