#!/usr/bin/env bash
# Attach latency: `nosh T -c true` against a plain `docker run --rm` of the
# same toolbox image beside the same target, alternately, N runs each; then
# the first run (toolbox image not yet imported) and where the time goes (-v).
#
#   bench/attach.sh            # N=15
#   N=31 NOSH_BIN=... bench/attach.sh
#
# Needs a local Docker Engine, gcc (for the static fixture app) and the
# static nosh build.
set -euo pipefail

N=${N:-15}
source "$(dirname "$0")/lib.sh"
bench_init target

# 1. A shell-less target: a static app that sleeps, FROM scratch, as 65532.
sleeping_app
start_target nosh-bench-app:latest


# 2. First run: the toolbox image is imported from this binary.
image=$("$NOSH" -v "$target" -c true 2>&1 >/dev/null | sed -n 's/.*toolbox image \(nosh-toolbox:[^ ]*\) is present.*/\1/p; s/.*importing \(nosh-toolbox:[^ ]*\).*/\1/p' | head -1)
[[ -n $image ]] || { echo "bench: could not learn the toolbox image name" >&2; exit 1; }
first=()
for _ in 1 2 3; do
    docker rmi -f "$image" >/dev/null
    t0=$(ns_now)
    "$NOSH" "$target" -c true
    t1=$(ns_now)
    first+=($(( (t1 - t0) / 1000 )))
done
first_ms=$(printf '%s\n' "${first[@]}" | awk '{print $1/1000}' | median)

# 3. Cached runs, alternating so that engine drift hits both alike.
nosh_t=() docker_t=()
for _ in $(seq "$N"); do
    t0=$(ns_now)
    "$NOSH" "$target" -c true
    t1=$(ns_now)
    docker run --rm --pid "container:$target" --network "container:$target" \
        --cap-add SYS_ADMIN --cap-add SYS_PTRACE --cap-add SYS_CHROOT \
        "$image" --pid 1 -c true
    t2=$(ns_now)
    nosh_t+=($(( (t1 - t0) / 1000 )))
    docker_t+=($(( (t2 - t1) / 1000 )))
done
nosh_ms=$(printf '%s\n' "${nosh_t[@]}" | awk '{print $1/1000}' | median)
docker_ms=$(printf '%s\n' "${docker_t[@]}" | awk '{print $1/1000}' | median)

echo "attach latency, median of $N (ms), target $target, image $image"
printf '  %-58s %8s\n' "nosh T -c true" "$nosh_ms"
printf '  %-58s %8s\n' "docker run --rm --pid/--network container:T ... -c true" "$docker_ms"
printf '  %-58s %8s\n' "ratio nosh / docker run (goal <= 0.90)" "$(awk -v a="$nosh_ms" -v b="$docker_ms" 'BEGIN{printf "%.2f", a/b}')"
printf '  %-58s %8s\n' "first run, image imported (median of 3)" "$first_ms"
echo
echo "where the time goes (nosh -v, cached image):"
"$NOSH" -v "$target" -c true 2>&1 >/dev/null | sed 's/^nosh: */  /'
