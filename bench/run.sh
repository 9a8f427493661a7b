#!/usr/bin/env bash
# `make bench`: every benchmark, each printed as medians and a ratio against
# a baseline measured in the same run (never an absolute pass/fail time).
#
#   attach.sh   nosh T -c true  vs  docker run --rm of the same sidecar
#   direct.sh   nosh pid://PID -c true  vs  nsenter --all, and the sidecar
#   ports.sh    ports -a -t     vs  ss -tanp          (10,000 sockets)
#   find.sh     find / -name X  vs  GNU find, busybox (200,000 files)
#   ps.sh       ps              vs  procps ps -ef     (2,000 processes)
#   size_mem.sh toolbox image size and sidecar memory vs the static binary
#               and the target app
#   trace.sh    trace -- LOOP       vs  strace -f -qq -Z --seccomp-bpf  (a syscall-heavy loop)
#   doctor.sh   doctor IMAGE --run  vs  docker run + waiting for the port;
#               doctor --all        vs  one doctor per container (20)
#   tools.sh    nosh T --with curl  vs  nosh T (cached and first), and
#               nosh cp of 100 MB   vs  docker cp, out and in
set -uo pipefail
cd "$(dirname "$0")"
status=0
for b in attach.sh direct.sh ports.sh find.sh ps.sh size_mem.sh trace.sh doctor.sh tools.sh; do
    if [[ ! -x $b ]]; then
        echo "== $b: missing" >&2
        status=1
        continue
    fi
    echo "== $b"
    ./"$b" || { echo "== $b failed" >&2; status=1; }
done
exit $status
