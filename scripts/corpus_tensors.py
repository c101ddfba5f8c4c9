"""Hugging Face tensor names and shapes for a (shrunk) config.json, per family.

Used by make_corpus_checkpoint.py to write checkpoints for the config corpus.
The names are those of the published checkpoints (what `f8 convert` reads):
per-expert MoE weights, gpt-oss's MXFP4 `*_blocks` / `*_scales`, DeepSeek's MLA
projections, Gemma 3's `language_model.` / `vision_tower.` /
`multi_modal_projector.` prefixes. scripts/gen_corpus_goldens.py loads every
checkpoint with transformers and fails on any missing or unexpected tensor, so
these tables are checked against transformers itself.

Each tensor is a Spec(name, shape, kind, fan_in). kind says how
make_corpus_checkpoint draws it and whether a quantization_config may store it
as FP8:
  embed, lm_head          [vocab, hidden]
  linear                  2-D projection weight [out, in] (FP8-eligible)
  router                  MoE router / gate weight (never FP8: modules_to_not_convert)
  bias, router_bias       1-D/2-D additive terms
  norm                    RMSNorm weight multiplied as w (drawn around 1)
  norm0                   Gemma RMSNorm weight multiplied as (1 + w) (drawn around 0)
  e_bias                  DeepSeek's e_score_correction_bias (F32 in the release)
  sinks                   gpt-oss per-head attention sink logits
  mxfp4_blocks/scales     gpt-oss experts, uint8 (two E2M1 codes per byte / E8M0 exponents)
  vision                  any vision-tower tensor (values only need to be finite)
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spec:
    name: str
    shape: tuple
    kind: str
    fan_in: int = 1


# transformers' class defaults for tie_word_embeddings when config.json omits it
TIED_BY_DEFAULT = {"gemma", "gemma2", "gemma3", "gemma3_text"}


def text_config(cfg: dict) -> dict:
    return cfg["text_config"] if isinstance(cfg.get("text_config"), dict) else cfg


def family(cfg: dict) -> str:
    arch = (cfg.get("architectures") or [""])[0]
    mt = text_config(cfg).get("model_type") or cfg.get("model_type") or ""
    if arch == "Gemma3ForConditionalGeneration":
        return "gemma3_cg"
    return {"llama": "llama", "mistral": "llama", "qwen2": "qwen2", "qwen3": "qwen3", "phi3": "phi3",
            "gemma2": "gemma", "gemma3_text": "gemma", "gemma3": "gemma", "mixtral": "mixtral",
            "qwen2_moe": "qwen2_moe", "qwen3_moe": "qwen3_moe", "gpt_oss": "gpt_oss",
            "deepseek_v3": "deepseek", "deepseek_v2": "deepseek", "mimo": "qwen2"}.get(mt, "llama")


def _head_dim(c: dict) -> int:
    return c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]


def _attention(p: str, c: dict, fam: str) -> list:
    h, nh = c["hidden_size"], c["num_attention_heads"]
    nkv, hd = c.get("num_key_value_heads") or nh, _head_dim(c)
    t = []
    if fam == "phi3":
        t.append(Spec(p + "self_attn.qkv_proj.weight", ((nh + 2 * nkv) * hd, h), "linear", h))
    else:
        for x, rows in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
            t.append(Spec(p + f"self_attn.{x}_proj.weight", (rows, h), "linear", h))
    t.append(Spec(p + "self_attn.o_proj.weight", (h, nh * hd), "linear", nh * hd))
    qkv_bias = fam in ("qwen2", "qwen2_moe") or c.get("attention_bias") is True
    if qkv_bias and fam != "phi3":
        for x, rows in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
            t.append(Spec(p + f"self_attn.{x}_proj.bias", (rows,), "bias"))
    if c.get("attention_bias") is True and fam != "phi3":
        t.append(Spec(p + "self_attn.o_proj.bias", (h,), "bias"))
    if fam in ("qwen3", "qwen3_moe") or (fam == "gemma" and c.get("model_type") != "gemma2"):
        kind = "norm0" if fam == "gemma" else "norm"
        t += [Spec(p + "self_attn.q_norm.weight", (hd,), kind), Spec(p + "self_attn.k_norm.weight", (hd,), kind)]
    if fam == "gpt_oss":
        t.append(Spec(p + "self_attn.sinks", (nh,), "sinks"))
    return t


def _mla(p: str, c: dict) -> list:
    h, nh = c["hidden_size"], c["num_attention_heads"]
    nope, rope, vd, kvr = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"], c["kv_lora_rank"]
    qr = c.get("q_lora_rank")
    t = []
    if qr:
        t += [Spec(p + "self_attn.q_a_proj.weight", (qr, h), "linear", h),
              Spec(p + "self_attn.q_a_layernorm.weight", (qr,), "norm"),
              Spec(p + "self_attn.q_b_proj.weight", (nh * (nope + rope), qr), "linear", qr)]
    else:
        t.append(Spec(p + "self_attn.q_proj.weight", (nh * (nope + rope), h), "linear", h))
    t += [Spec(p + "self_attn.kv_a_proj_with_mqa.weight", (kvr + rope, h), "linear", h),
          Spec(p + "self_attn.kv_a_layernorm.weight", (kvr,), "norm"),
          Spec(p + "self_attn.kv_b_proj.weight", (nh * (nope + vd), kvr), "linear", kvr),
          Spec(p + "self_attn.o_proj.weight", (h, nh * vd), "linear", nh * vd)]
    if c.get("attention_bias") is True:
        t.append(Spec(p + "self_attn.o_proj.bias", (h,), "bias"))
    return t


def _swiglu(p: str, h: int, ff: int, bias: bool = False) -> list:
    t = [Spec(p + "gate_proj.weight", (ff, h), "linear", h), Spec(p + "up_proj.weight", (ff, h), "linear", h),
         Spec(p + "down_proj.weight", (h, ff), "linear", ff)]
    if bias:
        t += [Spec(p + "gate_proj.bias", (ff,), "bias"), Spec(p + "up_proj.bias", (ff,), "bias"),
              Spec(p + "down_proj.bias", (h,), "bias")]
    return t


def n_experts(c: dict) -> int:
    """Routed experts: num_experts (Qwen, as published), num_local_experts
    (Mixtral, gpt-oss, and Qwen MoE as transformers 5 saves it), n_routed_experts (DeepSeek)."""
    return c.get("num_experts") or c.get("num_local_experts") or c.get("n_routed_experts") or 0


def _qwen_moe_layer(i: int, c: dict) -> bool:
    """Qwen2MoeDecoderLayer / Qwen3MoeDecoderLayer's choice of a sparse MLP."""
    n = n_experts(c)
    step = c.get("decoder_sparse_step") or 1
    return i not in (c.get("mlp_only_layers") or []) and n > 0 and (i + 1) % step == 0


