"""The Python binding (python/, package `f8`) as a user gets it: libf8 installed
into a temporary prefix with `cmake --install`, the package installed with pip
from a copy of python/, imported from there; checked on SmolLM2-135M-Instruct
(scripts/fixtures.sh) against the f8 CLI and the model's own tokenizer.json.
"""
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("F8_BUILD", ROOT / "build"))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
CACHE = pathlib.Path(os.environ.get("F8_CACHE", pathlib.Path.home() / ".cache" / "f8"))
MODEL = CACHE / "smollm2-135m-instruct-e4m3.f8"
HF_DIR = CACHE / "smollm2-135m-instruct"
F8 = BUILD / "bin" / "f8"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(prefix, site dir): libf8 installed, the binding pip-installed."""
    assert MODEL.exists(), f"{MODEL} missing: run scripts/fixtures.sh"
    tmp = tmp_path_factory.mktemp("pybind")
    prefix = tmp / "prefix"
    r = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(prefix)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    src = tmp / "src"
    shutil.copytree(ROOT / "python", src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    site = tmp / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
                        "--target", str(site), str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    return prefix, site


@pytest.fixture(scope="module")
def f8(installed):
    prefix, site = installed
    old_env = os.environ.get("F8_LIBRARY")
    os.environ["F8_LIBRARY"] = str(prefix / "lib" / "libf8.so.0")
    sys.path.insert(0, str(site))
    for m in [m for m in sys.modules if m == "f8" or m.startswith("f8.")]:
        del sys.modules[m]
    import f8 as mod
    assert pathlib.Path(mod.__file__).is_relative_to(site)
    yield mod
    sys.path.remove(str(site))
    if old_env is None:
        os.environ.pop("F8_LIBRARY", None)
    else:
        os.environ["F8_LIBRARY"] = old_env


@pytest.fixture(scope="module")
def llm(f8):
    m = f8.F8(model_path=str(MODEL), n_ctx=512)
    yield m
    m.close()


def cli(*args):
    r = subprocess.run([str(F8), *map(str, args)], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    return r.stdout.decode()


# ------------------------------------------------------------------ library
def test_library_facts(f8, installed):
    prefix, _ = installed
    assert f8.version() == "0.1.0" == f8.__version__
    assert f8.api_version() >= 1
    assert pathlib.Path(f8.library_path()).resolve() == (prefix / "lib" / "libf8.so.0").resolve()
    assert {"cpu", "cpu-simd", "cpu-ref"} <= set(f8.backends())
    assert f8.backend_probe("cpu").startswith("cpu-simd")
    with pytest.raises(f8.F8Error) as e:
        f8.backend_probe("no-such-backend")
    assert "no-such-backend" in str(e.value)


def test_cuda_probe_says_why_or_describes(f8):
    """A build with CUDA loads and runs on a machine without a driver; the
    probe names the reason (or describes the GPU where there is one)."""
    if "cuda" not in f8.backends():
        pytest.skip("libf8 built without CUDA")
    try:
        desc = f8.backend_probe("cuda")
        assert desc.startswith("cuda")
    except f8.F8Error as e:
        assert e.message and e.status_name.startswith("F8_ERR_")


def test_found_through_pkg_config(installed):
    """Without F8_LIBRARY the package finds the prefix's libf8 via pkg-config."""
    prefix, site = installed
    env = {k: v for k, v in os.environ.items() if k not in ("F8_LIBRARY", "LD_LIBRARY_PATH")}
    env["PKG_CONFIG_PATH"] = str(prefix / "lib" / "pkgconfig")
    env["PYTHONPATH"] = str(site)
    r = subprocess.run([sys.executable, "-c", "import f8; print(f8.library_path()); print(f8.version())"],
                       capture_output=True, text=True, env=env, cwd="/")
    assert r.returncode == 0, r.stderr
    path, ver = r.stdout.split()
    assert pathlib.Path(path).resolve() == (prefix / "lib" / "libf8.so.0").resolve() and ver == "0.1.0"


def test_missing_library_is_an_import_error(installed):
    _, site = installed
    env = dict(os.environ, F8_LIBRARY="/nonexistent/libf8.so.0", PYTHONPATH=str(site))
    r = subprocess.run([sys.executable, "-c", "import f8\ntry:\n f8.version()\nexcept ImportError as e:\n"
                        " print(type(e).__name__, e)"], capture_output=True, text=True, env=env, cwd="/")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("F8LibraryNotFound") and "/nonexistent/libf8.so.0" in r.stdout


