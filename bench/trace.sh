#!/usr/bin/env bash
# trace's overhead: a syscall-heavy loop (static, built here with gcc) run
# plain, under Debian's `strace -f -qq -Z` (every call stops), under
# `strace -f -qq -Z --seccomp-bpf -e trace=SET` (SET: the calls trace
# reports, read from src/trace/filter.rs: only those stop) and under
# `trace --` in a nosh toolbox (start-up included), in the same run.
# Printed: each slowdown against the plain run, and nosh's time against
# strace --seccomp-bpf's on the same set (goal <= 1.5); the plain strace
# line is for information.
# Then trace's memory: its peak RSS over PATHS failed opens of distinct
# 4 KiB paths against the same number of opens of one path (goal <= 1.5:
# the summary is bounded, what the target names does not grow the shell).
#
#   NOSH=path/to/nosh bench/trace.sh   (default: $NOSH_BIN, else the static-dev build)
#   Needs gcc (with static libc) and strace (apt-get install strace).
set -euo pipefail

N=${N:-15}
STRACE_N=${STRACE_N:-3}
LOOPS=${LOOPS:-50000}
TARGET_DIR=${CARGO_TARGET_DIR:-$(dirname "$0")/../target}
NOSH=${NOSH:-${NOSH_BIN:-$TARGET_DIR/x86_64-unknown-linux-gnu/static-dev/nosh}}
[[ -x $NOSH ]] || { echo "no nosh binary at $NOSH (make static-dev, or set NOSH)" >&2; exit 1; }
command -v strace >/dev/null || { echo "strace is needed: apt-get install strace" >&2; exit 1; }
command -v gcc >/dev/null || { echo "gcc is needed: apt-get install gcc libc6-dev" >&2; exit 1; }

