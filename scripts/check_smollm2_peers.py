#!/usr/bin/env python3
"""One-off peer check (NOT run in CI): does Hugging Face transformers, loading
the directory scripts/fetch_smollm2.py wrote, continue prompts the same way as
llama.cpp (via llama-cpp-python) running the original Q4_1 GGUF?

Needs torch, transformers and llama-cpp-python, which are far too heavy for CI:
they go into a separate venv, ${F8_CACHE:-~/.cache/f8}/venv-peers (made on
first use; llama-cpp-python builds llama.cpp from source, ~20-40 min on 2
cores). The script re-executes itself inside that venv.
Shortcut used for the recorded run: only libllama/libggml are needed, so the
sdist's llama_cpp/ package on PYTHONPATH plus LLAMA_CPP_LIB_PATH pointing at
its cmake build's bin/ (libllama.so, libggml*.so) works without waiting for the
rest of the pip build (pip install diskcache into the venv for that).

For each prompt it reports:
  tokens   whether transformers' tokenizer (our rebuilt tokenizer.json) and
           llama.cpp's GGUF tokenizer give the same prompt ids
  free     greedy decoding run independently in both for N tokens (EOS not
           special-cased): length of the identical prefix, and identical count
  forced   llama.cpp fed transformers' continuation (teacher forcing): at how
           many of the N positions its argmax equals transformers'
  margin   transformers' top-1 minus top-2 logit at the first divergence

transformers computes in float32 on the BF16 weights (model.float()); llama.cpp
uses Q4_1/Q8_0 as stored. BF16-of-dequantized vs Q4_1 differ by BF16 rounding
plus llama.cpp's Q8_0 activation quantization, so greedy paths may part at
near-ties; the forced count is the fair agreement measure.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from hf_fixture_io import cache_root, die, in_venv, log, peer_venv  # noqa: E402

PROMPTS = [  # (kind, text or messages)
    ("chat", [{"role": "user", "content": "What is the capital of France?"}]),
    ("chat", [{"role": "system", "content": "You are a concise assistant."},
              {"role": "user", "content": "Write a haiku about the sea."}]),
    ("raw", "The quick brown fox jumps over the lazy dog. In 1969, the first"),
    ("raw", 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'),
]


def run(args) -> int:
    import numpy as np
    import torch
    import transformers
    import llama_cpp
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    hf_dir = args.cache / "smollm2-135m-instruct"
    gguf = args.cache / "pip" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    for p in (hf_dir / "model.safetensors", gguf):
        if not p.exists():
            die(f"{p} missing: run scripts/fixtures.sh smollm2 first")
    tok = AutoTokenizer.from_pretrained(hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.bfloat16).float().eval()
    llm = llama_cpp.Llama(model_path=str(gguf), n_ctx=512, n_batch=512, n_threads=args.threads,
                          logits_all=True, verbose=False)
    # Tokenizer: our rebuilt tokenizer.json vs llama.cpp's GGUF tokenizer on
    # llama.cpp's own tokenizer test strings (shared/data/vocab-vectors).
    vd = HERE.parent.parent / "shared" / "data" / "vocab-vectors"
    inp = vd / "ggml-vocab-llama-bpe.gguf.inp"
    tok_same = tok_total = 0
    if inp.is_file():
        texts = inp.read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")
        for t in texts:
            if not t:
                continue
            tok_total += 1
            a = tok(t, add_special_tokens=False).input_ids
            b = llm.tokenize(t.encode(), add_bos=False, special=False)
            if a == b:
                tok_same += 1
            else:
                print(f"tokenizer differs on {t!r}: hf {a} llama.cpp {b}", flush=True)
    N = args.n
    results = []
    for kind, p in PROMPTS:
        if kind == "chat":
            text = tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
        else:
            text = p
        ids = tok(text, add_special_tokens=False).input_ids
        ids_cpp = llm.tokenize(text.encode(), add_bos=False, special=True)

        # transformers greedy (KV cache), recording logits margins
        hf_out, margins = [], []
        with torch.no_grad():
            out = model(torch.tensor([ids]), use_cache=True)
            past = out.past_key_values
            logits = out.logits[0, -1]
            for _ in range(N):
                top2 = torch.topk(logits, 2)
                margins.append(float(top2.values[0] - top2.values[1]))
                t = int(top2.indices[0])
                hf_out.append(t)
                out = model(torch.tensor([[t]]), past_key_values=past, use_cache=True)
                past, logits = out.past_key_values, out.logits[0, -1]

        # llama.cpp greedy, free running
        llm.reset()
        llm.eval(ids)
        cpp_out = []
        for _ in range(N):
            t = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            cpp_out.append(t)
            llm.eval([t])

        # llama.cpp teacher-forced on transformers' continuation
        llm.reset()
        llm.eval(ids + hf_out[:-1])
        forced = [int(np.argmax(llm.scores[len(ids) - 1 + k])) for k in range(N)]

        prefix = next((k for k in range(N) if hf_out[k] != cpp_out[k]), N)
        r = {
            "prompt": text, "n_prompt": len(ids), "tokens_equal": ids == ids_cpp,
            "free_prefix": prefix, "free_equal": sum(a == b for a, b in zip(hf_out, cpp_out)),
            "forced_equal": sum(a == b for a, b in zip(hf_out, forced)), "n": N,
            "margin_at_divergence": margins[prefix] if prefix < N else None,
            "hf_text": tok.decode(hf_out), "cpp_text": tok.decode(cpp_out),
        }
        results.append(r)
        print(json.dumps(r, ensure_ascii=False), flush=True)
    tot = len(results) * N
    summary = {
        "transformers": transformers.__version__, "torch": torch.__version__,
        "llama_cpp_python": llama_cpp.__version__,
        "prompts": len(results), "tokens_per_prompt": N,
        "prompt_tokens_equal": sum(r["tokens_equal"] for r in results),
        "tokenizer_test_strings_equal": f"{tok_same}/{tok_total}",
        "free_equal": f"{sum(r['free_equal'] for r in results)}/{tot}",
        "free_prefixes": [r["free_prefix"] for r in results],
        "forced_equal": f"{sum(r['forced_equal'] for r in results)}/{tot}",
    }
    print("SUMMARY " + json.dumps(summary), flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=cache_root(), help="cache dir (default: %(default)s)")
    ap.add_argument("-n", type=int, default=32, help="greedy tokens per prompt (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="threads for both peers (default: %(default)s)")
    args = ap.parse_args()
    py = peer_venv(args.cache, need_llama_cpp=True)
    if not in_venv(py):
        os.execv(str(py), [str(py), __file__] + sys.argv[1:])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
