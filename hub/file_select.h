// file_select.h — which files of a repo `f8 convert` reads, and nothing else:
//   config.json, generation_config.json, tokenizer.json, tokenizer_config.json,
//   special_tokens_map.json, tokenizer.model, chat_template.jinja (those the
//   repo has), and the weights: model.safetensors.index.json plus exactly the
//   shards its weight_map names, or else model.safetensors.
// Never *.bin, *.pth, *.onnx, *.gguf, original/, consolidated.safetensors,
// images or READMEs: the converter reads only the names above
// (convert/safetensors.cpp, convert/tokenizer_import.cpp).
#pragma once

#include <string>
#include <vector>

#include "hub/hub_status.h"

namespace f8hub {

inline constexpr const char* kIndexFile = "model.safetensors.index.json";
inline constexpr const char* kSingleWeights = "model.safetensors";

// The non-weight files of the list above.
const std::vector<std::string>& support_files();

struct Selection {
  std::vector<std::string> support;  // support files present in the repo, in support_files() order
  std::string index;                 // kIndexFile when present (its shards come from shards_from_index)
  std::string single;                // kSingleWeights when there is no index
};

// `listing`: every file of the repo (paths as the Hub lists them). `what`
// names the repo for messages ("ORG/NAME@REV"). Errors: no config.json, no
// safetensors weights (the message lists what the repo has instead).
Status select_files(const std::vector<std::string>& listing, const std::string& what, Selection* out);

// The distinct shard files of an index's weight_map (in tensor-name order).
// Each must be a safe relative path ending in ".safetensors".
Status shards_from_index(const std::string& index_json, const std::string& index_path, std::vector<std::string>* out);

}  // namespace f8hub
