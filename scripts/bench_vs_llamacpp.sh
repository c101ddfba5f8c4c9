#!/usr/bin/env bash
# f8 vs llama.cpp on SmolLM2-135M, same machine, same run, same thread counts.
#   bash scripts/bench_vs_llamacpp.sh [BUILD_DIR=build] [THREADS=1,2]
# Env: N_PROMPT (128), N_GEN (64), REPS (3), F8_CACHE (~/.cache/f8),
#      F8_EXTRA_MODELS="label=/path.f8 ..." (more .f8 files to time, e.g. an FP8-output variant).
# Prints one table: engine/format, threads, prefill tok/s, decode tok/s,
# decode GB/s (weight bytes read per token x tok/s) and that as a fraction of
# scripts/membw.sh's read bandwidth at the same thread count.
# The llama.cpp peer (llama-cpp-python, see docs/performance.md) is optional:
# without it the f8 rows are printed and the peer is reported as skipped.
# Not part of CI (minutes of CPU, a pip download of the llama-cpp-python sdist).
#
# LLAMA_BENCH=1 bash scripts/bench_vs_llamacpp.sh [BUILD] [THREADS=2]: issue
# 22's table instead (scripts/bench_cpu_tiers.sh): llama.cpp's llama-bench
# built natively and — on a CPU with AMX — a second time with AMX off, f8 on
# every cpu-simd tier the CPU has, SmolLM2-135M and a random-weight model in
# SmolLM2-1.7B's shape, prefill 512 and decode, alternating rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${LLAMA_BENCH:-0}" = 1 ]; then exec bash scripts/bench_cpu_tiers.sh "${1:-build}" "${2:-2}"; fi
BUILD=${1:-build}
THREADS=${2:-1,2}
N_PROMPT=${N_PROMPT:-128}
N_GEN=${N_GEN:-64}
REPS=${REPS:-3}
CACHE=${F8_CACHE:-$HOME/.cache/f8}
WORK="$CACHE/bench"
HF="$CACHE/smollm2-135m-instruct"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
mkdir -p "$WORK"

[ -d "$HF" ] || bash scripts/fixtures.sh smollm2 >/dev/null
[ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" -DF8_SERVER=OFF >/dev/null
cmake --build "$BUILD" -j2 --target f8_cli >/dev/null
F8="$BUILD/bin/f8"
FP8="$WORK/smollm2-135m-fp8.f8"
if [ ! -f "$FP8" ] || [ "$F8" -nt "$FP8" ]; then
  "$F8" convert "$HF" -o "$FP8" --force >/dev/null
fi

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
# membw.sh prints "read   N thread(s) ... best X GB/s ..." per thread count.
bash scripts/membw.sh 512 3 | tee "$OUT/membw.txt" | grep '^read' || true

models=("f8 FP8=$FP8")
for m in ${F8_EXTRA_MODELS:-}; do models+=("f8 ${m%%=*}=${m#*=}"); done
for m in "${models[@]}"; do
  label=${m%%=*}; path=${m#*=}
  "$F8" bench -m "$path" -p "$N_PROMPT" -n "$N_GEN" --threads-list "$THREADS" -r "$REPS" --json \
    > "$OUT/f8-$(echo "$label" | tr ' /' '__').json" 2>/dev/null
done

PY="$CACHE/venv-peers/bin/python"
PEER=skipped
if [ -x "$PY" ]; then
  # A prebuilt libllama (docs/fixtures.md "libllama-only shortcut") is used
  # when present, else the venv's installed llama_cpp.
  if [ -f "$CACHE/llama-cpp-local/lib/libllama.so" ]; then
    export PYTHONPATH="$CACHE/llama-cpp-local/py${PYTHONPATH:+:$PYTHONPATH}"
    export LLAMA_CPP_LIB_PATH="$CACHE/llama-cpp-local/lib"
  fi
  if "$PY" -c 'import llama_cpp' 2>/dev/null; then
    "$PY" scripts/bench_llamacpp.py --hf "$HF" --work "$WORK" --threads "$THREADS" \
      --n-prompt "$N_PROMPT" --n-gen "$N_GEN" --reps "$REPS" > "$OUT/peer.jsonl" 2>"$OUT/peer.log" \
      && PEER=ok || { PEER="failed (see below)"; tail -5 "$OUT/peer.log"; }
  else
    PEER="skipped: llama_cpp does not import in $PY"
  fi
else
  PEER="skipped: no peer venv at $CACHE/venv-peers (see docs/performance.md)"
fi
echo "llama.cpp peer: $PEER"
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$OUT" <<'EOF'
import glob, json, os, re, sys
out = sys.argv[1]
bw = {}
for line in open(os.path.join(out, "membw.txt")):
    m = re.match(r"read\s+(\d+) threads?\s+\d+ MiB\s+best\s+([\d.]+) GB/s", line)
    if m: bw[int(m.group(1))] = float(m.group(2))
rows = []
for f in sorted(glob.glob(os.path.join(out, "f8-*.json"))):
    j = json.load(open(f))
    label = os.path.basename(f)[3:-5].replace("_", " ")
    bpt = j["weight_bytes_per_token"]
    by = {}
    for r in j["results"]:
        by.setdefault(r["threads"], {})["pp" if r["test"].startswith("pp") else "tg"] = r["tok_s"]
    for t, d in sorted(by.items()):
        rows.append((label, t, d.get("pp"), d.get("tg"), bpt))
peer = os.path.join(out, "peer.jsonl")
if os.path.exists(peer):
    for line in open(peer):
        j = json.loads(line)
        # Tied model: every weight byte is read once per token (the embedding
        # as the output projection), so bytes/token ~= the file size.
        rows.append((f"llama.cpp {j['format']}", j["threads"], j["pp"], j["tg"], j["file_bytes"]))
print()
print("| engine / format | threads | prefill tok/s | decode tok/s | decode GB/s | of membw |")
print("|:--|--:|--:|--:|--:|--:|")
for label, t, pp, tg, bpt in rows:
    gbs = tg * bpt / 1e9 if tg else 0
    frac = f"{100 * gbs / bw[t]:.0f}% of {bw[t]:.1f}" if t in bw else "n/a"
    print(f"| {label} | {t} | {pp:.1f} | {tg:.1f} | {gbs:.2f} | {frac} |")
EOF
