// config_read.cpp — Reader (see config_read.h) and the pieces every schema shares.
#include "convert/config_read.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace f8conv::cfg {

namespace {
constexpr uint64_t kMaxDim = 1ull << 31;  // sanity bound on any size field
}

Status Reader::fail(Code c, const std::string& field, const std::string& what) const {
  return Status::Error(c, file_ + ": \"" + name(field) + "\" " + what);
}

bool Reader::has(const std::string& f) {
  used_.insert(f);
  return j_.contains(f) && !j_[f].is_null();
}

Status Reader::uint(const std::string& f, uint64_t def, uint64_t* out, bool allow_zero) {
  if (!has(f)) {
    *out = def;
    return Status::Ok();
  }
  const json& v = j_[f];
  // 1.0-style integers appear in hand-edited configs; transformers takes them.
  if (v.is_number_float() && std::isfinite(v.get<double>()) && v.get<double>() >= 0 &&
      v.get<double>() == std::floor(v.get<double>()) && v.get<double>() <= double(kMaxDim)) {
    *out = static_cast<uint64_t>(v.get<double>());
  } else if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
  } else {
    return fail(Code::BadType, f, "must be a non-negative integer, got " + v.dump());
  }
  if ((*out == 0 && !allow_zero) || *out > kMaxDim)
    return fail(Code::BadShape, f, "= " + std::to_string(*out) + " is out of range [" + (allow_zero ? "0" : "1") +
                                       ", 2^31]");
  return Status::Ok();
}

Status Reader::real(const std::string& f, float def, float* out, bool positive) {
  if (!has(f)) {
    *out = def;
    return Status::Ok();
  }
  const json& v = j_[f];
  if (!v.is_number()) return fail(Code::BadType, f, "must be a number, got " + v.dump());
  const double x = v.get<double>();
  if (!std::isfinite(x) || (positive && x <= 0))
    return fail(Code::BadType, f, "= " + v.dump() + " must be finite" + (positive ? " and > 0" : ""));
  *out = static_cast<float>(x);
  return Status::Ok();
}

Status Reader::real_or_null(const std::string& f, float def, float* out) {
  touch(f);
  if (!j_.contains(f)) {
    *out = def;
    return Status::Ok();
  }
  if (j_[f].is_null()) {
    *out = 0;
    return Status::Ok();
  }
  return real(f, def, out);
}

Status Reader::boolean(const std::string& f, bool def, bool* out) {
  if (!has(f)) {
    *out = def;
    return Status::Ok();
  }
  if (!j_[f].is_boolean()) return fail(Code::BadType, f, "must be true or false, got " + j_[f].dump());
  *out = j_[f].get<bool>();
  return Status::Ok();
}

Status Reader::str(const std::string& f, const std::string& def, std::string* out) {
  if (!has(f)) {
    *out = def;
    return Status::Ok();
  }
  if (!j_[f].is_string()) return fail(Code::BadType, f, "must be a string, got " + j_[f].dump());
  *out = j_[f].get<std::string>();
  return Status::Ok();
}

Status Reader::layer_list(const std::string& f, uint64_t n_layers, std::vector<uint64_t>* out) {
  out->clear();
  if (!has(f)) return Status::Ok();
  const json& v = j_[f];
  if (!v.is_array()) return fail(Code::BadType, f, "must be a list of layer indices, got " + v.dump().substr(0, 200));
  for (const json& x : v) {
    if (!x.is_number_unsigned() || x.get<uint64_t>() >= n_layers)
      return fail(Code::BadType, f, "must hold layer indices below num_hidden_layers = " + std::to_string(n_layers) +
                                        ", got " + x.dump());
    out->push_back(x.get<uint64_t>());
  }
  return Status::Ok();
}

Status Reader::layer_types(uint64_t n_layers, const std::vector<std::string>& allowed, std::vector<uint8_t>* out,
                           bool* given) {
  *given = has("layer_types");
  if (!*given) return Status::Ok();
  const json& lt = j_["layer_types"];
  if (!lt.is_array() || lt.size() != n_layers)
    return fail(Code::BadType, "layer_types",
                "must be a list of " + std::to_string(n_layers) + " strings, got " + lt.dump().substr(0, 200));
  out->assign(n_layers, 0);
  for (size_t i = 0; i < lt.size(); ++i) {
    const std::string t = lt[i].is_string() ? lt[i].get<std::string>() : lt[i].dump();
    if (std::find(allowed.begin(), allowed.end(), t) == allowed.end()) {
      std::string l;
      for (const auto& a : allowed) l += (l.empty() ? "" : " or ") + a;
      return Status::Error(Code::BadType, file_ + ": " + name("layer_types") + "[" + std::to_string(i) + "] = \"" + t +
                                              "\" is not supported here (" + l + ")");
    }
    (*out)[i] = t == "sliding_attention";
  }
  return Status::Ok();
}

Status Reader::refuse(const std::string& f, const std::string& why) const {
  const std::string v = j_.contains(f) ? j_[f].dump() : "(absent)";
  return Status::Error(Code::BadType, file_ + ": \"" + name(f) + "\" = " + v.substr(0, 200) + ": " + why);
}

