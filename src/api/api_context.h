// api_context.h — the runtime half of f8_model (weights + forward pass),
// called from f8_model_load (api_model.cpp) when vocab_only is false.
#pragma once

#include "f8.h"

namespace f8api {

// Binds and validates the weights of model->file into model->runtime,
// reporting progress in [0.5, 1] (the first half is the file and tokenizer).
f8_status load_runtime(f8_model* model, const f8_model_params* params);

}  // namespace f8api
