#!/usr/bin/env python3
"""Decode speed with and without a JSON-schema constraint (grammar-masked
sampling), on SmolLM2-135M by default.

Each case runs `f8 generate --chat` for exactly --tokens tokens, alternating
plain runs and runs with --json-schema. The schemas ask for more output than
--tokens (long arrays), so every run stops at the token limit and both sides
decode the same number of tokens. Two measures:

- wall: the summary line's decode rate ("gen N tok X tok/s", --threads
  threads), best of --repeats runs per side (on a shared machine other
  processes only make a run slower, so the fastest run is the closest to
  the machine's own speed), and the medians;
- cpu: CPU seconds (user + sys, from wait4) of one-thread runs of --tokens
  and --tokens/8 tokens; their difference is the CPU time of the extra
  tokens' decode steps alone (load, calibration and prefill cancel out),
  median over --repeats. CPU time barely moves when other processes compete
  for the cores, so this ratio is the one to trust on a busy machine.

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
    """(decode tok/s from the summary line, CPU seconds of the process)."""
    cmd = [f8, "generate", "-m", model, "--chat", "-p", prompt, "-n", str(tokens), "--temp", "0",
           "-t", str(threads), "--ignore-eos"]
    if schema_file:
        cmd += ["--json-schema", schema_file]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    if p.returncode != 0:
        sys.exit(f"bench_constrained: {' '.join(cmd)} failed:\n{stderr}")
    m = SUMMARY.search(stderr)
    if not m:
        sys.exit(f"bench_constrained: no summary line in:\n{stderr}")
    n, rate = int(m.group(1)), float(m.group(2))
    if n != tokens:
        sys.exit(f"bench_constrained: generated {n} tokens, wanted {tokens} (the schema ended early?)")
    return rate, ru.ru_utime + ru.ru_stime


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--f8", default="build/bin/f8")
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/f8/smollm2-135m-instruct-e4m3.f8"))
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    if not os.path.exists(args.model):
        sys.exit(f"bench_constrained: {args.model} not found (see the docstring for how to make it)")
    print(f"model {args.model}, {args.tokens} tokens per run, greedy, {args.repeats} runs per side, alternating")
    print(f"wall: decode tok/s with {args.threads} threads (best, median); cpu: decode tok/s per CPU second, "
          f"1 thread (median)")
    print(f"{'case':16} {'plain':>7} {'schema':>7} {'ratio':>6} | {'plain':>7} {'schema':>7} {'ratio':>6} "
          f"(wall best | median) | {'plain':>7} {'schema':>7} {'ratio':>6} (cpu)")
    ratios, cpu_ratios = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.cases.split(","):
            case = CASES[name]
            path = os.path.join(tmp, name + ".json")
            with open(path, "w") as f:
                json.dump(case["schema"], f)
            plain, constrained, cpu_plain, cpu_constrained = [], [], [], []
            short = max(args.tokens // 8, 1)
            for _ in range(args.repeats):
                for schema, wall, cpu in ((None, plain, cpu_plain), (path, constrained, cpu_constrained)):
                    wall.append(run(args.f8, args.model, case["prompt"], args.tokens, args.threads, schema)[0])
                    long_cpu = run(args.f8, args.model, case["prompt"], args.tokens, 1, schema)[1]
                    short_cpu = run(args.f8, args.model, case["prompt"], short, 1, schema)[1]
                    cpu.append((args.tokens - short) / max(long_cpu - short_cpu, 1e-9))
            p, c = max(plain), max(constrained)
            pm, cm = statistics.median(plain), statistics.median(constrained)
            pc, cc = statistics.median(cpu_plain), statistics.median(cpu_constrained)
            ratios.append(c / p)
            cpu_ratios.append(cc / pc)
            print(f"{name:16} {p:7.1f} {c:7.1f} {c / p:5.2f}x | {pm:7.1f} {cm:7.1f} {cm / pm:5.2f}x                 "
                  f"| {pc:7.1f} {cc:7.1f} {cc / pc:5.2f}x", flush=True)
    print(f"{'geomean':16} {'':7} {'':7} {statistics.geometric_mean(ratios):5.2f}x | {'':7} {'':7} {'':6} "
          f"                | {'':7} {'':7} {statistics.geometric_mean(cpu_ratios):5.2f}x")


if __name__ == "__main__":
    main()
