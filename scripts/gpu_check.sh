#!/usr/bin/env bash
# GPU check in one bundle: build here (no GPU), run on the GPU machine.
# docs/gpu-check.md says how a GPU session uses it.
#
#   scripts/gpu_check.sh pack    (CPU machine) build Release with CUDA, collect
#       bin/ (f8, the CUDA tests and microbenchmarks), lib/ (every shared
#       library ldd lists except glibc's and CUDA's), the SmolLM2 .f8 fixture
#       and its tokenizer files into .gpu/bundle/, tar+gzip it and split it
#       into .gpu/part-NN (PART_MIB each; default: 64 MiB less the repo files
#       and 3 MiB) + .gpu/parts.sha256;
#       prints the `run` tool calls to make.
#   scripts/gpu_check.sh stash   (GPU machine) copy the .gpu/part-* that came
#       with this call to $STASH (default /tmp/f8gpu), verify them.
#   scripts/gpu_check.sh run     (GPU machine) stash, then reassemble, unpack,
#       run every check and benchmark, write logs and the table to $OUT.
#
# Env: BUILD (build), PART_MIB (auto), STASH (/tmp/f8gpu), OUT (.gpu/out when
# unset), BUDGET_S (540: the run stops starting steps after this), F8_CACHE.
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BUILD=${BUILD:-build}
PART_MIB=${PART_MIB:-}   # default: what fits beside the repo files in 64 MiB, less 3 MiB
STASH=${STASH:-/tmp/f8gpu}
GPU=.gpu
CACHE=${F8_CACHE:-$HOME/.cache/f8}
SMOL_NAME=smollm2-135m-instruct-e4m3.f8
MOE_NAME=mixtral-synthetic-e4m3.f8   # scripts/synthetic_moe.py's Mixtral (9 MB): the MoE path end to end

say() { echo "gpu_check: $*" >&2; }
die() { echo "gpu_check: error: $*" >&2; exit 1; }

# Binaries to ship: required ones fail the pack when missing.
REQUIRED_BINS=(f8)
TEST_BINS=(test_cuda_backend test_cuda_moe test_cuda_mla test_cuda_e2e test_fp8_codec_cuda test_nccl_tp1 test_invariance_ops)
BENCH_BINS=(bench_cuda_gemm bench_cuda_attn bench_cuda_fmha bench_cuda_moe)

# ================================================================ pack
find_exe() {  # find_exe NAME: path of the executable NAME under $BUILD
  find "$BUILD" -type f -name "$1" -perm -u+x -not -path '*/CMakeFiles/*' 2>/dev/null | head -n 1
}

# Libraries the GPU machine has itself (glibc, the compiler runtime, CUDA,
# the driver) or that would shadow its newer ones.
skip_lib() {
  case "$1" in
    linux-vdso.so*|ld-linux*|libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*) return 0 ;;
    libgcc_s.so*|libstdc++.so*) return 0 ;;  # Ubuntu 24.04's (GCC 13/14) are newer than ours
    libcuda.so*|libcudart.so*|libcublas.so*|libcublasLt.so*|libnccl.so*|libnvrtc*|libnvidia*|libnvJitLink*) return 0 ;;
  esac
  return 1
}

