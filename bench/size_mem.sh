#!/usr/bin/env bash
# Toolbox image size against the binary it wraps, and the sidecar's memory
# against the target app's, measured in the same run.
#
# 1. `nosh T -c true` imports (or finds) the toolbox image for this binary.
# 2. A session held open by a slow stdin; the toolbox's VmRSS is read from
#    the host's /proc, with the target app's VmRSS as the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET_DIR=${CARGO_TARGET_DIR:-target}
NOSH=${NOSH_BIN:-$TARGET_DIR/x86_64-unknown-linux-gnu/static-dev/nosh}
DEMO=${NOSH_DEMO_APP:-$TARGET_DIR/x86_64-unknown-linux-gnu/static-dev/examples/demo-app}
[[ -x $NOSH && -x $DEMO ]] || { echo "size_mem.sh: build with make static-dev first" >&2; exit 1; }

work=$(mktemp -d)
name=nosh-bench-mem-$$
cleanup() { docker rm -f "$name" > /dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

mkdir -p "$work/root/app" "$work/root/etc"
cp "$DEMO" "$work/root/app/demo-app"
printf 'nonroot:x:65532:65532::/:/sbin/nologin\n' > "$work/root/etc/passwd"
tar -C "$work/root" -cf "$work/root.tar" .
docker import --change 'USER 65532:65532' --change 'ENTRYPOINT ["/app/demo-app","--port","8443"]' \
    "$work/root.tar" nosh-bench-mem:1 > /dev/null
docker run -d --name "$name" nosh-bench-mem:1 > /dev/null

"$NOSH" "$name" -c true
bin_size=$(stat -c %s "$NOSH")
# The tag nosh gives the image of this very binary: VERSION-<sha256 prefix>.
hash=$(sha256sum "$NOSH" | cut -c1-12)
image=$(docker images --format '{{.Repository}}:{{.Tag}}' | grep -m1 "^nosh-toolbox:.*-$hash\$")
image_size=$(docker image inspect -f '{{.Size}}' "$image")
echo "toolbox image $image: $image_size bytes; binary: $bin_size bytes; ratio image/binary $(awk "BEGIN {printf \"%.3f\", $image_size / $bin_size}")"

# Hold a session open for a moment and read the toolbox's memory.
( sleep 3 ) | "$NOSH" -T "$name" > /dev/null &
client=$!
sleep 1.5
# The toolbox's command line is `/nosh toolbox` and nothing more (its
# arguments travel in its environment); the oldest such process is the
# sidecar's entry, the other the shell it forked into the target's PID
# namespace.
tb=$(pgrep -o -f '^/nosh toolbox$' || true)
app=$(docker inspect -f '{{.State.Pid}}' "$name")
if [[ -z $tb ]]; then
    echo "size_mem.sh: no toolbox process found" >&2
    exit 1
fi
tb_rss=$(awk '/VmRSS/ {print $2}' "/proc/$tb/status")
app_rss=$(awk '/VmRSS/ {print $2}' "/proc/$app/status")
echo "sidecar toolbox VmRSS: ${tb_rss} KiB; target app VmRSS: ${app_rss} KiB; ratio $(awk "BEGIN {printf \"%.2f\", $tb_rss / $app_rss}")"
wait $client || true
