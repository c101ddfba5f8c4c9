#!/usr/bin/env bash
# Tokenizer throughput: f8's tokenizers beside the Python `tokenizers`
# (Rust) and `sentencepiece` (C++) packages, on the same text, one thread
# each, and a check that both produce the same ids for the whole text.
#
#   scripts/bench_tokenizer.sh [TEXT]      (default: the KJV Bible, 4.4 MB,
#                                           from Debian bible-kjv)
# Env: BUILD (default build), REPS (default 3), F8_CACHE,
#      MODES (default "lines whole"): "lines" = one encode call per line
#      (prompt-sized inputs; the Python loop's call overhead is included),
#      "whole" = the whole text in one call.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
REPS=${REPS:-3}
MODES=${MODES:-lines whole}
CACHE=${F8_CACHE:-$HOME/.cache/f8}
TEXT=${1:-$CACHE/kjv.txt}
if [ ! -s "$TEXT" ]; then
  command -v bible >/dev/null || { echo "bench_tokenizer: need Debian bible-kjv (scripts/setup.sh) or a TEXT argument" >&2; exit 1; }
  mkdir -p "$(dirname "$TEXT")"
  bible -f "Gen1:1-Rev22:21" > "$TEXT.tmp" && mv "$TEXT.tmp" "$TEXT"
fi
BIN=$BUILD/tests/tokenizer/bench_tokenizer
[ -x "$BIN" ] || cmake --build "$BUILD" --target bench_tokenizer -j"$(nproc)" >/dev/null
python3 scripts/fetch_tokenizer_data.py >/dev/null
TOK=$CACHE/tokenizers
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

printf "%-11s %-5s %-19s %9s %8s %12s %12s %7s\n" tokenizer mode impl tokens load_ms encode_MB/s decode_MB/s ids
for mode in $MODES; do
for name in smollm2 llama3-vv qwen2-vv mistral-v1; do
  [ -d "$TOK/$name" ] || continue
  "$BIN" "$TOK/$name" "$TEXT" "$REPS" "$TMP/$name.f8.ids" "$mode" > "$TMP/$name.f8.json"
  OMP_NUM_THREADS=1 RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false python3 - "$TOK/$name" "$TEXT" "$REPS" "$TMP/$name" "$mode" <<'PY'
import json, re, sys, time
from pathlib import Path
import numpy as np
d, text_path, reps, out, mode = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
text = open(text_path, encoding="utf-8").read()
# split at '\n' only (as the C++ side does), each line keeping its '\n'
parts = re.findall(r"[^\n]*\n|[^\n]+$", text) if mode == "lines" else [text]
nbytes = len(text.encode("utf-8"))
t0 = time.perf_counter()
if (d / "tokenizer.model").exists():
    import sentencepiece as spm
    impl = "sentencepiece " + spm.__version__
    sp = spm.SentencePieceProcessor(model_file=str(d / "tokenizer.model"))
    enc = lambda: [i for p in parts for i in sp.encode(p)]
    dec = lambda ids: sp.decode(ids)
else:
    import tokenizers
    impl = "tokenizers " + tokenizers.__version__
    tok = tokenizers.Tokenizer.from_file(str(d / "tokenizer.json"))
    enc = lambda: [i for p in parts for i in tok.encode(p, add_special_tokens=False).ids]
    dec = lambda ids: tok.decode(ids, skip_special_tokens=True)
load_ms = (time.perf_counter() - t0) * 1e3
be = bd = 1e30
for _ in range(reps):
    a = time.perf_counter(); ids = enc(); b = time.perf_counter(); be = min(be, b - a)
    a = time.perf_counter(); dec(ids); b = time.perf_counter(); bd = min(bd, b - a)
f8 = json.load(open(out + ".f8.json"))
f8ids = np.fromfile(out + ".f8.ids", dtype="<i4")
same = len(f8ids) == len(ids) and bool(np.array_equal(f8ids, np.asarray(ids, dtype=np.int32)))
name = d.name
print(f"{name:<11} {mode:<5} {'f8':<19} {f8['tokens']:>9} {f8['load_ms']:>8.0f} {f8['encode_MBps']:>12.2f} {f8['decode_MBps']:>12.2f} {'same' if same else 'DIFFER':>7}")
print(f"{name:<11} {mode:<5} {impl:<19} {len(ids):>9} {load_ms:>8.0f} {nbytes/1e6/be:>12.2f} {nbytes/1e6/bd:>12.2f}")
if not same:
    sys.exit(f"bench_tokenizer: {name}: f8 ids differ from {impl} on {text_path}")
PY
done
done
echo "text: $TEXT ($(wc -c < "$TEXT") bytes), best of $REPS, one thread each; $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
