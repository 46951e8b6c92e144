#!/bin/sh
# Starts and stops a throw-away PostgreSQL cluster on 127.0.0.1 for the
# tests: initdb and the server run as the `postgres` user (initdb refuses
# root), on DIR/data, on a private port and socket directory (DIR/sock),
# and stop by the server's pidfile (DIR/data/postmaster.pid), never by
# process name: other clusters, and other engineers' servers, may run here.
#
#   scripts/pg-cluster.sh start DIR [OWNER_PID]
#                                     # prints the env lines below; with
#                                     # OWNER_PID, a watcher stops the
#                                     # cluster when that process is gone
#                                     # (a test killed before its teardown)
#   scripts/pg-cluster.sh env DIR     # PGHOST=127.0.0.1 PGPORT=... PGUSER=postgres
#                                     # CCF_TEST_PG_URL=postgresql://postgres@127.0.0.1:PORT/postgres
#   scripts/pg-cluster.sh stop DIR    # stops the server and removes DIR
#   scripts/pg-cluster.sh check       # exit 0 if this machine can run one
#
# DIR must not exist yet or be empty, and its parent must be one the
# postgres user can enter (e.g. /tmp). Local trust authentication: the
# cluster is for tests, on loopback only. PG_CLUSTER_FAST=1 turns off
# fsync (for the tests' speed; never for a benchmark of durable writes).
# Needs root and Debian's `postgresql`.
set -eu

die() {
    echo "pg-cluster: $*" >&2
    exit 1
}

bindir() {
    for d in "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/*/bin; do
        if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

check() {
    [ "$(id -u)" -eq 0 ] || { echo "not root: initdb and the server run as postgres via runuser"; return 1; }
    id postgres >/dev/null 2>&1 || { echo "no postgres user (apt-get install postgresql)"; return 1; }
    bindir >/dev/null || { echo "initdb not found (apt-get install postgresql)"; return 1; }
    command -v runuser >/dev/null 2>&1 || { echo "runuser not found"; return 1; }
}

as_pg() {
    runuser -u postgres -- "$@"
}

print_env() {
    [ -s "$1/port" ] || die "no cluster in $1"
    port=$(cat "$1/port")
    echo "PGHOST=127.0.0.1"
    echo "PGPORT=$port"
    echo "PGUSER=postgres"
    echo "CCF_TEST_PG_URL=postgresql://postgres@127.0.0.1:$port/postgres"
}

start() {
    dir=$1
    msg=$(check) || die "$msg"
    bin=$(bindir)
    mkdir -p "$dir"
    [ -z "$(ls -A "$dir")" ] || die "$dir is not empty"
    mkdir "$dir/sock"
    chown -R postgres: "$dir"
    chmod 0700 "$dir"
    as_pg "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 --no-sync \
        >"$dir/initdb.log" 2>&1 || die "initdb failed: $(tail -n 3 "$dir/initdb.log")"
    port=$(free_port)
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $port"
        echo "unix_socket_directories = '$dir/sock'"
        echo "max_connections = 100"
        echo "shared_buffers = 32MB"
        if [ "${PG_CLUSTER_FAST:-}" = 1 ]; then
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } >>"$dir/data/postgresql.conf"
    echo "$port" >"$dir/port"
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
        die "the server did not start: $(tail -n 5 "$dir/server.log" 2>/dev/null)"
    if [ -n "${2:-}" ]; then
        # A process of its own (exec'd): a background subshell would keep
        # the shell's saved copy of our stdout, and a caller reading it to
        # the end (popen) would wait for the watcher.
        "$0" __watch "$dir" "$2" </dev/null >/dev/null 2>&1 &
    fi
    print_env "$dir"
}

# Stops the cluster in $1 once process $2 has gone, unless it was stopped
# before (DIR gone). Polls: the owner is not our child.
watch() {
    while kill -0 "$2" 2>/dev/null && [ -d "$1/data" ]; do
        sleep 1
    done
    [ -d "$1/data" ] && stop "$1"
    return 0
}

# The postmaster's pid is the first line of its pidfile. SIGQUIT is an
# immediate shutdown (no checkpoint): the cluster is thrown away with DIR.
stop() {
    dir=$1
    pidfile="$dir/data/postmaster.pid"
    if [ -f "$pidfile" ]; then
        pid=$(head -n 1 "$pidfile" 2>/dev/null || true)
        case "$pid" in '' | *[!0-9]*) pid="" ;; esac
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
            kill -QUIT "$pid" 2>/dev/null || true
            i=0
            while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do
                sleep 0.05
                i=$((i + 1))
            done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    case "$dir" in /tmp/?*) rm -rf "$dir" ;; *) echo "pg-cluster: $dir left in place (not under /tmp)" >&2 ;; esac
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
