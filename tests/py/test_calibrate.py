"""`f8 convert --calibrate TEXT [--calib-tokens N] [--auto-format BITS]` on the
smollm2-tiny synthetic fixture: static input scales and KV scales land in the
file under the names the runtime reads, the runtime uses them (perplexity
with --emulate-gpu runs static W8A8 and stays finite even when every scale
underestimates the activations: outliers saturate), the per-tensor choice and
its KL are stored and shown by `f8 inspect`, error-compensating rounding
(the default; --rounding nearest keeps the default codes) changes codes but
never scales, and bad input (empty text,
non-UTF-8, too short, budgets outside 8..16) is one clear error each."""
import json
import math

import pytest

from test_generate_cli import F8, FIXTURE, f8, one_error_line

pytestmark = [pytest.mark.skipif(not F8.exists(), reason="f8 not built"),
              pytest.mark.skipif(not (FIXTURE / "config.json").exists(), reason="fixture smollm2-tiny missing")]

TEXT = ("In the beginning God created the heaven and the earth. And the earth was without form, and void; "
        "and darkness was upon the face of the deep. 1234 + 5678 = 6912; def f(x): return x * 2\n") * 30


@pytest.fixture(scope="module")
def text(tmp_path_factory):
    p = tmp_path_factory.mktemp("cal") / "calib.txt"
    p.write_text(TEXT)
    return p


def inspect(path):
    r = f8("inspect", path, "--json")
    assert r.returncode == 0, r.stderr.decode()
    j = json.loads(r.stdout)
    meta = {m["key"]: m.get("value") for m in j["metadata"]}
    tensors = {t["name"]: t for t in j["tensors"]}
    return meta, tensors


def ppl(model, text, *extra):
    r = f8("perplexity", "-m", model, "-f", text, "--chunk", "64", "--chunks", "2", *extra)
    assert r.returncode == 0, r.stderr.decode()
    v = float(r.stdout.decode().split()[2])
    assert math.isfinite(v) and v > 1.0
    return v


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, text):
    out = tmp_path_factory.mktemp("cal") / "cal.f8"
    r = f8("convert", FIXTURE, "-o", out, "--calibrate", text, "--calib-tokens", "256", "-t", "2")
    assert r.returncode == 0, r.stderr.decode()
    assert "calibration: " in r.stderr.decode()
    return out


def test_calibrated_file_has_static_scales(calibrated, text):
    meta, tensors = inspect(calibrated)
    assert meta["quant.activations"] == "static"
    assert meta["quant.calib.tokens"] >= 256
    n_layer = meta["llm.block_count"]
    for l in range(n_layer):
        for w in ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"):
            t = tensors[f"blk.{l}.{w}.input_scale"]
            assert t["dtype"] == "f32" and t["shape"] == [1]
        for kv in ("attn_k", "attn_v"):
            assert tensors[f"blk.{l}.{kv}.kv_scale"]["shape"] == [1]
    assert len(meta["quant.calib.act_amax"]) == 4 * n_layer
    # Error-compensating rounding (the default): other codes for the linear
    # weights, the very same scales and every other tensor byte for byte.
    assert meta["quant.calib.rounding"] == "gptq"
    assert meta["quant.calib.damp"] > 0
    plain = calibrated.parent / "plain.f8"
    assert f8("convert", FIXTURE, "-o", plain, "-q").returncode == 0
    _, pt = inspect(plain)
    changed = 0
    for name, t in pt.items():
        if name.startswith("blk.") and name.endswith(".weight") and t["dtype"] == "e4m3":
            changed += tensors[name]["checksum"] != t["checksum"]
            assert tensors[name]["scale_kind"] == t["scale_kind"]
        else:
            assert tensors[name]["checksum"] == t["checksum"], name
    assert changed > 0


def test_rounding_nearest_keeps_default_codes(tmp_path, text):
    # --rounding nearest: the weights are quantized exactly as without --calibrate.
    out, plain = tmp_path / "near.f8", tmp_path / "plain.f8"
    r = f8("convert", FIXTURE, "-o", out, "--calibrate", text, "--calib-tokens", "128", "--rounding", "nearest")
    assert r.returncode == 0, r.stderr.decode()
    assert f8("convert", FIXTURE, "-o", plain, "-q").returncode == 0
    meta, tensors = inspect(out)
    assert meta["quant.calib.rounding"] == "nearest"
    _, pt = inspect(plain)
    for name, t in pt.items():
        assert tensors[name]["checksum"] == t["checksum"], name


