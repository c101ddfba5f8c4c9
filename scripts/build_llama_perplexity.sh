#!/usr/bin/env bash
# Builds llama.cpp's `llama-perplexity` (CPU) from the vendor/llama.cpp tree of
# the llama-cpp-python 0.3.36 sdist — the same llama.cpp the speed benchmark
# uses (scripts/bench_llamacpp.py fetches the sdist with pip) — for the
# llama.cpp rows of scripts/bench_quality_table.sh. Prints the binary's path.
# Not needed by the build or the tests.
#   scripts/build_llama_perplexity.sh
set -euo pipefail
CACHE=${F8_CACHE:-$HOME/.cache/f8}
SRC=$CACHE/bench/src
SDIST=llama_cpp_python-0.3.36
ROOT=$SRC/$SDIST/vendor/llama.cpp
OUT=$CACHE/llama-cpp-tools
BIN=$OUT/bin/llama-perplexity
if [ ! -x "$BIN" ]; then
  mkdir -p "$SRC"
  if [ ! -f "$SRC/$SDIST.tar.gz" ]; then
    python3 -m pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d "$SRC" >&2
  fi
  if [ ! -f "$ROOT/tools/perplexity/perplexity.cpp" ]; then
    tar -xzf "$SRC/$SDIST.tar.gz" -C "$SRC" "$SDIST/vendor/llama.cpp" >&2
  fi
  cmake -S "$ROOT" -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DBUILD_SHARED_LIBS=OFF >&2
  cmake --build "$OUT" --target llama-perplexity -j"$(nproc)" >&2
fi
echo "$BIN"
