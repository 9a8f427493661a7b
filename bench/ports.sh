#!/usr/bin/env bash
# ports vs `ss -tanp` on 10,000 TCP sockets (`make bench` calls this).
#
# 1. In a fresh network namespace, one process as uid 65532 holds a
#    listener, 5,000 client sockets and the 5,000 it accepted from them
#    (10,001 sockets, all on loopback, nothing leaves the namespace).
# 2. Alternately, N times each: `nosh toolbox --pid P -c 'ports -a -t'` (join,
#    drop to 65532, read the sockets through sock_diag netlink, map
#    inodes to pids through /proc/*/fd) and `nsenter --net ss -tanp` as
#    root (netlink, same inode -> pid walk). Both print to /dev/null.
# 3. Print the medians and the ratio; the goal is nosh <= 0.75x ss.
#
# Needs root, unshare, nsenter, setpriv, ss and /usr/bin/python3.
# NOSH_BIN picks the binary (default: the static-dev build, else debug).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10}
PAIRS=${PAIRS:-5000}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
NOSH=${NOSH_BIN:-}
if [[ -z $NOSH ]]; then
    for c in "$TARGET_DIR/x86_64-unknown-linux-gnu/static-dev/nosh" "$TARGET_DIR/release/nosh" "$TARGET_DIR/debug/nosh"; do
        [[ -x $c ]] && { NOSH=$c; break; }
    done
fi
[[ -x ${NOSH:-} ]] || { echo "bench/ports.sh: no nosh binary (build it or set NOSH_BIN)" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "bench/ports.sh: needs root (network namespaces)" >&2; exit 1; }
for tool in unshare nsenter setpriv ss /usr/bin/python3; do
    command -v "$tool" > /dev/null || { echo "bench/ports.sh: $tool is missing" >&2; exit 1; }
done

work=$(mktemp -d)
holder=
cleanup() {
    [[ -n $holder ]] && kill "$holder" 2> /dev/null || true
    wait 2> /dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/hold.py" <<'PY'
import signal, socket, sys
pairs = int(sys.argv[1])
lst = socket.socket()
lst.bind(("127.0.0.1", 9000))
lst.listen(pairs + 16)
keep = []
for _ in range(pairs):
    c = socket.create_connection(("127.0.0.1", 9000))
    s, _ = lst.accept()
    keep += [c, s]
print("ready", flush=True)
while True:
    signal.pause()
PY
chmod 755 "$work"
chmod 644 "$work/hold.py"

# 1.
unshare --net sh -c "ip link set lo up && ulimit -n \$(ulimit -Hn) && exec setpriv --reuid=65532 --regid=65532 --clear-groups /usr/bin/python3 $work/hold.py $PAIRS" > "$work/ready" &
holder=$!
for _ in $(seq 300); do
    [[ -s $work/ready ]] && break
    sleep 0.1
done
[[ -s $work/ready ]] || { echo "bench/ports.sh: the socket holder did not start" >&2; exit 1; }
pid=$(pgrep -P "$holder" -f hold.py || echo "$holder")
sockets=$(nsenter --net="/proc/$pid/ns/net" ss -tan | tail -n +2 | wc -l)
rows=$("$NOSH" toolbox --pid "$pid" -c 'ports -a -t' | tail -n +2 | grep -c ' python3$' || true)
echo "sockets: $sockets (ss -tan); rows attributed to python3 by nosh: $rows"

# 2.
now() { date +%s%N; }
nosh_t=()
ss_t=()
for _ in $(seq "$N"); do
    t0=$(now); "$NOSH" toolbox --pid "$pid" -c 'ports -a -t' > /dev/null; t1=$(now)
    nosh_t+=($(( (t1 - t0) / 1000 )))
    t0=$(now); nsenter --net="/proc/$pid/ns/net" ss -tanp > /dev/null; t1=$(now)
    ss_t+=($(( (t1 - t0) / 1000 )))
done

# 3.
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}'; }
m_nosh=$(median "${nosh_t[@]}")
m_ss=$(median "${ss_t[@]}")
awk -v n="$m_nosh" -v s="$m_ss" -v runs="$N" -v bin="$NOSH" 'BEGIN {
    printf "ports -a -t (%s): median %.1f ms over %d runs\n", bin, n / 1000, runs
    printf "ss -tanp:            median %.1f ms over %d runs\n", s / 1000, runs
    printf "ratio nosh/ss: %.2f (goal <= 0.75)\n", n / s
}'
