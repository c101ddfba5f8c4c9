#!/usr/bin/env python3
"""Make tiny, seeded synthetic Hugging Face checkpoints for every supported
architecture and checkpoint flavour (no torch needed).

Each fixture is a complete HF directory under
${F8_CACHE:-~/.cache/f8}/synthetic/<name>/ : config.json, safetensors
(single file or sharded with model.safetensors.index.json), real tokenizer
files, tokenizer_config.json with a real chat template, generation_config.json,
special_tokens_map.json. Weights are random but the shapes relate as in real
models (GQA, head_dim, intermediate), drawn from a fixed seed so every file is
byte-reproducible; ~N(0, 0.02) with a few large outliers (and one outlier
row) so quantization error stats are interesting.

Fixtures (see docs/fixtures.md for the exact shapes):
  llama-spm     LlamaForCausalLM, SentencePiece tokenizer.model (Mistral 7B v0.1,
                from PyPI mistral-common), Llama 2 template, F32, 2 shards
  mistral-spm   MistralForCausalLM, same tokenizer, Mistral template, F16
  llama3-bpe    LlamaForCausalLM, rope_scaling llama3, Llama 3 BPE tokenizer.json, BF16
  qwen2-bpe     Qwen2ForCausalLM (q/k/v bias), Qwen2 BPE tokenizer.json, ChatML, BF16
  smollm2-tiny  LlamaForCausalLM, SmolLM2 tokenizer, tied embeddings, BF16
  fp8-ct        compressed-tensors FP8 (llm-compressor layout): F8_E4M3 weights,
                weight_scale per-tensor (layer 0) / per-channel (layer 1),
                input_scale, k_scale/v_scale
  fp8-block     block FP8 (DeepSeek layout): F8_E4M3 + weight_scale_inv
                [ceil(out/128), ceil(in/128)], dims not multiples of 128
  gemma2        Gemma2ForCausalLM (transformers-5 config), soft-capping, alternating windows, head_dim 256
  gemma3        Gemma3ForCausalLM text (transformers-5 config), q/k norms, two RoPE bases
  mixtral, qwen2moe, qwen3moe, qwen3moe-fp8   mixture of experts (scripts/synthetic_moe.py)
  deepseek-v3, deepseek-r1, deepseek-v3-lite  DeepseekV3ForCausalLM (scripts/synthetic_deepseek.py)
  gemma3-mm     Gemma3ForConditionalGeneration as Google publishes Gemma 3 (scripts/synthetic_multimodal.py)
  gpt-oss, gpt-oss-bf16   GptOssForCausalLM: MXFP4 experts as published, and the dequantized
                BF16 layout (scripts/synthetic_gpt_oss.py)
  smollm2-tf5   the real SmolLM2-135M-Instruct as transformers 5 save_pretrained
                writes it: config.json with rope_parameters and dtype,
                chat_template.jinja, tokenizer_config.json without a template,
                merges as pairs (the text files are committed in
                tests/goldens/model-dirs/smollm2-135m-tf5/; weights hard-linked
                from smollm2-135m-instruct/)
"""
from __future__ import annotations

import argparse
import glob
import math
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from hf_fixture_io import (E4M3_MAX, E4M3_VALUES, added_tokens_decoder,  # noqa: E402
                           atomic_dir, bpe_tokenizer_json, cache_root, die,
                           f32_to_e4m3_bits, is_complete, log, mark_complete,
                           read_gguf_vocab, st_tensor, write_json, write_safetensors)

VERSION = "synthetic-v1"  # bump to regenerate every fixture
# bump one fixture. r2: E4M3 -0 for tiny negatives (as torch); r3/r2: SmolLM2
# tokenizer_config tokenizer_class PreTrainedTokenizerFast
FIXTURE_REV = {"fp8-ct": 3, "fp8-block": 3, "smollm2-tiny": 2}


def fixture_version(name: str) -> str:
    rev = FIXTURE_REV.get(name, 1)
    return VERSION if rev == 1 else f"{VERSION}.r{rev}"
TEMPLATES = HERE.parent / "tests" / "goldens" / "templates"
VOCAB_DIR = Path("/work/shared/data/vocab-vectors")
MISTRAL_COMMON = "mistral-common==1.13.1"  # pinned: ships data/tokenizer.model.v1
SPM_MEMBER = "mistral_common/data/tokenizer.model.v1"  # Mistral 7B v0.1, 32000 pieces


def vocab_dir() -> Path:
    """The shared vocab GGUFs: ../shared/data/vocab-vectors relative to the repo
    (its usual place beside a clone), else the absolute path of this workplace."""
    for p in (HERE.parent.parent / "shared" / "data" / "vocab-vectors", VOCAB_DIR):
        if (p / "ggml-vocab-llama-bpe.gguf").is_file():
            return p
    die("vocab GGUFs not found: expected shared/data/vocab-vectors beside the repo")


