// main.cpp — `f8 <command> [options]`. Commands register themselves
// (command.h); this file only dispatches and prints the top-level help.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "command.h"
#include "f8.h"

namespace f8cli {

static std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}
const std::vector<Command>& commands() { return registry(); }
Registrar::Registrar(const char* name, const char* summary, CommandFn fn) {
  registry().push_back({name, summary, fn});
}

static void usage(FILE* f) {
  std::fprintf(f, "f8 %s — FP8 local LLM inference\n\nusage: f8 <command> [options]\n\ncommands:\n",
               f8_version());
  for (const auto& c : commands()) std::fprintf(f, "  %-12s %s\n", c.name, c.summary);
  std::fprintf(f, "\nRun `f8 <command> --help` for a command's options.\n");
}

}  // namespace f8cli

int main(int argc, char** argv) {
  using namespace f8cli;
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    usage(stdout);
    return 0;
  }
  if (cmd == "--version" || cmd == "version") {
    std::printf("f8 %s\n", f8_version());
    // Which CPU kernels run (the cpu-simd tier "auto" picks; F8_CPU_ISA caps it).
    char desc[256];
    if (f8_backend_probe("cpu", desc, sizeof desc) == F8_OK) std::printf("cpu kernels: %s\n", desc);
    else std::printf("cpu kernels: unavailable (%s)\n", f8_last_error());
    return 0;
  }
  for (const auto& c : commands()) {
    if (cmd == c.name) {
      try {
        return c.run(argc - 1, argv + 1);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "f8 %s: internal error: %s\n", c.name, e.what());
        return 1;
      }
    }
  }
  std::fprintf(stderr, "f8: error: unknown command '%s' (run `f8 --help`)\n", cmd.c_str());
  return 2;
}
