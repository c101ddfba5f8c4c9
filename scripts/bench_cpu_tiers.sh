#!/usr/bin/env bash
# Issue 22's CPU table: f8 on every cpu-simd tier this CPU has (avx512-amx,
# avx512, avx2: F8_CPU_ISA) vs llama.cpp Q8_0 built natively and — when the
# CPU reports AMX — also as an AVX-512 build with AMX off
# (scripts/build_llama_tools.sh, LLAMA_VARIANT=noamx), on SmolLM2-135M and
# a random-weight model in SmolLM2-1.7B's shape (scripts/make_bench_models.py),
# prefill and decode, alternating rounds (f8 tiers, llama.cpp builds, ...)
# so drift on a shared VM hits all of them.
#   bash scripts/bench_cpu_tiers.sh [BUILD=build] [THREADS=2]
#   (also: LLAMA_BENCH=1 bash scripts/bench_vs_llamacpp.sh [BUILD] [THREADS])
# Env: PP (512) prompt tokens, N_GEN (64), REPS (3), MODELS ("smollm2-135m
# smollm2-1.7b-shape"), F8_CACHE. Prints the machine, membw's read
# bandwidth, then one table: model, engine, prefill tok/s, decode tok/s,
# decode GB/s (bytes read per token x tok/s; f8: weight_bytes_per_token,
# llama.cpp: the GGUF's size, tied embeddings) and its share of membw.
# Not part of CI: a 3.4 GB checkpoint, two llama.cpp builds, many minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${2:-2}
PP=${PP:-512}
N_GEN=${N_GEN:-64}
REPS=${REPS:-3}
CACHE=${F8_CACHE:-$HOME/.cache/f8}
BENCH_MODELS=$CACHE/bench/models
LLAMA_SRC=$CACHE/bench/src/llama_cpp_python-0.3.36/vendor/llama.cpp
PY="$CACHE/venv-peers/bin/python"   # convert_hf_to_gguf.py needs torch
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
[ -x "$PY" ] || { echo "bench_cpu_tiers: no peer venv at $CACHE/venv-peers (scripts/gen_model_goldens.py makes it)" >&2; exit 1; }

. scripts/cpu_tiers.sh  # tiers=(...) and has FLAG...
builds=(native)
has amx_tile && builds+=(noamx)

cmake --build "$BUILD" -j2 --target f8_cli >/dev/null
F8="$BUILD/bin/f8"
declare -A TOOLS
TOOLS[native]=$(bash scripts/build_llama_tools.sh llama-bench llama-quantize)
if has amx_tile; then TOOLS[noamx]=$(LLAMA_VARIANT=noamx bash scripts/build_llama_tools.sh llama-bench); fi

# HF dirs, then f8 (default convert) and Q8_0 GGUF files.
mkdir -p "$BENCH_MODELS"
declare -A HF
for m in ${MODELS:-smollm2-135m smollm2-1.7b-shape}; do
  case $m in
    smollm2-135m) [ -d "$CACHE/smollm2-135m-instruct" ] || bash scripts/fixtures.sh smollm2 >/dev/null
                  HF[$m]=$CACHE/smollm2-135m-instruct ;;
    smollm2-1.7b-shape) python3 scripts/make_bench_models.py --out "$BENCH_MODELS" smollm2-1.7b-shape >/dev/null
                        HF[$m]=$BENCH_MODELS/smollm2-1.7b-shape ;;
    *) echo "bench_cpu_tiers: unknown model '$m' (smollm2-135m, smollm2-1.7b-shape)" >&2; exit 2 ;;
  esac
  f8m="$BENCH_MODELS/$m-fp8.f8"; f16="$BENCH_MODELS/$m-f16.gguf"; q8="$BENCH_MODELS/$m-q8_0.gguf"
  [ -f "$f8m" ] || "$F8" convert "${HF[$m]}" -o "$f8m" -q
  [ -f "$f16" ] || PYTHONPATH="$LLAMA_SRC/gguf-py" "$PY" "$LLAMA_SRC/convert_hf_to_gguf.py" "${HF[$m]}" \
    --outtype f16 --outfile "$f16" >"$OUT/conv-$m.log" 2>&1 || { tail -5 "$OUT/conv-$m.log"; exit 1; }
  [ -f "$q8" ] || "${TOOLS[native]}/llama-quantize" "$f16" "$q8" q8_0 >"$OUT/quant-$m.log" 2>&1 || { tail -5 "$OUT/quant-$m.log"; exit 1; }
