"""Helpers shared by the fixture scripts (fetch_smollm2.py, make_synthetic.py).

Only numpy, gguf and the standard library: no torch. Everything written here is
byte-reproducible (fixed key order, no timestamps) so fixtures can be compared
by hash across machines.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def cache_root() -> Path:
    """${F8_CACHE:-$HOME/.cache/f8}: every download and generated fixture lives here."""
    return Path(os.environ.get("F8_CACHE") or Path.home() / ".cache" / "f8")


def log(msg: str) -> None:
    print(f"[fixtures] {msg}", file=sys.stderr, flush=True)


def die(msg: str, code: int = 1) -> None:
    print(f"fixtures: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(code)


# ---------------------------------------------------------------- dtypes

def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even (as torch does)."""
    u = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    out = rounded.astype(np.uint16)
    nan = np.isnan(np.asarray(x, dtype=np.float32))
    if nan.any():  # keep NaN a (quiet) NaN instead of rounding into Inf
        out[nan] = 0x7FC0
    return out


def bf16_bits_to_f32(b: np.ndarray) -> np.ndarray:
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


# E4M3FN (OCP FP8, the format safetensors calls F8_E4M3): 1 sign, 4 exponent
# (bias 7), 3 mantissa bits; no Inf; 0x7F/0xFF are NaN; max finite 448.
def _e4m3_table() -> np.ndarray:
    vals = np.zeros(256, dtype=np.float64)
    for code in range(256):
        s = -1.0 if code & 0x80 else 1.0
        e = (code >> 3) & 0xF
        m = code & 0x7
        if e == 0xF and m == 0x7:
            vals[code] = np.nan
        elif e == 0:
            vals[code] = s * (m / 8.0) * 2.0 ** -6
        else:
            vals[code] = s * (1.0 + m / 8.0) * 2.0 ** (e - 7)
    return vals


E4M3_VALUES = _e4m3_table()
E4M3_MAX = 448.0


def f32_to_e4m3_bits(x: np.ndarray) -> np.ndarray:
    """Round float32 to the nearest E4M3FN code (ties to even), saturating to +-448.

    Done by nearest-value search over the 127 non-negative finite codes, so it
    is obviously right rather than fast; fixture tensors are tiny.
    """
    x = np.asarray(x, dtype=np.float64)
    pos = E4M3_VALUES[:0x7F]  # codes 0x00..0x7E, increasing
    a = np.minimum(np.abs(x), E4M3_MAX)
    idx = np.searchsorted(pos, a)  # pos[idx-1] < a <= pos[idx]
    idx = np.clip(idx, 1, len(pos) - 1)
    lo, hi = pos[idx - 1], pos[idx]
    take_hi = (a - lo > hi - a) | ((a - lo == hi - a) & (idx % 2 == 0))
    code = np.where(take_hi, idx, idx - 1).astype(np.uint8)
    code = np.where(a == 0, 0, code).astype(np.uint8)
    # IEEE sign rule, as torch's .to(float8_e4m3fn): negatives that round to 0 give -0 (0x80)
    sign = np.where(np.signbit(x), 0x80, 0).astype(np.uint8)
    return code | sign


# ---------------------------------------------------------------- safetensors

_ST_DTYPES = {  # our tag -> (safetensors dtype, element bytes)
    "F32": ("F32", 4), "F16": ("F16", 2), "BF16": ("BF16", 2), "F8_E4M3": ("F8_E4M3", 1),
    "U8": ("U8", 1),  # raw bytes, e.g. MXFP4 blocks and E8M0 scales (gpt-oss)
}


def st_tensor(dtype: str, arr: np.ndarray) -> tuple[str, list[int], bytes]:
    """Make a (dtype, shape, raw little-endian bytes) triple for write_safetensors.

    `arr` holds values (float) for F32/F16/BF16, or uint8 codes for F8_E4M3 / U8.
    """
    shape = list(arr.shape)
    if dtype == "F32":
        raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
    elif dtype == "F16":
        raw = np.ascontiguousarray(arr, dtype="<f2").tobytes()
    elif dtype == "BF16":
        raw = f32_to_bf16_bits(arr).astype("<u2").tobytes()
    elif dtype in ("F8_E4M3", "U8"):
        assert arr.dtype == np.uint8, f"{dtype} tensors must be given as uint8"
        raw = np.ascontiguousarray(arr).tobytes()
    else:
        raise ValueError(f"unsupported dtype {dtype}")
    return dtype, shape, raw


