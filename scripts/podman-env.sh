#!/bin/sh
# A throw-away podman configuration in DIR, so that tests never touch the
# machine's own images or containers: its storage (--root/--runroot in
# DIR/storage.conf), its containers.conf (runc, cgroupfs and rlimits that
# work on these machines: SCALE.md, "Container executor") and the test
# image ccf-test/busybox built locally from busybox-static (no registry).
# Usage: scripts/podman-env.sh DIR  → prints the variables to export
#        (CONTAINERS_CONF, CONTAINERS_STORAGE_CONF, CCF_TEST_IMAGE).
#        scripts/podman-env.sh --stop DIR → removes every container and DIR.
set -eu
if [ "${1:-}" = "--stop" ]; then
    dir=$2
    if [ -f "$dir/containers.conf" ]; then
        CONTAINERS_CONF=$dir/containers.conf CONTAINERS_STORAGE_CONF=$dir/storage.conf \
            podman rm -a -f -t 0 >/dev/null 2>&1 || true
        CONTAINERS_CONF=$dir/containers.conf CONTAINERS_STORAGE_CONF=$dir/storage.conf \
            podman system reset -f >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    exit 0
fi
dir=$(realpath "$1")
mkdir -p "$dir/root" "$dir/runroot" "$dir/tmp"
cat >"$dir/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = "$dir/tmp"
[network]
network_backend = "cni"
CONF
cat >"$dir/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$dir/root"
runroot = "$dir/runroot"
CONF
export CONTAINERS_CONF="$dir/containers.conf" CONTAINERS_STORAGE_CONF="$dir/storage.conf"
# The test image: busybox-static and its applets on a scratch root.
if ! podman image exists ccf-test/busybox 2>/dev/null; then
    r="$dir/rootfs"
    mkdir -p "$r/bin" "$r/tmp" "$r/work"
    cp /bin/busybox "$r/bin/busybox"
    for a in $("$r/bin/busybox" --list); do
        [ "$a" = busybox ] || ln -sf busybox "$r/bin/$a"
    done
    tar -C "$r" -cf "$dir/rootfs.tar" .
    podman import --change 'ENV PATH=/bin' --change 'WORKDIR /work' \
        "$dir/rootfs.tar" ccf-test/busybox >/dev/null
    rm -rf "$r" "$dir/rootfs.tar"
fi
echo "CONTAINERS_CONF=$CONTAINERS_CONF"
echo "CONTAINERS_STORAGE_CONF=$CONTAINERS_STORAGE_CONF"
echo "CCF_TEST_IMAGE=localhost/ccf-test/busybox"