Status read_core(Reader& r, const CoreDefaults& d, HParams* hp) {
  F8_CFG_TRY(r.uint("vocab_size", d.vocab, &hp->vocab));
  F8_CFG_TRY(r.uint("hidden_size", d.hidden, &hp->hidden));
  F8_CFG_TRY(r.uint("intermediate_size", d.ffn, &hp->ffn));
  F8_CFG_TRY(r.uint("num_hidden_layers", d.layers, &hp->n_layers));
  F8_CFG_TRY(r.uint("num_attention_heads", d.heads, &hp->n_heads));
  F8_CFG_TRY(r.uint("num_key_value_heads", d.kv_heads ? d.kv_heads : hp->n_heads, &hp->n_kv_heads));
  F8_CFG_TRY(r.uint("max_position_embeddings", d.ctx, &hp->ctx));
  if (d.head_dim) {
    F8_CFG_TRY(r.uint("head_dim", d.head_dim, &hp->head_dim));
  } else if (r.has("head_dim")) {
    F8_CFG_TRY(r.uint("head_dim", 0, &hp->head_dim));
  } else {
    if (hp->hidden % hp->n_heads != 0)
      return r.fail(Code::BadShape, "hidden_size",
                    "= " + std::to_string(hp->hidden) + " is not divisible by num_attention_heads = " +
                        std::to_string(hp->n_heads) + " (and there is no head_dim)");
    hp->head_dim = hp->hidden / hp->n_heads;
  }
  if (hp->n_heads % hp->n_kv_heads != 0)
    return r.fail(Code::BadShape, "num_attention_heads",
                  "= " + std::to_string(hp->n_heads) + " is not a multiple of num_key_value_heads = " +
                      std::to_string(hp->n_kv_heads));
  if (hp->head_dim % 2 != 0)
    return r.fail(Code::BadShape, "head_dim", "= " + std::to_string(hp->head_dim) + " must be even for RoPE");
  F8_CFG_TRY(r.real("rms_norm_eps", d.rms_eps, &hp->rms_eps));
  hp->tied_given = r.has("tie_word_embeddings");
  F8_CFG_TRY(r.boolean("tie_word_embeddings", d.tied, &hp->tied));
  return Status::Ok();
}

Status read_silu(Reader& r, const std::string& key) {
  std::string act;
  F8_CFG_TRY(r.str(key, "silu", &act));
  if (act != "silu") return r.refuse(key, "f8 runs SwiGLU with silu only");
  return Status::Ok();
}

Status read_eos(Reader& r, HParams* hp) {
  if (!r.has("eos_token_id")) return Status::Ok();
  const json& e = r.at("eos_token_id");
  std::vector<int64_t> ids;
  for (const json& x : e.is_array() ? e : json::array({e})) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
      return r.fail(Code::BadType, "eos_token_id", "must be a token id or a list of them, got " + e.dump().substr(0, 200));
    ids.push_back(x.get<int64_t>());
  }
  hp->eos_ids = ids;
  return Status::Ok();
}

std::vector<std::string> unread_keys(const Reader& r) {
  std::vector<std::string> out;
  for (const auto& [k, v] : r.obj().items())
    if (!r.used().count(k) && !harmless_key(k)) out.push_back(k);
  return out;
}

bool harmless_key(const std::string& k) {
  static const std::set<std::string> s{
      // bookkeeping
      "_name_or_path", "_model_name_or_path", "_commit_hash", "_attn_implementation", "_attn_implementation_autoset",
      "_attn_implementation_internal", "_experts_implementation", "_from_model_config", "transformers_version",
      "auto_map", "id2label", "label2id", "problem_type", "finetuning_task", "task_specific_params",
      "tokenizer_class", "prefix", "torchscript", "return_dict", "use_return_dict", "output_hidden_states",
      "output_attentions", "pruned_heads", "tf_legacy_loss", "use_bfloat16", "chunk_size_feed_forward",
      "is_decoder", "add_cross_attention", "cross_attention_hidden_size", "tie_encoder_decoder", "use_cache",
      "output_scores", "return_dict_in_generate", "output_router_logits", "keys_to_ignore_at_inference",
      "base_model_tp_plan", "base_model_pp_plan", "base_model_ep_plan", "torch_dtype", "dtype", "name_or_path",
      // training only
      "initializer_range", "initializer_factor", "attention_dropout", "hidden_dropout", "hidden_dropout_prob",
      "attention_probs_dropout_prob", "embd_pdrop", "resid_pdrop", "dropout", "gradient_checkpointing",
      "pretraining_tp", "router_aux_loss_coef", "router_z_loss_coef", "aux_loss_alpha", "seq_aux",
      "router_jitter_noise", "mlp_dropout", "classifier_dropout", "residual_dropout",
      // token ids (eos_token_id is read for the stop ids)
      "bos_token_id", "pad_token_id", "unk_token_id", "sep_token_id", "decoder_start_token_id",
      "forced_bos_token_id", "forced_eos_token_id",
      // generation defaults (transformers 4 kept them in config.json)
      "max_length", "min_length", "do_sample", "early_stopping", "num_beams", "num_beam_groups",
      "diversity_penalty", "temperature", "top_k", "top_p", "typical_p", "repetition_penalty", "length_penalty",
      "no_repeat_ngram_size", "encoder_no_repeat_ngram_size", "bad_words_ids", "num_return_sequences",
      "remove_invalid_values", "exponential_decay_length_penalty", "suppress_tokens", "begin_suppress_tokens",
      "max_new_tokens", "generation_config",
      // transformers' choice of cache class, no effect on the numbers
      "cache_implementation"};
  return s.count(k) != 0;
}

}  // namespace f8conv::cfg
