"""The config corpus: real published config.json files (and configs saved by
transformers 5) converted by `f8 convert` and run by f8, against transformers.

For every entry of tests/goldens/configs/{published,saved-tf5}/ (sources in
their SOURCES.md): the config is shrunk with every key kept
(scripts/shrink_config.py), a seeded checkpoint is written
(scripts/make_corpus_checkpoint.py: numpy only), `f8 convert --weights bf16`
converts it (BF16 weights are the checkpoint's own numbers; FP8 and MXFP4
checkpoints are imported as stored) and f8 runs the 48 token ids of the golden
with an F32 KV cache. The perplexity must be transformers' within 1e-4
(relative), tests/goldens/corpus/<entry>.json (scripts/gen_corpus_goldens.py).

An entry is refused only as listed below; anything else fails:
  EXPECTED_UNSUPPORTED       architectures f8 does not convert yet: the refusal
                             must say the architecture is not supported. The
                             list shrinks as families land (an entry of a
                             listed architecture that converts fails: remove it).
  EXPECTED_FEATURE_REFUSALS  supported architectures whose config asks for
                             something f8 knows it does not compute (LongRoPE):
                             the message must name it.
  KEY_REFUSALS_TODAY         entries today's config reader refuses over a key
                             it does not know. Reported as xfail ("refused over
                             key ..."); to be emptied when the new reader lands
                             -- then a key refusal of a supported architecture
                             is a failure, and a listed entry that converts is
                             one already.
"""
import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("F8_BUILD", ROOT / "build"))
F8 = BUILD / "bin" / "f8"
CONFIGS = ROOT / "tests" / "goldens" / "configs"
GOLDENS = ROOT / "tests" / "goldens" / "corpus"
sys.path.insert(0, str(ROOT / "scripts"))
from make_corpus_checkpoint import entry_seed, make  # noqa: E402
from shrink_config import shrink  # noqa: E402

PPL_RTOL = 1e-4
LOGIT_ATOL = 2e-3   # top logits at 4 positions; measured differences are ~1e-5

EXPECTED_UNSUPPORTED = {
    "GptOssForCausalLM", "DeepseekV3ForCausalLM",
    "MiMoForCausalLM",  # remote code (transformers has no class for it either)
}
EXPECTED_FEATURE_REFUSALS = {  # entry -> words the refusal must contain (lower case)
    "microsoft--Phi-4-mini-instruct": "longrope",
    "tf5-phi-4-mini-instruct": "longrope",
}
KEY_REFUSALS_TODAY = {}  # the reader of issue 20 refuses no key it merely does not read


def entries():
    out = []
    for kind in ("published", "saved-tf5"):
        out += [(p.parent.name, p) for p in sorted((CONFIGS / kind).glob("*/config.json"))]
    return out


ENTRIES = entries()


def classify(stderr: str, arch: str):
    """("architecture", None) | ("key", [keys]) | ("other", last line)."""
    err = stderr.strip()
    low = err.lower()
    if arch in err and "architecture" in low and ("not supported" in low or "unsupported" in low):
        return "architecture", None
    m = re.search(r"config keys? ((?:\"[^\"]+\"(?:, )?)+) (?:is|are) not understood", err)
    if m:
        return "key", re.findall(r'"([^"]+)"', m.group(1))
    return "other", err.splitlines()[-1] if err else "(no message)"


