"""`f8 serve` structured outputs, tool calls, logprobs, n and logit_bias,
through the real `openai` client, validated with `jsonschema`.

Most tests run on the synthetic smollm2-tiny fixture (SmolLM2's tokenizer and
chat template, random weights: fast, and a model that follows no
instructions, so only the grammar keeps its output valid). The realistic
checks run on the real SmolLM2-135M-Instruct (scripts/fixtures.sh smollm2).
"""
import json
import subprocess

import pytest
import requests

from test_json_schema_grammar import SCHEMAS
from test_server import CACHE, F8, Server, client, model_path  # noqa: F401 (model_path is a fixture)

jsonschema = pytest.importorskip("jsonschema")
np = pytest.importorskip("numpy")

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 30},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "search_docs", "description": "Search the documentation.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "maxLength": 40},
            "top_k": {"type": "integer", "minimum": 1, "maximum": 20},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 10}, "maxItems": 3}},
            "required": ["query", "top_k"]}}},
]
PARAMS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
MSG = [{"role": "user", "content": "What's the weather in Paris? Search the docs too."}]


def validator(schema):
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture(scope="module")
def srv(model_path):  # noqa: F811
    s = Server(model_path, "--slots", 4, "-c", 1024, "--max-queue", 16)
    s.wait_ready()
    yield s
    assert s.stop() == 0, "".join(s.log)


@pytest.fixture(scope="module")
def smol(tmp_path_factory):
    src = CACHE / "smollm2-135m-instruct"
    if not (src / "config.json").exists():
        pytest.skip("SmolLM2 fixture not fetched (scripts/fixtures.sh smollm2)")
    out = tmp_path_factory.mktemp("smol") / "smol.f8"
    r = subprocess.run([str(F8), "convert", str(src), "-o", str(out), "-q"], capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr
    s = Server(out, "--slots", 2, "-c", 2048, threads=2)
    s.wait_ready(timeout=300)
    yield s
    assert s.stop() == 0, "".join(s.log)


# ------------------------------------------------------------ structured outputs

# Schemas whose every text the random model can finish within max_tokens
# (bounded strings and arrays; "patterns" and "arrays" have unbounded ones: their
# grammar is sampled in test_json_schema_grammar.py).
BOUNDED = ["person", "recursive_tree", "enum_const_mix", "number_bounds", "formats", "unions"]


@pytest.mark.parametrize("name", BOUNDED)
def test_json_schema_outputs_validate(srv, name):
    schema = SCHEMAS[name][0]
    v = validator(schema)
    c = client(srv.url)
    stopped = 0
    for seed in (1, 2):
        r = c.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "Answer in JSON."}], n=4, seed=seed,
            temperature=1.0, max_tokens=600,
            response_format={"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}})
        assert len(r.choices) == 4
        for ch in r.choices:
            if ch.finish_reason != "stop":
                assert ch.finish_reason == "length"
                continue
            stopped += 1
            value = json.loads(ch.message.content)
            errors = list(v.iter_errors(value))
            assert not errors, f"{name}: {ch.message.content!r}: {errors[0].message}"
    assert stopped >= 6, f"{name}: only {stopped} of 8 outputs finished within max_tokens"


def test_json_object_and_stream(srv):
    c = client(srv.url)
    kw = dict(model="tiny", messages=[{"role": "user", "content": "JSON please"}], seed=5, temperature=0.7,
              max_tokens=300, response_format={"type": "json_object"})
    full = c.chat.completions.create(**kw)
    text = "".join(ch.choices[0].delta.content or "" for ch in c.chat.completions.create(stream=True, **kw)
                   if ch.choices)
    assert text == full.choices[0].message.content
    if full.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(text), dict)
    # Completions take response_format too.
    r = c.completions.create(model="tiny", prompt="{", max_tokens=300, seed=3, temperature=0.8,
                             extra_body={"response_format": {"type": "json_schema", "json_schema": {
                                 "name": "x", "schema": SCHEMAS["enum_const_mix"][0]}}})
    assert r.choices[0].finish_reason == "stop"
    assert not list(validator(SCHEMAS["enum_const_mix"][0]).iter_errors(json.loads(r.choices[0].text)))


