"""`f8 chat` reuses what its context holds (f8_kv_seq_common_prefix,
docs/runtime.md "Prefix reuse"): the second turn of a session, which decodes
only what the conversation added, answers exactly as a fresh session that
is given the same conversation with /load and decodes all of it.

The model is the real SmolLM2-135M-Instruct (~/.cache/f8) when present, else
the synthetic smollm2-tiny (random weights: the texts are noise, but
deterministic noise, which is all the comparison needs).
"""
import json
import subprocess

import pytest

from test_server import CACHE, F8, model_path  # noqa: F401 (fixture)

REAL = CACHE / "smollm2-135m-instruct-e4m3.f8"
pytestmark = pytest.mark.skipif(not F8.exists(), reason=f"{F8} not built")


def chat(model, lines):
    r = subprocess.run([str(F8), "chat", "-m", str(model), "--temp", "0", "-n", "24", "-t", "1"],
                       input="".join(l + "\n" for l in lines), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_second_turn_equals_a_fresh_session(model_path, tmp_path):  # noqa: F811
    model = REAL if REAL.exists() else model_path
    q1, q2 = "Hi there, who are you?", "What is two plus two?"
    # Each answer ends with a newline; end of input prints one more.
    first = chat(model, [q1])
    assert first.endswith("\n\n")
    first = first[:-1]
    a1 = first[:-1]  # the answer as the session stores it
    both = chat(model, [q1, q2])
    assert both.startswith(first)
    conv = tmp_path / "conv.json"
    conv.write_text(json.dumps([{"role": "user", "content": q1}, {"role": "assistant", "content": a1}]))
    fresh = chat(model, ["/load " + str(conv), q2])
    # The fresh session prints /load's confirmation (if any) before the answer.
    assert fresh.endswith(both[len(first):]), (both, fresh)
    assert len(both) > len(first)
