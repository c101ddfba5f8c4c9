#!/usr/bin/env bash
# `make bench`: every benchmark behind the README's tables, in one run, on
# this machine. Results go to stdout; each section names the command it runs.
#   membw        machine read bandwidth (the decode roofline)
#   convert      f8 convert MB/s and peak RSS vs a numpy implementation
#   tokenizer    f8 tokenizer MB/s vs the `tokenizers` / sentencepiece packages
#   runtime      f8 vs llama.cpp (Q8_0, F16) prefill/decode tok/s and GB/s
#   server       aggregate tok/s for 1/2/4/8 clients, TTFT p50/p99
# Pass section names to run a subset: `bash scripts/bench.sh membw runtime`.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
sections=("$@")
[ ${#sections[@]} -gt 0 ] || sections=(membw convert tokenizer runtime server)

for s in "${sections[@]}"; do
  echo "=== $s (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
  case "$s" in
    membw)     bash scripts/membw.sh ;;
    convert)   bash scripts/bench_convert.sh ;;
    tokenizer) bash scripts/bench_tokenizer.sh ;;
    runtime)   bash scripts/bench_vs_llamacpp.sh ;;
    server)    python3 scripts/bench_server.py --f8 "$BUILD/bin/f8" --clients 1,2,4,8 --tokens 64 --requests 3 --threads "$(nproc)" ;;
    *) echo "bench: unknown section '$s'" >&2; exit 2 ;;
  esac
done
