#!/usr/bin/env python3
"""Shrink a Hugging Face config.json to tiny sizes, keeping every key.

The config corpus (tests/goldens/configs/published/, docs/convert.md "Config
corpus") holds real published config.json files. To convert and run them in
CI they are shrunk: the numbers that set tensor sizes become tiny, every other
key keeps its key and value, so the converter meets exactly the keys, the
spellings and the feature switches (RoPE types, sliding windows, quantization,
MoE routing) of the published file. Standard library only; deterministic (same
input, same output, key order preserved).

Rules (each applies to the top level and, for *ForConditionalGeneration, to
"text_config"; "vision_config" has its own, see shrink_vision):

  heads        r = num_attention_heads / num_key_value_heads (GQA ratio).
               r == 1 (MHA): 4 heads, 4 KV heads. 2r <= 16: 2 KV heads, 2r
               heads. Else 1 KV head and min(r, 16) heads (the ratio is kept
               up to 16; Qwen3-235B's 64/4 keeps 16).
  head_dim     16 (every RoPE variant stays even; partial_rotary_factor 0.75
               gives 12). Written only where the source has the key.
  hidden_size  heads' x 16 when the source has hidden == heads x head_dim
               (head_dim = hidden/heads without the key); otherwise the same
               ratio hidden / (heads x head_dim), rounded to a multiple of 16
               (32 for MXFP4 checkpoints, whose blocks are 32 wide), >= 32 --
               Qwen3 / Gemma keep hidden != heads x head_dim.
  intermediate_size, moe_intermediate_size, shared_expert_intermediate_size
               same ratio to hidden_size as in the source, multiple of 16
               (32 for MXFP4), >= 16.
  query_pre_attn_scalar (Gemma)
               follows what it equalled: head_dim -> new head_dim, hidden/heads
               -> new hidden/heads, else scaled with head_dim.
  MLA (DeepSeek) kv_lora_rank 32, q_lora_rank 48 (null stays null),
               qk_nope_head_dim 16, qk_rope_head_dim 8, v_head_dim 16; what
               transformers 5 derives and writes follows: head_dim (=
               qk_rope_head_dim) 8, qk_head_dim (nope + rope) 24.
  experts      num_experts / num_local_experts / n_routed_experts: min(n, 8).
               num_experts_per_tok (and gpt-oss's experts_per_token): min(k,
               n'/2) (Mixtral's 2 of 8 stays 2 of 8). DeepSeek groups:
               n_group min(g, 4), topk_group min(t, n_group'/2), and k' <=
               topk_group' x experts per group. n_shared_experts kept.
  layers       2, or 3 with first_k_dense_replace (1 dense + 2 MoE layers,
               first_k_dense_replace -> 1), or 4 when layers differ in kind
               (layer_types with two kinds, sliding_window_pattern,
               Gemma 2's alternation, Qwen2 windows on only some layers).
  layer_types  uniform: the one kind, repeated. Mixed: its period p (the
               smallest p with t[i] == t[i % p]); p <= 4 keeps the list's own
               first 4 entries; p > 4 (Gemma 3's 5 sliding + 1 full) keeps the
               period's first 3 and its last kind ([s, s, s, f]).
  sliding_window_pattern / _sliding_window_pattern
               min(p, 4), matching the layer_types rule.
  max_window_layers (Qwen2/3)
               >= num_hidden_layers (windows nowhere): layers' + the same
               excess; else the same fraction of layers, in [1, layers'-1].
  mlp_only_layers
               each index i -> i * layers' // layers, deduplicated.
  decoder_sparse_step
               kept when <= layers', else layers'.
  sliding_window (and Gemma 2's duplicate "sliding_window_size")
               16 (below the 48-token test sequence, so the window is
               exercised) when it is < max_position_embeddings; a window at
               least the context never takes effect and is kept, as are null
               and 0 (Qwen2MoeConfig's "none"); windows switched off by
               use_sliding_window: false are shrunk too (a converter that
               applied them would then be caught).
  vocab_size   1024 (>= the 961 ids of the corpus tokenizer,
               tests/goldens/tokenizer/fixtures/syn-metaspace).
  token ids    every *_token_id / *_token_index (int or list) >= 1024 is
               renumbered from the top: the k-th distinct such id -> 1023 - k
               (ids stay distinct and inside the embedding; the test
               sequence never uses them).
  rope_scaling / rope_parameters
               kept, except LongRoPE's long_factor / short_factor lists, which
               must have rotary_dim/2 entries: resampled at evenly spaced
               indices (first and last kept).
  quantization_config
               weight_block_size [128, 128] -> [32, 32] (with dims that are
               multiples of 16, some blocks are partial, as in DeepSeek's
               576-row kv_a_proj_with_mqa); modules_to_not_convert / ignore
               entries naming model.layers.N keep only N < layers'; every
               other field kept.
  kept         everything else: max_position_embeddings (RoPE scaling reads
               it), rope_theta, eps, activations, soft-caps, biases, dtypes,
               routing switches, bookkeeping keys.

Usage: shrink_config.py CONFIG.json [-o OUT.json]   (stdout without -o)
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys

VOCAB = 1024      # >= the corpus tokenizer's 961 ids
HEAD_DIM = 16
WINDOW = 16       # < TEST_TOKENS of scripts/gen_corpus_goldens.py (48)
FP8_BLOCK = 32
MAX_EXPERTS = 8

_LAYER_REF = re.compile(r"(model\.layers\.|layers\.)(\d+)(\.|$)")


def _round(x: float, mult: int, lo: int) -> int:
    return max(lo, int(math.floor(x / mult + 0.5)) * mult)


def _period(types: list) -> int:
    for p in range(1, len(types) + 1):
        if all(types[i] == types[i % p] for i in range(len(types))):
            return p
    return len(types)


def _shrink_layer_types(types: list, n_new: int) -> list:
    if len(set(types)) <= 1:
        return [types[0]] * n_new if types else []
    p = _period(types)
    period = types[:p] if p <= 4 else types[:3] + [types[p - 1]]
    return [period[i % len(period)] for i in range(n_new)]


def _mixed_layers(c: dict) -> bool:
    lt = c.get("layer_types")
    if isinstance(lt, list) and len(set(map(str, lt))) > 1:
        return True
    if c.get("model_type") in ("gemma2", "gemma3", "gemma3_text"):
        return True  # alternating / 5:1 local-global layers even without layer_types
    for k in ("sliding_window_pattern", "_sliding_window_pattern"):
        if isinstance(c.get(k), int) and c[k] > 1:
            return True
    mwl, L = c.get("max_window_layers"), c.get("num_hidden_layers")
    return bool(c.get("use_sliding_window")) and isinstance(mwl, int) and isinstance(L, int) and 0 < mwl < L


def _filter_layer_refs(names, n_new: int):
    if not isinstance(names, list):
        return names
    out = []
    for s in names:
        m = _LAYER_REF.search(s) if isinstance(s, str) else None
        if m is None or int(m.group(2)) < n_new:
            out.append(s)
    return out


def _shrink_quant(q: dict, n_new: int) -> dict:
    q = dict(q)
    wbs = q.get("weight_block_size")
    if isinstance(wbs, list) and len(wbs) == 2:
        q["weight_block_size"] = [FP8_BLOCK, FP8_BLOCK]
    for k in ("modules_to_not_convert", "ignore"):
        if k in q:
            q[k] = _filter_layer_refs(q[k], n_new)
    return q


def _resample(lst: list, n: int) -> list:
    if len(lst) <= 1 or n <= 0:
        return lst[:n]
    return [lst[round(i * (len(lst) - 1) / max(1, n - 1))] for i in range(n)]


def _shrink_rope(r, rotary_half: int):
    if not isinstance(r, dict):
        return r
    r = dict(r)
    for k in ("long_factor", "short_factor"):
        if isinstance(r.get(k), list):
            r[k] = _resample(r[k], rotary_half)
    for k, v in list(r.items()):  # per-layer-type RoPE objects (transformers 5)
        if isinstance(v, dict):
            r[k] = _shrink_rope(v, rotary_half)
    return r


def shrink_text(c: dict, mxfp4: bool = False) -> dict:
    """Shrink one language-model config dict (top level or text_config)."""
    out = dict(c)
    mult = 32 if mxfp4 else 16
    nh = c.get("num_attention_heads")
    if not isinstance(nh, int) or nh <= 0:
        return out
    nkv = c.get("num_key_value_heads") or nh
    hidden = c.get("hidden_size")
    hd_src = c.get("head_dim") or (hidden // nh if hidden else HEAD_DIM)
    r = max(1, nh // nkv) if nkv else 1
    if r == 1:
        nh2, nkv2 = 4, 4
    elif 2 * r <= 16:
        nh2, nkv2 = 2 * r, 2
    else:
        nh2, nkv2 = min(r, 16), 1
    hidden2 = nh2 * HEAD_DIM
    if isinstance(hidden, int) and hidden != nh * hd_src:
        hidden2 = _round(hidden / (nh * hd_src) * nh2 * HEAD_DIM, mult, 32)
    elif mxfp4:
        hidden2 = _round(hidden2, 32, 32)

    def ffn(v):
        return _round(v / hidden * hidden2, mult, 16) if isinstance(v, int) and hidden else v

    out["num_attention_heads"] = nh2
    if "num_key_value_heads" in c:
        out["num_key_value_heads"] = nkv2
    if "head_dim" in c and c["head_dim"] is not None:
        out["head_dim"] = HEAD_DIM
    if isinstance(hidden, int):
        out["hidden_size"] = hidden2
    for k in ("intermediate_size", "moe_intermediate_size", "shared_expert_intermediate_size"):
        if k in c:
            out[k] = ffn(c[k])
    qpas = c.get("query_pre_attn_scalar")
    if isinstance(qpas, (int, float)) and not isinstance(qpas, bool):
        if qpas == hd_src:
            out["query_pre_attn_scalar"] = HEAD_DIM
        elif hidden and qpas == hidden // nh:
            out["query_pre_attn_scalar"] = hidden2 // nh2
        else:
            out["query_pre_attn_scalar"] = type(qpas)(qpas * HEAD_DIM / hd_src)

    # MLA (DeepSeek V2/V3)
    for k, v in (("kv_lora_rank", 32), ("q_lora_rank", 48), ("qk_nope_head_dim", 16),
                 ("qk_rope_head_dim", 8), ("v_head_dim", 16)):
        if c.get(k) is not None:
            out[k] = v
    if c.get("qk_rope_head_dim") is not None:  # transformers 5 writes both for MLA
        if c.get("head_dim") == c["qk_rope_head_dim"]:
            out["head_dim"] = out["qk_rope_head_dim"]
        if "qk_head_dim" in c:
            out["qk_head_dim"] = out["qk_nope_head_dim"] + out["qk_rope_head_dim"]

    # Experts and routing
    n_exp = None
    for k in ("num_experts", "num_local_experts", "n_routed_experts"):
        if isinstance(c.get(k), int) and c[k] > 0:
            n_exp = min(c[k], MAX_EXPERTS)
            out[k] = n_exp
    if n_exp:
        k_cap = n_exp if n_exp <= 2 else n_exp // 2
        if isinstance(c.get("n_group"), int) and c["n_group"] > 0:
            g = min(c["n_group"], 4)
            while n_exp % g:
                g -= 1
            out["n_group"] = g
            if isinstance(c.get("topk_group"), int):
                out["topk_group"] = max(1, min(c["topk_group"], g // 2))
                k_cap = min(k_cap, out["topk_group"] * (n_exp // g))
        for k in ("num_experts_per_tok", "experts_per_token"):
            if isinstance(c.get(k), int):
                out[k] = min(c[k], k_cap)

    # Layers
    L = c.get("num_hidden_layers")
    if isinstance(L, int) and L > 0:
        fk = c.get("first_k_dense_replace")
        if isinstance(fk, int) and fk > 0:
            L2 = 3
            out["first_k_dense_replace"] = 1
        elif _mixed_layers(c):
            L2 = 4
        else:
            L2 = 2
        L2 = min(L2, L)
        out["num_hidden_layers"] = L2
        lt = c.get("layer_types")
        if isinstance(lt, list) and lt:
            out["layer_types"] = _shrink_layer_types(lt, L2)
        for k in ("sliding_window_pattern", "_sliding_window_pattern"):
            if isinstance(c.get(k), int) and not isinstance(c[k], bool):
                out[k] = min(c[k], 4)
        mwl = c.get("max_window_layers")
        if isinstance(mwl, int):
            out["max_window_layers"] = (L2 + mwl - L) if mwl >= L else max(1, min(L2 - 1, round(mwl * L2 / L)))
        if isinstance(c.get("mlp_only_layers"), list):
            seen = []
            for i in c["mlp_only_layers"]:
                j = i * L2 // L
                if j not in seen:
                    seen.append(j)
            out["mlp_only_layers"] = seen
        dss = c.get("decoder_sparse_step")
        if isinstance(dss, int) and dss > L2:
            out["decoder_sparse_step"] = L2
        q = c.get("quantization_config")
        if isinstance(q, dict):
            out["quantization_config"] = _shrink_quant(q, L2)

    # Sliding window: shrink only a window that takes effect within the context
    sw, ctx = c.get("sliding_window"), c.get("max_position_embeddings")
    if isinstance(sw, int) and not isinstance(sw, bool) and sw > 0 and (not isinstance(ctx, int) or sw < ctx):
        out["sliding_window"] = WINDOW
        if c.get("sliding_window_size") == sw:
            out["sliding_window_size"] = WINDOW

    # RoPE: LongRoPE factor lists have rotary_dim / 2 entries
    prf = c.get("partial_rotary_factor")
    if prf is None and isinstance(c.get("rope_parameters"), dict):
        prf = c["rope_parameters"].get("partial_rotary_factor")
    rotary_half = int(HEAD_DIM * (prf if isinstance(prf, (int, float)) else 1.0)) // 2
    for k in ("rope_scaling", "rope_parameters"):
        if k in c:
            out[k] = _shrink_rope(c[k], rotary_half)

    if isinstance(c.get("vocab_size"), int):
        out["vocab_size"] = VOCAB
    return out


def shrink_vision(v: dict) -> dict:
    """SigLIP-style vision_config: 1 layer, 2 heads, 32 wide, 8x8 images of
    4x4 patches (2x2 = 4 patches)."""
    out = dict(v)
    for k, val in (("hidden_size", 32), ("intermediate_size", 64), ("num_hidden_layers", 1),
                   ("num_attention_heads", 2), ("image_size", 8), ("patch_size", 4)):
        if k in v:
            out[k] = val
    return out


def _renumber_token_ids(obj, mapping: dict):
    """Token ids >= VOCAB -> VOCAB - 1 - k, k-th distinct id in key order."""
    def remap(x):
        if isinstance(x, int) and not isinstance(x, bool) and x >= VOCAB:
            if x not in mapping:
                mapping[x] = VOCAB - 1 - len(mapping)
            return mapping[x]
        return x
    if not isinstance(obj, dict):
        return obj
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict):
            out[k] = _renumber_token_ids(v, mapping)
        elif re.search(r"_token_ids?$|_token_index$", k):
            out[k] = [remap(x) for x in v] if isinstance(v, list) else remap(v)
        else:
            out[k] = v
    return out


def shrink(cfg: dict) -> dict:
    """The shrunk config (see the module docstring for every rule)."""
    mxfp4 = (cfg.get("quantization_config") or {}).get("quant_method") == "mxfp4"
    out = shrink_text(cfg, mxfp4=mxfp4)
    if isinstance(cfg.get("text_config"), dict):
        out["text_config"] = shrink_text(cfg["text_config"], mxfp4=mxfp4)
    if isinstance(cfg.get("vision_config"), dict):
        out["vision_config"] = shrink_vision(cfg["vision_config"])
        if isinstance(cfg.get("mm_tokens_per_image"), int):
            out["mm_tokens_per_image"] = 1  # 2x2 patches pooled to one token
    if isinstance(cfg.get("vocab_size"), int):
        out["vocab_size"] = VOCAB
    return _renumber_token_ids(out, {})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", help="config.json to shrink")
    ap.add_argument("-o", "--output", help="write here (default: stdout)")
    a = ap.parse_args()
    try:
        with open(a.config, encoding="utf-8") as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        print(f"shrink_config: error: {a.config}: {e}", file=sys.stderr)
        return 1
    if not isinstance(cfg, dict):
        print(f"shrink_config: error: {a.config}: not a JSON object", file=sys.stderr)
        return 1
    text = json.dumps(shrink(cfg), indent=2, ensure_ascii=False) + "\n"
    if a.output:
        with open(a.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