# --------------------------------------------------------------- load errors
def test_bad_path(f8, tmp_path):
    missing = tmp_path / "nope.f8"
    with pytest.raises(f8.F8IOError) as e:
        f8.F8(model_path=str(missing))
    assert e.value.status_name == "F8_ERR_IO" and str(missing) in e.value.message


def test_corrupt_file(f8, tmp_path):
    bad = tmp_path / "corrupt.f8"
    data = bytearray(MODEL.read_bytes()[:1 << 16])  # a truncated file ...
    bad.write_bytes(bytes(data))
    with pytest.raises(f8.F8FormatError) as e:
        f8.F8(model_path=str(bad))
    assert e.value.message and e.value.status == 3
    notf8 = tmp_path / "text.f8"  # ... and one that is not .f8 at all
    notf8.write_bytes(b"hello, this is not a model\n" * 100)
    with pytest.raises(f8.F8FormatError):
        f8.F8(model_path=str(notf8))


def test_load_progress_and_cancel(f8):
    seen = []
    m = f8.F8(model_path=str(MODEL), n_ctx=64, progress=seen.append)
    assert seen and seen[-1] == 1.0 and seen == sorted(seen)
    m.close()
    with pytest.raises(f8.F8AbortedError):
        f8.F8(model_path=str(MODEL), progress=lambda f: f < 0.5)

    class Boom(Exception):
        pass

    def cb(f):
        raise Boom()
    with pytest.raises(Boom):  # an exception in the callback cancels the load and comes back
        f8.F8(model_path=str(MODEL), progress=cb)


def test_vocab_only(f8):
    m = f8.F8(model_path=str(MODEL), vocab_only=True)
    assert m.tokenize("Hello world") and m.metadata["n_params"] == 0
    with pytest.raises(f8.F8Error, match="vocab_only"):
        m.create_completion("Hi", max_tokens=1)
    m.close()


# ----------------------------------------------------------------- tokenizer
def test_tokenize_matches_tokenizer_json(llm):
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(HF_DIR / "tokenizer.json"))
    for text in ["Hello world", "The capital of France is", "naïve café — 東京 🙂", "  spaces\n\ttabs"]:
        ids = llm.tokenize(text)
        assert ids == tok.encode(text).ids, text
        assert llm.detokenize(ids) == text.encode()
    assert llm.tokenize(b"Hello world") == llm.tokenize("Hello world")
    im_start = llm.tokenize("<|im_start|>", add_bos=False, special=True)
    assert len(im_start) == 1 and llm.detokenize(im_start) == b""
    assert llm.detokenize(im_start, special=True) == b"<|im_start|>"
    assert llm.n_vocab() == 49152 and llm.n_ctx() == 512 and llm.token_eos() >= 0


