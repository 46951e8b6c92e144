#!/bin/sh
# Runs a command against a throw-away PostgreSQL cluster (pg-cluster.sh):
# starts one in a fresh directory under /tmp, runs CMD with
# CCF_TEST_PG_ADMIN and CCF_TEST_PG_URL (a libpq URI of its `postgres`
# database) and PGHOST/PGPORT/PGUSER set, and stops it by its pidfile when
# CMD ends, fails or this script is interrupted; if this script is killed
# outright, pg-cluster.sh's watcher stops it once this process is gone.
# Exits with CMD's status.
#
#   scripts/with-pg.sh CMD [ARG...]
#
# PG_CLUSTER_FAST=1 (the default here) turns off fsync: the tests kill
# ccfd, not the machine, so what a commit promises still holds for them.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/ccf-pg.XXXXXX)
chmod 0755 "$dir"
cleanup() { "$here/pg-cluster.sh" stop "$dir/cl" || true; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
env=$(PG_CLUSTER_FAST=${PG_CLUSTER_FAST:-1} "$here/pg-cluster.sh" start "$dir/cl" $$)
for kv in $env; do export "$kv"; done
export CCF_TEST_PG_ADMIN="$CCF_TEST_PG_URL"
echo "with-pg: PostgreSQL on 127.0.0.1:$PGPORT ($dir/cl)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