def write_safetensors(path: Path, tensors: dict, metadata: dict | None = None) -> None:
    """Write a safetensors file by hand (the format is: u64 LE header length,
    JSON header padded with spaces to 8 bytes, then the tensor bytes back to back).

    tensors: name -> (dtype, shape, raw bytes), written in sorted-name order.
    """
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    off = 0
    names = sorted(tensors)
    for n in names:
        dt, shape, raw = tensors[n]
        esize = _ST_DTYPES[dt][1]
        assert len(raw) == int(np.prod(shape, dtype=np.int64)) * esize, n
        header[n] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for n in names:
            f.write(tensors[n][2])


def write_json(path: Path, obj, indent: int = 2) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=indent, ensure_ascii=False)
        f.write("\n")


# ---------------------------------------------------------------- atomic output

@contextmanager
def atomic_dir(final: Path):
    """Yield a temp dir beside `final`; on success rename it into place.

    A crash leaves only a `.tmp-*` dir (removed on the next run's failure path
    or by hand), never a half-written `final`.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{final.name}-", dir=final.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; fixtures are plain shared data
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


DONE_MARKER = ".complete"


def is_complete(d: Path, version: str) -> bool:
    """A fixture dir is complete when its marker holds the generator's version."""
    m = d / DONE_MARKER
    return m.is_file() and m.read_text().strip() == version


def mark_complete(d: Path, version: str) -> None:
    (d / DONE_MARKER).write_text(version + "\n")


# ---------------------------------------------------------------- heavy peers venv

PEER_PKGS = ["torch", "transformers", "protobuf", "sentencepiece", "numpy", "jinja2",
             "accelerate",          # transformers' MXFP4 loader (gpt-oss corpus goldens)
             "compressed-tensors"]  # scripts/gen_saved_tf5_configs.py (llm-compressor FP8 configs)


