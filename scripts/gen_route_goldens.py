#!/usr/bin/env python3
"""DeepSeek-V3 router goldens ("noaux_tc": sigmoid scores, score-correction
bias for the choice, group-limited top-k, weights from the unbiased scores,
norm_topk_prob, routed_scaling_factor) computed by transformers' own
DeepseekV3TopkRouter, written to tests/goldens/moe/route_noaux_tc.json
(committed; tests/backend/test_moe_route_group.cpp checks
f8backend::moe_route_token against it).

NOT run in CI: it needs torch + transformers (the peer venv,
${F8_CACHE:-~/.cache/f8}/venv-peers, made on first use; the script
re-executes itself there).

The router is fed its logits directly: hidden_size = E and the router weight
is the identity, so router_logits = x @ I^T = x exactly (float32). Each case
stores the float32 logits and bias (as decimal doubles that read back as the
same float32), and per token the chosen expert ids (transformers' topk with
sorted=False: the order is not meaningful, compare as a set) with their
weights. Logits are drawn so that no two biased scores of a token tie (ties
are tested against the documented rule in the C++ test, not here).
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from hf_fixture_io import cache_root, in_venv, log, peer_venv  # noqa: E402

OUT = HERE.parent / "tests" / "goldens" / "moe" / "route_noaux_tc.json"

# name: (E, n_group, topk_group, k, norm_topk_prob, routed_scaling_factor, bias std, tokens)
CASES = {
    "v3-shape": (256, 8, 4, 8, True, 2.5, 0.05, 8),          # DeepSeek-V3 / R1 as published
    "shrunk-corpus": (8, 4, 2, 4, True, 2.5, 0.05, 32),       # the config corpus' shrunk V3
    "no-norm": (64, 8, 3, 6, False, 16.0, 0.1, 12),
    "single-group": (64, 1, 1, 6, False, 1.0, 0.1, 12),       # V2-Lite style: n_group 1
    "bias-decides": (16, 4, 2, 2, True, 2.5, 1.0, 48),        # the bias outweighs the scores
    "zero-bias": (32, 4, 2, 3, True, 1.0, 0.0, 16),
}


def run() -> int:
    import numpy as np
    import torch
    import transformers
    from transformers import DeepseekV3Config
    from transformers.models.deepseek_v3.modeling_deepseek_v3 import DeepseekV3TopkRouter

    out = {"format": "f8-route-golden-v1",
           "router": "transformers DeepseekV3TopkRouter (identity weight: router_logits = x)",
           "generator": {"transformers": transformers.__version__, "torch": torch.__version__,
                         "script": "scripts/gen_route_goldens.py"},
           "cases": []}
    rng = np.random.default_rng(24)
    for name, (E, ng, tg, k, norm, scale, bstd, T) in CASES.items():
        cfg = DeepseekV3Config(hidden_size=E, n_routed_experts=E, n_group=ng, topk_group=tg, num_experts_per_tok=k,
                               norm_topk_prob=norm, routed_scaling_factor=scale)
        r = DeepseekV3TopkRouter(cfg)
        with torch.no_grad():
            r.weight.copy_(torch.eye(E, dtype=torch.float32))
            bias = (rng.standard_normal(E) * bstd).astype(np.float32)
            r.e_score_correction_bias.copy_(torch.from_numpy(bias))
            while True:
                x = (rng.standard_normal((T, E)) * 2.0).astype(np.float32)
                c = 1.0 / (1.0 + np.exp(-x.astype(np.float64))) + bias
                if all(len(set(row.tolist())) == E for row in c.astype(np.float32)):
                    break
            logits, w, idx = r(torch.from_numpy(x))
            assert torch.equal(logits, torch.from_numpy(x)), "identity router changed the logits"
        out["cases"].append({
            "name": name, "n_expert": E, "n_group": ng, "topk_group": tg, "k": k, "norm_topk_prob": norm,
            "routed_scaling_factor": scale, "bias": [float(v) for v in bias],
            "tokens": [{"logits": [float(v) for v in x[t]], "ids": [int(i) for i in idx[t]],
                        "weights": [float(v) for v in w[t]]} for t in range(T)]})
        log(f"{name}: E {E}, {ng} groups keep {tg}, k {k}, norm {norm}, scale {scale}: {T} tokens")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(out, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(tmp, OUT)
    log(f"wrote {OUT} ({OUT.stat().st_size // 1024} KiB)")
    return 0


def main() -> int:
    py = peer_venv(cache_root())
    if not in_venv(py):
        os.execv(str(py), [str(py), __file__] + sys.argv[1:])
    return run()


if __name__ == "__main__":
    sys.exit(main())
