#!/usr/bin/env python3
"""Tool-call parsing goldens: what each template family's model emits for a
tool call, taken from the template itself.

A chat template renders an assistant turn with `tool_calls` in exactly the
form the model was trained to produce, so for each template with tool
support (tests/goldens/chat/templates, rendered by jinja2 configured as
transformers does: scripts/gen_chat_goldens.py's make_env):

    prefix = render(conversation, add_generation_prompt=True)
    full   = render(conversation + [assistant turn with tool_calls], add_generation_prompt=False)
    output = full[len(prefix):] without the end-of-turn token text

is the model's output for that turn. Each case records the output, the
format f8 must recognize the template as (FORMATS: read off each template by
hand), and the expected content and tool calls (name, arguments as an
object). Templates that do not render an assistant's tool_calls (Granite 3.3
only describes its format in the system prompt) get the documented format
written out here instead (HANDWRITTEN), marked "source": "documented".

Output: tests/goldens/tool_calls/cases.json (committed); run from the repo root:
    python3 scripts/gen_tool_call_goldens.py
The C++ test tests/server/test_tool_calls.cpp parses every output (whole and
in random-sized streaming chunks) and checks the required/named-call grammar
of the format accepts it.
"""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from gen_chat_goldens import TOOLS, make_env  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "tests/goldens/chat/templates"
OUT = ROOT / "tests/goldens/tool_calls/cases.json"

# template file stem -> the tool-call format f8 must detect for it.
FORMATS = {
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use": "hermes",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use": "hermes",
    "Qwen-Qwen2.5-7B-Instruct": "hermes",
    "Qwen-QwQ-32B": "hermes",
    "Qwen-Qwen3-0.6B": "hermes",
    "meta-llama-Llama-3.1-8B-Instruct": "llama3",
    "meta-llama-Llama-3.2-3B-Instruct": "llama3",
    "meta-llama-Llama-3.3-70B-Instruct": "llama3",
    "mistralai-Mistral-Nemo-Instruct-2407": "mistral",
    "Mistral-Small-3.2-24B-Instruct-2506": "mistral-v11",
    "CohereForAI-c4ai-command-r-plus-tool_use": "command-r",
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use": "command-r7b",
    "ibm-granite-granite-3.3-2B-Instruct": "granite",
    "openai-gpt-oss-120b": "gpt-oss",
    "deepseek-ai-DeepSeek-V3.1": "deepseek-v3.1",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B": "deepseek-r1",
    "moonshotai-Kimi-K2": "kimi-k2",
    "NVIDIA-Nemotron-Nano-v2": "nemotron",
    "meetkai-functionary-medium-v3.1": "functionary-v3.1",
    "meetkai-functionary-medium-v3.2": "functionary-v3.2",
    "Qwen3-Coder": "qwen3-coder",
    "GLM-4.6": "glm",
    "ByteDance-Seed-OSS": "seed-oss",
}

# Text of each format's end-of-generation tokens: generation stops at the
# first one, so the output is cut there.
EOG = {
    "hermes": ["<|im_end|>"], "qwen3-coder": ["<|im_end|>"], "kimi-k2": ["<|im_end|>"],
    "llama3": ["<|eot_id|>", "<|eom_id|>"], "functionary-v3.1": ["<|eot_id|>", "<|eom_id|>"],
    "functionary-v3.2": ["<|eot_id|>", "<|eom_id|>"],
    "mistral": ["</s>"], "mistral-v11": ["</s>"],
    "command-r": ["<|END_OF_TURN_TOKEN|>", "<|START_OF_TURN_TOKEN|>"], "command-r7b": ["<|END_OF_TURN_TOKEN|>"],
    "gpt-oss": ["<|call|>", "<|return|>"],
    "deepseek-v3.1": ["<｜end▁of▁sentence｜>"], "deepseek-r1": ["<｜end▁of▁sentence｜>"],
    "nemotron": ["<SPECIAL_12>"], "glm": ["<|user|>", "<|observation|>", "<|endoftext|>"],
    "seed-oss": ["<seed:eos>"],
}
# Where the assistant's turn starts, for templates whose rendering of the
# whole conversation does not extend the generation prompt (tools placed
# next to the last user message, a thinking opener in the prompt, ...).
ASSISTANT_START = {
    "mistral": "[/INST]", "command-r": "<|CHATBOT_TOKEN|>", "deepseek-r1": "<｜Assistant｜>",
    "nemotron": "<SPECIAL_11>Assistant\n", "hermes": "<|im_start|>assistant\n",
}

