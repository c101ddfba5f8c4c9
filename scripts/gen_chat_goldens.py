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
                                         the PyPI sdist llama-cpp-python 0.3.36 (fetched with pip into
                                         ${F8_CACHE:-~/.cache/f8}/llama-cpp-python, or found where
                                         scripts/bench_llamacpp.py keeps it); copied into
                                         tests/goldens/chat/templates/ so tests need no download.
Each template renders every plain conversation with tools=None, documents=None, and the tool / RAG /
thinking scenarios whose variables its text mentions (SCENARIOS), with strftime_now on a fixed clock
(NOW, formatted as UTC; the C++ test sets the same one).
Output: tests/goldens/chat/renders.json (committed). Run from the repo root:
    python3 scripts/gen_chat_goldens.py [--refresh]     (--refresh: copy the templates from the sdist again)
    python3 scripts/gen_chat_goldens.py --probe DIR OUT (every DIR/*.jinja, for checking new templates;
                                                          F8_CHAT_RENDERS=OUT test_chat_templates runs them)
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

LLAMA_CPP_PY = "llama-cpp-python==0.3.36"
SDIST = "llama_cpp_python-0.3.36.tar.gz"
# Published templates from llama.cpp's models/templates (see docs/chat.md for why others are left out).
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
    # tool use, RAG, thinking switches; macros and call blocks
    "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
    "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja",
    "CohereForAI-c4ai-command-r-plus-tool_use.jinja",
    "CohereForAI-c4ai-command-r7b-12-2024-tool_use.jinja",
    "google-gemma-4-31B-it.jinja",
    "openai-gpt-oss-120b.jinja",
    "Qwen3-Coder.jinja",
    "HuggingFaceTB-SmolLM3-3B.jinja",
    "meta-llama-Llama-3.2-3B-Instruct.jinja",
    "meta-llama-Llama-3.3-70B-Instruct.jinja",
    "Mistral-Small-3.2-24B-Instruct-2506.jinja",
    "ibm-granite-granite-3.3-2B-Instruct.jinja",
    "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja",
    "deepseek-ai-DeepSeek-V3.1.jinja",
    "meetkai-functionary-medium-v3.1.jinja",
    "meetkai-functionary-medium-v3.2.jinja",
    "fireworks-ai-llama-3-firefunction-v2.jinja",
    "GLM-4.6.jinja",
    "NVIDIA-Nemotron-Nano-v2.jinja",
    "LFM2-8B-A1B.jinja",
    "Kimi-K2-Instruct.jinja",
    "ByteDance-Seed-OSS.jinja",  # a dict literal with integer keys
]
# strftime_now's clock for reproducible renders: 2025-01-15 12:00:00 UTC.
NOW = 1736942400

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


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. Paris"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"}},
            "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "search_docs", "description": "Search the documentation.",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string", "description": "What to look for"},
            "top_k": {"type": "integer", "description": "How many results", "default": 3},
            "tags": {"type": "array", "items": {"type": "string"}, "description": "Filter tags"}},
            "required": ["query"]}}},
]
DOCUMENTS = [
    {"title": "Paris", "text": "Paris is the capital of France. About 2.1 million people live there."},
    {"title": "Lyon", "text": "Lyon is known for its cuisine.\nIt lies where the Rhône meets the Saône."},
]


def call(id_, name, args):
    return {"type": "function", "id": id_, "function": {"name": name, "arguments": args}}


TOOL_ROUNDTRIP = [
    m(S, "You are a weather bot."), m(U, "Weather in Paris and Lyon?"),
    {"role": "assistant", "content": "",
     "tool_calls": [call("call_1", "get_weather", {"city": "Paris", "unit": "celsius"})]},
    {"role": "tool", "name": "get_weather", "tool_call_id": "call_1", "content": "{\"temp\": 22, \"sky\": \"sunny\"}"},
    m(A, "It is 22°C and sunny in Paris."), m(U, "And tomorrow?"),
]
# (name, messages, variables, the names one of which the template text must mention to get the case)
SCENARIOS = [
    ("tools_defined", [m(S, "You are a weather bot."), m(U, "Weather in Paris?")], {"tools": TOOLS}, ["tools"]),
    ("tools_no_system", [m(U, "Find docs about FP8.")], {"tools": TOOLS}, ["tools"]),
    ("tools_roundtrip", TOOL_ROUNDTRIP, {"tools": TOOLS}, ["tools", "tool_calls"]),
    ("tools_roundtrip_no_defs", TOOL_ROUNDTRIP, {}, ["tool_calls"]),
    ("tools_string_args", [
        m(U, "Search for kv cache."),
        {"role": "assistant", "content": None,
         "tool_calls": [call("c1", "search_docs", "{\"query\": \"kv cache\", \"top_k\": 2}")]},
        {"role": "tool", "tool_call_id": "c1", "content": "3 results"}], {"tools": TOOLS}, ["tool_calls"]),
    ("tools_parallel", [
        m(U, "Weather in Paris and Lyon?"),
        {"role": "assistant", "content": "Checking both.",
         "tool_calls": [call("a", "get_weather", {"city": "Paris"}), call("b", "get_weather", {"city": "Lyon"})]},
        {"role": "tool", "tool_call_id": "a", "content": "22C"},
        {"role": "tool", "tool_call_id": "b", "content": "19C"}], {"tools": TOOLS}, ["tool_calls"]),
    ("rag_documents", [m(S, "Answer from the documents."), m(U, "What is the capital of France?")],
     {"documents": DOCUMENTS}, ["documents"]),
    ("thinking_off", [m(S, "Be brief."), m(U, "What is 2+2?")], {"enable_thinking": False}, ["enable_thinking"]),
    ("thinking_on", [m(S, "Be brief."), m(U, "What is 2+2?")], {"enable_thinking": True}, ["enable_thinking"]),
    ("thinking_off_tools", TOOL_ROUNDTRIP, {"tools": TOOLS, "enable_thinking": False}, ["enable_thinking"]),
    ("reasoning_history", [
        m(U, "What is 2+2?"), {"role": "assistant", "content": "<think>\nAdd them.\n</think>\n\n4"},
        m(U, "And 3+3?"), {"role": "assistant", "content": "6", "reasoning_content": "Add again.",
                           "thinking": "Add again."}],
     {}, ["reasoning_content", "</think>", "thinking"]),
    ("reasoning_effort_high", [m(S, "Be brief."), m(U, "Hi")], {"reasoning_effort": "high"}, ["reasoning_effort"]),
    ("thinking_budget_1000", [m(S, "Be brief."), m(U, "What is 2+2?")], {"thinking_budget": 1000},
     ["thinking_budget"]),
    ("thinking_budget_0", [m(U, "What is 2+2?")], {"thinking_budget": 0}, ["thinking_budget"]),
    ("thinking_budget_20000", [m(U, "What is 2+2?")], {"thinking_budget": 20000}, ["thinking_budget"]),
]


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
    "{% macro m() %}{% endmacro %}[{{ m() }}]",
    "{% macro greet(name, punct='!', n=n) -%}Hi {{ name }}{{ punct }}{{ n }}{%- endmacro %}{{ greet('a') }} {{ greet('b', '?') }} {{ greet(punct='.', name='c', n=1) }} [{{ greet() }}]",
    "{% macro rec(k) %}{% if k > 0 %}{{ k }}{{ rec(k - 1) }}{% endif %}{% endmacro %}{{ rec(5) }}",
    "{% macro v(a) %}{{ a }}|{{ varargs }}|{{ kwargs }}{% endmacro %}{{ v(1, 2, 3, x=4) }} {{ v() }}",
    "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ n }}{% endcall %}",
    "{% macro each(xs) %}{% for x in xs %}{{ caller(x, loop.index) }}{% endfor %}{% endmacro %}{% call(x, i) each(l) %}[{{ i }}:{{ x }}]{% endcall %}",
    "{% set x = 'outer' %}{% macro show() %}{{ x }}{% endmacro %}{% for x in ['loop'] %}{{ show() }}{% endfor %}{% set x = 'later' %}{{ show() }}",
    "{% macro m(a) %}{% set a = a ~ '!' %}{{ a }}{% endmacro %}{{ m('x') }}{{ a is defined }}",
    "{% macro m() %}x{% endmacro %}{{ m(1) }}",
    "{% macro m(a) %}x{% endmacro %}{{ m(b=1) }}",
    "{% macro m(a) %}x{% endmacro %}{{ m(1, a=2) }}",
    "{% macro m() %}{{ caller() }}{% endmacro %}{{ m() }}",
    "{% macro m() %}x{% endmacro %}{% call m() %}y{% endcall %}",
    "{% macro r() %}{{ r() }}{% endmacro %}{{ r() }}",
    "{% filter upper %}hello {{ s|trim }}{% endfilter %}|{% filter trim|replace('a', 'o') %}  banana  {% endfilter %}",
    "{% set blk | trim | upper %}  text {{ n }}  {% endset %}[{{ blk }}]",
    "{{ d.items is defined }} {{ d.get('b') }} {{ d['get'] is defined }} {{ s.upper is defined }} {{ s.nosuch is defined }} {{ d.pop is defined }}",
    "{{ l.count(1) }} {{ l.index(2) }} {{ (1, 2, 1).count(1) }} {{ 'a-b-c'.rsplit('-', 1) }} {{ 'pre_x'.removeprefix('pre_') }} {{ 'x.txt'.removesuffix('.txt') }}",
    "{{ d|dictsort }} {{ l|sort }} {{ l|sort(reverse=true) }} {{ messages|sort(attribute='role')|map(attribute='role')|list }} {{ ['b', 'A', 'c']|sort }} {{ ['b', 'A', 'c']|sort(case_sensitive=true) }}",
    "{{ l|map('string')|join }} {{ [1, none, 2]|select|list }} {{ l|select('odd')|list }} {{ l|reject('even')|list }}",
    "{{ 3 is lt 4 }} {{ 'ab' is in 'xaby' }} {{ none is sameas none }} {{ d is mapping }} {{ l is sequence }} {{ s is sequence }} {{ n is iterable }} {{ range is callable }} {{ l is not string }}",
    "{{ '{}-{}'.format('a', 1) }} {{ '{0}{1}{0}'.format('x', 2.5) }} {{ '{k}={v!r}'.format(k='a', v='b') }} {{ '{{literal}}'.format() }}",
    "{{ '<a>'|safe + '<b>' }} {{ '<a>' + '<b>'|safe }} {{ 'x&y'|e }} {{ ('<p>'|safe + '\"q\"')|length }} {{ '<i>' ~ ('<j>'|safe) }}",
    "{{ [1, 2]|map('string') is sequence }} {{ ([]|select) and 'gen-true' }} {{ none|map('upper')|list }} {{ missing|selectattr('a')|list }} {{ l|select('odd')|first }}",
    "{{ (l|select('odd'))[0] is defined }}",
    "{{ l|select('odd')|length }}",
    "{{ l|select('odd')|tojson }}",
    "{{ 'é😀'|tojson(ensure_ascii=true) }} {{ {'k': 'ü'}|tojson(ensure_ascii=true, sort_keys=true) }}",
    "{{ messages[5] is defined }} {{ (messages[5]['role'] is defined) if messages[5] is defined else 'nope' }}",
    # integer dict keys: lookups (also by True / 1.0), in, iteration, items, dictsort, repr, tojson, equality
    "{% set g = {0: 'a', 512: 'b', 64: 'c', '1': 'str'} %}{{ g[512] }} {{ g[0] }} {{ g['1'] }} {{ g[1] is defined }} {{ g[64.0] }} "
    "{{ 512 in g }} {{ '512' in g }} {{ 1 in g }} {{ g.get(64) }} {{ g.get(7, 'dflt') }} {{ g.keys()|list }} {{ g|list }}",
    "{% set g = {2048: 512, 0: 0, 512: 128, 16384: 1024} %}{% for k, v in g|dictsort %}{{ k }}={{ v }};{% endfor %} "
    "{{ g.items()|list }} {{ g }} {{ g|tojson }} {{ g|tojson(sort_keys=true) }} {{ g == {0: 0, 512: 128, 2048: 512, 16384: 1024} }} "
    "{{ {1: 'x'} == {'1': 'x'} }} {{ {1: 'x'}[true] }}",
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
        return datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc).replace(tzinfo=None).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[AssistantTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def find_sdist():
    """The llama-cpp-python sdist: in the cache (ours or bench_llamacpp.py's), else pip downloads it."""
    dl = CACHE / "llama-cpp-python"
    for cand in (dl / SDIST, CACHE / "bench" / "src" / SDIST):
        if cand.exists():
            return cand
    dl.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                    LLAMA_CPP_PY, "-d", str(dl)], check=True)
    return dl / SDIST


def fetch_extras(refresh):
    """Copies the selected llama.cpp templates into tests/goldens/chat/templates."""
    EXTRA_DIR.mkdir(parents=True, exist_ok=True)
    if not refresh and all((EXTRA_DIR / n).exists() for n in EXTRA_TEMPLATES):
        return
    with tarfile.open(find_sdist()) as tf:
        for member in tf.getmembers():
            name = os.path.basename(member.name)
            if "/vendor/llama.cpp/models/templates/" in member.name and name in EXTRA_TEMPLATES:
                (EXTRA_DIR / name).write_bytes(tf.extractfile(member).read())
    missing = [n for n in EXTRA_TEMPLATES if not (EXTRA_DIR / n).exists()]
    if missing:
        sys.exit(f"not in {SDIST}: {missing}")


def render_case(tmpl, t, cname, messages, agp, variables):
    case = {"template": t["name"], "conversation": cname, "add_generation_prompt": agp}
    if variables:
        case["kwargs"] = variables
    args = {"tools": None, "documents": None}
    args.update(variables)
    try:
        case["output"] = tmpl.render(messages=messages, add_generation_prompt=agp, bos_token=t["bos_token"],
                                     eos_token=t["eos_token"], **args)
    except Exception as e:  # the C++ side must fail too
        case["error"] = f"{type(e).__name__}: {e}"
    return case


def main():
    probe = "--probe" in sys.argv
    out_path = OUT
    env = make_env()
    templates = {}
    if probe:
        i = sys.argv.index("--probe")
        src_dir, out_path = pathlib.Path(sys.argv[i + 1]).resolve(), pathlib.Path(sys.argv[i + 2]).resolve()
        extras = sorted(src_dir.glob("*.jinja"))
    else:
        fetch_extras("--refresh" in sys.argv)
        extras = [EXTRA_DIR / n for n in EXTRA_TEMPLATES]
        for p in sorted(FAMILY_DIR.glob("*.jinja")):
            bos, eos = TOKENS.get(p.stem, DEFAULT_TOKENS)
            templates[p.stem] = {"file": str(p.relative_to(ROOT)), "bos_token": bos, "eos_token": eos}
    for p in extras:
        templates[p.stem] = {"file": str(p.relative_to(ROOT)) if not probe else str(p),
                             "bos_token": DEFAULT_TOKENS[0], "eos_token": DEFAULT_TOKENS[1]}
    conversations = dict(CONVERSATIONS)
    for name, msgs, _, _ in SCENARIOS:
        conversations[name] = msgs
    cases = []
    for tname, t in templates.items():
        t["name"] = tname
        # newline="" keeps the bytes as they are (jinja2 normalizes newlines itself).
        text = open(ROOT / t["file"], encoding="utf-8", newline="").read()
        try:
            tmpl = env.from_string(text)
        except Exception as e:
            print(f"{tname}: jinja2 cannot parse it: {e}", file=sys.stderr)
            continue
        for agp in (True, False):
            for cname, conv in CONVERSATIONS.items():
                cases.append(render_case(tmpl, t, cname, conv, agp, {}))
            for cname, msgs, variables, needs in SCENARIOS:
                if any(n in text for n in needs):
                    cases.append(render_case(tmpl, t, cname, msgs, agp, variables))
        del t["name"]
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
        "now": NOW,
        "templates": templates,
        "conversations": conversations,
        "cases": cases,
        "snippet_vars": SNIPPET_VARS,
        "snippets": snippets,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    n_err = sum("error" in c for c in cases)
    print(f"wrote {out_path}: {len(templates)} templates, {len(cases)} cases ({n_err} expected errors), "
          f"{len(snippets)} snippets", file=sys.stderr)


if __name__ == "__main__":
    main()
