#!/usr/bin/env python3
"""PyTorch reference numbers for the GPU check (scripts/gpu_check.sh run), and
the random-weight Llama-3-8B-shaped checkpoint that f8 converts there.

  gpu_ref_torch.py make-hf DIR --tokenizer-from SMOL_DIR
      Writes a Hugging Face dir in Llama-3-8B's shapes (hidden 4096, 32 layers,
      32 heads, 8 kv heads, ffn 14336, vocab 128256, llama3 RoPE), BF16
      safetensors in 4 shards generated on the GPU (std 0.02), config.json and
      the SmolLM2 tokenizer files (the converter pads the vocabulary to
      vocab_size with <unused_N> tokens).

  gpu_ref_torch.py bench [--ctx 512] [--batches 1,8,64] [--prefill 512[,4096,...]] [--json OUT]
      BF16 decode step of the same shapes captured in one CUDA graph at each
      batch size (KV context --ctx, GQA attention by batched matmul), a BF16
      prefill of --prefill tokens (SDPA, causal), and device-to-device copy
      bandwidth (GB/s counts read + write). Timing: CUDA events, median of 5
      runs of 10 replays. Prints and writes JSON.

  gpu_ref_torch.py sdpa [--tokens 1024,4096,16384,65536] [--json OUT]
      Causal prefill attention alone (BF16 SDPA, flash backend), 32 heads x
      128 dims: TFLOP/s with FlashAttention's FLOP count (bench_cuda_fmha's).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time

import torch
import torch.nn.functional as F

CFG = dict(hidden=4096, layers=32, heads=32, kv_heads=8, ffn=14336, vocab=128256, head_dim=128,
           rope_theta=500000.0, eps=1e-5)


def log(msg: str) -> None:
    print(f"[gpu_ref_torch] {msg}", file=sys.stderr, flush=True)


# ---- make-hf ------------------------------------------------------------------------
def hf_tensors(c: dict, layer: int | None):
    """(name, shape, kind) of one layer, or of the non-layer tensors when layer is None."""
    H, F_, V, D = c["hidden"], c["ffn"], c["vocab"], c["head_dim"]
    if layer is None:
        return [("model.embed_tokens.weight", (V, H), "w"), ("model.norm.weight", (H,), "norm"),
                ("lm_head.weight", (V, H), "w")]
    p = f"model.layers.{layer}."
    return [(p + "input_layernorm.weight", (H,), "norm"),
            (p + "self_attn.q_proj.weight", (c["heads"] * D, H), "w"),
            (p + "self_attn.k_proj.weight", (c["kv_heads"] * D, H), "w"),
            (p + "self_attn.v_proj.weight", (c["kv_heads"] * D, H), "w"),
            (p + "self_attn.o_proj.weight", (H, c["heads"] * D), "w"),
            (p + "post_attention_layernorm.weight", (H,), "norm"),
            (p + "mlp.gate_proj.weight", (F_, H), "w"),
            (p + "mlp.up_proj.weight", (F_, H), "w"),
            (p + "mlp.down_proj.weight", (H, F_), "w")]


def write_shard(path: str, items, gen: torch.Generator) -> dict:
    """Writes one safetensors file of BF16 tensors made on the GPU; returns name -> file."""
    header, off = {}, 0
    for name, shape, _ in items:
        n = math.prod(shape) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + n]}
        off += n
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(hj).to_bytes(8, "little"))
        f.write(hj)
        for name, shape, kind in items:
            if kind == "norm":
                t = torch.ones(shape, dtype=torch.bfloat16, device="cuda")
            else:
                t = torch.randn(shape, dtype=torch.bfloat16, device="cuda", generator=gen).mul_(0.02)
            f.write(t.cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return {name: os.path.basename(path) for name, _, _ in items}


def make_hf(out: str, tok_dir: str, layers: int) -> None:
    t0 = time.time()
    c = dict(CFG, layers=layers)
    os.makedirs(out, exist_ok=True)
    gen = torch.Generator(device="cuda")
    gen.manual_seed(1234)
    groups = [[None]] + [list(range(i, min(i + 8, layers))) for i in range(0, layers, 8)]
    weight_map, total = {}, 0
    for gi, g in enumerate(groups):
        items = [t for layer in g for t in hf_tensors(c, layer)]
        total += sum(math.prod(s) * 2 for _, s, _ in items)
        name = f"model-{gi + 1:05d}-of-{len(groups):05d}.safetensors"
        weight_map.update(write_shard(os.path.join(out, name), items, gen))
        log(f"wrote {name} ({time.time() - t0:.1f} s)")
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    src_cfg = {}
    if os.path.isfile(os.path.join(tok_dir, "config.json")):
        src_cfg = json.load(open(os.path.join(tok_dir, "config.json")))
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": c["hidden"], "intermediate_size": c["ffn"], "num_hidden_layers": layers,
        "num_attention_heads": c["heads"], "num_key_value_heads": c["kv_heads"], "head_dim": c["head_dim"],
        "vocab_size": c["vocab"], "max_position_embeddings": 8192, "rms_norm_eps": c["eps"],
        "rope_theta": c["rope_theta"],
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192},
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "hidden_act": "silu",
        "attention_bias": False, "mlp_bias": False,
        "bos_token_id": src_cfg.get("bos_token_id", 1), "eos_token_id": src_cfg.get("eos_token_id", 2),
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    for fn in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"):
        if os.path.isfile(os.path.join(tok_dir, fn)):
            shutil.copy(os.path.join(tok_dir, fn), os.path.join(out, fn))
    log(f"{out}: {total / 1e9:.2f} GB of BF16 in {time.time() - t0:.1f} s")


# ---- bench --------------------------------------------------------------------------
def rms_norm(x, w, eps):
    if hasattr(F, "rms_norm"):
        return F.rms_norm(x, (x.shape[-1],), w, eps)
    v = x.float().pow(2).mean(-1, keepdim=True)
    return (x.float() * torch.rsqrt(v + eps)).to(x.dtype) * w


def rope(x, cos, sin):
    # x [..., n, D] with cos/sin broadcastable [..., 1, D/2] (HF rotate_half)
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class Model:
    def __init__(self, c: dict):
        self.c = c
        H, D, V = c["hidden"], c["head_dim"], c["vocab"]
        qkv = (c["heads"] + 2 * c["kv_heads"]) * D
        g = torch.Generator(device="cuda")
        g.manual_seed(7)
        r = lambda *s: torch.randn(*s, dtype=torch.bfloat16, device="cuda", generator=g).mul_(0.02)  # noqa: E731
        self.layers = []
        for _ in range(c["layers"]):
            self.layers.append(dict(n1=torch.ones(H, dtype=torch.bfloat16, device="cuda"), qkv=r(qkv, H),
                                    o=r(H, c["heads"] * D), n2=torch.ones(H, dtype=torch.bfloat16, device="cuda"),
                                    gu=r(2 * c["ffn"], H), down=r(H, c["ffn"])))
        self.embed = r(V, H)
        self.norm = torch.ones(H, dtype=torch.bfloat16, device="cuda")
        self.head = r(V, H)
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, D, 2, device="cuda", dtype=torch.float32) / D))
        self.inv_freq = inv

    def weight_bytes(self) -> int:
        n = sum(t.numel() for L in self.layers for k, t in L.items() if k in ("qkv", "o", "gu", "down"))
        return (n + self.head.numel()) * 2

    def cos_sin(self, pos):  # pos [T] int -> [T, D/2]
        a = pos.float()[:, None] * self.inv_freq[None, :]
        return a.cos().to(torch.bfloat16), a.sin().to(torch.bfloat16)

    def decode_step(self, tok, pos, kc, vc, ctx):
        """One token for each of B sequences; KV context ctx (slot ctx is written)."""
        c = self.c
        B, nh, nkv, D = tok.shape[0], c["heads"], c["kv_heads"], c["head_dim"]
        x = self.embed[tok]
        cos, sin = self.cos_sin(pos)
        cos, sin = cos[:, None, :], sin[:, None, :]
        for li, L in enumerate(self.layers):
            h = rms_norm(x, L["n1"], c["eps"])
            q, k, v = (h @ L["qkv"].t()).split([nh * D, nkv * D, nkv * D], dim=-1)
            q = rope(q.view(B, nh, D), cos, sin)
            k = rope(k.view(B, nkv, D), cos, sin)
            kc[li][:, :, ctx] = k
            vc[li][:, :, ctx] = v.view(B, nkv, D)
            qg = q.view(B, nkv, nh // nkv, D)
            s = (qg @ kc[li].transpose(-1, -2)).float() * (1.0 / math.sqrt(D))
            p = torch.softmax(s, dim=-1).to(torch.bfloat16)
            a = (p @ vc[li]).reshape(B, nh * D)
            x = x + a @ L["o"].t()
            h = rms_norm(x, L["n2"], c["eps"])
            gt, up = (h @ L["gu"].t()).chunk(2, dim=-1)
            x = x + (F.silu(gt) * up) @ L["down"].t()
        x = rms_norm(x, self.norm, c["eps"])
        return (x @ self.head.t()).argmax(-1)

    def prefill(self, tok):
        c = self.c
        T, nh, nkv, D = tok.shape[0], c["heads"], c["kv_heads"], c["head_dim"]
        x = self.embed[tok]
        cos, sin = self.cos_sin(torch.arange(T, device="cuda"))
        cos, sin = cos[None, :, :], sin[None, :, :]
        for L in self.layers:
            h = rms_norm(x, L["n1"], c["eps"])
            q, k, v = (h @ L["qkv"].t()).split([nh * D, nkv * D, nkv * D], dim=-1)
            q = rope(q.view(T, nh, D).transpose(0, 1), cos, sin)[None]
            k = rope(k.view(T, nkv, D).transpose(0, 1), cos, sin)[None]
            v = v.view(T, nkv, D).transpose(0, 1)[None]
            try:
                a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
            except TypeError:
                rep = nh // nkv
                a = F.scaled_dot_product_attention(q, k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1),
                                                   is_causal=True)
            x = x + a[0].transpose(0, 1).reshape(T, nh * D) @ L["o"].t()
            h = rms_norm(x, L["n2"], c["eps"])
            gt, up = (h @ L["gu"].t()).chunk(2, dim=-1)
            x = x + (F.silu(gt) * up) @ L["down"].t()
        x = rms_norm(x[-1:], self.norm, c["eps"])
        return (x @ self.head.t()).argmax(-1)


def time_ms(fn, inner: int = 10, outer: int = 5) -> float:
    """Median over `outer` runs of the mean time of `inner` calls, in ms."""
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    r = []
    for _ in range(outer):
        s.record()
        for _ in range(inner):
            fn()
        e.record()
        e.synchronize()
        r.append(s.elapsed_time(e) / inner)
    r.sort()
    return r[len(r) // 2]


def bench(args) -> dict:
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.cuda.get_device_properties(0)
    res = {"gpu": dev.name, "torch": torch.__version__, "cuda": torch.version.cuda, "ctx": args.ctx,
           "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}
    # copy bandwidth: 2 GiB buffer, read + write counted
    n = 2 << 30
    a = torch.empty(n, dtype=torch.uint8, device="cuda")
    b = torch.empty_like(a)
    b.copy_(a)
    ms = time_ms(lambda: b.copy_(a), inner=5)
    res["copy_gbs"] = 2 * n / (ms * 1e-3) / 1e9
    del a, b
    log(f"d2d copy {res['copy_gbs']:.0f} GB/s")
    c = dict(CFG)
    m = Model(c)
    res["weight_bytes"] = m.weight_bytes()
    res["decode"] = {}
    for B in [int(x) for x in args.batches.split(",") if x]:
        try:
            L = args.ctx
            kc = [torch.randn(B, c["kv_heads"], L + 1, c["head_dim"], dtype=torch.bfloat16, device="cuda")
                  for _ in range(c["layers"])]
            vc = [torch.randn_like(t) for t in kc]
            tok = torch.randint(0, c["vocab"], (B,), device="cuda")
            pos = torch.full((B,), L, device="cuda", dtype=torch.int64)
            st = torch.cuda.Stream()
            st.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(st), torch.no_grad():
                for _ in range(3):
                    m.decode_step(tok, pos, kc, vc, L)
            torch.cuda.current_stream().wait_stream(st)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g), torch.no_grad():
                m.decode_step(tok, pos, kc, vc, L)
            g.replay()
            torch.cuda.synchronize()
            ms = time_ms(g.replay)
            r = {"ms": ms, "tok_s": B * 1000.0 / ms, "gb_s": res["weight_bytes"] / (ms * 1e-3) / 1e9}
            res["decode"][str(B)] = r
            log(f"decode batch {B}: {ms:.3f} ms/step, {r['tok_s']:.0f} tok/s, {r['gb_s']:.0f} GB/s")
            del g, kc, vc
            torch.cuda.empty_cache()
        except Exception as e:  # keep going: record the failure
            res["decode"][str(B)] = {"error": repr(e)}
            log(f"decode batch {B} failed: {e!r}")
    res["prefill_all"] = {}
    for i, n_p in enumerate(int(x) for x in str(args.prefill).split(",") if x):
        try:
            tok = torch.randint(0, c["vocab"], (n_p,), device="cuda")
            with torch.no_grad():
                m.prefill(tok)
                torch.cuda.synchronize()
                ms = time_ms(lambda: m.prefill(tok), inner=1 if n_p > 2048 else 2, outer=3 if n_p > 2048 else 5)
            r = {"n": n_p, "ms": ms, "tok_s": n_p * 1000.0 / ms}
            log(f"prefill {n_p}: {ms:.2f} ms, {r['tok_s']:.0f} tok/s")
        except Exception as e:
            r = {"n": n_p, "error": repr(e)}
            log(f"prefill {n_p} failed: {e!r}")
        res["prefill_all"][str(n_p)] = r
        if i == 0:
            res["prefill"] = r  # the first length: the README table's prefill row
        torch.cuda.empty_cache()
    return res


def sdpa(args) -> dict:
    """Causal prefill attention alone, BF16 SDPA (flash), Llama-3-8B heads:
    32 query heads, head dim 128; K/V given with 32 heads (the GQA groups
    expanded before timing, so the flash kernel runs); TFLOP/s counted as
    FlashAttention does: 4 * T^2 / 2 * D * H for causal."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    dev = torch.cuda.get_device_properties(0)
    res = {"gpu": dev.name, "torch": torch.__version__, "sdpa": {}}
    H, D = CFG["heads"], CFG["head_dim"]
    for T in [int(x) for x in args.tokens.split(",") if x]:
        try:
            q = torch.randn(1, H, T, D, dtype=torch.bfloat16, device="cuda")
            k = torch.randn_like(q)
            v = torch.randn_like(q)
            with sdpa_kernel([SDPBackend.FLASH_ATTENTION]), torch.no_grad():
                F.scaled_dot_product_attention(q, k, v, is_causal=True)
                torch.cuda.synchronize()
                ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                             inner=2 if T > 16384 else 10, outer=5)
            flops = 4.0 * T * T / 2 * D * H
            r = {"ms": ms, "tflops": flops / (ms * 1e-3) / 1e12}
            log(f"SDPA flash causal T={T}: {ms:.3f} ms, {r['tflops']:.0f} TFLOP/s")
            del q, k, v
            torch.cuda.empty_cache()
        except Exception as e:
            r = {"error": repr(e)}
            log(f"SDPA T={T} failed: {e!r}")
        res["sdpa"][str(T)] = r
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    mh = sub.add_parser("make-hf")
    mh.add_argument("dir")
    mh.add_argument("--tokenizer-from", required=True)
    mh.add_argument("--layers", type=int, default=CFG["layers"])
    b = sub.add_parser("bench")
    b.add_argument("--ctx", type=int, default=512)
    b.add_argument("--batches", default="1,8,64")
    b.add_argument("--prefill", default="512", help="prompt lengths, comma-separated (the first is the table's)")
    b.add_argument("--json", default="")
    sd = sub.add_parser("sdpa")
    sd.add_argument("--tokens", default="1024,4096,16384,65536")
    sd.add_argument("--json", default="")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        log("error: torch sees no CUDA device")
        return 1
    if args.cmd == "make-hf":
        make_hf(args.dir, args.tokenizer_from, args.layers)
        return 0
    res = sdpa(args) if args.cmd == "sdpa" else bench(args)
    out = json.dumps(res, indent=1)
    print(out)
    if args.json:
        with open(args.json, "w") as f:
            f.write(out + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
