#!/usr/bin/env bash
# bench_gemv.sh — FP8/BF16 GEMV (decode) and GEMM (prefill) throughput of the
# CPU backend on SmolLM2-135M shapes, as GB/s and % of measured read bandwidth.
# Usage: scripts/bench_gemv.sh [BUILD_DIR] [THREADS]   (env: MEMBW=GB/s to skip membw.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
THREADS=${2:-$(nproc)}
cmake --build "$BUILD" --target f8_bench_gemv -j2 >/dev/null
BIN="$BUILD/bin/f8_bench_gemv"
if [[ -z "${MEMBW:-}" && -x scripts/membw.sh ]]; then
  # membw.sh (the codec engineer's STREAM-like read benchmark) prints GB/s;
  # take the last number it prints.
  MEMBW=$(scripts/membw.sh "$THREADS" 2>/dev/null | grep -Eo '[0-9]+(\.[0-9]+)?' | tail -1 || true)
fi
ARGS=(--threads "$THREADS")
[[ -n "${MEMBW:-}" ]] && ARGS+=(--membw "$MEMBW")
echo "== decode (T=1), $THREADS thread(s), membw ${MEMBW:-unknown} GB/s"
"$BIN" "${ARGS[@]}" --dtypes e4m3,bf16
echo "== prefill (T=64)"
"$BIN" --threads "$THREADS" --prefill 64 --dtypes e4m3 --set-mib 64
