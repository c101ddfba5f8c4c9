#!/usr/bin/env python3
"""Benchmark `f8 serve`: aggregate generated tok/s for 1, 2, 4, 8 concurrent
streaming clients and time to first token (p50/p99), on SmolLM2-135M.

  python3 scripts/bench_server.py [--model M.f8] [--clients 1,2,4,8] [--tokens 64]
                                  [--requests 3] [--slots 8] [--threads N] [--json OUT]
                                  [--backend cuda] [--ctx 512] [--prompt-len N]
                                  [--serve-args "--draft-model D.f8 --draft-max 4"]

Each client sends --requests completions one after another (greedy,
ignore_eos, --tokens tokens each, distinct prompts), streaming; a level's
aggregate = all generated tokens / wall time of the level. Without --model the
SmolLM2-135M fixture (scripts/fixtures.sh smollm2) is converted once into
$F8_CACHE/bench/smollm2-135m.f8. The server runs with --slots >= the most
clients so every client has a slot (continuous batching: one decode step
serves all of them). --prompt-len N pads each prompt with N extra words
(about N tokens: long-prompt load, e.g. 64 clients x 2k tokens on a GPU with
--ctx 2048); --backend and --ctx go to `f8 serve`, and so do --serve-args
(e.g. speculative decoding: the drafted / accepted token counts of
/metrics are printed after the table).
"""
import argparse
import json
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("F8_CACHE", Path.home() / ".cache" / "f8"))
PROMPTS = ["The history of the printing press", "A recipe for bread starts with", "The main ideas of thermodynamics",
           "Once upon a time in a small village", "The best way to learn a language is",
           "In computer science, a hash table", "The weather on Mars is", "Three reasons to exercise are"]


def pct(xs, q):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def stream_one(url, prompt, n):
    body = json.dumps({"prompt": prompt, "max_tokens": n, "temperature": 0, "stream": True, "ignore_eos": True,
                       "stream_options": {"include_usage": True}}).encode()
    req = urllib.request.Request(url + "/v1/completions", data=body, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    ttft, tokens = None, 0
    with urllib.request.urlopen(req, timeout=600) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                break
            j = json.loads(data)
            if j.get("usage"):
                tokens = j["usage"]["completion_tokens"]
            if ttft is None and j.get("choices") and j["choices"][0].get("text"):
                ttft = time.perf_counter() - t0
    return ttft if ttft is not None else time.perf_counter() - t0, tokens


def run_level(url, clients, n, reqs, pad=""):
    ttfts, toks = [], []
    lock = threading.Lock()

    def worker(c):
        for k in range(reqs):
            t, g = stream_one(url, PROMPTS[(c + k) % len(PROMPTS)] + pad, n)
            with lock:
                ttfts.append(t)
                toks.append(g)

    t0 = time.perf_counter()
    ts = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    wall = time.perf_counter() - t0
    return {"clients": clients, "requests": len(toks), "tokens": sum(toks), "wall_s": wall,
            "tok_s": sum(toks) / wall, "ttft_p50_ms": pct(ttfts, 0.5) * 1e3, "ttft_p99_ms": pct(ttfts, 0.99) * 1e3}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--f8", default=str(Path(os.environ.get("F8_BUILD", ROOT / "build")) / "bin" / "f8"))
    ap.add_argument("--model")
    ap.add_argument("--clients", default="1,2,4,8")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--requests", type=int, default=3, help="requests per client per level")
    ap.add_argument("--slots", type=int, default=0, help="server slots (default: the most clients)")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json")
    ap.add_argument("--backend", default="")
    ap.add_argument("--ctx", type=int, default=512, help="tokens per request (prompt + completion)")
    ap.add_argument("--prompt-len", type=int, default=0, help="extra words per prompt")
    ap.add_argument("--serve-args", default="", help="more `f8 serve` flags (one shell-quoted string)")
    a = ap.parse_args()
    levels = [int(x) for x in a.clients.split(",")]
    f8 = Path(a.f8)
    if not f8.is_absolute():
        f8 = ROOT / f8
    model = Path(a.model) if a.model else CACHE / "bench" / "smollm2-135m.f8"
    if not model.exists():
        src = CACHE / "smollm2-135m-instruct"
        if not (src / "config.json").exists():
            subprocess.run(["bash", str(ROOT / "scripts" / "fixtures.sh"), "smollm2"], check=True)
        model.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(f8), "convert", str(src), "-o", str(model)], check=True)
    slots = a.slots or max(levels)
    cmd = [str(f8), "serve", "-m", str(model), "--port", "0", "--slots", str(slots), "-c", str(a.ctx)]
    if a.backend:
        cmd += ["--backend", a.backend]
    if a.threads:
        cmd += ["-t", str(a.threads)]
    cmd += shlex.split(a.serve_args)
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    port = None
    for line in proc.stderr:
        m = re.search(r"listening on http://[^:]+:(\d+)", line)
        if m:
            port = int(m.group(1))
            break
    if not port:
        sys.exit("server did not start")
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    while True:
        try:
            if urllib.request.urlopen(url + "/health", timeout=2).status == 200:
                break
        except Exception:
            time.sleep(0.2)
    try:
        stream_one(url, "warm up", 8)
        pad = " and then the story goes on" * (a.prompt_len // 6) if a.prompt_len else ""
        rows = [run_level(url, c, a.tokens, a.requests, pad) for c in levels]
        metrics = urllib.request.urlopen(url + "/metrics", timeout=5).read().decode()
        spec = {k: float(v) for k, v in re.findall(r"^(f8_spec_\w+) ([0-9.e+-]+)$", metrics, re.M)}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    base = rows[0]["tok_s"]
    print(f"f8 serve on {model.name}: {a.tokens} tokens/request, {a.requests} requests/client, {slots} slots, "
          f"{os.cpu_count()} CPUs, backend {a.backend or 'cpu'}, prompt +{a.prompt_len} words, ctx {a.ctx}"
          + (f", serve {a.serve_args}" if a.serve_args else ""))
    print("| clients | aggregate tok/s | vs 1 client | TTFT p50 ms | TTFT p99 ms |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['clients']} | {r['tok_s']:.1f} | {r['tok_s'] / base:.2f}x | {r['ttft_p50_ms']:.0f} | "
              f"{r['ttft_p99_ms']:.0f} |")
    drafted = spec.get("f8_spec_draft_tokens_total", 0)
    if drafted:
        acc = spec.get("f8_spec_accepted_tokens_total", 0)
        print(f"speculative: drafted {drafted:.0f}, accepted {acc:.0f} ({100 * acc / drafted:.1f}%)")
    if a.json:
        Path(a.json).write_text(json.dumps({"model": str(model), "slots": slots, "rows": rows, "speculative": spec},
                                           indent=2))


if __name__ == "__main__":
    main()
