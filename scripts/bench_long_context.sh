#!/usr/bin/env bash
# Issue 27's table: decode after a long context, f8 (FP8 weights, the
# default fp8 KV cache) vs llama.cpp's llama-bench (Q8_0 weights, q8_0 K and
# V cache, flash attention) on SmolLM2-135M, same machine, same run,
# alternating rounds so drift on a shared VM hits both.
#   bash scripts/bench_long_context.sh [BUILD=build] [THREADS=2]
# Env: DEPTHS (0,4096,8000) context tokens before decoding, N_GEN (32),
# REPS (3), F8_CACHE. Prints the machine, scripts/membw.sh's read bandwidth,
# then one markdown table: context, each engine's decode tok/s (median of
# REPS rounds), the bytes a decode step reads (weights + the cache of the
# context: f8 1 + 2/64 bytes per value — a BF16 scale per 64-value row —,
# q8_0 34/32) x tok/s as GB/s, that as
# a share of membw's all-thread read bandwidth, and f8 / llama.cpp.
# Not part of CI (an 8000-token prefill per round and engine: minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${2:-2}
DEPTHS=${DEPTHS:-0,4096,8000}
N_GEN=${N_GEN:-32}
REPS=${REPS:-3}
. scripts/smollm2_vs_llama.sh  # F8, TOOLS, FP8, Q8, OUT
maxd=$(echo "$DEPTHS" | tr ',' '\n' | sort -n | tail -1)
ctx=$((maxd + N_GEN + 64))
F8_DEPTHS=$(echo "$DEPTHS" | tr ',' '\n' | grep -v '^0$' | paste -sd,)  # f8 bench's plain tgN row is depth 0

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
bash scripts/membw.sh 512 3 | tee "$OUT/membw.txt" | grep '^read' || true
for r in $(seq 1 "$REPS"); do
  "$F8" bench -m "$FP8" -p 16 -n "$N_GEN" ${F8_DEPTHS:+-d "$F8_DEPTHS"} -c "$ctx" -t "$THREADS" -r 1 --json > "$OUT/f8~$r.json" 2>"$OUT/f8~$r.err" || { echo "f8 bench failed: $(tail -1 "$OUT/f8~$r.err")" >&2; exit 1; }
  "$TOOLS/llama-bench" -m "$Q8" -p 0 -n "$N_GEN" -d "$DEPTHS" -t "$THREADS" -fa 1 -ctk q8_0 -ctv q8_0 -r 1 -o json \
    > "$OUT/ll~$r.json" 2>"$OUT/ll~$r.err" || echo "llama-bench failed: $(tail -1 "$OUT/ll~$r.err")"
  echo "round $r/$REPS done" >&2
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" "$THREADS" "$Q8" <<'EOF'
import glob, json, os, re, statistics, sys
out, threads, q8 = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bw = None
for line in open(os.path.join(out, "membw.txt")):
    m = re.match(r"read\s+(\d+) threads?\s+\S+ MiB\s+best\s+([\d.]+) GB/s", line)
    if m and int(m.group(1)) == threads:
        bw = float(m.group(2))
# SmolLM2-135M: 30 layers, 3 KV heads of 64 -> K and V values per token of context
vals = 30 * 2 * 3 * 64
f8, ll, f8_weights = {}, {}, None
for p in glob.glob(os.path.join(out, "f8~*.json")):
    j = json.load(open(p))
    f8_weights = j["weight_bytes_per_token"]
    for r in j["results"]:
        m = re.match(r"tg\d+(?:@d(\d+))?$", r["test"])
        if m:
            f8.setdefault(int(m.group(1) or 0), []).append(r["tok_s"])
ll_weights = os.path.getsize(q8)  # tied embeddings: the output matrix is read every token
for p in glob.glob(os.path.join(out, "ll~*.json")):
    try:
        rows = json.load(open(p))
    except ValueError:
        continue
    for r in rows:
        if r.get("n_gen", 0) > 0 and r.get("n_prompt", 0) == 0:
            ll.setdefault(int(r.get("n_depth", 0)), []).append(r["avg_ts"])
def cell(tps, bytes_):
    gbs = tps * bytes_ / 1e9
    share = f"{100 * gbs / bw:.0f}%" if bw else "?"
    return f"{tps:.1f} | {gbs:.2f} | {share}"
print(f"\n| context | f8 FP8, fp8 cache: tok/s | GB/s | of membw | llama.cpp Q8_0, q8_0 cache, FA: tok/s | GB/s | of membw | f8 / llama.cpp |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|")
for d in sorted(set(f8) | set(ll)):
    a = statistics.median(f8[d]) if d in f8 else None
    b = statistics.median(ll[d]) if d in ll else None
    ca = cell(a, f8_weights + d * vals * 66 / 64) if a else "— | — | —"
    cb = cell(b, ll_weights + d * vals * 34 / 32) if b else "— | — | —"
    ratio = f"{a / b:.2f}x" if a and b else "—"
    print(f"| {d} | {ca} | {cb} | {ratio} |")
print(f"\n{threads} threads, membw {bw} GB/s ({threads} threads)")
EOF
echo "command: bash scripts/bench_long_context.sh $BUILD $THREADS (DEPTHS=$DEPTHS N_GEN=$N_GEN REPS=$REPS), $(date -u +%Y-%m-%d)"
