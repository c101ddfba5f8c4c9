"""The runtime's user surfaces end to end on a converted synthetic fixture
(smollm2-tiny: byte-level BPE, ChatML template, 2 layers): examples/simple,
`f8 generate`, `f8 bench --json`, `f8 perplexity` (incl. --kl-base and saved
logits) and bad input (another architecture, a missing tensor, a prompt
longer than the context, invalid UTF-8, zero threads, absurd sampling
values): a clear one-line error and the documented exit code, never a crash.
"""
import json
import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("F8_BUILD", ROOT / "build"))
F8 = BUILD / "bin" / "f8"
SIMPLE = BUILD / "bin" / "simple"
CACHE = pathlib.Path(os.environ.get("F8_CACHE", pathlib.Path.home() / ".cache" / "f8"))
FIXTURE = CACHE / "synthetic" / "smollm2-tiny"


def f8(*args, timeout=600, input_bytes=None):
    return subprocess.run([str(F8), *map(str, args)], capture_output=True, timeout=timeout, input=input_bytes)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    if not F8.exists():
        pytest.skip(f"{F8} not built")
    if not (FIXTURE / "config.json").exists():
        pytest.skip(f"fixture {FIXTURE} not present (scripts/fixtures.sh)")
    out = tmp_path_factory.mktemp("cli") / "tiny.f8"
    r = f8("convert", FIXTURE, "-o", out, "-q")
    assert r.returncode == 0, r.stderr.decode()
    return out


def patched(model, tmp_path, old: bytes, new: bytes, name):
    """A copy of `model` with every occurrence of `old` replaced (same length,
    so offsets stay valid; a renamed tensor's scale reference follows it)."""
    assert len(old) == len(new)
    data = model.read_bytes()
    assert old in data
    p = tmp_path / name
    p.write_bytes(data.replace(old, new))
    return p


def one_error_line(r):
    err = r.stderr.decode()
    lines = [l for l in err.splitlines() if l.startswith("f8: error:")]
    assert len(lines) == 1, err
    return lines[0]


