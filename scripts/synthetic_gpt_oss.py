"""gpt-oss synthetic fixtures (imported by make_synthetic.py, which registers
them in FIXTURES): tiny seeded GptOssForCausalLM checkpoints with the tensor
names, dtypes and config.json forms of the published openai/gpt-oss-20b /
120b, and the same numbers in the dequantized BF16 layout.

  gpt-oss       as published: config.json in transformers 4.55's form
                (rope_theta + rope_scaling yarn, torch_dtype,
                quantization_config {"quant_method": "mxfp4", ...}, the
                unknown keys "experts_per_token" / "initial_context_length"
                the release carries); BF16 attention (q/k/v/o with biases,
                sinks), BF16 router with bias, experts as MXFP4
                (mlp.experts.gate_up_proj_blocks [E, 2F, H/32, 16] U8 + _scales
                [E, 2F, H/32] U8 E8M0, down_proj_blocks / _scales, BF16 biases),
                chat_template.jinja (the published harmony template),
                generation_config eos [<|return|>, <|endoftext|>, <|call|>]
  gpt-oss-bf16  the same model dequantized (every MXFP4 value is exact in BF16)
                in the layout transformers holds and save_pretrained writes:
                mlp.experts.gate_up_proj [E, H, 2F] and down_proj [E, F, H]
                (input-major: transposed against every other weight), config
                in transformers 5's form (rope_parameters, dtype, swiglu_*)

Shapes: hidden 64, 4 query heads x head_dim 64 (q_dim 256 != hidden, as in
gpt-oss), 2 KV heads, 3 layers (sliding, full, sliding; sliding_window 16 so
the golden prompts run past it), 8 experts, top-2, expert width 64. YaRN as
published (factor 32, original context 4096, beta 32/1, no truncation).
The tokenizer is Qwen2's BPE vocabulary (o200k_harmony is not available
offline) plus harmony's special tokens as added tokens, so the harmony
template renders to single special-token ids; vocab_size 151936 > the
tokenizer's 151654 ids, as in Qwen2.

Weights: q/k projections x5 (sharp enough attention that RoPE positions
matter), router ~N(0, 0.5) (+ bias ~N(0, 0.3)) so top-k is far from ties,
sinks ~N(0, 1) (comparable to the sum of a few dozen score terms), MXFP4
exponents 2^-5..2^-1 for gate_up (some gate/up values pass the +-7 clamp)
and 2^-7..2^-4 for down.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

H, NH, NKV, HD, L, E, K, F = 64, 4, 2, 64, 3, 8, 2, 64
V = 151936
SEED = 1201
HARMONY = ["<|startoftext|>", "<|return|>", "<|constrain|>", "<|channel|>", "<|start|>", "<|end|>",
           "<|message|>", "<|call|>"]
N_QWEN = 151646  # Qwen2 tokenizer ids 0..151645; harmony tokens follow
TOK = {t: N_QWEN + i for i, t in enumerate(HARMONY)}
EOT = 151643     # Qwen2's <|endoftext|>, which harmony also has
LAYER_TYPES = ["sliding_attention", "full_attention", "sliding_attention"]
YARN = {"beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0, "original_max_position_embeddings": 4096,
        "rope_type": "yarn", "truncate": False}
FP4 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0],
               dtype=np.float32)


def mxfp4_random(rng, e: int, rows: int, cols: int, exp_lo: int, exp_hi: int):
    """Random MXFP4 [e, rows, cols]: (blocks [e, rows, cols/32, 16] U8 with the
    low nibble first, scales [e, rows, cols/32] U8 E8M0, float32 values)."""
    nib = rng.integers(0, 16, size=(e, rows, cols // 32, 32), dtype=np.uint8)
    blocks = (nib[..., 0::2] | (nib[..., 1::2] << 4)).astype(np.uint8)
    scales = rng.integers(127 + exp_lo, 127 + exp_hi + 1, size=(e, rows, cols // 32), dtype=np.uint8)
    vals = FP4[nib] * np.ldexp(np.float32(1.0), scales.astype(np.int32) - 127)[..., None]
    return blocks, scales, vals.reshape(e, rows, cols).astype(np.float32)


def gpt_oss_tensors(mk, seed: int) -> tuple[dict, dict]:
    """(float32 tensors with gpt-oss names, MXFP4 expert tensors); the MoE
    values are the MXFP4 ones dequantized ([E, out, in])."""
    cfg = {"hidden_size": H, "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV,
           "head_dim": HD, "intermediate_size": F, "vocab_size": V, "tie_word_embeddings": False}
    t = mk.llama_tensors(cfg, seed, qkv_bias=True)
    W = mk.Weights(seed + 500)
    rng = W.rng
    mx = {}
    for i in range(L):
        p = f"model.layers.{i}."
        for x in ("gate", "up", "down"):
            del t[p + f"mlp.{x}_proj.weight"]
        for x in ("q", "k"):  # sharper attention: positions (RoPE) matter for the output
            t[p + f"self_attn.{x}_proj.weight"] *= np.float32(5.0)
        t[p + "self_attn.o_proj.bias"] = W.bias(H)
        t[p + "self_attn.sinks"] = rng.standard_normal(NH, dtype=np.float32)
        t[p + "mlp.router.weight"] = rng.standard_normal((E, H), dtype=np.float32) * np.float32(0.5)
        t[p + "mlp.router.bias"] = rng.standard_normal(E, dtype=np.float32) * np.float32(0.3)
        gb, gs, gv = mxfp4_random(rng, E, 2 * F, H, -5, -1)   # rows interleave gate (even) and up (odd)
        db, ds, dv = mxfp4_random(rng, E, H, F, -7, -4)
        ex = p + "mlp.experts."
        mx[ex + "gate_up_proj_blocks"], mx[ex + "gate_up_proj_scales"] = gb, gs
        mx[ex + "down_proj_blocks"], mx[ex + "down_proj_scales"] = db, ds
        t[ex + "gate_up_proj_bias"] = rng.standard_normal((E, 2 * F), dtype=np.float32) * np.float32(0.3)
        t[ex + "down_proj_bias"] = rng.standard_normal((E, H), dtype=np.float32) * np.float32(0.1)
        t[ex + "gate_up_proj"], t[ex + "down_proj"] = gv, dv  # [E, out, in] values (the BF16 fixture transposes)
    return t, mx


def write_harmony_tokenizer(mk, d: Path) -> None:
    v = mk.read_gguf_vocab(mk.vocab_dir() / "ggml-vocab-qwen2.gguf")
    tj = mk.bpe_tokenizer_json(v, N_QWEN)
    for tok, i in TOK.items():
        tj["model"]["vocab"][tok] = i
        tj["added_tokens"].append({"id": i, "content": tok, "single_word": False, "lstrip": False,
                                   "rstrip": False, "normalized": False, "special": True})
    mk.write_json(d / "tokenizer.json", tj)
    mk.write_json(d / "tokenizer_config.json", {
        "added_tokens_decoder": mk.added_tokens_decoder(tj), "bos_token": "<|startoftext|>",
        "clean_up_tokenization_spaces": False, "eos_token": "<|return|>", "extra_special_tokens": {},
        "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 1000000000000000019884624838656,
        "pad_token": "<|endoftext|>", "tokenizer_class": "PreTrainedTokenizerFast"})
    mk.write_json(d / "special_tokens_map.json", mk.special_map("<|startoftext|>", "<|return|>", None, "<|endoftext|>"))
    (d / "chat_template.jinja").write_text(
        (mk.HERE.parent / "tests" / "goldens" / "chat" / "templates" / "openai-gpt-oss-120b.jinja").read_text(
            encoding="utf-8"), encoding="utf-8")
    mk.write_json(d / "generation_config.json", {
        "bos_token_id": TOK["<|startoftext|>"], "do_sample": True,
        "eos_token_id": [TOK["<|return|>"], EOT, TOK["<|call|>"]], "pad_token_id": EOT})


def base_cfg() -> dict:
    return {"architectures": ["GptOssForCausalLM"], "attention_bias": True, "attention_dropout": 0.0,
            "eos_token_id": TOK["<|return|>"], "head_dim": HD, "hidden_act": "silu", "hidden_size": H,
            "initializer_range": 0.02, "intermediate_size": F, "layer_types": LAYER_TYPES,
            "max_position_embeddings": 131072, "model_type": "gpt_oss", "num_attention_heads": NH,
            "num_experts_per_tok": K, "num_hidden_layers": L, "num_key_value_heads": NKV, "num_local_experts": E,
            "output_router_logits": False, "pad_token_id": EOT, "rms_norm_eps": 1e-05,
            "router_aux_loss_coef": 0.9, "sliding_window": 16, "swiglu_limit": 7.0, "tie_word_embeddings": False,
            "use_cache": True, "vocab_size": V}


def make_gpt_oss(mk, d: Path, cache: Path) -> None:
    cfg = base_cfg()
    cfg.update({"experts_per_token": K, "initial_context_length": 4096, "rope_scaling": dict(YARN),
                "rope_theta": 150000, "torch_dtype": "bfloat16", "transformers_version": "4.55.0.dev0",
                "quantization_config": {"modules_to_not_convert": ["model.layers.*.self_attn",
                                                                   "model.layers.*.mlp.router",
                                                                   "model.embed_tokens", "lm_head"],
                                        "quant_method": "mxfp4"}})
    mk.write_json(d / "config.json", dict(sorted(cfg.items())))
    t, mx = gpt_oss_tensors(mk, SEED)
    st = {n: mk.st_tensor("BF16", a) for n, a in t.items()
          if not n.endswith(("experts.gate_up_proj", "experts.down_proj"))}
    st.update({n: mk.st_tensor("U8", a) for n, a in mx.items()})
    mk.write_safetensors(d / "model.safetensors", st, {"format": "pt"})
    write_harmony_tokenizer(mk, d)


def make_gpt_oss_bf16(mk, d: Path, cache: Path) -> None:
    cfg = base_cfg()
    cfg.update({"dtype": "bfloat16", "rope_parameters": dict(YARN, rope_theta=150000.0), "swiglu_alpha": 1.702,
                "transformers_version": "5.25.0"})
    mk.write_json(d / "config.json", dict(sorted(cfg.items())))
    t, _ = gpt_oss_tensors(mk, SEED)
    for n in list(t):
        if n.endswith(("experts.gate_up_proj", "experts.down_proj")):
            t[n] = np.ascontiguousarray(t[n].transpose(0, 2, 1))  # [E, in, out], as GptOssExperts holds it
    mk.write_weights(d, t, "BF16", shards=2)
    write_harmony_tokenizer(mk, d)


FIXTURES = {
    "gpt-oss": make_gpt_oss,
    "gpt-oss-bf16": make_gpt_oss_bf16,
}
