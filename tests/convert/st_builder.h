// st_builder.h — test helper: builds safetensors images and tiny Hugging Face
// model directories (config.json + weights) so the converter tests need no
// Python and no downloads.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace f8test {

struct StEntry {
  std::string name;
  std::string dtype;            // "BF16", "F32", "F8_E4M3", ...
  std::vector<uint64_t> shape;
  std::vector<uint8_t> bytes;
};

inline std::string shape_json(const std::vector<uint64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

// Header JSON + buffer, tensors laid out in the given order.
inline std::vector<uint8_t> st_image(const std::vector<StEntry>& es, const std::string& extra_meta = "") {
  std::string h = "{";
  if (!extra_meta.empty()) h += "\"__metadata__\":" + extra_meta + ",";
  uint64_t off = 0;
  for (size_t i = 0; i < es.size(); ++i) {
    const auto& e = es[i];
    h += (i ? "," : "") + std::string("\"") + e.name + "\":{\"dtype\":\"" + e.dtype + "\",\"shape\":" +
         shape_json(e.shape) + ",\"data_offsets\":[" + std::to_string(off) + "," +
         std::to_string(off + e.bytes.size()) + "]}";
    off += e.bytes.size();
  }
  h += "}";
  while (h.size() % 8) h += ' ';
  std::vector<uint8_t> out(8);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  out.insert(out.end(), h.begin(), h.end());
  for (const auto& e : es) out.insert(out.end(), e.bytes.begin(), e.bytes.end());
  return out;
}

inline std::vector<uint8_t> raw_header_image(const std::string& header, const std::vector<uint8_t>& buf) {
  std::vector<uint8_t> out(8);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(n >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), buf.begin(), buf.end());
  return out;
}

inline void write_file(const std::string& path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
}
inline void write_file(const std::string& path, const std::string& s) { write_file(path, s.data(), s.size()); }
inline void write_file(const std::string& path, const std::vector<uint8_t>& v) { write_file(path, v.data(), v.size()); }

inline uint16_t f32_to_bf16_bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, 4);
  return static_cast<uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}
inline float bf16_bits_to_f32(uint16_t h) {
  uint32_t b = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// Values ~ N(0, std) with a few outliers (x20), rounded to what `dtype` holds.
inline std::vector<float> random_values(uint64_t n, uint32_t seed, float std = 0.02f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, std);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  for (uint64_t i = 0; i < n; i += 997) v[i] *= 20.f;
  return v;
}

inline StEntry make_tensor(const std::string& name, const std::string& dtype, std::vector<uint64_t> shape,
                           const std::vector<float>& v) {
  StEntry e{name, dtype, std::move(shape), {}};
  if (dtype == "F32") {
    e.bytes.resize(v.size() * 4);
    std::memcpy(e.bytes.data(), v.data(), e.bytes.size());
  } else if (dtype == "BF16") {
    e.bytes.resize(v.size() * 2);
    for (size_t i = 0; i < v.size(); ++i) {
      uint16_t h = f32_to_bf16_bits(v[i]);
      std::memcpy(e.bytes.data() + 2 * i, &h, 2);
    }
  } else if (dtype == "F16") {
    e.bytes.resize(v.size() * 2);
    for (size_t i = 0; i < v.size(); ++i) {
      _Float16 h = static_cast<_Float16>(v[i]);
      std::memcpy(e.bytes.data() + 2 * i, &h, 2);
    }
  }
  return e;
}

// A tiny Llama-family model's config and tensors.
struct TinyModel {
  std::string arch = "LlamaForCausalLM";
  uint64_t hidden = 64, layers = 2, heads = 4, kv_heads = 2, ffn = 160, vocab = 300;
  bool tied = false, qkv_bias = false;
  std::string dtype = "BF16";

  std::string config_json() const {
    return std::string("{\"architectures\":[\"") + arch + "\"],\"model_type\":\"llama\",\"hidden_size\":" +
           std::to_string(hidden) + ",\"num_hidden_layers\":" + std::to_string(layers) +
           ",\"num_attention_heads\":" + std::to_string(heads) + ",\"num_key_value_heads\":" +
           std::to_string(kv_heads) + ",\"intermediate_size\":" + std::to_string(ffn) +
           ",\"vocab_size\":" + std::to_string(vocab) +
           ",\"max_position_embeddings\":512,\"rms_norm_eps\":1e-05,\"rope_theta\":10000.0,"
           "\"hidden_act\":\"silu\",\"tie_word_embeddings\":" + (tied ? "true" : "false") + "}";
  }
  // HF name -> shape, in the order HF writes them.
  std::vector<std::pair<std::string, std::vector<uint64_t>>> tensors() const {
    const uint64_t hd = hidden / heads, q = heads * hd, kv = kv_heads * hd;
    std::vector<std::pair<std::string, std::vector<uint64_t>>> t{{"model.embed_tokens.weight", {vocab, hidden}}};
    for (uint64_t l = 0; l < layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      t.push_back({p + "input_layernorm.weight", {hidden}});
      t.push_back({p + "self_attn.q_proj.weight", {q, hidden}});
      t.push_back({p + "self_attn.k_proj.weight", {kv, hidden}});
      t.push_back({p + "self_attn.v_proj.weight", {kv, hidden}});
      if (qkv_bias) {
        t.push_back({p + "self_attn.q_proj.bias", {q}});
        t.push_back({p + "self_attn.k_proj.bias", {kv}});
        t.push_back({p + "self_attn.v_proj.bias", {kv}});
      }
      t.push_back({p + "self_attn.o_proj.weight", {hidden, q}});
      t.push_back({p + "post_attention_layernorm.weight", {hidden}});
      t.push_back({p + "mlp.gate_proj.weight", {ffn, hidden}});
      t.push_back({p + "mlp.up_proj.weight", {ffn, hidden}});
      t.push_back({p + "mlp.down_proj.weight", {hidden, ffn}});
    }
    t.push_back({"model.norm.weight", {hidden}});
    if (!tied) t.push_back({"lm_head.weight", {vocab, hidden}});
    return t;
  }
  std::vector<StEntry> entries(uint32_t seed = 1) const {
    std::vector<StEntry> es;
    for (const auto& [name, shape] : tensors()) {
      uint64_t n = 1;
      for (auto d : shape) n *= d;
      auto v = random_values(n, seed++);
      if (name.find("norm") != std::string::npos)
        for (auto& x : v) x = 1.0f + x;
      es.push_back(make_tensor(name, dtype, shape, v));
    }
    return es;
  }
  void write(const std::string& dir, uint32_t seed = 1) const {
    write_file(dir + "/config.json", config_json());
    write_file(dir + "/model.safetensors", st_image(entries(seed)));
  }
};

}  // namespace f8test