def test_rounding_flag_errors(tmp_path, text):
    r = f8("convert", FIXTURE, "-o", tmp_path / "o.f8", "--calibrate", text, "--rounding", "stochastic")
    assert r.returncode == 2 and "--rounding" in one_error_line(r)
    r = f8("convert", FIXTURE, "-o", tmp_path / "o.f8", "--rounding", "gptq")
    assert r.returncode == 2 and "--calibrate" in one_error_line(r)
    assert not (tmp_path / "o.f8").exists()


def test_runtime_uses_calibrated_scales(calibrated, text):
    # FP8 KV from the file's scales (fp8-layer: the default fp8 cache makes
    # per-token scales instead), static W8A8 in --emulate-gpu: finite and close to dynamic.
    base = ppl(calibrated, text, "--kv-type", "f32")
    static = ppl(calibrated, text, "--emulate-gpu", "--kv-type", "fp8-layer")
    assert abs(static - base) / base < 0.5


def test_outliers_saturate_never_nan(tmp_path, text):
    # Input scales from the 60th percentile: most activations exceed them.
    out = tmp_path / "clip.f8"
    r = f8("convert", FIXTURE, "-o", out, "--calibrate", text, "--calib-tokens", "128", "--calib-percentile", "60")
    assert r.returncode == 0, r.stderr.decode()
    ppl(out, text, "--emulate-gpu")


def test_auto_format(tmp_path, text):
    out = tmp_path / "auto.f8"
    r = f8("convert", FIXTURE, "-o", out, "--calibrate", text, "--calib-tokens", "256", "--auto-format", "9",
           "--heldout-tokens", "64")
    assert r.returncode == 0, r.stderr.decode()
    assert "auto-format:" in r.stderr.decode()
    meta, tensors = inspect(out)
    names, fmts, kls = meta["quant.auto.tensor"], meta["quant.auto.format"], meta["quant.auto.kl"]
    assert len(names) == len(fmts) == len(kls) > 0
    assert meta["quant.auto.mean_bits"] <= 9.0 + 1e-6
    dtype = {"e4m3/channel": "e4m3", "e4m3/block": "e4m3", "e5m2/channel": "e5m2", "bf16": "bf16"}
    for n, f, k in zip(names, fmts, kls):
        assert tensors[n]["dtype"] == dtype[f], (n, f)
        assert k >= 0
        if f == "e4m3/block":
            assert tensors[n]["scale_kind"] == "block"
    assert "bf16" in fmts  # a 9-bit budget buys some BF16 tensors
    # f8 inspect shows the decisions.
    r = f8("inspect", out)
    assert "format choice" in r.stdout.decode()
    ppl(out, text)


@pytest.mark.parametrize("content,args,needle", [
    (b"", [], "empty"),
    (b"   \n\n", [], "empty"),
    (b"caf\xe9 au lait " * 50, [], "not UTF-8"),
    (b"Hello there.", [], "too short"),
    (TEXT.encode(), ["--auto-format", "7.5"], "between 8 and 16"),
    (TEXT.encode(), ["--auto-format", "17"], "between 8 and 16"),
    (TEXT.encode(), ["--auto-format", "8"], "smallest possible"),
])
def test_bad_calibration_input(tmp_path, content, args, needle):
    t = tmp_path / "t.txt"
    t.write_bytes(content)
    out = tmp_path / "o.f8"
    r = f8("convert", FIXTURE, "-o", out, "--calibrate", t, "--calib-tokens", "128", "--heldout-tokens", "32", *args)
    assert r.returncode in (1, 2)
    assert needle in one_error_line(r)
    assert not out.exists()
    assert not list(tmp_path.glob("*.tmp*"))


def test_auto_format_needs_calibration(tmp_path):
    r = f8("convert", FIXTURE, "-o", tmp_path / "o.f8", "--auto-format", "9")
    assert r.returncode == 2
    assert "--calibrate" in one_error_line(r)
