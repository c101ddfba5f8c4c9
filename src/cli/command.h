// command.h — subcommand registry for the `f8` binary. Each subcommand lives
// in its own cmd_<name>.cpp and registers itself with F8_COMMAND, so adding a
// command never touches main.cpp.
//
// Exit codes (CLI.md): 0 success, 1 runtime failure, 2 usage error.
#pragma once

#include <vector>

namespace f8cli {

using CommandFn = int (*)(int argc, char** argv);  // argv[0] is the command name

struct Command {
  const char* name;
  const char* summary;  // one line for `f8 --help`
  CommandFn run;
};

const std::vector<Command>& commands();

struct Registrar {
  Registrar(const char* name, const char* summary, CommandFn fn);
};

}  // namespace f8cli

#define F8_COMMAND(name, summary, fn) \
  static ::f8cli::Registrar f8cli_registrar_##fn(name, summary, fn)
