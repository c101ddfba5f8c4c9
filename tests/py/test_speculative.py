"""Speculative decoding end to end on the real SmolLM2-135M-Instruct
(docs/runtime.md "Speculative decoding"): greedy output with prompt lookup
or a draft model is the plain greedy output token for token, through
`f8 generate`, `f8 chat`, `f8 bench --spec-prompt` and `f8 serve` (the
`openai` client, alone and in a batch with other requests); the copy-heavy
task drafts well (acceptance and tokens per forward asserted); bad options
are one-line errors with the documented exit codes.
"""
import json
import re
import subprocess
import threading

import pytest
import requests

from test_server import CACHE, F8, Server, client, metric

SMOL = CACHE / "smollm2-135m-instruct"
pytestmark = [pytest.mark.skipif(not F8.exists(), reason=f"{F8} not built"),
              pytest.mark.skipif(not (SMOL / "config.json").exists(),
                                 reason=f"{SMOL} missing (scripts/fixtures.sh smollm2)")]

PASSAGE = (
    "Rewrite the following passage, keeping every sentence but replacing \"river\" with \"stream\":\n\n"
    "The river ran past the old mill, where the miller's children used to play on warm summer evenings. "
    "Every spring the river rose and flooded the low meadow, and the villagers would gather on the bridge "
    "to watch the water carry branches and leaves toward the sea. In autumn the river grew quiet again, "
    "and the mill wheel turned slowly, grinding the last of the harvest into flour for the long winter ahead.")
SPEC_LINE = re.compile(r"speculative: (\d+) forwards, ([0-9.]+) tok/forward \| drafted (\d+), accepted (\d+)")


@pytest.fixture(scope="module")
def smol(tmp_path_factory):
    out = tmp_path_factory.mktemp("spec") / "smollm2.f8"
    r = subprocess.run([str(F8), "convert", str(SMOL), "-o", str(out), "-q"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


def run(*args, input_text=None, timeout=600):
    return subprocess.run([str(F8), *map(str, args)], capture_output=True, timeout=timeout, input=input_text,
                          text=True)


@pytest.fixture(scope="module")
def other_tokenizer_draft(tmp_path_factory):
    """A draft model with another tokenizer (the synthetic Llama SentencePiece
    fixture), converted once for the refusal tests."""
    other = CACHE / "synthetic" / "llama-spm"
    if not (other / "config.json").exists():
        pytest.skip(f"{other} missing (scripts/fixtures.sh)")
    draft = tmp_path_factory.mktemp("spec-spm") / "llama-spm.f8"
    r = run("convert", other, "-o", draft, "-q")
    assert r.returncode == 0, r.stderr
    return draft


def generate(model, tmp_path, *extra, n=96):
    toks = tmp_path / f"tok{len(list(tmp_path.iterdir()))}.txt"
    r = run("generate", "-m", model, "--chat", "-p", PASSAGE, "-n", n, "--temp", "0", "-t", "2",
            "--dump-tokens", toks, *extra)
    assert r.returncode == 0, r.stderr
    return r.stdout, toks.read_text().splitlines()[1], r.stderr


def test_generate_prompt_lookup_is_plain_greedy(smol, tmp_path):
    text, ids, _ = generate(smol, tmp_path)
    for extra in (["--spec-lookup", "3"], ["--spec-lookup", "2", "--draft-max", "3"],
                  ["--spec-lookup", "4", "--spec-ngram-min", "2", "--draft-max", "16"]):
        t2, ids2, err = generate(smol, tmp_path, *extra)
        assert ids2 == ids, extra
        assert t2 == text, extra
        m = SPEC_LINE.search(err)
        assert m, err
        forwards, per_fwd, drafted, accepted = int(m[1]), float(m[2]), int(m[3]), int(m[4])
        n_gen = len(ids.split())
        # The answer copies the passage: many drafts are right (48-79% here,
        # fewer with long drafts; the exact share follows the numerics, e.g.
        # the KV cache's rounding), so far fewer forwards than tokens.
        assert drafted > 0 and accepted / drafted > 0.3, err
        assert forwards < n_gen / 2 and per_fwd > 2, err


def test_generate_draft_model_is_plain_greedy(smol, tmp_path):
    # The model as its own draft: same tokenizer; its one-token greedy
    # choices are the target's (batch invariance), so every draft is taken.
    text, ids, _ = generate(smol, tmp_path, n=48)
    t2, ids2, err = generate(smol, tmp_path, "--draft-model", smol, "--draft-max", "4", n=48)
    assert (t2, ids2) == (text, ids)
    m = SPEC_LINE.search(err)
    assert m and int(m[3]) > 0 and int(m[4]) == int(m[3]), err


def test_generate_sampling_with_drafts_runs_and_is_seeded(smol, tmp_path):
    outs = [generate(smol, tmp_path, "--temp", "0.7", "--seed", "5", "--spec-lookup", "3")[0] for _ in range(2)]
    assert outs[0] == outs[1] and len(outs[0].strip()) > 0


def test_chat_prompt_lookup_is_plain_greedy(smol):
    def chat(*extra):
        r = run("chat", "-m", smol, "--temp", "0", "-n", "64", "-t", "2", *extra,
                input_text=PASSAGE.replace("\n", " ") + "\n/quit\n")
        assert r.returncode == 0, r.stderr
        return r.stdout
    assert chat("--spec-lookup", "3") == chat()


def test_bench_reports_acceptance(smol, tmp_path):
    prompt = tmp_path / "rewrite.txt"
    prompt.write_text(PASSAGE)
    r = run("bench", "-m", smol, "-p", "8", "-n", "64", "-r", "1", "--threads-list", "2", "--json",
            "--spec-prompt", prompt, "--spec-lookup", "3")
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)["speculative"]["runs"]
    assert len(runs) == 1 and runs[0]["same_output"] is True
    assert runs[0]["acceptance"] > 0.5 and runs[0]["tok_per_forward"] > 2
    assert runs[0]["plain_tok_s"] > 0 and runs[0]["spec_tok_s"] > 0


@pytest.mark.parametrize("args,code,needle", [
    (["--draft-max", "0"], 2, "--draft-max 0"),
    (["--spec-lookup", "65"], 2, "--spec-lookup 65"),
    (["--spec-lookup", "2", "--spec-ngram-min", "3"], 2, "--spec-ngram-min 3"),
    (["--draft-model", "/nonexistent/draft.f8"], 1, "/nonexistent/draft.f8"),
])
def test_bad_options(smol, args, code, needle):
    r = run("generate", "-m", smol, "-p", "hi", "-n", "4", *args)
    assert r.returncode == code, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("f8: error:")]
    assert len(lines) == 1 and needle in lines[0], r.stderr


