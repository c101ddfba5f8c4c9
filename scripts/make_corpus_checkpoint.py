#!/usr/bin/env python3
"""Write a complete, seeded Hugging Face model directory for a (shrunk)
config.json of the config corpus -- numpy only, no torch, so CI can run it.

  make_corpus_checkpoint.py CONFIG.json OUT_DIR [--seed N] [--shrink]

OUT_DIR gets (written atomically: nothing appears unless all of it was):
  config.json                 the given config (after --shrink: scripts/shrink_config.py's)
  model.safetensors           every tensor the architecture has, named and shaped as
                              the published checkpoints (scripts/corpus_tensors.py)
  tokenizer.json, tokenizer_config.json, special_tokens_map.json, generation_config.json
                              the 961-id synthetic Metaspace BPE tokenizer of
                              tests/goldens/tokenizer/fixtures/syn-metaspace (the shrunk
                              vocab_size, 1024, is >= its ids, which `f8 convert` requires)

Weights. Stored in the dtype config.json names (torch_dtype / dtype, or
text_config's; BF16 when absent). Every value is a BF16 value (and, for F16
files, zero or >= 2^-14 in magnitude, so F16 holds it exactly): `f8 convert
--weights bf16` then carries the reference's exact numbers. Projections are
N(0, 1/fan_in) so activations stay O(1) through the layers; embeddings and
lm_head N(0, 4/hidden) so the logits have a spread of ~2 (a perplexity well
below the vocabulary size, not a uniform distribution); norms 1 + N(0, 0.1)
(Gemma's (1 + w) norms: N(0, 0.1)); biases N(0, 0.05).

Quantized layouts, as quantization_config says:
  quant_method "fp8" with weight_block_size [B, B] (Qwen3-FP8, DeepSeek-V3):
      every projection not in modules_to_not_convert is F8_E4M3 with an F32
      weight_scale_inv [ceil(out/B), ceil(in/B)] (block amax / 448); routers,
      norms, embeddings and lm_head stay in the model dtype.
  quant_method "compressed-tensors" (llm-compressor FP8): projections F8_E4M3
      with weight_scale per channel [out, 1] or per tensor [1] (the weights'
      "strategy"), plus input_scale [1] when input activations are static;
      `ignore` entries are left unquantized.
  quant_method "mxfp4" (gpt-oss): experts as published -- *_blocks uint8
      [E, rows, in/32, 16] (two E2M1 codes per byte, low nibble first) and
      *_scales uint8 [E, rows, in/32] (E8M0, 127 = 2^0); everything else BF16.
Vision towers (Gemma 3 ConditionalGeneration) get their tensors too, so a
converter has to skip them, as with the real checkpoints.
"""
from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import math
import re
import shutil
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from corpus_tensors import checkpoint_tensors, family, text_config  # noqa: E402
from hf_fixture_io import (E4M3_MAX, atomic_dir, bf16_bits_to_f32,  # noqa: E402
                           f32_to_bf16_bits, f32_to_e4m3_bits, st_tensor, write_json,
                           write_safetensors)
from shrink_config import shrink  # noqa: E402

TOKENIZER_DIR = HERE.parent / "tests" / "goldens" / "tokenizer" / "fixtures" / "syn-metaspace"
DTYPES = {"bfloat16": "BF16", "float16": "F16", "float32": "F32"}
# E2M1 codes 0..15 (sign is bit 3), as transformers' FP4_VALUES
E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0],
                dtype=np.float32)


def storage_dtype(cfg: dict) -> str:
    tc = text_config(cfg)
    for c in (tc, cfg):
        for k in ("dtype", "torch_dtype"):
            if isinstance(c.get(k), str) and c[k] in DTYPES:
                return DTYPES[c[k]]
    return "BF16"


