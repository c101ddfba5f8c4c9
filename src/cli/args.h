// args.h — one small flag parser shared by every subcommand so that flags,
// `--help` (with defaults shown) and usage errors look the same everywhere.
//
//   ArgParser p("f8 inspect", "FILE [options]", "Show what is in a .f8 file.");
//   p.positional("FILE", &path, "the .f8 file");
//   p.flag("--json", &json, "machine-readable output");
//   int rc; if (!p.parse(argc, argv, &rc)) return rc;   // --help -> 0, error -> 2
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace f8cli {

class ArgParser {
 public:
  ArgParser(std::string prog, std::string usage, std::string description);

  // `names` is a comma-separated list of spellings, e.g. "-m,--model".
  void option(const char* names, std::string* dst, const char* metavar, const char* help,
              bool required = false);
  void option(const char* names, int64_t* dst, const char* metavar, const char* help);
  void option(const char* names, double* dst, const char* metavar, const char* help);
  void option(const char* names, std::vector<std::string>* dst, const char* metavar,
              const char* help);  // repeatable
  void flag(const char* names, bool* dst, const char* help);  // switch, no value
  void positional(const char* name, std::string* dst, const char* help, bool required = true);
  // Free text appended to --help (examples, notes).
  void epilog(std::string text);

  // Returns true to continue. Returns false with *exit_code = 0 after
  // printing --help, or 2 after printing one "f8 <cmd>: error: ..." line.
  bool parse(int argc, char** argv, int* exit_code);

  // Whether an option was given explicitly on the command line.
  bool given(const char* name) const;

  std::string help() const;

 private:
  enum class Kind { Str, Int, Real, List, Flag };
  struct Opt {
    std::vector<std::string> names;
    Kind kind;
    void* dst;
    std::string metavar, help, def;
    bool required = false, seen = false;
  };
  struct Pos {
    std::string name;
    std::string* dst;
    std::string help;
    bool required;
  };
  Opt* find(const std::string& name);
  bool set_value(Opt& o, const std::string& name, const std::string& v, std::string* err);

  std::string prog_, usage_, desc_, epilog_;
  std::vector<Opt> opts_;
  std::vector<Pos> pos_;
};

// Prints "f8: error: <msg>" to stderr; returns `code` for `return fail(...)`.
int fail(int code, const std::string& msg);

}  // namespace f8cli
