#!/usr/bin/env python3
"""Write config.json files as the current transformers saves them, for the
config corpus: tests/goldens/configs/saved-tf5/<name>/config.json.

A model directory that a user saved with transformers (save_pretrained after a
fine-tune, a merge, a quantization) carries the config in that version's
spelling -- transformers 5 writes "rope_parameters" and "dtype", adds
"layer_types", keeps keys it does not know -- not the spelling of the file
published on the Hub. These entries make the corpus test convert those too.

Each entry is either a published corpus config read and re-saved
(AutoConfig.from_pretrained + save_pretrained), or a config class instantiated
with its defaults (Gemma 3, whose released configs the corpus does not hold),
or a re-saved config given the quantization_config that llm-compressor writes
for an FP8 checkpoint (compressed-tensors' own ModelCompressor.update_config
with its FP8_DYNAMIC / FP8 presets: the RedHatAI "-FP8-dynamic" / "-FP8"
releases are made so). Run with the peer venv's interpreter (transformers and
compressed-tensors; no torch needed beyond what they import):

  ~/.cache/f8/venv-peers/bin/python scripts/gen_saved_tf5_configs.py

The list and what each entry was made from are written to
tests/goldens/configs/saved-tf5/SOURCES.md.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import transformers
from transformers import AutoConfig

ROOT = Path(__file__).resolve().parent.parent
PUB = ROOT / "tests" / "goldens" / "configs" / "published"
OUT = ROOT / "tests" / "goldens" / "configs" / "saved-tf5"
SMOLLM2_TF5 = ROOT / "tests" / "goldens" / "model-dirs" / "smollm2-135m-tf5"

# name -> published entry re-saved
RESAVED = {
    "tf5-llama-3.2-1b-instruct": "meta-llama--Llama-3.2-1B-Instruct",
    "tf5-llama-2-7b-hf": "meta-llama--Llama-2-7b-hf",
    "tf5-qwen2.5-7b-instruct": "Qwen--Qwen2.5-7B-Instruct",
    "tf5-qwen3-0.6b": "Qwen--Qwen3-0.6B",
    "tf5-qwen3-32b-fp8": "Qwen--Qwen3-32B-FP8",
    "tf5-gemma-2-9b-it": "google--gemma-2-9b-it",
    "tf5-phi-4": "microsoft--phi-4",
    "tf5-phi-4-mini-instruct": "microsoft--Phi-4-mini-instruct",
    "tf5-mixtral-8x7b-v0.1": "mistralai--Mixtral-8x7B-v0.1",
    "tf5-qwen3-30b-a3b": "Qwen--Qwen3-30B-A3B",
    "tf5-gpt-oss-20b": "openai--gpt-oss-20b",
    "tf5-deepseek-v3": "deepseek-ai--DeepSeek-V3",
}


def save(cfg, name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cfg.save_pretrained(tmp)
        dst = OUT / name
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(tmp) / "config.json", dst / "config.json")


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, src in RESAVED.items():
        cfg = AutoConfig.from_pretrained(PUB / src)
        save(cfg, name)
        rows.append((name, f"published/{src}/config.json, `AutoConfig.from_pretrained` + `save_pretrained`"))
    # SmolLM2-135M-Instruct as transformers 5.24 saved it (committed for the model
    # goldens), re-saved by this version.
    save(AutoConfig.from_pretrained(SMOLLM2_TF5), "tf5-smollm2-135m-instruct")
    rows.append(("tf5-smollm2-135m-instruct",
                 "tests/goldens/model-dirs/smollm2-135m-tf5/config.json (SmolLM2-135M-Instruct saved by "
                 "transformers 5.24), re-saved"))
    # Gemma 3 with the classes' defaults: a ConditionalGeneration config (text_config
    # nested, a SigLIP vision_config) and the text-only model; both write layer_types
    # next to _sliding_window_pattern and per-layer-type rope_parameters.
    cg = transformers.Gemma3Config()
    cg.architectures = ["Gemma3ForConditionalGeneration"]
    save(cg, "tf5-gemma3-conditional-generation-defaults")
    rows.append(("tf5-gemma3-conditional-generation-defaults",
                 "`transformers.Gemma3Config()` (defaults), architectures Gemma3ForConditionalGeneration"))
    # Families whose released configs the corpus lacks: the classes' defaults are
    # Mistral-7B-v0.1 (sliding_window 4096) and Qwen1.5-MoE-A2.7B (60 experts, top 4,
    # a gated shared expert).
    for cls, arch, name in (("MistralConfig", "MistralForCausalLM", "tf5-mistral-defaults"),
                            ("Qwen2MoeConfig", "Qwen2MoeForCausalLM", "tf5-qwen2-moe-defaults")):
        c = getattr(transformers, cls)()
        c.architectures = [arch]
        save(c, name)
        rows.append((name, f"`transformers.{cls}()` (defaults), architectures {arch}"))
    txt = transformers.Gemma3TextConfig()
    txt.architectures = ["Gemma3ForCausalLM"]
    save(txt, "tf5-gemma3-text-defaults")
    rows.append(("tf5-gemma3-text-defaults", "`transformers.Gemma3TextConfig()` (defaults), architectures Gemma3ForCausalLM"))

    # FP8 checkpoints as llm-compressor saves them: transformers writes the config,
    # compressed-tensors adds its quantization_config (version, format, schemes).
    import compressed_tensors
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import QuantizationConfig, preset_name_to_scheme
    for name, src, preset in (("tf5-llama-3.2-1b-instruct-fp8-dynamic-ct", "meta-llama--Llama-3.2-1B-Instruct",
                               "FP8_DYNAMIC"),
                              ("tf5-qwen3-8b-fp8-static-ct", "Qwen--Qwen3-8B", "FP8")):
        save(AutoConfig.from_pretrained(PUB / src), name)
        qc = QuantizationConfig(config_groups={"group_0": preset_name_to_scheme(preset, ["Linear"])},
                                ignore=["lm_head"], format="float-quantized", quantization_status="compressed")
        ModelCompressor(quantization_config=qc).update_config(str(OUT / name))
        rows.append((name, f"published/{src}/config.json re-saved, then compressed-tensors "
                           f"{compressed_tensors.__version__} `ModelCompressor.update_config` with the "
                           f"`{preset}` preset on Linear, lm_head ignored (what llm-compressor writes)"))

    lines = ["# Configs saved by transformers itself",
             "",
             f"Written by `scripts/gen_saved_tf5_configs.py` with transformers {transformers.__version__}; "
             "regenerate with the same command after a transformers upgrade.",
             "",
             "| entry | made from |", "|---|---|"]
    lines += [f"| `{n}` | {how} |" for n, how in sorted(rows)]
    (OUT / "SOURCES.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for n, _ in rows:
        json.loads((OUT / n / "config.json").read_text())
    print(f"wrote {len(rows)} configs under {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
