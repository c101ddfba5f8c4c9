#!/usr/bin/env python3
"""What rounding the activations of every linear layer costs a whole model
(experiment, not product code; issue 22: "say where activations are rounded
and what the measured KL cost is").

The CPU tiers keep FP32 activations except avx512-amx's prefill, which
splits x into two BF16 terms, hi = bf16(x), lo = bf16(x - hi), and runs
C += A_hi.B, C += A_lo.B with FP32 accumulation (docs/backend.md "Tiers"):
the same products as x' = hi + lo (16 significant bits) against exact
weights. This script measures that, and the alternatives the tiers chose
not to run, on SmolLM2-135M-Instruct in F32 (the checkpoint's BF16 weights,
exact, as FP8/BF16 weights are exact in every tier):
  fp32     : the reference
  hi+lo    : x -> bf16(x) + bf16(x - bf16(x))   (avx512-amx prefill)
  bf16     : x -> bf16(x)                       (vdpbf16ps / one AMX term)
  e4m3-tok : x -> e4m3(x / s) * s, s = amax/448 per token row (FP8 activations,
             as --emulate-gpu / the CUDA FP8 GEMM)
applied to the input of every nn.Linear (attention projections, MLP,
lm_head). Text: KJV Genesis (scripts/kjv_text.sh), CHUNKS chunks of CTX
tokens (BOS + text), every position scored: KL(fp32 || variant), PPL, and
how often the top token agrees.

  ~/.cache/f8/venv-peers/bin/python scripts/activation_rounding_kl.py [--ctx 512] [--chunks 8]
"""
import argparse
import math
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from kv_quant_research import MODEL_DIR, kjv  # noqa: E402  (the same text and model as the KV research)


def bf16(x):
    return x.to(torch.bfloat16).to(torch.float32)


def hi_lo(x):
    hi = bf16(x)
    return hi + bf16(x - hi)


def e4m3_tok(x):
    s = (x.abs().amax(-1, keepdim=True) / 448.0).clamp_min(1e-30)
    return (x / s).clamp(-448, 448).to(torch.float8_e4m3fn).to(torch.float32) * s


VARIANTS = {"hi+lo": hi_lo, "bf16": bf16, "e4m3-tok": e4m3_tok}


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ctx", type=int, default=512)
    ap.add_argument("--chunks", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(MODEL_DIR)
    model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, dtype=torch.float32).eval()
    text = open(kjv("Genesis 1:1-50:26", "genesis_all")).read()
    ids = tok(text, add_special_tokens=False)["input_ids"]
    bos = tok.convert_tokens_to_ids(tok.bos_token)
    per = args.ctx - 1
    chunks = [[bos] + ids[c * per:(c + 1) * per] for c in range(min(args.chunks, len(ids) // per))]
    print(f"# SmolLM2-135M-Instruct F32, KJV Genesis: {len(chunks)} chunks of {args.ctx} tokens, "
          f"torch {torch.__version__}", file=sys.stderr)

    state = {"f": None}

    def pre(_mod, inp):
        f = state["f"]
        return None if f is None else (f(inp[0]),) + tuple(inp[1:])

    n_lin = 0
    for m in model.modules():
        if isinstance(m, torch.nn.Linear):
            m.register_forward_pre_hook(pre)
            n_lin += 1
    print(f"# {n_lin} linear layers hooked", file=sys.stderr)

    def logprobs(c):
        return torch.log_softmax(model(torch.tensor([c])).logits[0, :-1].float(), -1)

    t0 = time.time()
    base = [logprobs(c) for c in chunks]
    targets = [torch.tensor(c[1:]) for c in chunks]
    nll = torch.cat([-b.gather(1, t[:, None])[:, 0] for b, t in zip(base, targets)])
    print(f"# fp32 reference: {time.time() - t0:.0f} s", file=sys.stderr)
    print("| activations of every linear layer | PPL | KL(fp32 ‖ variant) ± SE | same top token |")
    print("|---|---|---|---|")
    print(f"| fp32 (reference; every tier but avx512-amx prefill) | {math.exp(nll.mean()):.4f} | — | — |", flush=True)
    for name, f in VARIANTS.items():
        state["f"] = f
        nl, kl, same = [], [], []
        for c, b, t in zip(chunks, base, targets):
            lp = logprobs(c)
            nl.append(-lp.gather(1, t[:, None])[:, 0])
            kl.append((b.exp() * (b - lp)).sum(-1).clamp_min(0))
            same.append((lp.argmax(-1) == b.argmax(-1)).float())
        nl, kl, same = torch.cat(nl), torch.cat(kl), torch.cat(same)
        print(f"| {name} | {math.exp(nl.mean()):.4f} | {kl.mean():.3g} ± {kl.std() / math.sqrt(len(kl)):.2g} | "
              f"{100 * same.mean():.2f}% |", flush=True)
        state["f"] = None


if __name__ == "__main__":
    main()
