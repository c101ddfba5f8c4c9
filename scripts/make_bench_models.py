#!/usr/bin/env python3
"""Random-weight Hugging Face checkpoints in a real model's proportions, for
speed benchmarks (weights do not change the speed; no hub needed):

  qwen3moe-a3b-half   Qwen3MoeForCausalLM, Qwen3-30B-A3B's proportions at half
                      its width and a third of its depth: hidden 1024, 16 layers,
                      16 query heads x 128, 2 KV heads, 128 experts of 384, top-8
                      (6.25% of the experts per token, as the real model),
                      vocab 151936 untied; ~2.8B parameters, BF16 (5.6 GB)
  qwen3-dense-twin    Qwen3ForCausalLM with the same attention, vocabulary and
                      depth and a dense FFN as wide as the 8 routed experts
                      together (3072): the same bytes read per token, so decode
                      GB/s of the two compare the expert path with a dense one
  smollm2-1.7b-shape  LlamaForCausalLM in SmolLM2-1.7B's shape: hidden 2048, 24
                      layers, 32 heads x 64 (no GQA), FFN 8192, vocab 49152 tied;
                      ~1.7B parameters, BF16 (3.4 GB); SmolLM2's tokenizer
                      (scripts/fixtures.sh smollm2) — issue 22's CPU benchmark

Weights ~N(0, 0.02) BF16, one safetensors shard per 4 layers with an index;
the Qwen2 BPE tokenizer files are copied from the qwen3moe fixture
(scripts/fixtures.sh synthetic qwen3moe). Idempotent (a .complete marker).
usage: make_bench_models.py [--out DIR] [NAME...]   (default: the two Qwen3 models)
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from hf_fixture_io import cache_root, log, st_tensor, write_json, write_safetensors  # noqa: E402

COMMON = dict(hidden_size=1024, num_hidden_layers=16, num_attention_heads=16, num_key_value_heads=2, head_dim=128,
              max_position_embeddings=40960, rms_norm_eps=1e-6, rope_theta=1000000.0, vocab_size=151936,
              tie_word_embeddings=False, hidden_act="silu", attention_bias=False, bos_token_id=151643,
              eos_token_id=151645, torch_dtype="bfloat16", use_sliding_window=False, sliding_window=None)
MODELS = {
    "qwen3moe-a3b-half": dict(COMMON, architectures=["Qwen3MoeForCausalLM"], model_type="qwen3_moe",
                              intermediate_size=3072, moe_intermediate_size=384, num_experts=128,
                              num_experts_per_tok=8, norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[]),
    "qwen3-dense-twin": dict(COMMON, architectures=["Qwen3ForCausalLM"], model_type="qwen3",
                             intermediate_size=3072, max_window_layers=16),
    "smollm2-1.7b-shape": dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=2048,
                               num_hidden_layers=24, num_attention_heads=32, num_key_value_heads=32, head_dim=64,
                               intermediate_size=8192, max_position_embeddings=8192, rms_norm_eps=1e-5,
                               rope_theta=130000.0, vocab_size=49152, tie_word_embeddings=True, hidden_act="silu",
                               attention_bias=False, mlp_bias=False, bos_token_id=1, eos_token_id=2,
                               torch_dtype="bfloat16"),
}
# Tokenizer files per model (default: the qwen3moe fixture's Qwen2 BPE).
TOKENIZER = {"smollm2-1.7b-shape": "smollm2-135m-instruct"}


def layer(rng, cfg: dict, i: int) -> dict:
    h, hd = cfg["hidden_size"], cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    lin = lambda o, n: rng.standard_normal((o, n), dtype=np.float32) * np.float32(0.02)  # noqa: E731
    p = f"model.layers.{i}."
    t = {p + "input_layernorm.weight": np.ones(h, np.float32), p + "post_attention_layernorm.weight": np.ones(h, np.float32),
         p + "self_attn.q_proj.weight": lin(q, h), p + "self_attn.k_proj.weight": lin(kv, h),
         p + "self_attn.v_proj.weight": lin(kv, h), p + "self_attn.o_proj.weight": lin(h, q)}
    if cfg["model_type"].startswith("qwen3"):  # per-head q/k RMSNorm
        t[p + "self_attn.q_norm.weight"] = np.ones(hd, np.float32)
        t[p + "self_attn.k_norm.weight"] = np.ones(hd, np.float32)
    if "num_experts" in cfg:
        E, F = cfg["num_experts"], cfg["moe_intermediate_size"]
        t[p + "mlp.gate.weight"] = rng.standard_normal((E, h), dtype=np.float32) * np.float32(0.5)
        for e in range(E):
            x = p + f"mlp.experts.{e}."
            t[x + "gate_proj.weight"], t[x + "up_proj.weight"], t[x + "down_proj.weight"] = lin(F, h), lin(F, h), lin(h, F)
    else:
        F = cfg["intermediate_size"]
        t[p + "mlp.gate_proj.weight"], t[p + "mlp.up_proj.weight"], t[p + "mlp.down_proj.weight"] = \
            lin(F, h), lin(F, h), lin(h, F)
    return t


def make(name: str, out: Path, tok_src: Path) -> None:
    d = out / name
    if (d / ".complete").is_file():
        log(f"up to date: {d}")
        return
    cfg = MODELS[name]
    tmp = out / (name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    rng = np.random.default_rng(7)
    wm, total, L = {}, 0, cfg["num_hidden_layers"]
    groups = [list(range(i, min(i + 4, L))) for i in range(0, L, 4)]
    n_files = len(groups) + 1
    for k, g in enumerate(groups + [None]):
        if g is None:
            h, V = cfg["hidden_size"], cfg["vocab_size"]
            t = {"model.embed_tokens.weight": rng.standard_normal((V, h), dtype=np.float32) * np.float32(0.02),
                 "model.norm.weight": np.ones(h, np.float32)}
            if not cfg["tie_word_embeddings"]:
                t["lm_head.weight"] = rng.standard_normal((V, h), dtype=np.float32) * np.float32(0.02)
        else:
            t = {}
            for i in g:
                t.update(layer(rng, cfg, i))
        fn = f"model-{k + 1:05d}-of-{n_files:05d}.safetensors"
        st = {n: st_tensor("BF16", a) for n, a in t.items()}
        write_safetensors(tmp / fn, st, {"format": "pt"})
        for n, v in st.items():
            wm[n] = fn
            total += len(v[2])
        log(f"{name}: wrote {fn}")
    write_json(tmp / "model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": dict(sorted(wm.items()))})
    write_json(tmp / "config.json", dict(sorted(cfg.items())))
    for f in ("tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json"):
        if (tok_src / f).exists():
            shutil.copyfile(tok_src / f, tmp / f)
    (tmp / ".complete").write_text("bench-v1\n")
    shutil.rmtree(d, ignore_errors=True)
    tmp.rename(d)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*")
    ap.add_argument("--out", type=Path, default=cache_root() / "bench" / "models")
    a = ap.parse_args()
    for n in a.names or ["qwen3moe-a3b-half", "qwen3-dense-twin"]:  # the 1.7B shape only when named
        if n not in MODELS:
            print(f"make_bench_models: unknown model '{n}' (have: {', '.join(MODELS)})", file=sys.stderr)
            return 2
        tok = cache_root() / TOKENIZER[n] if n in TOKENIZER else cache_root() / "synthetic" / "qwen3moe"
        if not (tok / "tokenizer.json").exists():
            print(f"make_bench_models: no tokenizer at {tok} (scripts/fixtures.sh smollm2 / synthetic qwen3moe)",
                  file=sys.stderr)
            return 1
        make(n, a.out, tok)
        print(a.out / n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
