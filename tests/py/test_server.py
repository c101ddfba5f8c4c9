"""`f8 serve` end to end: the real `openai` client (chat, completions,
streaming), >= 100 malformed requests with their status codes, 2 x slots
concurrent greedy streams equal to `f8 generate`, a client that disconnects
mid-stream, the queue limit, auth, and SIGTERM draining.

The model is the synthetic smollm2-tiny fixture (scripts/fixtures.sh
synthetic; SmolLM2's real tokenizer and chat template, random weights)
converted once per session, so every test runs in seconds on 2 cores.
"""
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("F8_BUILD", ROOT / "build"))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
F8 = BUILD / "bin" / "f8"
CACHE = Path(os.environ.get("F8_CACHE", Path.home() / ".cache" / "f8"))
FIXTURE = CACHE / "synthetic" / "smollm2-tiny"

pytestmark = pytest.mark.skipif(not F8.exists(), reason=f"{F8} not built")

SLOTS = 2
CTX = 256
MAX_BODY = 65536


def have_serve():
    r = subprocess.run([str(F8), "serve", "--help"], capture_output=True, text=True)
    return r.returncode == 0


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    if not have_serve():
        pytest.skip("f8 built without the server (F8_SERVER=OFF)")
    if not (FIXTURE / "config.json").exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "fixtures.sh"), "synthetic", "smollm2-tiny"],
                       check=False, capture_output=True)
    if not (FIXTURE / "config.json").exists():
        pytest.skip(f"fixture {FIXTURE} missing (scripts/fixtures.sh synthetic)")
    out = tmp_path_factory.mktemp("server") / "tiny.f8"
    r = subprocess.run([str(F8), "convert", str(FIXTURE), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return out


class Server:
    """An `f8 serve` process on a free port (--port 0; the port is read from
    the "listening on" line)."""

    def __init__(self, model, *extra, threads=1):
        self.args = [str(F8), "serve", "-m", str(model), "--port", "0", "-t", str(threads), *map(str, extra)]
        self.proc = subprocess.Popen(self.args, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        deadline = time.time() + 30
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        assert self.port, "server did not start:\n" + "".join(self.log)
        # Keep draining stderr so the process never blocks on a full pipe.
        self._t = threading.Thread(target=self._drain, daemon=True)
        self._t.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def wait_ready(self, timeout=120, headers=None):
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, "server exited:\n" + "".join(self.log)
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise AssertionError("not ready:\n" + "".join(self.log))

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("server did not exit after SIGTERM:\n" + "".join(self.log))


def metric(url, name, headers=None):
    text = requests.get(url + "/metrics", headers=headers, timeout=5).text
    m = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else None


@pytest.fixture(scope="module")
def server(model_path):
    s = Server(model_path, "--slots", SLOTS, "-c", CTX, "--max-queue", 8, "--max-body", MAX_BODY)
    s.wait_ready()
    yield s
    assert s.stop() == 0, "".join(s.log)


def client(url, key="unused"):
    import openai
    return openai.OpenAI(base_url=url + "/v1", api_key=key, max_retries=0, timeout=120)


# ---------------------------------------------------------------- basics

def test_health_models_metrics(server):
    r = requests.get(server.url + "/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    models = client(server.url).models.list()
    assert [m.id for m in models.data] == ["tiny"]
    text = requests.get(server.url + "/metrics").text
    for name in ("f8_requests_total", "f8_generated_tokens_total", "f8_queue_length", "f8_slots_busy",
                 "f8_tokens_per_second"):
        assert name in text
    assert metric(server.url, "f8_slots_total") == SLOTS


def test_health_is_503_while_loading(model_path):
    # The port is bound before the model loads: the first probes right after
    # "listening on" see 503 "loading" (the tiny model still takes ~0.5 s to
    # load and calibrate its FP8 KV scales), then 200.
    s = Server(model_path, "--slots", 1, "-c", 64)
    try:
        seen = []
        deadline = time.time() + 120
        while time.time() < deadline:
            r = requests.get(s.url + "/health", timeout=5)
            seen.append((r.status_code, r.json()["status"]))
            if r.status_code == 200:
                break
            g = requests.post(s.url + "/v1/completions", json={"prompt": "x", "max_tokens": 1})
            if g.status_code == 503:  # the model may finish loading in between
                assert g.json()["error"]["code"] == "model_loading" and g.headers.get("Retry-After")
        assert seen[-1] == (200, "ok")
        assert all(x == (503, "loading") for x in seen[:-1]), seen
        if len(seen) == 1:
            pytest.skip("the model loaded before the first probe")
    finally:
        assert s.stop() == 0


def test_tokenize_detokenize_roundtrip(server):
    r = requests.post(server.url + "/tokenize", json={"content": "Hello world", "add_special": False,
                                                       "with_pieces": True})
    assert r.status_code == 200, r.text
    toks = r.json()["tokens"]
    assert toks and all(isinstance(t, int) for t in toks)
    assert "".join(p["piece"] for p in r.json()["pieces"]) == "Hello world"
    r = requests.post(server.url + "/detokenize", json={"tokens": toks})
    assert r.status_code == 200 and r.json()["content"] == "Hello world"


def test_openai_chat_and_completion(server):
    c = client(server.url)
    r = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Say hi"}],
                                  max_tokens=8, temperature=0)
    ch = r.choices[0]
    assert r.object == "chat.completion" and ch.message.role == "assistant"
    assert ch.finish_reason in ("stop", "length")
    assert r.usage.prompt_tokens > 0 and 0 < r.usage.completion_tokens <= 8
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    r = c.completions.create(model="tiny", prompt="The capital of France is", max_tokens=5, temperature=0,
                             extra_body={"ignore_eos": True})
    assert r.object == "text_completion"
    assert r.choices[0].finish_reason == "length" and r.usage.completion_tokens == 5


def test_chat_template_kwargs(server):
    """vLLM's `chat_template_kwargs` reach the template: accepted as an
    object (SmolLM2's template reads none of them, so the prompt is the
    same), refused with a 400 naming the field otherwise."""
    c = client(server.url)
    msgs = [{"role": "user", "content": "Say hi"}]
    plain = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=4, temperature=0)
    r = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=4, temperature=0,
                                  extra_body={"chat_template_kwargs": {"enable_thinking": False,
                                                                       "reasoning_effort": "low"}})
    assert r.usage.prompt_tokens == plain.usage.prompt_tokens
    assert r.choices[0].message.content == plain.choices[0].message.content
    r = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=4, temperature=0,
                                  extra_body={"chat_template_kwargs": None})
    assert r.usage.prompt_tokens == plain.usage.prompt_tokens
    for bad, what in [("yes", "must be an object, got string"), ({"messages": []}, "'messages' is set by f8")]:
        r = requests.post(server.url + "/v1/chat/completions", timeout=30,
                          json={"messages": msgs, "max_tokens": 2, "chat_template_kwargs": bad})
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert err["param"] == "chat_template_kwargs" and what in err["message"], err


