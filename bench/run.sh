#!/usr/bin/env bash
# Benchmarks (`make bench`): attach latency, builtins against procps, ss,
# find and busybox, toolbox image size, sidecar memory. Not written yet.
set -euo pipefail
echo "no benchmarks yet"
