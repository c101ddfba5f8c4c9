#!/usr/bin/env bash
# check_exports.sh LIB HEADER ABI — libf8's dynamic symbol table is the C API
# and nothing else: every F8_API function of HEADER, each under version node
# F8_<ABI>, no other defined symbol (no C++ symbols, no symbols of the static
# module archives or of their dependencies); SONAME libf8.so.<ABI>.
set -euo pipefail
lib=$1 header=$2 abi=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_exports: FAIL: $*" >&2; exit 1; }

soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = "libf8.so.$abi" ] || fail "SONAME is '$soname', want libf8.so.$abi"

# Declared: the identifier before '(' on each F8_API line (declarations may wrap).
grep -E '^F8_API ' "$header" | grep -oE '\bf8_[A-Za-z0-9_]+[[:space:]]*\(' | tr -d '( ' | sort -u >"$tmp/declared"
[ -s "$tmp/declared" ] || fail "no F8_API declarations found in $header"

# Exported: defined dynamic symbols except the version node itself (type A).
nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | sort -u >"$tmp/exported_v"
sed 's/@.*//' "$tmp/exported_v" | sort -u >"$tmp/exported"
if ! diff -u "$tmp/declared" "$tmp/exported" >"$tmp/diff"; then
  cat "$tmp/diff" >&2
  fail "exported symbols differ from the F8_API declarations of $(basename "$header") (- declared only, + exported only)"
fi
bad=$(grep -v "@@F8_$abi\$" "$tmp/exported_v" || true)
[ -z "$bad" ] || fail "symbols not under version node F8_$abi: $bad"
echo "check_exports: ok: $(wc -l <"$tmp/declared") f8_* functions, SONAME $soname, version node F8_$abi"
