#!/usr/bin/env bash
# FP8 attention quality on real text (docs/cuda.md "FP8 attention"):
# SmolLM2-135M-Instruct on KJV Genesis (whole book, scripts/kjv_text.sh),
# chunks of 2,048 tokens (the second half of each scored: long-context
# attention), FP8 KV cache, `--emulate-gpu` (the GPU's data flow on the CPU),
# attention FP32 (F8_FP8_ATTENTION=0) against FP8 FMHA, for BF16 weights and
# for E4M3 weights with E4M3 activations (W8A8); KL against BF16 weights +
# F32 KV.   scripts/bench_attn_quality.sh   (BUILD=build, CHUNKS=4, THREADS=nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/quality_env.sh attn-quality 4
TEXT=$(bash scripts/kjv_text.sh "Genesis 1:1-50:26" genesis_all)
"$F8" convert "$SRC" -o "$WORK/bf16.f8" --weights bf16 -q --force
"$F8" convert "$SRC" -o "$WORK/e4m3.f8" -q --force
A=(-f "$TEXT" --chunk 2048 --chunks "$CHUNKS" -c 2048 -t "$THREADS")
sum() { grep -E "^PPL|^KL|^same" || true; }
echo "base: bf16 weights, f32 KV, FP32 attention"
"$F8" perplexity -m "$WORK/bf16.f8" "${A[@]}" --kv-type f32 --save-logits "$WORK/base.logits" 2>&1 | sum
for w in bf16 e4m3; do
  for fa in 0 1; do
    echo "weights $w, FP8 KV, --emulate-gpu, $([ $fa = 1 ] && echo 'FP8 FMHA' || echo 'FP32 attention')"
    F8_FP8_ATTENTION=$fa "$F8" perplexity -m "$WORK/$w.f8" "${A[@]}" --kv-type fp8 --emulate-gpu \
      --kl-base "$WORK/base.logits" 2>&1 | sum
  done
done
