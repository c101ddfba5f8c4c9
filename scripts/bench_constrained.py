#!/usr/bin/env python3
"""Decode speed with and without a JSON-schema constraint (grammar-masked
sampling), on SmolLM2-135M by default.

Each case runs `f8 generate --chat` for exactly --tokens tokens twice in one
process sequence, alternating: once plain, once with --json-schema. The
schemas ask for more output than --tokens (long arrays), so every run stops
at the token limit and both sides decode the same number of tokens; the
decode rate is the summary line's "gen N tok X tok/s". Reported: the median
over --repeats of each side and the ratio (constrained / plain).

    bash scripts/fixtures.sh smollm2
    build/bin/f8 convert ~/.cache/f8/smollm2-135m-instruct -o /tmp/smollm2.f8
    python3 scripts/bench_constrained.py --model /tmp/smollm2.f8 [--f8 build/bin/f8] [--threads 2]

Cases: "records" (an array of objects: strings with maxLength, an integer
range, an enum, a nested array), "free-json" (response_format json_object:
any object), "numbers" (arrays of bounded decimals and integers),
"pattern-format" (dates, uuids, a regex). The first mask of a new grammar
state walks the vocabulary trie; the figures include that warm-up.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

CASES = {
    "records": {
        "prompt": "List many people as JSON records.",
        "schema": {"type": "array", "minItems": 200, "items": {
            "type": "object",
            "properties": {"name": {"type": "string", "maxLength": 24},
                           "age": {"type": "integer", "minimum": 0, "maximum": 120},
                           "role": {"enum": ["admin", "user", "guest"]},
                           "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3}},
            "required": ["name", "age", "role", "tags"], "additionalProperties": False}},
    },
    "free-json": {
        "prompt": "Describe a big library catalog as a JSON object with many fields.",
        "schema": {"type": "object", "properties": {"items": {"type": "array", "minItems": 500}},
                   "required": ["items"]},
    },
    "numbers": {
        "prompt": "Give many measurements as JSON.",
        "schema": {"type": "array", "minItems": 300, "items": {
            "type": "object",
            "properties": {"t": {"type": "number", "minimum": -40, "maximum": 60},
                           "n": {"type": "integer", "exclusiveMinimum": 0, "maximum": 1000000}},
            "required": ["t", "n"]}},
    },
    "pattern-format": {
        "prompt": "List many events as JSON.",
        "schema": {"type": "array", "minItems": 200, "items": {
            "type": "object",
            "properties": {"id": {"type": "string", "format": "uuid"},
                           "day": {"type": "string", "format": "date"},
                           "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{2,4}$"}},
            "required": ["id", "day", "code"]}},
    },
}

SUMMARY = re.compile(r"gen (\d+) tok ([0-9.]+) tok/s")


def run(f8, model, prompt, tokens, threads, schema_file=None):
    cmd = [f8, "generate", "-m", model, "--chat", "-p", prompt, "-n", str(tokens), "--temp", "0",
           "-t", str(threads), "--ignore-eos"]
    if schema_file:
        cmd += ["--json-schema", schema_file]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench_constrained: {' '.join(cmd)} failed:\n{r.stderr}")
    m = SUMMARY.search(r.stderr)
    if not m:
        sys.exit(f"bench_constrained: no summary line in:\n{r.stderr}")
    n, rate = int(m.group(1)), float(m.group(2))
    if n != tokens:
        sys.exit(f"bench_constrained: generated {n} tokens, wanted {tokens} (the schema ended early?)")
    return rate, r.stdout


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--f8", default="build/bin/f8")
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/f8/smollm2-135m-instruct-e4m3.f8"))
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"bench_constrained: {args.model} not found (see the docstring for how to make it)")
    print(f"model {args.model}, {args.tokens} tokens per run, greedy, {args.threads} threads, "
          f"median of {args.repeats}")
    print(f"{'case':16} {'plain tok/s':>12} {'schema tok/s':>13} {'ratio':>7}")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            case = CASES[name]
            path = os.path.join(tmp, name + ".json")
            with open(path, "w") as f:
                json.dump(case["schema"], f)
            plain, constrained = [], []
            for _ in range(args.repeats):
                plain.append(run(args.f8, args.model, case["prompt"], args.tokens, args.threads)[0])
                rate, out = run(args.f8, args.model, case["prompt"], args.tokens, args.threads, path)
                constrained.append(rate)
            p, c = statistics.median(plain), statistics.median(constrained)
            ratios.append(c / p)
            print(f"{name:16} {p:12.1f} {c:13.1f} {c / p:7.2f}x", flush=True)
    print(f"{'geomean ratio':16} {'':12} {'':13} {statistics.geometric_mean(ratios):7.2f}x")


if __name__ == "__main__":
    main()
