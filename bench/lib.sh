# Sourced by the benchmarks: the binary under test, a shell-less target
# made on the spot, and medians. Each script sets `set -euo pipefail` first.
#
#   source "$(dirname "$0")/lib.sh"
#   bench_init NAME            # NOSH, work (a temp dir), target (a container
#                              # name), both removed on exit
#   sleeping_app               # $work/root/app/app: a static app that sleeps
#   start_target IMAGE         # $work/root imported FROM scratch as IMAGE
#                              # (ENTRYPOINT the app, USER 65532), run as $target
#   ns_now; median [DIGITS]    # nanoseconds; the median of stdin's numbers

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NOSH=${NOSH_BIN:-${CARGO_TARGET_DIR:-$here/target}/x86_64-unknown-linux-gnu/static-dev/nosh}

bench_init() {
    [[ -x $NOSH ]] || { echo "bench: $NOSH missing: build the static binary first" >&2; exit 1; }
    work=$(mktemp -d)
    target=nosh-bench-$1-$$
    trap 'docker rm -f "$target" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
}

sleeping_app() {
    cat >"$work/app.c" <<'APP'
#include <signal.h>
#include <unistd.h>
static void term(int s) { (void)s; _exit(0); }
int main(void) { signal(SIGTERM, term); for (;;) pause(); }
APP
    mkdir -p "$work/root/app"
    gcc -static -O2 -o "$work/root/app/app" "$work/app.c"
}

start_target() {
    tar -C "$work/root" -c . | docker import -c 'ENTRYPOINT ["/app/app"]' -c 'USER 65532' - "$1" >/dev/null
    docker run -d --name "$target" "$1" >/dev/null
}

ns_now() { date +%s%N; }
# median [DIGITS]: one decimal unless told.
median() { sort -n | awk -v d="${1:-1}" '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf("%." d "f", m)}'; }
