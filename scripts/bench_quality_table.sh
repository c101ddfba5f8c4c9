#!/usr/bin/env bash
# The README's FP8 quality table (issue 13 item 6), one run: SmolLM2-135M-
# Instruct, perplexity / mean KL / 99th-percentile KL / same-top-token rate on
# KJV Genesis 1-11 (scripts/kjv_text.sh), 8 chunks of 512 tokens, second half
# of each chunk scored, F32 KV cache for every f8 row.
#
#   f8 rows: KL(f8 BF16 || row) per scored token, from `f8 perplexity
#     --kl-base` against the f8 BF16 run's logits (the same base for all).
#     Calibration (--calibrate) reads KJV Exodus 1-12, never the scored text.
#   llama.cpp rows: `llama-perplexity --kl-divergence` (scripts/
#     build_llama_perplexity.sh), base = llama.cpp's own F16 logits on the
#     same text; its tokenization is checked against f8's (same ids).
#   llm-compressor row: its FP8_DYNAMIC checkpoint (scripts/make_llmc_fp8.py),
#     imported by `f8 convert` byte for byte and run by f8 like the f8 rows.
#
#   scripts/bench_quality_table.sh   (BUILD=build CHUNKS=8 THREADS=nproc; ~30 min on 2 cores)
# Prints progress to stderr and the markdown table to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/quality_env.sh quality-table 8
LLMC="$CACHE/smollm2-135m-llmc-fp8-dynamic"
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }

TEXT=$(bash scripts/kjv_text.sh)
CALIB=$(bash scripts/kjv_text.sh "Exodus 1:1-12:51" exodus)
[ -d "$LLMC" ] || python3 scripts/make_llmc_fp8.py "$SRC" "$LLMC" >&2

# --- conversions (always redone: a file from an older converter would measure that converter)
conv() { local out=$1; shift; log "convert $out $*"; "$F8" convert "$@" -o "$WORK/$out.f8" -q --force -t "$THREADS" >&2; }
conv bf16 "$SRC" --weights bf16
conv e4m3 "$SRC"
/usr/bin/time -f "%e s wall, %U s CPU" -o "$WORK/calib_nearest.time" "$F8" convert "$SRC" -o "$WORK/cal_nearest.f8" --force -t "$THREADS" \
  --calibrate "$CALIB" --rounding nearest 2>"$WORK/cal_nearest.log"
/usr/bin/time -f "%e s wall, %U s CPU" -o "$WORK/calib_gptq.time" "$F8" convert "$SRC" -o "$WORK/cal_gptq.f8" --force -t "$THREADS" \
  --calibrate "$CALIB" 2>"$WORK/cal_gptq.log"
conv auto85 "$SRC" --calibrate "$CALIB" --auto-format 8.5
conv auto9 "$SRC" --calibrate "$CALIB" --auto-format 9
conv llmc "$LLMC"

# --- f8 rows
ppl() {  # model [extra...] -> "PPL KL P99 SAME"
  local m=$1; shift
  "$F8" perplexity -m "$WORK/$m.f8" -f "$TEXT" --chunk 512 --chunks "$CHUNKS" -t "$THREADS" --kv-type f32 "$@" 2>&1 |
    awk '/^PPL =/ {p=$3} /^KL\(base/ {k=$5; q=$NF; sub(/\)/, "", q)} /^same top token/ {s=$5} END {print p, k, q, s}'
}
size_mb() { echo "scale=1; $(stat -c %s "$WORK/$1.f8") / 1000000" | bc; }
ROWS=()
row() { ROWS+=("| $1 | $2 | $(echo "$3" | awk '{printf "%s | %s | %s | %s", $1, ($2==""?"0 (base)":$2), ($3==""?"—":$3), ($4==""?"100%":$4)}') | $4 |"); }
log "base"; B=$(ppl bf16 --save-logits "$WORK/base.logits"); row "BF16 (base)" "F32" "$B" "$(size_mb bf16) MB"
KB="--kl-base $WORK/base.logits"
log "rows"
row "FP8 default (E4M3/channel, nearest)" "F32" "$(ppl e4m3 $KB)" "$(size_mb e4m3) MB"
row "FP8 default" "W8A8 dynamic (\`--emulate-gpu\`)" "$(ppl e4m3 $KB --emulate-gpu)" ""
row "FP8 calibrated, nearest rounding" "W8A8 static (\`--emulate-gpu\`)" "$(ppl cal_nearest $KB --emulate-gpu)" "$(size_mb cal_nearest) MB"
row "FP8 calibrated + error-compensating rounding" "F32" "$(ppl cal_gptq $KB)" "$(size_mb cal_gptq) MB"
row "FP8 calibrated + error-compensating rounding" "W8A8 static (\`--emulate-gpu\`)" "$(ppl cal_gptq $KB --emulate-gpu)" ""
row "\`--auto-format 8.5\` (+ error-compensating rounding)" "F32" "$(ppl auto85 $KB)" "$(size_mb auto85) MB"
row "\`--auto-format 9\` (+ error-compensating rounding)" "F32" "$(ppl auto9 $KB)" "$(size_mb auto9) MB"
row "llm-compressor FP8_DYNAMIC (imported)" "F32" "$(ppl llmc $KB)" "$(size_mb llmc) MB"
row "llm-compressor FP8_DYNAMIC (imported)" "W8A8 dynamic (\`--emulate-gpu\`)" "$(ppl llmc $KB --emulate-gpu)" ""