pack() {
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] || die "no nvcc: the bundle needs a CUDA build"
  if [ ! -f "$BUILD/CMakeCache.txt" ]; then
    say "configuring $BUILD (Release, CUDA)"
    cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DF8_CUDA=ON >/dev/null || die "cmake configure failed"
  fi
  compgen -G "$BUILD/CMakeFiles/*/CMakeCUDACompiler.cmake" >/dev/null \
    || die "$BUILD was configured without CUDA (no nvcc then): reconfigure it with -DF8_CUDA=ON, or BUILD=<dir>"
  grep -q '^CMAKE_BUILD_TYPE:STRING=Release' "$BUILD/CMakeCache.txt" \
    || say "warning: $BUILD is not a Release build"
  local targets=() have t
  have=$(cmake --build "$BUILD" --target help 2>/dev/null)
  for t in f8_cli "${TEST_BINS[@]}" "${BENCH_BINS[@]}"; do
    if grep -qE "(^|[ /])$t(:| |$)" <<<"$have"; then targets+=("$t"); else say "note: no CMake target $t"; fi
  done
  mkdir -p "$GPU" || die "mkdir $GPU"
  say "building ${targets[*]} in $BUILD"
  cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" --target "${targets[@]}" >"$GPU/build.log" 2>&1 \
    || { tail -30 "$GPU/build.log" >&2; die "build failed (log: $GPU/build.log)"; }

  # fixture: the SmolLM2 .f8 (made from the fetched HF dir when missing)
  local smol="$CACHE/$SMOL_NAME" hf="$CACHE/smollm2-135m-instruct"
  if [ ! -f "$smol" ]; then
    say "making the fixture $smol"
    bash scripts/fixtures.sh smollm2 >/dev/null || die "scripts/fixtures.sh smollm2 failed"
    "$BUILD/bin/f8" convert "$hf" -o "$smol" -q || die "f8 convert of $hf failed"
  fi
  [ -f "$hf/tokenizer.json" ] || die "$hf/tokenizer.json missing (run scripts/fixtures.sh smollm2)"

  rm -rf "$GPU/bundle" "$GPU"/part-* "$GPU/parts.sha256"
  local B="$GPU/bundle"
  mkdir -p "$B/bin" "$B/lib" "$B/models/smollm2-tok" || die "mkdir $B"
  local missing=() p name
  for name in "${REQUIRED_BINS[@]}" "${TEST_BINS[@]}" "${BENCH_BINS[@]}"; do
    p=$(find_exe "$name")
    if [ -z "$p" ]; then
      missing+=("$name")
      continue
    fi
    cp "$p" "$B/bin/" || die "copy $p"
  done
  [ -x "$B/bin/f8" ] || die "$BUILD/bin/f8 not found after the build"
  # shared libraries: every non-glibc, non-CUDA one ldd lists
  local libs=() lib path
  for p in "$B"/bin/*; do
    while read -r lib path; do
      [ -n "$lib" ] || continue
      skip_lib "$lib" && continue
      [ -f "$path" ] || die "ldd: $lib of $p not found here"
      if [ ! -f "$B/lib/$lib" ]; then
        cp -L "$path" "$B/lib/$lib" || die "copy $path"
        libs+=("$lib")
      fi
    done < <(ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
  done
  cp "$smol" "$B/models/$SMOL_NAME" || die "copy $smol"
  local moe_hf="$CACHE/synthetic/mixtral"
  if [ -f "$moe_hf/config.json" ]; then
    "$BUILD/bin/f8" convert "$moe_hf" -o "$B/models/$MOE_NAME" -q --force || die "f8 convert of $moe_hf failed"
  else
    say "note: $moe_hf missing (scripts/fixtures.sh): no MoE end-to-end step"
  fi
  for f in tokenizer.json tokenizer_config.json special_tokens_map.json generation_config.json config.json; do
    [ -f "$hf/$f" ] && cp "$hf/$f" "$B/models/smollm2-tok/"
  done
  {
    echo "packed $(date -u '+%Y-%m-%d %H:%M:%S UTC') from $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet 2>/dev/null || echo '+dirty')"
    echo "binaries: $(cd "$B/bin" && echo *)"
    echo "libraries: ${libs[*]}"
    echo "missing: ${missing[*]:-none}"
  } >"$B/MANIFEST"

  # what travels with every call: tracked + untracked-not-ignored files
  local repo_bytes part_max n
  repo_bytes=$( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 -r stat -c %s 2>/dev/null \
                | awk '{ s += $1 } END { print s + 0 }')
  [ -n "$PART_MIB" ] || PART_MIB=$(( (64 * 1048576 - repo_bytes) / 1048576 - 3 ))
  [ "$PART_MIB" -ge 8 ] || die "the repo files alone ($((repo_bytes / 1048576)) MiB) leave no room in a 64 MiB call"

  say "compressing (parts of $PART_MIB MiB)"
  tar -C "$GPU" -cf - bundle | gzip -6 >"$GPU/bundle.tar.gz" || die "tar/gzip failed"
  split -b "${PART_MIB}m" -d -a 2 "$GPU/bundle.tar.gz" "$GPU/part-" || die "split failed"
  rm -f "$GPU/bundle.tar.gz"
  (cd "$GPU" && sha256sum part-* >parts.sha256) || die "sha256sum failed"

  part_max=$(stat -c %s "$GPU"/part-* | sort -n | tail -n 1)
  n=$(find "$GPU" -maxdepth 1 -name 'part-*' | wc -l)
  echo
  echo "bundle: $(du -sh "$B" | cut -f1) unpacked; $n parts, $(du -ch "$GPU"/part-* | tail -n 1 | cut -f1) compressed"
  echo "binaries: $(cd "$B/bin" && echo *)"
  echo "shipped libraries: ${libs[*]:-none}"
  [ ${#missing[@]} -gt 0 ] && echo "NOT FOUND (not shipped): ${missing[*]}"
  echo "per call: repo files $((repo_bytes / 1048576)) MiB + largest part $((part_max / 1048576)) MiB" \
       "= $(((repo_bytes + part_max) / 1048576)) MiB (limit 64)"
  [ $((repo_bytes + part_max)) -lt $((64 * 1048576)) ] || say "warning: over 64 MiB per call: lower PART_MIB"
  echo
  echo "GPU session: make these calls back to back (a machine stays warm ~30 s between calls):"
  local i last=$((n - 1))
  for i in $(seq 0 "$last"); do
    local part
    part=$(printf 'part-%02d' "$i")
    if [ "$i" -lt "$last" ]; then
      echo "  run(command=\"bash scripts/gpu_check.sh stash\", carry=[\".gpu/$part\", \".gpu/parts.sha256\"], timeout_s=120)"
    else
      echo "  run(command=\"bash scripts/gpu_check.sh run\", carry=[\".gpu/$part\", \".gpu/parts.sha256\"], timeout_s=600)"
    fi
  done
}

# ================================================================ stash
stash() {
  mkdir -p "$STASH" || die "mkdir $STASH"
  [ -f "$GPU/parts.sha256" ] && cp "$GPU/parts.sha256" "$STASH/"
  local p got=0
  for p in "$GPU"/part-*; do
    [ -f "$p" ] || continue
    cp "$p" "$STASH/" || die "copy $p to $STASH"
    got=1
  done
  [ -f "$STASH/parts.sha256" ] || die "no parts.sha256 (carry .gpu/parts.sha256 with every call)"
  (cd "$STASH" && for p in part-*; do
     [ -f "$p" ] || continue
     if grep " $p\$" parts.sha256 | sha256sum -c --status; then echo "$p ok"; else echo "$p BAD (removed)"; rm -f "$p"; fi
   done) >&2
  [ "$got" = 1 ] || say "no part came with this call"
  local want have
  want=$(wc -l <"$STASH/parts.sha256")
  have=$(find "$STASH" -maxdepth 1 -name 'part-*' | wc -l)
  say "$STASH holds $have of $want parts"
}

# ================================================================ run
SUMMARY=()   # "name|status|seconds|note"
T_START=$(date +%s)

# step NAME MAX_S LOGFILE CMD...: runs CMD with a timeout (capped by the
# remaining budget), appends its output to LOGFILE and run.log, records it.
step() {
  local name=$1 max=$2 logf=$3
  shift 3
  local now left t rc t0 status
  now=$(date +%s)
  left=$((T_START + BUDGET_S - now))
  if [ "$left" -lt 15 ]; then
    SUMMARY+=("$name|SKIPPED|0|out of time budget (${BUDGET_S}s)")
    echo "== $name: skipped, out of time" | tee -a "$OUT/run.log"
    return 99
  fi
  t=$max
  [ "$left" -lt "$t" ] && t=$left
  echo "== $name (timeout ${t}s): $*" >>"$OUT/run.log"
  [ "$logf" != "$OUT/run.log" ] && echo "== $name (timeout ${t}s): $*" >>"$logf"
  t0=$(date +%s)
  timeout -k 10 "$t" "$@" >>"$logf" 2>&1
  rc=$?
  [ "$logf" != "$OUT/run.log" ] && tail -n 40 "$logf" >>"$OUT/run.log"
  case $rc in
    0) status=ok ;;
    124|137) status="TIMEOUT" ;;
    *) status="FAIL (rc $rc)" ;;
  esac
  SUMMARY+=("$name|$status|$(($(date +%s) - t0))|")
  echo "== $name: $status in $(($(date +%s) - t0)) s" | tee -a "$OUT/run.log"
  return $rc
}
note() {  # note TEXT: attaches TEXT to the last step's summary line
  local i=$((${#SUMMARY[@]} - 1))
  [ "$i" -ge 0 ] && SUMMARY[i]="${SUMMARY[i]}$1"
}
# bench_step NAME MAX_S JSON CMD...: a step logged to bench.log whose stdout
# (a --json report) is also kept in JSON for the tables.
bench_step() {
  local name=$1 max=$2 json=$3
  shift 3
  # shellcheck disable=SC2016  # expanded by the inner bash ($0 = the JSON path)
  step "$name" "$max" "$OUT/bench.log" bash -c 'set -o pipefail; "$@" | tee "$0"' "$json" "$@"
}

run_all() {
  BUDGET_S=${BUDGET_S:-540}
  OUT=${OUT:-$ROOT/.gpu/out}
  mkdir -p "$OUT" || die "mkdir $OUT"
  : >"$OUT/run.log"
  stash
  local want have
  want=$(wc -l <"$STASH/parts.sha256")
  have=$(find "$STASH" -maxdepth 1 -name 'part-*' | wc -l)
  if [ "$have" -ne "$want" ]; then
    echo "gpu_check: error: $STASH has $have of $want parts: the earlier calls' parts are gone (machine not warm?)." \
         "Redo the calls from part-00, back to back." | tee -a "$OUT/run.log" >&2
    exit 1
  fi
  rm -rf "$STASH/bundle"
  (cd "$STASH" && cat part-* | tar -xzf -) || die "unpack failed"
  local B="$STASH/bundle"
  tee -a "$OUT/run.log" <"$B/MANIFEST"

  # environment: bundle libs for our binaries only (not for python/torch)
  local PY=python3
  [ -x /opt/torch/.venv/bin/python ] && PY=/opt/torch/.venv/bin/python
  local libpath="$B/lib:/usr/local/cuda/lib64" d
  for d in $("$PY" -c 'import nvidia, os; r = list(nvidia.__path__)[0]; print(" ".join(os.path.join(r, x, "lib") for x in sorted(os.listdir(r)) if os.path.isdir(os.path.join(r, x, "lib"))))' 2>/dev/null); do
    libpath="$libpath:$d"
  done
  export F8_LIBPATH="$libpath"
  local fx=(env "LD_LIBRARY_PATH=$libpath")  # prefix for our binaries (not python/torch)
  local SAN=compute-sanitizer
  command -v "$SAN" >/dev/null || SAN=/usr/local/cuda/bin/compute-sanitizer
  local SMOL="$B/models/$SMOL_NAME" WORK
  WORK=/tmp/f8gpu-work
  if [ "$(df -Pk /dev/shm 2>/dev/null | awk 'NR==2 { print $4 }')" -gt $((40 * 1024 * 1024)) ] 2>/dev/null; then
    WORK=/dev/shm/f8gpu-work
  fi
  rm -rf "$WORK"
  mkdir -p "$WORK"
  local GPU_NAME
  GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)

  step "nvidia-smi" 30 "$OUT/run.log" nvidia-smi
  # shellcheck disable=SC2016  # expanded by the inner bash
  step "ldd (bundle resolves)" 30 "$OUT/run.log" bash -c '
    bad=0; for b in "$1"/bin/*; do m=$(env LD_LIBRARY_PATH="$F8_LIBPATH" ldd "$b" | grep "not found"); [ -n "$m" ] && { echo "$b: $m"; bad=1; }; done; exit $bad' _ "$B"

  # 8B model: make + convert in the background while the tests run (CPU/disk
  # work; timings are measured later, alone).
  local HF8B="$WORK/llama3-8b-random" F8B="$WORK/llama3-8b-random-e4m3.f8"
  (
    set -o pipefail
    t0=$(date +%s)
    "$PY" scripts/gpu_ref_torch.py make-hf "$HF8B" --tokenizer-from "$B/models/smollm2-tok" \
      && "${fx[@]}" "$B/bin/f8" convert "$HF8B" -o "$F8B" --top 3 \
      && rm -rf "$HF8B"
    rc=$?
    echo "8B model make+convert: rc $rc in $(($(date +%s) - t0)) s"
    exit $rc
  ) >"$OUT/make8b.log" 2>&1 &
  local make_pid=$!

  local TB="$B/bin/test_cuda_backend"
  if [ -x "$B/bin/test_fp8_codec_cuda" ]; then
    step "test_fp8_codec_cuda" 120 "$OUT/tests.log" "${fx[@]}" "$B/bin/test_fp8_codec_cuda"
  else SUMMARY+=("test_fp8_codec_cuda|MISSING|0|not in the bundle"); fi
  if [ -x "$TB" ]; then
    step "test_cuda_backend" 240 "$OUT/tests.log" "${fx[@]}" "$TB"
    local trc=$?
    if [ "$trc" -ne 0 ] && [ "$trc" -ne 99 ]; then
      # Precision or bug? The same gemm tests with 10x tolerance (NMSE 1e-8).
      step "test_cuda_backend gemm at 10x tolerance" 120 "$OUT/tests.log" \
        env F8_CUDA_GEMM_TOL=10 LD_LIBRARY_PATH="$F8_LIBPATH" "$TB" --gtest_filter='CudaGemm.*'
    fi
    grep -h '^\[ info \]' "$OUT/tests.log" | sed 's/^/    /' >>"$OUT/run.log"
  else SUMMARY+=("test_cuda_backend|MISSING|0|not in the bundle"); fi
  if [ -x "$B/bin/test_cuda_moe" ]; then  # MoE ops (issue 20) vs cpu-ref
    step "test_cuda_moe" 180 "$OUT/tests.log" "${fx[@]}" "$B/bin/test_cuda_moe"
    grep -h '^\[ info \] moe' "$OUT/tests.log" | sed 's/^/    /' >>"$OUT/run.log"
  else SUMMARY+=("test_cuda_moe|MISSING|0|not in the bundle"); fi
  if [ -x "$B/bin/test_cuda_mla" ]; then  # multi-head latent attention (issue 24) vs cpu-ref
    step "test_cuda_mla" 120 "$OUT/tests.log" "${fx[@]}" "$B/bin/test_cuda_mla"
  else SUMMARY+=("test_cuda_mla|MISSING|0|not in the bundle"); fi
  if [ -f "$B/models/$MOE_NAME" ]; then
    # MoE end to end (issue 20): the synthetic Mixtral's perplexity on a text
    # on CUDA against the CPU's --emulate-gpu run (KL and same top token):
    # 64-token chunks (CUDA graphs) and 256-token chunks (prefill); then a
    # decode benchmark (one graph per step).
    # shellcheck disable=SC2016  # expanded by the inner bash
    step "MoE e2e: synthetic Mixtral, cuda vs cpu --emulate-gpu" 120 "$OUT/tests.log" bash -c '
      set -e; m=$1; w=$2; txt=$3; f8=$4; export LD_LIBRARY_PATH="$F8_LIBPATH"
      "$f8" perplexity -m "$m" -f "$txt" --backend cpu --emulate-gpu --chunk 256 --chunks 4 --save-logits "$w/moe-emu.bin"
      for b in 64 256; do
        "$f8" perplexity -m "$m" -f "$txt" --backend cuda -b $b --chunk 256 --chunks 4 \
          --kl-base "$w/moe-emu.bin" 2>&1 | tee "$w/moe-kl-$b.txt"
        kl=$(sed -n "s/^KL(base || model) = \([0-9.e+-]*\).*/\1/p" "$w/moe-kl-$b.txt")
        echo "MoE e2e -b $b: KL $kl (bound 0.01)"
        awk -v k="$kl" "BEGIN { exit !(k != \"\" && k < 0.01) }"
      done
      "$f8" bench -m "$m" --backend cuda -p 64 -n 64 -r 2 -t 1' \
      _ "$B/models/$MOE_NAME" "$WORK" "$ROOT/docs/cuda.md" "$B/bin/f8"
    note "$(grep -h '^MoE e2e' "$OUT/tests.log" | tr '\n' ' ')"
  else SUMMARY+=("MoE e2e|MISSING|0|no synthetic Mixtral in the bundle"); fi
  if [ -x "$B/bin/test_invariance_ops" ]; then  # --deterministic streams on cuda, bit for bit
    step "test_invariance_ops (cuda --deterministic)" 240 "$OUT/tests.log" "${fx[@]}" "$B/bin/test_invariance_ops"
  else SUMMARY+=("test_invariance_ops|MISSING|0|not in the bundle"); fi
  if [ -x "$B/bin/test_cuda_e2e" ]; then
    step "test_cuda_e2e (SmolLM2)" 180 "$OUT/tests.log" env F8_E2E_MODEL="$SMOL" LD_LIBRARY_PATH="$F8_LIBPATH" \
      "$B/bin/test_cuda_e2e"
    grep -h '^\[ e2e' "$OUT/tests.log" | sed 's/^/    /' >>"$OUT/run.log"
  else SUMMARY+=("test_cuda_e2e|MISSING|0|not in the bundle"); fi
  if [ -x "$B/bin/test_nccl_tp1" ]; then
    step "test_nccl_tp1 (NCCL one-rank TP path)" 120 "$OUT/tests.log" "${fx[@]}" "$B/bin/test_nccl_tp1"
  else SUMMARY+=("test_nccl_tp1|MISSING|0|not in the bundle"); fi
  if [ -x "$TB" ]; then
    step "memcheck test_cuda_backend (quick subset)" 120 "$OUT/sanitizer.log" \
      env F8_CUDA_TEST_QUICK=1 LD_LIBRARY_PATH="$F8_LIBPATH" "$SAN" --tool memcheck --error-exitcode 3 \
      "$TB" --gtest_filter='CudaTest.*:CudaGemm.Bias:CudaGemm.GemmMulti*:CudaGemm.BlockShapes:CudaKv.SeveralSequences*:CudaKv.CausalPrefillBlocks:CudaGraph.*'
    note "$(grep -E 'ERROR SUMMARY' "$OUT/sanitizer.log" | tail -n 1)"
    step "racecheck test_cuda_backend (quick subset)" 120 "$OUT/sanitizer.log" \
      env F8_CUDA_TEST_QUICK=1 LD_LIBRARY_PATH="$F8_LIBPATH" "$SAN" --tool racecheck --error-exitcode 3 \
      "$TB" --gtest_filter='CudaTest.Rmsnorm:CudaTest.SwigluAddGetRowsArgmax:CudaGemm.Bias:CudaKv.CausalPrefillBlocks:CudaKv.LongContextDecode'
    note "$(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$OUT/sanitizer.log" | tail -n 1)"
  fi
  if [ -x "$B/bin/bench_cuda_fmha" ]; then  # FP8 FMHA (issue 11): its self-check under both tools
    step "memcheck bench_cuda_fmha check" 120 "$OUT/sanitizer.log" env LD_LIBRARY_PATH="$F8_LIBPATH" \
      "$SAN" --tool memcheck --error-exitcode 3 "$B/bin/bench_cuda_fmha" check
    note "$(grep -E 'ERROR SUMMARY' "$OUT/sanitizer.log" | tail -n 1)"
    step "racecheck bench_cuda_fmha check" 120 "$OUT/sanitizer.log" env LD_LIBRARY_PATH="$F8_LIBPATH" \
      "$SAN" --tool racecheck --error-exitcode 3 "$B/bin/bench_cuda_fmha" check
    note "$(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$OUT/sanitizer.log" | tail -n 1)"
  fi

  if [ -x "$B/bin/bench_cuda_moe" ]; then  # MoE kernels (issue 20): their self-check under both tools
    step "memcheck bench_cuda_moe check" 120 "$OUT/sanitizer.log" env LD_LIBRARY_PATH="$F8_LIBPATH" \
      "$SAN" --tool memcheck --error-exitcode 3 "$B/bin/bench_cuda_moe" check
    note "$(grep -E 'ERROR SUMMARY' "$OUT/sanitizer.log" | tail -n 1)"
    step "racecheck bench_cuda_moe check" 120 "$OUT/sanitizer.log" env LD_LIBRARY_PATH="$F8_LIBPATH" \
      "$SAN" --tool racecheck --error-exitcode 3 "$B/bin/bench_cuda_moe" check
    note "$(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$OUT/sanitizer.log" | tail -n 1)"
  fi

  say "waiting for the 8B model (make + convert)"
  wait "$make_pid"
  local mrc=$?
  SUMMARY+=("8B random model: make-hf + f8 convert|$([ $mrc = 0 ] && echo ok || echo "FAIL (rc $mrc)")|-|see make8b.log")
  tail -n 25 "$OUT/make8b.log" >>"$OUT/run.log"

  # ---- benchmarks, one at a time ----
  local bb
  for bb in "${BENCH_BINS[@]}"; do
    if [ -x "$B/bin/$bb" ]; then step "$bb" 90 "$OUT/bench.log" "${fx[@]}" "$B/bin/$bb"
    else SUMMARY+=("$bb|MISSING|0|not in the bundle"); fi
  done
  step "PyTorch BF16 reference (Llama-3-8B shapes)" 150 "$OUT/bench.log" \
    "$PY" scripts/gpu_ref_torch.py bench --ctx 512 --batches 1,8,64 --prefill 512,4096,16384 --json "$WORK/torch.json"
  step "PyTorch SDPA (flash, BF16) causal prefill attention" 90 "$OUT/bench.log" \
    "$PY" scripts/gpu_ref_torch.py sdpa --tokens 1024,4096,16384,65536 --json "$WORK/sdpa.json"
  local NP=()
  "${fx[@]}" "$B/bin/f8" bench --help 2>&1 | grep -q -- '--parallel' && NP=(-np "8,64")
  bench_step "f8 bench SmolLM2 (cuda)" 90 "$WORK/smol.json" \
    env LD_LIBRARY_PATH="$F8_LIBPATH" "$B/bin/f8" bench -m "$SMOL" --backend cuda -p 512 -n 128 -r 3 -t 1 "${NP[@]}" --json
  if "${fx[@]}" "$B/bin/f8" bench --help 2>&1 | grep -q -- '--deterministic'; then  # docs/cuda.md "Deterministic mode"
    bench_step "f8 bench SmolLM2 (cuda --deterministic)" 90 "$WORK/smol-det.json" \
      env LD_LIBRARY_PATH="$F8_LIBPATH" "$B/bin/f8" bench -m "$SMOL" --backend cuda --deterministic -p 512 -n 128 -r 3 -t 1 "${NP[@]}" --json
  fi
  if [ -f "$F8B" ]; then
    bench_step "f8 bench Llama-3-8B random (cuda)" 180 "$WORK/l8b.json" \
      env LD_LIBRARY_PATH="$F8_LIBPATH" "$B/bin/f8" bench -m "$F8B" --backend cuda -p 512 -n 128 -r 3 -t 1 "${NP[@]}" --json
  else SUMMARY+=("f8 bench Llama-3-8B random|SKIPPED|0|no converted model"); fi

  # Long contexts (issue 11, docs/cuda.md "FP8 attention"): time to first
  # token of 4k and 16k prompts with FP8 FMHA and with the FP32 attention
  # kernel (F8_FP8_ATTENTION=0); decode at a 32k context; the server with 64
  # concurrent ~1.6k-token requests.
  if [ -f "$F8B" ]; then
    local fa
    for fa in 1 0; do
      bench_step "f8 prefill 4k/16k, F8_FP8_ATTENTION=$fa (8B)" 120 "$WORK/ttft-$fa.json" \
        env LD_LIBRARY_PATH="$F8_LIBPATH" F8_FP8_ATTENTION="$fa" "$B/bin/f8" bench -m "$F8B" --backend cuda \
        -p 4096,16384 -n 1 -r 2 -t 1 --json
    done
    bench_step "f8 decode at 32k context (8B)" 120 "$WORK/d32k.json" \
      env LD_LIBRARY_PATH="$F8_LIBPATH" "$B/bin/f8" bench -m "$F8B" --backend cuda -p 16 -n 64 -d 32768 -r 2 -t 1 --json
    step "f8 serve: 64 concurrent ~1.6k-token requests (8B)" 150 "$OUT/bench.log" \
      env LD_LIBRARY_PATH="$F8_LIBPATH" "$PY" scripts/bench_server.py --f8 "$B/bin/f8" --model "$F8B" --backend cuda \
      --clients 64 --requests 1 --tokens 128 --prompt-len 1500 --ctx 2048 --slots 64 --json "$WORK/serve64.json"
    "$PY" - "$WORK/ttft-1.json" "$WORK/ttft-0.json" "$WORK/torch.json" "$WORK/sdpa.json" "$WORK/d32k.json" \
      "$WORK/serve64.json" >>"$OUT/attn.md" 2>>"$OUT/run.log" <<'ATTN'