def test_draft_model_with_another_tokenizer_is_refused(smol, other_tokenizer_draft):
    draft = other_tokenizer_draft
    r = run("generate", "-m", smol, "-p", "hi", "-n", "4", "--draft-model", draft)
    assert r.returncode == 2, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("f8: error:")]
    assert len(lines) == 1 and str(draft) in lines[0] and "same tokenizer" in lines[0], r.stderr


# ------------------------------------------------------------------ server

@pytest.fixture(scope="module")
def server(smol):
    r = run("serve", "--help")
    if r.returncode != 0:
        pytest.skip("f8 built without the server")
    s = Server(smol, "--slots", 3, "-c", 1024, threads=2)
    s.wait_ready()
    yield s
    assert s.stop() == 0, "".join(s.log)


def ask(url, spec=None, max_tokens=96):
    extra = {"speculative": spec} if spec is not None else {}
    r = client(url).chat.completions.create(model="smollm2", messages=[{"role": "user", "content": PASSAGE}],
                                            temperature=0, max_tokens=max_tokens, extra_body=extra)
    return r.choices[0].message.content, r.choices[0].finish_reason


def test_server_prompt_lookup_is_plain_greedy(server):
    plain = ask(server.url)
    acc0 = metric(server.url, "f8_spec_accepted_tokens_total")
    assert ask(server.url, {"lookup": 3, "draft_max": 8}) == plain
    drafted = metric(server.url, "f8_spec_draft_tokens_total")
    accepted = metric(server.url, "f8_spec_accepted_tokens_total") - acc0
    assert drafted > 0 and accepted > drafted * 0.3  # 49% measured (draft_max 8)
    # Several speculative and plain requests in one batch: each is still
    # its plain greedy answer.
    out = {}
    specs = [{"lookup": 3}, None, {"lookup": 2, "draft_max": 4}]
    ts = [threading.Thread(target=lambda i=i, s=s: out.__setitem__(i, ask(server.url, s))) for i, s in enumerate(specs)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(out[i] == plain for i in range(len(specs))), out


def test_server_rejects_bad_speculative(server):
    for body, needle in (({"lookup": 99}, "speculative.lookup"), ({"draft": 3}, "speculative.draft"),
                         ("yes", "'speculative' must be an object")):
        r = requests.post(server.url + "/v1/chat/completions", timeout=30,
                          json={"messages": [{"role": "user", "content": "hi"}], "speculative": body})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert needle in err["message"] and err["param"] == "speculative", err


# ------------------------------------------------------- server, draft model
# `f8 serve --draft-model`: the model as its own draft (same tokenizer). That
# proves correctness, not speed: the drafts cost as much as the target. The
# greedy text must be the plain server's, alone, in a batch with other
# requests, and for every choice of n > 1.

@pytest.fixture(scope="module")
def draft_server(smol):
    s = Server(smol, "--slots", 3, "-c", 1024, "--draft-model", smol, "--draft-max", 4, threads=2)
    s.wait_ready()
    yield s
    assert s.stop() == 0, "".join(s.log)


def test_server_draft_model_is_plain_greedy(server, draft_server):
    plain = ask(server.url)
    assert ask(draft_server.url) == plain
    drafted = metric(draft_server.url, "f8_spec_draft_tokens_total")
    accepted = metric(draft_server.url, "f8_spec_accepted_tokens_total")
    # Its own draft: every greedy draft is the target's choice (the CPU
    # backends' logits do not depend on the batch).
    assert drafted > 0 and accepted == drafted
    # A request that opts out decodes without drafts: the counters stay.
    assert ask(draft_server.url, {"draft_model": False}) == plain
    assert metric(draft_server.url, "f8_spec_draft_tokens_total") == drafted
    # Three at once in the continuous batch (one of them opted out, one with
    # prompt lookup as well: lookup drafts first, the model when it finds
    # nothing), each its plain answer.
    out = {}
    specs = [None, {"draft_model": False}, {"lookup": 3, "draft_max": 6}]
    ts = [threading.Thread(target=lambda i=i, s=s: out.__setitem__(i, ask(draft_server.url, s)))
          for i, s in enumerate(specs)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert all(out[i] == plain for i in range(len(specs))), out
    assert metric(draft_server.url, "f8_spec_draft_tokens_total") > drafted


def test_server_draft_model_choices(server, draft_server):
    def complete(url):
        r = client(url).completions.create(model="smollm2", prompt="The three primary colors are", n=3,
                                           temperature=0, max_tokens=40)
        return [c.text for c in sorted(r.choices, key=lambda c: c.index)]
    plain = complete(server.url)
    assert plain[0] == plain[1] == plain[2]
    assert complete(draft_server.url) == plain


def test_server_draft_model_sampling_is_seeded(draft_server):
    def sample():
        r = client(draft_server.url).chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "Write a poem about the sea."}],
            temperature=0.8, seed=11, max_tokens=48)
        return r.choices[0].message.content
    d0 = metric(draft_server.url, "f8_spec_draft_tokens_total")
    a0 = metric(draft_server.url, "f8_spec_accepted_tokens_total")
    first = sample()
    assert first and sample() == first
    # Sampling drafts hand their distribution q to the acceptance rule; the
    # model drafting for itself draws from q == p, so min(1, p/q) = 1 and
    # every draft is taken (with point masses instead, a draft would be
    # rejected with probability 1 - p(d)).
    drafted = metric(draft_server.url, "f8_spec_draft_tokens_total") - d0
    accepted = metric(draft_server.url, "f8_spec_accepted_tokens_total") - a0
    assert drafted > 0 and accepted == drafted


