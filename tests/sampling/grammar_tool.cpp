// grammar_tool — test driver for the JSON Schema -> grammar conversion, used
// by tests/py/test_json_schema_grammar.py (which validates with the Python
// `jsonschema` package):
//
//   grammar_tool gbnf SCHEMA_FILE              print the grammar
//   grammar_tool sample SCHEMA_FILE N SEED     N random texts of the grammar, one JSON string per line
//   grammar_tool check SCHEMA_FILE             for each line of stdin (a JSON string holding a text):
//                                              "1" if the grammar matches the text, else "0"
//   grammar_tool gbnf-sample GBNF_FILE N SEED  random texts of a grammar file (root rule "root")
//
// Errors: "error: <message>" on stderr, exit 1 (unsupported: exit 3).
// Sampling walks the byte-level DFA: each step picks a byte uniformly among
// those that can follow; at a complete match it stops with probability 1/4;
// past 300 bytes it follows a shortest path to a complete match, so every
// sample terminates.
#include <cstdio>
#include <deque>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "sampling/grammar.h"
#include "sampling/grammar_matcher.h"
#include "sampling/json_schema.h"

using namespace f8::sampling;

namespace {

std::string read_file(const char* path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    fprintf(stderr, "error: cannot read %s\n", path);
    exit(1);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// First byte of a shortest path from `s` to an accepting state (-1: none within reach).
int toward_accept(GrammarMatcher& m, int32_t s) {
  std::map<int32_t, int> first;  // state -> first byte used to reach it
  std::deque<int32_t> q = {s};
  first[s] = -1;
  while (!q.empty() && first.size() < 20000) {
    int32_t x = q.front();
    q.pop_front();
    if (m.accepting(x) && x != s) return first[x];
    for (int b = 0; b < 256; ++b) {
      int32_t y = m.step(x, uint8_t(b));
      if (y == GrammarMatcher::kDead || first.count(y)) continue;
      first[y] = x == s ? b : first[x];
      q.push_back(y);
    }
  }
  return -1;
}

int sample(std::shared_ptr<const Grammar> g, int n, unsigned seed) {
  GrammarMatcher m(g);
  std::mt19937 rng(seed);
  for (int i = 0; i < n; ++i) {
    m.reset();
    std::string text;
    for (;;) {
      int32_t s = m.state();
      if (m.accepting(s) && (!m.can_continue(s) || rng() % 4 == 0)) break;
      int b = -1;
      if (text.size() > 300) b = toward_accept(m, s);
      if (b < 0) {
        std::vector<int> ok;
        for (int c = 0; c < 256; ++c)
          if (m.step(s, uint8_t(c)) != GrammarMatcher::kDead) ok.push_back(c);
        if (ok.empty()) {
          fprintf(stderr, "error: stuck after %zu bytes\n", text.size());
          return 1;
        }
        b = ok[rng() % ok.size()];
      }
      m.advance(std::string(1, char(b)));
      text += char(b);
      if (text.size() > 5000) {
        fprintf(stderr, "error: no end in sight after 5000 bytes\n");
        return 1;
      }
    }
    std::cout << nlohmann::json(text).dump() << "\n";
  }
  return 0;
}

std::shared_ptr<const Grammar> from_schema(const char* path) {
  std::string gbnf;
  SchemaError err;
  if (!json_schema_to_gbnf(read_file(path), "root", &gbnf, &err)) {
    fprintf(stderr, "error: %s\n", err.message.c_str());
    exit(err.unsupported ? 3 : 1);
  }
  auto g = std::make_shared<Grammar>();
  std::string e = parse_grammar(gbnf, "root", g.get());
  if (!e.empty()) {
    fprintf(stderr, "error: %s\n", e.c_str());
    exit(1);
  }
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: grammar_tool gbnf|sample|check|gbnf-sample FILE [N SEED]\n");
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "gbnf") {
    std::string gbnf;
    SchemaError err;
    if (!json_schema_to_gbnf(read_file(argv[2]), "root", &gbnf, &err)) {
      fprintf(stderr, "error: %s\n", err.message.c_str());
      return err.unsupported ? 3 : 1;
    }
    std::cout << gbnf;
    return 0;
  }
  if (cmd == "sample" && argc >= 5) return sample(from_schema(argv[2]), atoi(argv[3]), unsigned(atoi(argv[4])));
  if (cmd == "gbnf-sample" && argc >= 5) {
    auto g = std::make_shared<Grammar>();
    std::string e = parse_grammar(read_file(argv[2]), "root", g.get());
    if (!e.empty()) {
      fprintf(stderr, "error: %s\n", e.c_str());
      return 1;
    }
    return sample(g, atoi(argv[3]), unsigned(atoi(argv[4])));
  }
  if (cmd == "check") {
    auto g = from_schema(argv[2]);
    GrammarMatcher m(g);
    std::string line;
    while (std::getline(std::cin, line)) {
      std::string text = nlohmann::json::parse(line).get<std::string>();
      m.reset();
      bool ok = m.advance(text) && m.accepting(m.state());
      std::cout << (ok ? "1" : "0") << "\n";
    }
    return 0;
  }
  fprintf(stderr, "usage: grammar_tool gbnf|sample|check|gbnf-sample FILE [N SEED]\n");
  return 2;
}