import json, sys
def load(p):
    try:
        return json.load(open(p))
    except Exception as e:
        return {"_error": f"{p}: {e}"}
fa, f32, tr, sd, d32, sv = (load(p) for p in sys.argv[1:7])
def res(j, test):
    return next((r for r in j.get("results", []) if r.get("test") == test), None)
print("### FP8 attention (issue 11), Llama-3-8B shapes, random weights\n")
print("| prompt | f8 FP8 FMHA: TTFT ms | f8 FP32 attention: TTFT ms | FMHA speed-up | PyTorch BF16 (SDPA) TTFT ms |")
print("|--:|--:|--:|--:|--:|")
for n in (4096, 16384):
    a, b = res(fa, f"pp{n}"), res(f32, f"pp{n}")
    t = (tr.get("prefill_all") or {}).get(str(n), {})
    ta = 1000 * n / a["tok_s"] if a else None
    tb = 1000 * n / b["tok_s"] if b else None
    f = lambda x: f"{x:,.0f}" if isinstance(x, (int, float)) else "—"
    print(f"| {n} | {f(ta)} | {f(tb)} | {f'{tb / ta:.2f}×' if ta and tb else '—'} | {f(t.get('ms'))} |")
print()
s = sd.get("sdpa", {})
print("PyTorch SDPA flash BF16 causal attention alone, TFLOP/s: " +
      ", ".join(f"{k}: {v.get('tflops', float('nan')):.0f}" for k, v in s.items()) +
      " (bench_cuda_fmha's table in bench.log has f8's FMHA at the same sizes)\n")
