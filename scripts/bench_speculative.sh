#!/usr/bin/env bash
# Speculative decoding with prompt lookup on SmolLM2-135M-Instruct: greedy
# tok/s plain vs speculative, the acceptance rate, tokens per target forward
# and whether the outputs are the same tokens (docs/runtime.md "Speculative
# decoding"). Two tasks: a copy-heavy one (rewrite a given passage) and free
# writing (where little repeats), each with a few lookup settings.
#   bash scripts/bench_speculative.sh [BUILD_DIR=build]
# Env: F8_CACHE (~/.cache/f8), F8_MODEL (default
#      $F8_CACHE/smollm2-135m-instruct-e4m3.f8, converted from the HF
#      fixture when missing), N_GEN (128), REPS (5), THREADS (2).
# Each row of `f8 bench --spec-prompt` alternates plain and speculative runs
# (REPS pairs; tok/s = mean, speed-up = median of the pairs' ratios, which
# cancels the load drifts of a shared machine); both run in one process on
# one context.
# Not part of CI (a minute or two of CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
F8="$BUILD/bin/f8"
CACHE=${F8_CACHE:-$HOME/.cache/f8}
MODEL=${F8_MODEL:-$CACHE/smollm2-135m-instruct-e4m3.f8}
N_GEN=${N_GEN:-128}
REPS=${REPS:-5}
THREADS=${THREADS:-2}
[ -x "$F8" ] || { echo "f8: error: $F8 not built (make build)" >&2; exit 1; }
if [ ! -f "$MODEL" ]; then
  "$F8" convert "$CACHE/smollm2-135m-instruct" -o "$MODEL" -q
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cat > "$WORK/rewrite.txt" <<'TXT'
Rewrite the following passage, keeping every sentence but replacing "river" with "stream":

The river ran past the old mill, where the miller's children used to play on warm summer evenings. Every spring the river rose and flooded the low meadow, and the villagers would gather on the bridge to watch the water carry branches and leaves toward the sea. In autumn the river grew quiet again, and the mill wheel turned slowly, grinding the last of the harvest into flour for the long winter ahead.
TXT
cat > "$WORK/story.txt" <<'TXT'
Write a short story about a lighthouse keeper who finds a message in a bottle.
TXT

echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(uname -m), $(nproc) CPUs, model $MODEL, $THREADS threads, n_gen $N_GEN, $REPS reps"
echo "| task | options | gen tok | plain tok/s | spec tok/s | speed-up | accepted | tok/forward | same output |"
echo "|:-----|:--------|--------:|------------:|-----------:|---------:|---------:|------------:|:------------|"
for task in rewrite story; do
  for opts in "--spec-lookup 3" "--spec-lookup 3 --draft-max 8" "--spec-lookup 4 --spec-ngram-min 2 --draft-max 16"; do
    # shellcheck disable=SC2086
    "$F8" bench -m "$MODEL" -p 8 -n "$N_GEN" -r "$REPS" --threads-list "$THREADS" --json \
        --spec-prompt "$WORK/$task.txt" $opts > "$WORK/out.json"
    python3 - "$task" "$opts" "$WORK/out.json" <<'PY'
import json, sys
task, opts, path = sys.argv[1:4]
for r in json.load(open(path))["speculative"]["runs"]:
    print(f"| {task} | `{opts}` | {r['n_gen']} | {r['plain_tok_s']:.1f} | {r['spec_tok_s']:.1f} | "
          f"{r['speedup']:.2f}x | {100 * r['acceptance']:.1f}% | {r['tok_per_forward']:.2f} | "
          f"{'yes' if r['same_output'] else 'NO'} |")
PY
  done
done