def peer_venv(cache: Path, need_llama_cpp: bool = False) -> Path:
    """Python of ${F8_CACHE}/venv-peers (torch, transformers[, llama-cpp-python]),
    made and filled on first use. Only the one-off reference scripts use it; CI
    never does. llama-cpp-python compiles llama.cpp from source (slow)."""
    import subprocess
    venv = cache / "venv-peers"
    py = venv / "bin" / "python"
    if not py.exists():
        log(f"creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pkgs = PEER_PKGS + (["llama-cpp-python"] if need_llama_cpp else [])
    probe = "import torch, transformers, google.protobuf, sentencepiece, jinja2, accelerate, compressed_tensors"
    probe += ", llama_cpp" if need_llama_cpp else ""
    if subprocess.run([str(py), "-c", probe], capture_output=True).returncode != 0:
        log(f"pip install {' '.join(pkgs)} into {venv}")
        env = dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
        r = subprocess.run([str(py), "-m", "pip", "install", "-q"] + pkgs, env=env)
        if r.returncode != 0:
            die(f"pip install into {venv} failed")
    return py


def in_venv(py: Path) -> bool:
    """True when this interpreter is the venv whose python is `py`."""
    return Path(sys.prefix).resolve() == py.parent.parent.resolve()


# ---------------------------------------------------------------- GGUF -> tokenizer.json

# GGUF token_type values (gguf.TokenType): 1 normal, 2 unknown, 3 control,
# 4 user-defined, 5 unused, 6 byte.
TT_CONTROL, TT_USER_DEFINED = 3, 4

# Pre-tokenizers exactly as the original Hugging Face tokenizer.json files have
# them, keyed by GGUF `tokenizer.ggml.pre` (llama.cpp's llama-vocab.cpp maps
# the same names to the same regexes).
_GPT2_BYTELEVEL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
_LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
_QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

PRE_TOKENIZERS = {
    # SmolLM2 (llama.cpp "smollm": "\p{N}" then the GPT-2 regex).
    "smollm": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": True}, _GPT2_BYTELEVEL]},
    "llama-bpe": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": _LLAMA3_REGEX}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
    "qwen2": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": _QWEN2_REGEX}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
}


def read_gguf_vocab(path: Path) -> dict:
    """tokens, token types, merges and special ids from a GGUF file's metadata."""
    import gguf
    r = gguf.GGUFReader(str(path))
    f = r.fields

    def get(key, default=None):
        return f[key].contents() if key in f else default

    return {
        "reader": r,
        "model": get("tokenizer.ggml.model"),
        "pre": get("tokenizer.ggml.pre"),
        "tokens": get("tokenizer.ggml.tokens"),
        "types": get("tokenizer.ggml.token_type"),
        "merges": get("tokenizer.ggml.merges"),
        "bos": get("tokenizer.ggml.bos_token_id"),
        "eos": get("tokenizer.ggml.eos_token_id"),
        "unk": get("tokenizer.ggml.unknown_token_id"),
        "pad": get("tokenizer.ggml.padding_token_id"),
        "chat_template": get("tokenizer.chat_template"),
    }


def bpe_tokenizer_json(v: dict, n_real: int | None = None) -> dict:
    """Rebuild a Hugging Face `tokenizers` byte-level BPE tokenizer.json.

    v: read_gguf_vocab() output. n_real: keep only the first n_real tokens
    (GGUF pads Qwen2's vocab to the embedding size with [PADn] tokens that the
    real tokenizer.json does not have).
    """
    pre = v["pre"]
    if pre not in PRE_TOKENIZERS:
        raise ValueError(f"no pre-tokenizer recipe for GGUF tokenizer.ggml.pre={pre!r}")
    tokens = v["tokens"][: n_real or len(v["tokens"])]
    types = v["types"][: len(tokens)]
    added = []
    for i, (t, ty) in enumerate(zip(tokens, types)):
        if ty in (TT_CONTROL, TT_USER_DEFINED):
            added.append({"id": i, "content": t, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": ty == TT_USER_DEFINED,
                          "special": ty == TT_CONTROL})
    model = {"type": "BPE", "dropout": None, "unk_token": None,
             "continuing_subword_prefix": None, "end_of_word_suffix": None,
             "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
             "vocab": {t: i for i, t in enumerate(tokens)},
             "merges": list(v["merges"])}
    tj = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
          "normalizer": None, "pre_tokenizer": PRE_TOKENIZERS[pre],
          "post_processor": {"type": "ByteLevel", "add_prefix_space": True,
                             "trim_offsets": False, "use_regex": True},
          "decoder": {"type": "ByteLevel", "add_prefix_space": True,
                      "trim_offsets": True, "use_regex": True},
          "model": model}
    if pre == "smollm":
        model["unk_token"] = tokens[v["unk"]] if v["unk"] is not None else None
    elif pre == "llama-bpe":
        # Llama 3: merges are skipped for whole-vocab words; BOS added by a template.
        model["ignore_merges"] = True
        bos = tokens[v["bos"]]
        tj["post_processor"] = {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {bos: {"id": bos, "ids": [v["bos"]], "tokens": [bos]}}}]}
    elif pre == "qwen2":
        tj["normalizer"] = {"type": "NFC"}
        model["continuing_subword_prefix"] = ""
        model["end_of_word_suffix"] = ""
        tj["post_processor"] = {"type": "ByteLevel", "add_prefix_space": False,
                                "trim_offsets": False, "use_regex": False}
        tj["decoder"] = {"type": "ByteLevel", "add_prefix_space": False,
                         "trim_offsets": False, "use_regex": False}
    return tj


def added_tokens_decoder(tj: dict) -> dict:
    """tokenizer_config.json's `added_tokens_decoder` from tokenizer.json's added_tokens."""
    return {str(a["id"]): {"content": a["content"], "lstrip": a["lstrip"],
                           "normalized": a["normalized"], "rstrip": a["rstrip"],
                           "single_word": a["single_word"], "special": a["special"]}
            for a in tj["added_tokens"]}


def check_tokenizer_vectors(tok_json_path: Path, inp: Path, out: Path) -> tuple[int, int]:
    """Encode llama.cpp's vocab test strings with `tokenizers` and compare with
    the reference ids (no special tokens). Returns (matching, total)."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(tok_json_path))
    texts = inp.read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")
    if texts and texts[-1].endswith("\n__ggml_vocab_test__"):
        texts[-1] = texts[-1][: -len("\n__ggml_vocab_test__")]
    refs = out.read_text(encoding="utf-8").split("\n")
    ok = 0
    n = min(len(texts), len(refs))
    for t, ref in zip(texts[:n], refs[:n]):
        want = [int(x) for x in ref.split()]
        ok += tok.encode(t, add_special_tokens=False).ids == want
    return ok, n
