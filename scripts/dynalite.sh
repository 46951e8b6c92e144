#!/bin/sh
# Starts and stops a throw-away dynalite (the DynamoDB emulator, npm,
# pinned in tests/dynamo/package-lock.json, installed by `make dynamo-deps`)
# on 127.0.0.1 for the tests, in memory, on a free port; stops it by the
# pid recorded in DIR/pid, never by process name: other engineers' servers
# may run here.
#
#   scripts/dynalite.sh start DIR [OWNER_PID]
#                                  # prints the env lines below; with
#                                  # OWNER_PID, a watcher stops dynalite
#                                  # when that process is gone
#   scripts/dynalite.sh env DIR    # CCF_TEST_DYNAMO_ENDPOINT=http://127.0.0.1:PORT
#   scripts/dynalite.sh stop DIR   # stops it and removes DIR (under /tmp)
#   scripts/dynalite.sh check      # exit 0 if this machine can run one
#
# Tables stay CREATING for 0 ms here (--createTableMs 0): the tests do not
# wait for DescribeTable to say ACTIVE, though the backend does.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
cli="$here/tests/dynamo/node_modules/dynalite/cli.js"

die() {
    echo "dynalite: $*" >&2
    exit 1
}

check() {
    command -v node >/dev/null 2>&1 || { echo "node not found (apt-get install nodejs)"; return 1; }
    [ -f "$cli" ] || { echo "dynalite not installed (make dynamo-deps)"; return 1; }
}

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

print_env() {
    [ -s "$1/port" ] || die "no dynalite in $1"
    echo "CCF_TEST_DYNAMO_ENDPOINT=http://127.0.0.1:$(cat "$1/port")"
}

# Up once the port takes a connection (node starts in about a second).
wait_up() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys, time, os
port, pid = int(sys.argv[1]), int(sys.argv[2])
for _ in range(300):
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        sys.exit(0)
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit(1)
        time.sleep(0.05)
sys.exit(1)
PY
}

start() {
    dir=$1
    msg=$(check) || die "$msg"
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
    port=$(free_port)
    echo "$port" >"$dir/port"
    node "$cli" --host 127.0.0.1 --port "$port" --createTableMs 0 --deleteTableMs 0 \
        --updateTableMs 0 </dev/null >"$dir/server.log" 2>&1 &
    echo $! >"$dir/pid"
    wait_up "$port" "$(cat "$dir/pid")" || die "did not start: $(tail -n 5 "$dir/server.log")"
    if [ -n "${2:-}" ]; then
        "$0" __watch "$dir" "$2" </dev/null >/dev/null 2>&1 &
    fi
    print_env "$dir"
}

watch() {
    while kill -0 "$2" 2>/dev/null && [ -d "$1" ]; do
        sleep 1
    done
    [ -d "$1" ] && stop "$1"
    return 0
}

stop() {
    dir=$1
    if [ -f "$dir/pid" ]; then
        pid=$(cat "$dir/pid" 2>/dev/null || true)
        case "$pid" in '' | *[!0-9]*) pid="" ;; esac
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
                sleep 0.05
                i=$((i + 1))
            done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    case "$dir" in /tmp/?*) rm -rf "$dir" ;; *) echo "dynalite: $dir left in place (not under /tmp)" >&2 ;; esac
}

case "${1:-}" in
start)
    [ $# -eq 2 ] || [ $# -eq 3 ] || die "usage: $0 start DIR [OWNER_PID]"
    case "${3:-0}" in '' | *[!0-9]*) die "OWNER_PID must be a pid" ;; esac
    start "$2" "${3:-}"
    ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
env) [ $# -eq 2 ] || die "usage: $0 env DIR"; print_env "$2" ;;
__watch) watch "$2" "$3" ;;
check) msg=$(check) || { echo "$msg"; exit 1; } ;;
*) die "usage: $0 start DIR [OWNER_PID] | stop DIR | env DIR | check" ;;
esac