r = res(d32, "tg64@d32768")
if r:
    print(f"decode at a 32k context, batch 1: {r['tok_s']:.1f} tok/s, {r['gb_s']:.0f} GB/s of weights + KV read "
          f"({100 * r['gb_s'] / tr['copy_gbs']:.0f}% of copy bandwidth)\n" if tr.get("copy_gbs") else "")
for row in sv.get("rows", []):
    print(f"f8 serve, {row['clients']} concurrent requests: {row['tok_s']:.0f} generated tok/s aggregate, "
          f"TTFT p50 {row['ttft_p50_ms']:.0f} ms, p99 {row['ttft_p99_ms']:.0f} ms, {row['requests']} requests done")
ATTN
  fi

  # GEMM crossover (docs/cuda.md): prefill of 32..512 tokens with every
  # eligible GEMM on cuBLASLt (F8_CUDA_LT_MIN_TOKENS=1) and with none
  # (=1000000, our tensor-core kernel); the default switches at 128.
  if [ -f "$F8B" ]; then
    local lt
    for lt in 1 1000000; do
      bench_step "f8 prefill, F8_CUDA_LT_MIN_TOKENS=$lt (8B)" 90 "$WORK/xover-$lt.json" \
        env LD_LIBRARY_PATH="$F8_LIBPATH" F8_CUDA_LT_MIN_TOKENS="$lt" "$B/bin/f8" bench -m "$F8B" --backend cuda \
        -p 32,64,128,256,512 -n 1 -r 3 -t 1 --json
    done
    "$PY" - "$WORK/xover-1.json" "$WORK/xover-1000000.json" >>"$OUT/bench.log" 2>&1 <<'XOVER'
