"""DeepSeek-V3 synthetic fixtures (imported by make_synthetic.py, which
registers them in FIXTURES): tiny seeded DeepseekV3ForCausalLM checkpoints
made from the published configs, with the tensor names, dtypes and layout
of the published checkpoints.

  deepseek-v3       deepseek-ai/DeepSeek-V3's config.json
                    (tests/goldens/configs/published) shrunk by
                    scripts/shrink_config.py (every key kept: MLA ranks 48/32,
                    nope 16 / rope 8 / v 16, 4 heads, 8 routed experts in 4
                    groups keeping 2, top-4, 1 dense + 2 MoE layers, YaRN
                    factor 40 with mscale 1/1, rope_interleave by default,
                    block FP8 with 32 x 32 blocks); then vocab_size and the
                    bos/eos ids follow the tokenizer (below). Block FP8 as
                    published: every projection (experts and shared experts
                    included) F8_E4M3 with an F32 weight_scale_inv per block,
                    BF16 norms, router (mlp.gate) and embeddings, F32
                    e_score_correction_bias. The multi-token-prediction layer
                    (num_nextn_predict_layers = 1) is written after the 3
                    decoder layers as DeepSeek publishes it (model.layers.3.*:
                    embed_tokens, enorm, hnorm, eh_proj, shared_head.{norm,head}
                    and a full MoE decoder layer): the converter must skip it.
                    Chat template: DeepSeek-V3.1's.
  deepseek-r1       the same from deepseek-ai/DeepSeek-R1's config.json (another
                    seed); the DeepSeek-R1 family's template (R1-Distill's).
  deepseek-v3-lite  DeepseekV3 shaped like DeepSeek-V2-Lite: q_lora_rank null
                    (q_proj directly), rope_interleave false, n_group 1,
                    norm_topk_prob false, routed_scaling_factor 1, no MTP layer,
                    BF16, config in transformers 5's form (rope_parameters with
                    YaRN, dtype).

Tokenizer (all three): Qwen2's byte-level BPE (DeepSeek's 128k vocabulary is
not available offline) plus DeepSeek's special tokens as added tokens
(<｜begin▁of▁sentence｜>, <｜User｜>, ...), so the templates render to single
special-token ids; vocab_size 151936.

Weights: projections N(0, 1/fan_in) (q_b and kv_b x 2: attention sharp
enough that positions matter), norms 1 + N(0, 0.1), embeddings N(0, 1/hidden),
lm_head N(0, 1/hidden) x 4, router N(0, 1) / sqrt(hidden) x 3 and
e_score_correction_bias N(0, 0.1): expert choices far from ties.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

N_QWEN = 151646  # Qwen2 tokenizer ids 0..151645; DeepSeek's specials follow
SPECIALS = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<｜User｜>", "<｜Assistant｜>",
            "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>", "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>",
            "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>", "<｜tool▁output▁begin｜>",
            "<｜tool▁output▁end｜>", "<｜tool▁sep｜>"]
NOT_SPECIAL = ["<think>", "</think>"]  # added tokens, not special (as in DeepSeek's tokenizer)
TOK = {t: N_QWEN + i for i, t in enumerate(SPECIALS + NOT_SPECIAL)}
BOS, EOS, PAD = TOK["<｜begin▁of▁sentence｜>"], TOK["<｜end▁of▁sentence｜>"], TOK["<｜▁pad▁｜>"]
V = 151936
B = 32  # FP8 block (the shrunk weight_block_size)


def write_deepseek_tokenizer(mk, d: Path, template: str) -> None:
    v = mk.read_gguf_vocab(mk.vocab_dir() / "ggml-vocab-qwen2.gguf")
    tj = mk.bpe_tokenizer_json(v, N_QWEN)
    for tok, i in TOK.items():
        tj["model"]["vocab"][tok] = i
        tj["added_tokens"].append({"id": i, "content": tok, "single_word": False, "lstrip": False,
                                   "rstrip": False, "normalized": tok in NOT_SPECIAL,
                                   "special": tok not in NOT_SPECIAL})
    mk.write_json(d / "tokenizer.json", tj)
    mk.write_json(d / "tokenizer_config.json", {
        "added_tokens_decoder": mk.added_tokens_decoder(tj), "bos_token": SPECIALS[0],
        "clean_up_tokenization_spaces": False, "eos_token": SPECIALS[1], "legacy": True,
        "model_max_length": 131072, "pad_token": SPECIALS[2], "sp_model_kwargs": {}, "unk_token": None,
        "tokenizer_class": "LlamaTokenizerFast", "add_bos_token": True, "add_eos_token": False})
    mk.write_json(d / "special_tokens_map.json", mk.special_map(SPECIALS[0], SPECIALS[1], None, SPECIALS[2]))
    chat = mk.HERE.parent / "tests" / "goldens" / "chat" / "templates" / template  # the published templates
    (d / "chat_template.jinja").write_text(chat.read_text(encoding="utf-8"), encoding="utf-8")
    mk.write_json(d / "generation_config.json", {"bos_token_id": BOS, "eos_token_id": EOS, "do_sample": True,
                                                 "temperature": 0.6, "top_p": 0.95})


class Draw:
    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def linear(self, out_f: int, in_f: int, gain: float = 1.0) -> np.ndarray:
        return (self.rng.standard_normal((out_f, in_f)) * (gain / math.sqrt(in_f))).astype(np.float32)

    def norm(self, n: int) -> np.ndarray:
        return (1.0 + 0.1 * self.rng.standard_normal(n)).astype(np.float32)


def layer_tensors(W: Draw, c: dict, p: str, moe: bool) -> dict:
    """One decoder layer (names as published): MLA attention, dense or MoE MLP."""
    h, nh = c["hidden_size"], c["num_attention_heads"]
    nope, rope, vd, kvr = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"], c["kv_lora_rank"]
    qr = c.get("q_lora_rank")
    t = {p + "input_layernorm.weight": W.norm(h)}
    a = p + "self_attn."
    if qr:
        t[a + "q_a_proj.weight"] = W.linear(qr, h)
        t[a + "q_a_layernorm.weight"] = W.norm(qr)
        t[a + "q_b_proj.weight"] = W.linear(nh * (nope + rope), qr, 2.0)
    else:
        t[a + "q_proj.weight"] = W.linear(nh * (nope + rope), h, 2.0)
    t[a + "kv_a_proj_with_mqa.weight"] = W.linear(kvr + rope, h)
    t[a + "kv_a_layernorm.weight"] = W.norm(kvr)
    t[a + "kv_b_proj.weight"] = W.linear(nh * (nope + vd), kvr, 2.0)
    t[a + "o_proj.weight"] = W.linear(h, nh * vd)
    t[p + "post_attention_layernorm.weight"] = W.norm(h)
    m = p + "mlp."
    if not moe:
        ff = c["intermediate_size"]
        t.update({m + "gate_proj.weight": W.linear(ff, h), m + "up_proj.weight": W.linear(ff, h),
                  m + "down_proj.weight": W.linear(h, ff)})
        return t
    E, ff = c["n_routed_experts"], c["moe_intermediate_size"]
    t[m + "gate.weight"] = W.linear(E, h, 3.0)
    t[m + "gate.e_score_correction_bias"] = (W.rng.standard_normal(E) * 0.1).astype(np.float32)
    for e in range(E):
        x = m + f"experts.{e}."
        t.update({x + "gate_proj.weight": W.linear(ff, h), x + "up_proj.weight": W.linear(ff, h),
                  x + "down_proj.weight": W.linear(h, ff)})
    sff = ff * c["n_shared_experts"]
    x = m + "shared_experts."
    t.update({x + "gate_proj.weight": W.linear(sff, h), x + "up_proj.weight": W.linear(sff, h),
              x + "down_proj.weight": W.linear(h, sff)})
    return t


def model_tensors(c: dict, seed: int) -> dict:
    """float32 tensors of the whole checkpoint, MTP layers included."""
    W = Draw(seed)
    h, L = c["hidden_size"], c["num_hidden_layers"]
    first = c.get("first_k_dense_replace", 3)
    t = {"model.embed_tokens.weight": (W.rng.standard_normal((V, h)) / math.sqrt(h)).astype(np.float32)}
    for i in range(L):
        t.update(layer_tensors(W, c, f"model.layers.{i}.", i >= first))
    t["model.norm.weight"] = W.norm(h)
    t["lm_head.weight"] = W.linear(V, h, 4.0)
    for i in range(L, L + c.get("num_nextn_predict_layers", 0)):  # DeepSeek's MTP module, as published
        p = f"model.layers.{i}."
        t[p + "embed_tokens.weight"] = (W.rng.standard_normal((V, h)) / math.sqrt(h)).astype(np.float32)
        t[p + "enorm.weight"] = W.norm(h)
        t[p + "hnorm.weight"] = W.norm(h)
        t[p + "eh_proj.weight"] = W.linear(h, 2 * h)
        t[p + "shared_head.norm.weight"] = W.norm(h)
        t[p + "shared_head.head.weight"] = W.linear(V, h)
        t.update(layer_tensors(W, c, p, True))
    return t


FP8_NOT = (".gate.weight", "layernorm.weight", "norm.weight", "embed_tokens.weight", "head.weight",
           "e_score_correction_bias")


def write_block_fp8(mk, d: Path, t: dict) -> None:
    """Projections as F8_E4M3 + F32 weight_scale_inv per B x B block (DeepSeek's
    layout); everything else BF16, e_score_correction_bias F32."""
    st = {}
    for n, a in t.items():
        if n.endswith("e_score_correction_bias"):
            st[n] = mk.st_tensor("F32", a)
            continue
        if a.ndim != 2 or n.endswith(FP8_NOT) or n == "lm_head.weight":
            st[n] = mk.st_tensor("BF16", a)
            continue
        o, i = a.shape
        bo, bi = math.ceil(o / B), math.ceil(i / B)
        sinv = np.zeros((bo, bi), dtype=np.float32)
        codes = np.zeros_like(a, dtype=np.uint8)
        for r in range(bo):
            for cc in range(bi):
                blk = a[r * B:(r + 1) * B, cc * B:(cc + 1) * B]
                s = np.float32(np.abs(blk).max() / mk.E4M3_MAX)
                sinv[r, cc] = s
                codes[r * B:(r + 1) * B, cc * B:(cc + 1) * B] = mk.f32_to_e4m3_bits(blk / s)
        st[n] = mk.st_tensor("F8_E4M3", codes)
        st[n[: -len(".weight")] + ".weight_scale_inv"] = mk.st_tensor("F32", sinv)
    mk.write_safetensors(d / "model.safetensors", st, {"format": "pt"})


def published_cfg(mk, name: str) -> dict:
    import sys
    sys.path.insert(0, str(mk.HERE))
    from shrink_config import shrink
    src = mk.HERE.parent / "tests" / "goldens" / "configs" / "published" / name / "config.json"
    c = shrink(json.loads(src.read_text(encoding="utf-8")))
    assert c["quantization_config"]["weight_block_size"] == [B, B]
    c.update({"vocab_size": V, "bos_token_id": BOS, "eos_token_id": EOS})
    return c


def make_published(mk, d: Path, name: str, seed: int, template: str) -> None:
    c = published_cfg(mk, name)
    mk.write_json(d / "config.json", c)
    write_block_fp8(mk, d, model_tensors(c, seed))
    write_deepseek_tokenizer(mk, d, template)


def make_v3(mk, d: Path, cache: Path) -> None:
    make_published(mk, d, "deepseek-ai--DeepSeek-V3", 2401, "deepseek-ai-DeepSeek-V3.1.jinja")


def make_r1(mk, d: Path, cache: Path) -> None:
    make_published(mk, d, "deepseek-ai--DeepSeek-R1", 2402, "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja")


def make_v3_lite(mk, d: Path, cache: Path) -> None:
    c = {"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "attention_bias": False,
         "attention_dropout": 0.0, "bos_token_id": BOS, "eos_token_id": EOS, "dtype": "bfloat16",
         "first_k_dense_replace": 1, "hidden_act": "silu", "hidden_size": 64, "initializer_range": 0.02,
         "intermediate_size": 128, "kv_lora_rank": 32, "max_position_embeddings": 163840,
         "moe_intermediate_size": 32, "n_group": 1, "n_routed_experts": 8, "n_shared_experts": 2,
         "norm_topk_prob": False, "num_attention_heads": 4, "num_experts_per_tok": 3, "num_hidden_layers": 3,
         "num_key_value_heads": 4, "num_nextn_predict_layers": 0, "q_lora_rank": None, "qk_nope_head_dim": 16,
         "qk_rope_head_dim": 16, "rms_norm_eps": 1e-6, "rope_interleave": False,
         "rope_parameters": {"rope_type": "yarn", "rope_theta": 10000.0, "factor": 40.0, "beta_fast": 32.0,
                             "beta_slow": 1.0, "mscale": 0.707, "mscale_all_dim": 0.707,
                             "original_max_position_embeddings": 4096},
         "routed_scaling_factor": 1.0, "tie_word_embeddings": False, "topk_group": 1,
         "transformers_version": "5.25.0", "use_cache": True, "v_head_dim": 24, "vocab_size": V}
    mk.write_json(d / "config.json", dict(sorted(c.items())))
    mk.write_weights(d, model_tensors(c, 2403), "BF16")
    write_deepseek_tokenizer(mk, d, "deepseek-ai-DeepSeek-V3.1.jinja")


FIXTURES = {
    "deepseek-v3": make_v3,
    "deepseek-r1": make_r1,
    "deepseek-v3-lite": make_v3_lite,
}
