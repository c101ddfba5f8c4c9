// model.h — a loaded model: validated hyperparameters and weights bound to a
// mapped .f8 file, plus the backends (by name) the weights were handed to.
// Immutable after load except for lazily created backends and the cached
// KV-scale calibration, both behind a mutex: a Model is shared read-only by
// every context and thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "model/tp.h"
#include "ggf8/ggf8.h"
#include "model/hparams.h"
#include "model/status.h"
#include "model/weights.h"

namespace f8model {

// Return false to cancel the load.
using ProgressFn = bool (*)(float fraction, void* user_data);

struct LoadOptions {
  std::string backend = "cpu";   // created eagerly so load fails early
  ProgressFn progress = nullptr;
  void* progress_user_data = nullptr;
};

// One backend and the weights as it sees them (CPU: the same pointers).
struct BackendWeights {
  std::unique_ptr<f8backend::Backend> backend;
  ModelWeights weights;
};

class Model {
 public:
  // `file` must outlive the Model (the weights point into its mapping).
  static Status load(const ggf8::File& file, const LoadOptions& opts, std::unique_ptr<Model>* out);

  const HParams& hparams() const { return hp_; }
  const ModelWeights& host_weights() const { return w_; }
  const ggf8::File& file() const { return file_; }
  uint64_t n_params() const { return n_params_; }
  // The backend LoadOptions named (its weights were uploaded during load).
  const std::string& load_backend() const { return load_backend_; }

  // The named backend ("cpu", "cpu-ref", "cpu-simd", ...), created and given
  // the weights on first use. Thread-safe; the result lives as long as the Model.
  Status backend(const std::string& name, BackendWeights** out);
  // Tensor-parallel rank `r` of the named backend: that rank's slices of the
  // weights (tp.h), uploaded on first use (CPU: views into the mapping).
  Status backend_rank(const std::string& name, const TpRank& r, BackendWeights** out);

  // Per-layer KV scales measured by calibrate_kv() (empty until then).
  bool kv_calibrated(std::vector<float>* k, std::vector<float>* v) const;
  void set_kv_calibration(std::vector<float> k, std::vector<float> v);
  // Per-layer pre-RoPE K means measured by calibrate_k_center (empty until then).
  bool k_center(std::vector<float>* mean) const;
  void set_k_center(std::vector<float> mean);

 private:
  explicit Model(const ggf8::File& f) : file_(f) {}
  const ggf8::File& file_;
  HParams hp_;
  ModelWeights w_;
  uint64_t n_params_ = 0;
  std::string load_backend_ = "cpu";
  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<BackendWeights>> backends_;
  std::vector<float> kcal_, vcal_, kcenter_;
};

}  // namespace f8model
