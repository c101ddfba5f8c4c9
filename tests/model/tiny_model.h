// tiny_model.h — writes small synthetic Llama-family .f8 files with random
// weights (for load/validation tests and forward-pass checks), and a plain
// scalar reference forward pass over the same weights written here from the
// HF modeling code's definitions, independent of src/model and src/backend.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ggf8/ggf8.h"

namespace tiny {

struct Spec {
  std::string arch = "llama";
  uint32_t vocab = 64, embd = 32, layers = 2, heads = 4, kv_heads = 2, head_dim = 8, ff = 48;
  uint32_t ctx = 512;
  bool qkv_bias = false;
  bool qk_norm = false;               // writes blk.N.attn_{q,k}_norm.weight (use with arch "qwen3")
  bool tied = false;
  uint32_t window = 0;                // llm.attention.sliding_window (0 = none)
  // Gemma 2/3 (arch "gemma2"/"gemma3"): post norms and GeGLU always; these
  // write the matching llm.* keys when set.
  std::vector<uint8_t> swa;           // per-layer window flags (empty = every layer)
  float attn_scale = 0, softcap = 0, final_softcap = 0, embd_scale = 1, rope_base_local = 0;
  std::string rope = "none";          // none | linear | llama3
  float rope_factor = 8.0f, rope_base = 10000.0f;
  ggf8::DType wtype = ggf8::DType::F32;  // matrices: F32 / BF16 / E4M3
  ggf8::ScaleKind scale = ggf8::ScaleKind::Channel;  // for E4M3
  bool kv_scales = false;             // write blk.N.attn_{k,v}.kv_scale
  std::set<std::string> omit;         // tensor names not to write
  std::map<std::string, std::vector<uint64_t>> reshape;  // override dims (data random)
  std::set<std::string> omit_keys;    // metadata keys not to write
  std::map<std::string, ggf8::Value> override_keys;
  uint64_t seed = 1;
};

// Dequantized weights as the file stores them (what f8 must compute with).
using Tensors = std::map<std::string, std::vector<float>>;

// Writes `path`; *w (optional) receives the dequantized tensors.
ggf8::Status write(const std::string& path, const Spec& s, Tensors* w = nullptr);

// Reference logits [tokens.size(), vocab] for one sequence at positions 0..n-1.
std::vector<float> reference_logits(const Spec& s, const Tensors& w, const std::vector<int32_t>& tokens);

}  // namespace tiny
