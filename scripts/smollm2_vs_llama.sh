# smollm2_vs_llama.sh — sourced by the scripts that time f8 against
# llama.cpp on SmolLM2-135M (bench_long_context.sh, bench_long_prompt.sh),
# with BUILD and THREADS set: builds f8_cli and the llama.cpp tools, makes
# the two model files when missing (via bench_cpu_tiers.sh), and sets F8,
# TOOLS, FP8 (the default .f8), Q8 (the Q8_0 GGUF) and OUT (a scratch
# directory removed on exit).
CACHE=${F8_CACHE:-$HOME/.cache/f8}
BENCH_MODELS=$CACHE/bench/models
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

cmake --build "$BUILD" -j2 --target f8_cli >/dev/null
F8="$BUILD/bin/f8"
TOOLS=$(bash scripts/build_llama_tools.sh llama-bench llama-quantize)
FP8="$BENCH_MODELS/smollm2-135m-fp8.f8" Q8="$BENCH_MODELS/smollm2-135m-q8_0.gguf"
if [ ! -f "$FP8" ] || [ ! -f "$Q8" ]; then
  MODELS=smollm2-135m REPS=1 N_GEN=1 PP=16 bash scripts/bench_cpu_tiers.sh "$BUILD" "$THREADS" >/dev/null
fi
