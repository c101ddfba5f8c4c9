// util_run.cpp — see util_run.h.
#include "util_run.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <fstream>
#include <sstream>
#include <vector>

namespace f8cli {

void add_run_flags(ArgParser& p, RunFlags* f) {
  p.option("-m,--model", &f->model, "FILE|ORG/NAME",
           "the .f8 model, or a Hub repo ORG/NAME[@REV]: the .f8 `f8 pull` made of it (pulled first when missing)",
           true);
  p.option("-c,--ctx", &f->ctx, "N",
           "context length in tokens (0 = the model's, capped at 4096 on the CPU and at what fits in "
           "--gpu-mem on a GPU)");
  p.option("-b,--batch", &f->batch, "N", "max tokens per forward chunk");
  p.option("-t,--threads", &f->threads, "N", "CPU threads (0 = the default: physical cores this process may use, capped by its cgroup CPU quota; docs/backend.md)");
  p.option("--kv-type", &f->kv_type, "fp8|fp8-layer|int8|bf16|f32|f16|e5m2",
           "KV cache precision: fp8 = E4M3 with a BF16 scale per token and KV head stored with each "
           "cell (2 bytes per head_dim values), K centered on a mean measured at start-up (CPU); int8 = INT8 "
           "codes, the same scales and centering: llama.cpp q8_0's quality at 1.03 bytes per value (CPU); fp8-layer = E4M3 with one scale per layer (file or measured at "
           "start-up); e5m2 per-layer scales (docs/runtime.md)");
  static const std::string backend_help =
      "compute backend: cpu (= cpu-simd), cpu-simd, cpu-ref; cuda (= cuda:0) or cuda:N where the build has "
      "CUDA (this build: " + std::string(f8_backends()) + ")";
  p.option("--backend,--device", &f->backend, "NAME", backend_help.c_str());
  p.option("--tp", &f->tp, "N",
           "tensor parallel over N ranks (heads, FFN and vocabulary split; cuda: one GPU per rank over "
           "NCCL; cpu: N thread groups, for checking the split)");
  p.option("--tp-devices", &f->tp_devices, "LIST", "with --backend cuda --tp N: the GPU of each local rank, e.g. 2,3");
  p.option("--tp-nodes", &f->tp_nodes, "M", "tensor parallel over M nodes (processes; every node runs the same command)");
  p.option("--tp-node", &f->tp_node, "I", "this node's index, 0..M-1 (node 0 publishes the NCCL id)");
  p.option("--rendezvous", &f->rendezvous, "ADDR",
           "several nodes: file:PATH (a path every node sees) or HOST:PORT (node 0's address)");
  p.option("--gpu-mem", &f->gpu_mem, "F",
           "GPU backends: fraction of the GPU's memory to use for weights, KV cache and scratch");
  p.flag("--emulate-gpu", &f->emulate_gpu,
         "quantize activations to E4M3 exactly as the GPU path does (CPU as the GPU's reference)");
  p.flag("--deterministic", &f->deterministic,
         "batch-invariant numerics on the GPU too (a token's logits depend only on its own sequence, "
         "whatever runs beside it; no cuBLASLt, no FP8 FMHA). The CPU always is (docs/runtime.md)");
  p.flag("--no-kv-calibrate", &f->no_kv_calibrate,
         "measure nothing at start-up: fp8-layer/e5m2 KV without file scales use 1.0, and fp8/int8 do not "
         "center K (docs/runtime.md)");
}

bool context_params_from(const RunFlags& f, ArgParser& p, f8_context_params* out, std::string* err) {
  f8_context_params cp = f8_context_default_params();
  if (f.ctx < 0 || f.ctx > (1 << 24)) {
    *err = "--ctx " + std::to_string(f.ctx) + ": expected 0..16777216";
    return false;
  }
  if (f.batch < 1 || f.batch > 65536) {
    *err = "--batch " + std::to_string(f.batch) + ": expected 1..65536";
    return false;
  }
  if (p.given("--threads") && (f.threads < 1 || f.threads > 512)) {
    *err = "--threads " + std::to_string(f.threads) + ": expected 1..512";
    return false;
  }
  cp.n_ctx = static_cast<uint32_t>(f.ctx);
  cp.n_batch = static_cast<uint32_t>(f.batch);
  if (f.threads > 0) cp.n_threads = static_cast<int32_t>(f.threads);
  if (f.kv_type == "fp8" || f.kv_type == "e4m3") cp.kv_type = F8_KV_FP8;
  else if (f.kv_type == "bf16") cp.kv_type = F8_KV_BF16;
  else if (f.kv_type == "f32") cp.kv_type = F8_KV_F32;
  else if (f.kv_type == "f16") cp.kv_type = F8_KV_F16;
  else if (f.kv_type == "e5m2") cp.kv_type = F8_KV_E5M2;
  else if (f.kv_type == "fp8-layer") cp.kv_type = F8_KV_FP8_LAYER;
  else if (f.kv_type == "int8") cp.kv_type = F8_KV_INT8;
  else {
    *err = "--kv-type '" + f.kv_type + "': expected fp8, fp8-layer, int8, bf16, f32, f16 or e5m2";
    return false;
  }
  if (!(f.gpu_mem > 0.0 && f.gpu_mem <= 1.0)) {
    *err = "--gpu-mem " + std::to_string(f.gpu_mem) + ": expected a fraction in (0, 1]";
    return false;
  }
  cp.gpu_mem = static_cast<float>(f.gpu_mem);
  if (f.tp < 1 || f.tp > 64) {
    *err = "--tp " + std::to_string(f.tp) + ": expected 1..64";
    return false;
  }
  cp.tp = static_cast<int32_t>(f.tp);
  if (f.tp_nodes < 1 || f.tp_nodes > 64 || f.tp_node < 0 || f.tp_node >= f.tp_nodes) {
    *err = "--tp-node " + std::to_string(f.tp_node) + " / --tp-nodes " + std::to_string(f.tp_nodes) +
           ": expected 0 <= node < nodes <= 64";
    return false;
  }
  cp.tp_nodes = static_cast<int32_t>(f.tp_nodes);
  cp.tp_node = static_cast<int32_t>(f.tp_node);
  cp.rendezvous = f.rendezvous.empty() ? nullptr : f.rendezvous.c_str();
  cp.tp_devices = f.tp_devices.empty() ? nullptr : f.tp_devices.c_str();
  cp.emulate_gpu = f.emulate_gpu;
  cp.deterministic = f.deterministic;
  cp.backend = f.backend.c_str();
  cp.kv_calibrate = !f.no_kv_calibrate;
  *out = cp;
  return true;
}

Loaded::~Loaded() {
  f8_context_free(ctx);
  f8_model_free(model);
}

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

namespace {
struct LoadProgress {
  std::string label;
  int last = -1;
};
bool load_progress(float fraction, void* ud) {
  auto* lp = static_cast<LoadProgress*>(ud);
  const int pct = static_cast<int>(fraction * 100.0f);
  if (pct != lp->last) {
    lp->last = pct;
    std::fprintf(stderr, "\rf8: loading weights into %s: %3d%%", lp->label.c_str(), pct);
    std::fflush(stderr);
  }
  return true;
}
}  // namespace

int load_model_and_context(const RunFlags& f, ArgParser& p, Loaded* out, bool quiet) {
  f8_context_params cp;
  std::string err;
  if (!context_params_from(f, p, &cp, &err)) return fail(2, err);
  f8_model_params mp = f8_model_default_params();
  // Weights go to the chosen backend during the load (a GPU copy shows
  // progress on a terminal).
  mp.backend = f.backend.c_str();
  LoadProgress lp;
  if (!quiet && f.backend.rfind("cuda", 0) == 0 && isatty(2)) {
    lp.label = f.backend;
    mp.progress = load_progress;
    mp.progress_user_data = &lp;
  }
  double t0 = now_ms();
  f8_status st = f8_model_load(f.model.c_str(), &mp, &out->model);
  out->load_ms = now_ms() - t0;
  if (mp.progress) std::fputs("\r\033[K", stderr);
  // A bad --backend name is a usage error (2); a bad file or a backend that
  // cannot run here (no driver, no device) is a runtime failure (1).
  if (st != F8_OK) return fail(st == F8_ERR_INVALID_ARGUMENT ? 2 : 1, f8_last_error());
  out->info.struct_size = sizeof(out->info);
  if (f8_model_get_info(out->model, &out->info) != F8_OK) return fail(1, f8_last_error());
  if (!quiet && cp.kv_type == F8_KV_FP8_LAYER && !out->info.has_kv_scales)
    std::fprintf(stderr, "f8: %s has no KV cache scales; %s\n", f.model.c_str(),
                 cp.kv_calibrate ? "measuring per-layer FP8 KV scales on a built-in text"
                                 : "using scale 1.0 (--no-kv-calibrate): expect larger KV error");
  st = f8_context_new(out->model, &cp, &out->ctx);
  if (st != F8_OK) return fail(st == F8_ERR_INVALID_ARGUMENT ? 2 : 1, f8_last_error());
  return 0;
}

static double status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t kl = std::strlen(key);
  while (std::getline(in, line)) {
    if (line.compare(0, kl, key) == 0) return std::atof(line.c_str() + kl);
  }
  return -1;
}

double rss_mib() {
  double kb = status_kb("VmRSS:");
  return kb < 0 ? -1 : kb / 1024.0;
}

double rss_peak_mib() {
  double kb = status_kb("VmHWM:");
  return kb < 0 ? -1 : kb / 1024.0;
}

bool parse_int_list(const std::string& s, std::vector<int64_t>* out) {
  out->clear();
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || errno != 0 || v < 1 || v > (1 << 24)) return false;
    out->push_back(v);
  }
  return !out->empty();
}

}  // namespace f8cli
