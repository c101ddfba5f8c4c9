#!/usr/bin/env python3
"""Same-run speed ratio of two f8 builds: `f8 bench --json` of binary A and
binary B alternated ABBA for ROUNDS rounds; prints, per bench row (threads,
test), the median tok/s of each and the median of the per-round B/A ratios
(the VM's speed drifts by +-20% within minutes, so the paired ratio is the
number to read, not the two medians).

  python3 scripts/bench_ab.py --a OLD/bin/f8 --b NEW/bin/f8 [--rounds 5] \
      [--markdown] -- -m model.f8 -p 512 -n 32 -np 4,16 -t 2 -r 2

Everything after `--` is passed to `f8 bench` (--json is added). Used for
docs/runtime.md "What it costs on the CPU" (issue 26). Not part of CI.

--cpu-time: also the CPU seconds (user + sys) each `f8 bench` process used,
and the median of the per-round A/B ratios of them (> 1: B needs less CPU).
On a machine that other work keeps busy, wall-clock tok/s measures the
scheduler; at -t 1 the CPU time of the same work does not (memory-bandwidth
contention remains), so give one test per call (e.g. -p 512 -n 0).
"""
import argparse
import json
import resource
import statistics
import subprocess
import sys


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(binary, args, cpu):
    c0 = cpu_seconds()
    p = subprocess.run([binary, "bench", *args, "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"bench_ab: error: {binary} bench failed (exit {p.returncode}): {p.stderr.strip()[-400:]}")
    try:
        rows = json.loads(p.stdout)["results"]
    except (ValueError, KeyError) as e:
        sys.exit(f"bench_ab: error: {binary} bench printed no JSON results ({e})")
    out = {(r["threads"], r["test"]): r["tok_s"] for r in rows}
    cpu.append(cpu_seconds() - c0)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="the baseline f8 binary")
    ap.add_argument("--b", required=True, help="the f8 binary under test")
    ap.add_argument("--rounds", type=int, default=5, help="ABBA rounds (each runs A and B once; default 5)")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--cpu-time", action="store_true", help="also compare the CPU seconds of each run (see above)")
    ap.add_argument("bench_args", nargs=argparse.REMAINDER, help="-- then the f8 bench arguments")
    o = ap.parse_args()
    args = o.bench_args[1:] if o.bench_args[:1] == ["--"] else o.bench_args
    if o.rounds < 1:
        ap.error("--rounds must be >= 1")
    a_runs, b_runs, a_cpu, b_cpu = [], [], [], []
    for r in range(o.rounds):
        order = [("a", o.a), ("b", o.b)] if r % 2 == 0 else [("b", o.b), ("a", o.a)]
        for tag, binary in order:
            (a_runs if tag == "a" else b_runs).append(run(binary, args, a_cpu if tag == "a" else b_cpu))
        print(f"bench_ab: round {r + 1}/{o.rounds} done", file=sys.stderr)
    keys = [k for k in a_runs[0] if all(k in x for x in a_runs + b_runs)]
    if o.markdown:
        print("| threads | test | A tok/s (median) | B tok/s (median) | B/A (median of rounds) | B/A min–max |")
        print("|---|---|---|---|---|---|")
    for k in keys:
        a = [x[k] for x in a_runs]
        b = [x[k] for x in b_runs]
        ratios = [bb / aa for aa, bb in zip(a, b) if aa > 0]
        ma, mb = statistics.median(a), statistics.median(b)
        mr = statistics.median(ratios) if ratios else float("nan")
        lo, hi = (min(ratios), max(ratios)) if ratios else (float("nan"),) * 2
        if o.markdown:
            print(f"| {k[0]} | {k[1]} | {ma:.1f} | {mb:.1f} | {mr:.3f} | {lo:.3f}–{hi:.3f} |")
        else:
            print(f"t{k[0]} {k[1]:>10}: A {ma:8.1f}  B {mb:8.1f} tok/s  B/A {mr:.3f} ({lo:.3f}-{hi:.3f})")
    if o.cpu_time:
        cr = [a / b for a, b in zip(a_cpu, b_cpu) if b > 0]
        print(f"CPU seconds per run: A {statistics.median(a_cpu):.2f}  B {statistics.median(b_cpu):.2f}  "
              f"A/B {statistics.median(cr):.3f} ({min(cr):.3f}-{max(cr):.3f})")


if __name__ == "__main__":
    main()
