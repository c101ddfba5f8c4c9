#!/usr/bin/env python3
"""KV-cache quantization research (experiment, not product code): which ~1
byte/value K/V cache scheme gets closest to an unquantized cache on
SmolLM2-135M-Instruct?

Protocol (the same as `f8 perplexity` in scripts/bench_kv_quality.sh):
KJV Genesis (whole book, scripts/kjv_text.sh "Genesis 1:1-50:26"
genesis_all) tokenized without specials; chunks of CTX tokens = BOS + CTX-1
text tokens; positions CTX/2 .. CTX-2 are scored (each predicts the next
token). The reference is the same model with an unquantized (F32) cache.
Weights: the checkpoint's BF16 values held in F32, F32 compute.

How the cache is simulated: every layer's attention call is wrapped so that
its post-RoPE K and V ([1, n_kv_heads, T, head_dim]) are replaced by
quantize-then-dequantize before SDPA runs (causal prefill of the whole chunk:
every query sees the quantized keys/values, its own included, as a real
cache does). A scheme may use only (a) the token's own values, (b) static
statistics calibrated on other text (KJV Exodus), or (c) statistics of
earlier tokens of the same sequence (first N tokens) -- cells are written
once and never rewritten.

  ~/.cache/f8/venv-peers/bin/python scripts/kv_quant_research.py \
      --ctx 4096 --chunks 2 --schemes all
prints one markdown row per scheme (PPL, KL(f32 || scheme), same top token,
bytes per cached value) as it goes. The F32 reference log-probs and the
calibration statistics are cached under --work (default /tmp/kvq).
"""
import argparse
import math
import os
import subprocess
import sys
import time

import torch

torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_DIR = os.path.expanduser("~/.cache/f8/smollm2-135m-instruct")

# ---------------------------------------------------------------- formats


def fake_float(x, mbits, emin, maxval):
    """Round x (already divided by its scale) to a float grid with mbits
    explicit mantissa bits, minimum normal exponent emin (subnormals below,
    step 2^(emin-mbits)), saturating at +-maxval; round half to even."""
    x = x.clamp(-maxval, maxval)
    a = x.abs()
    e = torch.floor(torch.log2(a.clamp_min(2.0 ** emin)))
    step = torch.exp2(e - mbits)
    return (torch.round(x / step) * step).clamp(-maxval, maxval)


def e4m3(x):  # x already scaled; OCP E4M3FN via torch's cast (saturating first)
    return x.clamp(-448.0, 448.0).to(torch.float8_e4m3fn).to(torch.float32)


FORMATS = {
    # name: (round function on scaled values, max representable, bytes/value)
    "e4m3": (e4m3, 448.0),
    "e5m2": (lambda x: x.clamp(-57344.0, 57344.0).to(torch.float8_e5m2).to(torch.float32), 57344.0),
    # E3M4 (not a hardware FP8 type): bias 3, all exponent codes normal
    # (NaN only at S.111.1111, as E4M3FN): max 2^4 * 1.875 = 30.
    "e3m4": (lambda x: fake_float(x, 4, -2, 30.0), 30.0),
    # Symmetric INT8 codes -127..127.
    "int8": (lambda x: torch.round(x).clamp(-127, 127), 127.0),
}


def pow2_ceil(s):
    return torch.exp2(torch.ceil(torch.log2(s)))


