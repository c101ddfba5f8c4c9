"""JSON Schema -> grammar (src/sampling/json_schema*.cpp), checked with the
`jsonschema` package (Draft 2020-12, with its format checker; `rfc3339-validator`
makes it check date-time and time):

- soundness: random texts of each schema's grammar (build/bin/grammar_tool
  sample: a random walk over the bytes the grammar allows, biased to finish)
  all parse with json.loads and validate;
- completeness where it matters: hand-written valid instances, serialized
  compactly, as json.dumps writes them, and indented, are matched; instances
  that violate the schema are not.

The schemas are the kinds people write for structured outputs: nested
objects, required/optional members, additionalProperties, enum/const,
arrays with bounds, anyOf/oneOf, $ref/$defs (also recursive), number and
integer bounds, patterns, formats, lengths.
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

jsonschema = pytest.importorskip("jsonschema")

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("F8_BUILD", ROOT / "build"))
if not BUILD.is_absolute():
    BUILD = ROOT / BUILD
TOOL = BUILD / "bin" / "grammar_tool"

pytestmark = pytest.mark.skipif(not TOOL.exists(), reason=f"{TOOL} not built")

SAMPLES = 60

# name -> (schema, valid instances, invalid instances)
SCHEMAS = {
    "person": ({
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 40},
            "age": {"type": "integer", "minimum": 0, "maximum": 150},
            "email": {"type": "string", "format": "email"},
            "tags": {"type": "array", "items": {"enum": ["a", "b", "vip"]}, "minItems": 1, "maxItems": 3},
            "address": {
                "type": "object",
                "properties": {"street": {"type": "string", "maxLength": 30},
                               "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
                "required": ["zip"],
                "additionalProperties": False,
            },
        },
        "required": ["name", "age", "tags"],
        "additionalProperties": False,
    }, [
        {"name": "Ann", "age": 31, "tags": ["vip"]},
        {"name": "Bo", "age": 0, "email": "bo@example.org", "tags": ["a", "b"], "address": {"zip": "12345"}},
        {"name": "C", "age": 150, "tags": ["b"], "address": {"street": "Main St 1", "zip": "00000"}},
    ], [
        {"name": "", "age": 3, "tags": ["a"]},
        {"name": "Ann", "age": 151, "tags": ["a"]},
        {"name": "Ann", "age": 3, "tags": []},
        {"name": "Ann", "age": 3, "tags": ["a"], "extra": 1},
        {"name": "Ann", "age": 3, "tags": ["a"], "address": {"zip": "1234"}},
    ]),
    "pydantic_optional_defs": ({
        "$defs": {
            "Item": {"type": "object", "title": "Item",
                     "properties": {"sku": {"type": "string", "title": "Sku"},
                                    "qty": {"type": "integer", "exclusiveMinimum": 0, "title": "Qty"},
                                    "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}},
                     "required": ["sku", "qty"]},
        },
        "type": "object", "title": "Order",
        "properties": {"id": {"type": "string", "format": "uuid"},
                       "items": {"type": "array", "items": {"$ref": "#/$defs/Item"}, "maxItems": 4},
                       "paid": {"type": "boolean"},
                       "total": {"type": "number", "minimum": 0}},
        "required": ["id", "items", "paid", "total"],
    }, [
        {"id": "123e4567-e89b-12d3-a456-426614174000", "items": [], "paid": False, "total": 0},
        {"id": "123e4567-e89b-12d3-a456-426614174000", "items": [{"sku": "x", "qty": 2, "note": None}],
         "paid": True, "total": 19.99},
    ], [
        {"id": "nope", "items": [], "paid": False, "total": 0},
        {"id": "123e4567-e89b-12d3-a456-426614174000", "items": [{"sku": "x", "qty": 0}], "paid": True, "total": 1},
        {"id": "123e4567-e89b-12d3-a456-426614174000", "items": [], "paid": True, "total": -1},
    ]),
    "recursive_tree": ({
        "type": "object",
        "properties": {"value": {"type": "integer", "minimum": -9, "maximum": 9},
                       "children": {"type": "array", "items": {"$ref": "#"}, "maxItems": 2}},
        "required": ["value", "children"],
        "additionalProperties": False,
    }, [
        {"value": 1, "children": []},
        {"value": -3, "children": [{"value": 4, "children": [{"value": 0, "children": []}]}]},
    ], [
        {"value": 10, "children": []},
        {"value": 1, "children": [{"value": 1}]},
    ]),
    "enum_const_mix": ({
        "type": "object",
        "properties": {"kind": {"const": "point"},
                       "level": {"enum": [1, 2.5, "high", None, True, {"x": [1, 2]}]},
                       "unit": {"type": "string", "enum": ["cm", "in"]}},
        "required": ["kind", "level", "unit"],
    }, [
        {"kind": "point", "level": 2.5, "unit": "cm"},
        {"kind": "point", "level": {"x": [1, 2]}, "unit": "in"},
        {"kind": "point", "level": None, "unit": "in"},
    ], [
        {"kind": "line", "level": 1, "unit": "cm"},
        {"kind": "point", "level": 3, "unit": "cm"},
    ]),
    "number_bounds": ({
        "type": "object",
        "properties": {"p": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                       "t": {"type": "number", "minimum": -273.15, "maximum": 1e3},
                       "n": {"type": "integer", "minimum": -5, "exclusiveMaximum": 10.5},
                       "big": {"type": "integer", "minimum": 1000000},
                       "neg": {"type": "number", "maximum": -0.5},
                       "free": {"type": "number"}},
        "required": ["p", "t", "n", "big", "neg", "free"],
    }, [
        {"p": 0.5, "t": -273.15, "n": 10, "big": 1000000, "neg": -0.5, "free": 1.5e10},
        {"p": 0.999, "t": 1000, "n": -5, "big": 123456789, "neg": -100, "free": -0.0},
    ], [
        {"p": 0, "t": 0, "n": 0, "big": 1000000, "neg": -1, "free": 1},
        {"p": 0.5, "t": -273.16, "n": 0, "big": 1000000, "neg": -1, "free": 1},
        {"p": 0.5, "t": 0, "n": 11, "big": 1000000, "neg": -1, "free": 1},
        {"p": 0.5, "t": 0, "n": 0, "big": 999999, "neg": -1, "free": 1},
        {"p": 0.5, "t": 0, "n": 0, "big": 1000000, "neg": -0.4, "free": 1},
    ]),
    "patterns": ({
        "type": "object",
        "properties": {"phone": {"type": "string", "pattern": "^\\d{3}-\\d{4}$"},
                       "pet": {"type": "string", "pattern": "^(cat|dog)s?$"},
                       "word": {"type": "string", "pattern": "^[A-Z][a-z]+$"},
                       "contains": {"type": "string", "pattern": "ab+c"},
                       "code": {"type": "string", "pattern": "^[A-F0-9]{2,4}(-[xy])?$"},
                       "quoted": {"type": "string", "pattern": "^\"[^\"\\\\]*\"$"},
                       "uni": {"type": "string", "pattern": "^[à-ÿ]{1,3}\\.$"}},
        "required": ["phone", "pet", "word", "contains", "code", "quoted", "uni"],
    }, [
        {"phone": "555-1234", "pet": "cats", "word": "Hello", "contains": "xxabbbcyy", "code": "AF-x",
         "quoted": "\"hi\"", "uni": "éà."},
        {"phone": "000-0000", "pet": "dog", "word": "Ab", "contains": "abc", "code": "0123",
         "quoted": "\"\"", "uni": "ÿ."},
    ], [
        {"phone": "5551234", "pet": "cat", "word": "Ab", "contains": "abc", "code": "AF", "quoted": "\"\"", "uni": "é."},
        {"phone": "555-1234", "pet": "cow", "word": "Ab", "contains": "abc", "code": "AF", "quoted": "\"\"", "uni": "é."},
        {"phone": "555-1234", "pet": "cat", "word": "ab", "contains": "abc", "code": "AF", "quoted": "\"\"", "uni": "é."},
        {"phone": "555-1234", "pet": "cat", "word": "Ab", "contains": "ac", "code": "AF", "quoted": "\"\"", "uni": "é."},
    ]),
    "formats": ({
        "type": "object",
        "properties": {"d": {"type": "string", "format": "date"},
                       "dt": {"type": "string", "format": "date-time"},
                       "t": {"type": "string", "format": "time"},
                       "u": {"type": "string", "format": "uuid"},
                       "e": {"type": "string", "format": "email"},
                       "ip": {"type": "string", "format": "ipv4"}},
        "required": ["d", "dt", "t", "u", "e", "ip"],
    }, [
        {"d": "2024-02-29", "dt": "2000-02-29T23:59:59.123+05:30", "t": "00:00:00Z",
         "u": "00000000-0000-0000-0000-000000000000", "e": "a.b+c@sub.example.com", "ip": "255.0.10.1"},
    ], [
        {"d": "2023-02-29", "dt": "2000-02-29T23:59:59Z", "t": "00:00:00Z",
         "u": "00000000-0000-0000-0000-000000000000", "e": "a@b.cd", "ip": "1.1.1.1"},
        {"d": "1900-02-29", "dt": "2000-02-29T23:59:59Z", "t": "00:00:00Z",
         "u": "00000000-0000-0000-0000-000000000000", "e": "a@b.cd", "ip": "1.1.1.1"},
        {"d": "2024-01-01", "dt": "2000-02-29T24:00:00Z", "t": "00:00:00Z",
         "u": "00000000-0000-0000-0000-000000000000", "e": "a@b.cd", "ip": "1.1.1.1"},
        {"d": "2024-01-01", "dt": "2000-02-29T23:00:00Z", "t": "00:00:00Z",
         "u": "00000000-0000-0000-0000-000000000000", "e": "a@b.cd", "ip": "1.1.1.256"},
    ]),
    "arrays": ({
        "type": "object",
        "properties": {"pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}],
                                "items": False},
                       "triple": {"type": "array", "items": {"type": "number"}, "minItems": 3, "maxItems": 3},
                       "grid": {"type": "array", "items": {"type": "array", "items": {"type": "boolean"},
                                                           "maxItems": 2}, "maxItems": 2},
                       "any": {"type": "array"}},
        "required": ["pair", "triple", "grid", "any"],
    }, [
        {"pair": ["a", 1], "triple": [1, 2.5, -3], "grid": [[True], []], "any": [1, "x", None, {"k": []}]},
    ], [
        {"pair": ["a", 1, 2], "triple": [1, 2, 3], "grid": [], "any": []},
        {"pair": ["a", 1], "triple": [1, 2], "grid": [], "any": []},
        {"pair": ["a", 1], "triple": [1, 2, 3], "grid": [[True, False, True]], "any": []},
    ]),
    "extra_properties": ({
        "type": "object",
        "properties": {"id": {"type": "integer"}, "we\"ird": {"type": "boolean"}, "ключ": {"type": "null"}},
        "required": ["id"],
        "additionalProperties": {"type": "string", "maxLength": 5},
    }, [
        {"id": 1},
        {"id": 2, "we\"ird": True, "ключ": None, "other": "x", "idx": "y", "i": "z", "ключи": ""},
    ], [
        {"id": 1, "other": 3},
        {"id": 1, "other": "toolong"},
        {"id": 1, "id": "x"},  # json.dumps keeps the last one: {"id": "x"} (no integer id)
    ]),
    "unions": ({
        "type": "object",
        "properties": {
            "shape": {"oneOf": [
                {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number", "minimum": 0}},
                 "required": ["kind", "r"], "additionalProperties": False},
                {"type": "object", "properties": {"kind": {"const": "rect"}, "w": {"type": "integer"},
                                                  "h": {"type": "integer"}},
                 "required": ["kind", "w", "h"], "additionalProperties": False}]},
            "maybe": {"type": ["string", "null"], "maxLength": 3},
        },
        "required": ["shape", "maybe"],
    }, [
        {"shape": {"kind": "circle", "r": 1.5}, "maybe": None},
        {"shape": {"kind": "rect", "w": 1, "h": 2}, "maybe": "abc"},
    ], [
        {"shape": {"kind": "circle", "w": 1, "h": 2}, "maybe": None},
        {"shape": {"kind": "rect", "w": 1, "h": 2}, "maybe": "abcd"},
    ]),
    "any_value": ({}, [1, "x", None, [1, {"a": {}}], {"k": [True, -0.5e3]}], []),
    "any_object": ({"type": "object"}, [{}, {"a": 1, "b": [None, "x"]}], [[1], "x"]),
}


def run_tool(*args, stdin=None):
    return subprocess.run([str(TOOL), *map(str, args)], input=stdin, capture_output=True, text=True, timeout=120)


def forms(instance):
    """The instance serialized the ways a model tends to write JSON."""
    return [json.dumps(instance, ensure_ascii=False), json.dumps(instance, ensure_ascii=False, separators=(",", ":")),
            json.dumps(instance, ensure_ascii=False, indent=2)]


@pytest.fixture(params=sorted(SCHEMAS))
def case(request, tmp_path):
    schema, valid, invalid = SCHEMAS[request.param]
    path = tmp_path / f"{request.param}.json"
    path.write_text(json.dumps(schema), encoding="utf-8")
    return request.param, schema, path, valid, invalid


def test_samples_validate(case):
    name, schema, path, _, _ = case
    r = run_tool("sample", path, SAMPLES, 1234)
    assert r.returncode == 0, r.stderr
    texts = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(texts) == SAMPLES
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for text in texts:
        value = json.loads(text)  # must parse
        errors = list(validator.iter_errors(value))
        assert not errors, f"{name}: {text!r}: {errors[0].message}"


def test_valid_instances_match_and_invalid_do_not(case):
    name, schema, path, valid, invalid = case
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    texts, want = [], []
    for inst in valid:
        assert validator.is_valid(inst), f"fixture {name}: {inst} should be valid"
        for t in forms(inst):
            texts.append(t)
            want.append("1")
    for inst in invalid:
        assert not validator.is_valid(inst), f"fixture {name}: {inst} should be invalid"
        texts.append(json.dumps(inst, ensure_ascii=False))
        want.append("0")
    if not texts:
        return
    r = run_tool("check", path, stdin="".join(json.dumps(t) + "\n" for t in texts))
    assert r.returncode == 0, r.stderr
    got = r.stdout.split()
    for t, g, w in zip(texts, got, want):
        assert g == w, f"{name}: grammar {'rejects' if w == '1' else 'accepts'} {t!r}"


@pytest.mark.parametrize("schema,needle", [
    ({"type": "number", "multipleOf": 2}, "'multipleOf' is not supported"),
    ({"type": "object", "properties": {"a": {"type": "string", "pattern": "(?<=x)y"}}}, "/properties/a/pattern"),
    ({"type": "string", "pattern": "\\bword"}, "word boundaries"),
    ({"type": "string", "pattern": "(a)\\1"}, "backreferences"),
    ({"type": "string", "format": "uri"}, "format 'uri' is not supported"),
    ({"patternProperties": {"^x": {}}}, "'patternProperties' is not supported"),
])
def test_unsupported_is_refused_naming_the_keyword(tmp_path, schema, needle):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(schema))
    r = run_tool("gbnf", path)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert needle in r.stderr
