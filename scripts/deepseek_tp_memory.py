#!/usr/bin/env python3
"""Per-rank memory of a DeepSeek-V3/R1 .f8 under f8's tensor parallel
(docs/tensor-parallel.md "DeepSeek-V3 / R1"), computed from a published
config.json's shapes — not measured.

What f8 stores (`f8 convert` of the published block-FP8 checkpoint):
projections E4M3 with one f32 scale per weight_block_size block (as
published, byte for byte), token_embd and output BF16, norms and the router's
score bias f32, the router (mlp.gate) BF16; the MTP layer is not converted.

How f8 splits it at --tp N (src/model/tp.cpp): q_a, kv_a_mqa and their norms
replicated (every rank computes the whole latent and keeps the whole latent
cache); q_b (or q) and kv_b by rows of the rank's heads; attn_output by
columns; dense FFNs, the shared expert and every routed expert by their FFN
rows (gate, up) / columns (down); the router replicated; token_embd and
output by vocabulary rows. A slice must not cut a scale block (refused).

Usage:
  scripts/deepseek_tp_memory.py [CONFIG] [--tp 8,16] [--gpu-gib 141,80]
                                [--gpu-mem 0.9] [--json]
CONFIG defaults to the published DeepSeek-V3 config in tests/goldens.
--gpu-gib: each degree's GPU memory (GiB, as nvidia-smi's total, one per
--tp entry); the KV room is gpu_mem x that - the rank's weights (activation
scratch and CUDA's own ~1-2 GiB not subtracted: an upper bound).
"""
from __future__ import annotations

import argparse
import json
import math
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "tests/goldens/configs/published/deepseek-ai--DeepSeek-V3/config.json"
GIB = 1024 ** 3


class Plan:
    def __init__(self, cfg: dict, tp: int):
        self.c, self.tp = cfg, tp
        q = cfg.get("quantization_config") or {}
        self.block = q.get("weight_block_size")  # None: not block FP8 (then E4M3 per channel, as f8 converts)
        self.errors: list[str] = []
        self.bytes = {}

    def fp8(self, name: str, rows: int, cols: int, split: str = "", n: int = 1) -> None:
        """n matrices [rows, cols] E4M3 (+ scales), split by 'rows', 'cols' or
        replicated ('')."""
        tp = self.tp
        r, k = rows, cols
        if split == "rows":
            if rows % tp:
                self.errors.append(f"{name}: {rows} rows do not split {tp} ways")
            r = rows // tp
        elif split == "cols":
            if cols % tp:
                self.errors.append(f"{name}: {cols} columns do not split {tp} ways")
            k = cols // tp
        if self.block:
            br, bc = self.block
            if tp > 1 and split == "rows" and r % br:
                self.errors.append(f"{name}: a slice of {r} rows cuts its {br}-row scale blocks")
            if tp > 1 and split == "cols" and k % bc:
                self.errors.append(f"{name}: a slice of {k} columns cuts its {bc}-column scale blocks")
            scales = math.ceil(r / br) * math.ceil(k / bc) * 4
        else:
            scales = r * 4  # per-channel
        self.add(name, n * (r * k + scales))

    def add(self, name: str, b: int) -> None:
        self.bytes[name] = self.bytes.get(name, 0) + b

    def build(self) -> "Plan":
        c, tp = self.c, self.tp
        E, L = c["hidden_size"], c["num_hidden_layers"]
        H, N, P, V = c["num_attention_heads"], c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
        R, QR = c["kv_lora_rank"], c.get("q_lora_rank") or 0
        if H % tp:
            self.errors.append(f"{H} attention heads do not split {tp} ways")
        dense = c.get("first_k_dense_replace", 0)
        ne, fe, ns = c["n_routed_experts"], c["moe_intermediate_size"], c.get("n_shared_experts") or 0
        F, vocab = c["intermediate_size"], c["vocab_size"]
        for l in range(L):
            self.add("norms", (E + E + R + QR) * 4)  # attn_norm, ffn_norm, kv_a_norm, q_a_norm (f32)
            if QR:
                self.fp8("attn_q_a (replicated)", QR, E)
                self.fp8("attn_q_b", H * (N + P), QR, "rows")
            else:
                self.fp8("attn_q", H * (N + P), E, "rows")
            self.fp8("attn_kv_a_mqa (replicated)", R + P, E)
            self.fp8("attn_kv_b", H * (N + V), R, "rows")
            self.fp8("attn_output", E, H * V, "cols")
            if l < dense:
                self.fp8("dense ffn gate+up", F, E, "rows", 2)
                self.fp8("dense ffn down", E, F, "cols")
            else:
                self.add("router (replicated)", ne * E * 2 + ne * 4)  # BF16 gate + f32 score bias
                self.fp8("routed experts gate+up", fe, E, "rows", 2 * ne)
                self.fp8("routed experts down", E, fe, "cols", ne)
                if ns:
                    self.fp8("shared expert gate+up", fe * ns, E, "rows", 2)
                    self.fp8("shared expert down", E, fe * ns, "cols")
        self.add("token_embd + output (BF16, vocab rows)", 2 * 2 * E * (math.ceil(vocab / tp)))
        self.add("norms", E * 4)
        self.kv_token = L * (R + P)  # E4M3 latent rows, replicated on every rank
        self.kv_token_f32 = 4 * self.kv_token
        self.active_experts = c["num_experts_per_tok"]
        return self

    @property
    def total(self) -> int:
        return sum(self.bytes.values())


