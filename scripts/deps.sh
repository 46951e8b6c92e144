#!/bin/sh
# Installs, with apt-get, exactly the Debian packages that ccf needs and this
# machine lacks. Safe to run again: with nothing missing it does nothing.
set -eu

# e2fsprogs, mount: the storage-fault tests build an ext4 image on a loop device.
# systemd: systemd-analyze verifies the installed unit (no running systemd needed);
# strace: the unit's syscall filter is checked against what ccfd and a job use.
# tzdata: the zone files schedules are read in (ccfd refuses to start without).
# podman runc catatonit busybox-static: the podman executor's tests (runc, not
# crun, on these machines; catatonit for --init; busybox for the test image).
# slurm-wlm munge: the Slurm executor's tests run a one-node cluster
# (scripts/slurm-cluster.sh).
# prometheus: promtool checks the /metrics text (tests/service/test_metrics.py).
# nginx: README's replicas behind nginx, run as written (tests/service/test_readme_replicas.py).
# postgresql libpq-dev: the PostgreSQL store backend (libpq) and its tests'
# throw-away cluster (scripts/pg-cluster.sh).
# chromium: the web console's browser tests (tests/console/run.mjs).
# python3-pip python3-setuptools python3-wheel: `pip install clients/python`,
# offline, is tested (tests/service/test_kit_install.py).
# python3-pytest-xdist: the service suites run on several workers (the
# Makefile's SERVICE_JOBS); make test needs it, so not only --dev.
PACKAGES="make gcc clang pkg-config libmicrohttpd-dev libsqlite3-dev libjansson-dev
libssl-dev libinih-dev libcmocka-dev libcurl4-openssl-dev libgnutls28-dev openssl
libglib2.0-dev
python3 python3-pytest python3-requests python3-boto3 awscli sqlite3 curl jq
e2fsprogs mount
systemd strace tzdata
podman runc catatonit busybox-static
slurm-wlm munge
prometheus
nginx
chromium
python3-pip python3-setuptools python3-wheel python3-pytest-xdist
postgresql libpq-dev"
# chromium, node and npm: the web console's browser tests (tests/console);
# node 18 or later, Debian 12's nodejs, only where no node is on PATH.
command -v node >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
if [ "${1:-}" = "--bench" ]; then
    # make bench: wrk drives the HTTP load.
    PACKAGES="$PACKAGES wrk"
fi
if [ "${1:-}" = "--dev" ]; then
    # libclang-rt-14-dev: the sanitizer and libFuzzer runtimes (make asan, make fuzz).
    PACKAGES="$PACKAGES clang-format clang-tidy cppcheck valgrind wrk libclang-rt-14-dev"
fi

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || {
        echo "deps: missing$missing; run as root or install sudo" >&2
        exit 1
    }
    SUDO=sudo
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
