#!/usr/bin/env bash
# Direct attach latency: `nosh pid://PID -c true` against `nsenter --target
# PID --all true` (the floor: join and run nothing) and against the sidecar
# path (`nosh T -c true`) on the same Docker target, alternately, N runs each.
# Goal: within 1.5x of nsenter, at least 10x faster than the sidecar.
# nsenter only joins; a direct attach also forks its session onto a pty or
# pipes of its own, joins the target's cgroups, drops, verifies and
# installs a seccomp filter (SECURITY.md, "Direct attach").
#
#   bench/direct.sh            # N=21
#   N=51 NOSH_BIN=... bench/direct.sh
#
# Needs root, a local Docker Engine, gcc, nsenter (util-linux) and the
# static nosh build.
set -euo pipefail

N=${N:-21}
source "$(dirname "$0")/lib.sh"
bench_init direct
[[ $(id -u) == 0 ]] || { echo "bench: direct attach needs root" >&2; exit 1; }
command -v nsenter >/dev/null || { echo "bench: nsenter (util-linux) missing" >&2; exit 1; }

# 1. A shell-less target: a static app that sleeps, FROM scratch, as 65532.
sleeping_app
# nsenter --all lands in the target's mount namespace and root: its `true`
# must be there (a static one; the app itself has no shell or coreutils).
printf 'int main(void) { return 0; }\n' >"$work/true.c"
mkdir -p "$work/root/bin"
gcc -static -O2 -o "$work/root/bin/true" "$work/true.c"
start_target nosh-bench-direct-app:latest
pid=$(docker inspect -f '{{.State.Pid}}' "$target")
"$NOSH" "$target" -c true # the toolbox image imported once, not timed


direct_t=() nsenter_t=() sidecar_t=()
for _ in $(seq "$N"); do
    t0=$(ns_now)
    "$NOSH" "pid://$pid" -c true
    t1=$(ns_now)
    nsenter --target "$pid" --all /bin/true
    t2=$(ns_now)
    "$NOSH" "$target" -c true
    t3=$(ns_now)
    direct_t+=($(( (t1 - t0) / 1000 )))
    nsenter_t+=($(( (t2 - t1) / 1000 )))
    sidecar_t+=($(( (t3 - t2) / 1000 )))
done
ms() { printf "%s\n" "$@" | awk "{print \$1/1000}" | median 2; }
direct_ms=$(ms "${direct_t[@]}")
nsenter_ms=$(ms "${nsenter_t[@]}")
sidecar_ms=$(ms "${sidecar_t[@]}")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }

echo "direct attach latency, median of $N (ms), target $target (pid $pid)"
printf '  %-50s %8s\n' "nosh pid://PID -c true" "$direct_ms"
printf '  %-50s %8s\n' "nsenter --target PID --all /bin/true" "$nsenter_ms"
printf '  %-50s %8s\n' "nosh T -c true (sidecar)" "$sidecar_ms"
printf '  %-50s %8s   (goal <= 1.5)\n' "ratio direct / nsenter" "$(ratio "$direct_ms" "$nsenter_ms")"
printf '  %-50s %8s   (goal >= 10)\n' "ratio sidecar / direct" "$(ratio "$sidecar_ms" "$direct_ms")"