def test_server_draft_model_help_and_errors(smol, tmp_path):
    r = run("serve", "--help")
    assert "--draft-model" in r.stdout and "draft_model" in r.stdout, r.stdout
    r = run("serve", "-m", smol, "--port", "0", "--draft-model", "/nonexistent/draft.f8", timeout=60)
    assert r.returncode == 1, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("f8: error:")]
    assert len(lines) == 1 and "/nonexistent/draft.f8" in lines[0], r.stderr


def test_server_draft_model_with_another_tokenizer_is_refused(smol, other_tokenizer_draft):
    draft = other_tokenizer_draft
    r = run("serve", "-m", smol, "--port", "0", "--draft-model", draft, timeout=60)
    assert r.returncode == 2, r.stderr
    lines = [l for l in r.stderr.splitlines() if l.startswith("f8: error:")]
    # Both files are named, and why.
    assert len(lines) == 1 and str(draft) in lines[0] and str(smol) in lines[0], r.stderr
    assert "same tokenizer" in lines[0], r.stderr


def test_server_draft_model_through_preemption(server, smol):
    # A KV pool too small for three answers at once: the newest request is
    # preempted (its cells dropped, its draft sequence too) and recomputed;
    # each answer is still the plain one.
    plain = ask(server.url)
    s = Server(smol, "--slots", 3, "-c", 256, "--kv-pool", 320, "--draft-model", smol, threads=2)
    try:
        s.wait_ready()
        out = {}
        ts = [threading.Thread(target=lambda i=i: out.__setitem__(i, ask(s.url))) for i in range(3)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert all(out[i] == plain for i in range(3)), out
        assert metric(s.url, "f8_preemptions_total") > 0
        assert metric(s.url, "f8_spec_accepted_tokens_total") > 0
    finally:
        assert s.stop() == 0, "".join(s.log)
