#!/usr/bin/env bash
# doctor as a CI gate, timed against what it replaces, in the same run:
#
# 1. `nosh doctor IMAGE --run` on a service that is ready 1 s after it
#    starts, against a bare `docker run -d` of the same image plus polling
#    its port until it answers, then `docker rm -f` (the least a CI job
#    would do by hand). Goal: under 3 s in total.
# 2. `nosh doctor --all` over 20 running containers, against 20 `nosh
#    doctor NAME` one after another. Goal: a ratio of 0.5 or less.
#
#   bench/doctor.sh             # N=5 runs of 1., M=20 containers for 2.
#   N=9 M=40 NOSH_BIN=... bench/doctor.sh
#
# Needs a local Docker Engine, gcc (for the static service) and the static
# nosh build.
set -euo pipefail

N=${N:-5}
M=${M:-20}
here=$(cd "$(dirname "$0")/.." && pwd)
NOSH=${NOSH_BIN:-${CARGO_TARGET_DIR:-$here/target}/x86_64-unknown-linux-gnu/static-dev/nosh}
[[ -x $NOSH ]] || { echo "bench: $NOSH missing: build the static binary first" >&2; exit 1; }

work=$(mktemp -d)
label=nosh-bench-doctor=$$
image=nosh-bench-slow-start:$$
cleanup() {
    docker ps -aq --filter "label=$label" | xargs -r docker rm -f >/dev/null 2>&1 || true
    docker rmi "$image" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# A service that takes 1 s to be ready: sleeps, then answers on 8080.
cat >"$work/app.c" <<'EOF'
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static void term(int s) { (void)s; _exit(0); }
int main(void) {
    signal(SIGTERM, term);
    sleep(1);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(8080);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0) return 1;
    for (;;) { int c = accept(s, 0, 0); if (c >= 0) { write(c, "ok\n", 3); close(c); } }
}
EOF
mkdir -p "$work/root/app" "$work/root/tmp"
chmod 1777 "$work/root/tmp"
gcc -static -O2 -o "$work/root/app/app" "$work/app.c"
printf 'root:x:0:0::/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n' >"$work/root/passwd"
mkdir -p "$work/root/etc" && mv "$work/root/passwd" "$work/root/etc/passwd"
tar -C "$work/root" -c . | docker import \
    -c 'ENTRYPOINT ["/app/app"]' -c 'USER 65532' -c 'EXPOSE 8080' \
    -c 'LABEL io.nosh.test=1' - "$image" >/dev/null

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.0f", m}'; }

# The toolbox image is imported once, outside the timings.
"$NOSH" doctor "$image" --run=5s -l "$label" >/dev/null || true

# 1. Alternating, so that engine drift hits both alike.
bare_t=() nosh_t=()
for i in $(seq "$N"); do
    t0=$(now_ms)
    id=$(docker run -d --label "$label" "$image")
    ip=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$id")
    until (exec 3<>"/dev/tcp/$ip/8080") 2>/dev/null; do sleep 0.02; done
    docker rm -f "$id" >/dev/null
    t1=$(now_ms)
    "$NOSH" doctor "$image" --run -l "$label" >"$work/run.txt" || true
    t2=$(now_ms)
    grep -q 'run: ready' "$work/run.txt" || { echo "bench: the run did not see the port:" >&2; cat "$work/run.txt" >&2; }
    bare_t+=($((t1 - t0)))
    nosh_t+=($((t2 - t1)))
done
bare_ms=$(printf '%s\n' "${bare_t[@]}" | median)
nosh_ms=$(printf '%s\n' "${nosh_t[@]}" | median)
echo "doctor IMAGE --run on a service ready after 1 s, median of $N (ms)"
printf '  %-58s %8s\n' "docker run -d + wait for the port + docker rm -f" "$bare_ms"
printf '  %-58s %8s\n' "nosh doctor IMAGE --run" "$nosh_ms"
printf '  %-58s %8s\n' "ratio nosh / bare docker run" "$(awk -v a="$nosh_ms" -v b="$bare_ms" 'BEGIN{printf "%.2f", a/b}')"
printf '  %-58s %8s\n' "goal: total under (ms)" "3000"

# 2. M containers, then both ways over the same ones.
names=()
for i in $(seq "$M"); do
    names+=("$(docker run -d --label "$label" --name "nosh-bench-doctor-$$-$i" "$image")")
done
sleep 1.5
t0=$(now_ms)
for n in "${names[@]}"; do
    "$NOSH" doctor "$n" >/dev/null || true
done
t1=$(now_ms)
"$NOSH" doctor --all --filter "label=$label" >"$work/all.txt" || true
t2=$(now_ms)
rows=$(grep -c "^nosh-bench-doctor-$$-" "$work/all.txt" || true)
seq_ms=$((t1 - t0))
all_ms=$((t2 - t1))
echo
echo "doctor --all over $M containers (ms), jobs = $(nproc) CPUs"
printf '  %-58s %8s\n' "$M x nosh doctor NAME, one after another" "$seq_ms"
printf '  %-58s %8s\n' "nosh doctor --all ($rows rows)" "$all_ms"
printf '  %-58s %8s\n' "ratio --all / sequential (goal <= 0.50)" "$(awk -v a="$all_ms" -v b="$seq_ms" 'BEGIN{printf "%.2f", a/b}')"