def test_chat_template(llm, f8):
    msgs = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    text = llm.apply_chat_template(msgs)
    assert text == ("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                    "<|im_start|>assistant\n")
    assert llm.apply_chat_template(msgs, add_generation_prompt=False).endswith("Hi<|im_end|>\n")
    assert "<|start_header_id|>user" in llm.apply_chat_template(msgs, chat_template="llama3")
    # template variables reach the template (as transformers' **kwargs / tools)
    tmpl = ("{% if enable_thinking is defined and not enable_thinking %}NOTHINK {% endif %}"
            "{% if tools %}{{ tools | length }} TOOLS {% endif %}{{ messages[-1]['content'] }}")
    assert llm.apply_chat_template(msgs, chat_template=tmpl, enable_thinking=False) == "NOTHINK Hi"
    assert llm.apply_chat_template(msgs, chat_template=tmpl, tools=[{"type": "function"}]) == "1 TOOLS Hi"
    assert llm.apply_chat_template(msgs, chat_template=tmpl) == "Hi"
    with pytest.raises(f8.F8TemplateError):
        llm.apply_chat_template(msgs, chat_template="{% if %}")


# ----------------------------------------------------------------- generation
PROMPT = "The capital of France is"


def test_greedy_completion_matches_cli(llm):
    r = llm.create_completion(PROMPT, max_tokens=12, temperature=0)
    assert r["object"] == "text_completion" and r["id"].startswith("cmpl-")
    c = r["choices"][0]
    assert c["finish_reason"] == "length" and c["index"] == 0
    assert r["usage"] == {"prompt_tokens": len(llm.tokenize(PROMPT)), "completion_tokens": 12,
                          "total_tokens": len(llm.tokenize(PROMPT)) + 12}
    expected = cli("generate", "-m", MODEL, "-p", PROMPT, "-n", 12, "--temp", 0, "-q")
    assert c["text"] == expected[:-1]  # the CLI ends with a newline
    assert "Paris" in c["text"]
    assert llm(PROMPT, max_tokens=12, temperature=0)["choices"][0]["text"] == c["text"]  # __call__, prefix reuse
    assert llm(PROMPT, max_tokens=3, temperature=0, echo=True)["choices"][0]["text"].startswith(PROMPT + " Paris")


def test_streaming_equals_whole(llm):
    # The stream ends as the whole completion does (length, or the model's
    # end of turn: which one depends on the numerics, e.g. the KV cache's).
    r = llm.create_completion(PROMPT, max_tokens=20, temperature=0)
    whole, finish = r["choices"][0]["text"], r["choices"][0]["finish_reason"]
    chunks = list(llm.create_completion(PROMPT, max_tokens=20, temperature=0, stream=True))
    assert len(chunks) > 5 and finish in ("length", "stop")
    assert "".join(c["choices"][0]["text"] for c in chunks) == whole
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"][0]["finish_reason"] == finish
    assert chunks[-1]["usage"]["completion_tokens"] == r["usage"]["completion_tokens"]
    assert len({c["id"] for c in chunks}) == 1


def test_stop_strings(llm):
    whole = llm.create_completion(PROMPT, max_tokens=12, temperature=0)["choices"][0]["text"]
    assert "." in whole
    r = llm.create_completion(PROMPT, max_tokens=12, temperature=0, stop=["."])
    assert r["choices"][0]["text"] == whole.split(".")[0] and r["choices"][0]["finish_reason"] == "stop"
    s = list(llm.create_completion(PROMPT, max_tokens=12, temperature=0, stop="Par", stream=True))
    assert "".join(c["choices"][0]["text"] for c in s) == " " and s[-1]["choices"][0]["finish_reason"] == "stop"


def test_chat_completion_matches_cli(llm):
    q = "What is the capital of France?"
    r = llm.create_chat_completion([{"role": "user", "content": q}], temperature=0, max_tokens=64)
    assert r["object"] == "chat.completion" and r["id"].startswith("chatcmpl-")
    msg = r["choices"][0]["message"]
    assert msg["role"] == "assistant"
    assert msg["content"] == cli("generate", "-m", MODEL, "--chat", "-p", q, "--temp", 0, "-n", 64, "-q")[:-1]
    assert r["choices"][0]["finish_reason"] == "stop"  # the model's <|im_end|>
    chunks = list(llm.create_chat_completion([{"role": "user", "content": q}], temperature=0, max_tokens=64,
                                             stream=True))
    assert chunks[0]["object"] == "chat.completion.chunk" and chunks[0]["choices"][0]["delta"] == {"role": "assistant"}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks) == msg["content"]
    assert chunks[-1]["choices"][0]["delta"] == {} and chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_sampling_parameters(llm, f8):
    kw = dict(max_tokens=16, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0)
    a = llm(PROMPT, seed=1234, **kw)["choices"][0]["text"]
    b = llm(PROMPT, seed=1234, **kw)["choices"][0]["text"]
    assert a == b
    others = {llm(PROMPT, seed=s, **kw)["choices"][0]["text"] for s in (1, 2, 3, 4)}
    assert len(others | {a}) > 1  # the seed matters
    greedy_first = llm.tokenize(llm(PROMPT, max_tokens=1, temperature=0)["choices"][0]["text"], add_bos=False)[0]
    banned = llm(PROMPT, max_tokens=1, temperature=0, logit_bias={greedy_first: float("-inf")})
    assert llm.tokenize(banned["choices"][0]["text"], add_bos=False)[0] != greedy_first
    with pytest.raises(f8.F8InvalidArgumentError) as e:
        llm(PROMPT, max_tokens=4, temperature=-1.0)
    assert "temperature" in e.value.message
    with pytest.raises(ValueError):  # F8InvalidArgumentError is also a ValueError
        llm(PROMPT, max_tokens=4, repeat_penalty=0.0)
    ids = list(llm.generate(llm.tokenize(PROMPT), temperature=0, max_tokens=5))
    assert llm.detokenize(ids).decode() == llm(PROMPT, max_tokens=5, temperature=0)["choices"][0]["text"]


