#!/usr/bin/env bash
# The README's quality table: perplexity, KL divergence and same-top-token
# rate of SmolLM2-135M-Instruct on real text (Debian bible-kjv, Genesis 1-11
# via scripts/kjv_text.sh), for BF16 / FP8 weights x F32 / FP8 / INT8 KV, against
# the BF16-weights + F32-KV run as the base.
#   scripts/bench_quality.sh            (BUILD=build, CHUNKS=8, THREADS=nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/quality_env.sh quality 8
TEXT=$(bash scripts/kjv_text.sh)
# Always reconvert (under a second each): a file kept from an older converter
# would measure that converter's rounding, not this one's.
"$F8" convert "$SRC" -o "$WORK/bf16.f8" --weights bf16 -q --force
"$F8" convert "$SRC" -o "$WORK/e4m3.f8" -q --force

ppl() {  # model kv [extra...] -> the perplexity tool's summary lines
  local m=$1 kv=$2; shift 2
  "$F8" perplexity -m "$WORK/$m.f8" -f "$TEXT" --chunk 512 --chunks "$CHUNKS" -t "$THREADS" \
    --kv-type "$kv" "$@" 2>&1 | grep -E "^PPL|^KL|^same top" || true
}
echo "base: bf16 weights, f32 KV"
ppl bf16 f32 --save-logits "$WORK/base.logits"
for row in "bf16 bf16" "bf16 fp8" "bf16 int8" "e4m3 f32" "e4m3 fp8" "e4m3 int8"; do
  set -- $row
  echo "weights $1, KV $2"
  ppl "$1" "$2" --kl-base "$WORK/base.logits"
done
echo "weights e4m3, KV fp8, --emulate-gpu"
ppl e4m3 fp8 --emulate-gpu --kl-base "$WORK/base.logits"
