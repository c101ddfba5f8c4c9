#!/usr/bin/env bash
# Runs every test: ctest on the main build, the sanitizer build of the
# format/codec tests, and the Python reference checks (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
JOBS=${JOBS:-$(nproc)}

echo "== ctest ($BUILD)"
ctest --test-dir "$BUILD" --output-on-failure -j "$JOBS" -LE sanitize

if [ -x scripts/test_sanitize.sh ]; then
  echo "== sanitizer build (ASan+UBSan)"
  bash scripts/test_sanitize.sh
fi

if ls tests/py/test_*.py >/dev/null 2>&1; then
  echo "== pytest"
  F8_BUILD="$BUILD" python3 -m pytest -q tests/py
fi
