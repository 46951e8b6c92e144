#!/bin/sh
# Starts and stops a throw-away one-node Slurm cluster on 127.0.0.1 for the
# tests: munged on a private socket, one slurmctld and one slurmd, all from a
# private slurm.conf in DIR, and all stopped by the pidfiles in DIR (never by
# process name: other clusters, and other engineers' daemons, may run here).
#
#   scripts/slurm-cluster.sh start DIR   # prints SLURM_CONF=DIR/slurm.conf
#   scripts/slurm-cluster.sh stop DIR
#   scripts/slurm-cluster.sh check       # exit 0 if this machine can run one
#
# Then: SLURM_CONF=DIR/slurm.conf sbatch|scontrol|scancel|sinfo ...
# Environment: SLURM_CTLD_PORT, SLURM_D_PORT (default: two free ports),
# SLURM_CPUS (default: nproc), SLURM_MEM_MIB (default: MemTotal less 512).
# Needs root (slurmd runs jobs as their submitter) and `slurm-wlm munge`.
set -eu

die() {
    echo "slurm-cluster: $*" >&2
    exit 1
}

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Kills the daemon whose pid is in $1 (if it is alive) and waits for it.
stop_pidfile() {
    [ -f "$1" ] || return 0
    pid=$(cat "$1" 2>/dev/null || true)
    case "$pid" in '' | *[!0-9]*) rm -f "$1"; return 0 ;; esac
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
            sleep 0.1
            i=$((i + 1))
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$1"
}

# Waits up to $2 tenths of a second for the file $1 to hold a live pid.
wait_pidfile() {
    i=0
    while [ $i -lt "$2" ]; do
        if [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

check() {
    [ "$(id -u)" -eq 0 ] || { echo "not root: slurmd must run as root"; return 1; }
    for b in munged slurmctld slurmd sbatch scontrol scancel sinfo; do
        command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] ||
            { echo "$b not installed (apt-get install slurm-wlm munge)"; return 1; }
    done
    return 0
}

write_conf() {
    dir=$1
    host=$(hostname -s)
    cpus=${SLURM_CPUS:-$(nproc)}
    mem=${SLURM_MEM_MIB:-$(awk '/^MemTotal:/ { m = int($2 / 1024) - 512; if (m < 256) m = 256; print m }' /proc/meminfo)}
    ctld_port=${SLURM_CTLD_PORT:-$(free_port)}
    d_port=${SLURM_D_PORT:-$(free_port)}
    # batch_sched_delay/sched_min_interval: start a job as soon as it is
    # submitted (the defaults batch it up for seconds). linuxproc and
    # task/none: no cgroup set-up on a machine that may lack it.
    # KillWait: scancel's TERM-then-KILL grace of Slurm's own; ccfd sends
    # its own TERM and KILL, so keep this short.
    cat >"$dir/slurm.conf.tmp" <<EOF
ClusterName=ccftest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
CommunicationParameters=NoInAddrAny,NoCtldInAddrAny
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_min_interval=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
MinJobAge=300
KillWait=2
ReturnToService=2
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ccf Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    mv "$dir/slurm.conf.tmp" "$dir/slurm.conf"
}

start_munge() {
    dir=$1
    # munged refuses a socket directory others can write, and a key others
    # can read.
    mkdir -p "$dir/munge"
    chmod 0755 "$dir/munge"
    if [ ! -f "$dir/munge/munge.key" ]; then
        dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 2>/dev/null
        chmod 0400 "$dir/munge/munge.key"
    fi
    munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
        --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
        --seed-file="$dir/munge/munged.seed" ||
        die "munged did not start (see $dir/munge/munged.log)"
    wait_pidfile "$dir/munge/munged.pid" 50 || die "munged wrote no pidfile"
}

start() {
    dir=$1
    msg=$(check) || die "$msg"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # A stale cluster in DIR (a test run that was killed) goes first.
    stop "$dir"
    mkdir -p "$dir/state" "$dir/spool"
    write_conf "$dir"
    start_munge "$dir"
    export SLURM_CONF="$dir/slurm.conf"
    # -c: a clean start, forgetting jobs of an earlier cluster in DIR.
    slurmctld -c -f "$dir/slurm.conf" || die "slurmctld did not start (see $dir/slurmctld.log)"
    wait_pidfile "$dir/slurmctld.pid" 100 || die "slurmctld wrote no pidfile (see $dir/slurmctld.log)"
    slurmd -f "$dir/slurm.conf" -N "$(hostname -s)" || die "slurmd did not start (see $dir/slurmd.log)"
    wait_pidfile "$dir/slurmd.pid" 100 || die "slurmd wrote no pidfile (see $dir/slurmd.log)"
    # Ready once the node is idle: sbatch before that queues.
    i=0
    while [ $i -lt 300 ]; do
        state=$(sinfo -h -N -o '%T' 2>/dev/null | head -n 1 || true)
        case "$state" in idle*) break ;; esac
        sleep 0.1
        i=$((i + 1))
    done
    case "$state" in idle*) ;; *) die "the node is not idle after 30 s (state '$state'; see $dir/slurmctld.log)" ;; esac
    echo "SLURM_CONF=$dir/slurm.conf"
}

# Ends every job of the cluster while slurmctld still answers: a
# slurmstepd outlives slurmd, and a test that failed may leave jobs behind.
cancel_all() {
    dir=$1
    [ -f "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null || return 0
    export SLURM_CONF="$dir/slurm.conf"
    ids=$(squeue -h -o '%i' 2>/dev/null || true)
    [ -n "$ids" ] || return 0
    # shellcheck disable=SC2086
    scancel --full --signal=KILL $ids 2>/dev/null || true
    # shellcheck disable=SC2086
    scancel $ids 2>/dev/null || true
    i=0
    while [ -n "$(squeue -h -t R,CG,PD -o '%i' 2>/dev/null || true)" ] && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

stop() {
    dir=$1
    [ -d "$dir" ] || return 0
    cancel_all "$dir"
    stop_pidfile "$dir/slurmd.pid"
    stop_pidfile "$dir/slurmctld.pid"
    stop_pidfile "$dir/munge/munged.pid"
}

case "${1:-}" in
start)
    [ $# -eq 2 ] || die "usage: $0 start DIR"
    start "$2"
    ;;
stop)
    [ $# -eq 2 ] || die "usage: $0 stop DIR"
    stop "$2"
    ;;
check)
    check
    ;;
*)
    die "usage: $0 start|stop DIR | check"
    ;;
esac
