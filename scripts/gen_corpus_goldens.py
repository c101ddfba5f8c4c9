#!/usr/bin/env python3
"""Reference perplexities from Hugging Face transformers for the config corpus.

For every entry of tests/goldens/configs/published/ and saved-tf5/: shrink its
config.json (scripts/shrink_config.py), write the seeded checkpoint
(scripts/make_corpus_checkpoint.py, the bytes the CI test writes too), load it
with transformers (float32, attn_implementation="eager"), run the fixed
48-token sequence TOKENS through it and write tests/goldens/corpus/<entry>.json:
the NLL of every next token, the perplexity, and the top logits at a few
positions. tests/py/test_config_corpus.py compares `f8 convert` + f8's forward
pass with these.

NOT run in CI: it needs torch + transformers, which live in
${F8_CACHE:-~/.cache/f8}/venv-peers; the script re-executes itself there.

  scripts/gen_corpus_goldens.py [ENTRY...] [--threads N]

How a checkpoint is loaded:
  - the architecture's own class (config.json "architectures"[0]) with
    output_loading_info: a missing or unexpected tensor is an error (it would
    mean corpus_tensors.py does not lay the checkpoint out as transformers
    expects);
  - FP8 checkpoints ("fp8" block scales, compressed-tensors): the golden is the
    model on the dequantized weights (decode(E4M3) x scale, float32, then
    loaded without quantization_config) -- the function the checkpoint stores
    and the one f8 computes from the imported bytes (activations stay in
    float32 on f8's CPU path, so activation quantization is not part of it);
  - MXFP4 (gpt-oss): transformers' own MXFP4 loader, which dequantizes on a
    machine without a GPU (E2M1 x 2^e is exact in bfloat16), then float32.
An entry transformers cannot load (e.g. remote code) gets a golden with
"transformers_error" and the reason; the test then only checks the refusal.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from hf_fixture_io import cache_root, die, in_venv, log, peer_venv  # noqa: E402

CONFIGS = ROOT / "tests" / "goldens" / "configs"
OUT_DIR = ROOT / "tests" / "goldens" / "corpus"
FORMAT = "f8-corpus-golden-v1"
TOKEN_SEED = 48
N_TOKENS = 48          # > shrink_config.WINDOW (16): sliding windows take effect
TOKEN_RANGE = (3, 956)  # ordinary ids of the corpus tokenizer (no specials)
TOP_POSITIONS = (0, 15, 31, 47)
TOP_K = 8


def token_ids() -> list:
    import numpy as np
    rng = np.random.default_rng(TOKEN_SEED)
    return [int(x) for x in rng.integers(TOKEN_RANGE[0], TOKEN_RANGE[1], size=N_TOKENS)]


def entries(names=None) -> list:
    """(name, kind, config path) of every corpus entry, sorted."""
    out = []
    for kind in ("published", "saved-tf5"):
        for p in sorted((CONFIGS / kind).glob("*/config.json")):
            out.append((p.parent.name, kind, p))
    if names:
        known = {n for n, _, _ in out}
        for n in names:
            if n not in known:
                die(f"unknown corpus entry {n!r}", 2)
        out = [e for e in out if e[0] in names]
    return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def r7(x: float) -> float:
    return float(f"{x:.7g}")


def dequantized_copy(src: Path, dst: Path) -> str:
    """src's checkpoint with FP8 weights decoded to float32 (torch's
    float8_e4m3fn -> float32, times the scale) and no quantization_config.
    Returns a description of what was done."""
    import torch
    from safetensors.torch import load_file, save_file
    cfg = json.loads((src / "config.json").read_text())
    q = cfg.pop("quantization_config")
    t = load_file(str(src / "model.safetensors"))
    out, n = {}, 0
    for name, a in t.items():
        if name.endswith((".weight_scale_inv", ".weight_scale", ".input_scale")):
            continue
        base = name[: -len(".weight")] if name.endswith(".weight") else ""
        if a.dtype == torch.float8_e4m3fn:
            w = a.to(torch.float32)
            if base + ".weight_scale_inv" in t:  # per BxB block
                B = int(q["weight_block_size"][0])
                s = t[base + ".weight_scale_inv"].to(torch.float32)
                s = s.repeat_interleave(B, 0).repeat_interleave(B, 1)[: w.shape[0], : w.shape[1]]
            else:  # compressed-tensors: per channel [out, 1] or per tensor [1]
                s = t[base + ".weight_scale"].to(torch.float32)
            out[name] = (w * s).contiguous()
            n += 1
        else:
            out[name] = a.to(torch.float32) if a.is_floating_point() else a
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.name not in ("model.safetensors", "config.json"):
            (dst / f.name).write_bytes(f.read_bytes())
    (dst / "config.json").write_text(json.dumps(cfg, indent=2))
    save_file(out, str(dst / "model.safetensors"), metadata={"format": "pt"})
    return f"{n} FP8 tensors ({q.get('quant_method')}) dequantized (E4M3 x scale, float32), loaded without quantization_config"


def load(d: Path, cfg: dict):
    import torch
    import transformers
    arch = cfg["architectures"][0]
    cls = getattr(transformers, arch, None)
    if cls is None:
        remote = " (config.json auto_map: remote code)" if cfg.get("auto_map") else ""
        raise RuntimeError(f"transformers {transformers.__version__} has no class {arch}{remote}")
    model, info = cls.from_pretrained(d, dtype=torch.float32, attn_implementation="eager",
                                      output_loading_info=True)
    bad = {k: v for k, v in info.items() if v and k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
    if bad:
        raise AssertionError(f"checkpoint layout differs from transformers': {bad}")
    return model.float().eval()


def gen_one(name: str, kind: str, cfg_path: Path, work: Path) -> dict:
    import numpy as np
    import torch
    from make_corpus_checkpoint import entry_seed, make
    from shrink_config import shrink

    cfg = shrink(json.loads(cfg_path.read_text(encoding="utf-8")))
    seed = entry_seed(name)
    d = work / name
    make(cfg, d, seed)
    out = {"format": FORMAT, "entry": name, "kind": kind, "architecture": cfg["architectures"][0],
           "seed": seed, "shrunk_config_sha256": hashlib.sha256(
               json.dumps(cfg, sort_keys=True).encode()).hexdigest(),
           "weights_sha256": sha256(d / "model.safetensors")}
    q = cfg.get("quantization_config") or {}
    try:
        if q.get("quant_method") in ("fp8", "compressed-tensors"):
            dq = work / (name + "-dequantized")
            out["load"] = dequantized_copy(d, dq)
            model = load(dq, cfg)
        else:
            out["load"] = "transformers from_pretrained" + (" (its MXFP4 loader)" if q else "")
            model = load(d, cfg)
    except Exception as e:  # recorded, not fatal: the test then checks the refusal only
        msg = f"{type(e).__name__}: {e}".splitlines()[0][:400]
        if isinstance(e, AssertionError):
            raise
        log(f"{name}: transformers cannot load it: {msg}")
        out["transformers_error"] = msg
        return out
    ids = token_ids()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()  # [T, V]
    lsm = torch.log_softmax(logits, dim=-1)
    nll = [-float(lsm[t, ids[t + 1]]) for t in range(len(ids) - 1)]
    out.update({
        "compute": "float32 weights and activations, eager attention, one forward pass over token_ids",
        "token_ids": ids,
        "nll": [r7(x) for x in nll],
        "ppl": float(f"{float(np.exp(np.mean(nll))):.10g}"),
        "positions": [{"pos": p, "top_ids": [int(i) for i in torch.topk(logits[p], TOP_K).indices],
                       "top_logits": [r7(v) for v in torch.topk(logits[p], TOP_K).values],
                       "logsumexp": r7(torch.logsumexp(logits[p], dim=-1))} for p in TOP_POSITIONS],
    })
    log(f"{name}: ppl {out['ppl']:.4f} ({out['load']})")
    return out


def run(args) -> int:
    import torch
    import transformers
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="f8-corpus-") as tmp:
        for name, kind, p in entries(args.names):
            g = gen_one(name, kind, p, Path(tmp))
            g["generator"] = {"transformers": transformers.__version__, "torch": torch.__version__,
                              "script": "scripts/gen_corpus_goldens.py"}
            path = OUT_DIR / f"{name}.json"
            tmpf = path.with_suffix(".json.tmp")
            tmpf.write_text(json.dumps(g, indent=1) + "\n", encoding="utf-8")
            os.replace(tmpf, path)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="corpus entries (default: all)")
    ap.add_argument("--cache", type=Path, default=cache_root(), help="cache dir (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    args = ap.parse_args()
    py = peer_venv(args.cache)
    if not in_venv(py):
        os.execv(str(py), [str(py), __file__] + sys.argv[1:])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
