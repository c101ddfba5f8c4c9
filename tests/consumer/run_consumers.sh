#!/usr/bin/env bash
# run_consumers.sh BUILD SRC VERSION — installs BUILD into a temporary prefix and
# builds an application against it the ways an embedder would:
#   1. cc + pkg-config (examples/simple.c)
#   2. tests/consumer/project with pkg-config (pkg_check_modules)
#   3. tests/consumer/project with find_package(f8 CONFIG) -> f8::f8
# Each build runs examples/simple.c (load, tokenize, batched decode, sample,
# stream) and abi_check on SmolLM2-135M from scripts/fixtures.sh. Everything
# runs on the CPU: this also shows libf8 loads and works without a CUDA driver.
set -euo pipefail
BUILD=$(cd "$1" && pwd) SRC=$(cd "$2" && pwd) VERSION=$3
MODEL=${F8_CACHE:-$HOME/.cache/f8}/smollm2-135m-instruct-e4m3.f8
fail() { echo "run_consumers: FAIL: $*" >&2; exit 1; }
[ -f "$MODEL" ] || fail "no $MODEL (run scripts/fixtures.sh)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
P=$tmp/prefix
unset LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH

echo "== cmake --install $BUILD --prefix $P"
cmake --install "$BUILD" --prefix "$P" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }
for f in bin/f8 lib/libf8.so lib/libf8.so.0 "lib/libf8.so.$VERSION" include/f8.h lib/pkgconfig/f8.pc \
         lib/cmake/f8/f8Config.cmake lib/cmake/f8/f8ConfigVersion.cmake lib/cmake/f8/f8Targets.cmake; do
  [ -e "$P/$f" ] || fail "installed prefix lacks $f"
done
[ "$(readlink "$P/lib/libf8.so")" = libf8.so.0 ] || fail "libf8.so does not point to libf8.so.0"
"$P/bin/f8" --help >/dev/null 2>&1 || fail "installed bin/f8 does not run"

run_app() {  # run_app DIR: simple + abi_check from DIR, linked to the prefix's libf8
  local dir=$1
  ldd "$dir/simple" | grep "libf8.so.0 => $P/lib/libf8.so.0" >/dev/null || { ldd "$dir/simple"; fail "$dir/simple does not use $P/lib/libf8.so.0"; }
  # The app needs libf8 only: the engine's own dependencies stay behind it.
  if readelf -d "$dir/simple" | grep NEEDED | grep -vE 'libf8\.so\.0|libc\.so|libm\.so|ld-linux' >&2; then
    fail "$dir/simple links more than libf8"
  fi
  local out
  out=$("$dir/simple" "$MODEL" "The capital of France is" 8) || fail "$dir/simple failed"
  echo "   simple: $out"
  case "$out" in "The capital of France is"?*) ;; *) fail "simple printed '$out'" ;; esac
  "$dir/abi_check" "$MODEL" || fail "$dir/abi_check"
}

echo "== 1. cc with pkg-config"
export PKG_CONFIG_PATH=$P/lib/pkgconfig
[ "$(pkg-config --modversion f8)" = "$VERSION" ] || fail "pkg-config --modversion f8: $(pkg-config --modversion f8)"
mkdir -p "$tmp/cc"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Werror "$SRC/examples/simple.c" $(pkg-config --cflags --libs f8) -Wl,-rpath,"$P/lib" -o "$tmp/cc/simple"
cc -std=c11 -Wall -Werror -DF8_EXPECT_VERSION="\"$VERSION\"" "$SRC/tests/consumer/project/abi_check.c" \
   $(pkg-config --cflags --libs f8) -Wl,-rpath,"$P/lib" -o "$tmp/cc/abi_check"
run_app "$tmp/cc"
unset PKG_CONFIG_PATH

for via in pkgconfig cmake; do
  echo "== $([ $via = pkgconfig ] && echo 2 || echo 3). CMake project via $via"
  args=(-DF8_VIA=$via -DF8_EXAMPLE="$SRC/examples/simple.c")
  if [ $via = pkgconfig ]; then
    export PKG_CONFIG_PATH=$P/lib/pkgconfig
  else
    args+=(-DCMAKE_PREFIX_PATH="$P")
  fi
  cmake -S "$SRC/tests/consumer/project" -B "$tmp/$via" "${args[@]}" >"$tmp/$via.log" 2>&1 ||
    { cat "$tmp/$via.log"; fail "configure via $via"; }
  grep 'consumer:' "$tmp/$via.log" | sed 's/^/   /'
  cmake --build "$tmp/$via" >>"$tmp/$via.log" 2>&1 || { cat "$tmp/$via.log"; fail "build via $via"; }
  run_app "$tmp/$via"
  unset PKG_CONFIG_PATH
done
echo "run_consumers: ok"
