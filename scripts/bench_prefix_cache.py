#!/usr/bin/env python3
"""Time to first token with the prefix cache (docs/server.md "Prefix cache"),
on SmolLM2-135M by default: the chat-app case of issue 21.

  python3 scripts/bench_prefix_cache.py [--model M.f8] [--f8 build/bin/f8] [--threads 2]
                                        [--system-tokens 3000] [--repeats 2] [--no-cache-too]

One `f8 serve` (4 slots x 4096 tokens, prefix cache on) gets, per repeat
(each with a system prompt of its own, so the first turn is cold):
  first   the system prompt (~--system-tokens tokens) + a question;
  next    the same conversation + the first answer + a new question (the
          next turn of a chat app, which resends the whole conversation);
  other   the same system prompt + another user's question.
Each is a streaming chat completion (greedy, 16 tokens); TTFT = the time
from sending the request to the first content chunk. Printed: the TTFTs,
the ratios next/first and other/first (issue 21's targets: <= 0.25 and
<= 0.35), and usage.prompt_tokens_details.cached_tokens of each. With
--no-cache-too, a --no-prefix-cache server runs the same requests for
comparison. With --draft-model D.f8 the server drafts with D (speculative
decoding): its next-turn TTFT then also shows what the draft model catches
up (a kept draft sequence: only the new tokens; docs/server.md). Without
--model: $F8_CACHE/smollm2-135m-instruct-e4m3.f8.
"""
import argparse
import json
import os
import re
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

FACTS = ["The library opens at nine and closes at six on weekdays.",
         "Members may borrow up to twelve books for three weeks.",
         "The reading room on the second floor is silent at all times.",
         "Printing costs ten cents a page in black and white.",
         "Lost cards are replaced at the front desk for two euros.",
         "The children's section holds story hours on Saturday mornings.",
         "Laptops can be borrowed for use inside the building only.",
         "Group study rooms are booked online up to a week ahead."]


def system_prompt(tag, n_tokens):
    # ~3.55 characters per token with SmolLM2's tokenizer on these lines.
    lines = [f"You are the assistant of the {tag} public library."]
    i = 0
    while len(" ".join(lines)) < n_tokens * 3.55:
        lines.append(f"Rule {i + 1}: " + FACTS[i % len(FACTS)])
        i += 1
    return "\n".join(lines)


class Server:
    def __init__(self, f8, model, threads, extra):
        args = [f8, "serve", "-m", str(model), "--port", "0", "-t", str(threads), "--slots", "4", "-c", "4096",
                *extra]
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        self.port = None
        self.log = []
        while True:
            line = self.proc.stderr.readline()
            if not line:
                sys.exit("f8 serve exited:\n" + "".join(self.log))
            self.log.append(line)
            m = re.search(r"listening on http://[^:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        threading.Thread(target=lambda: [self.log.append(x) for x in self.proc.stderr], daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"
        for _ in range(600):
            try:
                if urllib.request.urlopen(self.url + "/health", timeout=2).status == 200:
                    return
            except Exception:
                time.sleep(0.2)
        sys.exit("server not ready:\n" + "".join(self.log))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def chat(url, messages, n=16):
    """(ttft seconds, full text, cached tokens, prompt tokens, seconds to the whole answer)"""
    body = json.dumps({"messages": messages, "max_tokens": n, "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}}).encode()
    req = urllib.request.Request(url + "/v1/chat/completions", data=body, headers={"Content-Type": "application/json"})
    t0 = time.perf_counter()
    ttft, text, usage = None, "", {}
    with urllib.request.urlopen(req, timeout=3600) as r:
        for raw in r:
            line = raw.decode().strip()
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            j = json.loads(line[6:])
            if j.get("usage"):
                usage = j["usage"]
            for c in j.get("choices", []):
                if c["delta"].get("content"):
                    if ttft is None:
                        ttft = time.perf_counter() - t0
                    text += c["delta"]["content"]
    cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    whole = time.perf_counter() - t0
    return ttft if ttft is not None else whole, text, cached, usage.get("prompt_tokens", 0), whole


def run(server, repeats, system_tokens):
    rows = []
    for r in range(repeats):
        sysmsg = {"role": "system", "content": system_prompt(["north", "south", "east", "west", "harbour"][r % 5] +
                                                             f" {r}", system_tokens)}
        first = [sysmsg, {"role": "user", "content": "When does the library open?"}]
        t1, a1, c1, p1, _ = chat(server.url, first)
        nxt = first + [{"role": "assistant", "content": a1}, {"role": "user", "content": "Can I print in colour?"}]
        t2, _, c2, p2, w2 = chat(server.url, nxt)
        other = [sysmsg, {"role": "user", "content": "How many books may I borrow?"}]
        t3, _, c3, p3, _ = chat(server.url, other)
        rows.append({"first": (t1, c1, p1), "next": (t2, c2, p2), "other": (t3, c3, p3), "next_whole": w2})
        print(f"  repeat {r + 1}: first {t1:.2f} s ({p1} prompt tokens, {c1} cached), "
              f"next {t2:.2f} s ({p2}, {c2} cached; whole answer {w2:.2f} s), other {t3:.2f} s ({p3}, {c3} cached); "
              f"next/first {t2 / t1:.3f}, other/first {t3 / t1:.3f}", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=str(CACHE / "smollm2-135m-instruct-e4m3.f8"))
    ap.add_argument("--f8", default=str(ROOT / "build" / "bin" / "f8"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--system-tokens", type=int, default=3000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--no-cache-too", action="store_true", help="also run a --no-prefix-cache server")
    ap.add_argument("--draft-model", help="serve with this draft model (speculative decoding)")
    a = ap.parse_args()
    if not Path(a.model).exists():
        sys.exit(f"model {a.model} missing: bash scripts/fixtures.sh smollm2, then f8 convert it")
    for name, extra in [("prefix cache on", [])] + ([("--no-prefix-cache", ["--no-prefix-cache"])]
                                                     if a.no_cache_too else []):
        print(f"{name}: {Path(a.model).name}, {a.threads} threads, 4 slots x 4096", flush=True)
        if a.draft_model:
            extra = extra + ["--draft-model", a.draft_model]
            print(f"  draft model {Path(a.draft_model).name}", flush=True)
        s = Server(a.f8, a.model, a.threads, extra)
        try:
            rows = run(s, a.repeats, a.system_tokens)
        finally:
            s.stop()
        med = {k: statistics.median(r[k][0] for r in rows) for k in ("first", "next", "other")}
        print(f"  median TTFT: first {med['first']:.2f} s, next turn {med['next']:.2f} s "
              f"({med['next'] / med['first']:.3f}x, target <= 0.25x), same system prompt {med['other']:.2f} s "
              f"({med['other'] / med['first']:.3f}x, target <= 0.35x); next turn's whole answer "
              f"{statistics.median(r['next_whole'] for r in rows):.2f} s", flush=True)


if __name__ == "__main__":
    main()
