#!/usr/bin/env bash
# Decode and prefill speed on a busy machine: f8 vs llama.cpp Q8_0 on
# SmolLM2-135M, alone and beside one busy-loop process per CPU at nice 10 and
# at nice 0 (issue 16).
#   bash scripts/bench_busy.sh [BUILD_DIR=build]
# Env: ROUNDS (3), N_PROMPT (512), N_GEN (64), F8_CACHE (~/.cache/f8),
#      F8_MODEL (the .f8 file; default $F8_CACHE/smollm2-135m-instruct-e4m3.f8),
#      CONDITIONS ("quiet nice10 nice0"), F8_BIN (an f8 binary to time instead
#      of building BUILD_DIR's, e.g. an older build for a before/after), BUSY_MAX_S (600: hard limit on
#      every busy-loop process, whatever happens to this script).
# Thread counts: 1 and f8's default (f8_context_default_params().n_threads,
# docs/backend.md "Default thread count"); llama.cpp runs at the same two.
# Every round runs each condition once, each engine once per condition, and
# alternates which engine goes first; the table gives the median over
# rounds. The busy loops start before and are killed after each loaded
# condition, and a trap kills them on any exit.
# The llama.cpp peer is found/made as in scripts/bench_vs_llamacpp.sh (see
# docs/performance.md); without it only the f8 rows are printed.
# Not part of CI (minutes of CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
ROUNDS=${ROUNDS:-3}
N_PROMPT=${N_PROMPT:-512}
N_GEN=${N_GEN:-64}
CONDITIONS=${CONDITIONS:-quiet nice10 nice0}
BUSY_MAX_S=${BUSY_MAX_S:-600}
CACHE=${F8_CACHE:-$HOME/.cache/f8}
WORK="$CACHE/bench"
HF="$CACHE/smollm2-135m-instruct"
MODEL=${F8_MODEL:-$CACHE/smollm2-135m-instruct-e4m3.f8}
OUT=$(mktemp -d)
BUSY_PIDS=()

stop_busy() {
  local p
  for p in "${BUSY_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BUSY_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  BUSY_PIDS=()
}
cleanup() { stop_busy; rm -rf "$OUT"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# One busy loop per online CPU at the given nice level, each killed by
# `timeout` after BUSY_MAX_S at the latest.
start_busy() {
  local i
  for ((i = 0; i < $(nproc); i++)); do
    nice -n "$1" timeout "$BUSY_MAX_S" bash -c 'while :; do :; done' &
    BUSY_PIDS+=($!)
  done
  sleep 0.5
}

if [ -z "${F8_BIN:-}" ]; then
  [ -f "$BUILD/CMakeCache.txt" ] || cmake -S . -B "$BUILD" -DF8_SERVER=OFF >/dev/null
  cmake --build "$BUILD" -j2 --target f8_cli >/dev/null
fi
F8=${F8_BIN:-$BUILD/bin/f8}
mkdir -p "$WORK"
if [ ! -f "$MODEL" ]; then
  [ -d "$HF" ] || bash scripts/fixtures.sh smollm2 >/dev/null
  "$F8" convert "$HF" -o "$MODEL" >/dev/null
fi

# The llama.cpp peer (optional).
PY="$CACHE/venv-peers/bin/python"
PEER=skipped
if [ -x "$PY" ]; then
  if [ -f "$CACHE/llama-cpp-local/lib/libllama.so" ]; then
    export PYTHONPATH="$CACHE/llama-cpp-local/py${PYTHONPATH:+:$PYTHONPATH}"
    export LLAMA_CPP_LIB_PATH="$CACHE/llama-cpp-local/lib"
  fi
  if "$PY" -c 'import llama_cpp' 2>/dev/null; then PEER=ok; else PEER="skipped: llama_cpp does not import in $PY"; fi
else
  PEER="skipped: no peer venv at $CACHE/venv-peers (see docs/performance.md)"
fi

# f8's default thread count: what `f8 bench` picks with no -t.
DEF=$("$F8" bench -m "$MODEL" -p 8 -n 1 -r 1 --json 2>/dev/null |
  python3 -c 'import json,sys; print(max(r["threads"] for r in json.load(sys.stdin)["results"]))')
THREADS="1,$DEF"
[ "$DEF" = 1 ] && THREADS=1
if [ "$PEER" = ok ]; then  # make the GGUFs (first run only) before timing anything
  "$PY" scripts/bench_llamacpp.py --hf "$HF" --work "$WORK" --threads 1 --formats Q8_0 \
    --n-prompt 8 --n-gen 1 --reps 1 >/dev/null 2>"$OUT/peer-setup.log" ||
    { PEER="failed (see below)"; tail -5 "$OUT/peer-setup.log"; }
fi

DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); f8 default threads: $DEF"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg); llama.cpp peer: $PEER"

