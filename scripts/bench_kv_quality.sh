#!/usr/bin/env bash
# KV cache quality table (issue 25; README "Quality", docs/runtime.md "KV
# cache"): SmolLM2-135M-Instruct with BF16 weights on KJV Genesis
# (scripts/kjv_text.sh, whole book), 2 chunks of CTX tokens with the second
# half of each scored (long-context attention), one run per context size.
#
#   f8 rows: `f8 perplexity --kv-type T`, KL against the same model with an
#     F32 cache (`--save-logits` / `--kl-base`). fp8 = E4M3 with per-token,
#     per-KV-head BF16 scales and K centered on its measured pre-RoPE mean
#     (the default; also without the centering: --no-kv-calibrate); int8 =
#     INT8 codes with the same scales and centering; fp8-layer = E4M3 with
#     one scale per layer measured at start-up (the previous default).
#   llama.cpp rows: `llama-perplexity --kl-divergence` (scripts/
#     build_llama_perplexity.sh) on the same model converted to F16 GGUF by
#     llama.cpp's own convert_hf_to_gguf.py (needs torch: PEER_PY, default
#     ~/.cache/f8/venv-peers/bin/python), flash attention on, q8_0 and q4_0
#     K and V caches against its own F16 cache; tokenization checked equal
#     to f8's.
#   Bytes per cached value: f8 E4M3 1 + 2/head_dim (one BF16 scale per
#     KV head row of head_dim values) or 1 (per-layer scales); q8_0 34/32;
#     q4_0 18/32.
#
#   scripts/bench_kv_quality.sh [CTX...]   (default: 4096 16384; BUILD=build THREADS=nproc)
# Prints progress to stderr and one markdown table per context to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/quality_env.sh kv-quality 2
log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
CTXS=("$@")
[ ${#CTXS[@]} -gt 0 ] || CTXS=(4096 16384)
PEER_PY=${PEER_PY:-$CACHE/venv-peers/bin/python}
TEXT=$(bash scripts/kjv_text.sh "Genesis 1:1-50:26" genesis_all)

"$F8" convert "$SRC" -o "$WORK/bf16.f8" --weights bf16 -q --force -t "$THREADS" >&2
HD=$("$F8" inspect "$WORK/bf16.f8" --json | python3 -c '
import json, sys
m = {e["key"]: e.get("value") for e in json.load(sys.stdin)["metadata"]}
print(m.get("llm.attention.head_dim") or m["llm.embedding_length"] // m["llm.attention.head_count"])')

LP=$(bash scripts/build_llama_perplexity.sh)
F16="$WORK/smollm2-f16.gguf"
if [ ! -f "$F16" ]; then
  ROOT=$CACHE/bench/src/llama_cpp_python-0.3.36/vendor/llama.cpp
  [ -f "$ROOT/convert_hf_to_gguf.py" ] || bash scripts/build_llama_perplexity.sh >/dev/null
  log "convert to F16 GGUF (llama.cpp's converter)"
  PYTHONPATH="$ROOT/gguf-py" "$PEER_PY" "$ROOT/convert_hf_to_gguf.py" "$SRC" --outtype f16 --outfile "$F16.part" \
    >/dev/null 2>&1
  mv "$F16.part" "$F16"
fi

f8row() {  # ctx kv-type [extra...] -> "PPL KL SAME"
  local c=$1 kv=$2; shift 2
  "$F8" perplexity -m "$WORK/bf16.f8" -f "$TEXT" --chunk "$c" --chunks 2 -c "$c" -t "$THREADS" --kv-type "$kv" "$@" 2>&1 |
    awk '/^PPL =/ {p=$3} /^KL\(base/ {k=$5} /^same top token/ {s=$5} END {print p, k, s}'
}
num() { sed -n "s/.*$1 *\([0-9.]*\).*/\1/p" "$2" | head -1; }

for C in "${CTXS[@]}"; do
  log "ctx $C: f8 F32 base"
  B=$(f8row "$C" f32 --save-logits "$WORK/base$C.logits")
  ROWS=("| f8 F32 (base) | 4 | $(echo "$B" | awk '{print $1}') | — | — |")
  add() {  # label bytes kv-type [extra f8 options]
    log "ctx $C: f8 $3 ${*:4}"
    local r
    r=$(f8row "$C" "$3" --kl-base "$WORK/base$C.logits" "${@:4}")
    ROWS+=("| $1 | $2 | $(echo "$r" | awk '{printf "%s | %s | %s", $1, $2, $3}') |")
  }
  add "f8 BF16" 2 bf16
  BPV=$(echo "scale=4; 1 + 2 / $HD" | bc)
  add "f8 FP8 E4M3, BF16 scale per token and KV head, K centered (default \`--kv-type fp8\`)" "$BPV" fp8
  add "f8 FP8 E4M3, BF16 scale per token and KV head, K not centered (\`--kv-type fp8 --no-kv-calibrate\`)" \
    "$BPV" fp8 --no-kv-calibrate
  add "f8 INT8, BF16 scale per token and KV head, K centered (\`--kv-type int8\`)" "$BPV" int8
  add "f8 FP8 E4M3, per-layer scales measured at load (\`--kv-type fp8-layer\`)" 1 fp8-layer
  add "f8 FP8 E5M2, per-layer scales (\`--kv-type e5m2\`)" 1 e5m2

  LA=(-m "$F16" -f "$TEXT" -c "$C" -b 512 --chunks 2 -t "$THREADS" -fa on)
  log "ctx $C: llama.cpp F16 cache (base)"
  "$LP" "${LA[@]}" --kl-divergence-base "$WORK/llama$C.kld" >"$WORK/llama-f16-$C.log" 2>&1
  ROWS+=("| llama.cpp F16 cache (its base) | 2 | $(num "Final estimate: PPL =" "$WORK/llama-f16-$C.log") | — | — |")
  for q in q8_0 q4_0; do
    log "ctx $C: llama.cpp $q cache"
    "$LP" "${LA[@]}" -ctk $q -ctv $q --kl-divergence-base "$WORK/llama$C.kld" --kl-divergence \
      >"$WORK/llama-$q-$C.log" 2>&1
    by=$([ $q = q8_0 ] && echo 1.0625 || echo 0.5625)
    ROWS+=("| llama.cpp $q K and V cache | $by | $(num "Mean PPL(Q) *:" "$WORK/llama-$q-$C.log") | $(num "Mean *KLD:" "$WORK/llama-$q-$C.log") | $(num "Same top p:" "$WORK/llama-$q-$C.log")% |")
  done

  # Tokenization check: the ids llama.cpp saved against f8's.
  "$F8" tokenize -m "$WORK/bf16.f8" -f "$TEXT" --json --no-bos >"$WORK/f8-ids.json"
  TOKCHECK=$(python3 - "$WORK/llama$C.kld" "$WORK/f8-ids.json" <<'EOF'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"_logits_"
n_ctx, n_vocab, n_chunk = struct.unpack_from("<iii", b, 8)
ll = list(struct.unpack_from("<%di" % (n_ctx * n_chunk), b, 20))
f8 = json.load(open(sys.argv[2]))["ids"]
bos = ll[:1] != f8[:1]  # llama.cpp prepends BOS only when the GGUF says add_bos
text = ll[1:] if bos else ll
print("same ids" if text == f8[:len(text)] else "DIFFERENT ids", len(text), "tokens;",
      "llama.cpp adds BOS" if bos else "llama.cpp adds no BOS")
EOF
)
  echo
  echo "SmolLM2-135M-Instruct, BF16 weights, KJV Genesis, 2 chunks of $C tokens (second half scored), $THREADS threads, $(date -u +%Y-%m-%d); llama.cpp tokenization vs f8: $TOKCHECK"
  echo
  echo "| KV cache | bytes per value | PPL | KL vs F32 cache | same top token |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${ROWS[@]}"
done
