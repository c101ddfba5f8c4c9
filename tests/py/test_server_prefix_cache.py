"""Automatic prefix caching in `f8 serve` (docs/server.md "Prefix cache"),
with the `openai` client: two servers on the same model, one with the cache
(the default) and one with --no-prefix-cache, get the same requests.

- A conversation's next turn and another user's question under the same
  long system prompt: greedy texts and the logprobs of every token (the
  distribution the logits give) are equal with and without the cache, and
  usage.prompt_tokens_details.cached_tokens says how much was reused.
- Interleaved streams sharing a system prompt in a KV pool so small that
  requests are preempted and cache entries evicted: every text equals the
  no-cache server's.
- /metrics counts lookups, hits, cached prompt tokens and evictions.

The model is the real SmolLM2-135M-Instruct (~/.cache/f8, scripts/fixtures.sh
smollm2) when present, else the synthetic smollm2-tiny (real tokenizer and
template, random weights).
"""
import threading

import pytest
import requests

from test_server import CACHE, F8, Server, client, metric, model_path  # noqa: F401 (fixture)

REAL = CACHE / "smollm2-135m-instruct-e4m3.f8"

SYSTEM = ("You are the help desk of the Lighthouse Museum in a small harbour town. " * 3 +
          "Opening hours: Tuesday to Sunday, ten to five; closed on Mondays and on the first of January. "
          "Tickets: adults eight euros, children under twelve free, students five euros with a card. "
          "The tower has 132 steps and no lift; the ground floor, the shop and the cafe are step-free. "
          "Guided tours start at eleven and at three, last forty minutes and are in English and Dutch. "
          "Dogs on a lead are welcome outside but not in the tower. Photography is allowed everywhere. "
          "Answer in one or two short sentences and never invent facts that are not listed here. ") * 2


@pytest.fixture(scope="module")
def model(model_path):  # noqa: F811
    return REAL if REAL.exists() else model_path


@pytest.fixture(scope="module")
def servers(model):
    common = ["--slots", 3, "-c", 2048, "--max-queue", 16]
    on = Server(model, *common, threads=1)
    off = Server(model, *common, "--no-prefix-cache", threads=1)
    on.wait_ready()
    off.wait_ready()
    yield on, off
    assert on.stop() == 0, "".join(on.log)
    assert off.stop() == 0, "".join(off.log)


def chat(url, messages, n=24):
    r = client(url).chat.completions.create(model="m", messages=messages, max_tokens=n, temperature=0,
                                            logprobs=True, top_logprobs=3)
    lp = [(t.token, t.logprob, [(a.token, a.logprob) for a in t.top_logprobs]) for t in r.choices[0].logprobs.content]
    return r.choices[0].message.content, lp, r.usage


def test_conversation_and_shared_system_prompt_reuse(servers):
    on, off = servers
    first = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "When are you open?"}]
    t1, lp1, u1 = chat(on.url, first)
    o1, olp1, ou1 = chat(off.url, first)
    assert (t1, lp1) == (o1, olp1)
    assert u1.prompt_tokens > 300 and u1.prompt_tokens == ou1.prompt_tokens
    assert u1.prompt_tokens_details.cached_tokens == 0

    # The next turn: the conversation so far plus the answer and a question.
    second = first + [{"role": "assistant", "content": t1}, {"role": "user", "content": "Is there a lift?"}]
    t2, lp2, u2 = chat(on.url, second)
    o2, olp2, ou2 = chat(off.url, second)
    assert (t2, lp2) == (o2, olp2)  # texts and logprobs identical, bit for bit
    cached = u2.prompt_tokens_details.cached_tokens
    assert cached % 64 == 0 and cached >= (u1.prompt_tokens // 64) * 64, (cached, u1.prompt_tokens)
    assert cached < u2.prompt_tokens
    assert ou2.prompt_tokens_details.cached_tokens == 0

    # Another user, the same system prompt.
    other = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "How much is a ticket for a student?"}]
    t3, lp3, u3 = chat(on.url, other)
    assert (t3, lp3) == chat(off.url, other)[:2]
    assert u3.prompt_tokens_details.cached_tokens >= 256

    # The same request again: everything but the last partial block is cached.
    t4, lp4, u4 = chat(on.url, other)
    assert (t4, lp4) == (t3, lp3)
    assert u4.prompt_tokens_details.cached_tokens >= (u3.prompt_tokens - 1) // 64 * 64

    assert metric(on.url, "f8_prefix_cache_hits_total") >= 3
    assert metric(on.url, "f8_prompt_tokens_cached_total") >= cached + 256
    assert metric(on.url, "f8_prefix_cache_lookups_total") >= 4
    assert metric(on.url, "f8_prefix_cache_entries") >= 1
    assert metric(off.url, "f8_prefix_cache_hits_total") == 0
    assert metric(off.url, "f8_prompt_tokens_cached_total") == 0