# 1. The loop: mostly calls that succeed (getppid, a 1-byte read of
#    /dev/zero), one failing open in a hundred, as a busy app looks.
DIR=$(mktemp -d /tmp/nosh-bench-trace.XXXXXX)
TARGET=
cleanup() {
    [[ -n $TARGET ]] && kill "$TARGET" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
chmod 755 "$DIR"
cat >"$DIR/loop.c" <<C
#include <fcntl.h>
#include <unistd.h>
int main(void) {
    char c;
    int z = open("/dev/zero", O_RDONLY);
    for (long i = 0; i < $LOOPS; i++) {
        getppid();
        read(z, &c, 1);
        if (i % 100 == 0) open("/nonexistent/app.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
    return 0;
}
C
gcc -static -O2 -o "$DIR/loop" "$DIR/loop.c"
cat >"$DIR/paths.c" <<'C'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* paths N distinct|same: N failed opens of 4 KiB paths. */
int main(int argc, char **argv) {
    static char p[4096];
    long n = atol(argv[1]);
    int distinct = strcmp(argv[2], "distinct") == 0;
    memset(p, 'a', sizeof p - 1);
    memcpy(p, "/nonexistent/", 13);
    for (long i = 0; i < n; i++) {
        char k[24];
        int len = snprintf(k, sizeof k, "%020ld", distinct ? i : 0);
        memcpy(p + 13, k, len);
        open(p, O_RDONLY);
    }
    return 0;
}
C
gcc -static -O2 -o "$DIR/paths" "$DIR/paths.c"

# 2. A process to open the toolbox on: any process of the app's uid.
setpriv --reuid 65532 --regid 65532 --clear-groups sleep 100000 &
TARGET=$!
sleep 0.2

# The calls trace reports: strace's equivalent of nosh's filter.
SRC=$(dirname "$0")/../src/trace/filter.rs
SET=$(awk '/^pub const REPORTED/,/^\];/' "$SRC" | grep -oE '^ +"[a-z0-9_]+"' | tr -d ' "' | paste -sd, -)
[[ -n $SET ]] || { echo "no REPORTED list in $SRC" >&2; exit 1; }

plain() { "$DIR/loop"; }
under_strace() { strace -f -qq -Z -o /dev/null "$DIR/loop"; }
under_strace_bpf() { strace -f -qq -Z --seccomp-bpf -e trace="$SET" -o /dev/null "$DIR/loop"; }
under_nosh() { "$NOSH" toolbox --pid "$TARGET" -c "trace -- $DIR/loop" >/dev/null 2>&1; }

# The trace must see the failures: 1 in 100 iterations.
want=$(( (LOOPS + 99) / 100 ))
got=$("$NOSH" toolbox --pid "$TARGET" -c "trace --json -- $DIR/loop" 2>/dev/null | grep -c '^{"pid":.*"errno":"ENOENT"' || true)
echo "failed opens seen by trace: $got of $want"
(( got == want )) || { echo "trace missed calls" >&2; exit 1; }

now() { date +%s%N; }
T0=""; T1=""; T2=""; T3=""
# The three fast ones alternate, N runs each after a warm-up; plain strace
# (seconds a run) goes after them, STRACE_N runs, so that its load does not
# fall on their tens of milliseconds.
for round in $(seq 0 "$N"); do
    s=$(now); plain; a=$(( ($(now) - s) / 1000000 ))
    s=$(now); under_strace_bpf; d=$(( ($(now) - s) / 1000000 ))
    s=$(now); under_nosh; c=$(( ($(now) - s) / 1000000 ))
    (( round == 0 )) || { T0+="$a "; T2+="$c "; T3+="$d "; }
done
for _ in $(seq "$STRACE_N"); do
    s=$(now); under_strace; b=$(( ($(now) - s) / 1000000 ))
    T1+="$b "
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m0=$(echo "$T0" | median); m1=$(echo "$T1" | median); m2=$(echo "$T2" | median)
m3=$(echo "$T3" | median)
(( m0 > 0 )) || m0=1
(( m3 > 0 )) || m3=1
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
echo "a loop of $((LOOPS * 2 + LOOPS / 100)) system calls, $((LOOPS / 100)) of them reported ($N runs, plain strace $STRACE_N; median ms)"
printf '  plain                       %6d ms                     (runs: %s)\n' "$m0" "${T0% }"
printf '  strace -f -qq -Z            %6d ms  %6sx slower      (runs: %s)\n' "$m1" "$(ratio "$m1" "$m0")" "${T1% }"
printf '  strace ... --seccomp-bpf    %6d ms  %6sx slower      (runs: %s)\n' "$m3" "$(ratio "$m3" "$m0")" "${T3% }"
printf '  nosh trace --               %6d ms  %6sx slower      (runs: %s)\n' "$m2" "$(ratio "$m2" "$m0")" "${T2% }"
printf '  nosh / strace --seccomp-bpf: %s (goal <= 1.5)\n' "$(ratio "$m2" "$m3")"
printf '  nosh / strace (every call):  %s (information)\n' "$(ratio "$m2" "$m1")"

# 3. Memory: the peak RSS (VmHWM, sampled every 20 ms) of the toolbox
#    tracing PATHS failed opens, distinct paths against one path.
PATHS=${PATHS:-20000}
peak_kib() {
    "$NOSH" toolbox --pid "$TARGET" -c "trace -- $DIR/paths $PATHS $1" >/dev/null 2>&1 &
    local pid=$! peak=0 kib
    while kill -0 "$pid" 2>/dev/null; do
        kib=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
        [[ -n $kib ]] && (( kib > peak )) && peak=$kib
        sleep 0.02
    done
    wait "$pid" || true
    echo "$peak"
}
same=$(peak_kib same)
distinct=$(peak_kib distinct)
(( same > 0 )) || same=1
echo "trace's peak RSS over $PATHS failed opens of 4 KiB paths"
printf '  one path            %6d KiB\n' "$same"
printf '  distinct paths      %6d KiB  %6sx      (goal <= 1.5)\n' "$distinct" "$(ratio "$distinct" "$same")"
