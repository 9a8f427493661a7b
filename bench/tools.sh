#!/usr/bin/env bash
# Brought tools and nosh cp, each against a baseline measured in this run:
#
#   nosh T --with curl -c true    cached, and first (the toolbox image with
#                                 the tools imported), against nosh T -c true
#   nosh cp of 100 MB             out of and into a running target, against
#                                 docker cp of the same file (goal: 1.2x)
#
#   bench/tools.sh             # N=9
#   N=15 NOSH_BIN=... bench/tools.sh
#
# Needs a local Docker Engine, gcc (for the static fixture app), curl, and
# the static nosh build.
set -euo pipefail

N=${N:-9}
source "$(dirname "$0")/lib.sh"
bench_init files
command -v curl >/dev/null || { echo "bench: curl missing (the tool brought)" >&2; exit 1; }

# 1. A shell-less target with a /tmp the app may write.
sleeping_app
mkdir -p "$work/root/tmp"
chmod 1777 "$work/root/tmp"
start_target nosh-bench-files:latest

ms() { printf '%s\n' "$@" | awk '{print $1/1000}' | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
timed() { local t0 t1; t0=$(ns_now); "$@" >/dev/null; t1=$(ns_now); echo $(( (t1 - t0) / 1000 )); }

# 2. Attach with and without brought tools (warm the plain image first).
"$NOSH" "$target" -c true
image=$("$NOSH" -v "$target" --with curl -c true 2>&1 >/dev/null | sed -n 's/.*toolbox image \(nosh-toolbox:[^ ]*\) is present.*/\1/p; s/.*importing \(nosh-toolbox:[^ ]*\) with.*/\1/p' | head -1)
[[ -n $image ]] || { echo "bench: could not learn the tools image name" >&2; exit 1; }
first=()
for _ in 1 2 3; do
    docker rmi -f "$image" >/dev/null
    first+=("$(timed "$NOSH" "$target" --with curl -c true)")
done
plain=() with=() run=()
for _ in $(seq "$N"); do
    plain+=("$(timed "$NOSH" "$target" -c true)")
    with+=("$(timed "$NOSH" "$target" --with curl -c true)")
    run+=("$(timed "$NOSH" "$target" --with curl -c 'curl --version')")
done
plain_ms=$(ms "${plain[@]}") with_ms=$(ms "${with[@]}") run_ms=$(ms "${run[@]}") first_ms=$(ms "${first[@]}")
echo "brought tools, median of $N (ms), target $target"
printf '  %-52s %8s\n' "nosh T -c true" "$plain_ms"
printf '  %-52s %8s  %sx\n' "nosh T --with curl -c true (cached)" "$with_ms" "$(ratio "$with_ms" "$plain_ms")"
printf '  %-52s %8s  %sx\n' "nosh T --with curl -c 'curl --version'" "$run_ms" "$(ratio "$run_ms" "$plain_ms")"
printf '  %-52s %8s  %sx\n' "nosh T --with curl -c true, first (median of 3)" "$first_ms" "$(ratio "$first_ms" "$plain_ms")"

# 3. 100 MB out and in, alternating with docker cp.
head -c 100000000 /dev/urandom >"$work/big.bin"
docker cp "$work/big.bin" "$target:/tmp/src.bin"
mkdir -p "$work/out"
nosh_out=() docker_out=() nosh_in=() docker_in=() direct_out=()
for _ in $(seq "$N"); do
    rm -f "$work/out/"*
    nosh_out+=("$(timed "$NOSH" cp "$target:/tmp/src.bin" "$work/out/n.bin")")
    docker_out+=("$(timed docker cp "$target:/tmp/src.bin" "$work/out/d.bin")")
    cmp -s "$work/out/n.bin" "$work/big.bin" || { echo "bench: nosh cp out differs" >&2; exit 1; }
    nosh_in+=("$(timed "$NOSH" cp "$work/big.bin" "$target:/tmp/n.bin")")
    docker_in+=("$(timed docker cp "$work/big.bin" "$target:/tmp/d.bin")")
    if [[ $(id -u) == 0 ]]; then
        direct_out+=("$(timed "$NOSH" cp --direct "$target:/tmp/src.bin" "$work/out/direct.bin")")
    fi
done
no=$(ms "${nosh_out[@]}") do=$(ms "${docker_out[@]}") ni=$(ms "${nosh_in[@]}") di=$(ms "${docker_in[@]}")
echo "nosh cp of 100 MB, median of $N (ms)"
printf '  %-52s %8s\n' "docker cp T:/tmp/src.bin DEST" "$do"
printf '  %-52s %8s  %sx\n' "nosh cp T:/tmp/src.bin DEST" "$no" "$(ratio "$no" "$do")"
printf '  %-52s %8s\n' "docker cp SRC T:/tmp/" "$di"
printf '  %-52s %8s  %sx\n' "nosh cp SRC T:/tmp/" "$ni" "$(ratio "$ni" "$di")"
if ((${#direct_out[@]})); then
    dr=$(ms "${direct_out[@]}")
    printf '  %-52s %8s  %sx\n' "nosh cp --direct T:/tmp/src.bin DEST" "$dr" "$(ratio "$dr" "$do")"
fi
