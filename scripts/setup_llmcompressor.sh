#!/usr/bin/env bash
# Makes ${F8_CACHE:-~/.cache/f8}/venv-llmc with PyPI's llmcompressor, for the
# README quality table's llm-compressor FP8_DYNAMIC row
# (scripts/make_llmc_fp8.py). Not needed by the build or the tests.
#
# torch is large: when the peers venv (scripts/hf_fixture_io.py) already has
# one, the new venv sees its site-packages through a .pth file (appended to
# sys.path, so anything pip installs here, e.g. an older transformers that
# llmcompressor pins, takes precedence); otherwise pip installs torch from
# PyTorch's CPU-only index.
#   scripts/setup_llmcompressor.sh          (prints the venv's python)
set -euo pipefail
CACHE=${F8_CACHE:-$HOME/.cache/f8}
VENV=$CACHE/venv-llmc
PEERS=$CACHE/venv-peers
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import llmcompressor" >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  SITE=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
  if [ -x "$PEERS/bin/python" ] && "$PEERS/bin/python" -c "import torch" 2>/dev/null; then
    "$PEERS/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])" > "$SITE/f8_peers_torch.pth"
  else
    "$VENV/bin/pip" install -q torch --index-url https://download.pytorch.org/whl/cpu >&2
  fi
  "$VENV/bin/pip" install -q llmcompressor >&2
fi
echo "$VENV/bin/python"