def test_streaming_usage_reports_cached_tokens(servers):
    on, _ = servers
    msgs = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "Can I bring my dog?"}]
    for _ in range(2):
        chunks = list(client(on.url).chat.completions.create(
            model="m", messages=msgs, max_tokens=4, temperature=0, stream=True,
            stream_options={"include_usage": True}))
    usage = chunks[-1].usage
    assert usage.prompt_tokens_details.cached_tokens >= (usage.prompt_tokens - 1) // 64 * 64 > 0


def stream_all(url, prompts, n):
    out = {}

    def one(i, p):
        text = ""
        with requests.post(url + "/v1/completions", stream=True, timeout=600,
                           json={"prompt": p, "max_tokens": n, "temperature": 0, "ignore_eos": True,
                                 "stream": True}) as r:
            assert r.status_code == 200, r.text
            import json
            for line in r.iter_lines():
                if line and line[6:] != b"[DONE]":
                    text += json.loads(line[6:])["choices"][0]["text"]
        out[i] = text

    ts = [threading.Thread(target=one, args=(i, p)) for i, p in enumerate(prompts)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return [out.get(i) for i in range(len(prompts))]


def test_interleaved_preemption_eviction_match_no_cache(model):
    # 3 slots x 640 positions in a 704-token pool. First three unrelated
    # ~300-token prompts one after another: each one's kept blocks leave less
    # room, so the next evicts. Then four streams whose prompts (~280 tokens,
    # sharing ~256) fit two at a time, but not with their 110 generated
    # tokens each: requests are preempted and recomputed, mapping the cache
    # when they resume.
    warm = [(w + " ") * 40 for w in ("lantern harbour", "granite quay", "copper bell")]
    questions = ["When are you open?", "Is there a lift?", "Can I bring my dog?", "Are tours in Dutch?"]
    prompts = [SYSTEM[:1150] + "\nQuestion: " + q + "\nAnswer:" for q in questions]
    args = ["--slots", 3, "-c", 640, "--kv-pool", 704]
    texts = {}
    for name, extra in (("on", []), ("off", ["--no-prefix-cache"])):
        s = Server(model, *args, *extra, threads=1).wait_ready()
        try:
            for w in warm:
                stream_all(s.url, [w], 4)
            texts[name] = stream_all(s.url, prompts, 110)
            if name == "on":
                got = {k: metric(s.url, "f8_" + k) for k in
                       ("prefix_cache_hits_total", "prefix_cache_evictions_total", "preemptions_total")}
                assert got["prefix_cache_hits_total"] >= 2 and got["prefix_cache_evictions_total"] >= 1, got
                assert got["preemptions_total"] >= 1, got
        finally:
            assert s.stop() == 0, "".join(s.log)
    assert texts["on"] == texts["off"]
    assert all(t for t in texts["on"])


def test_no_prefix_cache_in_help():
    import subprocess
    r = subprocess.run([str(F8), "serve", "--help"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("f8 built without the server")
    assert "--no-prefix-cache" in r.stdout