REAL = [
    ("Describe a fictional person as JSON.", {
        "type": "object",
        "properties": {"name": {"type": "string", "maxLength": 40}, "age": {"type": "integer", "minimum": 0,
                                                                           "maximum": 120},
                       "email": {"type": "string", "format": "email"},
                       "hobbies": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 4}},
        "required": ["name", "age", "email", "hobbies"], "additionalProperties": False}),
    ("List three cities with their country and population as JSON.", {
        "type": "object", "properties": {"cities": {"type": "array", "minItems": 3, "maxItems": 3, "items": {
            "type": "object", "properties": {"name": {"type": "string"}, "country": {"type": "string"},
                                             "population": {"type": "integer", "minimum": 0}},
            "required": ["name", "country", "population"], "additionalProperties": False}}},
        "required": ["cities"], "additionalProperties": False}),
    ("Extract the event: 'Team meeting on 2024-03-15 in room B, high priority.'", {
        "type": "object", "properties": {"title": {"type": "string"}, "date": {"type": "string", "format": "date"},
                                         "priority": {"enum": ["low", "medium", "high"]},
                                         "room": {"anyOf": [{"type": "string"}, {"type": "null"}]}},
        "required": ["title", "date", "priority", "room"], "additionalProperties": False}),
]


@pytest.mark.parametrize("prompt,schema", REAL)
def test_real_model_schema_outputs_validate(smol, prompt, schema):
    c = client(smol.url)
    v = validator(schema)
    for kw in ({"temperature": 0}, {"temperature": 0.8, "n": 2, "seed": 7}):
        r = c.chat.completions.create(
            model="smol", messages=[{"role": "user", "content": prompt}], max_tokens=400,
            response_format={"type": "json_schema", "json_schema": {"name": "out", "schema": schema, "strict": True}},
            **kw)
        for ch in r.choices:
            assert ch.finish_reason == "stop", ch.message.content
            errors = list(v.iter_errors(json.loads(ch.message.content)))
            assert not errors, f"{ch.message.content!r}: {errors[0].message}"


# ------------------------------------------------------------ tool calls

def check_calls(calls, only=None):
    assert calls, "no tool call"
    for tc in calls:
        assert tc.type == "function" and tc.id.startswith("call_")
        assert tc.function.name in PARAMS
        if only:
            assert tc.function.name == only
        errors = list(validator(PARAMS[tc.function.name]).iter_errors(json.loads(tc.function.arguments)))
        assert not errors, f"{tc.function.name}({tc.function.arguments}): {errors[0].message}"


@pytest.mark.parametrize("choice", ["required", "get_weather", "search_docs"])
def test_forced_tool_calls_parse_and_validate(srv, choice):
    c = client(srv.url)
    tc = choice if choice == "required" else {"type": "function", "function": {"name": choice}}
    for seed in (1, 2, 3):
        r = c.chat.completions.create(model="tiny", messages=MSG, tools=TOOLS, tool_choice=tc, n=4, seed=seed,
                                      temperature=1.0, max_tokens=300, parallel_tool_calls=False)
        for ch in r.choices:
            assert ch.finish_reason == "tool_calls", ch
            assert ch.message.content is None
            assert len(ch.message.tool_calls) == 1
            check_calls(ch.message.tool_calls, None if choice == "required" else choice)
    # Parallel calls allowed: one or more, each valid (those finished before max_tokens).
    r = c.chat.completions.create(model="tiny", messages=MSG, tools=TOOLS, tool_choice="required", n=4, seed=9,
                                  temperature=1.0, max_tokens=400)
    for ch in r.choices:
        check_calls(ch.message.tool_calls)


def test_streamed_tool_calls_match(srv):
    c = client(srv.url)
    kw = dict(model="tiny", messages=MSG, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "search_docs"}},
              seed=4, temperature=0.9, max_tokens=300)
    full = c.chat.completions.create(**kw).choices[0]
    calls, finish, first = {}, None, {}
    for chunk in c.chat.completions.create(stream=True, **kw):
        if not chunk.choices:
            continue
        d = chunk.choices[0].delta
        for tc in d.tool_calls or []:
            if tc.index not in calls:
                # OpenAI's shape: the first delta of a call has its id, type and name.
                assert tc.id and tc.type == "function" and tc.function.name
                calls[tc.index] = {"name": tc.function.name, "arguments": tc.function.arguments or ""}
                first[tc.index] = tc.id
            else:
                assert tc.id is None and not tc.function.name
                calls[tc.index]["arguments"] += tc.function.arguments or ""
        assert not d.content
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert [(v["name"], json.loads(v["arguments"])) for _, v in sorted(calls.items())] == \
        [(t.function.name, json.loads(t.function.arguments)) for t in full.message.tool_calls]


