#!/usr/bin/env bash
# ps with 2,000 processes: nosh's builtin (through the toolbox, start-up
# included) against procps `ps -ef`, both inside the same PID namespace.
#
#   NOSH=path/to/nosh bench/ps.sh      (default: $NOSH_BIN, else the static-dev build)
set -euo pipefail

N=${N:-5}
COUNT=${COUNT:-2000}
TARGET_DIR=${CARGO_TARGET_DIR:-$(dirname "$0")/../target}
NOSH=${NOSH:-${NOSH_BIN:-$TARGET_DIR/x86_64-unknown-linux-gnu/static-dev/nosh}}
[[ -x $NOSH ]] || { echo "no nosh binary at $NOSH (cargo build --release, or set NOSH)" >&2; exit 1; }

# 1. A PID namespace with its own /proc and COUNT sleeping processes.
unshare --pid --fork --mount-proc -- sh -c \
    "i=0; while [ \$i -lt $COUNT ]; do sleep 100000 & i=\$((i + 1)); done; exec sleep 100000" &
UNSHARE=$!
INIT=
cleanup() {
    # Killing the namespace's init kills every process in it.
    if [[ -n $INIT ]]; then
        kill -9 "$INIT" 2>/dev/null || true
    else
        kill "$UNSHARE" 2>/dev/null || true
    fi
    wait "$UNSHARE" 2>/dev/null || true
}
trap cleanup EXIT
for _ in $(seq 1 200); do
    INIT=$(pgrep -P "$UNSHARE" | head -n 1 || true)
    [[ -n $INIT ]] && (( $(pgrep -P "$INIT" | wc -l) >= COUNT )) && break
    sleep 0.1
done
(( $(pgrep -P "$INIT" | wc -l) >= COUNT )) || { echo "the $COUNT processes did not start" >&2; exit 1; }

nosh_ps() { "$NOSH" toolbox --pid "$INIT" -c 'ps'; }
procps() { nsenter --target "$INIT" --pid --mount -- ps -ef; }

# Both must see the whole namespace (header + COUNT + init, nosh adds its own shell).
n1=$(nosh_ps | wc -l); n2=$(procps | wc -l)
echo "rows: nosh $n1, procps $n2"

now() { date +%s%N; }
T1=""; T2=""
for round in $(seq 0 "$N"); do
    s=$(now); nosh_ps >/dev/null; a=$(( ($(now) - s) / 1000000 ))
    s=$(now); procps >/dev/null; b=$(( ($(now) - s) / 1000000 ))
    (( round == 0 )) || { T1+="$a "; T2+="$b "; }
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m1=$(echo "$T1" | median); m2=$(echo "$T2" | median)
echo "ps with $COUNT processes ($N runs, median ms)"
printf '  nosh ps    %6d ms  %5.2fx procps   (runs: %s)\n' "$m1" "$(awk "BEGIN { print $m1 / ($m2 > 0 ? $m2 : 1) }")" "${T1% }"
printf '  ps -ef     %6d ms                  (runs: %s)\n' "$m2" "${T2% }"