run_f8() {  # $1 = condition, $2 = round
  "$F8" bench -m "$MODEL" -p "$N_PROMPT" -n "$N_GEN" --threads-list "$THREADS" -r 1 --json \
    >"$OUT/f8.$1.$2.json" 2>"$OUT/f8.$1.$2.log" || echo "f8 bench failed ($1, round $2)"
}
run_peer() {
  [ "$PEER" = ok ] || return 0
  "$PY" scripts/bench_llamacpp.py --hf "$HF" --work "$WORK" --threads "$THREADS" --formats Q8_0 \
    --n-prompt "$N_PROMPT" --n-gen "$N_GEN" --reps 1 >"$OUT/peer.$1.$2.jsonl" 2>"$OUT/peer.$1.$2.log" ||
    echo "llama.cpp bench failed ($1, round $2)"
}

for ((r = 0; r < ROUNDS; r++)); do
  for c in $CONDITIONS; do
    case $c in
      quiet) ;;
      nice10) start_busy 10 ;;
      nice0) start_busy 0 ;;
      *) echo "unknown condition $c" >&2; exit 2 ;;
    esac
    if ((r % 2 == 0)); then run_f8 "$c" "$r"; run_peer "$c" "$r"; else run_peer "$c" "$r"; run_f8 "$c" "$r"; fi
    stop_busy
    echo "round $((r + 1))/$ROUNDS $c done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$OUT" "$CONDITIONS" "$N_PROMPT" "$N_GEN" "$DATE" "$ROUNDS" <<'EOF'
import glob, json, os, statistics, sys
out, conds, npr, ngen, date, rounds = sys.argv[1], sys.argv[2].split(), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
v = {}  # (engine, threads, cond, test) -> [tok/s per round]
for f in glob.glob(os.path.join(out, "f8.*.json")):
    cond = os.path.basename(f).split(".")[1]
    try:
        j = json.load(open(f))
    except ValueError:
        continue
    for r in j["results"]:
        test = "pp" if r["test"].startswith("pp") else "tg"
        v.setdefault(("f8 FP8", r["threads"], cond, test), []).append(r["tok_s"])
for f in glob.glob(os.path.join(out, "peer.*.jsonl")):
    cond = os.path.basename(f).split(".")[1]
    for line in open(f):
        j = json.loads(line)
        for test in ("pp", "tg"):
            v.setdefault((f"llama.cpp {j['format']}", j["threads"], cond, test), []).append(j[test])
med = {k: statistics.median(x) for k, x in v.items()}
rows = sorted({(e, t) for e, t, _, _ in v}, key=lambda x: (x[0] != "f8 FP8", x[0], x[1]))
name = {"quiet": "quiet", "nice10": "busy nice 10", "nice0": "busy nice 0"}
print(f"\n{date}, `bash scripts/bench_busy.sh` (median of {rounds} alternating rounds; "
      f"decode tg{ngen}, prefill pp{npr}, tok/s)\n")
hdr = "| engine | threads |" + "".join(f" decode {name[c]} | prefill {name[c]} |" for c in conds)
print(hdr)
print("|:--|--:|" + "--:|--:|" * len(conds))
for e, t in rows:
    cells = []
    for c in conds:
        for test in ("tg", "pp"):
            x = med.get((e, t, c, test))
            cells.append(f"{x:.1f}" if x is not None else "—")
    print(f"| {e} | {t} | " + " | ".join(cells) + " |")
# The issue 16 targets, decode, f8 default threads (the larger count).
ts = sorted({t for e, t in rows if e == "f8 FP8"})
if ts:
    d = ts[-1]
    def g(e, t, c):
        return med.get((e, t, c, "tg"))
    print()
    for c in conds:
        f, l, f1 = g("f8 FP8", d, c), g("llama.cpp Q8_0", d, c), g("f8 FP8", 1, c)
        parts = []
        if f and l: parts.append(f"f8/llama.cpp = {f / l:.2f}x")
        if f and f1 and d != 1: parts.append(f"f8 -t {d} / f8 -t 1 = {f / f1:.2f}x")
        print(f"- decode, {name[c]}, {d} threads: " + (", ".join(parts) if parts else "n/a"))
EOF