def test_tool_history_and_choices_none_auto(srv):
    c = client(srv.url)
    plain = c.chat.completions.create(model="tiny", messages=MSG, max_tokens=4, temperature=0)
    history = MSG + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_abc", "type": "function",
             "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})}}]},
        {"role": "tool", "tool_call_id": "call_abc", "content": "22 C and sunny"},
    ]
    r = c.chat.completions.create(model="tiny", messages=history, tools=TOOLS, max_tokens=4, temperature=0)
    assert r.usage.prompt_tokens > plain.usage.prompt_tokens + 20  # tools, the call and its result are in the prompt
    # none: no tools offered, nothing parsed; auto: whatever the model writes.
    r = c.chat.completions.create(model="tiny", messages=MSG, tools=TOOLS, tool_choice="none", max_tokens=8,
                                  temperature=0)
    assert r.choices[0].message.tool_calls is None and r.usage.prompt_tokens == plain.usage.prompt_tokens
    r = c.chat.completions.create(model="tiny", messages=MSG, tools=TOOLS, max_tokens=8, temperature=0)
    assert r.choices[0].finish_reason in ("stop", "length", "tool_calls")


# ------------------------------------------------------------ logprobs, n, logit_bias

def prompt_ids(url, text):
    r = requests.post(url + "/tokenize", json={"content": text}, timeout=30)
    return r.json()["tokens"]


def test_logprobs_are_the_model_distribution(srv, model_path, tmp_path):  # noqa: F811
    """Greedy: the first token's top_logprobs equal the log-softmax of the
    model's logits (`f8 generate --dump-logits`, same prompt ids)."""
    ids = prompt_ids(srv.url, "The capital of France is")
    dump = tmp_path / "logits.npy"
    r = subprocess.run([str(F8), "generate", "-m", str(model_path), "--prompt-ids", ",".join(map(str, ids)), "-n", "0",
                        "--dump-logits", str(dump), "-q", "-t", "1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    logits = np.load(dump)[-1].astype(np.float64)
    ref = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
    c = client(srv.url)
    out = c.completions.create(model="tiny", prompt=ids, max_tokens=3, temperature=0, logprobs=5,
                               extra_body={"ignore_eos": True})
    lp = out.choices[0].logprobs
    assert len(lp.tokens) == 3 and len(lp.token_logprobs) == 3 and len(lp.top_logprobs) == 3
    assert "".join(lp.tokens) == out.choices[0].text
    assert lp.text_offset == [sum(len(t.encode()) for t in lp.tokens[:i]) for i in range(3)]
    best = sorted(range(len(ref)), key=lambda i: -ref[i])[:5]
    pieces = requests.post(srv.url + "/detokenize", json={"tokens": [best[0]]}).json()["content"]
    assert lp.tokens[0] == pieces
    assert abs(lp.token_logprobs[0] - ref[best[0]]) < 2e-4
    got = sorted(lp.top_logprobs[0].values(), reverse=True)
    assert np.allclose(got, ref[best], atol=2e-4), (got, ref[best])
    # Chat shape, streamed and whole.
    kw = dict(model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=6, temperature=0, logprobs=True,
              top_logprobs=3, extra_body={"ignore_eos": True})
    whole = c.chat.completions.create(**kw).choices[0].logprobs.content
    assert len(whole) == 6
    for e in whole:
        assert len(e.top_logprobs) == 3 and e.top_logprobs[0].logprob == e.logprob
        assert e.bytes == list(e.token.encode()) or "\ufffd" in e.token
        assert [t.logprob for t in e.top_logprobs] == sorted((t.logprob for t in e.top_logprobs), reverse=True)
    streamed = [e for ch in c.chat.completions.create(stream=True, **kw) if ch.choices and ch.choices[0].logprobs
                for e in ch.choices[0].logprobs.content]
    assert [(e.token, e.logprob) for e in streamed] == [(e.token, e.logprob) for e in whole]


def test_logprobs_follow_the_sampling_chain(srv):
    """With top-k / top-p the listed distribution is the truncated,
    renormalized one the token was drawn from; a logit_bias moves it."""
    c = client(srv.url)
    r = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "go"}], max_tokens=8,
                                  temperature=0.7, top_p=0.9, seed=3, logprobs=True, top_logprobs=20,
                                  extra_body={"ignore_eos": True, "top_k": 10})
    for e in r.choices[0].logprobs.content:
        assert len(e.top_logprobs) <= 10  # only what top-k kept: the rest has probability 0
        assert abs(sum(np.exp(t.logprob) for t in e.top_logprobs) - 1) < 1e-3
        assert e.token in [t.token for t in e.top_logprobs]
    base = c.completions.create(model="tiny", prompt="abc", max_tokens=1, temperature=0, logprobs=1)
    first = base.choices[0].logprobs.tokens[0]
    tok = prompt_ids(srv.url, "zebra")[-1]
    biased = c.completions.create(model="tiny", prompt="abc", max_tokens=1, temperature=0, logprobs=1,
                                  logit_bias={str(tok): 100})
    assert biased.choices[0].logprobs.token_logprobs[0] > -1e-3  # probability ~1 after the bias
    banned = c.completions.create(model="tiny", prompt="abc", max_tokens=1, temperature=0, logprobs=1,
                                  logit_bias={str(prompt_ids(srv.url, first)[-1]): -100})
    assert banned.choices[0].logprobs.tokens[0] != first


