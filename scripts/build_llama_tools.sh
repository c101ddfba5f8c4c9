#!/usr/bin/env bash
# Builds llama.cpp tools (CPU, native) from the vendor/llama.cpp tree of the
# llama-cpp-python 0.3.36 sdist (the llama.cpp every f8 benchmark compares
# with; fetched with pip into ${F8_CACHE}/bench/src) into
# ${F8_CACHE}/llama-cpp-tools/bin, and prints that directory. Not needed by
# the build or the tests.
#   scripts/build_llama_tools.sh [TARGET...]   (default: llama-bench llama-quantize)
# LLAMA_VARIANT=noamx: a second build in ${F8_CACHE}/llama-cpp-tools-noamx
# with AVX-512 (F, VBMI, VNNI, BF16) and every AMX option off, not -march=native
# (issue 22's "AVX-512 build without AMX"; on a CPU without AMX the native
# build already has no AMX).
set -euo pipefail
CACHE=${F8_CACHE:-$HOME/.cache/f8}
SRC=$CACHE/bench/src
SDIST=llama_cpp_python-0.3.36
ROOT=$SRC/$SDIST/vendor/llama.cpp
OUT=$CACHE/llama-cpp-tools
ISA_FLAGS=(-DGGML_NATIVE=ON)
if [ "${LLAMA_VARIANT:-native}" = noamx ]; then
  OUT=$CACHE/llama-cpp-tools-noamx
  ISA_FLAGS=(-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_BMI2=ON -DGGML_FMA=ON -DGGML_F16C=ON
             -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON
             -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF)
elif [ "${LLAMA_VARIANT:-native}" != native ]; then
  echo "build_llama_tools: LLAMA_VARIANT must be native or noamx, got '$LLAMA_VARIANT'" >&2
  exit 2
fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(llama-bench llama-quantize)
need=0
for t in "${targets[@]}"; do [ -x "$OUT/bin/$t" ] || need=1; done
if [ $need = 1 ]; then
  mkdir -p "$SRC"
  [ -f "$SRC/$SDIST.tar.gz" ] || python3 -m pip download --no-deps --no-binary :all: llama-cpp-python==0.3.36 -d "$SRC" >&2
  [ -f "$ROOT/CMakeLists.txt" ] && [ -d "$ROOT/tools" ] || tar -xzf "$SRC/$SDIST.tar.gz" -C "$SRC" "$SDIST/vendor/llama.cpp" >&2
  cmake -S "$ROOT" -B "$OUT" -DCMAKE_BUILD_TYPE=Release "${ISA_FLAGS[@]}" -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON \
    -DBUILD_SHARED_LIBS=OFF >&2
  cmake --build "$OUT" --target "${targets[@]}" -j"$(nproc)" >&2
fi
echo "$OUT/bin"
