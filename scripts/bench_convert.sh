#!/usr/bin/env bash
# Conversion benchmark: `f8 convert` on SmolLM2-135M-Instruct (BF16, 269 MB of
# safetensors) with a warm page cache, beside a straightforward numpy
# implementation of the same quantization (scripts/bench_convert_numpy.py),
# timed in the same run. Reports source MB/s, wall and CPU seconds, peak RSS
# (/usr/bin/time -v) and the speed ratio.
#
#   scripts/bench_convert.sh [MODEL_DIR]      (BUILD=build, RUNS=3, OUT=/tmp/...)
# Extra flags for f8 convert: F8_CONVERT_FLAGS="--scale tensor" etc.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-3}
CACHE=${F8_CACHE:-$HOME/.cache/f8}
MODEL=${1:-$CACHE/smollm2-135m-instruct}
OUT=${OUT:-${TMPDIR:-/tmp}/f8-bench-convert-$$.f8}
F8=$BUILD/bin/f8
trap 'rm -f "$OUT"' EXIT

if [ ! -x "$F8" ]; then echo "bench_convert: $F8 not built (make build)" >&2; exit 1; fi
if [ ! -f "$MODEL/config.json" ]; then
  if [ -x scripts/fixtures.sh ]; then bash scripts/fixtures.sh >&2; fi
  [ -f "$MODEL/config.json" ] || { echo "bench_convert: no model at $MODEL" >&2; exit 1; }
fi
[ -x /usr/bin/time ] || { echo "bench_convert: needs /usr/bin/time (Debian package 'time')" >&2; exit 1; }

# Warm the page cache.
cat "$MODEL"/*.safetensors > /dev/null
SRC_BYTES=$(python3 - "$MODEL" <<'EOF'
import json, os, struct, sys
d = sys.argv[1]; files = [f for f in os.listdir(d) if f.endswith(".safetensors")]; total = 0
for f in files:
    with open(os.path.join(d, f), "rb") as fh:
        n = struct.unpack("<Q", fh.read(8))[0]; h = json.loads(fh.read(n))
        total += sum(v["data_offsets"][1] - v["data_offsets"][0] for k, v in h.items() if k != "__metadata__")
print(total)
EOF
)

run_f8() {  # prints: wall_s cpu_s max_rss_kb
  local log; log=$(mktemp)
  /usr/bin/time -v "$F8" convert "$MODEL" -o "$OUT" --force -q ${F8_CONVERT_FLAGS:-} "$@" 2> "$log" >/dev/null || { cat "$log" >&2; exit 1; }
  python3 - "$log" <<'EOF'
import re, sys
t = open(sys.argv[1]).read()
def g(p): return re.search(p, t).group(1)
w = g(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)")
parts = [float(x) for x in w.split(":")]
wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
cpu = float(g(r"User time \(seconds\): (\S+)")) + float(g(r"System time \(seconds\): (\S+)"))
rss = g(r"Maximum resident set size \(kbytes\): (\d+)")
print(f"{wall:.3f} {cpu:.3f} {rss}")
EOF
  rm -f "$log"
}

best() {  # best wall of RUNS runs: "wall cpu rss"
  local b=""; for _ in $(seq "$RUNS"); do
    r=$(run_f8 "$@"); if [ -z "$b" ] || awk -v a="${r%% *}" -v c="${b%% *}" 'BEGIN{exit !(a<c)}'; then b=$r; fi
  done; echo "$b"
}

echo "model: $MODEL ($((SRC_BYTES / 1000000)) MB of tensors), $(nproc) cores, best of $RUNS"
read -r W C R <<< "$(best)"
read -r W2 C2 R2 <<< "$(best --no-checksums)"
OUT_MB=$(( $(stat -c %s "$OUT") / 1000000 ))
NP=$(python3 scripts/bench_convert_numpy.py "$MODEL")
python3 - "$SRC_BYTES" "$W" "$C" "$R" "$W2" "$C2" "$R2" "$NP" "$OUT_MB" "${F8_CONVERT_FLAGS:-}" <<'EOF'
import json, sys
src = int(sys.argv[1]); w, c, r, w2, c2, r2 = map(float, sys.argv[2:8]); np_ = json.loads(sys.argv[8])
mb = src / 1e6
print(f"{'':34s} {'wall s':>8s} {'cpu s':>8s} {'MB/s':>8s} {'peak RSS MB':>12s}")
print(f"{'f8 convert ' + sys.argv[10]:34s} {w:8.3f} {c:8.3f} {mb / w:8.0f} {r / 1024:12.0f}")
print(f"{'f8 convert --no-checksums':34s} {w2:8.3f} {c2:8.3f} {mb / w2:8.0f} {r2 / 1024:12.0f}")
print(f"{'numpy (same quantization, no write)':34s} {np_['seconds']:8.3f} {np_['cpu_seconds']:8.3f} {np_['mb_per_s']:8.0f} {np_['peak_rss_mb']:12.0f}")
print(f"speed ratio f8/numpy: {np_['seconds'] / w:.1f}x wall, {np_['cpu_seconds'] / c:.1f}x CPU   output {sys.argv[9]} MB")
print("(wall-clock MB/s needs an otherwise idle machine; CPU seconds are robust to other load)")
EOF
