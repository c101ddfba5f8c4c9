#!/usr/bin/env python3
"""YaRN RoPE goldens: the inverse frequencies and the attention factor
(transformers' `attention_scaling`, YaRN's mscale) that transformers computes
from a config.json, for the config forms f8 converts, written to
tests/goldens/rope/yarn.json (committed; tests/backend/test_rope_yarn.cpp
checks the runtime's rope_inv_freq against inv_freq and
tests/convert/test_convert.cpp the converter's reading of each config).

NOT run in CI: it needs torch + transformers (the peer venv,
${F8_CACHE:-~/.cache/f8}/venv-peers, made on first use; the script
re-executes itself there).

Each case is a config.json object (as a checkpoint would carry it) read by the
architecture's transformers config class; transformers' own
ROPE_INIT_FUNCTIONS["yarn"] then gives inv_freq (float32, stored as exact
decimal strings of the float32 values) and attention_factor (a Python float).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from hf_fixture_io import cache_root, in_venv, log, peer_venv  # noqa: E402

OUT = HERE.parent / "tests" / "goldens" / "rope" / "yarn.json"

GPT_OSS = dict(architectures=["GptOssForCausalLM"], model_type="gpt_oss", hidden_size=2880,
               num_attention_heads=64, num_key_value_heads=8, head_dim=64, num_hidden_layers=24,
               num_local_experts=32, num_experts_per_tok=4, intermediate_size=2880,
               max_position_embeddings=131072, vocab_size=201088)
LLAMA = dict(architectures=["LlamaForCausalLM"], model_type="llama", hidden_size=2048, num_attention_heads=32,
             num_key_value_heads=4, num_hidden_layers=2, intermediate_size=5632, vocab_size=32000)
QWEN2 = dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2", hidden_size=3584, num_attention_heads=28,
             num_key_value_heads=4, num_hidden_layers=2, intermediate_size=18944, vocab_size=152064)

CASES = {
    # gpt-oss-20b / 120b as published (transformers 4 form: rope_theta + rope_scaling)
    "gpt-oss-published": ("GptOssConfig", dict(GPT_OSS, rope_theta=150000, rope_scaling={
        "beta_fast": 32.0, "beta_slow": 1.0, "factor": 32.0, "original_max_position_embeddings": 4096,
        "rope_type": "yarn", "truncate": False})),
    # no RoPE keys at all: GptOssConfig's default (yarn, theta 150000)
    "gpt-oss-defaults": ("GptOssConfig", dict(GPT_OSS)),
    # transformers 5 form, truncate left to its default (true), head_dim 128
    "llama-yarn-tf5": ("LlamaConfig", dict(LLAMA, head_dim=128, max_position_embeddings=16384, rope_parameters={
        "rope_type": "yarn", "rope_theta": 10000.0, "factor": 4.0, "original_max_position_embeddings": 4096})),
    # Qwen2.5's documented long-context setting
    "qwen2-yarn": ("Qwen2Config", dict(QWEN2, max_position_embeddings=131072, rope_theta=1000000.0, rope_scaling={
        "type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768})),
    # every optional knob: attention_factor given, beta_fast / beta_slow moved
    "llama-yarn-explicit": ("LlamaConfig", dict(LLAMA, head_dim=64, max_position_embeddings=32768, rope_theta=500000.0,
                                                rope_scaling={"rope_type": "yarn", "factor": 8.0,
                                                              "original_max_position_embeddings": 4096,
                                                              "attention_factor": 0.75, "beta_fast": 16,
                                                              "beta_slow": 2, "truncate": False})),
    # DeepSeek-style mscale / mscale_all_dim (attention_factor = their ratio)
    "llama-yarn-mscale": ("LlamaConfig", dict(LLAMA, head_dim=64, max_position_embeddings=65536, rope_theta=10000.0,
                                              rope_scaling={"rope_type": "yarn", "factor": 16.0,
                                                            "original_max_position_embeddings": 4096,
                                                            "mscale": 1.0, "mscale_all_dim": 0.5})),
}


def run() -> int:
    import numpy as np
    import torch
    import transformers
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS

    cases = []
    for name, (cls_name, cfg_json) in CASES.items():
        cls = getattr(transformers, cls_name)
        kw = {k: v for k, v in cfg_json.items() if k not in ("architectures", "model_type")}
        cfg = cls(**json.loads(json.dumps(kw)))
        inv, att = ROPE_INIT_FUNCTIONS["yarn"](cfg, torch.device("cpu"))
        inv = inv.to(torch.float32).numpy()
        cases.append({"name": name, "config": cfg_json,
                      "head_dim": int(getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads),
                      "inv_freq": [repr(float(np.float32(x))) for x in inv],
                      "attention_factor": float(att)})
        log(f"{name}: attention_factor {att!r}, inv_freq[0..3] {inv[:4]}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": "f8-rope-golden-v1", "generator": {"transformers": transformers.__version__,
                                                        "torch": torch.__version__,
                                                        "script": "scripts/gen_rope_goldens.py"},
           "cases": cases}
    OUT.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {OUT}")
    return 0


def main() -> int:
    py = peer_venv(cache_root())
    if not in_venv(py):
        os.execv(str(py), [str(py), __file__] + sys.argv[1:])
    return run()


if __name__ == "__main__":
    sys.exit(main())
