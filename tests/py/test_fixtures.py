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
         "smollm2-tf5", "qwen3-bpe", "phi3-spm", "seed-oss", "mistral-sw", "qwen2-sw",
         "gemma2", "gemma3", "mixtral", "qwen2moe", "qwen3moe", "qwen3moe-fp8", "gemma3-mm", "gpt-oss", "gpt-oss-bf16",
         "deepseek-v3", "deepseek-r1", "deepseek-v3-lite"]
ALL = {"smollm2-135m-instruct": CACHE / "smollm2-135m-instruct",
       **{n: CACHE / "synthetic" / n for n in SYNTH}}
ESIZE = {"F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "U8": 1}


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
            elif dt in ("F8_E4M3", "U8"):
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


def check_deepseek_shapes(cfg, shape, t):
    """DeepseekV3 as published: MLA projections, first_k_dense_replace dense
    layers, MoE layers (router, score bias, experts, shared experts), block-FP8
    scales on every projection when quantized, and the MTP layer(s) after the
    decoder layers."""
    h, nh, ff = cfg["hidden_size"], cfg["num_attention_heads"], cfg["intermediate_size"]
    nope, rope, vd, kvr = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"], cfg["kv_lora_rank"]
    qr, E, fe = cfg.get("q_lora_rank"), cfg["n_routed_experts"], cfg["moe_intermediate_size"]
    L, mtp = cfg["num_hidden_layers"], cfg.get("num_nextn_predict_layers", 0)
    fp8 = "quantization_config" in cfg
    for i in range(L + mtp):
        p = f"model.layers.{i}."
        a = p + "self_attn."
        if qr:
            assert shape[a + "q_a_proj.weight"] == [qr, h] and shape[a + "q_a_layernorm.weight"] == [qr]
            assert shape[a + "q_b_proj.weight"] == [nh * (nope + rope), qr]
        else:
            assert shape[a + "q_proj.weight"] == [nh * (nope + rope), h]
        assert shape[a + "kv_a_proj_with_mqa.weight"] == [kvr + rope, h] and shape[a + "kv_a_layernorm.weight"] == [kvr]
        assert shape[a + "kv_b_proj.weight"] == [nh * (nope + vd), kvr]
        assert shape[a + "o_proj.weight"] == [h, nh * vd]
        if i < cfg["first_k_dense_replace"]:
            assert shape[p + "mlp.down_proj.weight"] == [h, ff]
        else:
            assert shape[p + "mlp.gate.weight"] == [E, h]
            # F32 as DeepSeek publishes it; a transformers-5 BF16 save (the lite fixture) casts it with the rest
            bias_dtype = t[p + "mlp.gate.e_score_correction_bias"][1]["dtype"]
            assert bias_dtype == "F32" if fp8 else bias_dtype in ("F32", "BF16")
            for e in range(E):
                assert shape[p + f"mlp.experts.{e}.down_proj.weight"] == [h, fe]
            assert shape[p + "mlp.shared_experts.down_proj.weight"] == [h, fe * cfg["n_shared_experts"]]
        if i >= L:  # the MTP module's own tensors
            assert shape[p + "eh_proj.weight"] == [h, 2 * h] and shape[p + "shared_head.head.weight"][1] == h
    assert not any(k.startswith(f"model.layers.{L + mtp}.") for k in shape)
    for k, (_, v) in t.items():
        if v["dtype"] == "F8_E4M3":
            assert fp8 and k[: -len(".weight")] + ".weight_scale_inv" in shape, k


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
    if cfg["model_type"] == "deepseek_v3":
        check_deepseek_shapes(cfg, shape, t)
    for i in range(cfg["num_hidden_layers"] if cfg["model_type"] != "deepseek_v3" else 0):
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
        if cfg["model_type"] == "gpt_oss":  # fused experts: MXFP4 [E, out, in/32, 16] or dense [E, in, out]
            ex = p + "mlp.experts."
            assert shape[p + "mlp.router.weight"] == [n_exp, h] and shape[p + "mlp.router.bias"] == [n_exp]
            assert shape[p + "self_attn.sinks"] == [nh] and shape[p + "self_attn.o_proj.bias"] == [h]
            if "quantization_config" in cfg:
                assert shape[ex + "gate_up_proj_blocks"] == [n_exp, 2 * ff, h // 32, 16]
                assert shape[ex + "gate_up_proj_scales"] == [n_exp, 2 * ff, h // 32]
                assert shape[ex + "down_proj_blocks"] == [n_exp, h, ff // 32, 16]
                assert shape[ex + "down_proj_scales"] == [n_exp, h, ff // 32]
            else:
                assert shape[ex + "gate_up_proj"] == [n_exp, h, 2 * ff]
                assert shape[ex + "down_proj"] == [n_exp, ff, h]
            assert shape[ex + "gate_up_proj_bias"] == [n_exp, 2 * ff] and shape[ex + "down_proj_bias"] == [n_exp, h]
        elif n_exp and i not in cfg.get("mlp_only_layers", []):  # a MoE layer: router + every expert
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
        assert (p + "self_attn.q_proj.bias" in shape) == (cfg["model_type"] in ("qwen2", "qwen2_moe", "gpt_oss") or
                                                          cfg.get("attention_bias") is True)
        assert (p + "self_attn.o_proj.bias" in shape) == (cfg["model_type"] == "gpt_oss" or
                                                          cfg.get("attention_out_bias") is True)
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


def test_gpt_oss_layouts_hold_the_same_values(fixtures):
    """gpt-oss's MXFP4 experts (low nibble first, E8M0 2^(s-127), as
    transformers' _convert_moe_packed_tensors decodes them) equal the BF16
    fixture's [E, in, out] experts transposed; every other tensor is equal."""
    fp4 = np.array([0, .5, 1, 1.5, 2, 3, 4, 6, -0., -.5, -1, -1.5, -2, -3, -4, -6], dtype=np.float32)
    mx = load_tensors(fixtures["gpt-oss"] / "model.safetensors")
    dense = {}
    for f in sorted(fixtures["gpt-oss-bf16"].glob("*.safetensors")):
        dense.update(load_tensors(f))
    n = 0
    for k, (dt, a) in mx.items():
        if k.endswith("_scales"):
            continue
        if k.endswith("_blocks"):
            sc = mx[k.replace("_blocks", "_scales")][1].astype(np.int32)
            lo, hi = fp4[a & 0xF], fp4[a >> 4]
            vals = np.stack([lo, hi], axis=-1).reshape(*a.shape[:-1], 32) * np.ldexp(np.float32(1), sc - 127)[..., None]
            vals = vals.reshape(a.shape[0], a.shape[1], -1)
            k = k.replace("_blocks", "")
            assert np.array_equal(dense[k][1], vals.transpose(0, 2, 1)), k
        else:
            assert np.array_equal(dense[k][1], a), k
        n += 1
    assert n == len(dense)


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
