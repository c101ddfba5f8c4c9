#!/usr/bin/env python3
"""Write config.json files the way Hugging Face transformers itself writes
them, for every architecture f8 converts (and some it must refuse), together
with transformers' own reading of each one, into
tests/goldens/configs/transformers-<MAJOR>/<case>/{config.json,expected.json}
(committed; tests/convert/test_convert.cpp reads them).

Run once per transformers major version, with an interpreter that has it
(torch only adds YaRN's attention factor to expected.json):
  ~/.cache/f8/venv-peers/bin/python scripts/gen_config_fixtures.py      # transformers 5
  python -m venv /tmp/tf4 && /tmp/tf4/bin/pip install "transformers==4.57.1"
  /tmp/tf4/bin/python scripts/gen_config_fixtures.py                    # transformers 4

transformers 4 writes "rope_theta" / "rope_scaling" at the top level (4.56+
"dtype", older "torch_dtype"); transformers 5 writes "rope_parameters"
{rope_theta, rope_type, ...} and "dtype". expected.json holds what
transformers makes of the config (theta, RoPE type and factors, head_dim,
window, ...) or, for a case f8 must refuse, the words its error must contain.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import transformers

OUT = Path(__file__).resolve().parent.parent / "tests" / "goldens" / "configs"
MAJOR = int(transformers.__version__.split(".")[0])

LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 8192}

# name -> (config class, architecture, kwargs, refusal substring or None)
CASES = {
    # SmolLM2-135M-Instruct's own numbers (the transformers-5 bug: theta 1e5 read as 1e4)
    "smollm2-135m": ("LlamaConfig", "LlamaForCausalLM", dict(
        hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, head_dim=64, max_position_embeddings=8192, rms_norm_eps=1e-5,
        rope_theta=100000.0, vocab_size=49152, tie_word_embeddings=True, bos_token_id=1, eos_token_id=2,
        pad_token_id=2), None),
    "llama31-8b": ("LlamaConfig", "LlamaForCausalLM", dict(
        hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
        rope_scaling=LLAMA3, vocab_size=128256, bos_token_id=128000,
        eos_token_id=[128001, 128008, 128009]), None),
    "llama-linear": ("LlamaConfig", "LlamaForCausalLM", dict(
        hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
        num_key_value_heads=4, max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0,
        rope_scaling={"rope_type": "linear", "factor": 2.0}, vocab_size=32000), None),
    "mistral-7b-v01": ("MistralConfig", "MistralForCausalLM", dict(
        hidden_size=4096, intermediate_size=14336, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=8, max_position_embeddings=32768, rms_norm_eps=1e-5, rope_theta=10000.0,
        sliding_window=4096, vocab_size=32000), None),
    "qwen2-7b": ("Qwen2Config", "Qwen2ForCausalLM", dict(
        hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
        num_key_value_heads=4, max_position_embeddings=32768, rms_norm_eps=1e-6, rope_theta=1000000.0,
        sliding_window=131072, max_window_layers=28, use_sliding_window=False, vocab_size=152064,
        bos_token_id=151643, eos_token_id=151643), None),
    "qwen3-0.6b": ("Qwen3Config", "Qwen3ForCausalLM", dict(
        hidden_size=1024, intermediate_size=3072, num_hidden_layers=28, num_attention_heads=16,
        num_key_value_heads=8, head_dim=128, max_position_embeddings=40960, rms_norm_eps=1e-6,
        rope_theta=1000000.0, sliding_window=None, max_window_layers=28, use_sliding_window=False,
        vocab_size=151936, tie_word_embeddings=True, bos_token_id=151643, eos_token_id=151645), None),
    "phi3-mini-4k": ("Phi3Config", "Phi3ForCausalLM", dict(
        hidden_size=3072, intermediate_size=8192, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=32, max_position_embeddings=4096, original_max_position_embeddings=4096,
        rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=2047, vocab_size=32064, bos_token_id=1,
        eos_token_id=32000, pad_token_id=32000), None),
    # refusals
    "phi35-mini-longrope": ("Phi3Config", "Phi3ForCausalLM", dict(
        hidden_size=3072, intermediate_size=8192, num_hidden_layers=32, num_attention_heads=32,
        num_key_value_heads=32, max_position_embeddings=131072, original_max_position_embeddings=4096,
        rms_norm_eps=1e-5, rope_theta=10000.0, sliding_window=262144, vocab_size=32064,
        rope_scaling={"type": "longrope", "short_factor": [1.0] * 48, "long_factor": [1.5] * 48},
        bos_token_id=1, eos_token_id=32000, pad_token_id=32000), "LongRoPE"),
    "llama-yarn": ("LlamaConfig", "LlamaForCausalLM", dict(
        hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
        num_key_value_heads=4, max_position_embeddings=16384, rope_theta=10000.0,
        rope_scaling={"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096},
        vocab_size=32000), None),
    # gpt-oss-20b's numbers with the config class's defaults for the rest
    "gpt-oss-20b": ("GptOssConfig", "GptOssForCausalLM", dict(
        num_hidden_layers=24, num_local_experts=32, num_experts_per_tok=4, vocab_size=201088,
        hidden_size=2880, intermediate_size=2880, head_dim=64, num_attention_heads=64, num_key_value_heads=8,
        sliding_window=128, max_position_embeddings=131072, rms_norm_eps=1e-5, pad_token_id=199999,
        eos_token_id=200002), None),
    "qwen2-sliding": ("Qwen2Config", "Qwen2ForCausalLM", dict(
        hidden_size=896, intermediate_size=4864, num_hidden_layers=4, num_attention_heads=14,
        num_key_value_heads=2, max_position_embeddings=32768, rope_theta=1000000.0, sliding_window=4096,
        max_window_layers=2, use_sliding_window=True, vocab_size=151936), None),
}


def rope_view(cfg) -> dict:
    """transformers' reading of the RoPE settings (both majors)."""
    if MAJOR >= 5:
        rp = dict(cfg.rope_parameters or {})
    else:
        rp = dict(getattr(cfg, "rope_scaling", None) or {})
        rp["rope_theta"] = cfg.rope_theta
        if "type" in rp and "rope_type" not in rp:
            rp["rope_type"] = rp.pop("type")
    rp.setdefault("rope_type", "default")
    return rp


