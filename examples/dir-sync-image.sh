#!/bin/sh
# dir-sync-image.sh: builds the container image of the dir-sync example
# (examples/dir-sync.sh as the image's command) without a registry or a
# network: busybox-static for the shell and the small tools, plus this
# machine's curl, jq, comm and split (which busybox lacks) with every
# shared library they load (ldd) and the CA bundle, on a scratch root.
# The image reaches the API the way a local job does: ccfd runs containers
# with --network=host, so CUSTOM_CONNECTOR_FRAMEWORK_API_ENDPOINT works
# unchanged, and curl signs with the job's own keys (--aws-sigv4).
#
# Usage: examples/dir-sync-image.sh [IMAGE]   (default localhost/ccf-examples/dir-sync)
# Uses podman's configuration from the environment (CONTAINERS_CONF, ...),
# so scripts/podman-env.sh's throw-away one works. Needs busybox-static,
# curl, jq, coreutils.
set -eu
image=${1:-localhost/ccf-examples/dir-sync}
here=$(dirname "$(realpath "$0")")
root=$(mktemp -d)
trap 'rm -rf "$root" "$root.tar"' EXIT

mkdir -p "$root/bin" "$root/usr/local/bin" "$root/tmp" "$root/etc/ssl/certs"
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done
# The host's tools replace busybox's applets of the same name; each library
# goes to the path ldd found it at, the dynamic loader included.
for tool in curl jq comm split; do
    src=$(command -v "$tool")
    rm -f "$root/bin/$tool"
    cp "$src" "$root/bin/$tool"
    ldd "$src" | awk '/=> \// { print $3 } /^\t\/[^ ]+ \(/ { print $1 }' |
        while read -r lib; do
            mkdir -p "$root$(dirname "$lib")"
            cp -L "$lib" "$root$lib"
        done
done
cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp "$here/dir-sync.sh" "$root/usr/local/bin/dir-sync.sh"
chmod 0755 "$root/usr/local/bin/dir-sync.sh"
tar -C "$root" -cf "$root.tar" .
podman import -q --change 'ENV PATH=/usr/local/bin:/bin' \
    --change 'CMD ["/usr/local/bin/dir-sync.sh"]' "$root.tar" "$image" >/dev/null
echo "$image"