def _mlp(p: str, i: int, c: dict, fam: str) -> list:
    h = c["hidden_size"]
    if fam == "phi3":
        ff = c["intermediate_size"]
        return [Spec(p + "mlp.gate_up_proj.weight", (2 * ff, h), "linear", h),
                Spec(p + "mlp.down_proj.weight", (h, ff), "linear", ff)]
    if fam == "mixtral":
        E, ff = n_experts(c), c["intermediate_size"]
        t = [Spec(p + "block_sparse_moe.gate.weight", (E, h), "router", h)]
        for e in range(E):
            q = p + f"block_sparse_moe.experts.{e}."
            t += [Spec(q + "w1.weight", (ff, h), "linear", h), Spec(q + "w2.weight", (h, ff), "linear", ff),
                  Spec(q + "w3.weight", (ff, h), "linear", h)]
        return t
    if fam in ("qwen2_moe", "qwen3_moe") and _qwen_moe_layer(i, c):
        E, ff = n_experts(c), c["moe_intermediate_size"]
        t = [Spec(p + "mlp.gate.weight", (E, h), "router", h)]
        for e in range(E):
            t += _swiglu(p + f"mlp.experts.{e}.", h, ff)
        if fam == "qwen2_moe" and c.get("shared_expert_intermediate_size"):
            t += _swiglu(p + "mlp.shared_expert.", h, c["shared_expert_intermediate_size"])
            t.append(Spec(p + "mlp.shared_expert_gate.weight", (1, h), "router", h))
        return t
    if fam == "deepseek":
        first = c.get("first_k_dense_replace") or 0
        freq = c.get("moe_layer_freq") or 1
        if c.get("n_routed_experts") and i >= first and i % freq == 0:
            E, ff = n_experts(c), c["moe_intermediate_size"]
            t = [Spec(p + "mlp.gate.weight", (E, h), "router", h)]
            if c.get("topk_method") == "noaux_tc":
                t.append(Spec(p + "mlp.gate.e_score_correction_bias", (E,), "e_bias"))
            for e in range(E):
                t += _swiglu(p + f"mlp.experts.{e}.", h, ff)
            if c.get("n_shared_experts"):
                t += _swiglu(p + "mlp.shared_experts.", h, ff * c["n_shared_experts"])
            return t
    if fam == "gpt_oss":
        E, ff = n_experts(c), c["intermediate_size"]
        q = p + "mlp.experts."
        # Published layout: gate_up rows interleave gate (even) and up (odd);
        # the input dim is split in 32-element blocks of 16 bytes.
        return [Spec(p + "mlp.router.weight", (E, h), "router", h), Spec(p + "mlp.router.bias", (E,), "router_bias"),
                Spec(q + "gate_up_proj_blocks", (E, 2 * ff, h // 32, 16), "mxfp4_blocks", h),
                Spec(q + "gate_up_proj_scales", (E, 2 * ff, h // 32), "mxfp4_scales", h),
                Spec(q + "gate_up_proj_bias", (E, 2 * ff), "bias"),
                Spec(q + "down_proj_blocks", (E, h, ff // 32, 16), "mxfp4_blocks", ff),
                Spec(q + "down_proj_scales", (E, h, ff // 32), "mxfp4_scales", ff),
                Spec(q + "down_proj_bias", (E, h), "bias")]
    return _swiglu(p + "mlp.", h, c["intermediate_size"], bias=c.get("mlp_bias") is True)


def language_model(c: dict, fam: str, prefix: str = "model.", lm_head: str = "lm_head.weight") -> list:
    """Every tensor of a decoder-only language model (the text half of Gemma 3)."""
    h, V, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    gemma = fam == "gemma"
    norm = "norm0" if gemma else "norm"
    t = [Spec(prefix + "embed_tokens.weight", (V, h), "embed", h)]
    for i in range(L):
        p = f"{prefix}layers.{i}."
        t.append(Spec(p + "input_layernorm.weight", (h,), norm))
        t += _mla(p, c) if fam == "deepseek" else _attention(p, c, fam)
        t.append(Spec(p + "post_attention_layernorm.weight", (h,), norm))
        if gemma:
            t += [Spec(p + "pre_feedforward_layernorm.weight", (h,), norm),
                  Spec(p + "post_feedforward_layernorm.weight", (h,), norm)]
        t += _mlp(p, i, c, fam)
    t.append(Spec(prefix + "norm.weight", (h,), norm))
    tied = c.get("tie_word_embeddings", c.get("model_type") in TIED_BY_DEFAULT)
    if not tied and lm_head:
        t.append(Spec(lm_head, (V, h), "lm_head", h))
    return t


def vision_tower(cfg: dict) -> list:
    """Gemma 3's SigLIP tower and projector, as google/gemma-3-*-it publish them."""
    v, tc = cfg["vision_config"], text_config(cfg)
    vh, vi = v["hidden_size"], v["intermediate_size"]
    n_pos = (v["image_size"] // v["patch_size"]) ** 2
    p = "vision_tower.vision_model."
    t = [Spec(p + "embeddings.patch_embedding.weight", (vh, v.get("num_channels", 3), v["patch_size"], v["patch_size"]),
              "vision", 3 * v["patch_size"] ** 2),
         Spec(p + "embeddings.patch_embedding.bias", (vh,), "vision"),
         Spec(p + "embeddings.position_embedding.weight", (n_pos, vh), "vision", vh)]
    for i in range(v["num_hidden_layers"]):
        q = f"{p}encoder.layers.{i}."
        for ln in ("layer_norm1", "layer_norm2"):
            t += [Spec(q + ln + ".weight", (vh,), "vision"), Spec(q + ln + ".bias", (vh,), "vision")]
        for x in ("q", "k", "v", "out"):
            t += [Spec(q + f"self_attn.{x}_proj.weight", (vh, vh), "vision", vh),
                  Spec(q + f"self_attn.{x}_proj.bias", (vh,), "vision")]
        t += [Spec(q + "mlp.fc1.weight", (vi, vh), "vision", vh), Spec(q + "mlp.fc1.bias", (vi,), "vision"),
              Spec(q + "mlp.fc2.weight", (vh, vi), "vision", vi), Spec(q + "mlp.fc2.bias", (vh,), "vision")]
    if v.get("vision_use_head", True):  # SiglipVisionConfig's default: an attention-pooling head
        q = p + "head."
        t += [Spec(q + "probe", (1, 1, vh), "vision"),
              Spec(q + "attention.in_proj_weight", (3 * vh, vh), "vision", vh),
              Spec(q + "attention.in_proj_bias", (3 * vh,), "vision"),
              Spec(q + "attention.out_proj.weight", (vh, vh), "vision", vh),
              Spec(q + "attention.out_proj.bias", (vh,), "vision"),
              Spec(q + "layernorm.weight", (vh,), "vision"), Spec(q + "layernorm.bias", (vh,), "vision"),
              Spec(q + "mlp.fc1.weight", (vi, vh), "vision", vh), Spec(q + "mlp.fc1.bias", (vi,), "vision"),
              Spec(q + "mlp.fc2.weight", (vh, vi), "vision", vi), Spec(q + "mlp.fc2.bias", (vh,), "vision")]
    t += [Spec(p + "post_layernorm.weight", (vh,), "vision"), Spec(p + "post_layernorm.bias", (vh,), "vision"),
          Spec("multi_modal_projector.mm_input_projection_weight", (vh, tc["hidden_size"]), "vision", vh),
          Spec("multi_modal_projector.mm_soft_emb_norm.weight", (vh,), "vision")]
    return t


def checkpoint_tensors(cfg: dict) -> list:
    """Every tensor of the checkpoint that `cfg` (a shrunk config.json) describes."""
    fam = family(cfg)
    if fam == "gemma3_cg":
        tc = dict(text_config(cfg))
        tc.setdefault("tie_word_embeddings", cfg.get("tie_word_embeddings", True))
        return language_model(tc, "gemma", prefix="language_model.model.",
                              lm_head="language_model.lm_head.weight") + vision_tower(cfg)
    return language_model(cfg, fam)
