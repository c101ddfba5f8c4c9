#!/usr/bin/env python3
"""Chat template goldens: renders with Python jinja2, configured exactly as
transformers' apply_chat_template does (src/transformers/utils/
chat_template_utils.py, _compile_jinja_template / render_jinja_template):

    ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                  extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = json.dumps(x, ensure_ascii=False, indent=, separators=, sort_keys=)
    env.globals["raise_exception"] -> jinja2.exceptions.TemplateError(message)
    env.globals["strftime_now"]
    template.render(messages=..., tools=None, documents=None,
                    add_generation_prompt=..., bos_token=..., eos_token=...)

Inputs (real template texts):
  tests/goldens/templates/*.jinja        the family templates (see docs/chat.md for provenance)
  llama.cpp's models/templates/*.jinja   a selection of other published templates, as vendored in
                                         the PyPI sdist llama-cpp-python 0.3.16 (fetched into
                                         ${F8_CACHE:-~/.cache/f8}/llama-cpp-python); copied into
                                         tests/goldens/chat/templates/ so tests need no download.
Output: tests/goldens/chat/renders.json (committed). Run from the repo root:
    python3 scripts/gen_chat_goldens.py
"""
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tarfile

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parent.parent
CACHE = pathlib.Path(os.environ.get("F8_CACHE", pathlib.Path.home() / ".cache" / "f8"))
FAMILY_DIR = ROOT / "tests/goldens/templates"
EXTRA_DIR = ROOT / "tests/goldens/chat/templates"
OUT = ROOT / "tests/goldens/chat/renders.json"

LLAMA_CPP_PY = "llama-cpp-python==0.3.16"
# Published templates from llama.cpp's models/templates that use no macros
# (outside f8's subset) and no clock (strftime_now makes renders date-dependent).
EXTRA_TEMPLATES = [
    "microsoft-Phi-3.5-mini-instruct.jinja",
    "google-gemma-2-2b-it.jinja",
    "Qwen-Qwen2.5-7B-Instruct.jinja",
    "Qwen-QwQ-32B.jinja",
    "Qwen-Qwen3-0.6B.jinja",
    "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja",
    "meta-llama-Llama-3.1-8B-Instruct.jinja",
    "mistralai-Mistral-Nemo-Instruct-2407.jinja",
    "moonshotai-Kimi-K2.jinja",
    "llama-cpp-rwkv-world.jinja",
]

# Special tokens each family's tokenizer_config.json gives the template.
TOKENS = {
    "chatml": ("", "<|im_end|>"),
    "smollm2": ("<|im_start|>", "<|im_end|>"),
    "qwen2": ("", "<|endoftext|>"),
    "llama2-chat": ("<s>", "</s>"),
    "llama3-instruct": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistral-instruct-v0.1": ("<s>", "</s>"),
    "mistral-instruct-v0.2": ("<s>", "</s>"),
}
DEFAULT_TOKENS = ("<s>", "</s>")

S, U, A = "system", "user", "assistant"


def m(role, content):
    return {"role": role, "content": content}