def template(name: str) -> str:
    p = TEMPLATES / name
    if not p.is_file():
        die(f"chat template {p} missing")
    return p.read_text(encoding="utf-8")


# ---------------------------------------------------------------- sources

def spm_model(cache: Path) -> Path:
    """tokenizer.model.v1 (SentencePiece, 32000 pieces) from the mistral-common wheel."""
    dst = cache / "pip" / "mistral-tokenizer.model.v1"
    if dst.is_file():
        return dst
    pipdir = cache / "pip"
    pipdir.mkdir(parents=True, exist_ok=True)
    pat = str(pipdir / "mistral_common-1.13.1-*.whl")
    if not glob.glob(pat):
        log(f"pip download --no-deps {MISTRAL_COMMON} -d {pipdir}")
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                            MISTRAL_COMMON, "-d", str(pipdir)])
        if r.returncode != 0 or not glob.glob(pat):
            die(f"pip download {MISTRAL_COMMON} failed; is PyPI reachable?")
    with zipfile.ZipFile(glob.glob(pat)[0]) as z:
        if SPM_MEMBER not in z.namelist():
            die(f"{glob.glob(pat)[0]} holds no {SPM_MEMBER}")
        tmp = dst.with_suffix(".part")
        tmp.write_bytes(z.read(SPM_MEMBER))
        tmp.rename(dst)
    return dst


def smollm2_dir(cache: Path) -> Path:
    d = cache / "smollm2-135m-instruct"
    if not (d / "tokenizer.json").is_file():
        die(f"{d}/tokenizer.json missing: run scripts/fetch_smollm2.py first")
    return d


# ---------------------------------------------------------------- weights

