#!/usr/bin/env python3
"""Download time of `f8 pull` next to huggingface_hub's snapshot_download,
both from the same local fake Hub (tests/py/fake_hub.py) over loopback, into
fresh caches. It measures the client side (HTTP, hashing, cache writes) with
a Python server as the source, not a network: the numbers say how the two
clients compare here, nothing about the real Hub.

  python3 scripts/bench_pull.py [MODEL_DIR] [--f8 build/bin/f8] [--reps 3]

MODEL_DIR defaults to the real SmolLM2-135M-Instruct fixture
(~/.cache/f8/smollm2-135m-instruct, scripts/fixtures.sh).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "py"))
from fake_hub import FakeHub  # noqa: E402

NEEDED = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json", "model.safetensors"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?", default=str(Path(os.environ.get("F8_CACHE", Path.home() / ".cache/f8"))
                                                    / "smollm2-135m-instruct"))
    ap.add_argument("--f8", default=str(ROOT / "build" / "bin" / "f8"))
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    hub = FakeHub()
    hub.add_dir("bench/model", a.model)
    hub.start()
    total = sum(f.size for n, f in hub.repos["bench/model"].files.items() if n in NEEDED)
    print(f"model {a.model}: {total / 1e6:.1f} MB in the files a conversion needs")
    tmp = Path(tempfile.mkdtemp(prefix="bench_pull_"))
    base = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    base.update(HF_ENDPOINT=hub.endpoint, HF_HUB_DISABLE_XET="1", HF_HUB_DISABLE_TELEMETRY="1",
                HF_HUB_DISABLE_PROGRESS_BARS="1")
    try:
        for rep in range(a.reps):
            # f8: the download part of the pull (its summary line), conversion excluded.
            env = dict(base, HF_HUB_CACHE=str(tmp / f"f8-{rep}"), F8_HOME=str(tmp / f"f8home-{rep}"))
            r = subprocess.run([a.f8, "pull", "bench/model"], env=env, capture_output=True, text=True)
            if r.returncode:
                sys.exit(r.stderr)
            m = re.search(r"downloaded in ([0-9.]+) s", r.stderr)
            f8_s = float(m.group(1))
            # huggingface_hub, the same files (allow_patterns), wall time of the call.
            env = dict(base, HF_HUB_CACHE=str(tmp / f"hf-{rep}"))
            code = textwrap.dedent(f"""
                import time
                from huggingface_hub import snapshot_download
                t = time.perf_counter()
                snapshot_download("bench/model", allow_patterns={NEEDED!r})
                print(time.perf_counter() - t)
            """)
            r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
            if r.returncode:
                sys.exit(r.stderr)
            hf_s = float(r.stdout.strip().splitlines()[-1])
            print(f"rep {rep}: f8 pull {f8_s:.2f} s ({total / 1e6 / f8_s:.0f} MB/s)   "
                  f"huggingface_hub {hf_s:.2f} s ({total / 1e6 / hf_s:.0f} MB/s)")
    finally:
        hub.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
