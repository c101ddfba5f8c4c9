#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: installs the Debian packages
# the build and tests need and the Python test tools. Safe to run repeatedly;
# it only installs what is missing.
set -euo pipefail

DEB_PKGS=(
  build-essential cmake pkg-config git
  clang libclang-rt-14-dev          # libFuzzer + sanitizers
  libgtest-dev libgmock-dev          # unit tests
  libhwy-dev                         # SIMD dispatch (CPU backend)
  libsimde-dev                       # SIMD Everywhere: runs the AVX-512 kernels emulated on any x86 (tests)
  libsentencepiece-dev               # SentencePiece tokenizer
  libpcre2-dev                       # Unicode-aware pre-tokenizer regexes
  libicu-dev                         # NFC/NFKC normalizers (Qwen2's tokenizer.json)
  nlohmann-json3-dev                 # JSON (config.json, safetensors header, server)
  libcpp-httplib-dev                 # HTTP server
  libcurl4-openssl-dev libssl-dev    # `f8 pull`: HTTPS client (libcurl) and SHA-256 (libcrypto)
  openssl ca-certificates            # the system CA store; `openssl req` makes the TLS test's certificate
  libedit-dev                        # line editing for `f8 chat`
  time                               # /usr/bin/time -v for benchmarks (peak RSS)
  bible-kjv-text                     # public-domain text for perplexity
  bible-kjv                          # `bible` program: extracts that text (scripts/kjv_text.sh)
  xxhash                             # xxhsum: reference peer for the GGF8 checksum test
  chromium chromium-driver           # headless browser test of the `f8 serve` chat page (selenium)
)
PY_PKGS=(numpy pytest jinja2 tokenizers sentencepiece safetensors gguf openai requests selenium
         huggingface_hub    # tests/py/test_pull.py: fills and reads the Hub cache f8 pull shares
         setuptools wheel   # setuptools + wheel: `pip install --no-build-isolation ./python` in the tests
         jsonschema rfc3339-validator)  # structured outputs validated (rfc3339-validator: its date-time check)

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for p in "${DEB_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
pymissing=()
for p in "${PY_PKGS[@]}"; do
  mod=${p//-/_}  # import name: rfc3339-validator -> rfc3339_validator
  "$PY" -c "import importlib.util,sys; sys.exit(0 if importlib.util.find_spec('$mod') else 1)" 2>/dev/null || pymissing+=("$p")
done
if [ ${#pymissing[@]} -gt 0 ]; then
  echo "setup: installing Python packages: ${pymissing[*]}" >&2
  "$PY" -m pip install -q "${pymissing[@]}"
fi
echo "setup: ok" >&2
