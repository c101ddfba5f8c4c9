// cmd_list.cpp — `f8 list`: the models `f8 pull` made ($F8_HOME/models/*.f8)
// with the repo, revision and commit they came from (their general.source.*
// metadata), size and weight format.
#ifdef F8_HAVE_HUB
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "args.h"
#include "command.h"
#include "hub/hub_env.h"
#include "hub/model_store.h"
#include "util_pull_progress.h"

namespace {

std::string format_of(const f8hub::PulledModel& m) {
  if (m.weights.empty()) return "?";
  std::string f = m.weights;
  if (!m.scale.empty() && m.weights != "bf16") f += "/" + m.scale;
  if (m.calibrated) f += "+calib";
  return f;
}

int cmd_list(int argc, char** argv) {
  using namespace f8cli;
  bool json = false;
  ArgParser p("f8 list", "[--json]",
              "The models pulled with `f8 pull` ($F8_HOME/models, F8_HOME default ~/.cache/f8): name,\n"
              "revision (and the commit it was), size, weight format and file.");
  p.flag("--json", &json, "one JSON array");
  int rc = 0;
  if (!p.parse(argc, argv, &rc)) return rc;
  const f8hub::HubEnv env = f8hub::hub_env_from();
  const auto models = f8hub::list_models(f8hub::models_dir(env));
  if (json) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& m : models) {
      nlohmann::json o = {{"path", m.path}, {"size", m.size}, {"repo", m.repo}, {"revision", m.revision},
                          {"commit", m.commit}, {"format", format_of(m)}};
      if (!m.error.empty()) o["error"] = m.error;
      a.push_back(o);
    }
    std::printf("%s\n", a.dump(2).c_str());
    return 0;
  }
  if (models.empty()) {
    std::fprintf(stderr, "f8: no pulled models in %s (f8 pull ORG/NAME makes one)\n",
                 f8hub::models_dir(env).c_str());
    return 0;
  }
  std::printf("%-44s %-24s %10s  %-18s %s\n", "NAME", "REVISION", "SIZE", "FORMAT", "FILE");
  for (const auto& m : models) {
    const std::string file = m.path.substr(m.path.rfind('/') + 1);
    if (!m.error.empty()) {
      std::printf("%-44s %-24s %10s  %-18s %s\n", "(unreadable)", "-", human_bytes(m.size).c_str(), "-", file.c_str());
      continue;
    }
    const std::string rev = m.revision.empty() ? "-" : m.revision + (m.commit.empty() ? "" : " (" + m.commit.substr(0, 8) + ")");
    std::printf("%-44s %-24s %10s  %-18s %s\n", m.repo.empty() ? "(not pulled)" : m.repo.c_str(), rev.c_str(),
                human_bytes(m.size).c_str(), format_of(m).c_str(), file.c_str());
  }
  return 0;
}

}  // namespace

F8_COMMAND("list", "the models pulled from the Hub (name, revision, size, format)", cmd_list);

#endif  // F8_HAVE_HUB