import json, sys
def pp(p):
    try:
        return {r["test"]: r["tok_s"] for r in json.load(open(p))["results"] if r["test"].startswith("pp")}
    except Exception:
        return {}
lt, own = pp(sys.argv[1]), pp(sys.argv[2])
print("GEMM crossover (prefill tok/s): tokens | cuBLASLt | tensor-core kernel")
for k in sorted(set(lt) | set(own), key=lambda t: int(t[2:])):
    print(f"  {k[2:]:>5} | {lt.get(k, 0):10.1f} | {own.get(k, 0):10.1f}")
XOVER
  fi

  # ---- table ----
  "$PY" - "$WORK/l8b.json" "$WORK/smol.json" "$WORK/torch.json" "$GPU_NAME" >"$OUT/table.md" 2>>"$OUT/run.log" <<'EOF'
import json, sys, time
def load(p):
    try:
        return json.load(open(p))
    except Exception as e:
        print(f"<!-- {p}: {e} -->")
        return {}
l8, sm, tr, gpu = load(sys.argv[1]), load(sys.argv[2]), load(sys.argv[3]), sys.argv[4]
copy = tr.get("copy_gbs")
def res(j, test):
    for r in j.get("results", []):
        if r.get("test") == test:
            return r
    return None
def f(x, fmt="{:,.0f}"):
    return fmt.format(x) if isinstance(x, (int, float)) and x == x else "—"
