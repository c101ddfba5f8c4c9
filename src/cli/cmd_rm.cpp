// cmd_rm.cpp — `f8 rm ORG/NAME[@REV] [--purge]`: deletes the .f8 files
// `f8 pull` made from that repo (every revision and option set, or only
// @REV's); --purge also deletes the repo's folder in the huggingface_hub
// cache (models--ORG--NAME, shared with transformers: it is downloaded
// again on next use).
#ifdef F8_HAVE_HUB
#include <cstdio>
#include <filesystem>
#include <string>

#include "args.h"
#include "command.h"
#include "hub/hub_cache.h"
#include "hub/hub_env.h"
#include "hub/model_store.h"
#include "hub/repo_ref.h"
#include "util_pull_progress.h"

namespace {

int cmd_rm(int argc, char** argv) {
  using namespace f8cli;
  namespace fs = std::filesystem;
  std::string spec;
  bool purge = false;
  ArgParser p("f8 rm", "ORG/NAME[@REVISION] [--purge]",
              "Delete the .f8 files pulled from ORG/NAME (all revisions and convert options, or only\n"
              "@REVISION's). The downloaded checkpoint stays in the huggingface_hub cache unless --purge.");
  p.positional("REPO", &spec, "ORG/NAME[@REVISION] as given to f8 pull (see f8 list)");
  p.flag("--purge", &purge,
         "also delete the repo from the huggingface_hub cache (models--ORG--NAME: every revision, "
         "also what transformers downloaded)");
  int rc = 0;
  if (!p.parse(argc, argv, &rc)) return rc;
  f8hub::RepoRef ref;
  std::string err;
  if (!f8hub::parse_repo_ref(spec, &ref, &err)) return fail(2, "f8 rm: " + err);
  if (purge && ref.revision_given)
    return fail(2, "f8 rm: --purge deletes the whole repo from the Hub cache; drop @" + ref.revision);
  const f8hub::HubEnv env = f8hub::hub_env_from();
  int removed = 0;
  for (const auto& m : f8hub::list_models(f8hub::models_dir(env))) {
    // By metadata; an unreadable file by its name (ORG--NAME.f8, ORG--NAME--*.f8).
    bool match = m.repo == ref.repo && (!ref.revision_given || m.revision == ref.revision);
    if (!m.error.empty() && !ref.revision_given) {
      const std::string file = m.path.substr(m.path.rfind('/') + 1);
      const std::string stem = f8hub::model_file_name(f8hub::RepoRef{ref.repo}, "");
      const std::string base = stem.substr(0, stem.size() - 3);
      match = file == stem || file.rfind(base + "--", 0) == 0;
    }
    if (!match) continue;
    std::error_code ec;
    if (!fs::remove(m.path, ec)) return fail(1, "cannot delete " + m.path + ": " + ec.message());
    std::fprintf(stderr, "f8: deleted %s (%s)\n", m.path.c_str(), human_bytes(m.size).c_str());
    ++removed;
  }
  if (purge) {
    f8hub::RepoCache cache(env.cache_dir, ref.repo);
    const std::string dirs[] = {cache.storage(), env.cache_dir + "/.locks/" + f8hub::repo_folder_name(ref.repo)};
    for (const auto& d : dirs) {
      std::error_code ec;
      if (!fs::exists(d, ec)) continue;
      uint64_t bytes = 0;
      for (fs::recursive_directory_iterator it(d, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec) && !it->is_symlink(ec)) bytes += it->file_size(ec);
      fs::remove_all(d, ec);
      if (ec) return fail(1, "cannot delete " + d + ": " + ec.message());
      if (d == dirs[0]) {
        std::fprintf(stderr, "f8: deleted %s (%s) from the Hub cache\n", d.c_str(), human_bytes(bytes).c_str());
        ++removed;
      }
    }
  }
  if (!removed)
    return fail(1, "f8 rm: nothing pulled from " + spec + " in " + f8hub::models_dir(env) +
                       (purge ? " or " + f8hub::RepoCache(env.cache_dir, ref.repo).storage() : "") + " (see f8 list)");
  return 0;
}

}  // namespace

F8_COMMAND("rm", "delete a pulled model (and with --purge its Hub cache)", cmd_rm);

#endif  // F8_HAVE_HUB