def test_openai_streaming(server):
    c = client(server.url)
    chunks = list(c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Count"}],
                                            max_tokens=12, temperature=0, stream=True,
                                            stream_options={"include_usage": True},
                                            extra_body={"ignore_eos": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    finals = [ch.choices[0].finish_reason for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert finals == ["length"]
    assert chunks[-1].usage.completion_tokens == 12
    full = c.chat.completions.create(model="tiny", messages=[{"role": "user", "content": "Count"}],
                                     max_tokens=12, temperature=0, extra_body={"ignore_eos": True})
    assert text == full.choices[0].message.content
    # Completions stream: raw SSE framing ends with [DONE].
    with requests.post(server.url + "/v1/completions", stream=True,
                       json={"prompt": "Once upon", "max_tokens": 4, "stream": True, "temperature": 0}) as r:
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        events = [l for l in r.iter_lines(decode_unicode=True) if l]
    assert events[-1] == "data: [DONE]"
    assert all(e.startswith("data: ") for e in events)
    assert json.loads(events[-2][6:])["choices"][0]["finish_reason"] in ("stop", "length")


def test_stop_strings_and_seed(server):
    c = client(server.url)
    base = c.completions.create(model="tiny", prompt="a b c", max_tokens=16, temperature=0,
                                extra_body={"ignore_eos": True}).choices[0].text
    if len(base) >= 4:
        stop = base[2:4]
        r = c.completions.create(model="tiny", prompt="a b c", max_tokens=16, temperature=0, stop=[stop],
                                 extra_body={"ignore_eos": True})
        assert r.choices[0].finish_reason == "stop"
        assert r.choices[0].text == base[:base.index(stop)]
    a = c.completions.create(model="tiny", prompt="x", max_tokens=10, temperature=1.0, seed=42,
                             extra_body={"ignore_eos": True}).choices[0].text
    b = c.completions.create(model="tiny", prompt="x", max_tokens=10, temperature=1.0, seed=42,
                             extra_body={"ignore_eos": True}).choices[0].text
    assert a == b


# ------------------------------------------------------- malformed input

def malformed_cases():
    """(method, path, body bytes or JSON-able, expected status)."""
    C, P = "/v1/chat/completions", "/v1/completions"
    msg = [{"role": "user", "content": "hi"}]
    cases = []
    raw_bodies = [b"", b"{", b"}", b"[]", b"null", b"1", b'"str"', b"true", b"{'a':1}", b'{"messages":}',
                  b"\xff\xfe", b'{"messages": [' + b"[" * 5000, b'{"prompt":"\xc3\x28"}', b"nan",
                  b'{"messages":[{"role":"user","content":"hi"}]} x', b"\x00\x01"]
    for b in raw_bodies:
        cases += [("POST", C, b, 400), ("POST", P, b, 400)]
    chat_bad = [
        {}, {"messages": None}, {"messages": "hi"}, {"messages": []}, {"messages": [1]},
        {"messages": [{}]}, {"messages": [{"role": "user"}]}, {"messages": [{"role": 1, "content": "x"}]},
        {"messages": [{"role": "bot", "content": "x"}]}, {"messages": [{"role": "user", "content": 3}]},
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        {"messages": [{"role": "user", "content": [{"type": "text"}]}]},
        {"messages": [{"role": "user", "content": [1]}]},
    ]
    for b in chat_bad:
        cases.append(("POST", C, b, 400))
    field_bad = [
        ("max_tokens", 0), ("max_tokens", -5), ("max_tokens", "10"), ("max_tokens", 2.5), ("max_tokens", True),
        ("max_tokens", 10 ** 30), ("max_completion_tokens", 0), ("temperature", -1), ("temperature", 2.01),
        ("temperature", "hot"), ("temperature", [1]), ("top_p", -0.1), ("top_p", 1.5), ("top_p", "x"),
        ("top_k", -1), ("top_k", 1.5), ("min_p", 1.1), ("min_p", -1), ("presence_penalty", 2.5),
        ("presence_penalty", -2.5), ("frequency_penalty", 9), ("frequency_penalty", "1"), ("seed", "7"),
        ("seed", 1.5), ("stop", 5), ("stop", [""]), ("stop", [None]), ("stop", ["a"] * 17), ("stop", {"a": 1}),
        ("stop", "x" * 300), ("stream", 1), ("stream", "true"), ("n", 17), ("n", 0), ("logprobs", 5),
        ("logprobs", "yes"), ("tools", [{"type": "function", "function": {"name": "a b"}}]), ("tools", "x"),
        ("response_format", {"type": "json_schema"}), ("response_format", "text"), ("logit_bias", {"x": 1}),
        ("logit_bias", [1]), ("model", 7), ("user", 5), ("stream_options", {"include_usage": True}),
        ("repeat_penalty", 0), ("ignore_eos", "no"),
        ("chat_template_kwargs", "x"), ("chat_template_kwargs", [1]), ("chat_template_kwargs", 5),
        ("chat_template_kwargs", True), ("chat_template_kwargs", {"messages": []}),
        ("chat_template_kwargs", {"add_generation_prompt": False}), ("chat_template_kwargs", {"bos_token": "x"}),
    ]
    for k, v in field_bad:
        cases.append(("POST", C, {"messages": msg, k: v}, 400))
    comp_bad = [
        {}, {"prompt": None}, {"prompt": 5}, {"prompt": []}, {"prompt": ["a", "b"]}, {"prompt": [1, -1]},
        {"prompt": [1, "a"]}, {"prompt": [[1], [2]]}, {"prompt": [{"a": 1}]}, {"prompt": [10 ** 12]},
        {"prompt": [999999]}, {"prompt": "x", "echo": True}, {"prompt": "x", "best_of": 2},
        {"prompt": "x", "suffix": "y"}, {"prompt": "x", "logprobs": 21}, {"prompt": "x", "max_tokens": 0},
        {"prompt": "x", "temperature": 3}, {"prompt": "x", "stream": "no"}, {"prompt": "word " * 400},
        {"prompt": list(range(1, 300))},
    ]
    for b in comp_bad:
        cases.append(("POST", P, b, 400))
    cases.append(("POST", C, {"messages": [{"role": "user", "content": "word " * 400}]}, 400))
    for b in [{}, {"content": 5}, {"content": None}, {"content": "x", "add_special": "yes"}, [], b"{"]:
        cases.append(("POST", "/tokenize", b, 400))
    for b in [{}, {"tokens": "1"}, {"tokens": [1.5]}, {"tokens": [-1]}, {"tokens": [10 ** 9]}, {"tokens": [[1]]}, b"x"]:
        cases.append(("POST", "/detokenize", b, 400))
    cases += [("POST", C, {"messages": msg, "pad": "x" * (MAX_BODY + 10)}, 413),
              ("POST", P, {"prompt": "y" * (MAX_BODY * 2)}, 413),
              ("GET", "/v1/nope", None, 404), ("POST", "/v1/embeddings", {"input": "x"}, 404),
              ("GET", "/v1/models/other-model", None, 404), ("DELETE", "/v1/models", None, 404)]
    return cases


def test_malformed_requests(server):
    cases = malformed_cases()
    assert len(cases) >= 100, len(cases)
    failures = []
    for method, path, body, want in cases:
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        try:
            r = requests.request(method, server.url + path, data=data,
                                 headers={"Content-Type": "application/json"}, timeout=30)
        except requests.ConnectionError as e:  # a 413 may close before the body is read
            if want == 413:
                continue
            failures.append((path, body if not isinstance(body, bytes) else body[:40], want, f"conn: {e}"))
            continue
        ok = r.status_code == want
        if ok:
            err = r.json().get("error", {})
            ok = isinstance(err.get("message"), str) and err["message"] and isinstance(err.get("type"), str)
        if not ok:
            failures.append((method, path, str(body)[:60], want, r.status_code, r.text[:120]))
    assert not failures, "\n".join(map(str, failures))
    assert requests.get(server.url + "/health").status_code == 200  # still alive


def test_prompt_too_long_names_counts(server):
    r = requests.post(server.url + "/v1/completions", json={"prompt": list(range(1, 400))})
    assert r.status_code == 400
    err = r.json()["error"]
    assert "399" in err["message"] and str(CTX) in err["message"]
    assert err["code"] == "context_length_exceeded"


# ----------------------------------------------------------- concurrency

PROMPTS = ["The quick brown fox", "Once upon a time", "In the beginning", "1, 2, 3, 4,"]


def generate_cli(model, prompt, n):
    r = subprocess.run([str(F8), "generate", "-m", str(model), "-p", prompt, "-n", str(n), "--temp", "0",
                        "--ignore-eos", "-q", "-t", "1"], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    out = r.stdout.decode("utf-8")
    assert out.endswith("\n")  # generate ends its output with one newline of its own
    return out[:-1]


def stream_completion(url, prompt, n, out, i):
    t0 = time.time()
    with requests.post(url + "/v1/completions", stream=True, timeout=300,
                       json={"prompt": prompt, "max_tokens": n, "temperature": 0, "stream": True,
                             "ignore_eos": True}) as r:
        assert r.status_code == 200, r.text
        text, done = "", False
        for line in r.iter_lines(decode_unicode=False):
            if not line:
                continue
            data = line[6:].decode()
            if data == "[DONE]":
                done = True
                break
            text += json.loads(data)["choices"][0]["text"]
    out[i] = (text, done, time.time() - t0)


def streams_match_generate(url, model_path, prompts, n):
    """Streams every prompt at once (greedy, n tokens each); each text must
    equal `f8 generate`'s."""
    out = [None] * len(prompts)
    ts = [threading.Thread(target=stream_completion, args=(url, p, n, out, i)) for i, p in enumerate(prompts)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    assert all(o is not None and o[1] for o in out), out
    for p, o in zip(prompts, out):
        assert o[0] == generate_cli(model_path, p, n), p


def test_concurrent_streams_match_generate(server, model_path):
    assert len(PROMPTS) == 2 * SLOTS
    streams_match_generate(server.url, model_path, PROMPTS, 24)
    assert metric(server.url, "f8_slots_busy") == 0


def test_small_kv_pool_preempts_and_matches_generate(model_path):
    """--kv-pool smaller than the slots' total: requests share the pool,
    the newest is preempted when it runs out and recomputed later; every
    text still equals `f8 generate`'s."""
    s = Server(model_path, "--slots", 4, "-c", 96, "--kv-pool", 96).wait_ready()
    try:
        streams_match_generate(s.url, model_path, PROMPTS[:4], 40)
        assert metric(s.url, "f8_preemptions_total") > 0
        assert metric(s.url, "f8_kv_cells_total") == 96
        assert metric(s.url, "f8_kv_cells_used") == 0
    finally:
        assert s.stop() == 0, "".join(s.log)


def test_kv_pool_smaller_than_ctx_is_refused(model_path):
    r = subprocess.run([str(F8), "serve", "-m", str(model_path), "--port", "0", "-c", "256", "--kv-pool", "100"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "--kv-pool 100 is smaller than one request's context (-c 256)" in r.stderr


def test_disconnect_frees_slot(server):
    r = requests.post(server.url + "/v1/completions", stream=True, timeout=60,
                      json={"prompt": "Tell me a story", "max_tokens": 10000, "temperature": 0, "stream": True,
                            "ignore_eos": True})
    it = r.iter_lines()
    got = 0
    for line in it:
        if line:
            got += 1
        if got >= 3:
            break
    assert metric(server.url, "f8_slots_busy") >= 1
    r.raw._fp.fp.raw._sock.shutdown(socket.SHUT_RDWR)  # hang up mid-stream
    r.close()
    deadline = time.time() + 10
    while time.time() < deadline and metric(server.url, "f8_slots_busy") != 0:
        time.sleep(0.05)
    assert metric(server.url, "f8_slots_busy") == 0
    cancelled = requests.get(server.url + "/metrics").text
    assert 'f8_completions_total{finish_reason="cancelled"}' in cancelled
    r = client(server.url).completions.create(model="tiny", prompt="ok", max_tokens=2)
    assert r.choices[0].finish_reason in ("stop", "length")


def test_queue_full_is_503_with_retry_after(model_path):
    # 1 slot + a queue of 1: of a burst of 8 simultaneous requests at most 2
    # fit; the rest must be refused with 503 + Retry-After, never lost.
    s = Server(model_path, "--slots", 1, "-c", 512, "--max-queue", 1).wait_ready()
    try:
        n = 8
        barrier = threading.Barrier(n)
        res = [None] * n

        def one(i):
            barrier.wait()
            res[i] = requests.post(s.url + "/v1/completions", timeout=120,
                                   json={"prompt": f"Go {i}", "max_tokens": 400, "ignore_eos": True})

        ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(120)
        codes = sorted(r.status_code for r in res)
        assert set(codes) <= {200, 503}, codes
        assert 1 <= codes.count(200) and codes.count(503) >= 1, codes
        for r in res:
            if r.status_code == 503:
                assert r.headers.get("Retry-After") and r.json()["error"]["code"] == "queue_full"
            else:
                assert r.json()["usage"]["completion_tokens"] == 400
        assert metric(s.url, "f8_queue_length") == 0 and metric(s.url, "f8_slots_busy") == 0
    finally:
        assert s.stop() == 0


# ------------------------------------------------------------------ auth

def test_auth(model_path, tmp_path):
    keyfile = tmp_path / "key"
    keyfile.write_text("s3cret-key\n")
    s = Server(model_path, "--api-key-file", keyfile, "--slots", 1, "-c", 128).wait_ready()
    try:
        u = s.url
        assert requests.get(u + "/health").status_code == 200  # open
        assert requests.get(u + "/").status_code == 200        # the page itself is open
        for h in [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cret-ke"},
                  {"Authorization": "Bearer s3cret-key2"}, {"Authorization": "s3cret-key"}]:
            for path in ["/v1/models", "/metrics"]:
                r = requests.get(u + path, headers=h)
                assert r.status_code == 401, (path, h)
                assert r.json()["error"]["type"] == "authentication_error"
            r = requests.post(u + "/v1/completions", headers=h, json={"prompt": "x"})
            assert r.status_code == 401
        import openai
        with pytest.raises(openai.AuthenticationError):
            client(u, "nope").models.list()
        ok = client(u, "s3cret-key")
        assert ok.models.list().data[0].id == "tiny"
        assert ok.completions.create(model="tiny", prompt="x", max_tokens=2).usage.completion_tokens >= 1
    finally:
        assert s.stop() == 0


def test_non_loopback_without_key_warns(model_path):
    s = Server(model_path, "--host", "0.0.0.0", "--slots", 1, "-c", 64)
    try:
        assert any("warning" in l and "API key" in l for l in s.log), s.log
    finally:
        assert s.stop() == 0


# ----------------------------------------------------------- SIGTERM drain

def test_sigterm_drains_in_flight(model_path):
    s = Server(model_path, "--slots", 2, "-c", 2048).wait_ready()
    out = [None]
    t = threading.Thread(target=stream_completion, args=(s.url, "Drain me", 1500, out, 0))
    t.start()
    deadline = time.time() + 30
    while metric(s.url, "f8_slots_busy") != 1 and time.time() < deadline:
        time.sleep(0.01)
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    if s.proc.poll() is None:
        try:
            r = requests.post(s.url + "/v1/completions", json={"prompt": "late", "max_tokens": 2}, timeout=10)
            assert r.status_code == 503
        except requests.ConnectionError:
            pass  # already closed: also "not accepted"
    t.join(120)
    assert out[0] is not None and out[0][1], "in-flight stream did not finish with [DONE]"
    assert s.proc.wait(60) == 0
