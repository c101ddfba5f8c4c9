"""Mixture-of-experts models end to end through the CLI, beside the
transformers goldens of test_generate_goldens.py: tensor parallel splits
every expert like a dense FFN (TP 2 gives TP 1's logits), the scalar oracle
backend agrees with the fast one, and `f8 bench` counts the bytes a token
actually reads (the routed experts only)."""
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("F8_BUILD", ROOT / "build"))
F8 = BUILD / "bin" / "f8"
CACHE = pathlib.Path(os.environ.get("F8_CACHE", pathlib.Path.home() / ".cache" / "f8"))
IDS = "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20"


def f8(*args):
    r = subprocess.run([str(F8), *map(str, args)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"f8 {' '.join(map(str, args))}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    if not F8.exists():
        pytest.skip(f"{F8} not built")
    out = {}
    d = tmp_path_factory.mktemp("moe")
    for name in ("mixtral", "qwen2moe", "qwen3moe"):
        src = CACHE / "synthetic" / name
        if not (src / "config.json").exists():
            pytest.skip(f"fixture {src} missing (scripts/fixtures.sh)")
        out[name] = d / f"{name}.f8"
        f8("convert", src, "-o", out[name], "-q", "--force")  # E4M3, per-expert channel scales
    return out


def logits(model, *extra):
    npy = model.with_suffix(f".{abs(hash(extra))}.npy")
    f8("generate", "-m", model, "--kv-type", "f32", "--prompt-ids", IDS, "-n", "0", "-q", "--dump-logits", npy,
       "-c", "64", *extra)
    return np.load(npy)


@pytest.mark.parametrize("name", ["mixtral", "qwen2moe", "qwen3moe"])
def test_tensor_parallel_splits_experts_like_dense_ffns(models, name):
    base = logits(models[name])
    tp2 = logits(models[name], "--tp", "2")
    assert base.shape == tp2.shape
    assert np.abs(base - tp2).max() < 1e-4, name


@pytest.mark.parametrize("name", ["qwen2moe", "qwen3moe"])
def test_oracle_backend_agrees(models, name):
    fast = logits(models[name])
    ref = logits(models[name], "--backend", "cpu-ref")
    assert np.abs(fast - ref).max() < 1e-3, name
    assert (fast.argmax(-1) == ref.argmax(-1)).all()


def test_bench_counts_the_routed_experts_only(models):
    m = models["qwen3moe"]
    j = json.loads(f8("bench", "-m", m, "-p", "8", "-n", "4", "-r", "1", "--threads-list", "1", "--json").stdout)
    cfg = json.loads((CACHE / "synthetic" / "qwen3moe" / "config.json").read_text())
    E, k, F, H, L = cfg["num_experts"], cfg["num_experts_per_tok"], cfg["moe_intermediate_size"], \
        cfg["hidden_size"], cfg["num_hidden_layers"]
    expert_bytes = L * 3 * F * H * E  # E4M3: one byte per weight
    # the file holds every expert; a token reads k of E of them (plus scales)
    assert j["weight_bytes_per_token"] < j["file_bytes"] - expert_bytes * (E - k) / E + 1
    assert j["weight_bytes_per_token"] > L * 3 * F * H * k
