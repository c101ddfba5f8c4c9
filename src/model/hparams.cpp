// hparams.cpp — llm.* metadata -> HParams, with bounds on every value so the
// rest of the runtime can size buffers with plain int32/int64 arithmetic.
#include "model/hparams.h"

#include <cmath>
#include <string>

#include "ggf8/keys.h"

namespace f8model {

namespace k = ggf8::keys;

const char* arch_name(Arch a) {
  switch (a) {
    case Arch::Llama: return "llama";
    case Arch::Mistral: return "mistral";
    case Arch::Qwen2: return "qwen2";
    case Arch::Qwen3: return "qwen3";
    case Arch::Phi3: return "phi3";
    case Arch::Gemma2: return "gemma2";
    case Arch::Gemma3: return "gemma3";
    case Arch::Mixtral: return "mixtral";
    case Arch::Qwen2Moe: return "qwen2moe";
    case Arch::Qwen3Moe: return "qwen3moe";
  }
  return "?";
}

namespace {

// Generous upper bounds: far above any Llama-family model, low enough that
// products like n_ctx * kv_dim * n_layer fit in int64 and T * dim in int32.
constexpr uint64_t kMaxEmbd = 1 << 16;
constexpr uint64_t kMaxLayers = 1024;
constexpr uint64_t kMaxHeads = 1024;
constexpr uint64_t kMaxHeadDim = 1024;
constexpr uint64_t kMaxFF = 1 << 18;
constexpr uint64_t kMaxVocab = 1 << 22;
constexpr uint64_t kMaxCtx = 1 << 24;
constexpr uint64_t kMaxExperts = 4096;
constexpr uint64_t kMaxExpertsUsed = 32;  // f8backend::kMaxExpertsUsed

struct Reader {
  const ggf8::File& f;
  Status st;

  bool u32(const char* key, uint32_t* out, uint64_t lo, uint64_t hi, bool required) {
    if (!st.ok()) return false;
    uint64_t v = 0;
    ggf8::Status s = f.get_u64(key, &v);
    if (s.code == ggf8::Code::NotFound && !required) return false;
    if (!s.ok()) {
      st = Status::Error(Code::Format, f.path() + ": metadata " + key + ": " +
                                           (s.code == ggf8::Code::NotFound
                                                ? std::string("missing (required)")
                                                : "expected an unsigned integer"));
      return false;
    }
    if (v < lo || v > hi) {
      st = Status::Error(Code::Format, f.path() + ": metadata " + key + " = " + std::to_string(v) +
                                           ": expected " + std::to_string(lo) + ".." +
                                           std::to_string(hi));
      return false;
    }
    *out = static_cast<uint32_t>(v);
    return true;
  }

  bool f32(const char* key, float* out, double lo, double hi, bool required) {
    if (!st.ok()) return false;
    double v = 0;
    ggf8::Status s = f.get_f64(key, &v);
    if (s.code == ggf8::Code::NotFound && !required) return false;
    if (!s.ok()) {
      st = Status::Error(Code::Format, f.path() + ": metadata " + key + ": " +
                                           (s.code == ggf8::Code::NotFound
                                                ? std::string("missing (required)")
                                                : "expected a number"));
      return false;
    }
    if (!std::isfinite(v) || v < lo || v > hi) {
      st = Status::Error(Code::Format, f.path() + ": metadata " + key + " = " + std::to_string(v) +
                                           ": expected a finite value in [" + std::to_string(lo) +
                                           ", " + std::to_string(hi) + "]");
      return false;
    }
    *out = static_cast<float>(v);
    return true;
  }

  bool boolean(const char* key, bool* out) {
    if (!st.ok()) return false;
    ggf8::Status s = f.get_bool(key, out);
    if (s.code == ggf8::Code::NotFound) return false;
    if (!s.ok()) {
      st = Status::Error(Code::Format, f.path() + ": metadata " + key + ": expected a bool");
      return false;
    }
    return true;
  }