class Weights:
    """Seeded weight factory. Draw order is fixed by the call order, so a
    fixture's bytes depend only on its seed and its spec."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)

    def linear(self, out_f: int, in_f: int, outlier_row: bool = False) -> np.ndarray:
        w = self.rng.standard_normal((out_f, in_f), dtype=np.float32) * np.float32(0.02)
        # a few isolated outliers (20-50 sigma): they set the per-tensor amax
        n = max(2, out_f * in_f // 4096)
        idx = self.rng.integers(0, out_f * in_f, size=n)
        mag = self.rng.uniform(0.4, 1.0, size=n).astype(np.float32)
        sign = np.where(self.rng.random(n) < 0.5, -1.0, 1.0).astype(np.float32)
        w.reshape(-1)[idx] = mag * sign
        if outlier_row:  # one whole output channel 8x larger: per-channel scales win here
            r = int(self.rng.integers(0, out_f))
            w[r] *= np.float32(8.0)
        return w

    def norm(self, n: int) -> np.ndarray:
        return (1.0 + 0.1 * self.rng.standard_normal(n)).astype(np.float32)

    def bias(self, n: int) -> np.ndarray:
        return (0.05 * self.rng.standard_normal(n)).astype(np.float32)

    def embed(self, vocab: int, hidden: int) -> np.ndarray:
        return self.rng.standard_normal((vocab, hidden), dtype=np.float32) * np.float32(0.02)


def llama_tensors(cfg: dict, seed: int, qkv_bias: bool = False, qk_norm: bool = False) -> dict[str, np.ndarray]:
    """float32 tensors with HF Llama/Mistral/Qwen2/Qwen3 names and [out, in] shapes."""
    h, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    ff, V = cfg["intermediate_size"], cfg["vocab_size"]
    W = Weights(seed)
    t = {"model.embed_tokens.weight": W.embed(V, h)}
    for i in range(L):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = W.norm(h)
        t[p + "self_attn.q_proj.weight"] = W.linear(nh * hd, h)
        t[p + "self_attn.k_proj.weight"] = W.linear(nkv * hd, h)
        t[p + "self_attn.v_proj.weight"] = W.linear(nkv * hd, h)
        if qkv_bias:
            t[p + "self_attn.q_proj.bias"] = W.bias(nh * hd)
            t[p + "self_attn.k_proj.bias"] = W.bias(nkv * hd)
            t[p + "self_attn.v_proj.bias"] = W.bias(nkv * hd)
        if qk_norm:  # Qwen3: RMSNorm weights over head_dim for q and k
            t[p + "self_attn.q_norm.weight"] = W.norm(hd)
            t[p + "self_attn.k_norm.weight"] = W.norm(hd)
        t[p + "self_attn.o_proj.weight"] = W.linear(h, nh * hd)
        t[p + "post_attention_layernorm.weight"] = W.norm(h)
        t[p + "mlp.gate_proj.weight"] = W.linear(ff, h, outlier_row=(i == L - 1))
        t[p + "mlp.up_proj.weight"] = W.linear(ff, h)
        t[p + "mlp.down_proj.weight"] = W.linear(h, ff)
    t["model.norm.weight"] = W.norm(h)
    if not cfg.get("tie_word_embeddings", False):
        t["lm_head.weight"] = W.linear(V, h)
    return t


LINEAR_SUFFIXES = ("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight",
                   "gate_proj.weight", "up_proj.weight", "down_proj.weight")


def is_linear(name: str) -> bool:
    return name.startswith("model.layers.") and name.endswith(LINEAR_SUFFIXES)


def e4m3_decode(codes: np.ndarray) -> np.ndarray:
    return E4M3_VALUES[codes].astype(np.float32)


# ---------------------------------------------------------------- writers

def base_config(arch: str, model_type: str, **kw) -> dict:
    cfg = {"architectures": [arch], "attention_dropout": 0.0, "hidden_act": "silu",
           "initializer_range": 0.02, "model_type": model_type, "use_cache": True}
    cfg.update(kw)
    cfg["head_dim"] = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    return dict(sorted(cfg.items()))


def write_weights(d: Path, t: dict, dtype: str, shards: int = 1) -> None:
    st = {n: st_tensor(dtype, a) for n, a in t.items()}
    if shards == 1:
        write_safetensors(d / "model.safetensors", st, {"format": "pt"})
        return
    # Split in name order into `shards` files of about equal size, as
    # transformers' save_pretrained(max_shard_size=...) does.
    names = sorted(st)
    total = sum(len(st[n][2]) for n in names)
    groups, cur, acc = [], [], 0
    for n in names:
        cur.append(n)
        acc += len(st[n][2])
        if acc >= total * (len(groups) + 1) / shards and len(groups) < shards - 1:
            groups.append(cur)
            cur = []
    groups.append(cur)
    weight_map = {}
    for k, g in enumerate(groups):
        fn = f"model-{k + 1:05d}-of-{len(groups):05d}.safetensors"
        write_safetensors(d / fn, {n: st[n] for n in g}, {"format": "pt"})
        weight_map.update({n: fn for n in g})
    write_json(d / "model.safetensors.index.json",
               {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))})


def special_map(bos: str | None, eos: str, unk: str | None, pad: str | None = None) -> dict:
    def tok(s):
        return {"content": s, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False}
    m = {"eos_token": tok(eos)}
    if bos is not None:  # Qwen2 has no BOS token
        m["bos_token"] = tok(bos)
    if pad is not None:
        m["pad_token"] = tok(pad)
    if unk is not None:
        m["unk_token"] = tok(unk)
    return m


def write_spm_tokenizer(d: Path, spm: Path, chat_template: str) -> None:
    """Llama 2 / Mistral v0.1 style: tokenizer.model only, BOS added, no EOS."""
    shutil.copyfile(spm, d / "tokenizer.model")
    specials = {0: "<unk>", 1: "<s>", 2: "</s>"}
    write_json(d / "tokenizer_config.json", {
        "add_bos_token": True, "add_eos_token": False,
        "added_tokens_decoder": {str(i): {"content": s, "lstrip": False, "normalized": False,
                                          "rstrip": False, "single_word": False, "special": True}
                                 for i, s in specials.items()},
        "bos_token": "<s>", "chat_template": chat_template,
        "clean_up_tokenization_spaces": False, "eos_token": "</s>", "legacy": True,
        "model_max_length": 1000000000000000019884624838656, "pad_token": None,
        "sp_model_kwargs": {}, "spaces_between_special_tokens": False,
        "tokenizer_class": "LlamaTokenizer", "unk_token": "<unk>", "use_default_system_prompt": False,
    })
    write_json(d / "special_tokens_map.json", special_map("<s>", "</s>", "<unk>"))


def copy_smollm2_tokenizer(d: Path, src: Path) -> None:
    for fn in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copyfile(src / fn, d / fn)


def write_bpe_from_gguf(d: Path, gguf_name: str, n_real: int | None, chat_template: str,
                        bos: str, eos: str, pad: str | None, add_bos: bool, tok_class: str,
                        extra: dict | None = None) -> dict:
    v = read_gguf_vocab(vocab_dir() / gguf_name)
    tj = bpe_tokenizer_json(v, n_real)
    write_json(d / "tokenizer.json", tj)
    cfg = {"add_bos_token": add_bos, "added_tokens_decoder": added_tokens_decoder(tj),
           "bos_token": bos, "chat_template": chat_template,
           "clean_up_tokenization_spaces": False, "eos_token": eos,
           "model_max_length": 131072, "pad_token": pad, "tokenizer_class": tok_class}
    cfg.update(extra or {})
    write_json(d / "tokenizer_config.json", dict(sorted(cfg.items())))
    write_json(d / "special_tokens_map.json", special_map(bos, eos, None, pad))
    return tj


# ---------------------------------------------------------------- fixtures

def make_llama_spm(d: Path, cache: Path) -> None:
    cfg = base_config("LlamaForCausalLM", "llama", hidden_size=128, intermediate_size=352,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=4096, rms_norm_eps=1e-5, rope_theta=10000.0,
                      rope_scaling=None, vocab_size=32000, tie_word_embeddings=False,
                      bos_token_id=1, eos_token_id=2, attention_bias=False, mlp_bias=False,
                      pretraining_tp=1, torch_dtype="float32")
    write_json(d / "config.json", cfg)
    write_weights(d, llama_tensors(cfg, seed=1001), "F32", shards=2)
    write_spm_tokenizer(d, spm_model(cache), template("llama2-chat.jinja"))
    write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2})


def make_mistral_spm(d: Path, cache: Path) -> None:
    cfg = base_config("MistralForCausalLM", "mistral", hidden_size=128, intermediate_size=384,
                      num_hidden_layers=2, num_attention_heads=8, num_key_value_heads=2,
                      max_position_embeddings=32768, rms_norm_eps=1e-5, rope_theta=1000000.0,
                      sliding_window=None, vocab_size=32000, tie_word_embeddings=False,
                      bos_token_id=1, eos_token_id=2, torch_dtype="float16")
    write_json(d / "config.json", cfg)
    write_weights(d, llama_tensors(cfg, seed=1002), "F16")
    write_spm_tokenizer(d, spm_model(cache), template("mistral-instruct-v0.1.jinja"))
    write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2})


def make_llama3_bpe(d: Path, cache: Path) -> None:
    # head_dim 16, theta 5e5: the 8 RoPE frequencies fall in all three llama3
    # regimes (wavelength < 2048 kept, > 8192 divided by 8, in between smoothed).
    cfg = base_config("LlamaForCausalLM", "llama", hidden_size=64, intermediate_size=192,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=131072, rms_norm_eps=1e-5, rope_theta=500000.0,
                      rope_scaling={"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                                    "original_max_position_embeddings": 8192, "rope_type": "llama3"},
                      vocab_size=128256, tie_word_embeddings=False, bos_token_id=128000,
                      eos_token_id=[128001, 128008, 128009], attention_bias=False, mlp_bias=False,
                      pretraining_tp=1, torch_dtype="bfloat16")
    write_json(d / "config.json", cfg)
    write_weights(d, llama_tensors(cfg, seed=1003), "BF16")
    write_bpe_from_gguf(d, "ggml-vocab-llama-bpe.gguf", None, template("llama3-instruct.jinja"),
                        "<|begin_of_text|>", "<|eot_id|>", None, True, "PreTrainedTokenizerFast",
                        {"model_input_names": ["input_ids", "attention_mask"]})
    write_json(d / "generation_config.json",
               {"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]})


def write_qwen_tokenizer(d: Path) -> None:
    """Qwen2's BPE vocabulary (151,646 tokens), ChatML template and the
    generation config of the Qwen2/Qwen3 instruct models."""
    write_bpe_from_gguf(d, "ggml-vocab-qwen2.gguf", 151646, template("qwen2.jinja"),
                        None, "<|im_end|>", "<|endoftext|>", False, "Qwen2Tokenizer",
                        {"errors": "replace", "split_special_tokens": False,
                         "additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    write_json(d / "generation_config.json",
               {"bos_token_id": 151643, "eos_token_id": [151645, 151643], "pad_token_id": 151643})


def qwen2_cfg(**kw) -> dict:
    """The small Qwen2ForCausalLM both Qwen2 fixtures share; kw overrides."""
    # The embedding has 151936 rows but the tokenizer 151646 tokens, as in Qwen2.
    base = dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=32768, max_window_layers=2, rms_norm_eps=1e-6,
                rope_theta=1000000.0, sliding_window=32768, use_sliding_window=False, vocab_size=151936,
                tie_word_embeddings=False, bos_token_id=151643, eos_token_id=151645, torch_dtype="bfloat16")
    base.update(kw)
    return base_config("Qwen2ForCausalLM", "qwen2", **base)


def make_qwen2_bpe(d: Path, cache: Path) -> None:
    cfg = qwen2_cfg()
    write_json(d / "config.json", cfg)
    write_weights(d, llama_tensors(cfg, seed=1004, qkv_bias=True), "BF16")
    write_qwen_tokenizer(d)


def make_qwen2_sw(d: Path, cache: Path) -> None:
    """Qwen2ForCausalLM with use_sliding_window true, sliding_window 16 and
    max_window_layers 1 (transformers 4 form, no layer_types): layer 0 sees
    the whole context, layer 1 only the last 16 positions, as Qwen2Config
    derives layer_types. The golden prompts + 64 tokens run past the window."""
    cfg = qwen2_cfg(max_window_layers=1, sliding_window=16, use_sliding_window=True)
    write_json(d / "config.json", cfg)
    write_weights(d, llama_tensors(cfg, seed=1011, qkv_bias=True), "BF16")
    write_qwen_tokenizer(d)


def smollm_cfg(**kw) -> dict:
    base = dict(num_hidden_layers=2, max_position_embeddings=8192, rms_norm_eps=1e-5,
                rope_theta=100000.0, rope_scaling=None, vocab_size=49152, bos_token_id=1,
                eos_token_id=2, pad_token_id=2, attention_bias=False, mlp_bias=False,
                pretraining_tp=1, torch_dtype="bfloat16")
    base.update(kw)
    return base_config("LlamaForCausalLM", "llama", **base)


def make_smollm2_tiny(d: Path, cache: Path) -> None:
    cfg = smollm_cfg(hidden_size=96, intermediate_size=256, num_attention_heads=3,
                     num_key_value_heads=1, tie_word_embeddings=True)
    write_json(d / "config.json", cfg)
    write_weights(d, llama_tensors(cfg, seed=1005), "BF16")
    copy_smollm2_tokenizer(d, smollm2_dir(cache))
    write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2})


def quant_args(strategy: str) -> dict:
    return {"num_bits": 8, "type": "float", "symmetric": True, "strategy": strategy,
            "dynamic": False, "group_size": None, "block_structure": None, "actorder": None,
            "observer": "minmax", "observer_kwargs": {}}


def make_fp8_ct(d: Path, cache: Path) -> None:
    """compressed-tensors "float-quantized" as llm-compressor saves FP8 W8A8 with
    static activation scales and an FP8 KV cache scheme. Layer 0 uses
    per-tensor weight scales ([1]), layer 1 per-channel ([out, 1]); scales are
    BF16 (the model dtype), as llm-compressor stores them."""
    cfg = smollm_cfg(hidden_size=128, intermediate_size=320, num_attention_heads=4,
                     num_key_value_heads=2, tie_word_embeddings=False)
    cfg["quantization_config"] = {
        "config_groups": {
            "group_0": {"targets": [r"re:model\.layers\.0\..*"], "weights": quant_args("tensor"),
                        "input_activations": quant_args("tensor"), "output_activations": None,
                        "format": "float-quantized"},
            "group_1": {"targets": [r"re:model\.layers\.1\..*"], "weights": quant_args("channel"),
                        "input_activations": quant_args("tensor"), "output_activations": None,
                        "format": "float-quantized"},
        },
        "format": "float-quantized", "global_compression_ratio": None, "ignore": ["lm_head"],
        "kv_cache_scheme": quant_args("tensor"), "quant_method": "compressed-tensors",
        "quantization_status": "compressed", "sparsity_config": {}, "version": "0.10.2",
    }
    write_json(d / "config.json", cfg)
    t = llama_tensors(cfg, seed=1006)
    rng = np.random.default_rng(2006)
    st = {}
    for n, a in t.items():
        if not is_linear(n):
            st[n] = st_tensor("BF16", a)
            continue
        per_channel = n.startswith("model.layers.1.")
        amax = np.abs(a).max(axis=1, keepdims=True) if per_channel else np.abs(a).max().reshape(1)
        # scale as BF16, then quantize with exactly that (rounded) scale so
        # fp8 * scale is the checkpoint's dequantized weight
        scale = st_tensor("BF16", (amax / E4M3_MAX).astype(np.float32))
        scale_f = (np.frombuffer(scale[2], dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        scale_f = scale_f.reshape(amax.shape)
        st[n] = st_tensor("F8_E4M3", f32_to_e4m3_bits(a / scale_f))
        base = n[: -len(".weight")]
        st[base + ".weight_scale"] = scale
        # static activation scale: a plausible calibrated amax of the layer input
        st[base + ".input_scale"] = st_tensor("BF16", np.array([rng.uniform(2.0, 12.0) / E4M3_MAX],
                                                                dtype=np.float32))
    for i in range(cfg["num_hidden_layers"]):
        for kv in ("k_scale", "v_scale"):
            st[f"model.layers.{i}.self_attn.{kv}"] = st_tensor(
                "BF16", np.array([rng.uniform(1.0, 6.0) / E4M3_MAX], dtype=np.float32))
    write_safetensors(d / "model.safetensors", st, {"format": "pt"})
    copy_smollm2_tokenizer(d, smollm2_dir(cache))
    write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2})


def make_fp8_block(d: Path, cache: Path) -> None:
    """DeepSeek-V3-style block FP8: weight [out, in] F8_E4M3 and
    weight_scale_inv [ceil(out/128), ceil(in/128)] F32 with w ~= fp8 * scale_inv
    per 128x128 block. hidden 192 and intermediate 320 leave partial edge
    blocks (192 = 128 + 64, 320 = 2*128 + 64); k/v_proj have 64 rows."""
    B = 128
    cfg = smollm_cfg(hidden_size=192, intermediate_size=320, num_attention_heads=6,
                     num_key_value_heads=2, tie_word_embeddings=False)
    cfg["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3",
                                  "quant_method": "fp8", "weight_block_size": [B, B]}
    write_json(d / "config.json", cfg)
    t = llama_tensors(cfg, seed=1007)
    st = {}
    for n, a in t.items():
        if not is_linear(n):
            st[n] = st_tensor("BF16", a)
            continue
        o, i = a.shape
        bo, bi = math.ceil(o / B), math.ceil(i / B)
        sinv = np.zeros((bo, bi), dtype=np.float32)
        codes = np.zeros_like(a, dtype=np.uint8)
        for r in range(bo):
            for c in range(bi):
                blk = a[r * B:(r + 1) * B, c * B:(c + 1) * B]
                s = np.float32(np.abs(blk).max() / E4M3_MAX)
                sinv[r, c] = s
                codes[r * B:(r + 1) * B, c * B:(c + 1) * B] = f32_to_e4m3_bits(blk / s)
        st[n] = st_tensor("F8_E4M3", codes)
        st[n[: -len(".weight")] + ".weight_scale_inv"] = st_tensor("F32", sinv)
    write_safetensors(d / "model.safetensors", st, {"format": "pt"})
    copy_smollm2_tokenizer(d, smollm2_dir(cache))
    write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 2})


def make_qwen3_bpe(d: Path, cache: Path) -> None:
    """Qwen3ForCausalLM in the form transformers 5's Qwen3Config writes it
    (rope_parameters, dtype, layer_types), tied embeddings as the small Qwen3
    models, head_dim 32 with 4 heads on hidden 64 (heads x head_dim != hidden,
    as in Qwen3), per-head q/k norms, no biases. Qwen2 BPE tokenizer, ChatML."""
    cfg = base_config("Qwen3ForCausalLM", "qwen3", hidden_size=64, intermediate_size=160,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                      max_position_embeddings=40960, max_window_layers=2, rms_norm_eps=1e-6,
                      rope_parameters={"rope_theta": 1000000.0, "rope_type": "default"},
                      sliding_window=None, use_sliding_window=False,
                      layer_types=["full_attention", "full_attention"], attention_bias=False,
                      vocab_size=151936, tie_word_embeddings=True, bos_token_id=151643,
                      eos_token_id=151645, pad_token_id=None, dtype="bfloat16",
                      transformers_version="5.24.0")
    write_json(d / "config.json", cfg)
    write_weights(d, llama_tensors(cfg, seed=1008, qk_norm=True), "BF16")
    write_qwen_tokenizer(d)


def make_seed_oss(d: Path, cache: Path) -> None:
    """SeedOssForCausalLM (ByteDance Seed-OSS) as transformers 5's SeedOssConfig
    writes it: q/k/v biases (attention_bias) and an o_proj bias
    (attention_out_bias, off in the published model, on here so the fixture
    checks it), head_dim 32 with 4 heads on hidden 96, the dropouts, untied
    embeddings. Qwen2 BPE tokenizer, ChatML (Seed-OSS's own tokenizer is not
    on PyPI)."""
    cfg = base_config("SeedOssForCausalLM", "seed_oss", hidden_size=96, intermediate_size=192,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, head_dim=32,
                      max_position_embeddings=524288, rms_norm_eps=1e-6,
                      rope_parameters={"rope_theta": 10000000.0, "rope_type": "default"},
                      attention_bias=True, attention_out_bias=True, mlp_bias=False,
                      attention_dropout=0.1, residual_dropout=0.1, pretraining_tp=1,
                      vocab_size=151936, tie_word_embeddings=False, bos_token_id=151643,
                      eos_token_id=151645, pad_token_id=151643, dtype="bfloat16",
                      transformers_version="5.25.0")
    write_json(d / "config.json", cfg)
    t = llama_tensors(cfg, seed=1012, qkv_bias=True)
    W = Weights(1013)
    for i in range(cfg["num_hidden_layers"]):
        t[f"model.layers.{i}.self_attn.o_proj.bias"] = W.bias(cfg["hidden_size"])
    write_weights(d, t, "BF16")
    write_qwen_tokenizer(d)


def make_phi3_spm(d: Path, cache: Path) -> None:
    """Phi3ForCausalLM as transformers 4 writes Phi-3-mini-4k (rope_theta,
    rope_scaling null, torch_dtype, sliding_window 2047 < max_position 4096,
    original_max_position_embeddings): fused self_attn.qkv_proj [q;k;v] and
    mlp.gate_up_proj [gate;up]. SentencePiece tokenizer, ChatML template."""
    cfg = base_config("Phi3ForCausalLM", "phi3", hidden_size=96, intermediate_size=256,
                      num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=2,
                      max_position_embeddings=4096, original_max_position_embeddings=4096,
                      rms_norm_eps=1e-5, rope_theta=10000.0, rope_scaling=None, sliding_window=2047,
                      embd_pdrop=0.0, resid_pdrop=0.0, vocab_size=32000, tie_word_embeddings=False,
                      bos_token_id=1, eos_token_id=2, pad_token_id=0, torch_dtype="bfloat16",
                      transformers_version="4.57.1")
    del cfg["head_dim"]  # Phi3Config has none: hidden / heads
    write_json(d / "config.json", cfg)
    cfg["head_dim"] = 16
    t = llama_tensors(cfg, seed=1009)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        t[p + "self_attn.qkv_proj.weight"] = np.concatenate(
            [t.pop(p + f"self_attn.{x}_proj.weight") for x in "qkv"], axis=0)
        t[p + "mlp.gate_up_proj.weight"] = np.concatenate(
            [t.pop(p + "mlp.gate_proj.weight"), t.pop(p + "mlp.up_proj.weight")], axis=0)
    write_weights(d, t, "BF16")
    write_spm_tokenizer(d, spm_model(cache), template("chatml.jinja"))
    write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0})


def make_mistral_sw(d: Path, cache: Path) -> None:
    """MistralForCausalLM with sliding_window 24, far below the context: the
    golden prompts plus 64 generated tokens run well past the window."""
    cfg = base_config("MistralForCausalLM", "mistral", hidden_size=64, intermediate_size=192,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=32768, rms_norm_eps=1e-5, rope_theta=10000.0,
                      sliding_window=24, vocab_size=32000, tie_word_embeddings=False,
                      bos_token_id=1, eos_token_id=2, torch_dtype="bfloat16")
    write_json(d / "config.json", cfg)
    write_weights(d, llama_tensors(cfg, seed=1010), "BF16")
    write_spm_tokenizer(d, spm_model(cache), template("mistral-instruct-v0.1.jinja"))
    write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2})


def gemma_tensors(cfg: dict, seed: int) -> dict[str, np.ndarray]:
    """float32 tensors with HF Gemma 2 / Gemma 3 names: four norms per layer
    (input, post-attention, pre- and post-feedforward; Gemma 3 adds q/k norms
    over head_dim), tied embeddings. Gemma norms multiply by (1 + w), so the
    weights are drawn around 0 (~N(0, 0.1))."""
    h, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    ff, V = cfg["intermediate_size"], cfg["vocab_size"]
    qk_norm = cfg["model_type"] != "gemma2"
    W = Weights(seed)
    gnorm = lambda n: W.norm(n) - np.float32(1.0)  # noqa: E731
    t = {"model.embed_tokens.weight": W.embed(V, h)}
    for i in range(L):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = gnorm(h)
        t[p + "self_attn.q_proj.weight"] = W.linear(nh * hd, h)
        t[p + "self_attn.k_proj.weight"] = W.linear(nkv * hd, h)
        t[p + "self_attn.v_proj.weight"] = W.linear(nkv * hd, h)
        if qk_norm:
            t[p + "self_attn.q_norm.weight"] = gnorm(hd)
            t[p + "self_attn.k_norm.weight"] = gnorm(hd)
        t[p + "self_attn.o_proj.weight"] = W.linear(h, nh * hd)
        t[p + "post_attention_layernorm.weight"] = gnorm(h)
        t[p + "pre_feedforward_layernorm.weight"] = gnorm(h)
        t[p + "mlp.gate_proj.weight"] = W.linear(ff, h, outlier_row=(i == L - 1))
        t[p + "mlp.up_proj.weight"] = W.linear(ff, h)
        t[p + "mlp.down_proj.weight"] = W.linear(h, ff)
        t[p + "post_feedforward_layernorm.weight"] = gnorm(h)
    t["model.norm.weight"] = gnorm(h)
    return t


GEMMA_DIRS = HERE.parent / "tests" / "goldens" / "model-dirs"


def make_gemma(d: Path, cache: Path, which: str, seed: int) -> None:
    """Gemma2ForCausalLM / Gemma3ForCausalLM (text): config.json as transformers
    5.24's Gemma2Config / Gemma3TextConfig save_pretrained wrote it (committed in
    tests/goldens/model-dirs/<which>-tf5/), BF16 weights, head_dim 256 on hidden
    64, sliding_window 16 (the prompts run past it) on alternate layers (Gemma 2)
    or 2 of every 3 (Gemma 3, with its local RoPE base and linear-scaled global
    RoPE), query_pre_attn_scalar 24. Gemma 2's soft-caps are lowered (attention
    1.5, final 1.0) so that they bend these small random logits. The tokenizer
    is Mistral v0.1's SentencePiece with the ChatML template (not Gemma's)."""
    import json
    shutil.copyfile(GEMMA_DIRS / f"{which}-tf5" / "config.json", d / "config.json")
    cfg = json.loads((d / "config.json").read_text(encoding="utf-8"))
    write_weights(d, gemma_tensors(cfg, seed), "BF16")
    write_spm_tokenizer(d, spm_model(cache), template("chatml.jinja"))
    write_json(d / "generation_config.json", {"bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0})


def make_gemma2(d: Path, cache: Path) -> None:
    make_gemma(d, cache, "gemma2", 1011)


def make_gemma3(d: Path, cache: Path) -> None:
    make_gemma(d, cache, "gemma3", 1012)


TF5_DIR = HERE.parent / "tests" / "goldens" / "model-dirs" / "smollm2-135m-tf5"


def make_smollm2_tf5(d: Path, cache: Path) -> None:
    """SmolLM2-135M-Instruct as transformers 5.24 save_pretrained wrote it (the
    config/tokenizer_config/generation_config/chat_template.jinja written by
    transformers are committed; the weights are the same bytes as
    smollm2-135m-instruct's, tokenizer.json the same with merges as pairs, as
    transformers 5 writes them)."""
    import json
    src = smollm2_dir(cache)
    for fn in ("config.json", "generation_config.json", "tokenizer_config.json", "chat_template.jinja"):
        shutil.copyfile(TF5_DIR / fn, d / fn)
    try:
        (d / "model.safetensors").hardlink_to(src / "model.safetensors")
    except OSError:
        shutil.copyfile(src / "model.safetensors", d / "model.safetensors")
    tj = json.loads((src / "tokenizer.json").read_text(encoding="utf-8"))
    tj["model"]["merges"] = [m.split(" ", 1) for m in tj["model"]["merges"]]
    write_json(d / "tokenizer.json", tj)


FIXTURES = {
    "llama-spm": make_llama_spm,
    "mistral-spm": make_mistral_spm,
    "llama3-bpe": make_llama3_bpe,
    "qwen2-bpe": make_qwen2_bpe,
    "smollm2-tiny": make_smollm2_tiny,
    "fp8-ct": make_fp8_ct,
    "fp8-block": make_fp8_block,
    "smollm2-tf5": make_smollm2_tf5,
    "qwen3-bpe": make_qwen3_bpe,
    "phi3-spm": make_phi3_spm,
    "seed-oss": make_seed_oss,
    "mistral-sw": make_mistral_sw,
    "qwen2-sw": make_qwen2_sw,
    "gemma2": make_gemma2,
    "gemma3": make_gemma3,
}


def _register_more() -> None:
    """Fixtures in their own modules (MoE, gpt-oss, multimodal wrappers); each takes this module."""
    import synthetic_deepseek
    import synthetic_gpt_oss
    import synthetic_moe
    import synthetic_multimodal
    me = sys.modules[__name__]
    for mod in (synthetic_moe, synthetic_gpt_oss, synthetic_multimodal, synthetic_deepseek):
        for name, fn in mod.FIXTURES.items():
            FIXTURES[name] = (lambda f: lambda d, cache: f(me, d, cache))(fn)


_register_more()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help=f"fixtures to make (default: all of {', '.join(FIXTURES)})")
    ap.add_argument("--cache", type=Path, default=cache_root(), help="cache dir (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="rebuild even if complete")
    a = ap.parse_args()
    names = a.names or list(FIXTURES)
    for n in names:
        if n not in FIXTURES:
            die(f"unknown fixture {n!r}; known: {', '.join(FIXTURES)}", 2)
    for n in names:
        out = a.cache / "synthetic" / n
        if not a.force and is_complete(out, fixture_version(n)):
            log(f"up to date: {out}")
        else:
            log(f"making {out}")
            with atomic_dir(out) as tmp:
                FIXTURES[n](tmp, a.cache)
                mark_complete(tmp, fixture_version(n))
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
