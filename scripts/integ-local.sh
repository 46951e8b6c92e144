#!/bin/sh
# integ-local.sh CCFD [MAKE_ARG...]: `make integ` as an operator runs it
# against a deployment, here against a ccfd started by hand: its own data
# directory, a free port, an account and a region other than the service
# tests' own, and the key ccfd makes on its first start in the AWS_*
# variables. CI runs it (.ci/run) so that make integ cannot rot. Extra
# arguments go to make (INTEG_ARGS="-k ..."). Exit status: make's.
set -eu
ccfd=$(realpath "$1")
shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/ccf-integ.XXXXXX")
pid=""
# A TERM that reaches the child before it has become ccfd (the shell's own
# handler, still installed in the forked child, takes it) is lost: after
# 10 s of waiting, KILL.
cleanup() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# Only flags: no CCF_ variable of this shell reaches the server. The log
# exists before the loop below reads it (the redirection is the child's).
: >"$dir/ccfd.log"
env -u CCF_CONFIG "$ccfd" --listen 127.0.0.1:0 --data-dir "$dir/data" --region eu-west-2 \
    --account-id 444455556666 --synchronous OFF ${INTEG_CCFD_ARGS:-} >"$dir/ccfd.log" 2>&1 &
pid=$!
endpoint=""
for _ in $(seq 100); do
    endpoint=$(sed -n 's|^ccfd: listening on \(http://[^/]*\)/.*|\1|p' "$dir/ccfd.log")
    [ -n "$endpoint" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$dir/ccfd.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$endpoint" ] || { echo "integ-local: ccfd did not start" >&2; cat "$dir/ccfd.log" >&2; exit 1; }
creds=$dir/data/credentials
key=$(sed -n 's/^\[\(.*\)\]$/\1/p' "$creds" | head -n 1)
secret=$(sed -n 's/^secret_access_key *= *//p' "$creds" | head -n 1)
echo "integ-local: make integ against $endpoint (ccfd pid $pid, log $dir/ccfd.log)"
rc=0
env -u AWS_SESSION_TOKEN -u AWS_PROFILE CCF_ENDPOINT="$endpoint" AWS_ACCESS_KEY_ID="$key" \
    AWS_SECRET_ACCESS_KEY="$secret" AWS_REGION=eu-west-2 \
    make --no-print-directory -C "$(dirname "$0")/.." integ "$@" || rc=$?
[ "$rc" -eq 0 ] || tail -n 50 "$dir/ccfd.log" >&2
exit "$rc"