def f8_nll(model: pathlib.Path, ids: list, tmp: pathlib.Path) -> np.ndarray:
    npy = tmp / "logits.npy"
    r = subprocess.run([str(F8), "generate", "-m", str(model), "--kv-type", "f32", "--prompt-ids",
                        ",".join(map(str, ids)), "-n", "0", "-q", "--dump-logits", str(npy),
                        "-c", str(len(ids) + 16)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"f8 generate failed:\n{r.stderr}"
    lg = np.load(npy).astype(np.float64)
    assert lg.shape[0] == len(ids), lg.shape
    return lg


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("corpus")


@pytest.mark.parametrize("name,cfg_path", ENTRIES, ids=[n for n, _ in ENTRIES])
def test_corpus_entry(name, cfg_path, workdir):
    if not F8.exists():
        pytest.skip(f"{F8} not built")
    gpath = GOLDENS / f"{name}.json"
    assert gpath.exists(), f"no golden {gpath}: run scripts/gen_corpus_goldens.py {name}"
    g = json.loads(gpath.read_text())
    cfg = shrink(json.loads(cfg_path.read_text(encoding="utf-8")))
    arch = cfg["architectures"][0]
    sha = hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()
    assert sha == g["shrunk_config_sha256"], \
        f"{name}: the shrunk config differs from the golden's: run scripts/gen_corpus_goldens.py {name}"

    d = workdir / name
    make(cfg, d, entry_seed(name))
    wsha = hashlib.sha256((d / "model.safetensors").read_bytes()).hexdigest()
    assert wsha == g["weights_sha256"], \
        f"{name}: the generated weights differ from the golden's: run scripts/gen_corpus_goldens.py {name}"

    out = workdir / f"{name}.f8"
    r = subprocess.run([str(F8), "convert", str(d), "-o", str(out), "--weights", "bf16", "-q", "--force"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        kind, what = classify(r.stderr, arch)
        if kind == "architecture":
            assert arch in EXPECTED_UNSUPPORTED, \
                f"{name}: f8 refuses the architecture {arch}, which is not in EXPECTED_UNSUPPORTED:\n{r.stderr}"
            return
        assert arch not in EXPECTED_UNSUPPORTED or kind == "key", \
            f"{name}: {arch} is in EXPECTED_UNSUPPORTED but the refusal does not say so:\n{r.stderr}"
        if kind == "key":
            if name in KEY_REFUSALS_TODAY:
                pytest.xfail(f"refused over key {', '.join(what)} (KEY_REFUSALS_TODAY)")
            pytest.fail(f"{name}: {arch} refused over config key {', '.join(what)}:\n{r.stderr}")
        words = EXPECTED_FEATURE_REFUSALS.get(name)
        assert words and words in r.stderr.lower(), f"{name}: f8 convert refused it:\n{r.stderr}"
        return

    for listed, why in ((arch in EXPECTED_UNSUPPORTED, f"{arch} in EXPECTED_UNSUPPORTED"),
                        (name in EXPECTED_FEATURE_REFUSALS, f"{name} in EXPECTED_FEATURE_REFUSALS"),
                        (name in KEY_REFUSALS_TODAY, f"{name} in KEY_REFUSALS_TODAY")):
        assert not listed, f"{name} converts now: remove {why} (tests/py/test_config_corpus.py)"
    if "transformers_error" in g:
        pytest.skip(f"{name}: converts; no reference, transformers cannot load it: {g['transformers_error']}")

    ids = g["token_ids"]
    lg = f8_nll(out, ids, workdir)
    lse = np.logaddexp.reduce(lg, axis=1)
    nll = lse[:-1] - lg[np.arange(len(ids) - 1), ids[1:]]
    ppl = float(np.exp(nll.mean()))
    rel = abs(ppl - g["ppl"]) / g["ppl"]
    worst = max(float(np.abs(lg[p["pos"], p["top_ids"]] - np.array(p["top_logits"])).max())
                for p in g["positions"])
    print(f"{name}: f8 ppl {ppl:.6f}, transformers {g['ppl']:.6f} (rel {rel:.2e}), top logits max |d| {worst:.2e}")
    assert rel <= PPL_RTOL, (f"{name}: perplexity {ppl:.6f} vs transformers {g['ppl']:.6f} "
                             f"(relative {rel:.2e} > {PPL_RTOL:.0e}); per-token NLL max |d| "
                             f"{np.abs(nll - np.array(g['nll'])).max():.2e}")
    assert worst <= LOGIT_ATOL, f"{name}: top logits differ from transformers' by {worst:.2e}"


def _keys(d, prefix=""):
    out = set()
    for k, v in d.items():
        out.add(prefix + k)
        if isinstance(v, dict) and k in ("text_config", "vision_config", "quantization_config",
                                         "rope_scaling", "rope_parameters"):
            out |= _keys(v, prefix + k + ".")
    return out


@pytest.mark.parametrize("name,cfg_path", ENTRIES, ids=[n for n, _ in ENTRIES])
def test_shrink_keeps_every_key_and_stays_consistent(name, cfg_path):
    """scripts/shrink_config.py: same keys (nested ones included), tiny sizes,
    patterns consistent with the new layer count, ids inside the vocabulary."""
    src = json.loads(cfg_path.read_text(encoding="utf-8"))
    s = shrink(src)
    assert _keys(s) == _keys(src)
    assert shrink(src) == s  # deterministic
    for c in (s, s.get("text_config")):
        if not isinstance(c, dict) or "num_attention_heads" not in c:
            continue
        L = c["num_hidden_layers"]
        assert 2 <= L <= 4 and c["hidden_size"] <= 256 and c["vocab_size"] == 1024
        assert c["num_attention_heads"] % (c.get("num_key_value_heads") or c["num_attention_heads"]) == 0
        if isinstance(c.get("layer_types"), list):
            assert len(c["layer_types"]) == L
        for k in ("sliding_window_pattern", "_sliding_window_pattern"):
            if isinstance(c.get(k), int) and isinstance(c.get("layer_types"), list):
                p = c[k]
                assert c["layer_types"] == ["full_attention" if (i + 1) % p == 0 else "sliding_attention"
                                            for i in range(L)], (k, c["layer_types"])
        k = c.get("num_experts_per_tok")
        n = c.get("num_experts") or c.get("num_local_experts") or c.get("n_routed_experts")
        if k and n:
            assert k <= n <= 8
        sw, ctx = c.get("sliding_window"), c.get("max_position_embeddings")
        if isinstance(sw, int) and isinstance(ctx, int) and 0 < sw < ctx:
            assert sw == 16  # below the 48-token sequence: the window takes effect
        rs = c.get("rope_scaling") or {}
        if isinstance(rs, dict) and isinstance(rs.get("long_factor"), list):
            rot = int(c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"])
            rot = int(rot * c.get("partial_rotary_factor", 1.0))
            assert len(rs["long_factor"]) == len(rs["short_factor"]) == rot // 2
    for k, v in s.items():
        if k.endswith(("_token_id", "_token_index")):
            for x in (v if isinstance(v, list) else [v]):
                assert x is None or x < 1024, (k, v)
