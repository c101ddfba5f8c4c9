// util_pull.h — `f8 pull` as a function (cmd_pull.cpp is its flags), and the
// `-m ORG/NAME` resolution every running command shares: a path that exists
// always wins; a string shaped ORG/NAME[@REV] that is not a file names the
// pulled .f8 ($F8_HOME/models/ORG--NAME[--REV].f8), pulled and converted
// with the default options first when it is missing.
#pragma once

#include <string>

#include "args.h"
#include "util_convert.h"

namespace f8cli {

struct PullRequest {
  std::string spec;          // "ORG/NAME[@REV]"
  ConvertFlags convert;      // the convert options (defaults: E4M3, channel scales)
  const ArgParser* parser = nullptr;  // where `convert` was parsed (for given()); null: defaults
  int jobs = 4;              // files downloaded at once
  bool print_path = true;    // the .f8 path as the last line of stdout
};

// Downloads (or finds in the cache) and converts; progress on stderr.
// *path = the .f8. Returns the exit code: 0, 1 runtime, 2 usage, 130 Ctrl-C.
int pull_model(const PullRequest& req, std::string* path);

// For `-m`: replaces *model with the pulled .f8 when it names a Hub repo
// (pulling first when missing, with a message); leaves it unchanged
// otherwise. *repo (optional) receives "ORG/NAME[@REV]" when it did.
// Returns 0 or a failed pull's exit code.
int resolve_model_flag(std::string* model, std::string* repo = nullptr);

}  // namespace f8cli
