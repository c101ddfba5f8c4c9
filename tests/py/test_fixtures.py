"""Checks of the test fixtures themselves (scripts/fixtures.sh and friends):
they are made on this machine from PyPI, so verify they are what the docs say
and byte-identical to the ones the committed goldens were computed from."""
import hashlib
import json
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import hf_fixture_io as io  # noqa: E402

CACHE = Path(os.environ.get("F8_CACHE") or Path.home() / ".cache" / "f8")
SYNTH = ["llama-spm", "mistral-spm", "llama3-bpe", "qwen2-bpe", "smollm2-tiny", "fp8-ct", "fp8-block",
         "smollm2-tf5", "qwen3-bpe", "phi3-spm", "mistral-sw", "qwen2-sw",
         "gemma2", "gemma3", "mixtral", "qwen2moe", "qwen3moe", "qwen3moe-fp8", "gemma3-mm"]
ALL = {"smollm2-135m-instruct": CACHE / "smollm2-135m-instruct",
       **{n: CACHE / "synthetic" / n for n in SYNTH}}
ESIZE = {"F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1}


@pytest.fixture(scope="session")
def fixtures():
    r = subprocess.run(["bash", str(ROOT / "scripts" / "fixtures.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    printed = [Path(p) for p in r.stdout.split()]
    assert set(printed) == set(ALL.values())
    return ALL


def read_header(path: Path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
    return 8 + n, h


def load_tensors(path: Path, names=None):
    base, h = read_header(path)
    out = {}
    with open(path, "rb") as f:
        for k, v in h.items():
            if k == "__metadata__" or (names is not None and k not in names):
                continue
            a, b = v["data_offsets"]
            f.seek(base + a)
            raw = f.read(b - a)
            dt = v["dtype"]
            if dt == "BF16":
                arr = io.bf16_bits_to_f32(np.frombuffer(raw, "<u2"))
            elif dt == "F8_E4M3":
                arr = np.frombuffer(raw, np.uint8)
            else:
                arr = np.frombuffer(raw, {"F32": "<f4", "F16": "<f2"}[dt]).astype(np.float32)
            out[k] = (dt, arr.reshape(v["shape"]))
    return out


def all_headers(d: Path):
    files = sorted(d.glob("*.safetensors"))
    assert files, d
    merged = {}
    for f in files:
        base, h = read_header(f)
        spans = sorted((v["data_offsets"], k) for k, v in h.items() if k != "__metadata__")
        pos = 0
        for (a, b), k in spans:  # contiguous, no holes, size = shape x dtype
            assert a == pos, (f, k)
            assert b - a == math.prod(h[k]["shape"]) * ESIZE[h[k]["dtype"]], (f, k)
            pos = b
        assert base + pos == f.stat().st_size, f
        for k, v in h.items():
            if k != "__metadata__":
                assert k not in merged
                merged[k] = (f.name, v)
    return merged


@pytest.mark.parametrize("name", list(ALL))
def test_safetensors_and_shapes_follow_config(fixtures, name):
    d = fixtures[name]
    cfg = json.loads((d / "config.json").read_text())
    t = all_headers(d)
    if (d / "model.safetensors.index.json").exists():
        wm = json.loads((d / "model.safetensors.index.json").read_text())["weight_map"]
        assert wm == {k: f for k, (f, _) in t.items()}
    if "text_config" in cfg:  # a multimodal wrapper: its text model under language_model.*
        assert any(k.startswith("vision_tower.") for k in t)
        t = {k[len("language_model."):]: v for k, v in t.items() if k.startswith("language_model.")}
        cfg = dict(cfg["text_config"], tie_word_embeddings=cfg.get("tie_word_embeddings", True))
    h, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, ff, V = cfg.get("head_dim") or h // nh, cfg["intermediate_size"], cfg["vocab_size"]
    shape = {k: v["shape"] for k, (_, v) in t.items()}
    assert shape["model.embed_tokens.weight"] == [V, h]
    assert ("lm_head.weight" in shape) != cfg["tie_word_embeddings"]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        if cfg["model_type"] == "phi3":  # fused [q; k; v] and [gate; up]
            assert shape[p + "self_attn.qkv_proj.weight"] == [(nh + 2 * nkv) * hd, h]
            assert shape[p + "mlp.gate_up_proj.weight"] == [2 * ff, h]
        else:
            assert shape[p + "self_attn.q_proj.weight"] == [nh * hd, h]
            assert shape[p + "self_attn.k_proj.weight"] == [nkv * hd, h]
            assert shape[p + "self_attn.v_proj.weight"] == [nkv * hd, h]
            if p + "mlp.gate_proj.weight" in shape:
                assert shape[p + "mlp.gate_proj.weight"] == [ff, h]
        assert shape[p + "self_attn.o_proj.weight"] == [h, nh * hd]
        n_exp = cfg.get("num_local_experts") or cfg.get("num_experts") or 0
        if n_exp and i not in cfg.get("mlp_only_layers", []):  # a MoE layer: router + every expert
            mix = cfg["model_type"] == "mixtral"
            fe = cfg.get("moe_intermediate_size") or ff
            blk = p + ("block_sparse_moe." if mix else "mlp.")
            assert shape[blk + "gate.weight"] == [n_exp, h]
            names = ("w1", "w3", "w2") if mix else ("gate_proj", "up_proj", "down_proj")
            for e in range(n_exp):
                assert shape[f"{blk}experts.{e}.{names[0]}.weight"] == [fe, h]
                assert shape[f"{blk}experts.{e}.{names[1]}.weight"] == [fe, h]
                assert shape[f"{blk}experts.{e}.{names[2]}.weight"] == [h, fe]
            assert (p + "mlp.gate_proj.weight" not in shape) and (p + "mlp.down_proj.weight" not in shape)
        else:
            assert shape[p + "mlp.down_proj.weight"] == [h, ff]
        if cfg["model_type"] in ("qwen3", "qwen3_moe", "gemma3_text"):
            assert shape[p + "self_attn.q_norm.weight"] == shape[p + "self_attn.k_norm.weight"] == [hd]
        assert (p + "self_attn.q_proj.bias" in shape) == (cfg["model_type"] in ("qwen2", "qwen2_moe"))
    tc = json.loads((d / "tokenizer_config.json").read_text())
    # transformers 5 writes the template to chat_template.jinja
    assert tc.get("chat_template") or (d / "chat_template.jinja").read_text()


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "goldens" / "model").glob("*.json")),
                         ids=lambda p: p.stem)
def test_fixture_bytes_match_the_goldens(fixtures, path):
    g = json.loads(path.read_text())
    d = CACHE / g["fixture_dir"].replace("$F8_CACHE/", "")
    assert d in fixtures.values()
    for fn, want in g["weights_sha256"].items():
        h = hashlib.sha256((d / fn).read_bytes()).hexdigest()
        assert h == want, f"{d / fn} differs from the file the golden was made from"


@pytest.mark.parametrize("name,vocab", [("llama3-bpe", "llama-bpe"), ("qwen2-bpe", "qwen2")])
def test_bpe_tokenizer_json_matches_reference_ids(fixtures, name, vocab):
    vd = ROOT.parent / "shared" / "data" / "vocab-vectors"
    if not vd.is_dir():
        vd = Path("/work/shared/data/vocab-vectors")
    ok, n = io.check_tokenizer_vectors(fixtures[name] / "tokenizer.json",
                                       vd / f"ggml-vocab-{vocab}.gguf.inp",
                                       vd / f"ggml-vocab-{vocab}.gguf.out")
    assert n > 40 and ok == n


def test_smollm2_tokenizer_splits_digits_and_keeps_specials(fixtures):
    from tokenizers import Tokenizer
    t = Tokenizer.from_file(str(fixtures["smollm2-135m-instruct"] / "tokenizer.json"))
    assert t.get_vocab_size() == 49152
    assert t.encode("<|im_start|>user\n2024").ids[0] == 1
    assert len(t.encode("2024").ids) == 4


def test_spm_tokenizer_is_mistral_v1(fixtures):
    import sentencepiece as spm
    for n in ("llama-spm", "mistral-spm"):
        sp = spm.SentencePieceProcessor(model_file=str(fixtures[n] / "tokenizer.model"))
        assert sp.get_piece_size() == 32000
        assert (sp.unk_id(), sp.bos_id(), sp.eos_id()) == (0, 1, 2)


def test_smollm2_q_k_rows_are_unpermuted(fixtures):
    """Re-apply llama.cpp's permute to q_proj/k_proj and compare with the GGUF."""
    import gguf
    r = gguf.GGUFReader(str(CACHE / "pip" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    g = {t.name: t for t in r.tensors if t.name in ("blk.3.attn_q.weight", "blk.3.attn_k.weight")}
    st = load_tensors(fixtures["smollm2-135m-instruct"] / "model.safetensors",
                      {"model.layers.3.self_attn.q_proj.weight", "model.layers.3.self_attn.k_proj.weight"})
    for gname, hname, nh in (("blk.3.attn_q.weight", "q_proj", 9), ("blk.3.attn_k.weight", "k_proj", 3)):
        ref = gguf.quants.dequantize(g[gname].data, g[gname].tensor_type).astype(np.float32)
        ref = io.bf16_bits_to_f32(io.f32_to_bf16_bits(ref))
        w = st[f"model.layers.3.self_attn.{hname}.weight"][1]
        perm = w.reshape(nh, 2, w.shape[0] // nh // 2, w.shape[1]).swapaxes(1, 2).reshape(w.shape)
        assert np.array_equal(perm, ref.reshape(w.shape))
        assert not np.array_equal(w, ref.reshape(w.shape))


@pytest.mark.parametrize("name", ["fp8-ct", "fp8-block"])
def test_fp8_fixture_dequantizes_to_its_source(fixtures, name):
    import make_synthetic as ms
    d = fixtures[name]
    cfg = json.loads((d / "config.json").read_text())
    ref = ms.llama_tensors(cfg, seed={"fp8-ct": 1006, "fp8-block": 1007}[name])
    st = load_tensors(d / "model.safetensors")
    n_fp8 = 0
    for k, (dt, a) in st.items():
        if dt != "F8_E4M3":
            continue
        n_fp8 += 1
        w, base = io.E4M3_VALUES[a].astype(np.float32), k[: -len(".weight")]
        if name == "fp8-ct":
            s = st[base + ".weight_scale"][1]
            assert s.shape in ((1,), (w.shape[0], 1))
            deq = w * (s if s.ndim == 2 else s[0])
            assert st[base + ".input_scale"][1].shape == (1,)
        else:
            s = st[base + ".weight_scale_inv"][1]
            assert s.shape == (math.ceil(w.shape[0] / 128), math.ceil(w.shape[1] / 128))
            deq = w * np.repeat(np.repeat(s, 128, 0), 128, 1)[: w.shape[0], : w.shape[1]]
        err = deq - ref[k]
        sqnr = 10 * math.log10(float((ref[k] ** 2).sum() / (err ** 2).sum()))
        assert sqnr > 28, (k, sqnr)  # E4M3 (3 mantissa bits) gives ~31-34 dB here
    assert n_fp8 == 7 * cfg["num_hidden_layers"]
    if name == "fp8-ct":
        assert st["model.layers.0.self_attn.k_scale"][1].shape == (1,)


@pytest.mark.parametrize("path", sorted((ROOT / "tests" / "goldens" / "templates").glob("*.jinja")),
                         ids=lambda p: p.stem)
def test_templates_render_with_jinja2(path):
    import jinja2
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(msg):
        raise jinja2.TemplateError(msg)
    env.globals["raise_exception"] = raise_exception
    out = env.from_string(path.read_text()).render(
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                  {"role": "user", "content": "2+2?"}],
        add_generation_prompt=True, bos_token="<s>", eos_token="</s>")
    assert "Hi" in out and "Hello!" in out and "2+2?" in out