BOS = {"Qwen-Qwen2.5-7B-Instruct": "", "Qwen-QwQ-32B": "", "Qwen-Qwen3-0.6B": ""}


USER_TEXT = "Weather in Paris and Lyon?"


def call(i, name, args):
    # Mistral's templates want 9 alphanumeric characters.
    return {"type": "function", "id": f"call{i:05d}", "function": {"name": name, "arguments": args}}


WEATHER = {"city": "Paris", "unit": "celsius"}
TRICKY = {"query": "kv \"cache\" ü ✓ \\ {x}", "top_k": 2, "tags": ["a", "b c"]}

# name -> (content before the calls, [(name, arguments)])
CASES = {
    "single": ("", [("get_weather", WEATHER)]),
    "parallel": ("", [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Lyon"})]),
    "content_first": ("Let me check.", [("get_weather", {"city": "Lyon"})]),
    "tricky_args": ("", [("search_docs", TRICKY)]),
}

HANDWRITTEN = {
    # IBM Granite 3.3's system prompt: "<|tool_call|> followed by a JSON list of tools used".
    "granite": {
        "single": '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}]',
        "parallel": '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}, '
                    '{"name": "get_weather", "arguments": {"city": "Lyon"}}]',
        "content_first": 'Let me check.<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Lyon"}}]',
        "tricky_args": '<|tool_call|>[{"name": "search_docs", "arguments": ' + json.dumps(TRICKY, ensure_ascii=False) + "}]",
    },
}


def cut_at_eog(fmt, text):
    cut = len(text)
    for m in EOG[fmt]:
        i = text.find(m)
        if i >= 0:
            cut = min(cut, i)
    return text[:cut]


def extract(fmt, prefix, full):
    """The model's output for the last assistant turn."""
    if full.startswith(prefix):
        return cut_at_eog(fmt, full[len(prefix):])
    marker = ASSISTANT_START.get(fmt)
    user = full.rfind(USER_TEXT)
    at = full.find(marker, user) if marker and user >= 0 else -1
    if at < 0:
        return None
    return cut_at_eog(fmt, full[at + len(marker):])


def main():
    env = make_env()
    cases = []
    for stem, fmt in FORMATS.items():
        text = (TEMPLATES / f"{stem}.jinja").read_text(encoding="utf-8")
        tmpl = env.from_string(text)
        if fmt in HANDWRITTEN:
            for cname, (content, calls) in CASES.items():
                cases.append({"template": stem, "format": fmt, "case": cname, "source": "documented",
                              "output": HANDWRITTEN[fmt][cname], "content": content,
                              "tool_calls": [{"name": n, "arguments": a} for n, a in calls]})
            continue
        for cname, (content, calls) in CASES.items():
            if fmt == "gpt-oss" and len(calls) > 1:  # one call per turn: <|call|> ends generation
                continue
            conv = [{"role": "system", "content": "You are a weather bot."},
                    {"role": "user", "content": USER_TEXT}]
            kw = dict(tools=TOOLS, documents=None, bos_token=BOS.get(stem, "<s>"), eos_token="</s>")
            turn = {"role": "assistant", "content": content,
                    "tool_calls": [call(i + 1, n, a if fmt != "functionary-v3.2" else json.dumps(a, ensure_ascii=False))
                                   for i, (n, a) in enumerate(calls)]}
            try:
                prefix = tmpl.render(messages=conv, add_generation_prompt=True, **kw)
                full = tmpl.render(messages=conv + [turn], add_generation_prompt=False, **kw)
            except Exception as e:  # e.g. "only supports single tool-calls"
                print(f"{stem} {cname}: skipped ({type(e).__name__}: {e})", file=sys.stderr)
                continue
            out = extract(fmt, prefix, full)
            if out is None:
                print(f"{stem} {cname}: skipped (the turn does not extend the generation prompt)", file=sys.stderr)
                continue
            if calls[-1][0] not in out:
                print(f"{stem} {cname}: skipped (the template does not show the tool calls)", file=sys.stderr)
                continue
            if content and content not in out:
                content = ""  # templates that drop content next to tool calls
            cases.append({"template": stem, "format": fmt, "case": cname, "source": "template",
                          "output": out, "content": content,
                          "tool_calls": [{"name": n, "arguments": a} for n, a in calls]})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {"generator": "scripts/gen_tool_call_goldens.py", "tools": TOOLS, "cases": cases}
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(cases)} cases, {len(FORMATS)} templates", file=sys.stderr)


if __name__ == "__main__":
    main()
