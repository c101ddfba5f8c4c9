"""`f8 template` from the command line against the jinja2 goldens
(tests/goldens/chat/renders.json, made by scripts/gen_chat_goldens.py):
built-in template names with both engines, template files, and a real
SmolLM2 .f8 (its chat.template and bos/eos tokens) when scripts/fixtures.sh
has fetched the model."""
import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("F8_BUILD", ROOT / "build"))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
F8 = BUILD / "bin" / "f8"
CACHE = Path(os.environ.get("F8_CACHE", Path.home() / ".cache" / "f8"))
GOLD = json.loads((ROOT / "tests/goldens/chat/renders.json").read_text(encoding="utf-8"))

pytestmark = pytest.mark.skipif(not F8.exists(), reason=f"{F8} not built")

# built-in name -> golden template name
BUILTINS = {"smollm2": "smollm2", "qwen2": "qwen2", "chatml": "chatml", "llama2-default": "llama2-chat",
            "llama3": "llama3-instruct", "mistral": "mistral-instruct-v0.2", "mistral-v0.1": "mistral-instruct-v0.1"}


def render(tmp_path, conv, *args):
    f = tmp_path / "conv.json"
    f.write_text(json.dumps({"messages": conv}, ensure_ascii=False), encoding="utf-8")
    return subprocess.run([str(F8), "template", "-f", str(f), *map(str, args)], capture_output=True, timeout=60)


def cases(template):
    return [c for c in GOLD["cases"] if c["template"] == template]


@pytest.mark.parametrize("name", sorted(BUILTINS))
@pytest.mark.parametrize("engine", ["auto", "jinja"])
def test_builtin_names_match_jinja2(tmp_path, name, engine):
    gold = BUILTINS[name]
    info = GOLD["templates"][gold]
    for c in cases(gold):
        args = ["--chat-template", name, "--bos", info["bos_token"], "--eos", info["eos_token"], "--engine", engine]
        if not c["add_generation_prompt"]:
            args.append("--no-generation-prompt")
        r = render(tmp_path, GOLD["conversations"][c["conversation"]], *args)
        label = f"{name}/{c['conversation']}/{c['add_generation_prompt']}"
        if "error" in c:
            assert r.returncode == 1, label
            err = r.stderr.decode()
            assert err.startswith("f8: error:") and err.count("\n") == 1, label
        else:
            assert r.returncode == 0, (label, r.stderr)
            assert r.stdout.decode("utf-8") == c["output"], label


def test_template_file_runs_on_the_interpreter(tmp_path):
    gold = "Qwen-Qwen2.5-7B-Instruct"
    info = GOLD["templates"][gold]
    for c in cases(gold):
        if "error" in c or not c["add_generation_prompt"] or "kwargs" in c:
            continue
        r = render(tmp_path, GOLD["conversations"][c["conversation"]], "--chat-template", ROOT / info["file"],
                   "--bos", info["bos_token"], "--eos", info["eos_token"])
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode("utf-8") == c["output"], c["conversation"]


def test_usage_errors(tmp_path):
    conv = [{"role": "user", "content": "x"}]
    assert render(tmp_path, conv).returncode == 2  # neither -m nor --chat-template
    assert render(tmp_path, conv, "--chat-template", "chatml", "--engine", "fast").returncode == 2
    r = render(tmp_path, conv, "--chat-template", tmp_path / "missing.jinja")
    assert r.returncode == 1 and b"missing.jinja" in r.stderr
    bad = tmp_path / "bad.jinja"
    bad.write_text("line one\n{% include 'other.jinja' %}")
    r = render(tmp_path, conv, "--chat-template", bad)
    assert r.returncode == 1
    assert b"line 2" in r.stderr and b"outside f8's Jinja subset" in r.stderr
    f = tmp_path / "broken.json"
    f.write_text("{not json")
    r = subprocess.run([str(F8), "template", "--chat-template", "chatml", "-f", str(f)], capture_output=True)
    assert r.returncode == 2 and r.stderr.startswith(b"f8: error:")


