#!/usr/bin/env python3
"""Makes llm-compressor's FP8_DYNAMIC checkpoint of SmolLM2-135M-Instruct for
the README quality table (scripts/bench_quality_table.sh), which `f8 convert`
then imports byte for byte (convert/fp8_import.cpp).

FP8_DYNAMIC: every Linear except lm_head gets E4M3 weights with one static
scale per output channel (min-max observer, nearest rounding, no
calibration data) and dynamic per-token E4M3 activations at run time. The
checkpoint is saved compressed (compressed-tensors "float-quantized").

Runs in the venv of scripts/setup_llmcompressor.sh (re-executes itself there).
  python3 scripts/make_llmc_fp8.py [SRC_HF_DIR] [OUT_DIR]
    defaults: ~/.cache/f8/smollm2-135m-instruct  ~/.cache/f8/smollm2-135m-llmc-fp8-dynamic
"""
import os
import subprocess
import sys


def main() -> int:
    cache = os.environ.get("F8_CACHE", os.path.expanduser("~/.cache/f8"))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(cache, "smollm2-135m-instruct")
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(cache, "smollm2-135m-llmc-fp8-dynamic")
    try:
        import llmcompressor  # noqa: F401
    except ImportError:
        here = os.path.dirname(os.path.abspath(__file__))
        py = subprocess.run(["bash", os.path.join(here, "setup_llmcompressor.sh")], check=True,
                            capture_output=True, text=True).stdout.strip().splitlines()[-1]
        return subprocess.call([py, os.path.abspath(__file__), src, out])
    import torch
    from llmcompressor import oneshot
    from llmcompressor.modifiers.quantization import QuantizationModifier
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(src, torch_dtype="auto")
    tok = AutoTokenizer.from_pretrained(src)
    recipe = QuantizationModifier(targets="Linear", scheme="FP8_DYNAMIC", ignore=["lm_head"])
    oneshot(model=model, recipe=recipe)
    model.save_pretrained(out, save_compressed=True)
    tok.save_pretrained(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