rows = []
def row(name, j, test, batch, torch_tok):
    r = res(j, test)
    tok = r["tok_s"] if r else None
    wb = j.get("weight_bytes_per_token")
    gbs = tok / batch * wb / 1e9 if (tok and wb and not test.startswith("pp")) else None
    pct = f"{100 * gbs / copy:.0f}%" if (gbs and copy) else "—"
    ratio = f"{tok / torch_tok:.2f}×" if (tok and torch_tok) else "—"
    rows.append(f"| {name} | {f(tok)} | {f(gbs)} | {pct} | {f(torch_tok)} | {ratio} |")
dec = tr.get("decode", {})
t = lambda b: (dec.get(str(b)) or {}).get("tok_s")
row("decode, batch 1 (Llama-3-8B shapes)", l8, "tg128", 1, t(1))
row("decode, batch 8", l8, "tg128x8", 8, t(8))
row("decode, batch 64", l8, "tg128x64", 64, t(64))
row("prefill 512", l8, "pp512", 1, (tr.get("prefill") or {}).get("tok_s"))
row("SmolLM2-135M decode, batch 1", sm, "tg128", 1, None)
print(f"GPU check {time.strftime('%Y-%m-%d')} on {gpu or tr.get('gpu', '?')}: f8 FP8 (E4M3 per-channel, FP8 KV) "
      f"vs PyTorch {tr.get('torch', '?')} BF16 (one CUDA graph per decode step, KV context {tr.get('ctx', '?')}); "
      f"random weights in Llama-3-8B shapes. D2D copy {f(copy)} GB/s (read + write).\n")
