// model_store.cpp — see model_store.h.
#include "hub/model_store.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "ggf8/ggf8.h"
#include "ggf8/keys.h"

namespace f8hub {

std::string models_dir(const HubEnv& env) { return env.f8_home + "/models"; }

std::string model_file_name(const RepoRef& ref, const std::string& options_tag) {
  std::string name;
  size_t a = 0;
  while (a <= ref.repo.size()) {
    size_t b = ref.repo.find('/', a);
    if (b == std::string::npos) b = ref.repo.size();
    name += (name.empty() ? "" : "--") + ref.repo.substr(a, b - a);
    a = b + 1;
  }
  if (ref.revision_given && ref.revision != kDefaultRevision) name += "--" + revision_file_component(ref.revision);
  if (!options_tag.empty()) name += "--" + options_tag;
  return name + ".f8";
}

bool read_model_source(const std::string& path, PulledModel* m) {
  m->path = path;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) m->size = uint64_t(st.st_size);
  std::unique_ptr<ggf8::File> f;
  ggf8::Status s = ggf8::File::open(path, &f);
  if (!s.ok()) {
    m->error = s.message;
    return false;
  }
  auto str = [&](const char* key) {
    std::string v;
    return f->get_str(key, &v).ok() ? v : std::string();
  };
  m->repo = str(ggf8::keys::kSourceRepo);
  m->revision = str(ggf8::keys::kSourceRevision);
  m->commit = str(ggf8::keys::kSourceCommit);
  m->weights = str(ggf8::keys::kQuantWeights);
  m->scale = str(ggf8::keys::kQuantScale);
  m->calibrated = str(ggf8::keys::kQuantActivations) == "static";
  return true;
}

std::vector<PulledModel> list_models(const std::string& dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> paths;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".f8") == 0 && name.find(".tmp.") == std::string::npos)
      paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<PulledModel> out;
  for (const auto& p : paths) {
    PulledModel m;
    read_model_source(p, &m);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace f8hub
