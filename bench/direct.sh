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
here=$(cd "$(dirname "$0")/.." && pwd)
NOSH=${NOSH_BIN:-${CARGO_TARGET_DIR:-$here/target}/x86_64-unknown-linux-gnu/static-dev/nosh}
[[ -x $NOSH ]] || { echo "bench: $NOSH missing: build the static binary first" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "bench: direct attach needs root" >&2; exit 1; }
command -v nsenter >/dev/null || { echo "bench: nsenter (util-linux) missing" >&2; exit 1; }

work=$(mktemp -d)
target=nosh-bench-direct-$$
cleanup() {
    docker rm -f "$target" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# 1. A shell-less target: a static app that sleeps, FROM scratch, as 65532.
cat >"$work/app.c" <<'APP'
#include <signal.h>
#include <unistd.h>
static void term(int s) { (void)s; _exit(0); }
int main(void) { signal(SIGTERM, term); for (;;) pause(); }
APP
printf 'int main(void) { return 0; }\n' >"$work/true.c"
mkdir -p "$work/root/app" "$work/root/bin"
gcc -static -O2 -o "$work/root/app/app" "$work/app.c"
# nsenter --all lands in the target's mount namespace and root: its `true`
# must be there (a static one; the app itself has no shell or coreutils).
gcc -static -O2 -o "$work/root/bin/true" "$work/true.c"
tar -C "$work/root" -c . | docker import -c 'ENTRYPOINT ["/app/app"]' -c 'USER 65532' - nosh-bench-direct-app:latest >/dev/null
docker run -d --name "$target" nosh-bench-direct-app:latest >/dev/null
pid=$(docker inspect -f '{{.State.Pid}}' "$target")
"$NOSH" "$target" -c true # the toolbox image imported once, not timed

ns_now() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.2f", m}'; }

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
ms() { printf '%s\n' "$@" | awk '{print $1/1000}' | median; }
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
