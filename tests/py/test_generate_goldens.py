"""f8's forward pass against Hugging Face transformers goldens.

tests/goldens/model/<name>.json (scripts/gen_model_goldens.py, docs/fixtures.md)
hold, per prompt, the transformers float32 logits (top-16 + probe ids at every
teacher-forced position) and 64 greedy tokens. Here each fixture is converted
with `f8 convert --weights bf16` (the weights are then the same numbers as the
reference's), run with an F32 KV cache, and compared:
  - logits: max |f8 - ref| over the stored logits of every position;
  - greedy: 64 tokens identical, except after a step whose reference top-1/2
    margin is below the measured logit error (a tie, not a bug).
Fixtures come from scripts/fixtures.sh (under $F8_CACHE); a missing fixture
skips its case.
"""
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
GOLDENS = ROOT / "tests" / "goldens" / "model"

# Max |delta logit| allowed. BF16 checkpoints: the converted weights are the
# reference's numbers, only summation order differs (measured ~3e-6 on the
# 2-layer fixtures). F32/F16 checkpoints lose mantissa bits in `--weights
# bf16` (measured ~2.5e-2 on llama-spm/mistral-spm), so they get a BF16-
# rounding tolerance.
# SmolLM2-135M (30 layers, BF16): measured 5.9e-5; all 4 x 64 greedy tokens equal.
# DeepSeek-V3 fixtures (sharp MLA attention and routing, logits up to ~23):
# transformers' own float32 logits differ from its float64 run by up to
# 1.1e-4 (deepseek-r1, prompt 3), f8's by 8e-5 (both MLA forms): the
# reference's float32 rounding, not f8's, sets this bound.
TOL = {"smollm2-135m-instruct": 1e-3, "smollm2-135m-tf5": 1e-3,
       "deepseek-v3": 3e-4, "deepseek-r1": 3e-4, "deepseek-v3-lite": 3e-4}
TOL_EXACT = 1e-4
TOL_ROUNDED = 6e-2


def goldens():
    return sorted(p.stem for p in GOLDENS.glob("*.json")) if GOLDENS.is_dir() else []


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("goldens")


def converted(name, g, workdir):
    src = CACHE / g["fixture_dir"].replace("$F8_CACHE/", "")
    if not (src / "config.json").exists():
        pytest.skip(f"fixture {src} not present (scripts/fixtures.sh)")
    out = workdir / f"{name}-bf16.f8"
    if not out.exists():
        r = subprocess.run([str(F8), "convert", str(src), "-o", str(out), "--weights", "bf16", "-q", "--force"],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    return out


def run_f8(args):
    r = subprocess.run([str(F8)] + args, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"f8 {' '.join(args)}\n{r.stderr}"
    return r


@pytest.mark.parametrize("name", goldens())
def test_logits_and_greedy_match_transformers(name, workdir):
    if not F8.exists():
        pytest.skip(f"{F8} not built")
    g = json.loads((GOLDENS / f"{name}.json").read_text())
    model = converted(name, g, workdir)
    exact = (g["config"].get("torch_dtype") or g["config"].get("dtype")) == "bfloat16"
    tol = TOL.get(name, TOL_EXACT if exact else TOL_ROUNDED)
    probe = np.array(g["probe_ids"])
    worst = 0.0
    for i, pr in enumerate(g["prompts"]):
        ids = pr["prompt_ids"] + pr["greedy_ids"][:-1]
        npy = workdir / f"{name}-{i}.npy"
        run_f8(["generate", "-m", str(model), "--kv-type", "f32", "--prompt-ids", ",".join(map(str, ids)),
                "-n", "0", "-q", "--dump-logits", str(npy), "-c", str(len(ids) + 8)])
        lg = np.load(npy)
        assert lg.shape[0] == len(ids)
        errs = []
        for p, pos in enumerate(pr["positions"]):
            d_top = np.abs(lg[p, pos["top_ids"]] - np.array(pos["top_logits"])).max()
            d_probe = np.abs(lg[p, probe] - np.array(pos["probe_logits"])).max()
            errs.append(max(d_top, d_probe))
        err = float(max(errs))
        worst = max(worst, err)
        assert err < tol, f"{name} prompt {i}: max |dlogit| {err:.2e} >= {tol:.0e}"

        # Greedy continuation, token for token (generation runs past EOS as
        # the reference's did).
        toks = workdir / f"{name}-{i}.tok"
        n = len(pr["greedy_ids"])
        run_f8(["generate", "-m", str(model), "--kv-type", "f32", "--prompt-ids",
                ",".join(map(str, pr["prompt_ids"])), "-n", str(n), "--temp", "0", "--ignore-eos", "-q",
                "--dump-tokens", str(toks), "-c", str(len(pr["prompt_ids"]) + n + 8)])
        got = [int(x) for x in toks.read_text().splitlines()[1].split()]
        want = pr["greedy_ids"]
        P = len(pr["prompt_ids"])
        for k in range(n):
            if got[k] == want[k]:
                continue
            top = pr["positions"][P - 1 + k]["top_logits"]
            margin = top[0] - top[1]
            assert margin <= 2 * err, (f"{name} prompt {i}: greedy token {k} is {got[k]}, transformers {want[k]} "
                                      f"(margin {margin:.2e} > 2 x logit error {err:.2e})")
            break  # a tie: the continuations legitimately diverge from here
    print(f"{name}: max |dlogit| {worst:.2e}")
