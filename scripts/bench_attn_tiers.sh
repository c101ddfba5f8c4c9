#!/usr/bin/env bash
# Decode attention alone (build/bin/bench_cpu_attn: one query over a filled
# SmolLM2-shaped cache, 30 layers streamed from memory) on every cpu-simd
# tier this CPU has, alternating tiers within each round so a shared VM's
# drift hits all of them. Issue 27: the avx512 tiers' 512-bit block kernels
# against the avx2 ones (the same bits, so only the time differs).
#   bash scripts/bench_attn_tiers.sh [BUILD=build] [THREADS="1 2"]
# Env: CTX ("4096 8192"), KV ("fp8 int8": the runtime's caches, K centered
# as the runtime runs them), REPS (3), ITERS (10). Prints one row per
# (tier, cache, context, threads): the median and range over REPS of the
# best-of-ITERS ns per (cell, KV head) and ms per token.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${2:-"1 2"}
CTX=${CTX:-"4096 8192"}
KV=${KV:-"fp8 int8"}
REPS=${REPS:-3}
ITERS=${ITERS:-10}
. scripts/cpu_tiers.sh  # tiers=(...) and has FLAG...
cmake --build "$BUILD" -j2 --target bench_cpu_attn >/dev/null
B="$BUILD/bin/bench_cpu_attn"
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(date -u +%F), tiers: ${tiers[*]}"
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for r in $(seq "$REPS"); do
  for kv in $KV; do for c in $CTX; do for t in $THREADS; do for tier in "${tiers[@]}"; do
    line=$("$B" --ctx "$c" --threads "$t" --iters "$ITERS" --kv "$kv" --center 1 --isa "$tier")
    ns=$(sed -n 's/.* \([0-9.]*\) ns per (query, cell, KV head).*/\1/p' <<<"$line")
    ms=$(sed -n 's/.*: \([0-9.]*\) ms per call.*/\1/p' <<<"$line")
    echo "$tier $kv $c $t $ns $ms" >>"$OUT"
  done; done; done; done
done
python3 - "$OUT" <<'PY'
import sys, statistics as st
rows = {}
for l in open(sys.argv[1]):
    tier, kv, c, t, ns, ms = l.split()
    rows.setdefault((kv, int(c), int(t), tier), []).append((float(ns), float(ms)))
print("| cache | context | threads | tier | ns per (cell, KV head), median (range) | ms per token |")
print("|:--|--:|--:|:--|--:|--:|")
for (kv, c, t, tier), v in sorted(rows.items(), key=lambda kv_: (kv_[0][0], kv_[0][1], kv_[0][2])):
    ns = [a for a, _ in v]; ms = [b for _, b in v]
    print(f"| {kv} | {c} | {t} | {tier} | {st.median(ns):.2f} ({min(ns):.2f}-{max(ns):.2f}) | {st.median(ms):.3f} |")
PY
