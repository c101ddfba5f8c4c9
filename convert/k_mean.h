// k_mean.h — the last step of a conversion: the runtime loads the written
// file (still at its temporary path) and measures K centering's means on its
// built-in calibration text (model/k_center.h), so the file carries
// quant.kv.k_mean and no process measures them at start-up (+1.5 s for a
// 0.6B model on 2 cores before; docs/runtime.md "K centering").
#pragma once

#include <string>
#include <vector>

#include "ggf8/ggf8.h"

namespace f8conv {

struct KMeanResult {
  bool stored = false;   // quant.kv.k_mean was added
  bool applies = true;   // false: the model's cache is not centered (MLA, soft-capped attention)
  uint64_t tokens = 0;   // tokens measured on
  double seconds = 0;    // load + forward pass
  std::string failed;    // why the means could not be measured (the runtime will measure them)
};

// Adds quant.kv.k_mean / quant.kv.k_mean_tokens to *more for `written`. A
// model the runtime cannot run here (or a failed pass) is not an error: the
// file is still complete, *r says why nothing was added.
void k_mean_metadata(const ggf8::File& written, unsigned threads, std::vector<ggf8::KV>* more, KMeanResult* r);

}  // namespace f8conv
