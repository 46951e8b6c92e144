#!/bin/sh
# run.sh BUILD SECONDS: runs every fuzzer in BUILD/fuzzers for SECONDS each,
# one after another (CI machines are small). Each starts from its committed
# seeds and regression inputs (tests/fuzz/corpus/<target>, read only: a
# crash input kept there fails every later run until it is fixed) plus what
# earlier runs on this machine found (BUILD/corpus/<target>, not committed).
# A crash, leak, timeout or broken invariant fails the run; its input is in
# BUILD/crashes/<target>/. Figures go to BUILD/fuzz-summary.txt.
set -eu
build=$1
secs=$2
root=$(cd "$(dirname "$0")" && pwd)
summary=$build/fuzz-summary.txt
: >"$summary"
failed=""
for bin in "$build"/fuzzers/fuzz_*; do
    t=${bin##*/fuzz_}
    seeds=$root/corpus/$t
    work=$build/corpus/$t
    mkdir -p "$work" "$build/crashes/$t" "$build/tmp/$t" "$seeds"
    set -- -max_total_time="$secs" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$build/crashes/$t/"
    [ -f "$root/dict/$t.dict" ] && set -- "$@" -dict="$root/dict/$t.dict"
    # The file loaders say why they refuse a file on stderr; keep the
    # fuzzer's own report and the sanitizers' (libFuzzer re-routes both).
    case $t in config | credfile) set -- "$@" -close_fd_mask=2 ;; esac
    log=$build/fuzz-$t.log
    echo "fuzz: $t for ${secs}s (log: $log)"
    rc=0
    TMPDIR=$build/tmp/$t "$bin" "$@" "$work" "$seeds" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    nseeds=$(find "$seeds" -type f | wc -l)
    line="$t: execs=${execs:-0} seconds=$secs cov=${cov:-0} corpus=${corp:-0} seeds=$nseeds rc=$rc"
    echo "$line" | tee -a "$summary"
    if [ "$rc" -ne 0 ]; then
        failed="$failed $t"
        grep -E 'ERROR|INVARIANT|SUMMARY|Test unit written' "$log" | head -n 20 >&2 || true
    fi
    rm -rf "$build/tmp/$t"
done
if [ -n "$failed" ]; then
    echo "fuzz: FAILED:$failed (inputs in $build/crashes/; reproduce with $build/fuzzers/fuzz_<t> FILE)" >&2
    exit 1
fi
echo "fuzz: all targets clean; figures in $summary"