def representable(x: np.ndarray, dtype: str) -> np.ndarray:
    """Round to BF16 values; for F16 storage also flush |x| < 2^-14 to zero."""
    x = bf16_bits_to_f32(f32_to_bf16_bits(np.asarray(x, dtype=np.float32)))
    if dtype == "F16":
        x = np.where(np.abs(x) < np.float32(2.0 ** -14), np.float32(0.0), x).astype(np.float32)
    return x


def draw(rng: np.random.Generator, spec) -> np.ndarray:
    shape, k = spec.shape, spec.kind
    n = rng.standard_normal(shape, dtype=np.float32)
    if k in ("linear", "router", "vision"):
        return n / np.float32(math.sqrt(max(1, spec.fan_in)))
    if k in ("embed", "lm_head"):
        return n * np.float32(2.0 / math.sqrt(spec.shape[1]))
    if k == "norm":
        return np.float32(1.0) + np.float32(0.1) * n
    if k == "norm0":
        return np.float32(0.1) * n
    if k in ("bias", "router_bias"):
        return np.float32(0.05) * n
    if k == "e_bias":
        return np.float32(0.01) * n
    if k == "sinks":
        return np.float32(0.5) * n
    raise ValueError(f"no values for kind {k}")


def module_of(name: str) -> str:
    return name[: -len(".weight")] if name.endswith(".weight") else name


def excluded(name: str, patterns) -> bool:
    """modules_to_not_convert / ignore: a module name, a prefix of it, a glob,
    or (compressed-tensors) "re:REGEX"."""
    mod = module_of(name)
    for p in patterns or []:
        if not isinstance(p, str):
            continue
        if p.startswith("re:"):
            if re.match(p[3:], mod):
                return True
        elif mod == p or mod.startswith(p + ".") or fnmatch.fnmatch(mod, p) or fnmatch.fnmatch(mod, p + ".*"):
            return True
    return False


def fp8_block(w: np.ndarray, B: int):
    """Codes and F32 weight_scale_inv per BxB block (w ~= decode(codes) * s)."""
    o, i = w.shape
    s = np.zeros((math.ceil(o / B), math.ceil(i / B)), dtype=np.float32)
    codes = np.zeros(w.shape, dtype=np.uint8)
    for r in range(s.shape[0]):
        for c in range(s.shape[1]):
            blk = w[r * B:(r + 1) * B, c * B:(c + 1) * B]
            amax = float(np.abs(blk).max())
            s[r, c] = np.float32(amax / E4M3_MAX) if amax > 0 else np.float32(1.0)
            codes[r * B:(r + 1) * B, c * B:(c + 1) * B] = f32_to_e4m3_bits(blk / s[r, c])
    return codes, s


def fp8_scaled(w: np.ndarray, per_channel: bool, scale_dtype: str):
    """compressed-tensors: codes and weight_scale [out, 1] or [1], the scale
    rounded to its stored dtype first so that decode(codes) * scale is exact."""
    amax = np.abs(w).max(axis=1, keepdims=True) if per_channel else np.abs(w).max().reshape(1)
    s = representable((np.maximum(amax, 1e-12) / E4M3_MAX).astype(np.float32), scale_dtype)
    return f32_to_e4m3_bits(w / s), s


def mxfp4_experts(rng: np.random.Generator, spec_blocks, spec_scales):
    """Random E2M1 codes and E8M0 exponents with |w| ~ 1/sqrt(fan_in)."""
    blocks = rng.integers(0, 256, size=spec_blocks.shape, dtype=np.uint8)
    # E2M1 magnitudes average ~2; 2^(e-127) with e in 121..123 gives ~1/16..1/4
    target = math.log2(1.0 / math.sqrt(spec_blocks.fan_in) / 2.0)
    centre = 127 + int(round(target))
    scales = rng.integers(centre - 1, centre + 2, size=spec_scales.shape, dtype=np.uint8)
    return blocks, scales