print("| test | f8 tok/s | f8 GB/s (weights) | % of copy BW | PyTorch BF16 tok/s | f8 / PyTorch |")
print("|:--|--:|--:|--:|--:|--:|")
print("\n".join(rows))
wb = l8.get("weight_bytes_per_token")
print(f"\nf8 weight bytes per token: {f(wb / 1e9 if wb else None, '{:.2f}')} GB (8B), "
      f"{f(sm.get('weight_bytes_per_token', 0) / 1e6, '{:.0f}')} MB (SmolLM2); PyTorch BF16: "
      f"{f(tr.get('weight_bytes', 0) / 1e9, '{:.2f}')} GB. f8 decode tgN: N tokens from an empty cache "
      f"(mean context N/2); tgNxP: P sequences together, tok/s over all of them.")
EOF
  [ -s "$OUT/table.md" ] || echo "(table generation failed; see run.log)" >"$OUT/table.md"
  cat "$WORK"/torch.json "$WORK"/smol.json "$WORK"/l8b.json >"$OUT/bench.json" 2>/dev/null

  {
    echo "# GPU check $(date -u '+%Y-%m-%d %H:%M UTC'), ${GPU_NAME:-unknown GPU}, $(($(date +%s) - T_START)) s"
    echo
    echo "| step | status | s | note |"
    echo "|:--|:--|--:|:--|"
    local s
    for s in "${SUMMARY[@]}"; do echo "| ${s//|/ | } |"; done
    echo
    cat "$OUT/table.md"
    [ -f "$OUT/attn.md" ] && { echo; cat "$OUT/attn.md"; }
  } >"$OUT/summary.md"
  cat "$OUT/summary.md"
  rm -rf "$WORK"
}

case "${1:-}" in
  pack) pack ;;
  stash) stash ;;
  run) run_all ;;
  *) echo "usage: scripts/gpu_check.sh pack|stash|run   (docs/gpu-check.md)" >&2; exit 2 ;;
esac
