#!/usr/bin/env python3
"""Write tests/goldens/tokenizer/*.json: token ids from the reference
implementations for f8's tokenizer tests.

  smollm2, llama3-vv, qwen2-vv,  Hugging Face `tokenizers` on tokenizer.json
  gemma3-hf, mistral-v1-hf, llama2-hf, syn-*   (scripts/make_tokenizer_fixtures.py;
                                 these also get FLAG_CASES)
  mistral-v1, mistral-v3, llama2-vv   `sentencepiece` on tokenizer.model

Fixtures come from scripts/fetch_tokenizer_data.py (run first). Each golden
holds, per test string:
  ids          encode without BOS/EOS. tokenizers: added/special tokens in the
               text are matched (f8 parse_special=true). sentencepiece: the
               text is encoded as it is (f8 parse_special=false).
  ids_special  (sentencepiece only) the text split at control-token texts,
               each span encoded by sentencepiece (f8 parse_special=true;
               Hugging Face's slow/legacy Llama tokenizer does the same)
  ids_bos      encode with the model's special tokens (BOS per config)
  text_skip    decode(ids) without special tokens (tokenizers
               skip_special_tokens=True; sentencepiece decode)
  text_all     (tokenizers only) decode(ids, skip_special_tokens=False)
  hf_ids       (vocab-vector sets) the ids llama.cpp recorded from the
               original Hugging Face tokenizer, for the same string
Usage: scripts/gen_tokenizer_goldens.py [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

# ≥ 60 strings: whitespace runs, tabs/newlines, digits, punctuation, emoji and
# other multi-byte text, CJK, accented Latin, code, special tokens inside text,
# the empty string, very long words, and text that stresses merges.
CASES = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\n\n\n", "\t\n", " \t \n ",
    "Hello world", " Hello world", "Hello World", " Hello World!", "Hello, world!",
    "hello    world   with   runs", "trailing spaces   ", "   leading spaces",
    "line one\nline two\r\nline three\rend", "tabs\tbetween\twords\t\t\tand more",
    "3", "33", "333", "3333", "12345678901234567890", "3.14159 2,718 -42 +7 1e-9 0x1F",
    "Prices: $1,299.99 or €5.00 (≈ £4)", "2024-01-15T10:30:00Z", "٣٤٥ and ² ³ ½ Ⅻ",
    "!!!!!!", "?!?!... --- ___ ***", "(parens) [brackets] {braces} <angles>",
    "\"quoted\" 'single' `back`", "I'm you're he's we've they'll she'd IT'S WE'VE",
    "🦙 llama", "🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ (only emoji that has its own token)",
    "👨‍👩‍👧‍👦 family 🏳️‍🌈 flag 👍🏽 tone", "你好，世界！", "我想在apple工作1314151天～",
    "日本語のテキストとカタカナ", "한국어 텍스트입니다", "нещо на Български", "Ελληνικά γράμματα",
    "العربية نص", "עברית טקסט", "हिन्दी पाठ", "ภาษาไทย", "កាន់តែពិសេសអាចខលចេញ",
    "Äpfel Öl Übermut ß", "café naïve résumé coöperate", "Cửa Việt", "Ångström Øresund Łódź",
    "e\u0301 (decomposed é) and \u00e9 (composed)", "ﬁ ligature and ＦＵＬＬＷＩＤＴＨ",
    "def f(x):\n    return x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
    "<html><body class=\"main\">Hi &amp; bye</body></html>",
    "SELECT * FROM users WHERE id = 42;", "{\"key\": [1, 2, 3], \"nested\": {\"a\": null}}",
    "https://example.com/path?q=1&r=two#frag", "user@example.com",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n",
    "text<|im_end|>more<|endoftext|>", "<s>[INST] hi [/INST]</s>", "a <s> b </s> c",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|>",
    "<|im_start", "im_end|>",
    "a" * 200, "supercalifragilisticexpialidocious" * 8,
    "pneumonoultramicroscopicsilicovolcanoconiosis",
    "x" + "ab" * 300, "0123456789" * 20, "🙂" * 50, "的" * 100,
    "Mixed: English, 中文, русский, 😀, and numbers 42!",
    "\u00a0non-breaking\u00a0spaces\u2003em space\u3000ideographic",
    "zero\u200bwidth\u200cjoiner\u200dtest", "\ufeffBOM at start",
]

# Added-token flags and normalizer/pre-tokenizer edges (issue 15 item 4):
# tokens next to text and spaces, single_word boundaries, case variants,
# leading spaces after an added token, NFKC ligatures, whitespace runs.
FLAG_CASES = [
    "<s>In the beginning</s>", "a<mask>b", "a <mask> b", "a   <mask>   b", "x   <|tool|>   y", "<|tool|>",
    "[NL]", "a[NL]b", " [NL] ", "x [NL]y", "_[NL]_", "é[NL]", "Lord GOD said", "the Lord GOD", "LordGOD",
    "[mask] [MASK] [Mask] x[MASK]y", "[SEP]   next", "a[SEP]b", "foo_bar", "xfoo_bar", "foo_bar!", "foo_bars",
    "Ünïcode ünïcode", "ﬁre fire FIRE", "  In   the\tbeginning\n\n", "``quoted'' text",
    "<eos> tail", "head   <eos>", "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n",
    "<bos>Hello", "\u2581already metaspace \u2581\u2581x", "İSTANBUL ΣΑΣ ẞ Straße", "tab\tand\u00a0nbsp\u3000end",
    "<0x41> literal byte token text", "<unk> and <pad>",
]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def cache_root() -> Path:
    return Path(os.environ.get("F8_CACHE", str(Path.home() / ".cache" / "f8")))


def vectors(d: Path):
    raw = (d / "vectors.inp").read_text(encoding="utf-8")
    parts = raw.split("\n__ggml_vocab_test__\n")
    if parts and parts[-1] == "":
        parts = parts[:-1]
    lines = (d / "vectors.out").read_text().split("\n")
    return [(s, [int(x) for x in lines[i].split()]) for i, s in enumerate(parts)]


def hf_golden(name: str, d: Path, extra=()):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(d / "tokenizer.json"))
    out = []
    flags = FLAG_CASES if name.endswith("-hf") or name.startswith("syn-") else []
    for text, hf_ids in [(t, None) for t in CASES + flags] + list(extra):
        ids = tok.encode(text, add_special_tokens=False).ids
        c = {"text": text, "ids": ids, "ids_bos": tok.encode(text, add_special_tokens=True).ids,
             "text_skip": tok.decode(ids, skip_special_tokens=True),
             "text_all": tok.decode(ids, skip_special_tokens=False)}
        if hf_ids is not None:
            c["hf_ids"] = hf_ids
        out.append(c)
    return {"tokenizer": name, "kind": "bpe", "reference": "tokenizers " + __import__("tokenizers").__version__,
            "cases": out}


def sp_golden(name: str, d: Path, extra=()):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(d / "tokenizer.model"))
    controls = sorted({sp.id_to_piece(i) for i in range(sp.get_piece_size()) if sp.is_control(i) and sp.id_to_piece(i)},
                      key=len, reverse=True)
    piece_id = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}

    def split_special(text):
        ids, i, start = [], 0, 0
        while i < len(text):
            hit = next((c for c in controls if text.startswith(c, i)), None)
            if hit is None:
                i += 1
                continue
            if i > start:
                ids += sp.encode(text[start:i])
            ids.append(piece_id[hit])
            i += len(hit)
            start = i
        if start < len(text):
            ids += sp.encode(text[start:])
        return ids

    out = []
    for text, hf_ids in [(t, None) for t in CASES] + list(extra):
        ids = sp.encode(text)
        c = {"text": text, "ids": ids, "ids_special": split_special(text),
             "ids_bos": ([sp.bos_id()] if sp.bos_id() >= 0 else []) + ids, "text_skip": sp.decode(ids)}
        if hf_ids is not None:
            c["hf_ids"] = hf_ids
        out.append(c)
    return {"tokenizer": name, "kind": "sentencepiece",
            "reference": "sentencepiece " + __import__("sentencepiece").__version__, "cases": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / "tests" / "goldens" / "tokenizer"))
    ap.add_argument("--only", default="", help="comma-separated golden names (default: all)")
    args = ap.parse_args()
    tdir = cache_root() / "tokenizers"
    outdir = Path(args.out)
    outdir.mkdir(parents=True, exist_ok=True)
    jobs = [("smollm2", hf_golden, False), ("mistral-v1", sp_golden, False), ("mistral-v3", sp_golden, False),
            ("llama3-vv", hf_golden, True), ("qwen2-vv", hf_golden, True), ("llama2-vv", sp_golden, True),
            ("gemma3-hf", hf_golden, False), ("mistral-v1-hf", hf_golden, False), ("llama2-hf", hf_golden, False),
            ("syn-metaspace", hf_golden, False), ("syn-lower-ws", hf_golden, False), ("syn-wsplit", hf_golden, False)]
    only = set(args.only.split(",")) if args.only else None
    for name, fn, vv in jobs:
        if only and name not in only:
            continue
        # Synthetic fixtures are committed (scripts/make_tokenizer_fixtures.py).
        d = ROOT / "tests" / "goldens" / "tokenizer" / "fixtures" / name if name.startswith("syn-") else tdir / name
        if not d.is_dir():
            print(f"gen_tokenizer_goldens: {d} missing (run scripts/fetch_tokenizer_data.py); skipped", file=sys.stderr)
            continue
        g = fn(name, d, vectors(d) if vv else ())
        path = outdir / f"{name}.json"
        head = json.dumps({k: v for k, v in g.items() if k != "cases"}, ensure_ascii=False)[:-1]
        body = ",\n".join(json.dumps(c, ensure_ascii=False) for c in g["cases"])  # one case a line
        path.write_text(head + ', "cases": [\n' + body + "\n]}\n", encoding="utf-8")
        ntok = sum(len(c["ids"]) for c in g["cases"])
        print(f"{path}: {len(g['cases'])} strings, {ntok} tokens", file=sys.stderr)


if __name__ == "__main__":
    main()