def test_template_kwargs_match_jinja2(tmp_path):
    """--chat-template-kwargs and the file's tools/documents: the golden cases
    with template variables (Qwen3's thinking switch, tool use, Command-R RAG),
    byte-identical to jinja2. Templates that print the date are left out (the
    goldens fix strftime_now's clock; the CLI uses the real one)."""
    n = 0
    for c in GOLD["cases"]:
        if "kwargs" not in c or "error" in c:
            continue
        info = GOLD["templates"][c["template"]]
        text = (ROOT / info["file"]).read_text(encoding="utf-8")
        if "strftime_now" in text:
            continue
        conv = {"messages": GOLD["conversations"][c["conversation"]]}
        kwargs = {}
        for k, v in c["kwargs"].items():
            if k in ("tools", "documents"):
                conv[k] = v
            else:
                kwargs[k] = v
        f = tmp_path / "conv.json"
        f.write_text(json.dumps(conv, ensure_ascii=False), encoding="utf-8")
        args = [str(F8), "template", "-f", str(f), "--chat-template", str(ROOT / info["file"]),
                "--bos", info["bos_token"], "--eos", info["eos_token"]]
        if kwargs:
            args += ["--chat-template-kwargs", json.dumps(kwargs)]
        if not c["add_generation_prompt"]:
            args.append("--no-generation-prompt")
        r = subprocess.run(args, capture_output=True, timeout=60)
        label = f"{c['template']}/{c['conversation']}/{c['add_generation_prompt']}"
        assert r.returncode == 0, (label, r.stderr)
        assert r.stdout.decode("utf-8") == c["output"], label
        n += 1
    assert n >= 50, n


def test_template_kwargs_errors(tmp_path):
    conv = [{"role": "user", "content": "x"}]
    for bad, what in [("[1]", b"expected a JSON object"), ("{nope", b"invalid JSON"),
                      ('{"messages": []}', b"'messages' is set by f8"),
                      ('{"eos_token": "x"}', b"'eos_token' is set by f8")]:
        r = render(tmp_path, conv, "--chat-template", "chatml", "--chat-template-kwargs", bad)
        assert r.returncode == 2, bad
        assert r.stderr.startswith(b"f8: error: --chat-template-kwargs:") and what in r.stderr, r.stderr
    f = tmp_path / "conv.json"
    f.write_text(json.dumps({"messages": conv, "tools": {"not": "a list"}}))
    r = subprocess.run([str(F8), "template", "--chat-template", "chatml", "-f", str(f)], capture_output=True)
    assert r.returncode == 2 and b'"tools" must be a list' in r.stderr, r.stderr
    # A recognized family still renders (on the interpreter) with variables set.
    r = render(tmp_path, conv, "--chat-template", "chatml", "--chat-template-kwargs", '{"enable_thinking": true}', "-v")
    assert r.returncode == 0 and r.stdout.decode() == "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n"


@pytest.fixture(scope="module")
def smol_f8(tmp_path_factory):
    src = CACHE / "smollm2-135m-instruct"
    if not (src / "config.json").exists():
        pytest.skip("SmolLM2 fixture not fetched (scripts/fixtures.sh)")
    out = tmp_path_factory.mktemp("smol") / "smol.f8"
    r = subprocess.run([str(F8), "convert", str(src), "-o", str(out), "-q"], capture_output=True, timeout=600)
    if r.returncode != 0:
        pytest.skip(f"f8 convert failed: {r.stderr.decode()[:200]}")
    return out


def test_smollm2_model_template_matches_jinja2(tmp_path, smol_f8):
    for c in cases("smollm2"):
        args = ["-m", smol_f8] + ([] if c["add_generation_prompt"] else ["--no-generation-prompt"])
        r = render(tmp_path, GOLD["conversations"][c["conversation"]], *args)
        if "error" in c:
            assert r.returncode == 1
        else:
            assert r.returncode == 0, r.stderr
            assert r.stdout.decode("utf-8") == c["output"], c["conversation"]


def test_chat_passes_template_kwargs(tmp_path):
    """`f8 chat --chat-template-kwargs`: refused before loading when not an
    object; with Qwen3's template and enable_thinking=false a turn runs (the
    synthetic smollm2-tiny fixture: real tokenizer, random weights)."""
    qwen3 = ROOT / "tests/goldens/chat/templates/Qwen-Qwen3-0.6B.jinja"
    r = subprocess.run([str(F8), "chat", "-m", str(tmp_path / "none.f8"), "--chat-template-kwargs", "[1]"],
                       capture_output=True, input=b"", timeout=60)
    assert r.returncode == 2 and b"--chat-template-kwargs: expected a JSON object" in r.stderr, r.stderr
    fixture = CACHE / "synthetic" / "smollm2-tiny"
    if not (fixture / "config.json").exists():
        pytest.skip("synthetic smollm2-tiny fixture missing (scripts/fixtures.sh synthetic)")
    model = tmp_path / "tiny.f8"
    c = subprocess.run([str(F8), "convert", str(fixture), "-o", str(model), "-q"], capture_output=True, timeout=600)
    assert c.returncode == 0, c.stderr
    r = subprocess.run([str(F8), "chat", "-m", str(model), "--chat-template", str(qwen3), "--chat-template-kwargs",
                        '{"enable_thinking": false}', "-n", "3", "--temp", "0", "-c", "256"],
                       capture_output=True, input=b"hi\n", timeout=120)
    assert r.returncode == 0, r.stderr
    assert b"template error" not in r.stdout, r.stdout