def quant_rows(x, fmt, scale_mode, block, chan_scale=None):
    """x: [..., T, D]. Quantize-dequantize with one scale per `block`
    consecutive values of the last axis (block = D: one per (token, head)).
    scale_mode: 'pow2' (2^ceil(log2(amax/max))), 'exact' (amax/max, F32),
    'fp16' (amax/max rounded to F16, as q8_0), 'none' (scale 1: chan_scale
    alone). chan_scale: a static per-channel divisor applied first ([D])."""
    rnd, fmax = FORMATS[fmt]
    if chan_scale is not None:
        x = x / chan_scale
    if scale_mode == "none":
        y = rnd(x)
    else:
        sh = x.shape
        xb = x.reshape(*sh[:-1], sh[-1] // block, block)
        amax = xb.abs().amax(-1, keepdim=True).clamp_min(1e-30)
        s = amax / fmax
        if scale_mode == "pow2":
            s = pow2_ceil(s)
        elif scale_mode == "fp16":
            s = s.to(torch.float16).to(torch.float32).clamp_min(6e-8)
        elif scale_mode == "bf16":  # amax lands within 2^-8 of the format's max (saturating if above)
            s = s.to(torch.bfloat16).to(torch.float32)
        y = (rnd(xb / s) * s).reshape(sh)
    if chan_scale is not None:
        y = y * chan_scale
    return y


def hadamard(n):
    h = torch.ones(1, 1)
    while h.shape[0] < n:
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    return h / math.sqrt(n)


# ---------------------------------------------------------------- schemes


class Side:
    """How one of K or V is cached. Fields:
    fmt: 'f32' | 'bf16' | a FORMATS key;  scale: see quant_rows;
    block: values per scale (None = head_dim);  scale_bytes: bytes per scale;
    center: None | 'calib' (static per-(layer, head, channel) mean of
      post-RoPE values, calibration text) | 'first' (mean of the sequence's
      first `first` tokens; those tokens are stored uncentered) |
      'calib_pre' (K only: static mean of pre-RoPE K, rotated to each
      token's position: k_t - R_t m, added back at read);
    sinks: the first `sinks` tokens kept in BF16;
    rot: None | 'hadamard' (per-head 64x64 Hadamard before quantizing);
    chan: None | 'calib' (static per-channel pow2 divisor from calibration
      amax, applied before the row scale)."""

    def __init__(self, fmt="e4m3", scale="pow2", block=None, scale_bytes=1, center=None, first=64, sinks=0,
                 rot=None, chan=None, layers=None, raw_first=0, pairs=None, block_rot=None, max_rot=None):
        self.max_rot = max_rot
        self.block_rot = block_rot  # calib_pre: rotate the mean to the start of each block_rot-position block
        self.pairs = pairs  # calib_pre: keep only the `pairs` RoPE pairs of largest |mean| (cheap add-back)
        self.raw_first = raw_first  # the first raw_first tokens are quantized uncentered (same format)
        self.layers = layers  # None: every layer; else only these layers are quantized (ablation)
        self.fmt, self.scale, self.block, self.scale_bytes = fmt, scale, block, scale_bytes
        self.center, self.first, self.sinks, self.rot, self.chan = center, first, sinks, rot, chan

    def bytes_per_value(self, D):
        if self.fmt == "f32":
            return 4.0
        if self.fmt == "bf16":
            return 2.0
        if self.scale == "none":
            return 1.0
        return 1.0 + self.scale_bytes / (self.block or D)


class Scheme:
    def __init__(self, name, k, v, note=""):
        self.name, self.k, self.v, self.note = name, k, v, note

    def bytes_per_value(self, D):
        return (self.k.bytes_per_value(D) + self.v.bytes_per_value(D)) / 2


def apply_side(side, x, layer, kind, calib, rope):
    """x: [1, Hkv, T, D] post-RoPE (F32). Returns the dequantized cache."""
    if side.fmt == "f32" or (side.layers is not None and layer not in side.layers):
        return x
    if side.fmt == "bf16":
        return x.to(torch.bfloat16).to(torch.float32)
    D = x.shape[-1]
    T = x.shape[2]
    m = None  # the value added back after dequantization, broadcastable to x
    if side.center == "calib":
        m = calib[kind + "_mean"][layer][None, :, None, :]
    elif side.center == "calib_pre":
        assert kind == "k"
        cos, sin = rope  # [T, D]
        mp = calib["kpre_mean"][layer][None, :, None, :]  # [1, H, 1, D]
        if side.pairs is not None:  # RoPE pairs (j, j + D/2): keep the largest |m| pairs per head
            h = D // 2
            mag = mp[..., :h] ** 2 + mp[..., h:] ** 2
            keep = torch.zeros_like(mag).scatter_(-1, mag.topk(side.pairs, -1).indices, 1.0)
            mp = mp * torch.cat([keep, keep], -1)
        if side.max_rot is not None:  # only pairs turning at most max_rot radians over a block
            theta = torch.atan2(sin[1], cos[1]).abs()  # [D], per pair (both halves)
            mp = mp * (theta * side.block_rot <= side.max_rot).float()
        if side.block_rot:  # rotate to each 64-position block's first position (one bias per block at read)
            idx = (torch.arange(T) // side.block_rot) * side.block_rot
            cos, sin = cos[idx], sin[idx]
        m = mp * cos + rotate_half(mp) * sin  # R_t m, [1, H, T, D]
    elif side.center == "first_pre":
        # per-sequence: mean of pre-RoPE K over tokens [sinks or 1, first),
        # re-rotated per position; tokens < first are stored uncentered.
        assert kind == "k"
        cos, sin = rope
        a, n = max(side.sinks, 1), min(side.first, T)
        kp = x * cos - rotate_half(x) * sin
        mp = kp[:, :, a:n, :].mean(2, keepdim=True)
        m = mp * cos + rotate_half(mp) * sin
        m = m.clone()
        m[:, :, :n, :] = 0
    elif side.center == "first":
        n = min(side.first, T)
        m = torch.zeros_like(x[:, :, :1, :]).expand_as(x).clone()
        m[:, :, n:, :] = x[:, :, :n, :].mean(2, keepdim=True)
    xc = x - m if m is not None else x
    R = None
    if side.rot == "hadamard":
        R = hadamard(D)
        xc = xc @ R
    cs = calib[kind + "_chan"][layer][None, :, None, :] if side.chan == "calib" else None
    y = quant_rows(xc, side.fmt, side.scale, side.block or D, cs)
    if R is not None:
        y = y @ R.T
    if m is not None:
        y = y + m
    if side.raw_first and m is not None:
        n = min(side.raw_first, T)
        y = y.clone()
        y[:, :, :n, :] = quant_rows(x[:, :, :n, :], side.fmt, side.scale, side.block or D)
    if side.sinks:
        n = min(side.sinks, T)
        y = y.clone()
        y[:, :, :n, :] = x[:, :, :n, :].to(torch.bfloat16).to(torch.float32)
    return y


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), -1)


