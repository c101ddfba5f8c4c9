# scripts/quality_env.sh — sourced (from the repo root) by the quality
# benchmarks (bench_quality.sh, bench_quality_table.sh, bench_attn_quality.sh)
# for what they share: the build, chunk and thread settings, the cache, the
# SmolLM2 fixture (fetched when missing) and a work folder.
#   . scripts/quality_env.sh NAME DEFAULT_CHUNKS
# Sets BUILD (env, default build), CHUNKS (env, default DEFAULT_CHUNKS),
# THREADS (env, default nproc), CACHE ($F8_CACHE or ~/.cache/f8), F8, SRC (the
# SmolLM2 HF dir) and WORK=$CACHE/bench/NAME (made).
BUILD=${BUILD:-build}
CHUNKS=${CHUNKS:-$2}
THREADS=${THREADS:-$(nproc)}
CACHE=${F8_CACHE:-$HOME/.cache/f8}
F8="$BUILD/bin/f8"
SRC="$CACHE/smollm2-135m-instruct"
WORK="$CACHE/bench/$1"
mkdir -p "$WORK"
bash scripts/fixtures.sh smollm2 >/dev/null
