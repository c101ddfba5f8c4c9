#!/usr/bin/env bash
# check_deb.sh BUILD SRC VERSION — `cpack -G DEB` makes a .deb with the install
# layout under /usr, Depends from dpkg-shlibdeps and a shlibs file; unpacked
# (dpkg-deb -x, no root needed) its CMake package builds and runs the consumer.
# With F8_DEB_INSTALL=1 as root it is also installed with dpkg -i, used through
# pkg-config and the system library path, and purged with dpkg -P, leaving no
# file behind. (Off by default: it changes the machine's /usr.)
set -euo pipefail
BUILD=$(cd "$1" && pwd) SRC=$(cd "$2" && pwd) VERSION=$3
MODEL=${F8_CACHE:-$HOME/.cache/f8}/smollm2-135m-instruct-e4m3.f8
fail() { echo "check_deb: FAIL: $*" >&2; exit 1; }
[ -f "$MODEL" ] || fail "no $MODEL (run scripts/fixtures.sh)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset LD_LIBRARY_PATH PKG_CONFIG_PATH CMAKE_PREFIX_PATH

(cd "$BUILD" && cpack -G DEB -B "$tmp/pkg") >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; fail "cpack"; }
deb=$tmp/pkg/f8_${VERSION}_$(dpkg --print-architecture).deb
[ -f "$deb" ] || { ls "$tmp/pkg"; fail "no $deb"; }
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./||' >"$tmp/files"
for f in usr/bin/f8 usr/lib/libf8.so usr/lib/libf8.so.0 "usr/lib/libf8.so.$VERSION" usr/include/f8.h \
         usr/lib/pkgconfig/f8.pc usr/lib/cmake/f8/f8Config.cmake usr/lib/cmake/f8/f8Targets.cmake; do
  grep -qx "$f" "$tmp/files" || fail ".deb lacks /$f"
done
dpkg-deb -f "$deb" Depends | grep libstdc++6 >/dev/null || fail "no Depends from dpkg-shlibdeps"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./shlibs | grep -x "libf8 0 f8 (>= $VERSION)" >/dev/null || fail "shlibs"
echo "check_deb: $(basename "$deb"): $(wc -l <"$tmp/files") entries; Depends: $(dpkg-deb -f "$deb" Depends)"

# Unpacked: the CMake package is relocatable, so the tree works as a prefix.
dpkg-deb -x "$deb" "$tmp/root"
cmake -S "$SRC/tests/consumer/project" -B "$tmp/app" -DF8_VIA=cmake -DF8_EXAMPLE="$SRC/examples/simple.c" \
      -DCMAKE_PREFIX_PATH="$tmp/root/usr" >"$tmp/app.log" 2>&1 && cmake --build "$tmp/app" >>"$tmp/app.log" 2>&1 ||
  { cat "$tmp/app.log"; fail "consumer against the unpacked .deb"; }
"$tmp/app/abi_check" "$MODEL" >/dev/null || fail "abi_check against the unpacked .deb"

if [ "${F8_DEB_INSTALL:-0}" = 1 ]; then
  [ "$(id -u)" = 0 ] || fail "F8_DEB_INSTALL=1 needs root"
  if dpkg-query -W f8 >/dev/null 2>&1; then fail "package f8 is already installed; not touching it"; fi
  dpkg -i "$deb" >"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -i"; }
  ok=1
  cc -std=c11 "$SRC/examples/simple.c" $(pkg-config --cflags --libs f8) -o "$tmp/simple_sys" &&
    ldd "$tmp/simple_sys" | grep 'libf8.so.0 => /.*lib/libf8.so.0' >/dev/null &&
    "$tmp/simple_sys" "$MODEL" "Hello" 4 >/dev/null && f8 --help >/dev/null 2>&1 || ok=0
  dpkg -P f8 >>"$tmp/dpkg.log" 2>&1 || { cat "$tmp/dpkg.log"; fail "dpkg -P"; }
  [ $ok = 1 ] || fail "the installed package did not work"
  for f in $(grep -v '/$' "$tmp/files"); do
    [ ! -e "/$f" ] && [ ! -L "/$f" ] || fail "/$f left behind after dpkg -P"
  done
  ldconfig -p | grep libf8 >/dev/null && fail "libf8 still in the ld.so cache after dpkg -P"
  dpkg-query -W f8 >/dev/null 2>&1 && fail "f8 still known to dpkg after dpkg -P"
  echo "check_deb: dpkg -i, use, dpkg -P: ok"
fi
echo "check_deb: ok"
