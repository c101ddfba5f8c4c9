// config_schemas.h — one schema per architecture: reads the config.json keys
// that architecture's computation depends on (transformers' config class and
// modeling code), with that class's defaults, and refuses the values f8 knows
// change the computation and does not implement. hf_config.cpp picks the
// schema from "architectures"[0] and accepts (and lists) every key no schema
// read.
#pragma once

#include "convert/config_read.h"

namespace f8conv::cfg {

// config_dense.cpp
Status schema_llama(Reader& r, HParams* hp, Notes* notes);
Status schema_mistral(Reader& r, HParams* hp, Notes* notes);
Status schema_qwen2(Reader& r, HParams* hp, Notes* notes);
Status schema_qwen3(Reader& r, HParams* hp, Notes* notes);
Status schema_phi3(Reader& r, HParams* hp, Notes* notes);
Status schema_seed_oss(Reader& r, HParams* hp, Notes* notes);
// Qwen2/Qwen3 windows (use_sliding_window, sliding_window, layer_types,
// max_window_layers when the class has it).
Status read_qwen_windows(Reader& r, bool has_max_window_layers, HParams* hp);

// config_gemma.cpp
Status schema_gemma2(Reader& r, HParams* hp, Notes* notes);
Status schema_gemma3(Reader& r, HParams* hp, Notes* notes);
// Gemma3ForConditionalGeneration: the text model from "text_config"; the
// nested keys nothing read go to `unread` as "text_config.<key>".
Status schema_gemma3_multimodal(Reader& r, HParams* hp, Notes* notes, std::vector<std::string>* unread);

// config_moe.cpp
// The expert count (num_local_experts or num_experts, one value under either
// name) and num_experts_per_tok (<= the count, <= 32).
Status read_expert_count(Reader& r, uint64_t def, HParams* hp);
Status read_topk(Reader& r, uint64_t def, HParams* hp);
Status schema_mixtral(Reader& r, HParams* hp, Notes* notes);
Status schema_qwen2_moe(Reader& r, HParams* hp, Notes* notes);
Status schema_qwen3_moe(Reader& r, HParams* hp, Notes* notes);

// config_gpt_oss.cpp
Status schema_gpt_oss(Reader& r, HParams* hp, Notes* notes);

// config_deepseek.cpp
Status schema_deepseek_v3(Reader& r, HParams* hp, Notes* notes);

}  // namespace f8conv::cfg