E = dict  # shorthand
BASE = dict(fmt="e4m3", scale="pow2", scale_bytes=1)


def S(**kw):
    d = dict(BASE)
    d.update(kw)
    return Side(**d)


F32 = Side(fmt="f32")


def all_schemes():
    L = []
    add = lambda name, k, v, note="": L.append(Scheme(name, k, v, note))
    add("bf16 K+V", Side(fmt="bf16"), Side(fmt="bf16"))
    add("E4M3 pow2/(tok,head) [f8 default]", S(), S())
    add("E4M3 K only (V f32)", S(), F32)
    add("E4M3 V only (K f32)", F32, S())
    add("E4M3 exact scale amax/448 (F32 scale)", S(scale="exact", scale_bytes=4), S(scale="exact", scale_bytes=4))
    add("E4M3 K centered (calib mean)", S(center="calib"), S())
    add("E4M3 K centered (first 64 mean)", S(center="first"), S())
    add("E4M3 K pre-RoPE calib mean, re-rotated", S(center="calib_pre"), S())
    add("E4M3 V centered (calib mean)", S(), S(center="calib"))
    add("E4M3 K+V centered (calib mean)", S(center="calib"), S(center="calib"))
    for n in (1, 4, 64):
        add(f"E4M3 + first {n} tokens BF16", S(sinks=n), S(sinks=n))
    add("E4M3 K static per-channel pow2 (1 B), V per-token", S(scale="none", chan="calib"), S())
    add("E4M3 K static per-channel + per-token pow2", S(chan="calib"), S())
    add("E4M3 Hadamard K+V", S(rot="hadamard"), S(rot="hadamard"))
    add("E4M3 K centered(calib)+Hadamard, V Hadamard", S(center="calib", rot="hadamard"), S(rot="hadamard"))
    add("E4M3 K+V centered(calib) + 4 sinks BF16", S(center="calib", sinks=4), S(center="calib", sinks=4))
    add("E3M4 pow2/(tok,head) (not HW FP8)", S(fmt="e3m4"), S(fmt="e3m4"))
    add("E3M4 K+V centered(calib)", S(fmt="e3m4", center="calib"), S(fmt="e3m4", center="calib"))
    add("INT8 absmax/(tok,head) fp16 scale", S(fmt="int8", scale="fp16", scale_bytes=2),
        S(fmt="int8", scale="fp16", scale_bytes=2))
    add("INT8 /(tok,head) K centered(calib)", S(fmt="int8", scale="fp16", scale_bytes=2, center="calib"),
        S(fmt="int8", scale="fp16", scale_bytes=2))
    # --- second round (after the 1k screen): combinations
    X = dict(scale="bf16", scale_bytes=2)  # "exact" scale, stored as BF16
    add("E4M3 bf16 scale amax/448", S(**X), S(**X))
    add("E4M3 K centered(calib)+4 sinks, V plain", S(center="calib", sinks=4), S())
    add("E4M3 K pre-RoPE calib mean+4 sinks, V plain", S(center="calib_pre", sinks=4), S())
    add("E4M3 K first64-centered + 4 sinks, V plain", S(center="first", sinks=4), S())
    add("E4M3 K centered(calib)+1 sink, V plain", S(center="calib", sinks=1), S())
    add("E4M3 bf16 scale, K centered(calib)+4 sinks", S(center="calib", sinks=4, **X), S(sinks=4, **X))
    add("E4M3 bf16 scale, K pre-RoPE mean+4 sinks", S(center="calib_pre", sinks=4, **X), S(sinks=4, **X))
    add("E4M3 K centered(calib)+4 sinks+Hadamard, V Hadamard", S(center="calib", sinks=4, rot="hadamard"),
        S(sinks=4, rot="hadamard"))
    add("E4M3 bf16 scale, K centered(calib)+4 sinks+Hadamard, V Hadamard",
        S(center="calib", sinks=4, rot="hadamard", **X), S(sinks=4, rot="hadamard", **X))
    add("E4M3 V only, bf16 scale", F32, S(**X))
    add("E4M3 V only, Hadamard", F32, S(rot="hadamard"))
    add("E4M3 V only, bf16 scale+Hadamard", F32, S(rot="hadamard", **X))
    add("E4M3 V only, centered(calib)+4 sinks", F32, S(center="calib", sinks=4))
    add("E4M3 32-blocks bf16 scale (1.0625)", S(block=32, **X), S(block=32, **X))
    add("E4M3 32-blocks bf16 scale, K centered(calib)+4 sinks", S(block=32, center="calib", sinks=4, **X),
        S(block=32, sinks=4, **X))
    add("INT8 K centered(calib)+4 sinks, V INT8", S(fmt="int8", scale="fp16", scale_bytes=2, center="calib", sinks=4),
        S(fmt="int8", scale="fp16", scale_bytes=2, sinks=4))
    # --- third round
    P = dict(center="calib_pre", sinks=4)
    I8 = dict(fmt="int8", scale="fp16", scale_bytes=2)
    add("INT8 + 4 sinks", S(sinks=4, **I8), S(sinks=4, **I8))
    add("INT8 K pre-RoPE mean + 4 sinks, V INT8 + 4 sinks", S(**P, **I8), S(sinks=4, **I8))
    add("E4M3 bf16 scale, K pre-RoPE mean+4 sinks, V Hadamard+4 sinks", S(**P, **X), S(sinks=4, rot="hadamard", **X))
    add("E4M3 bf16 scale, K pre-RoPE mean+4 sinks+Hadamard, V Hadamard+4 sinks", S(rot="hadamard", **P, **X),
        S(sinks=4, rot="hadamard", **X))
    add("E4M3 32-blocks bf16 scale, K pre-RoPE mean+4 sinks", S(block=32, **P, **X), S(block=32, sinks=4, **X))
    add("E4M3 bf16 scale, K pre-RoPE mean+1 sink, V 1 sink", S(center="calib_pre", sinks=1, **X), S(sinks=1, **X))
    add("E4M3 bf16 scale, K pre-RoPE mean (first 4 uncentered E4M3, no BF16)", S(center="calib_pre", raw_first=4, **X),
        S(**X))
    add("E4M3 bf16 scale, K pre-RoPE mean of tokens 4..63 of the sequence + 4 sinks",
        S(center="first_pre", sinks=4, **X), S(sinks=4, **X))
    add("E4M3 pow2 scale, K pre-RoPE mean+4 sinks, V 4 sinks", S(**P), S(sinks=4))
    add("E3M4 bf16 scale, K pre-RoPE mean+4 sinks (not HW FP8)", S(fmt="e3m4", **P, **X), S(fmt="e3m4", sinks=4, **X))
    # --- fourth round: cheap add-back (only a few RoPE pairs centered)
    for k in (4, 8):
        add(f"E4M3 bf16 scale, K pre-RoPE mean of top {k} pairs + 4 sinks", S(center="calib_pre", pairs=k, sinks=4, **X),
            S(sinks=4, **X))
    add("INT8 K pre-RoPE mean top 8 pairs + 4 sinks", S(center="calib_pre", pairs=8, sinks=4, **I8), S(sinks=4, **I8))
    add("E4M3 bf16 scale, Hadamard K+V", S(rot="hadamard", **X), S(rot="hadamard", **X))
    add("E4M3 bf16 scale, Hadamard K+V + 4 sinks", S(rot="hadamard", sinks=4, **X), S(rot="hadamard", sinks=4, **X))
    add("q8_0 sim (32-blocks, fp16 scale)", S(fmt="int8", scale="fp16", scale_bytes=2, block=32),
        S(fmt="int8", scale="fp16", scale_bytes=2, block=32))
    # What the cache implements: the mean rotated to each 64-position block's
    # first position (the reader adds q.R_p0 m once per block), the first 4
    # positions stored uncentered in the same format.
    B = dict(center="calib_pre", block_rot=64, raw_first=4)
    add("E4M3 bf16 scale, K pre-RoPE mean rotated per 64-block, first 4 uncentered", S(**B, **X), S(**X))
    add("E4M3 pow2 scale, K pre-RoPE mean rotated per 64-block, first 4 uncentered", S(**B), S())
    B8 = dict(fmt="int8", scale="bf16", scale_bytes=2)
    add("INT8 bf16 scale, K pre-RoPE mean rotated per 64-block, first 4 uncentered", S(**B, **B8), S(**B8))
    add("E4M3 bf16 scale, K pre-RoPE mean rotated per 16-block, first 4 uncentered",
        S(center="calib_pre", block_rot=16, raw_first=4, **X), S(**X))
    for mr in (0.25, 1.0):
        add(f"E4M3 bf16 scale, K pre-RoPE mean of pairs turning <= {mr} rad per 64-block, rotated per block, first 4 uncentered",
            S(max_rot=mr, **B, **X), S(**X))
    return L


