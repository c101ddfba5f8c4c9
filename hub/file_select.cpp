// file_select.cpp — see file_select.h.
#include "hub/file_select.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "hub/hub_cache.h"

namespace f8hub {

const std::vector<std::string>& support_files() {
  static const std::vector<std::string> v = {"config.json",          "generation_config.json", "tokenizer.json",
                                             "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
                                             "chat_template.jinja"};
  return v;
}

Status select_files(const std::vector<std::string>& listing, const std::string& what, Selection* out) {
  const std::set<std::string> have(listing.begin(), listing.end());
  Selection s;
  for (const auto& f : support_files())
    if (have.count(f)) s.support.push_back(f);
  if (!have.count("config.json"))
    return Status::Error(Kind::NotFound, what + " has no config.json: not a transformers model repo");
  if (have.count(kIndexFile)) {
    s.index = kIndexFile;
  } else if (have.count(kSingleWeights)) {
    s.single = kSingleWeights;
  } else {
    // Say what there is instead (e.g. only pytorch_model.bin or GGUF files).
    std::string weights;
    int n = 0;
    for (const auto& f : listing) {
      static const char* exts[] = {".safetensors", ".bin", ".pth", ".pt", ".gguf", ".onnx", ".h5", ".msgpack"};
      for (const char* e : exts) {
        const size_t el = std::char_traits<char>::length(e);
        if (f.size() > el && f.compare(f.size() - el, el, e) == 0) {
          if (n++ < 4) weights += (weights.empty() ? "" : ", ") + f;
          break;
        }
      }
    }
    if (n > 4) weights += ", ...";
    return Status::Error(Kind::NotFound, what + " has no " + kSingleWeights + " or " + kIndexFile +
                                             " (f8 converts safetensors checkpoints; the repo has " +
                                             (weights.empty() ? std::string("no weight files") : weights) + ")");
  }
  *out = std::move(s);
  return Status::Ok();
}

Status shards_from_index(const std::string& text, const std::string& index_path, std::vector<std::string>* out) {
  using nlohmann::json;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    return Status::Error(Kind::Integrity, index_path + ": not a safetensors index (no \"weight_map\" object)");
  std::vector<std::string> shards;
  std::set<std::string> seen;
  for (const auto& [tensor, v] : j["weight_map"].items()) {
    if (!v.is_string())
      return Status::Error(Kind::Integrity, index_path + ": weight_map[\"" + tensor + "\"] is not a file name");
    const std::string f = v.get<std::string>();
    if (!safe_repo_path(f) || f.size() < 12 || f.compare(f.size() - 12, 12, ".safetensors") != 0)
      return Status::Error(Kind::Integrity, index_path + ": weight_map[\"" + tensor + "\"] = \"" + f +
                                                "\" is not a relative .safetensors path");
    if (seen.insert(f).second) shards.push_back(f);
  }
  if (shards.empty()) return Status::Error(Kind::Integrity, index_path + ": weight_map is empty");
  *out = std::move(shards);
  return Status::Ok();
}

}  // namespace f8hub