def tensors_for(cfg: dict, seed: int) -> dict:
    """name -> (safetensors dtype, shape, raw bytes)."""
    dt = storage_dtype(cfg)
    q = cfg.get("quantization_config") or text_config(cfg).get("quantization_config") or {}
    method = q.get("quant_method")
    specs = checkpoint_tensors(cfg)
    by_name = {s.name: s for s in specs}
    rng = np.random.default_rng(seed)
    out = {}
    ct_scheme = None
    if method == "compressed-tensors":
        groups = list((q.get("config_groups") or {}).values())
        w = (groups[0].get("weights") or {}) if groups else {}
        a = (groups[0].get("input_activations") or {}) if groups else {}
        ct_scheme = (w.get("strategy", "tensor") == "channel", a.get("dynamic") is False, a != {})
    for s in specs:
        if s.kind == "mxfp4_scales":
            continue  # drawn with its blocks
        if s.kind == "mxfp4_blocks":
            sc = by_name[s.name.replace("_blocks", "_scales")]
            blocks, scales = mxfp4_experts(rng, s, sc)
            out[s.name] = st_tensor("U8", blocks)
            out[sc.name] = st_tensor("U8", scales)
            continue
        v = draw(rng, s)
        if s.kind == "e_bias":
            out[s.name] = st_tensor("F32", v)
            continue
        v = representable(v, dt)
        if s.kind == "linear" and method == "fp8" and isinstance(q.get("weight_block_size"), list) \
                and not excluded(s.name, q.get("modules_to_not_convert")):
            codes, sinv = fp8_block(v, int(q["weight_block_size"][0]))
            out[s.name] = st_tensor("F8_E4M3", codes)
            out[module_of(s.name) + ".weight_scale_inv"] = st_tensor("F32", sinv)
        elif s.kind == "linear" and ct_scheme and not excluded(s.name, q.get("ignore")):
            per_channel, static_input, _ = ct_scheme
            codes, scale = fp8_scaled(v, per_channel, dt)
            out[s.name] = st_tensor("F8_E4M3", codes)
            out[module_of(s.name) + ".weight_scale"] = st_tensor(dt, scale)
            if static_input:
                out[module_of(s.name) + ".input_scale"] = st_tensor(
                    dt, representable(np.array([rng.uniform(2.0, 8.0) / E4M3_MAX], dtype=np.float32), dt))
        else:
            out[s.name] = st_tensor(dt, v)
    return out


def write_tokenizer(d: Path) -> None:
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(TOKENIZER_DIR / fn, d / fn)
    tok = {"content": "", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
    write_json(d / "special_tokens_map.json", {k: dict(tok, content=v) for k, v in
                                               (("bos_token", "<s>"), ("eos_token", "</s>"), ("unk_token", "<unk>"))})
    # The tokenizer's own BOS/EOS (the config's ids were renumbered by the shrinker)
    write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2})


def make(cfg: dict, out: Path, seed: int) -> None:
    with atomic_dir(out) as d:
        write_json(d / "config.json", cfg)
        write_safetensors(d / "model.safetensors", tensors_for(cfg, seed), {"format": "pt"})
        write_tokenizer(d)


def entry_seed(name: str) -> int:
    """A fixed seed per corpus entry name (independent of PYTHONHASHSEED)."""
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", type=Path, help="config.json (published or already shrunk)")
    ap.add_argument("out", type=Path, help="output model directory (replaced)")
    ap.add_argument("--seed", type=int, default=0, help="weights seed (default: %(default)s)")
    ap.add_argument("--shrink", action="store_true", help="shrink the config first (scripts/shrink_config.py)")
    a = ap.parse_args()
    try:
        cfg = json.loads(a.config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        print(f"make_corpus_checkpoint: error: {a.config}: {e}", file=sys.stderr)
        return 1
    if a.shrink:
        cfg = shrink(cfg)
    try:
        make(cfg, a.out, a.seed)
    except (KeyError, TypeError, ValueError) as e:
        print(f"make_corpus_checkpoint: error: {a.config}: cannot lay out the {family(cfg)} tensors: {e!r}",
              file=sys.stderr)
        return 1
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