def test_simple_example_runs(model):
    if not SIMPLE.exists():
        pytest.skip("examples not built")
    r = subprocess.run([str(SIMPLE), str(model), "Hello", "8"], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().startswith("Hello")


def test_generate_streams_and_summarizes(model):
    r = f8("generate", "-m", model, "-p", "Hello world", "-n", "12", "--temp", "0", "--ignore-eos")
    assert r.returncode == 0, r.stderr.decode()
    err = r.stderr.decode()
    assert "prompt " in err and " tok/s | gen 12 tok " in err and "GB/s | load " in err
    # Text only on stdout: the summary is not there.
    assert "tok/s" not in r.stdout.decode()


def test_greedy_is_deterministic_across_backends_and_kv(model):
    outs = []
    for extra in (["--backend", "cpu"], ["--backend", "cpu-ref"], ["--kv-type", "f32"], ["--kv-type", "bf16"]):
        r = f8("generate", "-m", model, "-p", "Once upon a time", "-n", "16", "--temp", "0", "--ignore-eos", "-q",
               *extra)
        assert r.returncode == 0, r.stderr.decode()
        outs.append(r.stdout)
    assert outs[0] == outs[1]  # simd == ref (same FP8 KV)
    assert outs[2] == outs[3] or len(outs[2]) > 0


def test_chat_flag_and_emulate_gpu(model):
    r = f8("generate", "-m", model, "--chat", "-sys", "Be brief.", "-p", "Hi", "-n", "8", "--emulate-gpu")
    assert r.returncode == 0, r.stderr.decode()


def test_seeded_sampling_is_reproducible(model):
    a = f8("generate", "-m", model, "-p", "Hi", "-n", "16", "--seed", "7", "--temp", "1.0", "-q", "--ignore-eos")
    b = f8("generate", "-m", model, "-p", "Hi", "-n", "16", "--seed", "7", "--temp", "1.0", "-q", "--ignore-eos")
    assert a.returncode == 0 and a.stdout == b.stdout


def test_json_schema_and_grammar_constrain_the_output(model, tmp_path):
    """--json-schema: the random-weight model's output is JSON valid against
    the schema (checked with `jsonschema`); --grammar: a GBNF language.
    Bad constraints are usage errors naming the file and the problem."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = {"type": "object", "properties": {
        "id": {"type": "integer", "minimum": 1, "maximum": 999},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "minItems": 1, "maxItems": 3},
        "when": {"type": "string", "format": "date"}},
        "required": ["id", "tags", "when"], "additionalProperties": False}
    sf = tmp_path / "s.json"
    sf.write_text(json.dumps(schema))
    for seed in (1, 2, 3):
        r = f8("generate", "-m", model, "--chat", "-p", "json", "--json-schema", sf, "--seed", seed, "--temp", "1",
               "-n", "200", "-q")
        assert r.returncode == 0, r.stderr.decode()
        jsonschema.validate(json.loads(r.stdout.decode()), schema)
    gf = tmp_path / "g.gbnf"
    gf.write_text('root ::= ("yes" | "no") "!"{1,3}\n')
    r = f8("generate", "-m", model, "-p", "x", "--grammar", gf, "-n", "50", "-q")
    assert r.returncode == 0 and r.stdout.decode().strip() in {a + "!" * k for a in ("yes", "no") for k in (1, 2, 3)}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "number", "multipleOf": 3}))
    r = f8("generate", "-m", model, "-p", "x", "--json-schema", bad)
    assert r.returncode == 2 and "bad.json" in one_error_line(r) and "'multipleOf' is not supported" in one_error_line(r)
    gf.write_text("root ::= nope")
    r = f8("generate", "-m", model, "-p", "x", "--grammar", gf)
    assert r.returncode == 2 and "undefined rule 'nope'" in one_error_line(r)
    r = f8("generate", "-m", model, "-p", "x", "--json-schema", tmp_path / "missing.json")
    assert r.returncode == 1 and "missing.json" in one_error_line(r)
    r = f8("generate", "-m", model, "-p", "x", "--json-schema", sf, "--grammar", gf)
    assert r.returncode == 2


def test_prompt_longer_than_context(model):
    r = f8("generate", "-m", model, "-p", "word " * 200, "-c", "64", "-n", "4")
    assert r.returncode == 1
    line = one_error_line(r)
    assert "F8_ERR_CONTEXT_FULL" in line and "context holds 64" in line


def test_generation_stops_cleanly_when_context_fills(model):
    r = f8("generate", "-m", model, "-p", "Hello", "-c", "16", "-n", "-1", "--ignore-eos", "--temp", "0")
    assert r.returncode == 0, r.stderr.decode()
    assert "context full" in r.stderr.decode()


def test_invalid_utf8_prompt_is_accepted(model, tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"caf\xc3 \xff\xfe abc")
    r = f8("generate", "-m", model, "-f", p, "-n", "4", "--temp", "0")
    assert r.returncode == 0, r.stderr.decode()


@pytest.mark.parametrize("args,needle", [
    (["-t", "0"], "--threads 0"),
    (["--temp", "-1"], "temperature"),
    (["--top-p", "2"], "--top-p"),
    (["--top-k", "-5"], "--top-k"),
    (["--repeat-penalty", "0"], "repeat"),
    (["--kv-type", "int4"], "--kv-type"),
    (["-c", "-1"], "--ctx"),
    (["-n", "-7"], "--n-predict"),
    (["--backend", "tpu"], "tpu"),
])
def test_bad_values_are_usage_errors(model, args, needle):
    r = f8("generate", "-m", model, "-p", "Hi", "-n", "2", *args)
    assert r.returncode == 2, r.stderr.decode()
    assert needle in one_error_line(r)


def test_other_architecture_is_rejected(model, tmp_path):
    bad = patched(model, tmp_path, b"\x05\x00\x00\x00\x00\x00\x00\x00llama", b"\x05\x00\x00\x00\x00\x00\x00\x00bloom",
                  "bloom.f8")
    r = f8("generate", "-m", bad, "-p", "Hi")
    assert r.returncode == 1
    assert "architecture 'bloom' is not supported" in one_error_line(r)


def test_missing_tensor_is_named(model, tmp_path):
    bad = patched(model, tmp_path, b"blk.1.ffn_up.weight", b"blk.1.ffn_up.weighX", "missing.f8")
    r = f8("generate", "-m", bad, "-p", "Hi")
    assert r.returncode == 1
    assert "blk.1.ffn_up.weight: missing" in one_error_line(r)


def test_bench_json(model):
    r = f8("bench", "-m", model, "-p", "16", "-n", "4", "-r", "1", "--threads-list", "1", "--json")
    assert r.returncode == 0, r.stderr.decode()
    j = json.loads(r.stdout)
    tests = {x["test"] for x in j["results"]}
    assert tests == {"pp16", "tg4"}
    assert all(x["tok_s"] > 0 for x in j["results"])
    assert j["load_ms"] > 0 and j["rss_peak_mib"] > 0 and j["weight_bytes_per_token"] > 0


def test_perplexity_and_kl(model, tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("In the beginning God created the heaven and the earth. " * 40)
    r = f8("perplexity", "-m", model, "-f", text, "--chunk", "64", "--chunks", "2", "--kv-type", "f32",
           "--save-logits", tmp_path / "base.logits")
    assert r.returncode == 0, r.stderr.decode()
    out = r.stdout.decode()
    assert out.startswith("PPL = ")
    ppl = float(out.split()[2])
    assert ppl > 1.0
    # Against itself: KL ~ 0 and the same top token everywhere.
    r = f8("perplexity", "-m", model, "-f", text, "--chunk", "64", "--chunks", "2", "--kv-type", "f32",
           "--kl-base", model)
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert float(lines[1].split()[4]) < 1e-6
    assert "same top token = 100.00%" in lines[2]
    # Against the saved logits (quantized log-probs): KL tiny.
    r = f8("perplexity", "-m", model, "-f", text, "--chunk", "64", "--chunks", "2", "--kv-type", "f32",
           "--kl-base", tmp_path / "base.logits")
    assert r.returncode == 0, r.stderr.decode()
    assert float(r.stdout.decode().splitlines()[1].split()[4]) < 1e-4