CONVERSATIONS = {
    "multi_turn_system": [m(S, "You are a helpful assistant."), m(U, "Hello!"), m(A, "Hi there. How can I help?"),
                          m(U, "What is 2+2?")],
    "single_user": [m(U, "Hello")],
    "no_system_multi": [m(U, "Hi"), m(A, "Hello! What can I do for you?"), m(U, "Tell me a joke.")],
    "assistant_last": [m(S, "Be brief."), m(U, "Capital of France?"), m(A, "Paris.")],
    "unicode": [m(S, "Tu es un assistant serviable. 你是一个乐于助人的助手。"),
                m(U, "Grüße! 😀👍🏽 Ελληνικά, русский, עברית, العربية, हिन्दी, 日本語のテキスト。"),
                m(A, "Bonjour ! Ça va très bien — merci. 🎉"), m(U, "e\u0301 (combining) and ß and Ǆ")],
    "empty_contents": [m(S, ""), m(U, ""), m(A, ""), m(U, "")],
    "whitespace_edges": [m(S, "  padded system \n"), m(U, "\n\n  lots of space\t\t\n  "),
                         m(A, " \u00a0nbsp and spaces\u2003 "), m(U, "\ttab\r\nCRLF line\n")],
    "jinja_in_content": [m(U, "{{ not_a_variable }} {% if x %}y{% endif %} {# c #} '\"\\ \\n")],
    "system_only": [m(S, "Only a system prompt.")],
    "empty": [],
    "roles_not_alternating": [m(U, "one"), m(U, "two")],
    "long_multi": [m(S, "sys")] + [m(U if i % 2 == 0 else A, f"turn {i}: " + "word " * (i + 1)) for i in range(10)]
                  + [m(U, "last")],
    "tool_call": [m(S, "You can call tools."), m(U, "Weather in Paris?"),
                  {"role": "assistant", "content": "",
                   "tool_calls": [{"type": "function", "id": "call_1",
                                   "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
                  {"role": "tool", "name": "get_weather", "tool_call_id": "call_1", "content": "22°C, sunny"},
                  m(U, "Thanks!")],
}


# Small templates exercising the subset's semantics one feature at a time,
# rendered with SNIPPET_VARS (whitespace control, scoping, filters, tests, ...).
SNIPPET_VARS = {
    "messages": [m(S, "sys"), m(U, "Hi  "), m(A, " Yo")], "add_generation_prompt": True,
    "bos_token": "<s>", "eos_token": "</s>", "n": 7, "f": 2.5, "s": "  Héllo Wörld  ", "l": [3, 1, 2],
    "d": {"b": 1, "a": [1, 2.0, None, True, "x"]}, "e": "", "none": None,
}
SNIPPETS = [
    "  {% if true %}\n  x\n  {% endif %}\n  y {# c #}\n  {# d #}\nz\n",
    "a  {%- if true -%}  b  {%- endif -%}  c",
    "a\n  {%+ if true %}b{% endif +%}\nc",
    "{% for m in messages %}\n  {{ m.role }}: {{ m.content }}\n{% endfor %}\n",
    "{% for m in messages -%}\n{{ m.role }}\n{%- endfor %}",
    "x {{- ' y ' -}} z",
    "{{ n }} {{ f }} {{ n / 2 }} {{ n // 2 }} {{ -n // 2 }} {{ n % 3 }} {{ -n % 3 }} {{ 2 ** 10 }} {{ 1e20 }} {{ 0.1 + 0.2 }}",
    "{{ l }} {{ d }} {{ none }} {{ true }} {{ (1, 'a') }} {{ [] }} {{ {} }}",
    "{{ s|trim }}|{{ s|length }}|{{ s|upper }}|{{ s|lower }}|{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|",
    "{{ d|tojson }} {{ d|tojson(indent=2) }} {{ l|tojson(separators=(',', ':')) }} {{ 'é\n\"'|tojson }}",
    "{{ missing|default('dflt') }} {{ e|default('empty', true) }} {{ e|default('no') }} {{ missing is defined }} {{ n is defined }}",
    "{{ none is none }} {{ s is string }} {{ n is number }} {{ n is integer }} {{ f is float }} {{ d is mapping }} {{ l is iterable }} {{ n is odd }} {{ n is even }} {{ n is divisibleby 7 }}",
    "{% for x in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }};{% endfor %}",
    "{% for x in l if x > 1 %}{{ x }}/{{ loop.length }} {% else %}none{% endfor %}{% for x in [] %}a{% else %}empty{% endfor %}",
    "{% set x = 1 %}{% for i in l %}{{ x }}{% set x = x + i %}{{ x }} {% endfor %}{{ x }}",
    "{% set ns = namespace(total=0, seen=false) %}{% for i in l %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }} {{ ns.seen }}",
    "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{{ messages[-1]['content'] }} {{ messages[0].role }} {{ messages[1:] | length }} {{ s[2:5] }} {{ s[::-1] }} {{ l[::2] }} {{ l[-1] }}",
    "{{ 'a' ~ n ~ none }} {{ 'a' + 'b' }} {{ [1] + [2] }} {{ 'ab' * 3 }} {{ 'x' in 'xyz' }} {{ 3 in l }} {{ 'b' in d }} {{ 9 not in l }}",
    "{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'a' < 'b' }} {{ not true or false }} {{ true and 'v' }} {{ '' or 'w' }} {{ 0 and 1 }}",
    "{{ 'yes' if n > 5 else 'no' }} [{{ 'x' if false }}]",
    "{{ l|join(', ') }} {{ l|first }} {{ l|last }} {{ l|reverse|list }} {{ l|sum }} {{ l|min }} {{ l|max }} {{ 'abc'|list }}",
    "{{ d.items()|list }} {{ d.keys()|list }} {{ d.get('zz', 'def') }} {{ d|items|list }} {% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
    "{{ 'a,b,,c'.split(',') }} {{ ' a  b '.split() }} {{ 'x-y'.replace('-', '+') }} {{ 'abc'.startswith('ab') }} {{ 'abc'.endswith(('x', 'c')) }} {{ 'hello world'.title() }} {{ 'hello world'|title }} {{ 'hELLO'|capitalize }}",
    "{{ messages|map(attribute='role')|join(',') }} {{ messages|selectattr('role', 'equalto', 'user')|list|length }} {{ messages|rejectattr('role', 'eq', 'user')|map(attribute='content')|list }}",
    "{{ '%d'|length }} {{ 3|string + 'x' }} {{ '42'|int + 1 }} {{ '2.5'|float }} {{ 2.5|round }} {{ 3.5|round }} {{ -3|abs }} {{ 2.567|round(2) }}",
    "{% set blk %}inner {{ n }}{% endset %}[{{ blk }}] {% set a, b = [1, 2] %}{{ a }}{{ b }}",
    "{% raw %}{{ not rendered }} {% if %}{% endraw %} after",
    "{{ \"double\" }} {{ 'it\\'s' }} {{ 'tab\\there' }} {{ '\\u00e9\\x41' }} {{ 'a' 'b' }}",
    "line1\r\nline2\r\n{% if true %}\r\nx\r\n{% endif %}\r\n",
    "{{ 'x'|indent(2) }}|{{ 'a\nb\n\nc'|indent(4) }}|{{ 'a\nb'|indent(2, true) }}|{{ l|unique|list }}",
    "{{ raise_exception('custom failure ' ~ n) }}",
    "{{ undefined_var.attr }}",
    "{{ 'a' + 1 }}",
    "{% for %}",
    "{% macro m() %}{% endmacro %}",
    "{{ messages[5] is defined }} {{ (messages[5]['role'] is defined) if messages[5] is defined else 'nope' }}",
]


class AssistantTracker(jinja2.ext.Extension):
    """transformers' {% generation %} tag; rendering outputs the body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_gen"), [], [], body).set_lineno(lineno)

    def _gen(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def fetch_extras():
    """Copies the selected llama.cpp templates into tests/goldens/chat/templates."""
    EXTRA_DIR.mkdir(parents=True, exist_ok=True)
    if all((EXTRA_DIR / n).exists() for n in EXTRA_TEMPLATES):
        return
    dl = CACHE / "llama-cpp-python"
    dl.mkdir(parents=True, exist_ok=True)
    sdists = sorted(dl.glob("llama_cpp_python-*.tar.gz"))
    if not sdists:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                        LLAMA_CPP_PY, "-d", str(dl)], check=True)
        sdists = sorted(dl.glob("llama_cpp_python-*.tar.gz"))
    with tarfile.open(sdists[-1]) as tf:
        for member in tf.getmembers():
            name = os.path.basename(member.name)
            if "/vendor/llama.cpp/models/templates/" in member.name and name in EXTRA_TEMPLATES:
                (EXTRA_DIR / name).write_bytes(tf.extractfile(member).read())


def main():
    fetch_extras()
    env = make_env()
    templates = {}
    for p in sorted(FAMILY_DIR.glob("*.jinja")):
        bos, eos = TOKENS.get(p.stem, DEFAULT_TOKENS)
        templates[p.stem] = {"file": str(p.relative_to(ROOT)), "bos_token": bos, "eos_token": eos}
    for n in EXTRA_TEMPLATES:
        p = EXTRA_DIR / n
        templates[p.stem] = {"file": str(p.relative_to(ROOT)), "bos_token": DEFAULT_TOKENS[0],
                             "eos_token": DEFAULT_TOKENS[1]}
    cases = []
    for tname, t in templates.items():
        # newline="" keeps the bytes as they are (jinja2 normalizes newlines itself).
        text = open(ROOT / t["file"], encoding="utf-8", newline="").read()
        tmpl = env.from_string(text)
        for cname, conv in CONVERSATIONS.items():
            for agp in (True, False):
                case = {"template": tname, "conversation": cname, "add_generation_prompt": agp}
                try:
                    case["output"] = tmpl.render(messages=conv, tools=None, documents=None, add_generation_prompt=agp,
                                                 bos_token=t["bos_token"], eos_token=t["eos_token"])
                except Exception as e:  # the C++ side must fail too
                    case["error"] = f"{type(e).__name__}: {e}"
                cases.append(case)
    snippets = []
    for text in SNIPPETS:
        snip = {"template": text}
        try:
            snip["output"] = env.from_string(text).render(**SNIPPET_VARS)
        except Exception as e:
            snip["error"] = f"{type(e).__name__}: {e}"
        snippets.append(snip)
    out = {
        "generator": "scripts/gen_chat_goldens.py",
        "jinja2_version": jinja2.__version__,
        "templates": templates,
        "conversations": CONVERSATIONS,
        "cases": cases,
        "snippet_vars": SNIPPET_VARS,
        "snippets": snippets,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    n_err = sum("error" in c for c in cases)
    print(f"wrote {OUT.relative_to(ROOT)}: {len(templates)} templates x {len(CONVERSATIONS)} conversations x 2 "
          f"= {len(cases)} cases ({n_err} expected errors)", file=sys.stderr)


if __name__ == "__main__":
    main()
