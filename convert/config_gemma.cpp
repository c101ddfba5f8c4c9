// config_gemma.cpp — config.json schemas of Gemma2ForCausalLM,
// Gemma3ForCausalLM (the text model) and Gemma3ForConditionalGeneration
// (Google's published Gemma 3 4b/12b/27b: the text model's config under
// "text_config", a vision tower beside it that f8 does not convert).
// Defaults: transformers 5.25's Gemma2Config / Gemma3TextConfig / Gemma3Config.
#include <cmath>

#include "convert/config_schemas.h"

namespace f8conv::cfg {

namespace {

// Softmax scale, soft-capping, embedding scale, activation, windows.
Status read_gemma_common(Reader& r, HParams* hp, Notes* notes) {
  const bool g2 = hp->arch == "gemma2";
  hp->gemma = true;
  // Gemma's MLP uses hidden_activation; hidden_act, which old configs carry
  // too, is not read by transformers' Gemma 2/3 classes.
  r.touch("hidden_act");
  std::string ha;
  F8_CFG_TRY(r.str("hidden_activation", "gelu_pytorch_tanh", &ha));
  if (ha != "gelu_pytorch_tanh") return r.refuse("hidden_activation", "f8 runs Gemma's GeGLU with gelu_pytorch_tanh only");
  bool b = false;
  F8_CFG_TRY(r.boolean("attention_bias", false, &b));
  if (b) return r.refuse("attention_bias", "biases on the attention projections are not implemented for Gemma in f8");
  F8_CFG_TRY(r.boolean("use_bidirectional_attention", false, &b));
  if (b) return r.refuse("use_bidirectional_attention", "bidirectional attention (an encoder) is not supported");
  uint64_t qpas = 256;
  F8_CFG_TRY(r.uint("query_pre_attn_scalar", 256, &qpas));
  hp->attn_scale = static_cast<float>(std::pow(static_cast<double>(qpas), -0.5));
  // A number, or null for none (Gemma 2 defaults 50 / 30, Gemma 3 none).
  F8_CFG_TRY(r.real_or_null("attn_logit_softcapping", g2 ? 50.0f : 0.0f, &hp->attn_softcap));
  F8_CFG_TRY(r.real_or_null("final_logit_softcapping", g2 ? 30.0f : 0.0f, &hp->final_softcap));
  // transformers: embed_tokens(x) * tensor(hidden_size ** 0.5) in the
  // activation dtype; f8's activations are float32.
  hp->embd_scale = static_cast<float>(std::sqrt(static_cast<double>(hp->hidden)));

  // Window: an int, or null for none; absent: the config classes' 4096.
  const bool present = r.obj().contains("sliding_window");
  F8_CFG_TRY(r.uint("sliding_window", present ? 0 : 4096, &hp->sliding_window, /*allow_zero=*/true));
  // Which layers slide: layer_types, else (Gemma 3) sliding_window_pattern,
  // else Gemma 2 every other layer from the first / Gemma 3 5 of every 6.
  // Gemma3TextConfig never derives them from "_sliding_window_pattern"
  // (transformers 5 writes it beside layer_types): read only to say so.
  std::vector<uint8_t> types;
  bool given = false;
  F8_CFG_TRY(r.layer_types(hp->n_layers, {"full_attention", "sliding_attention"}, &types, &given));
  uint64_t pat = g2 ? 2 : 6;
  if (!g2) F8_CFG_TRY(r.uint("sliding_window_pattern", 6, &pat));
  auto from_pattern = [&](uint64_t p) {
    std::vector<uint8_t> t;
    for (uint64_t i = 0; i < hp->n_layers; ++i) t.push_back((i + 1) % p != 0);
    return t;
  };
  if (!given) {
    types = from_pattern(pat);
  } else if (!g2 && r.obj().contains("sliding_window_pattern") && from_pattern(pat) != types) {
    notes->push_back(r.name("sliding_window_pattern") + " = " + std::to_string(pat) +
                     " is not read: transformers uses layer_types");
  }
  if (!g2 && r.has("_sliding_window_pattern")) {
    uint64_t p2 = 0;
    F8_CFG_TRY(r.uint("_sliding_window_pattern", 6, &p2));
    if (from_pattern(p2) != types)
      notes->push_back(r.name("_sliding_window_pattern") + " = " + std::to_string(p2) +
                       " is not read: transformers uses " + (given ? "layer_types" : "sliding_window_pattern"));
  }
  bool any = false;
  for (uint8_t t : types) any = any || t;
  if (!any || hp->sliding_window == 0) {
    // No layer slides, or no window (null): transformers attends to everything.
    hp->sliding_window = 0;
    types.clear();
  }
  hp->swa_layers = types;
  return Status::Ok();
}

}  // namespace

Status schema_gemma2(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {256000, 2304, 9216, 26, 8, 4, 256, 8192, 1e-6f, true}, hp));
  F8_CFG_TRY(read_rope(r, 10000.0f, hp, notes));
  return read_gemma_common(r, hp, notes);
}

Status schema_gemma3(Reader& r, HParams* hp, Notes* notes) {
  F8_CFG_TRY(read_core(r, {262208, 2304, 9216, 26, 8, 4, 256, 131072, 1e-6f, true}, hp));
  F8_CFG_TRY(read_rope(r, 1000000.0f, hp, notes));
  hp->qk_norm = true;
  return read_gemma_common(r, hp, notes);
}

Status schema_gemma3_multimodal(Reader& r, HParams* hp, Notes* notes, std::vector<std::string>* unread) {
  // The wrapper: the text model's config, and what only the vision side reads.
  for (const char* k : {"vision_config", "mm_tokens_per_image", "boi_token_index", "eoi_token_index",
                        "image_token_index", "boi_token_id", "eoi_token_id", "image_token_id"})
    r.touch(k);
  static const json kEmpty = json::object();
  const json* tc = &kEmpty;
  if (r.has("text_config")) {
    tc = &r.at("text_config");
    if (!tc->is_object()) return r.fail(Code::BadType, "text_config", "must be an object");
  }
  Reader t(*tc, r.file(), "text_config.");
  t.touch("model_type");
  F8_CFG_TRY(schema_gemma3(t, hp, notes));
  // Gemma3Config's own tie_word_embeddings (default true) ties the text
  // model's output projection to its embeddings.
  if (r.has("tie_word_embeddings")) {
    hp->tied_given = true;
    F8_CFG_TRY(r.boolean("tie_word_embeddings", true, &hp->tied));
  }
  // The text config's stop ids count when the wrapper states none.
  if (r.obj().contains("eos_token_id"))
    t.touch("eos_token_id");
  else
    F8_CFG_TRY(read_eos(t, hp));
  for (const auto& k : unread_keys(t)) unread->push_back(t.name(k));
  notes->push_back("the vision tower (vision_config, vision_tower.*, multi_modal_projector.*) is not converted: "
                   "f8 runs Gemma 3's text model");
  hp->multimodal_wrapper = true;
  return Status::Ok();
}

}  // namespace f8conv::cfg
