#!/usr/bin/env bash
# find on 200,000 files: nosh's builtin (through the toolbox, start-up
# included) against GNU find and busybox find on the same tree.
#
#   NOSH=path/to/nosh bench/find.sh      (default: $NOSH_BIN, else the static-dev build)
#
# The tree is made once under /tmp and reused. Runs alternate between the
# tools, N times each after one warm-up, and the medians are compared;
# the goal is nosh <= 0.75x GNU find.
set -euo pipefail

N=${N:-5}
TREE=${TREE:-/tmp/nosh-bench-tree}
TARGET_DIR=${CARGO_TARGET_DIR:-$(dirname "$0")/../target}
NOSH=${NOSH:-${NOSH_BIN:-$TARGET_DIR/x86_64-unknown-linux-gnu/static-dev/nosh}}
[[ -x $NOSH ]] || { echo "no nosh binary at $NOSH (cargo build --release, or set NOSH)" >&2; exit 1; }
PATTERN='*77.txt'

# 1. The tree: 20 x 100 directories of 100 files.
if [[ ! -e $TREE/.complete ]]; then
    echo "creating 200,000 files in $TREE ..."
    rm -rf "$TREE"
    for i in $(seq 1 20); do
        for j in $(seq 1 100); do
            d=$TREE/d$i/s$j
            mkdir -p "$d"
            (cd "$d" && touch f{1..100}.txt)
        done
    done
    touch "$TREE/.complete"
fi

# 2. busybox, if it can be had.
BUSYBOX=$(command -v busybox || true)
if [[ -z $BUSYBOX ]] && command -v apt-get >/dev/null; then
    apt-get install -y -qq busybox-static >/dev/null 2>&1 || true
    BUSYBOX=$(command -v busybox || true)
fi

declare -A CMD=(
    [nosh]="$NOSH toolbox --pid $$ -c \"find $TREE -name '$PATTERN'\""
    [gnu]="find $TREE -name '$PATTERN'"
)
ORDER=(nosh gnu)
if [[ -n $BUSYBOX ]]; then
    CMD[busybox]="$BUSYBOX find $TREE -name '$PATTERN'"
    ORDER+=(busybox)
fi

# The outputs must agree before timing means anything.
want=$(eval "${CMD[gnu]}" | sort | md5sum)
for t in "${ORDER[@]}"; do
    got=$(eval "${CMD[$t]}" | sort | md5sum)
    [[ $got == "$want" ]] || { echo "$t finds something else than GNU find" >&2; exit 1; }
done

now() { date +%s%N; }
declare -A TIMES
for round in $(seq 0 "$N"); do
    for t in "${ORDER[@]}"; do
        start=$(now)
        eval "${CMD[$t]}" >/dev/null
        ms=$(( ($(now) - start) / 1000000 ))
        # Round 0 warms the page cache and is not counted.
        (( round == 0 )) || TIMES[$t]+="$ms "
    done
done

median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
gnu_ms=$(echo "${TIMES[gnu]}" | median)
echo "find $TREE -name '$PATTERN' (200,000 files, $N runs, median ms)"
for t in "${ORDER[@]}"; do
    m=$(echo "${TIMES[$t]}" | median)
    printf '  %-8s %6d ms  %5.2fx GNU find   (runs: %s)\n' "$t" "$m" \
        "$(awk "BEGIN { print $m / ($gnu_ms > 0 ? $gnu_ms : 1) }")" "${TIMES[$t]% }"
done
nosh_ms=$(echo "${TIMES[nosh]}" | median)
awk -v n="$nosh_ms" -v g="$gnu_ms" 'BEGIN { printf "ratio nosh/GNU find: %.2f (goal <= 0.75)\n", n / (g > 0 ? g : 1) }'