def main() -> int:
    root = OUT / f"transformers-{MAJOR}"
    if root.exists():
        shutil.rmtree(root)
    for name, (cls_name, arch, kw, refusal) in CASES.items():
        cls = getattr(transformers, cls_name)
        cfg = cls(**kw)
        cfg.architectures = [arch]
        d = root / name
        cfg.save_pretrained(d)
        # what transformers reads back
        back = cls.from_pretrained(d)
        if refusal:
            exp = {"refused": refusal}
        else:
            rp = rope_view(back)
            window = getattr(back, "sliding_window", None)
            if getattr(back, "use_sliding_window", True) is False:
                window = None
            eos = back.eos_token_id
            exp = {
                "architecture": arch,
                "hidden_size": back.hidden_size,
                "head_dim": getattr(back, "head_dim", None) or back.hidden_size // back.num_attention_heads,
                "rms_norm_eps": back.rms_norm_eps,
                "tie_word_embeddings": bool(back.tie_word_embeddings),
                "rope_theta": rp["rope_theta"],
                "rope_type": rp["rope_type"],
                "rope_factor": rp.get("factor"),
                "rope_low_freq_factor": rp.get("low_freq_factor"),
                "rope_high_freq_factor": rp.get("high_freq_factor"),
                "rope_original_max_position_embeddings": rp.get("original_max_position_embeddings")
                if rp["rope_type"] in ("llama3", "yarn") else None,
                # f8 stores 0 for "no window" and for a window >= the context
                "sliding_window": window if window and window < back.max_position_embeddings else 0,
                "eos_token_id": eos if isinstance(eos, list) else ([] if eos is None else [eos]),
            }
            if rp["rope_type"] == "yarn":  # transformers' own attention factor (needs torch) and ramp inputs
                try:
                    import torch
                    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
                    exp["rope_attention_factor"] = ROPE_INIT_FUNCTIONS["yarn"](back, torch.device("cpu"))[1]
                except ImportError:
                    pass
                exp["rope_beta_fast"] = rp.get("beta_fast") or 32
                exp["rope_beta_slow"] = rp.get("beta_slow") or 1
                exp["rope_truncate"] = rp.get("truncate", True)
            if getattr(back, "layer_types", None):
                exp["layer_types"] = list(back.layer_types)
        (d / "expected.json").write_text(json.dumps(exp, indent=2, sort_keys=True) + "\n")
        print(d, file=sys.stderr)
    (root / "VERSION").write_text(transformers.__version__ + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
