"""The crash test's PostgreSQL side (CRASH_STORE=postgres, make
crash-postgres): ccfd's store is a fresh database per data directory on the
cluster CCF_TEST_PG_ADMIN names (scripts/with-pg.sh starts one), and the
checks that read the store while ccfd is down read that database through
psql instead of a copy of SQLite's file. No driver is needed: each query is
wrapped in json_agg, so that its rows come back typed, in column order."""

import json
import os
import subprocess
from pathlib import Path


def enabled():
    return os.environ.get("CRASH_STORE", "sqlite") == "postgres"


def _admin():
    admin = os.environ.get("CCF_TEST_PG_ADMIN")
    if not admin:
        raise RuntimeError("CRASH_STORE=postgres needs CCF_TEST_PG_ADMIN (run it under scripts/with-pg.sh)")
    return admin


def url(data):
    """The database of data directory `data`, made on first use and kept
    across ccfd's restarts on that directory."""
    marker = Path(data) / ".pg-database"
    admin = _admin()
    if marker.exists():
        name = marker.read_text().strip()
    else:
        name = "crash_" + os.urandom(6).hex()
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", admin, "-c",
                        f"CREATE DATABASE {name}"], check=True, capture_output=True, timeout=30)
        Path(data).mkdir(parents=True, exist_ok=True)
        marker.write_text(name)
    return admin.rsplit("/", 1)[0] + "/" + name


def store_args(data):
    return ["--store", url(data)] if enabled() else []


def _literal(v):
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


class Rows(list):
    def fetchall(self):
        return list(self)


class Db:
    """The few calls of sqlite3.Connection the checks make: execute (with
    ? parameters) and close."""

    def __init__(self, data):
        self.url = url(data)

    def execute(self, sql, params=()):
        parts = sql.split("?")
        if len(parts) != len(params) + 1:
            raise ValueError(f"{len(params)} parameters for {sql!r}")
        text = parts[0] + "".join(_literal(p) + rest for p, rest in zip(params, parts[1:]))
        q = f"SELECT COALESCE(json_agg(t), '[]'::json) FROM ({text}) t"
        r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", self.url, "-c", q],
                           check=True, capture_output=True, text=True, timeout=60)
        return Rows(tuple(row.values()) for row in json.loads(r.stdout))

    def close(self):
        pass


def terminate_backends(data):
    """pg_terminate_backend on every backend of data's database (ccfd's
    pool), as an administrator or a failing server would: returns how many
    it ended."""
    name = url(data).rsplit("/", 1)[1]
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", _admin(), "-c",
                        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
                        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"],
                       check=True, capture_output=True, text=True, timeout=30)
    return int(r.stdout.strip() or 0)


def share(data, other):
    """Makes data directory `other` use the database of `data` (several
    replicas on one database: tests/crash/replicas.py)."""
    url(data)
    Path(other).mkdir(parents=True, exist_ok=True)
    (Path(other) / ".pg-database").write_text((Path(data) / ".pg-database").read_text())