done

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); f8 tiers: ${tiers[*]}; llama.cpp builds: ${builds[*]}; load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
bash scripts/membw.sh 512 3 | tee "$OUT/membw.txt" | grep '^read' || true
for r in $(seq 1 "$REPS"); do
  for m in "${!HF[@]}"; do
    for t in "${tiers[@]}"; do
      F8_CPU_ISA=$t "$F8" bench -m "$BENCH_MODELS/$m-fp8.f8" -p "$PP" -n "$N_GEN" -t "$THREADS" -r 1 --json \
        > "$OUT/f8~$m~$t~$r.json" 2>/dev/null
    done
    for b in "${builds[@]}"; do
      "${TOOLS[$b]}/llama-bench" -m "$BENCH_MODELS/$m-q8_0.gguf" -p "$PP" -n "$N_GEN" -t "$THREADS" -r 1 -o json \
        > "$OUT/ll~$m~$b~$r.json" 2>"$OUT/ll~$m~$b~$r.err" || echo "llama.cpp $b on $m failed: $(tail -1 "$OUT/ll~$m~$b~$r.err")"
    done
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: bash scripts/bench_cpu_tiers.sh $BUILD $THREADS (PP=$PP N_GEN=$N_GEN REPS=$REPS), $(date -u +%Y-%m-%d)"

python3 - "$OUT" "$THREADS" "$BENCH_MODELS" <<'PYEOF'
import glob, json, os, re, statistics, sys
out, threads, models = sys.argv[1], int(sys.argv[2]), sys.argv[3]
bw = {}
for line in open(os.path.join(out, "membw.txt")):
    m = re.match(r"read\s+(\d+) threads?\s+\d+ MiB\s+best\s+([\d.]+) GB/s", line)
    if m: bw[int(m.group(1))] = float(m.group(2))
runs = {}  # (model, engine) -> {"pp": [...], "tg": [...], "bytes": b}
for f in glob.glob(os.path.join(out, "*.json")):
    kind, model, variant, _ = os.path.basename(f)[:-5].split("~")
    try:
        j = json.load(open(f))
    except ValueError:
        continue  # a crashed run (reported above)
    if kind == "f8":
        key = (model, f"f8 FP8, {variant}")
        d = runs.setdefault(key, {"pp": [], "tg": [], "bytes": j["weight_bytes_per_token"]})
        for r in j["results"]:
            d["pp" if r["test"].startswith("pp") else "tg"].append(r["tok_s"])
    else:
        key = (model, f"llama.cpp Q8_0, {'native' if variant == 'native' else 'AVX-512 no AMX'}")
        gguf = os.path.join(models, f"{model}-q8_0.gguf")
        d = runs.setdefault(key, {"pp": [], "tg": [], "bytes": os.path.getsize(gguf)})
        for r in j:
            d["pp" if r.get("n_prompt", 0) > 0 and r.get("n_gen", 0) == 0 else "tg"].append(r["avg_ts"])
def rng(v):
    return f"{min(v):.1f}–{max(v):.1f}" if len(v) > 1 else (f"{v[0]:.1f}" if v else "—")
print()
print(f"| model | engine | prefill {os.environ.get('PP', '512')} tok/s | decode tok/s | decode GB/s | of membw ({threads} threads) |")
print("|:--|:--|--:|--:|--:|--:|")
for (model, eng), d in sorted(runs.items()):
    tg = statistics.median(d["tg"]) if d["tg"] else 0
    gbs = tg * d["bytes"] / 1e9
    frac = f"{100 * gbs / bw[threads]:.0f}% of {bw[threads]:.1f}" if threads in bw and tg else "n/a"
    print(f"| {model} | {eng} | {rng(d['pp'])} | {rng(d['tg'])} | {gbs:.2f} | {frac} |")
PYEOF
