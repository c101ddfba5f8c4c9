"""Mixture-of-experts synthetic fixtures (imported by make_synthetic.py,
which registers them in FIXTURES): tiny seeded checkpoints with the tensor
names and config.json form the published Mixtral / Qwen2-MoE / Qwen3-MoE
checkpoints have, and a block-FP8 Qwen3-MoE (Qwen3-30B-A3B-FP8's layout:
F8_E4M3 projections with F32 weight_scale_inv per block, BF16 router, norms
and embeddings).

  mixtral      MixtralForCausalLM: 2 layers, 4 experts, top-2 (always renormalized),
               block_sparse_moe.experts.E.w1/w3/w2; Mistral SentencePiece, BF16
  qwen2moe     Qwen2MoeForCausalLM: 3 layers (layer 1 dense via mlp_only_layers),
               6 experts, top-2 without renormalization, shared expert + its sigmoid
               gate, q/k/v biases; Qwen2 BPE, BF16
  qwen3moe     Qwen3MoeForCausalLM in the transformers 5 form (rope_parameters,
               dtype): 2 layers, 8 experts, top-3 renormalized, q/k norms,
               head_dim 32 on hidden 64; Qwen2 BPE, BF16
  qwen3moe-fp8 the same shapes as block FP8 (weight_block_size [32, 32]: several
               blocks per matrix at these sizes), every projection incl. experts

The router weights are drawn ~N(0, 0.5) (not 0.02 like the projections), so
the routers' top-k choices are far from ties and every backend picks the
same experts as transformers.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np


def moe_tensors(mk, cfg: dict, seed: int, names: str, qkv_bias: bool = False, qk_norm: bool = False,
                shared: bool = False, dense_layers=()) -> dict:
    """float32 tensors: the attention and norms of llama_tensors, then per MoE
    layer a router and the experts (Qwen or Mixtral names)."""
    dense_cfg = dict(cfg)
    t = mk.llama_tensors(dense_cfg, seed, qkv_bias=qkv_bias, qk_norm=qk_norm)
    W = mk.Weights(seed + 500)
    h, L, E = cfg["hidden_size"], cfg["num_hidden_layers"], cfg.get("num_local_experts") or cfg["num_experts"]
    F = cfg.get("moe_intermediate_size") or cfg["intermediate_size"]
    for i in range(L):
        p = f"model.layers.{i}."
        if i in dense_layers:
            continue
        for x in ("gate", "up", "down"):
            del t[p + f"mlp.{x}_proj.weight"]
        blk = p + ("block_sparse_moe." if names == "mixtral" else "mlp.")
        t[blk + "gate.weight"] = (W.rng.standard_normal((E, h), dtype=np.float32) * np.float32(0.5))
        for e in range(E):
            ex = blk + f"experts.{e}."
            g, u, d = W.linear(F, h), W.linear(F, h), W.linear(h, F)
            if names == "mixtral":
                t[ex + "w1.weight"], t[ex + "w3.weight"], t[ex + "w2.weight"] = g, u, d
            else:
                t[ex + "gate_proj.weight"], t[ex + "up_proj.weight"], t[ex + "down_proj.weight"] = g, u, d
        if shared:
            S = cfg["shared_expert_intermediate_size"]
            t[p + "mlp.shared_expert.gate_proj.weight"] = W.linear(S, h)
            t[p + "mlp.shared_expert.up_proj.weight"] = W.linear(S, h)
            t[p + "mlp.shared_expert.down_proj.weight"] = W.linear(h, S)
            t[p + "mlp.shared_expert_gate.weight"] = W.rng.standard_normal((1, h), dtype=np.float32) * np.float32(0.3)
    return t


def make_mixtral(mk, d: Path, cache: Path) -> None:
    cfg = mk.base_config("MixtralForCausalLM", "mixtral", hidden_size=64, intermediate_size=96,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=32768, rms_norm_eps=1e-5, rope_theta=1000000.0,
                         sliding_window=None, num_local_experts=4, num_experts_per_tok=2,
                         output_router_logits=False, router_aux_loss_coef=0.02, router_jitter_noise=0.0,
                         vocab_size=32000, tie_word_embeddings=False, bos_token_id=1, eos_token_id=2,
                         torch_dtype="bfloat16", transformers_version="4.57.1")
    mk.write_json(d / "config.json", cfg)
    mk.write_weights(d, moe_tensors(mk, cfg, 1101, "mixtral"), "BF16")
    mk.write_spm_tokenizer(d, mk.spm_model(cache), mk.template("mistral-instruct-v0.1.jinja"))
    mk.write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2})


def make_qwen2moe(mk, d: Path, cache: Path) -> None:
    cfg = mk.base_config("Qwen2MoeForCausalLM", "qwen2_moe", hidden_size=64, intermediate_size=80,
                         moe_intermediate_size=32, shared_expert_intermediate_size=48, num_hidden_layers=3,
                         num_attention_heads=4, num_key_value_heads=2, num_experts=6, num_experts_per_tok=2,
                         norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[1],
                         max_position_embeddings=32768, max_window_layers=3, rms_norm_eps=1e-6,
                         rope_theta=1000000.0, sliding_window=32768, use_sliding_window=False,
                         output_router_logits=False, router_aux_loss_coef=0.001, vocab_size=151936,
                         tie_word_embeddings=False, bos_token_id=151643, eos_token_id=151645,
                         torch_dtype="bfloat16", transformers_version="4.57.1")
    del cfg["head_dim"]  # Qwen2MoeConfig has none: hidden / heads
    mk.write_json(d / "config.json", cfg)
    cfg["head_dim"] = 16
    mk.write_weights(d, moe_tensors(mk, cfg, 1102, "qwen", qkv_bias=True, shared=True, dense_layers=(1,)), "BF16")
    mk.write_qwen_tokenizer(d)


def qwen3moe_cfg(mk, **kw) -> dict:
    base = dict(hidden_size=64, intermediate_size=96, moe_intermediate_size=32, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, head_dim=32, num_experts=8,
                num_experts_per_tok=3, norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[],
                max_position_embeddings=40960, rms_norm_eps=1e-6,
                rope_parameters={"rope_theta": 1000000.0, "rope_type": "default"}, sliding_window=None,
                use_sliding_window=False, attention_bias=False, router_aux_loss_coef=0.001,
                output_router_logits=False, vocab_size=151936, tie_word_embeddings=False,
                bos_token_id=151643, eos_token_id=151645, dtype="bfloat16", transformers_version="5.25.0")
    base.update(kw)
    return mk.base_config("Qwen3MoeForCausalLM", "qwen3_moe", **base)


def make_qwen3moe(mk, d: Path, cache: Path) -> None:
    cfg = qwen3moe_cfg(mk)
    mk.write_json(d / "config.json", cfg)
    mk.write_weights(d, moe_tensors(mk, cfg, 1103, "qwen", qk_norm=True), "BF16")
    mk.write_qwen_tokenizer(d)


def make_qwen3moe_fp8(mk, d: Path, cache: Path) -> None:
    B = 32
    cfg = qwen3moe_cfg(mk)
    cfg["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                                  "weight_block_size": [B, B]}
    mk.write_json(d / "config.json", cfg)
    t = moe_tensors(mk, cfg, 1104, "qwen", qk_norm=True)
    st = {}
    for n, a in t.items():
        if not (n.startswith("model.layers.") and n.endswith("_proj.weight")):
            st[n] = mk.st_tensor("BF16", a)  # router (mlp.gate), norms, embeddings, lm_head
            continue
        o, i = a.shape
        bo, bi = math.ceil(o / B), math.ceil(i / B)
        sinv = np.zeros((bo, bi), dtype=np.float32)
        codes = np.zeros_like(a, dtype=np.uint8)
        for r in range(bo):
            for c in range(bi):
                blk = a[r * B:(r + 1) * B, c * B:(c + 1) * B]
                s = np.float32(np.abs(blk).max() / mk.E4M3_MAX)
                sinv[r, c] = s
                codes[r * B:(r + 1) * B, c * B:(c + 1) * B] = mk.f32_to_e4m3_bits(blk / s)
        st[n] = mk.st_tensor("F8_E4M3", codes)
        st[n[: -len(".weight")] + ".weight_scale_inv"] = mk.st_tensor("F32", sinv)
    mk.write_safetensors(d / "model.safetensors", st, {"format": "pt"})
    mk.write_qwen_tokenizer(d)


FIXTURES = {
    "mixtral": make_mixtral,
    "qwen2moe": make_qwen2moe,
    "qwen3moe": make_qwen3moe,
    "qwen3moe-fp8": make_qwen3moe_fp8,
}