# ---------------------------------------------------------------- model


class Runner:
    def __init__(self):
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.integrations import sdpa_attention as sa
        import transformers.modeling_utils as mu

        self.tok = AutoTokenizer.from_pretrained(MODEL_DIR)
        self.model = AutoModelForCausalLM.from_pretrained(MODEL_DIR, dtype=torch.float32,
                                                          attn_implementation="sdpa").eval()
        cfg = self.model.config
        self.D = cfg.head_dim
        self.n_layers = cfg.num_hidden_layers
        self.scheme = None
        self.calib = None
        self.capture = None  # dict layer -> list of (k, v, kpre) while calibrating
        self.rope = None
        sdpa = sa.sdpa_attention_forward
        runner = self

        def attn(module, query, key, value, attention_mask, **kw):
            li = module.layer_idx
            if runner.capture is not None:
                cos, sin = runner.rope
                # post-RoPE k = kpre*cos + rot(kpre)*sin  =>  kpre = k*cos - rot(k)*sin
                kpre = key * cos - rotate_half(key) * sin
                runner.capture.setdefault(li, []).append((key[0].clone(), value[0].clone(), kpre[0].clone()))
            if runner.scheme is not None:
                key = apply_side(runner.scheme.k, key, li, "k", runner.calib, runner.rope)
                value = apply_side(runner.scheme.v, value, li, "v", runner.calib, runner.rope)
            return sdpa(module, query, key, value, attention_mask, **kw)

        mu.ALL_ATTENTION_FUNCTIONS._global_mapping["sdpa"] = attn
        rot = self.model.model.rotary_emb
        self._rot = rot

    def set_rope(self, T):
        pos = torch.arange(T)[None]
        cos, sin = self._rot(torch.zeros(1, T, 1), pos)
        self.rope = (cos[0], sin[0])  # [T, D]

    @torch.no_grad()
    def hidden(self, ids):
        self.set_rope(len(ids))
        out = self.model.model(input_ids=torch.tensor([ids]), use_cache=False)
        return out.last_hidden_state[0]

    @torch.no_grad()
    def logprobs(self, ids, first, last):
        h = self.hidden(ids)[first:last]
        return torch.log_softmax(self.model.lm_head(h).float(), -1)


