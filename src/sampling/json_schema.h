// json_schema.h — JSON Schema -> GBNF (grammar.h), for structured outputs
// (the server's response_format, tool arguments, `f8 generate
// --json-schema`, f8_json_schema_to_grammar).
//
// The grammar generates JSON text that validates against the schema; what
// the grammar cannot express is refused (SchemaError::unsupported, naming the
// keyword and where it is) rather than ignored. Supported (docs/grammar.md
// has the table): type (one or a list), enum, const, anyOf, oneOf (as anyOf:
// the alternatives are expected to be disjoint), allOf of one schema, $ref
// to "#", "#/$defs/..", "#/definitions/.." or any "#/" JSON pointer
// (recursion allowed), properties, required, additionalProperties (false,
// true or a schema; absent = false when `properties` is given, as OpenAI's
// strict mode; an object schema without properties allows any members),
// items, prefixItems (and draft-4 tuple items / additionalItems), minItems,
// maxItems, minLength, maxLength, pattern (regex subset, json_schema_regex),
// format (date, time, date-time, uuid, email, ipv4), minimum, maximum,
// exclusiveMinimum, exclusiveMaximum (draft-4 booleans too) on integer and
// number; annotations (title, description, default, examples, $schema, $id,
// $comment, deprecated, readOnly, writeOnly, $defs, definitions) are
// ignored.
//
// Generated text: members in the order the schema declares them (required
// or not), whitespace limited to nothing, one space, or a newline and up to
// 20 spaces/tabs between tokens (a model cannot pad forever); integers of
// at most 16 digits, fractions of at most 16 digits, exponents of at most 2
// digits (bounded numbers never use exponents).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace f8::sampling {

struct SchemaError {
  bool unsupported = false;  // true: valid JSON Schema that f8 cannot enforce
  std::string message;       // names the keyword and its location ("at /properties/age: ...")
};

// schema_json: the schema (JSON text). root_name: the start rule; every
// other rule is named root_name + "-..." so several conversions can share
// one grammar text. Returns false with *err on failure.
bool json_schema_to_gbnf(const std::string& schema_json, const std::string& root_name, std::string* gbnf,
                         SchemaError* err);

// --- pieces, exposed for tests and for json_schema_grammar.cpp ---

// A decimal number as written in a schema (exact: no binary rounding).
struct Decimal {
  bool neg = false;
  std::string int_part = "0";  // no leading zeros
  std::string frac;            // no trailing zeros
  // Parses the text of a JSON number ("12", "-0.5", "1e-07", "2.5E+3").
  static std::optional<Decimal> parse(const std::string& text);
  bool is_zero() const { return int_part == "0" && frac.empty(); }
};
int compare(const Decimal& a, const Decimal& b);  // -1, 0, 1

struct NumBound {
  Decimal value;
  bool inclusive = true;
};

// GBNF expressions (no rules of their own), or "" when the range is empty.
// Integers: "-"? digits without leading zeros, in [lo, hi].
std::string integer_range_gbnf(std::optional<int64_t> lo, std::optional<int64_t> hi);
// Decimal numbers without exponent between the bounds; the integer part is
// limited to int64 magnitudes.
std::string number_range_gbnf(const std::optional<NumBound>& lo, const std::optional<NumBound>& hi);

// A set of code points as inclusive ranges.
using CodeRanges = std::vector<std::pair<uint32_t, uint32_t>>;
// GBNF for one JSON string character (raw, or the escape JSON requires)
// whose decoded value is in `set`.
std::string json_char_gbnf(const CodeRanges& set);
// GBNF for the inside of a JSON string (between the quotes) whose decoded
// value matches the ECMA-262 regex `pattern` (subset: see json_schema_regex.cpp).
// Returns false with *err (naming the construct) when outside the subset.
bool regex_to_gbnf(const std::string& pattern, std::string* gbnf, std::string* err);
// GBNF for the inside of a JSON string of the given format ("" when unknown).
std::string format_gbnf(const std::string& format);

}  // namespace f8::sampling
