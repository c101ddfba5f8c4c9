"""KV cache types from the CLI (docs/runtime.md "KV cache precision and
scales"): `--kv-type fp8` (E4M3, a power-of-two scale per token and KV head
written with each cell: the default), `fp8-layer` (E4M3, one scale per layer
measured at start-up), the others; what `f8 inspect` says a token costs; a
bad type is a usage error naming the choices. On the smollm2-tiny fixture
(hidden 96, 3 heads, 1 KV head, head_dim 32, 2 layers).
"""
import json
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("F8_BUILD", ROOT / "build"))
F8 = BUILD / "bin" / "f8"
CACHE = pathlib.Path(os.environ.get("F8_CACHE", pathlib.Path.home() / ".cache" / "f8"))
FIXTURE = CACHE / "synthetic" / "smollm2-tiny"


def run(*args):
    return subprocess.run([str(F8), *map(str, args)], capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    if not F8.exists():
        pytest.skip(f"{F8} not built")
    if not (FIXTURE / "config.json").exists():
        pytest.skip(f"fixture {FIXTURE} not present (scripts/fixtures.sh)")
    m = tmp_path_factory.mktemp("kvtypes") / "tiny.f8"
    r = run("convert", FIXTURE, "-o", m, "-q", "--weights", "bf16")
    assert r.returncode == 0, r.stderr.decode()
    text = tmp_path_factory.mktemp("kvtext") / "t.txt"
    text.write_text("In the beginning God created the heaven and the earth. " * 40)
    return m, text


def test_inspect_bytes_per_token(model):
    m, _ = model
    j = json.loads(run("inspect", m, "--json").stdout)["kv_cache"]
    cfg = json.loads((FIXTURE / "config.json").read_text())
    kv, hd = cfg["num_key_value_heads"], cfg["hidden_size"] // cfg["num_attention_heads"]
    assert j["values_per_token_per_layer"] == 2 * kv * hd
    # one 2-byte BF16 scale per KV head for K and for V
    assert j["scale_bytes_per_token_per_layer"] == 4 * kv
    assert j["bytes_per_token_per_layer"] == 2 * kv * hd + 4 * kv
    assert j["bytes_per_token"] == j["bytes_per_token_per_layer"] * cfg["num_hidden_layers"]
    out = run("inspect", m).stdout.decode()
    assert re.search(r"kv cache:\s+%d bytes per token per layer in E4M3 .*%d scale bytes, one BF16 scale per KV head"
                     % (2 * kv * hd + 4 * kv, 4 * kv), out), out


def ppl(m, text, kv, *extra):
    r = run("perplexity", "-m", m, "-f", text, "--chunk", "128", "--chunks", "2", "-c", "128", "-t", "1",
            "--kv-type", kv, *extra)
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode() + r.stderr.decode()
    return out


def test_every_kv_type_runs_and_fp8_is_close_to_f32(model, tmp_path):
    m, text = model
    base = tmp_path / "base.logits"
    ppl(m, text, "f32", "--save-logits", base)
    kl = {}
    for kv in ["fp8", "fp8-layer", "bf16", "f16", "e5m2"]:
        out = ppl(m, text, kv, "--kl-base", base)
        kl[kv] = float(re.search(r"KL\(base \|\| model\) = ([0-9.e+-]+)", out).group(1))
        if kv == "fp8":  # per-token scales: nothing measured at start-up
            assert "measuring per-layer" not in out
        if kv == "fp8-layer":
            assert "measuring per-layer FP8 KV scales" in out
    # 16-bit caches are far closer than the 8-bit ones; every 8-bit one is close.
    assert kl["bf16"] < kl["fp8"] and kl["f16"] < kl["fp8"]
    assert 0 < kl["fp8"] < 0.05 and 0 < kl["fp8-layer"] < 0.05, kl


def test_bad_kv_type_is_a_usage_error(model):
    m, text = model
    r = run("perplexity", "-m", m, "-f", text, "--kv-type", "q8")
    assert r.returncode == 2
    err = r.stderr.decode()
    assert "--kv-type 'q8'" in err and "fp8-layer" in err, err