def kjv(spec, name):
    env = dict(os.environ)
    return subprocess.check_output(["bash", os.path.join(HERE, "kjv_text.sh"), spec, name], env=env,
                                   text=True).strip()


def chunks_of(r, path, ctx, n_chunks):
    text = open(path).read()
    ids = r.tok(text, add_special_tokens=False)["input_ids"]
    bos = r.tok.convert_tokens_to_ids(r.tok.bos_token)
    per = ctx - 1
    n = min(n_chunks, len(ids) // per)
    return [[bos] + ids[c * per:(c + 1) * per] for c in range(n)], len(ids)


@torch.no_grad()
def calibrate(r, path, ctx):
    """Static statistics from the first ctx tokens of the calibration text
    (F32 cache): per (layer, KV head, channel) mean of post-RoPE K and V,
    mean of pre-RoPE K, and pow2 per-channel scales 2^ceil(log2(amax/448))."""
    chunks, _ = chunks_of(r, path, ctx, 1)
    r.capture = {}
    r.scheme = None
    r.hidden(chunks[0])
    cal = {k: [] for k in ("k_mean", "v_mean", "kpre_mean", "k_chan", "v_chan")}
    for li in range(r.n_layers):
        k, v, kp = r.capture[li][0]  # [H, T, D]
        cal["k_mean"].append(k.mean(1))
        cal["v_mean"].append(v.mean(1))
        cal["kpre_mean"].append(kp.mean(1))
        cal["k_chan"].append(pow2_ceil(k.abs().amax(1).clamp_min(1e-30) / 448.0))
        cal["v_chan"].append(pow2_ceil(v.abs().amax(1).clamp_min(1e-30) / 448.0))
    r.capture = None
    return cal


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--chunks", type=int, default=2)
    ap.add_argument("--schemes", default="all", help="'all', or comma-separated indices into the list (--list)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--work", default="/tmp/kvq")
    ap.add_argument("--calib-ctx", type=int, default=2048)
    args = ap.parse_args()
    schemes = all_schemes()
    if args.list:
        for i, s in enumerate(schemes):
            print(i, s.name)
        return
    sel = range(len(schemes)) if args.schemes == "all" else [int(x) for x in args.schemes.split(",")]
    os.makedirs(args.work, exist_ok=True)
    t_start = time.time()
    r = Runner()
    text = kjv("Genesis 1:1-50:26", "genesis_all")
    chunks, n_tok = chunks_of(r, text, args.ctx, args.chunks)
    first, last = args.ctx // 2, args.ctx - 1
    print(f"# {text}: {n_tok} tokens; {len(chunks)} chunks of {args.ctx}, scoring positions {first}..{last - 1}",
          file=sys.stderr)

    cpath = os.path.join(args.work, f"calib_exodus_{args.calib_ctx}.pt")
    if os.path.exists(cpath):
        r.calib = torch.load(cpath)
    else:
        ex = kjv("Exodus 1:1-40:38", "exodus_all")
        r.calib = calibrate(r, ex, args.calib_ctx)
        torch.save(r.calib, cpath)

    bpath = os.path.join(args.work, f"base_{args.ctx}_{len(chunks)}.pt")
    if os.path.exists(bpath):
        base = torch.load(bpath)
    else:
        t0 = time.time()
        r.scheme = None
        base = [r.logprobs(c, first, last) for c in chunks]
        torch.save(base, bpath)
        print(f"# F32 reference: {time.time() - t0:.0f} s", file=sys.stderr)
    targets = [torch.tensor(c[first + 1:last + 1]) for c in chunks]
    nll_b = torch.cat([-b.gather(1, t[:, None])[:, 0] for b, t in zip(base, targets)])
    print(f"| F32 cache (reference) | 4 | {math.exp(nll_b.mean()):.4f} | — | — |", flush=True)

    print("| scheme | bytes/value | PPL | KL(f32 ‖ scheme) ± SE | same top token | s |")
    print("|---|---|---|---|---|---|", flush=True)
    for i in sel:
        s = schemes[i]
        t0 = time.time()
        r.scheme = s
        nll, kl, same = [], [], []
        for c, b, t in zip(chunks, base, targets):
            lp = r.logprobs(c, first, last)
            nll.append(-lp.gather(1, t[:, None])[:, 0])
            kl.append((b.exp() * (b - lp)).sum(-1).clamp_min(0))
            same.append((lp.argmax(-1) == b.argmax(-1)).float())
        nll, kl, same = torch.cat(nll), torch.cat(kl), torch.cat(same)
        se = kl.std() / math.sqrt(len(kl))
        print(f"| {s.name} | {s.bytes_per_value(r.D):.4f} | {math.exp(nll.mean()):.4f} | "
              f"{kl.mean():.6f} ± {se:.6f} | {100 * same.mean():.2f}% | {time.time() - t0:.0f} |", flush=True)
    r.scheme = None
    print(f"# total {time.time() - t_start:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