  bool str(const char* key, std::string* out, bool required) {
    if (!st.ok()) return false;
    ggf8::Status s = f.get_str(key, out);
    if (s.code == ggf8::Code::NotFound && !required) return false;
    if (!s.ok()) {
      st = Status::Error(Code::Format, f.path() + ": metadata " + key + ": " +
                                           (s.code == ggf8::Code::NotFound
                                                ? std::string("missing (required)")
                                                : "expected a string"));
      return false;
    }
    return true;
  }
};

// llm.expert_*: absent = a dense model; present = every value checked.
Status load_moe(const ggf8::File& f, uint32_t n_layer, HParams* h) {
  Reader r{f, {}};
  const std::string& path = f.path();
  if (!r.u32(k::kExpertCount, &h->n_expert, 1, kMaxExperts, false)) return r.st;
  r.u32(k::kExpertUsedCount, &h->n_expert_used, 1, kMaxExpertsUsed, true);
  r.u32(k::kExpertFeedForwardLength, &h->n_ff_exp, 1, kMaxFF, true);
  r.u32(k::kExpertSharedFeedForwardLength, &h->n_ff_shexp, 0, kMaxFF, false);
  r.boolean(k::kExpertNormTopk, &h->expert_norm_topk);
  r.boolean(k::kExpertSharedGate, &h->shexp_gate);
  std::string gating = "softmax_topk";
  r.str(k::kExpertGating, &gating, false);
  if (!r.st.ok()) return r.st;
  if (h->n_expert_used > h->n_expert)
    return Status::Error(Code::Format, path + ": metadata " + k::kExpertUsedCount + " = " +
                                           std::to_string(h->n_expert_used) + " exceeds " + k::kExpertCount + " = " +
                                           std::to_string(h->n_expert));
  if (gating != "softmax_topk" && gating != "topk_softmax")
    return Status::Error(Code::Unsupported, path + ": metadata " + k::kExpertGating + " '" + gating +
                                                "' is not supported (expected softmax_topk or topk_softmax)");
  h->expert_topk_softmax = gating == "topk_softmax";
  if (h->shexp_gate && h->n_ff_shexp == 0)
    return Status::Error(Code::Format, path + ": metadata " + k::kExpertSharedGate + " is set but there is no shared expert (" +
                                           k::kExpertSharedFeedForwardLength + " = 0)");
  if (const ggf8::Value* v = f.find(k::kExpertLayers)) {
    std::vector<int64_t> flags;
    if (!v->is_array() || !v->to_i64_vector(&flags) || flags.size() != n_layer)
      return Status::Error(Code::Format, path + ": metadata " + k::kExpertLayers + ": expected an integer array of " +
                                             std::to_string(n_layer) + " flags (0 or 1)");
    for (int64_t x : flags) {
      if (x != 0 && x != 1)
        return Status::Error(Code::Format, path + ": metadata " + k::kExpertLayers + ": flags must be 0 or 1, got " +
                                               std::to_string(x));
      h->moe_layers.push_back(uint8_t(x));
    }
  }
  return Status::Ok();
}

}  // namespace

Status load_hparams(const ggf8::File& f, HParams* out) {
  HParams h;
  Reader r{f, {}};
  const std::string& path = f.path();

  r.str(k::kArchitecture, &h.arch_str, true);
  if (!r.st.ok()) return r.st;
  if (h.arch_str == "llama") {
    h.arch = Arch::Llama;
  } else if (h.arch_str == "mistral") {
    h.arch = Arch::Mistral;
  } else if (h.arch_str == "qwen2") {
    h.arch = Arch::Qwen2;
  } else if (h.arch_str == "qwen3") {
    h.arch = Arch::Qwen3;  // per-head q/k RMSNorm
  } else if (h.arch_str == "phi3") {
    h.arch = Arch::Phi3;   // the converter split the fused projections: a Llama block
  } else if (h.arch_str == "gemma2") {
    h.arch = Arch::Gemma2;
  } else if (h.arch_str == "gemma3") {
    h.arch = Arch::Gemma3;  // Gemma 2's block + q/k norms, two RoPE bases
  } else if (h.arch_str == "mixtral") {
    h.arch = Arch::Mixtral;   // Mistral's attention, MoE FFNs
  } else if (h.arch_str == "qwen2moe") {
    h.arch = Arch::Qwen2Moe;  // Qwen2's attention (q/k/v bias), MoE + shared expert
  } else if (h.arch_str == "qwen3moe") {
    h.arch = Arch::Qwen3Moe;  // Qwen3's attention (q/k norms), MoE FFNs
  } else {
    return Status::Error(Code::Unsupported, path + ": architecture '" + h.arch_str +
                                                "' is not supported (expected llama, mistral, qwen2, qwen3, phi3, "
                                                "gemma2, gemma3, mixtral, qwen2moe or qwen3moe)");
  }

  r.u32(k::kEmbeddingLength, &h.n_embd, 1, kMaxEmbd, true);
  r.u32(k::kBlockCount, &h.n_layer, 1, kMaxLayers, true);
  r.u32(k::kFeedForwardLength, &h.n_ff, 1, kMaxFF, true);
  r.u32(k::kHeadCount, &h.n_head, 1, kMaxHeads, true);
  r.u32(k::kVocabSize, &h.n_vocab, 1, kMaxVocab, true);
  r.u32(k::kContextLength, &h.n_ctx_train, 1, kMaxCtx, true);
  if (!r.st.ok()) return r.st;
  // Optional with defaults (HF config semantics).
  h.n_head_kv = h.n_head;  // num_key_value_heads defaults to num_attention_heads
  r.u32(k::kHeadCountKv, &h.n_head_kv, 1, kMaxHeads, false);
  bool has_hd = r.u32(k::kHeadDim, &h.head_dim, 2, kMaxHeadDim, false);
  if (!r.st.ok()) return r.st;
  if (!has_hd) {
    if (h.n_embd % h.n_head != 0)
      return Status::Error(Code::Format, path + ": " + k::kEmbeddingLength + " (" +
                                             std::to_string(h.n_embd) + ") is not a multiple of " +
                                             k::kHeadCount + " (" + std::to_string(h.n_head) +
                                             ") and " + k::kHeadDim + " is absent");
    h.head_dim = h.n_embd / h.n_head;
  }
  if (h.head_dim % 2 != 0 || h.head_dim > kMaxHeadDim)
    return Status::Error(Code::Format, path + ": head_dim " + std::to_string(h.head_dim) +
                                           ": expected an even value <= " + std::to_string(kMaxHeadDim));
  if (h.n_head % h.n_head_kv != 0)
    return Status::Error(Code::Format, path + ": " + k::kHeadCount + " (" + std::to_string(h.n_head) +
                                           ") is not a multiple of " + k::kHeadCountKv + " (" +
                                           std::to_string(h.n_head_kv) + ")");
  if (uint64_t(h.n_head) * h.head_dim > kMaxEmbd * 4)
    return Status::Error(Code::Format, path + ": n_head * head_dim too large");

  h.rms_eps = 1e-5f;
  r.f32(k::kRmsEps, &h.rms_eps, 1e-12, 1e-1, false);
  h.qkv_bias = (h.arch == Arch::Qwen2 || h.arch == Arch::Qwen2Moe);  // Qwen2 always has q/k/v biases
  r.boolean(k::kQkvBias, &h.qkv_bias);
  h.qk_norm = (h.arch == Arch::Qwen3 || h.arch == Arch::Gemma3 || h.arch == Arch::Qwen3Moe);
  const bool gemma = h.arch == Arch::Gemma2 || h.arch == Arch::Gemma3;
  h.post_norms = gemma;
  r.boolean(k::kPostNorms, &h.post_norms);
  r.f32(k::kAttnScale, &h.attn_scale, 1e-6, 1e6, false);
  r.f32(k::kAttnSoftcap, &h.attn_softcap, 0.0, 1e6, false);
  r.f32(k::kFinalSoftcap, &h.final_softcap, 0.0, 1e6, false);
  r.f32(k::kEmbeddingScale, &h.embd_scale, 1e-6, 1e6, false);
  r.f32(k::kRopeFreqBaseLocal, &h.rope_base_local, 1.0, 1e12, false);
  {
    std::string act = gemma ? "gelu_tanh" : "silu";
    r.str(k::kFfnActivation, &act, false);
    if (!r.st.ok()) return r.st;
    if (act != "silu" && act != "gelu_tanh")
      return Status::Error(Code::Unsupported, path + ": " + k::kFfnActivation + " '" + act +
                                                  "' is not supported (expected silu or gelu_tanh)");
    h.gelu = act == "gelu_tanh";
  }
  h.tied_embeddings = false;
  r.boolean(k::kTiedEmbeddings, &h.tied_embeddings);
  r.u32(k::kSlidingWindow, &h.sliding_window, 0, kMaxCtx, false);
  if (r.st.ok()) {
    if (const ggf8::Value* v = f.find(k::kSlidingWindowLayers)) {
      std::vector<int64_t> flags;
      if (!v->is_array() || !v->to_i64_vector(&flags) || flags.size() != h.n_layer)
        return Status::Error(Code::Format, path + ": metadata " + k::kSlidingWindowLayers +
                                               ": expected an integer array of " + std::to_string(h.n_layer) +
                                               " flags (0 or 1)");
      for (int64_t x : flags) {
        if (x != 0 && x != 1)
          return Status::Error(Code::Format, path + ": metadata " + k::kSlidingWindowLayers +
                                                 ": flags must be 0 or 1, got " + std::to_string(x));
        h.swa_layers.push_back(uint8_t(x));
      }
    }
  }
  h.rope_base = 10000.0f;
  r.f32(k::kRopeFreqBase, &h.rope_base, 1.0, 1e12, false);
  if (!r.st.ok()) return r.st;
  if (Status ms = load_moe(f, h.n_layer, &h); !ms.ok()) return ms;

  std::string scaling = "none";
  r.str(k::kRopeScalingType, &scaling, false);
  if (!r.st.ok()) return r.st;
  if (scaling == "none" || scaling.empty()) {
    h.rope_type = RopeType::None;
  } else if (scaling == "linear") {
    h.rope_type = RopeType::Linear;
    r.f32(k::kRopeScalingFactor, &h.rope_factor, 1e-3, 1e6, true);
  } else if (scaling == "llama3") {
    h.rope_type = RopeType::Llama3;
    r.f32(k::kRopeScalingFactor, &h.rope_factor, 1e-3, 1e6, true);
    r.f32(k::kRopeScalingLowFreq, &h.rope_low_freq, 1e-6, 1e6, true);
    r.f32(k::kRopeScalingHighFreq, &h.rope_high_freq, 1e-6, 1e6, true);
    r.u32(k::kRopeScalingOrigCtx, &h.rope_orig_ctx, 1, kMaxCtx, true);
    if (r.st.ok() && !(h.rope_high_freq > h.rope_low_freq))
      return Status::Error(Code::Format, path + ": " + k::kRopeScalingHighFreq +
                                             " must be greater than " + k::kRopeScalingLowFreq);
  } else {
    return Status::Error(Code::Unsupported, path + ": " + k::kRopeScalingType + " '" + scaling +
                                                "' is not supported (expected none, linear or llama3)");
  }
  if (!r.st.ok()) return r.st;
  *out = h;
  return Status::Ok();
}

}  // namespace f8model
