"""The author kit installs: `make install` puts ccf_connector and
custom_connector_framework (with the model) where Debian's python3 looks,
and `pip install clients/python` builds from its pyproject.toml (offline:
Debian's setuptools, no dependencies fetched). Each installed copy is
imported from outside the checkout, with no AWS_DATA_PATH, and gives
boto3 a ccf client that pages."""

import os
import shutil
import subprocess
import sys

import pytest

from test_packaging import make

PROBE = """
import os, sys
import custom_connector_framework, ccf_connector, boto3
assert ccf_connector.__file__.startswith(sys.argv[1]), ccf_connector.__file__
c = boto3.client("ccf", endpoint_url="http://127.0.0.1:9", region_name="us-east-1",
                 aws_access_key_id="AKIAX", aws_secret_access_key="x")
assert c.can_paginate("list_custom_connector_documents")
model = c.meta.service_model.operation_model("ListCustomConnectorDocuments").input_shape.members
assert "not_seen_by_job" in model and "max_results" in model
print("ok", os.environ.get("AWS_DATA_PATH"))
"""


def probe(site, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("AWS_DATA_PATH", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    r = subprocess.run(["/usr/bin/python3",
                        "-c", PROBE, str(site)], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("ok " + str(site)), r.stdout + r.stderr


@pytest.mark.parametrize("prefix, site", [
    ("/usr/local", "usr/local/lib/python{v}/dist-packages"),
    ("/usr", "usr/lib/python3/dist-packages")])
def test_make_install_puts_both_packages_in_debians_path(tmp_path, prefix, site):
    d = tmp_path / "destdir"
    r = make("install", f"DESTDIR={d}", f"PREFIX={prefix}")
    assert r.returncode == 0, r.stdout + r.stderr
    site = d / site.format(v=f"{sys.version_info[0]}.{sys.version_info[1]}")
    for f in ("ccf_connector/__init__.py", "ccf_connector/data/ccf/2026-11-25/service-2.json",
              "ccf_connector/data/ccf/2026-11-25/paginators-1.json",
              "custom_connector_framework/custom_connector_interface.py",
              "custom_connector_framework/models/qbusiness.py"):
        assert (site / f).is_file(), f
    doc = d / prefix.lstrip("/") / "share/doc/ccf"
    assert os.access(doc / "examples/dir_connector.py", os.X_OK) and (doc / "README.kit.md").is_file()
    probe(site, tmp_path)


def test_pip_installs_from_the_pyproject(tmp_path):
    from kitjobs import KIT
    src = tmp_path / "src"
    shutil.copytree(KIT, src, ignore=shutil.ignore_patterns("__pycache__"))  # pip builds in the tree
    target = tmp_path / "site"
    r = subprocess.run(["/usr/bin/python3", "-m", "pip", "install", "--quiet", "--no-build-isolation",
                        "--no-deps", "--no-index", "--target", str(target), str(src)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (target / "ccf_connector/data/ccf/2026-11-25/service-2.json").is_file()
    probe(target, tmp_path)
