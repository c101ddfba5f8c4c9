#!/usr/bin/env bash
# Mixture-of-experts decode on the CPU, f8 vs llama.cpp, same run (issue 20's
# targets): a random-weight Qwen3-MoE in Qwen3-30B-A3B's proportions
# (scripts/make_bench_models.py: 128 experts, top-8, half width, 16 layers)
# and its dense twin (same attention and vocabulary, a dense FFN as wide as
# the 8 routed experts: the same bytes per token).
#   bash scripts/bench_moe.sh [BUILD=build] [THREADS=2]
# Env: N_PROMPT (128), N_GEN (64), REPS (3), F8_CACHE.
# Prints one table: model, engine, prefill and decode tok/s, bytes read per
# token (active weights: the routed experts only), decode GB/s and its share
# of scripts/membw.sh's read bandwidth at the same thread count. f8 runs the
# files as `f8 convert` makes them with the output projection in E4M3 too
# (like-for-like with Q8_0, which quantizes its output); llama.cpp converts
# the same HF directories with its convert_hf_to_gguf.py (F16) and
# llama-quantize (Q8_0), and times them with llama-bench.
# Not part of CI: ~17 GB of disk and tens of minutes of CPU on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${2:-2}
N_PROMPT=${N_PROMPT:-128}
N_GEN=${N_GEN:-64}
REPS=${REPS:-3}
CACHE=${F8_CACHE:-$HOME/.cache/f8}
MODELS=$CACHE/bench/models
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

[ -d "$CACHE/synthetic/qwen3moe" ] || bash scripts/fixtures.sh synthetic qwen3moe >/dev/null
python3 scripts/make_bench_models.py --out "$MODELS" >/dev/null
cmake --build "$BUILD" -j2 --target f8_cli >/dev/null
F8="$BUILD/bin/f8"
TOOLS=$(bash scripts/build_llama_tools.sh llama-bench llama-quantize)
LLAMA_SRC=$CACHE/bench/src/llama_cpp_python-0.3.36/vendor/llama.cpp
PY="$CACHE/venv-peers/bin/python"   # convert_hf_to_gguf.py needs torch
[ -x "$PY" ] || { echo "bench_moe: no peer venv at $CACHE/venv-peers (scripts/gen_model_goldens.py makes it)" >&2; exit 1; }
OUTQ='^(blk\.[0-9]+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down|ffn_gate_exps|ffn_up_exps|ffn_down_exps)\.weight|output\.weight)$'

for m in qwen3moe-a3b-half qwen3-dense-twin; do
  f8m="$MODELS/$m-fp8.f8"
  [ -f "$f8m" ] || "$F8" convert "$MODELS/$m" -o "$f8m" --quantize "$OUTQ" -q
  f16="$MODELS/$m-f16.gguf"; q8="$MODELS/$m-q8_0.gguf"
  [ -f "$f16" ] || PYTHONPATH="$LLAMA_SRC/gguf-py" "$PY" "$LLAMA_SRC/convert_hf_to_gguf.py" "$MODELS/$m" \
    --outtype f16 --outfile "$f16" >"$OUT/conv-$m.log" 2>&1 || { tail -5 "$OUT/conv-$m.log"; exit 1; }
  [ -f "$q8" ] || "$TOOLS/llama-quantize" "$f16" "$q8" q8_0 >"$OUT/quant-$m.log" 2>&1 || { tail -5 "$OUT/quant-$m.log"; exit 1; }
done

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
bash scripts/membw.sh 512 3 | tee "$OUT/membw.txt" | grep '^read' || true
# Alternating rounds (f8, llama.cpp, f8, ...) so drift on this shared VM hits both.
for r in $(seq 1 "$REPS"); do
  for m in qwen3moe-a3b-half qwen3-dense-twin; do
    "$F8" bench -m "$MODELS/$m-fp8.f8" -p "$N_PROMPT" -n "$N_GEN" -t "$THREADS" -r 1 --json \
      > "$OUT/f8-$m-$r.json" 2>/dev/null
    "$TOOLS/llama-bench" -m "$MODELS/$m-q8_0.gguf" -p "$N_PROMPT" -n "$N_GEN" -t "$THREADS" -r 1 -o json \
      > "$OUT/ll-$m-$r.json" 2>/dev/null
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

PYTHONPATH="$LLAMA_SRC/gguf-py" "$PY" - "$OUT" "$MODELS" "$THREADS" <<'PYEOF'
import glob, json, os, re, statistics, sys
import gguf
out, models, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
bw = None
for line in open(os.path.join(out, "membw.txt")):
    m = re.match(r"read\s+(\d+) threads?\s+\d+ MiB\s+best\s+([\d.]+) GB/s", line)
    if m and int(m.group(1)) == threads: bw = float(m.group(2))

def gguf_active_bytes(path):
    """Bytes a token reads: every tensor but the embedding table, the expert
    stacks counted k/E (llama.cpp reads only the routed experts' rows too)."""
    r = gguf.GGUFReader(path)
    f = {k: v.contents() for k, v in r.fields.items() if not k.startswith("GGUF.")}
    arch = f["general.architecture"]
    E, k = f.get(f"{arch}.expert_count", 0), f.get(f"{arch}.expert_used_count", 0)
    tot = 0
    for t in r.tensors:
        if t.name == "token_embd.weight":
            continue
        n = int(t.n_bytes)
        tot += n * k // E if "_exps." in t.name else n
    return tot

rows = []
for m in ("qwen3moe-a3b-half", "qwen3-dense-twin"):
    f8 = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, f"f8-{m}-*.json")))]
    ll = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, f"ll-{m}-*.json")))]
    bpt = f8[0]["weight_bytes_per_token"]
    pp = [x["tok_s"] for j in f8 for x in j["results"] if x["test"].startswith("pp")]
    tg = [x["tok_s"] for j in f8 for x in j["results"] if x["test"].startswith("tg")]
    rows.append((m, "f8 FP8 (E4M3 + E4M3 output)", pp, tg, bpt))
    lb = gguf_active_bytes(os.path.join(models, f"{m}-q8_0.gguf"))
    lpp = [x["avg_ts"] for j in ll for x in j if x["n_prompt"] > 0]
    ltg = [x["avg_ts"] for j in ll for x in j if x["n_gen"] > 0]
    rows.append((m, "llama.cpp Q8_0", lpp, ltg, lb))
print(f"\n{threads} threads, prompt {os.environ.get('N_PROMPT', '128')}, {os.environ.get('N_GEN', '64')} generated; "
      f"median of the rounds (min-max); read bandwidth {bw} GB/s (membw)\n")
print("| model | engine | prefill tok/s | decode tok/s | MB read / token | decode GB/s | of read BW |")
print("|:--|:--|--:|--:|--:|--:|--:|")
for m, eng, pp, tg, b in rows:
    md = statistics.median(tg)
    gbs = md * b / 1e9
    print(f"| {m} | {eng} | {statistics.median(pp):.1f} ({min(pp):.1f}-{max(pp):.1f}) | {md:.2f} ({min(tg):.2f}-{max(tg):.2f}) "
          f"| {b / 1e6:.1f} | {gbs:.2f} | {100 * gbs / bw:.0f}% |" if bw else "")
PYEOF
