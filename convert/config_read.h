// config_read.h — the typed, key-recording view of one config.json object
// that every architecture schema (config_*.cpp) reads through.
//
// Every key a schema looks at is recorded, so hf_config.cpp can tell which
// keys no schema read (accepted, listed once on stderr and stored in the
// file). A default is the value the transformers config class of the
// architecture uses when the key is absent or null: f8 computes what
// transformers computes from the same file.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "convert/hf_config.h"

namespace f8conv::cfg {

using ggf8::Code;
using ggf8::Status;
using nlohmann::json;

#define F8_CFG_TRY(expr)     \
  do {                       \
    Status _s = (expr);      \
    if (!_s.ok()) return _s; \
  } while (0)

class Reader {
 public:
  // `obj`: the JSON object read (config.json, or its "text_config");
  // `prefix`: how its keys are named in messages ("" or "text_config.").
  Reader(const json& obj, std::string file, std::string prefix = "")
      : j_(obj), file_(std::move(file)), prefix_(std::move(prefix)) {}

  const json& obj() const { return j_; }
  const std::string& file() const { return file_; }
  std::string name(const std::string& key) const { return prefix_ + key; }
  // The keys looked at so far (present or not).
  const std::set<std::string>& used() const { return used_; }

  // "<file>: "<prefix><field>" <what>" as an error.
  Status fail(Code c, const std::string& field, const std::string& what) const;
  // Present and not null; records the key as read either way.
  bool has(const std::string& f);
  // Records `f` as read without reading a value (the schema knows the key
  // and that it does not change the computation, or reads it through obj()).
  void touch(const std::string& f) { used_.insert(f); }
  const json& at(const std::string& f) const { return j_.at(f); }

  // Integer in [1, 2^31] (or 0 with allow_zero); `def` when absent or null.
  Status uint(const std::string& f, uint64_t def, uint64_t* out, bool allow_zero = false);
  // Finite number (> 0 with `positive`); `def` when absent or null.
  Status real(const std::string& f, float def, float* out, bool positive = true);
  Status boolean(const std::string& f, bool def, bool* out);
  Status str(const std::string& f, const std::string& def, std::string* out);
  // A number, or null meaning "none" (stored as 0): soft-caps, windows.
  Status real_or_null(const std::string& f, float def, float* out);
  // A list of layer indices (Qwen-MoE mlp_only_layers), each < n_layers.
  Status layer_list(const std::string& f, uint64_t n_layers, std::vector<uint64_t>* out);

  // layer_types: n_layers strings, each in `allowed`; 1 where the entry is
  // "sliding_attention". Absent or null: `out` untouched, *given = false.
  Status layer_types(uint64_t n_layers, const std::vector<std::string>& allowed, std::vector<uint8_t>* out,
                     bool* given);

  // Refuses a value f8 knows changes the computation and does not implement:
  // "<file>: "<field>" = <value>: <why>".
  Status refuse(const std::string& f, const std::string& why) const;

 private:
  const json& j_;
  std::string file_;
  std::string prefix_;
  std::set<std::string> used_;
};

// Notes for the user: one line each, printed once by the converter
// (a redundant key that transformers ignores, a vision tower not converted).
using Notes = std::vector<std::string>;

// ---- shared pieces of the schemas ---------------------------------------------------
// Sizes every decoder-only family has, with the config class's defaults.
struct CoreDefaults {
  uint64_t vocab, hidden, ffn, layers, heads;
  uint64_t kv_heads;       // 0 = num_attention_heads
  uint64_t head_dim;       // 0 = hidden_size / num_attention_heads
  uint64_t ctx;            // max_position_embeddings
  float rms_eps;
  bool tied;
};
Status read_core(Reader& r, const CoreDefaults& d, HParams* hp);

// RoPE from every place a config may state it (rope_theta, rope_scaling,
// rope_parameters, partial_rotary_factor; Gemma 3's per-layer-type form and
// rope_local_base_freq), resolved as transformers 5 resolves them
// (config_rope.cpp). `default_theta`: the config class's.
Status read_rope(Reader& r, float default_theta, HParams* hp, Notes* notes);

// hidden_act (SwiGLU families): only "silu".
Status read_silu(Reader& r, const std::string& key = "hidden_act");

// eos_token_id (an id or a list): the stop ids when there is no
// generation_config.json. Absent: hp->eos_ids unchanged.
Status read_eos(Reader& r, HParams* hp);

// The keys of r.obj() that nothing read and that are not harmless_key()s.
std::vector<std::string> unread_keys(const Reader& r);

// quantization_config (config_quant.cpp).
Status read_quant(Reader& r, HfQuantConfig* qc);

// Keys no architecture's computation depends on: bookkeeping, training-only
// settings, token ids, generation defaults transformers 4 kept in config.json.
bool harmless_key(const std::string& key);

}  // namespace f8conv::cfg
