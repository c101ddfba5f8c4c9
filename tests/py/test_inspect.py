"""`f8 inspect` / `f8 verify` against a file written by ggf8::Writer
(tests/format/make_sample): the JSON must parse and match what the writer
was told; verify must pass, then name a tensor after a byte is flipped;
malformed/missing files give one error line and exit 1, usage errors exit 2."""
import json
import os
import shutil
import subprocess

import pytest

BUILD = os.environ.get("F8_BUILD", "build")
F8 = os.path.join(BUILD, "bin", "f8")
MAKE_SAMPLE = os.path.join(BUILD, "bin", "make_sample")

pytestmark = pytest.mark.skipif(
    not (os.access(F8, os.X_OK) and os.access(MAKE_SAMPLE, os.X_OK)),
    reason=f"{F8} or {MAKE_SAMPLE} not built",
)


def run(*args):
    return subprocess.run([F8, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture()
def sample(tmp_path):
    path = tmp_path / "full.f8"
    subprocess.run([MAKE_SAMPLE, "full", str(path)], check=True)
    return path


def test_inspect_json_matches_writer(sample):
    r = run("inspect", str(sample), "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["version"] == "1.0"
    assert j["alignment"] == 256
    assert j["size"] == os.path.getsize(sample)
    meta = {m["key"]: m for m in j["metadata"]}
    assert meta["general.architecture"]["value"] == "llama"
    assert meta["general.architecture"]["type"] == "string"
    assert meta["llm.block_count"] == {"key": "llm.block_count", "type": "u64", "value": 2}
    assert meta["test.i8"]["value"] == -100
    assert meta["llm.tie_word_embeddings"]["value"] is True
    assert abs(meta["llm.attention.layer_norm_rms_epsilon"]["value"] - 1e-5) < 1e-12
    assert meta["test.utf8"]["value"] == "h\u00e9llo \u2713"
    toks = meta["tokenizer.tokens"]
    assert toks["elem_type"] == "string" and toks["count"] == 1000
    assert toks["value"][999] == "tok999"
    assert meta["tokenizer.sentencepiece.model"]["value"] == "<5000 bytes>"
    assert meta["test.i64s"]["value"] == [-1, 0, 1 << 50]

    # Quant stats: worst SQNR first.
    q = j["quant_stats"]
    assert [r["tensor"] for r in q] == ["blk.1.w", "blk.2.w", "blk.0.w"]
    assert q[0]["sqnr_db"] == 24.25

    tensors = {t["name"]: t for t in j["tensors"]}
    assert len(tensors) == 15
    w = tensors["blk.2.w"]
    assert w["dtype"] == "e4m3" and w["shape"] == [300, 260]
    assert w["scale_kind"] == "block" and w["block"] == [128, 128]
    assert w["scale_tensor"] == "blk.2.w.scale"
    assert w["nbytes"] == 300 * 260 and w["offset"] % 256 == 0
    assert len(w["checksum"]) == 16
    assert tensors["all.bf16"]["nbytes"] == 30
    assert tensors["four.d"]["shape"] == [2, 3, 4, 5]
    assert j["totals"]["tensors"] == 15
    assert j["totals"]["bytes"] == sum(t["nbytes"] for t in j["tensors"])
    assert j["totals"]["by_dtype"]["e4m3"]["tensors"] == 3  # all.e4m3, blk.0.w, blk.2.w


def test_inspect_text(sample):
    r = run("inspect", str(sample), "--tensors")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "GGF8 1.0, alignment 256" in out
    assert "<5,000 bytes>" in out
    assert "(1,000 items)" in out
    assert "blk.2.w.scale" in out and "block 128x128" in out
    assert "worst SQNR first" in out


def test_verify_ok_then_corrupt(sample):
    r = run("verify", str(sample))
    assert r.returncode == 0, r.stderr
    assert "15 of 15 tensors checked" in r.stdout and "all OK" in r.stdout
    off = json.loads(run("inspect", str(sample), "--json").stdout)
    w = next(t for t in off["tensors"] if t["name"] == "blk.1.w")
    with open(sample, "r+b") as f:
        f.seek(w["offset"] + 3)
        b = f.read(1)
        f.seek(w["offset"] + 3)
        f.write(bytes([b[0] ^ 0x40]))
    r = run("verify", str(sample))
    assert r.returncode == 1
    assert "tensor 'blk.1.w'" in r.stderr
    assert r.stderr.count("f8: error:") == 1
    assert "1 BAD" in r.stdout


def test_errors(tmp_path, sample):
    missing = tmp_path / "missing.f8"
    for cmd in ("inspect", "verify"):
        r = run(cmd, str(missing))
        assert r.returncode == 1
        assert r.stderr.startswith("f8: error: ") and "missing.f8" in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    bad = tmp_path / "bad.f8"
    shutil.copy(sample, bad)
    with open(bad, "r+b") as f:
        f.write(b"GGUF")
    r = run("inspect", str(bad))
    assert r.returncode == 1 and "bad.f8: header.magic at byte 0" in r.stderr
    trunc = tmp_path / "trunc.f8"
    trunc.write_bytes(sample.read_bytes()[:-10])
    r = run("verify", str(trunc))
    assert r.returncode == 1 and "file_size" in r.stderr
    assert run("inspect").returncode == 2
    assert run("inspect", str(sample), "--bogus").returncode == 2
    assert run("verify", "--help").returncode == 0
