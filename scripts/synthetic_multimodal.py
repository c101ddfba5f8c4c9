"""Multimodal wrappers of text models (imported by make_synthetic.py, which
registers them in FIXTURES): the checkpoint layout Google publishes Gemma 3
4b/12b/27b in, so the converter's text-model extraction is tested on it.

  gemma3-mm  Gemma3ForConditionalGeneration as google/gemma-3-4b-it's config.json
             has it (transformers 4.50 form: text_config with only some keys, the
             rest Gemma3TextConfig defaults; rope_scaling linear 8 for the global
             layers; vision_config for SigLIP), text weights under
             language_model.model.*, a small SigLIP vision tower under
             vision_tower.vision_model.* and the projector multi_modal_projector.*
             (which f8 must skip); 6 text layers, head_dim 32, window 16; Mistral
             v0.1 SentencePiece (vocab 32000) + ChatML, BF16.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def vision_tensors(rng, hidden: int, inter: int, text_hidden: int, patch: int, n_pos: int) -> dict:
    """SigLIP vision tower + Gemma 3 projector names and shapes (one encoder layer)."""
    t = {}
    p = "vision_tower.vision_model."
    shapes = {p + "embeddings.patch_embedding.weight": (hidden, 3, patch, patch),
              p + "embeddings.patch_embedding.bias": (hidden,),
              p + "embeddings.position_embedding.weight": (n_pos, hidden),
              p + "post_layernorm.weight": (hidden,), p + "post_layernorm.bias": (hidden,),
              "multi_modal_projector.mm_input_projection_weight": (hidden, text_hidden),
              "multi_modal_projector.mm_soft_emb_norm.weight": (hidden,)}
    e = p + "encoder.layers.0."
    for n in ("layer_norm1", "layer_norm2"):
        shapes[e + n + ".weight"] = (hidden,)
        shapes[e + n + ".bias"] = (hidden,)
    for n in ("q_proj", "k_proj", "v_proj", "out_proj"):
        shapes[e + "self_attn." + n + ".weight"] = (hidden, hidden)
        shapes[e + "self_attn." + n + ".bias"] = (hidden,)
    shapes[e + "mlp.fc1.weight"], shapes[e + "mlp.fc1.bias"] = (inter, hidden), (inter,)
    shapes[e + "mlp.fc2.weight"], shapes[e + "mlp.fc2.bias"] = (hidden, inter), (hidden,)
    for n, s in shapes.items():
        t[n] = rng.standard_normal(s, dtype=np.float32) * np.float32(0.02)
    return t


def make_gemma3_mm(mk, d: Path, cache: Path) -> None:
    text = {"hidden_size": 64, "intermediate_size": 128, "model_type": "gemma3_text", "num_hidden_layers": 6,
            "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "query_pre_attn_scalar": 24,
            "rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "sliding_window": 16, "vocab_size": 32000}
    vision = {"hidden_size": 32, "image_size": 28, "intermediate_size": 64, "model_type": "siglip_vision_model",
              "num_attention_heads": 2, "num_hidden_layers": 1, "patch_size": 14, "vision_use_head": False}
    cfg = {"architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": 3, "eoi_token_index": 4,
           "eos_token_id": [2, 32], "image_token_index": 5, "initializer_range": 0.02, "mm_tokens_per_image": 4,
           "model_type": "gemma3", "text_config": text, "torch_dtype": "bfloat16",
           "transformers_version": "4.50.0.dev0", "vision_config": vision}
    mk.write_json(d / "config.json", cfg)
    # Gemma3TextConfig defaults for what text_config leaves out (as transformers fills them).
    full = dict(text, max_position_embeddings=131072, tie_word_embeddings=True)
    t = {"language_model." + k: v for k, v in mk.gemma_tensors(full, 1201).items()}
    t.update(vision_tensors(np.random.default_rng(1202), 32, 64, 64, 14, 4))
    mk.write_weights(d, t, "BF16", shards=2)
    mk.write_spm_tokenizer(d, mk.spm_model(cache), mk.template("chatml.jinja"))
    mk.write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": [2, 32], "pad_token_id": 0})


FIXTURES = {"gemma3-mm": make_gemma3_mm}
