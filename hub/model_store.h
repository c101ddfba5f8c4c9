// model_store.h — the .f8 files `f8 pull` makes, one per repo, revision and
// set of convert options:
//
//   $F8_HOME/models/ORG--NAME[--REVISION][--OPTIONS].f8
//
// REVISION appears only when one was asked for (and is not "main"); OPTIONS
// is the CLI's tag for non-default convert options (e.g. "e5m2-block").
// Each file records where it came from in its metadata
// (general.source.repo / .revision / .commit, ggf8/keys.h), which is what
// `f8 list` shows and `f8 rm` matches; the name is only a convention.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hub/hub_env.h"
#include "hub/repo_ref.h"

namespace f8hub {

std::string models_dir(const HubEnv& env);  // $F8_HOME/models

// "ORG--NAME[--REV][--TAG].f8"
std::string model_file_name(const RepoRef& ref, const std::string& options_tag);

struct PulledModel {
  std::string path;
  uint64_t size = 0;
  std::string repo, revision, commit;   // from the metadata; empty when absent
  std::string weights, scale;           // quant.weights, quant.scale
  bool calibrated = false;              // quant.activations = "static"
  std::string error;                    // the file could not be read (still listed)
};

// Every *.f8 in `dir` (sorted by name); temporary files of a conversion in
// progress (*.tmp.*) are skipped.
std::vector<PulledModel> list_models(const std::string& dir);

// Reads one file's source metadata; false with m->error when unreadable.
bool read_model_source(const std::string& path, PulledModel* m);

}  // namespace f8hub