def test_n_choices(srv):
    c = client(srv.url)
    msgs = [{"role": "user", "content": "Tell me something."}]
    g = c.chat.completions.create(model="tiny", messages=msgs, n=3, max_tokens=10, temperature=0,
                                  extra_body={"ignore_eos": True})
    assert [ch.index for ch in g.choices] == [0, 1, 2]
    assert len({ch.message.content for ch in g.choices}) == 1  # greedy: the same text three times
    assert g.usage.completion_tokens == 30
    s = c.chat.completions.create(model="tiny", messages=msgs, n=4, max_tokens=10, temperature=1.0, seed=11,
                                  extra_body={"ignore_eos": True})
    assert len({ch.message.content for ch in s.choices}) > 1  # own seed per choice
    again = c.chat.completions.create(model="tiny", messages=msgs, n=4, max_tokens=10, temperature=1.0, seed=11,
                                      extra_body={"ignore_eos": True})
    assert [ch.message.content for ch in again.choices] == [ch.message.content for ch in s.choices]
    texts, ends = {}, {}
    for chunk in c.chat.completions.create(model="tiny", messages=msgs, n=4, max_tokens=10, temperature=1.0, seed=11,
                                           stream=True, extra_body={"ignore_eos": True}):
        for ch in chunk.choices:
            texts[ch.index] = texts.get(ch.index, "") + (ch.delta.content or "")
            if ch.finish_reason:
                ends[ch.index] = ch.finish_reason
    assert ends == {0: "length", 1: "length", 2: "length", 3: "length"}
    assert [texts[i] for i in range(4)] == [ch.message.content for ch in s.choices]
    r = c.completions.create(model="tiny", prompt="x", n=16, max_tokens=2, temperature=1.0, seed=1)
    assert len(r.choices) == 16


@pytest.mark.parametrize("body,param,needle", [
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {
        "type": "object", "properties": {"n": {"type": "number", "multipleOf": 5}}}}}},
     "response_format", "'multipleOf' is not supported"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {
        "type": "string", "pattern": "(?=a)b"}}}}, "response_format", "lookaround"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "wat"}}}},
     "response_format", "unknown type 'wat'"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"type": "string", "format": "uri"}}}}}], "tool_choice": "required"},
     "tools", "format 'uri' is not supported"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice", "'nope'"),
    ({"logit_bias": {"99999999": 1}}, "logit_bias", "outside the vocabulary"),
    ({"n": 17}, "n", "'n'"),
    ({"logprobs": True, "top_logprobs": 21}, "top_logprobs", "top_logprobs"),
])
def test_errors_name_the_field(srv, body, param, needle):
    r = requests.post(srv.url + "/v1/chat/completions", json={"messages": MSG, "max_tokens": 2, **body}, timeout=30)
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["param"] == param and needle in err["message"], err
