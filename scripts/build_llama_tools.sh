#!/usr/bin/env bash
# Builds llama.cpp tools (CPU, native) from the vendor/llama.cpp tree of the
# llama-cpp-python 0.3.36 sdist (the llama.cpp every f8 benchmark compares
# with; fetched with pip into ${F8_CACHE}/bench/src) into
# ${F8_CACHE}/llama-cpp-tools/bin, and prints that directory. Not needed by
# the build or the tests.
#   scripts/build_llama_tools.sh [TARGET...]   (default: llama-bench llama-quantize)
set -euo pipefail
CACHE=${F8_CACHE:-$HOME/.cache/f8}
SRC=$CACHE/bench/src
SDIST=llama_cpp_python-0.3.36
ROOT=$SRC/$SDIST/vendor/llama.cpp
OUT=$CACHE/llama-cpp-tools
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(llama-bench llama-quantize)
need=0
for t in "${targets[@]}"; do [ -x "$OUT/bin/$t" ] || need=1; done
if [ $need = 1 ]; then
  mkdir -p "$SRC"
  [ -f "$SRC/$SDIST.tar.gz" ] || python3 -m pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d "$SRC" >&2
  [ -f "$ROOT/CMakeLists.txt" ] && [ -d "$ROOT/tools" ] || tar -xzf "$SRC/$SDIST.tar.gz" -C "$SRC" "$SDIST/vendor/llama.cpp" >&2
  cmake -S "$ROOT" -B "$OUT" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DBUILD_SHARED_LIBS=OFF >&2
  cmake --build "$OUT" --target "${targets[@]}" -j"$(nproc)" >&2
fi
echo "$OUT/bin"