def collectives(c: dict, tp: int) -> dict:
    """Per decode step of T tokens: what crosses the communicator."""
    E, L, vocab = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
    return {
        "all_reduces": 2 * L + 1,  # attention out + FFN/MoE out per layer, + the embedding
        "all_reduce_bytes_per_token": E * 4,  # f32 hidden row
        "logits_gather_bytes_per_token_per_rank": math.ceil(vocab / tp) * 4,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config", nargs="?", default=str(DEFAULT))
    ap.add_argument("--tp", default="8,16", help="tensor-parallel degrees (comma list)")
    ap.add_argument("--gpu-gib", default="", help="GPU memory per degree, GiB (comma list; e.g. 141,80)")
    ap.add_argument("--gpu-mem", type=float, default=0.9, help="f8's --gpu-mem fraction (default 0.9)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    try:
        cfg = json.loads(pathlib.Path(a.config).read_text())
    except (OSError, ValueError) as e:
        print(f"deepseek_tp_memory: error: {a.config}: {e}", file=sys.stderr)
        return 1
    try:
        tps = [int(x) for x in a.tp.split(",") if x]
        gpus = [float(x) for x in a.gpu_gib.split(",") if x]
    except ValueError:
        print(f"deepseek_tp_memory: error: --tp '{a.tp}' / --gpu-gib '{a.gpu_gib}': expected comma lists of numbers",
              file=sys.stderr)
        return 2
    if gpus and len(gpus) != len(tps):
        print("deepseek_tp_memory: error: --gpu-gib needs one value per --tp entry", file=sys.stderr)
        return 2
    out = []
    for i, tp in enumerate(tps):
        p = Plan(cfg, tp).build()
        row = {"tp": tp, "rank_bytes": p.total, "parts": p.bytes, "errors": sorted(set(p.errors)),
               "kv_bytes_per_token": p.kv_token, "collectives": collectives(cfg, tp)}
        if gpus:
            room = gpus[i] * GIB * a.gpu_mem - p.total
            row["gpu_gib"] = gpus[i]
            row["kv_room_bytes"] = int(room)
            row["max_tokens_e4m3"] = max(0, int(room // p.kv_token))
        out.append(row)
    if a.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"config: {a.config}")
    for r in out:
        print(f"\n--tp {r['tp']}: weights per rank {r['rank_bytes'] / GIB:.2f} GiB "
              f"({r['rank_bytes']:,} bytes), {r['tp'] * r['rank_bytes'] / GIB:.1f} GiB over all ranks")
        for k, v in sorted(r["parts"].items(), key=lambda kv: -kv[1]):
            print(f"  {k:42s} {v / GIB:8.3f} GiB")
        print(f"  latent KV cache per token (every rank): {r['kv_bytes_per_token']:,} bytes E4M3")
        if "kv_room_bytes" in r:
            print(f"  on a {r['gpu_gib']:g} GiB GPU at --gpu-mem {a.gpu_mem}: {r['kv_room_bytes'] / GIB:.1f} GiB left "
                  f"-> at most {r['max_tokens_e4m3']:,} cached tokens (before scratch)")
        co = r["collectives"]
        print(f"  per decode step: {co['all_reduces']} all-reduces of T x {co['all_reduce_bytes_per_token']:,} bytes, "
              f"one logits gather of T x {co['logits_gather_bytes_per_token_per_rank']:,} bytes per rank")
        for e in r["errors"]:
            print(f"  REFUSED: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
