#!/usr/bin/env bash
# ASan+UBSan build of the format tests (and the FP8 codec test when it
# exists) in build-asan, then runs them. Any sanitizer report aborts the
# test binary (-fno-sanitize-recover=all), so "0 findings" == all passed.
# Called by scripts/test.sh (make test).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${ASAN_BUILD:-build-asan}
JOBS=${JOBS:-$(nproc)}

mkdir -p "$B"
cmake -S . -B "$B" -DF8_SANITIZE=ON -DF8_CUDA=OFF -DF8_SERVER=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  >"$B/configure.log" 2>&1 || { cat "$B/configure.log" >&2; exit 1; }
targets=(test_format)
if grep -q "test_fp8_codes" tests/codec/CMakeLists.txt 2>/dev/null; then targets+=(test_fp8_codes); fi
cmake --build "$B" -j "$JOBS" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
fail=0
for t in "${targets[@]}"; do
  exe=$(find "$B" -type f -name "$t" -perm -u+x | head -1)
  [ -n "$exe" ] || { echo "sanitize: $t was not built" >&2; fail=1; continue; }
  log="$B/$t.sanitize.log"
  if "$exe" --gtest_brief=1 >"$log" 2>&1; then
    :
  else
    echo "sanitize: $t FAILED (see $log)" >&2
    fail=1
  fi
  findings=$(grep -cE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$log" || true)
  echo "sanitize: $t: $(grep -E '^\[  PASSED  \]|^\[  FAILED  \]' "$log" | tr '\n' ' ')findings=$findings"
  [ "$findings" -eq 0 ] || { grep -E -A20 "ERROR: |runtime error:" "$log" | head -60 >&2; fail=1; }
done
exit $fail
