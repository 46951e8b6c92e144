#!/bin/sh
# Runs a command against a throw-away dynalite (dynalite.sh, the DynamoDB
# emulator): starts one in a fresh directory under /tmp, runs CMD with
# CCF_TEST_DYNAMO_ENDPOINT set, and stops it by its pidfile when CMD ends,
# fails or this script is interrupted; if this script is killed outright,
# dynalite.sh's watcher stops it once this process is gone. Exits with
# CMD's status. As scripts/with-pg.sh for PostgreSQL.
#
#   scripts/with-dynalite.sh CMD [ARG...]
set -eu
[ $# -ge 1 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/ccf-dyn.XXXXXX)
cleanup() { "$here/dynalite.sh" stop "$dir/d" || true; rm -rf "$dir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
env=$("$here/dynalite.sh" start "$dir/d" $$)
for kv in $env; do export "$kv"; done
echo "with-dynalite: dynalite at $CCF_TEST_DYNAMO_ENDPOINT ($dir/d)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