def test_structured_output(llm, f8):
    """json_schema / response_format / grammar reach f8_sampler_set_grammar:
    the answer validates (jsonschema); unsupported keywords raise."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 20},
                                               "age": {"type": "integer", "minimum": 0, "maximum": 120}},
              "required": ["name", "age"], "additionalProperties": False}
    msgs = [{"role": "user", "content": "Describe a person as JSON."}]
    r = llm.create_chat_completion(msgs, max_tokens=100, temperature=0,
                                   response_format={"type": "json_schema", "json_schema": {"schema": schema}})
    assert r["choices"][0]["finish_reason"] == "stop"
    jsonschema.validate(json.loads(r["choices"][0]["message"]["content"]), schema)
    r = llm.create_chat_completion(msgs, max_tokens=100, temperature=0.8, seed=3,
                                   response_format={"type": "json_object", "schema": schema})
    jsonschema.validate(json.loads(r["choices"][0]["message"]["content"]), schema)
    out = llm("Is FP8 fast?", max_tokens=8, temperature=0, grammar='root ::= "yes" | "no" | "maybe"')
    assert out["choices"][0]["text"] in ("yes", "no", "maybe") and out["choices"][0]["finish_reason"] == "stop"
    ids = list(llm.generate(llm.tokenize(PROMPT), temperature=0, max_tokens=20, json_schema=json.dumps(schema)))
    jsonschema.validate(json.loads(llm.detokenize(ids).decode()), schema)
    with pytest.raises(f8.F8UnsupportedError) as e:
        llm(PROMPT, max_tokens=4, json_schema={"type": "number", "multipleOf": 3})
    assert "multipleOf" in e.value.message
    with pytest.raises(f8.F8InvalidArgumentError) as e:
        llm(PROMPT, max_tokens=4, grammar="root ::= undefined-rule")
    assert "undefined rule" in e.value.message


def test_prompt_over_the_context(f8):
    small = f8.F8(model_path=str(MODEL), n_ctx=64)
    long_prompt = "The quick brown fox jumps over the lazy dog. " * 20  # ~200 tokens
    with pytest.raises(f8.F8ContextFullError) as e:
        small.create_completion(long_prompt, max_tokens=4)
    assert e.value.status_name == "F8_ERR_CONTEXT_FULL" and e.value.message
    assert isinstance(e.value, ValueError)
    with pytest.raises(f8.F8ContextFullError):
        list(small.create_completion(long_prompt, max_tokens=4, stream=True))
    # Still usable; generation that runs into the end of the context stops with "length".
    r = small.create_completion(PROMPT, max_tokens=4, temperature=0)
    assert r["choices"][0]["text"].startswith(" Paris")
    r = small.create_completion(PROMPT, max_tokens=None, temperature=0, top_k=1)
    total = r["usage"]["total_tokens"]
    assert r["choices"][0]["finish_reason"] in ("length", "stop") and total <= 64 + 1
    small.close()


def test_tensor_parallel_params(f8, llm):
    """f8_context_params.tp through the binding: SmolLM2 (9 heads, 3 KV heads)
    splits 3 ways on the CPU with the same greedy text; 2 ways is refused."""
    ref = llm(PROMPT, max_tokens=6, temperature=0)["choices"][0]["text"]
    with f8.F8(model_path=str(MODEL), n_ctx=64, tp=3) as m:
        assert m(PROMPT, max_tokens=6, temperature=0)["choices"][0]["text"] == ref
    with pytest.raises(f8.F8InvalidArgumentError) as e:
        f8.F8(model_path=str(MODEL), n_ctx=64, tp=2)
    assert e.value.message


def test_superseded_stream_and_close(f8, llm):
    it = llm.create_completion(PROMPT, max_tokens=8, temperature=0, stream=True)
    next(it)
    r = llm.create_completion(PROMPT, max_tokens=3, temperature=0)  # a new call ends the stream
    assert r["choices"][0]["text"] == " Paris.\n"
    with pytest.raises(RuntimeError, match="newer call"):
        next(it)
    m = f8.F8(model_path=str(MODEL), n_ctx=64)
    it = m.create_completion(PROMPT, max_tokens=8, temperature=0, stream=True)
    next(it)
    m.close()  # frees the stream's sampler/stopper/decoder before the model
    with pytest.raises(RuntimeError):
        next(it)
    m.close()  # twice is fine
    with pytest.raises(f8.F8Error, match="closed"):
        m.tokenize("x")
    with f8.F8(model_path=str(MODEL), n_ctx=64) as m2:
        assert m2.tokenize("x")


def test_two_objects_in_two_threads(f8, llm):
    """One F8 object per thread: results equal the serial ones."""
    prompts = ["Once upon a time", "The best way to learn"]
    serial = [llm(p, max_tokens=10, temperature=0)["choices"][0]["text"] for p in prompts]
    models = [f8.F8(model_path=str(MODEL), n_ctx=128, n_threads=1) for _ in prompts]
    out = [None, None]

    def work(i):
        out[i] = models[i](prompts[i], max_tokens=10, temperature=0)["choices"][0]["text"]
    ts = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert out == serial
    for m in models:
        m.close()


def test_speculative_primitives(f8):
    # Prompt lookup: the last 3 tokens (5 6 7) occurred at 0; what followed is the draft.
    toks = [5, 6, 7, 8, 1, 2, 5, 6, 7]
    assert f8.draft_lookup(toks, 1, 3, 4) == [8, 1, 2, 5]
    assert f8.draft_lookup(toks, 1, 3, 2) == [8, 1]
    assert f8.draft_lookup([1, 2, 3], 1, 3, 4) == []
    # "8 7" never occurred before; with 1-grams allowed, "7" did (at 2): 8 7 followed it.
    assert f8.draft_lookup([9, 6, 7, 8, 7], 2, 2, 3) == []
    assert f8.draft_lookup([9, 6, 7, 8, 7], 1, 2, 3) == [8, 7]
    with pytest.raises(f8.F8InvalidArgumentError):
        f8.draft_lookup(toks, 3, 2, 4)

    # Greedy verification: a draft is accepted iff it is the row's argmax;
    # the first rejected row (or the row after the last draft) gives the
    # target's own token.
    V = 10
    rows = [[0.0] * V for _ in range(3)]
    for r, best in zip(rows, (3, 7, 1)):
        r[best] = 5.0
    greedy = f8.Sampler(V, temperature=0)
    assert [greedy.sample(r) for r in rows] == [3, 7, 1]
    assert greedy.verify(rows, [3, 7]) == [3, 7, 1]
    assert greedy.verify(rows, [3, 5]) == [3, 7]
    assert greedy.verify(rows, [4, 7]) == [3]
    assert greedy.verify(rows[:1], []) == [3]
    tok, q = greedy.sample_probs(rows[1])
    assert tok == 7 and q[7] == 1.0 and sum(q) == 1.0
    with pytest.raises(f8.F8InvalidArgumentError, match="rows"):
        greedy.verify(rows, [3, 7, 1])
    with pytest.raises(f8.F8InvalidArgumentError, match="n_vocab"):
        greedy.sample([0.0] * (V + 1))

    # Sampling: sample_probs's q is the chain's softmax; a draft drawn from
    # the target's own distribution (q == p) is always accepted.
    logits = [0.1 * i for i in range(V)]
    draft = f8.Sampler(V, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, seed=2)
    tok, q = draft.sample_probs(logits)
    z = sum(math.exp(x) for x in logits)
    assert all(abs(q[i] - math.exp(logits[i]) / z) < 1e-5 for i in range(V)) and q[tok] > 0
    target = f8.Sampler(V, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, seed=1)
    srows = [logits, logits[::-1], logits]
    d, qs = [], []
    for r in srows[:2]:
        t, qq = draft.sample_probs(r)
        d.append(t)
        qs.append(qq)
    out = target.verify(srows, d, qs)
    assert out[:2] == d and len(out) == 3
    draft.close()
    with pytest.raises(f8.F8InvalidArgumentError, match="closed"):
        draft.sample(logits)
