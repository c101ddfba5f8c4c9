#!/usr/bin/env bash
# Prefill of a long prompt (time to first token of a RAG prompt or a long
# chat), f8 (FP8 weights, the default fp8 KV cache) vs llama.cpp's
# llama-bench (Q8_0 weights) with a q8_0 K and V cache and flash attention
# (the setting comparable to f8's 8-bit cache) and with its defaults (F16
# cache, no flash attention: its faster prefill here) on SmolLM2-135M, same machine, same run, alternating rounds so drift on a
# shared VM hits both. Past a few thousand tokens causal attention, not the
# weights, is most of a prefill's work (it grows with the square of the
# prompt).
#   bash scripts/bench_long_prompt.sh [BUILD=build] [THREADS=2]
# Env: PROMPTS (512,2048,4096) prompt tokens, REPS (3), F8_CACHE. Prints the
# machine and one markdown table: prompt tokens, each engine's prefill tok/s
# (median of REPS rounds, min-max), and f8 / each llama.cpp (the median of
# the per-round ratios). Not part of CI (minutes per round).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${2:-2}
PROMPTS=${PROMPTS:-512,2048,4096}
REPS=${REPS:-3}
. scripts/smollm2_vs_llama.sh  # F8, TOOLS, FP8, Q8, OUT
maxp=$(echo "$PROMPTS" | tr ',' '\n' | sort -n | tail -1)

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$REPS"); do
  # -n 1: f8 bench wants a decode test too (one token: negligible)
  "$F8" bench -m "$FP8" -p "$PROMPTS" -n 1 -c "$((maxp + 64))" -t "$THREADS" -r 1 --json > "$OUT/f8~$r.json" \
    2>"$OUT/f8~$r.err" || { echo "f8 bench failed: $(tail -1 "$OUT/f8~$r.err")" >&2; exit 1; }
  "$TOOLS/llama-bench" -m "$Q8" -p "$PROMPTS" -n 0 -t "$THREADS" -fa 1 -ctk q8_0 -ctv q8_0 -r 1 -o json \
    > "$OUT/llq~$r.json" 2>"$OUT/llq~$r.err" || echo "llama-bench (q8_0 cache) failed: $(tail -1 "$OUT/llq~$r.err")"
  "$TOOLS/llama-bench" -m "$Q8" -p "$PROMPTS" -n 0 -t "$THREADS" -r 1 -o json \
    > "$OUT/lld~$r.json" 2>"$OUT/lld~$r.err" || echo "llama-bench (defaults) failed: $(tail -1 "$OUT/lld~$r.err")"
  echo "round $r/$REPS done" >&2
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$OUT" "$REPS" <<'EOF'
import json, os, re, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
f8, llq, lld = {}, {}, {}  # prompt -> {round: tok/s}
def llama(path, r, into):
    try:
        rows = json.load(open(path))
    except (OSError, ValueError):
        return
    for row in rows:
        if row.get("n_prompt", 0) > 0 and row.get("n_gen", 0) == 0:
            into.setdefault(int(row["n_prompt"]), {})[r] = row["avg_ts"]
for r in range(1, reps + 1):
    for res in json.load(open(os.path.join(out, f"f8~{r}.json")))["results"]:
        m = re.match(r"pp(\d+)$", res["test"])
        if m:
            f8.setdefault(int(m.group(1)), {})[r] = res["tok_s"]
    llama(os.path.join(out, f"llq~{r}.json"), r, llq)
    llama(os.path.join(out, f"lld~{r}.json"), r, lld)
def cell(d):
    v = list(d.values())
    return f"{statistics.median(v):.1f} ({min(v):.1f}-{max(v):.1f})" if v else "—"
def ratio(a, b):
    rs = [a[r] / b[r] for r in a if r in b]
    return f"{statistics.median(rs):.2f}x" if rs else "—"
print("\n| prompt tokens | f8 FP8, fp8 cache: tok/s | llama.cpp Q8_0, q8_0 cache, FA: tok/s | f8 / it | "
      "llama.cpp Q8_0, defaults (F16 cache): tok/s | f8 / it |")
print("|---:|---:|---:|---:|---:|---:|")
for p in sorted(set(f8) | set(llq) | set(lld)):
    a, b, c = f8.get(p, {}), llq.get(p, {}), lld.get(p, {})
    print(f"| {p} | {cell(a)} | {cell(b)} | {ratio(a, b)} | {cell(c)} | {ratio(a, c)} |")
EOF
echo "command: bash scripts/bench_long_prompt.sh $BUILD $THREADS (PROMPTS=$PROMPTS REPS=$REPS), $(date -u +%Y-%m-%d)"