# --- llama.cpp rows (its own F16 base)
LP=$(bash scripts/build_llama_perplexity.sh)
F16=$CACHE/bench/smollm2-135m-f16.gguf
Q8=$CACHE/bench/smollm2-135m-q8_0.gguf
[ -f "$F16" ] && [ -f "$Q8" ] || python3 scripts/bench_llamacpp.py --hf "$SRC" --work "$CACHE/bench" --threads 1 --reps 0 >/dev/null
log "llama.cpp F16"
"$LP" -m "$F16" -f "$TEXT" -c 512 -b 512 --chunks "$CHUNKS" -t "$THREADS" --kl-divergence-base "$WORK/llama-f16.kld" \
  >"$WORK/llama-f16.log" 2>&1
log "llama.cpp Q8_0"
"$LP" -m "$Q8" -f "$TEXT" -c 512 -b 512 --chunks "$CHUNKS" -t "$THREADS" --kl-divergence-base "$WORK/llama-f16.kld" \
  --kl-divergence >"$WORK/llama-q8.log" 2>&1
# Tokenization check: the ids llama.cpp saved (BOS + text) against f8's.
"$F8" tokenize -m "$WORK/bf16.f8" -f "$TEXT" --json --no-bos >"$WORK/f8-ids.json"
TOKCHECK=$(python3 - "$WORK/llama-f16.kld" "$WORK/f8-ids.json" <<'EOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"_logits_"
n_ctx, n_vocab, n_chunk = struct.unpack_from("<iii", b, 8)
ll = list(struct.unpack_from("<%di" % (n_ctx * n_chunk), b, 20))
f8 = json.load(open(sys.argv[2]))["ids"]
# llama.cpp prepends BOS only when the GGUF says add_bos (SmolLM2's does not).
bos = ll[:1] != f8[:1]
text = ll[1:] if bos else ll
print("same ids" if text == f8[:len(text)] else "DIFFERENT ids", len(text), "text tokens;",
      "llama.cpp adds BOS" if bos else "llama.cpp adds no BOS")
EOF
)
log "tokenization check: $TOKCHECK"
# (llama.cpp prefixes its log lines with a timestamp: match inside the line.)
num() { sed -n "s/.*$1 *\([0-9.]*\).*/\1/p" "$2" | head -1; }
lf16=$(num "Final estimate: PPL =" "$WORK/llama-f16.log")
lq8="$(num "Mean PPL(Q) *:" "$WORK/llama-q8.log") $(num "Mean *KLD:" "$WORK/llama-q8.log") $(num "99.0% *KLD:" "$WORK/llama-q8.log") $(num "Same top p:" "$WORK/llama-q8.log")%"
row "llama.cpp F16 (llama.cpp base)" "llama.cpp CPU" "$lf16" "$(echo "scale=1; $(stat -c %s "$F16") / 1000000" | bc) MB"
row "llama.cpp Q8_0 vs llama.cpp F16" "llama.cpp CPU" "$lq8" "$(echo "scale=1; $(stat -c %s "$Q8") / 1000000" | bc) MB"

echo "SmolLM2-135M-Instruct, KJV Genesis 1-11, $CHUNKS x 512 tokens ($(date -u +%Y-%m-%d)); calibration: KJV Exodus 1-12, 2,048 tokens"
echo "whole convert --calibrate (2,048 tokens, $THREADS threads): nearest $(cat "$WORK/calib_nearest.time"); error-compensating $(cat "$WORK/calib_gptq.time")"
grep -h -E "^calibration:|^error-compensating" "$WORK/cal_gptq.log" || true
echo "llama.cpp tokenization vs f8: $TOKCHECK"
echo
echo "| model | activations | PPL | mean KL | p99 KL | same top | file |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${ROWS[@]}"
