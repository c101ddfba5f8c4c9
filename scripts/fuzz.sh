#!/usr/bin/env bash
# Builds the GGF8 reader fuzzer (libFuzzer + ASan + UBSan, clang) in
# build-fuzz and runs it for FUZZ_SECONDS (default 60) on a seed corpus of
# valid files written by the test helpers. Prints executions, exec/s,
# coverage and findings; exits non-zero if the fuzzer found a crash.
#   scripts/fuzz.sh [SECONDS]        (make fuzz FUZZ_SECONDS=600)
# Env: FUZZ_JOBS (parallel fuzzing processes, default 1), FUZZ_BUILD (dir).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-${FUZZ_SECONDS:-60}}
B=${FUZZ_BUILD:-build-fuzz}
JOBS=${FUZZ_JOBS:-1}
command -v clang++ >/dev/null || { echo "fuzz: clang++ not found (scripts/setup.sh installs it)" >&2; exit 1; }

# The fuzz build needs only the format code. Configure the project with clang;
# if that fails (e.g. another module's CMake is mid-edit), build the two
# programs directly with the same flags.
mkdir -p "$B"
FMT_SRC="ggf8/names.cpp ggf8/value.cpp ggf8/checksum.cpp ggf8/reader.cpp ggf8/writer.cpp"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
if CC=clang CXX=clang++ cmake -S . -B "$B" -DF8_FUZZ=ON -DF8_TESTS=OFF -DF8_CUDA=OFF \
     -DF8_SERVER=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$B/configure.log" 2>&1 \
   && cmake --build "$B" --target fuzz_reader fuzz_seeds -j "$(nproc)" >"$B/build.log" 2>&1; then
  :
else
  echo "fuzz: CMake build failed (see $B/configure.log, $B/build.log); building directly" >&2
  mkdir -p "$B/bin"
  # shellcheck disable=SC2086
  clang++ -std=c++20 -O1 -g -I. -fsanitize=fuzzer $SAN fuzz/fuzz_reader.cpp $FMT_SRC -o "$B/bin/fuzz_reader"
  # shellcheck disable=SC2086
  clang++ -std=c++20 -O1 -I. -Itests/format fuzz/fuzz_seeds.cpp tests/format/sample_files.cpp $FMT_SRC \
    -o "$B/bin/fuzz_seeds"
fi

SEEDS="$B/seeds"; CORPUS="$B/corpus"; ART="$B/artifacts"
rm -rf "$SEEDS"
mkdir -p "$SEEDS" "$CORPUS" "$ART"
"$B/bin/fuzz_seeds" "$SEEDS"
LOG="$B/fuzz.log"
echo "fuzz: running fuzz_reader for ${SECONDS_TO_RUN}s (jobs=$JOBS), corpus $CORPUS, log $LOG" >&2
set +e
if [ "$JOBS" -gt 1 ]; then
  "$B/bin/fuzz_reader" -max_total_time="$SECONDS_TO_RUN" -jobs="$JOBS" -workers="$JOBS" \
    -artifact_prefix="$ART/" -print_final_stats=1 "$CORPUS" "$SEEDS" >"$LOG" 2>&1
else
  "$B/bin/fuzz_reader" -max_total_time="$SECONDS_TO_RUN" -artifact_prefix="$ART/" \
    -print_final_stats=1 "$CORPUS" "$SEEDS" >"$LOG" 2>&1
fi
rc=$?
set -e
# -jobs writes per-worker logs fuzz-N.log in the cwd.
[ "$JOBS" -gt 1 ] && cat fuzz-*.log >>"$LOG" 2>/dev/null && rm -f fuzz-*.log

execs=$(grep -h "stat::number_of_executed_units" "$LOG" | awk '{s+=$2} END {print s+0}')
rate=$(grep -h "stat::average_exec_per_sec" "$LOG" | awk '{s+=$2} END {print s+0}')
cov=$(grep -hoE "cov: [0-9]+ ft: [0-9]+" "$LOG" | tail -1)
crashes=$(ls "$ART" | grep -cE "^(crash|leak|timeout|oom)-" || true)
echo "fuzz: execs=$execs exec/s=$rate ${cov:-cov: ?} corpus=$(ls "$CORPUS" | wc -l) findings=$crashes"
if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
  echo "fuzz: FAILED (exit $rc); reproducers in $ART:" >&2
  ls -l "$ART" >&2
  grep -h -A30 "ERROR:" "$LOG" | head -60 >&2
  exit 1
fi
