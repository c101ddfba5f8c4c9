#!/usr/bin/env python3
"""llama.cpp peer timing for scripts/bench_vs_llamacpp.sh (not part of CI).

Prepares SmolLM2-135M as GGUF from the Hugging Face dir (F16 via llama.cpp's
own convert_hf_to_gguf.py from the llama-cpp-python sdist, then Q8_0 with
llama_model_quantize: never re-quantized from the Q4_1 GGUF) and times,
per format and thread count:
  prefill: one llama_decode of an n_prompt-token prompt (fresh KV), tok/s;
  decode:  n_gen single-token evals, greedy, after a short prompt, tok/s.
Prints one JSON line per measurement:
  {"engine": "llama.cpp", "format": "Q8_0", "threads": 1, "pp": .., "tg": .., "file_bytes": ..}

usage: bench_llamacpp.py --hf DIR --work DIR --threads 1,2 [--n-prompt 128] [--n-gen 64] [--reps 3]
Environment: LLAMA_CPP_LIB_PATH / PYTHONPATH for a prebuilt libllama (see docs/performance.md).
"""
import argparse
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

SDIST = "llama_cpp_python-0.3.36"


def sdist_llama_cpp(work: Path) -> Path:
    """vendor/llama.cpp of the llama-cpp-python sdist (converter + gguf-py), fetched with pip."""
    root = work / "src" / SDIST / "vendor" / "llama.cpp"
    if (root / "convert_hf_to_gguf.py").exists():
        return root
    (work / "src").mkdir(parents=True, exist_ok=True)
    tgz = work / "src" / f"{SDIST}.tar.gz"
    if not tgz.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        "llama-cpp-python==0.3.36", "-d", str(work / "src")], check=True)
    with tarfile.open(tgz) as tf:
        pre = f"{SDIST}/vendor/llama.cpp/"
        keep = [m for m in tf.getmembers()
                if m.name == pre + "convert_hf_to_gguf.py" or m.name.startswith(pre + "gguf-py/")
                or m.name.startswith(pre + "conversion/")]
        tf.extractall(work / "src", members=keep)
    return root


# Writes argv[2], an F16 GGUF with argv[1]'s metadata and tensors, every
# quantized tensor dequantized (F32 tensors, e.g. norms, stay F32).
DEQUANT_F16 = r"""
import sys
import numpy as np
import gguf
from gguf.constants import GGMLQuantizationType as Q, GGUFValueType as V
src, dst = sys.argv[1], sys.argv[2]
r = gguf.GGUFReader(src)
arch = r.fields["general.architecture"].contents()
w = gguf.GGUFWriter(dst + ".part", arch)
for name, f in r.fields.items():
    if name.startswith("GGUF.") or name == "general.architecture" or not f.types:
        continue
    if name == "general.file_type":
        w.add_uint32(name, int(gguf.LlamaFileType.MOSTLY_F16))
        continue
    t = f.types[0]
    if t == V.ARRAY:
        w.add_key_value(name, f.contents(), t, sub_type=f.types[-1])
    else:
        w.add_key_value(name, f.contents(), t)
for t in r.tensors:
    shape = tuple(int(x) for x in reversed(t.shape))  # numpy order: rows first
    if t.tensor_type == Q.F32:
        a = np.asarray(t.data, dtype=np.float32).reshape(shape)
    else:
        a = gguf.quants.dequantize(t.data, t.tensor_type).reshape(shape).astype(np.float16)
    w.add_tensor(t.name, a)
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
import os
os.replace(dst + ".part", dst)
"""


def make_models(hf: Path, work: Path):
    f16 = work / "smollm2-135m-f16.gguf"
    q8 = work / "smollm2-135m-q8_0.gguf"
    if not f16.exists():
        root = sdist_llama_cpp(work)
        env = dict(os.environ, PYTHONPATH=str(root / "gguf-py"))
        try:
            import torch  # noqa: F401  (convert_hf_to_gguf.py needs it)
            have_torch = True
        except ImportError:
            have_torch = False
        if have_torch:
            subprocess.run([sys.executable, str(root / "convert_hf_to_gguf.py"), str(hf), "--outtype", "f16",
                            "--outfile", str(f16)], check=True, env=env, stdout=subprocess.DEVNULL)
        else:
            # No torch: F16 from the Q4_1 GGUF the HF dir was made from
            # (scripts/fetch_smollm2.py), dequantized: the same numbers as the
            # HF dir's, rounded to F16 instead of BF16; same tensors, layout
            # and vocabulary as llama.cpp's own converter gives.
            q41 = hf.parent / "pip" / "SmolLM2-135M-Instruct.Q4_1.gguf"
            if not q41.exists():
                raise SystemExit(f"bench_llamacpp: no torch for convert_hf_to_gguf.py and no {q41}")
            subprocess.run([sys.executable, "-c", DEQUANT_F16, str(q41), str(f16)], check=True, env=env)
    if not q8.exists():
        import llama_cpp
        p = llama_cpp.llama_model_quantize_default_params()
        p.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
        p.nthread = 2
        rc = llama_cpp.llama_model_quantize(str(f16).encode(), str(q8).encode(), p)
        if rc != 0:
            raise SystemExit(f"bench_llamacpp: llama_model_quantize failed ({rc})")
    return {"F16": f16, "Q8_0": q8}


def bench(path: Path, threads: int, n_prompt: int, n_gen: int, reps: int):
    import llama_cpp
    import numpy as np
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=max(512, n_prompt + n_gen + 16), n_batch=512,
                          n_threads=threads, n_threads_batch=threads, verbose=False, logits_all=False)
    # Prompt ids: a fixed text, repeated to n_prompt tokens.
    text = b"The quick brown fox jumps over the lazy dog. " * 64
    ids = llm.tokenize(text, add_bos=False)[:n_prompt]
    pp, tg = [], []
    for _ in range(reps + 1):  # first round warms caches and page tables, not counted
        llm.reset()
        llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
        t0 = time.perf_counter()
        llm.eval(ids)
        t_pp = time.perf_counter() - t0
        llm.reset()
        llm._ctx.kv_cache_clear() if hasattr(llm._ctx, "kv_cache_clear") else None
        llm.eval(ids[:8])
        tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        t0 = time.perf_counter()
        for _ in range(n_gen):
            llm.eval([tok])
            tok = int(np.argmax(llm.scores[llm.n_tokens - 1]))
        t_tg = time.perf_counter() - t0
        pp.append(len(ids) / t_pp)
        tg.append(n_gen / t_tg)
    pp, tg = pp[1:], tg[1:]
    return sum(pp) / len(pp), sum(tg) / len(tg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hf", required=True, type=Path)
    ap.add_argument("--work", required=True, type=Path)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--n-prompt", type=int, default=128)
    ap.add_argument("--n-gen", type=int, default=64)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--formats", default="Q8_0,F16")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    models = make_models(a.hf, a.work)
    for fmt in a.formats.split(","):
        for t in [int(x) for x in a.threads.split(",")]:
            pp, tg = bench(models[fmt], t, a.n_prompt, a.n_gen, a.reps)
            print(json.dumps({"engine": "llama.cpp", "format": fmt, "threads": t, "pp": pp, "tg": tg,
                              "file_bytes": models[fmt].stat().st_size}), flush=True)


if __name__ == "__main__":
    main()
