#!/usr/bin/env python3
"""PyTorch peer check of f8's default FP8 scheme (issue 13 item 4): writes the
golden that tests/py/test_fp8_peer.py compares `f8 convert` and
`f8 perplexity` with, so CI needs no torch.

The scheme, computed here with PyTorch alone (no f8 code) on SmolLM2-135M
(${F8_CACHE:-~/.cache/f8}/smollm2-135m-instruct, made by scripts/fixtures.sh):
every linear weight of every layer (q, k, v, o, gate, up, down; the tied
embedding stays BF16) gets per-output-channel scales exactly as
convert/quantize.cpp computes them:

    amax = max |w| over the row          (exact: BF16 -> float32)
    s    = fl32(amax / 448), floored at FLT_MIN;  s = 1 for an all-zero row
    q    = (w / s).clamp(-448, 448).to(torch.float8_e4m3fn)

i.e. the float32 quotient rounded once to E4M3 (nearest-even, saturating; the
clamp never fires with amax scales, it only makes the saturation explicit, as
llm-compressor's quantizer does). For each tensor the golden stores the first
32 hex digits of SHA-256 over the codes (row-major [out, in], one byte each,
as f8 stores them) and over the scales (float32 little-endian).

Then the dequantized weights (float(q) * s) replace the originals and
transformers runs the model in float32 on KJV Genesis (scripts/kjv_text.sh)
chunked as `f8 perplexity` does (src/cli/cmd_perplexity.cpp): the text
tokenized without special tokens, non-overlapping chunks of 512 positions
each starting with BOS followed by 511 text tokens, positions 256..510 scored
(predicting tokens 257..511), first two chunks; mean NLL in float64 from
float32 logits.

Needs torch + transformers: the script re-executes itself in the peers venv
${F8_CACHE}/venv-peers (scripts/hf_fixture_io.py), made on first use.

  python3 scripts/fp8_peer_golden.py [--out tests/goldens/fp8-peer/smollm2-135m-e4m3-channel.json]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
from hf_fixture_io import cache_root, die, in_venv, log, peer_venv  # noqa: E402

DEFAULT_OUT = ROOT / "tests" / "goldens" / "fp8-peer" / "smollm2-135m-e4m3-channel.json"
PROJS = [("self_attn.q_proj", "attn_q"), ("self_attn.k_proj", "attn_k"), ("self_attn.v_proj", "attn_v"),
         ("self_attn.o_proj", "attn_output"), ("mlp.gate_proj", "ffn_gate"), ("mlp.up_proj", "ffn_up"),
         ("mlp.down_proj", "ffn_down")]
E4M3_MAX = 448.0
FLT_MIN = 1.1754943508222875e-38
CHUNK, N_CHUNKS = 512, 2


def sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()[:32]


def file_sha(p: Path) -> str:
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for blk in iter(lambda: f.read(1 << 20), b""):
            h.update(blk)
    return h.hexdigest()


def quantize_rows(w, torch):
    """w: float32 [out, in]. Returns (codes uint8 [out, in], scales float32 [out])."""
    amax = w.abs().amax(dim=1)
    # Tensor / tensor (not a Python scalar) so the kernel is an elementwise
    # IEEE division; checked against numpy below anyway.
    s = amax / torch.full_like(amax, E4M3_MAX)
    s = torch.clamp_min(s, FLT_MIN)
    s = torch.where(amax > 0, s, torch.ones_like(s))
    y = w / s[:, None].expand_as(w).contiguous()
    q = y.clamp(-E4M3_MAX, E4M3_MAX).to(torch.float8_e4m3fn)
    return q, s, y


def run(args) -> int:
    import numpy as np
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(args.threads)
    hf_dir = args.cache / "smollm2-135m-instruct"
    if not (hf_dir / "model.safetensors").exists():
        die(f"{hf_dir} missing: run scripts/fixtures.sh")
    text_path = Path(subprocess.run(["bash", str(HERE / "kjv_text.sh")], check=True, capture_output=True,
                                    text=True).stdout.strip())
    text = text_path.read_text(encoding="utf-8")

    model = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32)
    model.eval()
    cfg = model.config
    tensors = {}
    n_codes = n_clamped = 0
    with torch.no_grad():
        for li, layer in enumerate(model.model.layers):
            for hf, ours in PROJS:
                mod = layer
                for part in hf.split("."):
                    mod = getattr(mod, part)
                w = mod.weight.data.float().contiguous()
                q, s, y = quantize_rows(w, torch)
                # The quotient is the IEEE float32 one (numpy divides exactly so).
                wn, sn = w.numpy(), s.numpy()
                sn_ref = np.where(wn.__abs__().max(axis=1) > 0,
                                  np.maximum(np.abs(wn).max(axis=1) / np.float32(E4M3_MAX), np.float32(FLT_MIN)),
                                  np.float32(1)).astype(np.float32)
                if not np.array_equal(sn.view(np.uint32), sn_ref.view(np.uint32)):
                    die(f"{ours}: torch scale differs from numpy float32 amax / 448")
                if not np.array_equal(y.numpy().view(np.uint32), (wn / sn[:, None]).view(np.uint32)):
                    die(f"{ours}: torch w / s differs from the IEEE float32 quotient")
                n_clamped += int((y.abs() > 464.0).sum())  # would round past 448
                n_codes += q.numel()
                codes = q.view(torch.uint8).numpy()
                name = f"blk.{li}.{ours}.weight"
                tensors[name] = {"codes": sha(codes.tobytes()), "scales": sha(sn.astype("<f4").tobytes())}
                mod.weight.data = q.to(torch.float32) * s[:, None]
        log(f"quantized {len(tensors)} tensors, {n_codes} codes ({n_clamped} quotients beyond 464, i.e. saturated)")

        tok = AutoTokenizer.from_pretrained(str(hf_dir))
        ids = tok(text, add_special_tokens=False)["input_ids"]
        bos = tok.bos_token_id
        per_chunk = CHUNK - 1 if bos is not None else CHUNK
        if len(ids) < N_CHUNKS * per_chunk:
            die(f"{text_path}: {len(ids)} tokens, need {N_CHUNKS * per_chunk}")
        first = CHUNK // 2
        nll = []
        chunk_tokens = []
        for c in range(N_CHUNKS):
            ct = ([bos] if bos is not None else []) + ids[c * per_chunk:(c + 1) * per_chunk]
            chunk_tokens += ct
            logits = model(torch.tensor([ct])).logits[0].float()
            lp = torch.log_softmax(logits.double(), dim=-1)
            for i in range(first, CHUNK - 1):
                nll.append(-float(lp[i, ct[i + 1]]))
        mean_nll = sum(nll) / len(nll)
    log(f"mean NLL {mean_nll:.6f} over {len(nll)} scored tokens")

    golden = {
        "what": "f8 default FP8 (E4M3, per-channel s = fl32(amax/448)) computed by PyTorch: "
                "codes = (w / s).clamp(-448, 448).to(float8_e4m3fn); scripts/fp8_peer_golden.py",
        "model": "smollm2-135m-instruct (scripts/fixtures.sh)",
        "source_sha256": file_sha(hf_dir / "model.safetensors"),
        "text": "KJV Genesis 1:1-11:32 (scripts/kjv_text.sh)",
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "chunk": CHUNK,
        "chunks": N_CHUNKS,
        "bos": bos,
        "tokens_sha256": hashlib.sha256(np.asarray(chunk_tokens, dtype="<i4").tobytes()).hexdigest(),
        "scored_tokens": len(nll),
        "mean_nll": round(mean_nll, 7),
        "digest": "first 32 hex digits of SHA-256 of the codes (uint8 row-major) / scales (f32 LE)",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tensors": dict(sorted(tensors.items())),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(golden, indent=1) + "\n")
    log(f"wrote {args.out}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    args.cache = cache_root()
    py = peer_venv(args.cache)
    if not in_venv(py):
        os.execv(str(py), [str(py), __file__] + sys.argv[1:])
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
