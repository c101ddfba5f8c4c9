#!/usr/bin/env bash
# Memory READ bandwidth of this machine (1 thread and all threads), the
# ceiling for streaming FP8 weights. Builds scripts/membw.c into the cache
# (outside git) and runs it.
#   bash scripts/membw.sh [MiB=1024] [runs=5] [threads=nproc]
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${F8_CACHE:-$HOME/.cache/f8}
BIN="$CACHE/bin/membw"
mkdir -p "$CACHE/bin"
if [ ! -x "$BIN" ] || [ scripts/membw.c -nt "$BIN" ]; then
  ${CC:-cc} -O3 -march=native -std=c11 -pthread -o "$BIN" scripts/membw.c
fi
echo "membw: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"
"$BIN" "$@"
