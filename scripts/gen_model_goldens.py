#!/usr/bin/env python3
"""Generate reference logits and greedy continuations with Hugging Face
transformers for SmolLM2-135M-Instruct and the non-FP8 synthetic fixtures, and
write them to tests/goldens/model/<name>.json (committed; CI only reads them).

NOT run in CI: it needs torch + transformers, which live in
${F8_CACHE:-~/.cache/f8}/venv-peers (made on first use); the script
re-executes itself there. Run scripts/fixtures.sh first.

Compute: model loaded in its checkpoint dtype and upcast with model.float(), so
the reference is float32 arithmetic on exactly the stored weights (for BF16 and
F16 checkpoints the upcast is exact). attn_implementation="eager".

The JSON format is documented in docs/fixtures.md ("Model goldens").
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from hf_fixture_io import cache_root, die, in_venv, log, peer_venv  # noqa: E402

OUT_DIR = HERE.parent / "tests" / "goldens" / "model"
FORMAT = "f8-model-golden-v1"
MODELS = {  # golden name -> dir under the cache
    "smollm2-135m-instruct": "smollm2-135m-instruct",
    "llama-spm": "synthetic/llama-spm",
    "mistral-spm": "synthetic/mistral-spm",
    "llama3-bpe": "synthetic/llama3-bpe",
    "qwen2-bpe": "synthetic/qwen2-bpe",
    "smollm2-tiny": "synthetic/smollm2-tiny",
    "smollm2-135m-tf5": "synthetic/smollm2-tf5",
    "qwen3-bpe": "synthetic/qwen3-bpe",
    "phi3-spm": "synthetic/phi3-spm",
    "seed-oss": "synthetic/seed-oss",
    "mistral-sw": "synthetic/mistral-sw",
    "qwen2-sw": "synthetic/qwen2-sw",
    "gemma2": "synthetic/gemma2",
    "gemma3": "synthetic/gemma3",
    "mixtral": "synthetic/mixtral",
    "qwen2moe": "synthetic/qwen2moe",
    "qwen3moe": "synthetic/qwen3moe",
    "qwen3moe-fp8": "synthetic/qwen3moe-fp8",
    "gemma3-mm": "synthetic/gemma3-mm",
    "gpt-oss": "synthetic/gpt-oss",
    "gpt-oss-bf16": "synthetic/gpt-oss-bf16",
    "deepseek-v3": "synthetic/deepseek-v3",
    "deepseek-r1": "synthetic/deepseek-r1",
    "deepseek-v3-lite": "synthetic/deepseek-v3-lite",
}
PROMPTS = [  # (kind, payload); chat prompts go through the fixture's own template
    ("chat", [{"role": "user", "content": "What is the capital of France?"}]),
    ("chat", [{"role": "system", "content": "You are a concise assistant."},
              {"role": "user", "content": "Write a haiku about the sea."}]),
    ("raw", "The quick brown fox jumps over the lazy dog. In 1969, the first"),
    ("raw", 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'),
]
TOP_K = 16       # top logits kept per position
N_GEN = 64       # greedy tokens per prompt


def probe_ids(vocab: int) -> list[int]:
    """A fixed spread of ids whose logits are stored at every position."""
    return sorted({0, 1, 2, 13, 100, 1000 % vocab, vocab // 7, vocab // 3, vocab // 2,
                   (2 * vocab) // 3, vocab - 2, vocab - 1})


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def r6(x: float) -> float:
    """7 significant digits: float32 precision, much finer than any tolerance."""
    return float(f"{x:.7g}")


def prompt_ids(tok, kind, payload) -> tuple[str, list[int], str]:
    if kind == "raw":
        # tokenizer defaults: BOS for SentencePiece/Llama 3, none for SmolLM2/Qwen2
        return payload, tok(payload).input_ids, "raw text, tokenizer(text) with its default special tokens"
    msgs = payload
    try:
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    except Exception:  # e.g. Mistral v0.1's template rejects a system role
        msgs = [m for m in msgs if m["role"] != "system"]
        text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    return text, tok(text, add_special_tokens=False).input_ids, \
        "chat template rendered by transformers, tokenized with add_special_tokens=False"


def dequantized_copy(d: Path, tmp: Path) -> Path:
    """A block-FP8 checkpoint ("quant_method": "fp8") as float32 weights
    w = e4m3 * weight_scale_inv per block, in a temporary directory: the
    numbers f8 computes with, for a transformers reference on the CPU
    (transformers' FP8 kernels need a GPU)."""
    import shutil
    import torch
    from safetensors.torch import load_file, save_file
    cfg = json.loads((d / "config.json").read_text())
    br, bc = cfg["quantization_config"]["weight_block_size"]
    del cfg["quantization_config"]
    cfg["dtype"] = "float32"  # dtype="auto" must not round the dequantized weights to BF16
    cfg.pop("torch_dtype", None)
    for f in d.iterdir():
        if f.is_file() and not f.name.endswith(".safetensors") and f.name != "config.json":
            shutil.copyfile(f, tmp / f.name)
    (tmp / "config.json").write_text(json.dumps(cfg))
    for f in d.glob("*.safetensors"):
        t = load_file(str(f))
        out = {}
        for n, a in t.items():
            if n.endswith(".weight_scale_inv"):
                continue
            if a.dtype == torch.float8_e4m3fn:
                s = t[n[: -len(".weight")] + ".weight_scale_inv"].float()
                s = s.repeat_interleave(br, 0)[: a.shape[0]].repeat_interleave(bc, 1)[:, : a.shape[1]]
                out[n] = a.float() * s
            else:
                out[n] = a.float()
        save_file(out, str(tmp / f.name), metadata={"format": "pt"})
    return tmp


def gen_one(name: str, d: Path, rel: str) -> dict:
    import tempfile
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cfg = json.loads((d / "config.json").read_text())
    tok = AutoTokenizer.from_pretrained(d)
    src = d
    if cfg.get("quantization_config", {}).get("quant_method") == "fp8":
        src = dequantized_copy(d, Path(tempfile.mkdtemp(prefix="f8-deq-")))
    kw = {}
    if cfg.get("quantization_config", {}).get("quant_method") == "mxfp4":
        # gpt-oss's MXFP4 experts through transformers' own dequantization
        # (integrations/mxfp4.py, exact into BF16): the CPU reference path;
        # its triton kernels would need a GPU and a download.
        from transformers import Mxfp4Config
        kw["quantization_config"] = Mxfp4Config(dequantize=True)
    model = AutoModelForCausalLM.from_pretrained(src, dtype="auto", attn_implementation="eager", **kw)
    model = model.float().eval()
    V = int(cfg.get("vocab_size") or cfg["text_config"]["vocab_size"])  # multimodal: the text model's
    probes = probe_ids(V)
    weights = sorted(p.name for p in d.glob("*.safetensors"))
    out = {"format": FORMAT, "model": name, "fixture_dir": "$F8_CACHE/" + rel,
           "config": {k: cfg.get(k) for k in ("architectures", "hidden_size", "num_hidden_layers",
                                              "num_attention_heads", "num_key_value_heads", "vocab_size",
                                              "rope_theta", "rope_scaling", "rope_parameters", "tie_word_embeddings",
                                              "torch_dtype", "dtype", "head_dim", "sliding_window", "layer_types",
                                              "query_pre_attn_scalar", "attn_logit_softcapping",
                                              "final_logit_softcapping")
                      if k in cfg},
           "weights_sha256": {w: sha256(d / w) for w in weights},
           "compute": "float32 (model.float()), eager attention, greedy argmax, EOS not special-cased" +
                      ("; block FP8 weights dequantized to float32 first" if src != d else "") +
                      ("; MXFP4 experts dequantized by transformers (Mxfp4Config(dequantize=True))"
                       if kw else ""),
           "top_k": TOP_K, "n_gen": N_GEN, "probe_ids": probes, "prompts": []}
    with torch.no_grad():
        for kind, payload in PROMPTS:
            text, ids, how = prompt_ids(tok, kind, payload)
            # greedy with KV cache
            gen = []
            o = model(torch.tensor([ids]), use_cache=True)
            past, logits = o.past_key_values, o.logits[0, -1]
            for _ in range(N_GEN):
                t = int(torch.argmax(logits))
                gen.append(t)
                o = model(torch.tensor([[t]]), past_key_values=past, use_cache=True)
                past, logits = o.past_key_values, o.logits[0, -1]
            # one teacher-forced pass over prompt + continuation: logits at every position
            seq = ids + gen[:-1]
            L = model(torch.tensor([seq])).logits[0].double()  # [len(seq), V]
            lse = torch.logsumexp(L, dim=-1)
            top = torch.topk(L, TOP_K, dim=-1)
            nxt = torch.tensor(ids[1:] + gen)  # the token that follows each position
            positions = []
            for p in range(len(seq)):
                positions.append({
                    "top_ids": [int(i) for i in top.indices[p]],
                    "top_logits": [r6(v) for v in top.values[p]],
                    "probe_logits": [r6(L[p, i]) for i in probes],
                    "logsumexp": r6(lse[p]),
                    "next_id": int(nxt[p]),
                    "next_logprob": r6(L[p, nxt[p]] - lse[p]),
                })
            forced_argmax = [int(i) for i in top.indices[len(ids) - 1:, 0]]
            if forced_argmax != gen:  # cached vs full-pass argmax differ only at exact ties
                log(f"{name}: note: cached and full-pass argmax differ at "
                    f"{sum(a != b for a, b in zip(forced_argmax, gen))} of {N_GEN} steps")
            out["prompts"].append({"kind": kind, "text": text, "tokenization": how,
                                   "prompt_ids": ids, "greedy_ids": gen,
                                   "greedy_text": tok.decode(gen),
                                   "positions": positions})
            log(f"{name}: {kind} prompt {len(ids)} tok -> {tok.decode(gen[:16])!r}...")
    return out


def run(args) -> int:
    import torch
    import transformers
    torch.set_num_threads(args.threads)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    names = args.names or list(MODELS)
    for n in names:
        if n not in MODELS:
            die(f"unknown model {n!r}; known: {', '.join(MODELS)}", 2)
        d = args.cache / MODELS[n]
        if not (d / ".complete").is_file():
            die(f"{d} is not a complete fixture: run scripts/fixtures.sh first")
        g = gen_one(n, d, MODELS[n])
        g["generator"] = {"transformers": transformers.__version__, "torch": torch.__version__,
                          "script": "scripts/gen_model_goldens.py"}
        path = OUT_DIR / f"{n}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(g, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        log(f"wrote {path} ({path.stat().st_size // 1024} KiB)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help=f"models (default: all of {', '.join(MODELS)})")
    ap.add_argument("--cache", type=Path, default=cache_root(), help="cache dir (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    args = ap.parse_args()
    py = peer_venv(args.cache)
    if not in_venv(py):
        os.execv(str(py), [str(py), __file__] + sys.argv[1:])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
