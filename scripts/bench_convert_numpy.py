#!/usr/bin/env python3
"""A straightforward numpy implementation of what `f8 convert` does to the
weights, timed on the same checkpoint: read safetensors (BF16/F16/F32), quantize
every linear-layer weight to E4M3 with one scale per output channel
(s = amax / 448, RNE, satfinite), dequantize and compute the same error stats
(SQNR, max abs error, % saturated, % flushed), convert the other tensors to
BF16/F32 -- and write nothing (the C++ number includes writing the file).

Prints one JSON line: {"seconds", "source_bytes", "mb_per_s", "peak_rss_mb", ...}.
Usage: bench_convert_numpy.py MODEL_DIR [--scale channel|tensor]
"""
import argparse
import json
import os
import re
import resource
import struct
import sys
import time

import numpy as np

LINEAR = re.compile(r"\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)\.weight$")


def read_safetensors(path):
    """Yields (name, dtype, shape, raw uint8 memmap slice) for each tensor."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    buf = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        yield name, info["dtype"], info["shape"], buf[b:e]


def to_f32(dtype, raw):
    if dtype == "BF16":
        return (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
    if dtype == "F16":
        return raw.view(np.float16).astype(np.float32)
    if dtype == "F32":
        return np.array(raw.view(np.float32))
    raise ValueError(f"unsupported dtype {dtype}")


def e4m3_encode(y):
    """float32 array (already divided by the scale) -> uint8 E4M3 codes, RNE,
    satfinite, NaN -> 0x7F (same rules as ggf8/fp8.h)."""
    u = y.view(np.uint32)
    a = u & np.uint32(0x7FFFFFFF)
    sign = ((u >> np.uint32(24)) & np.uint32(0x80)).astype(np.uint8)
    r = a - np.uint32(120 << 23)
    normal = (r + np.uint32(0x7FFFF) + ((r >> np.uint32(20)) & np.uint32(1))) >> np.uint32(20)
    sub = (np.abs(y) + np.float32(16384.0)).view(np.uint32) - np.uint32(0x46800000)
    code = np.where(a >= np.uint32(0x3C800000), normal, sub)
    code = np.where(a > np.uint32(0x43E80000), np.uint32(0x7E), code)
    code = code.astype(np.uint8) | sign
    return np.where(a > np.uint32(0x7F800000), np.uint8(0x7F), code)


def e4m3_decode(q):
    mag = (q & 0x7F).astype(np.uint32)
    f = ((q.astype(np.uint32) & 0x80) << 24 | mag << 20).view(np.float32) * np.float32(2.0 ** 120)
    return np.where(mag == 0x7F, np.float32(np.nan), f)


def quantize(x, per_channel):
    ax = np.abs(x)
    amax = ax.max(axis=1, keepdims=True) if per_channel else ax.max(keepdims=True)
    s = np.where(amax > 0, np.maximum(amax / np.float32(448.0), np.float32(np.finfo(np.float32).tiny)), np.float32(1))
    s = s.astype(np.float32)
    q = e4m3_encode((x * (np.float32(1.0) / s)).astype(np.float32))
    d = e4m3_decode(q) * s
    err = x - d
    stats = {
        "sqnr_db": float(10 * np.log10(np.sum(x.astype(np.float64) ** 2) / max(np.sum(err.astype(np.float64) ** 2), 1e-300))),
        "max_abs_err": float(np.abs(err).max()),
        "saturated_pct": float(100.0 * np.mean(ax > np.float32(464.0) * s)),
        "flushed_pct": float(100.0 * np.mean((x != 0) & (d == 0))),
    }
    return q, s, stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model_dir")
    ap.add_argument("--scale", choices=["channel", "tensor"], default="channel")
    args = ap.parse_args()
    files = [os.path.join(args.model_dir, "model.safetensors")]
    idx = os.path.join(args.model_dir, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            files = sorted({os.path.join(args.model_dir, v) for v in json.load(f)["weight_map"].values()})
    t0 = time.perf_counter()
    total = 0
    nq = 0
    worst = None
    for path in files:
        for name, dtype, shape, raw in read_safetensors(path):
            total += raw.nbytes
            x = to_f32(dtype, raw).reshape(shape)
            if not np.isfinite(x).all():
                sys.exit(f"{path}: tensor {name}: NaN/Inf")
            if LINEAR.search(name) and len(shape) == 2:
                _, _, st = quantize(x, args.scale == "channel")
                nq += 1
                if worst is None or st["sqnr_db"] < worst[1]:
                    worst = (name, st["sqnr_db"])
            elif len(shape) >= 2:
                # BF16 (RNE) as the converter stores embeddings.
                u = x.view(np.uint32)
                _ = ((u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)).astype(np.uint16)
            else:
                _ = x.astype(np.float32)
    dt = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    rss_mb = ru.ru_maxrss / 1024.0
    cpu = ru.ru_utime + ru.ru_stime  # includes interpreter start-up and imports
    print(json.dumps({"impl": "numpy", "numpy": np.__version__, "seconds": round(dt, 3), "cpu_seconds": round(cpu, 3), "source_bytes": total,
                      "mb_per_s": round(total / 1e6 / dt, 1), "peak_rss_mb": round(rss_mb, 1),
                      "quantized_tensors": nq, "worst": worst}))


if __name__ == "__main__":
    main()
