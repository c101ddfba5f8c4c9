#!/usr/bin/env python3
"""KL(base || model), PPL-free, from two `f8 perplexity --save-logits` files
of the same text and chunking (F8LOGIT1: magic, n_vocab u32, chunk u32,
n_scored u64, the scored token ids i32[n], then per scored token fmin f32,
step f32 and n_vocab u16 log-probs quantized as fmin + q * step). Lets runs
that were made side by side (each with --save-logits) be compared after the
fact; `f8 perplexity --kl-base` gives the same numbers up to the model side's
log-prob quantization (step ~ range / 65535).

  python3 scripts/kl_logits.py BASE.logits MODEL.logits [MODEL2.logits ...]
prints, per model file: mean KL +/- standard error, p99 KL, same-top-token %.
"""
import struct
import sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        b = f.read()
    if b[:8] != b"F8LOGIT1":
        sys.exit(f"kl_logits: {path}: not an f8 --save-logits file")
    v, c, n = struct.unpack_from("<IIQ", b, 8)
    off = 24 + 4 * n
    rec = 8 + 2 * v
    if len(b) < off + rec:
        sys.exit(f"kl_logits: {path}: no scored tokens")
    m = (len(b) - off) // rec
    ids = np.frombuffer(b, dtype="<i4", count=n, offset=24)
    raw = np.frombuffer(b, dtype=np.uint8, count=m * rec, offset=off).reshape(m, rec)
    hdr = raw[:, :8].copy().view("<f4")  # [m, 2]: fmin, step
    q = raw[:, 8:].copy().view("<u2").astype(np.float64)
    return v, c, ids, hdr, q


def logprobs(hdr, q, rows):
    lp = hdr[rows, 0:1].astype(np.float64) + q[rows] * hdr[rows, 1:2].astype(np.float64)
    # renormalize (quantization moves the sum slightly)
    mx = lp.max(axis=1, keepdims=True)
    return lp - (mx + np.log(np.exp(lp - mx).sum(axis=1, keepdims=True)))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    bv, bc, bids, bh, bq = read(sys.argv[1])
    for path in sys.argv[2:]:
        v, c, ids, h, q = read(path)
        m = min(len(bq), len(q))
        if (v, c) != (bv, bc) or not np.array_equal(ids[:m], bids[:m]):
            sys.exit(f"kl_logits: {path}: other vocabulary, chunking or tokens than {sys.argv[1]}")
        kls, same = [], 0
        for r0 in range(0, m, 256):
            rows = np.arange(r0, min(m, r0 + 256))
            lb, lm = logprobs(bh, bq, rows), logprobs(h, q, rows)
            kls.append((np.exp(lb) * (lb - lm)).sum(axis=1))
            same += int((lb.argmax(axis=1) == lm.argmax(axis=1)).sum())
        k = np.concatenate(kls)
        print(f"{path}: KL {k.mean():.6f} +/- {k.std(ddof=1) / np.sqrt(len(k)):.6f}  p99 {np.percentile(k, 99):.4f}  "
              f"same top {100.0 * same / m:.2f}%  ({m} tokens)")


if __name__ == "__main__":
    main()
