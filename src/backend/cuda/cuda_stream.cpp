// cuda_stream.cpp — the CUDA ops table: one cudaStream_t per context, its
// scratch (activation quantization, attention partials, cuBLASLt
// workspace), the GEMM path choice, and CUDA-graph recording of decode steps.
//
// GEMM paths (docs/cuda.md):
//   FP8 weights: x is quantized to E4M3 (per token, or the file's static
//     input scale) by kernels/act_quant.cu, then
//       T <  lt_min_tokens (default 128, env F8_CUDA_LT_MIN_TOKENS) or a
//            weight cuBLASLt cannot take: kernels/gemm_fp8.cu (tensor cores,
//            each weight byte read once per 64 tokens);
//       else cuBLASLt FP8 (E4M3 with tensor/channel/no scale) + our epilogue.
//   F32/F16/BF16 weights: kernels/gemm_wonly.cu (FP32 activations).
// StreamParams::deterministic (docs/cuda.md "Deterministic mode"): no
// cuBLASLt (its algorithm, tiling and split-K follow T; gemm_fp8 and
// gemm_wonly sum every output in an order that does not depend on T), and
// attention through attention_det (position order, no context split)
// instead of the split kernel whose split count follows T.
// Multi-head latent attention (kernels/mla.cu): the absorbed form for every
// chunk size (the model's Expanded request included: one form, so a
// token's numerics do not depend on its chunk), over the latent cache.
// Errors: every launch's status is checked; the first failure is kept
// (error()) and every later op is skipped, so a failed step never reads
// garbage silently — the model turns error() into a status.
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>
#include <map>

#include "backend/cpu/cpu_common.h"
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/cuda_kv.h"
#include "backend/cuda/cuda_moe.h"
#include "backend/cuda/lt_gemm.h"
#include "kernels/attention.cuh"
#include "kernels/fmha.cuh"
#include "kernels/gemm.cuh"
#include "kernels/mla.cuh"
#include "kernels/ops.cuh"

namespace f8backend::cuda {

namespace {

constexpr size_t kLtWorkspace = size_t{32} << 20;  // GPU.md: 32 MiB on Hopper
constexpr size_t kStagingBytes = size_t{1} << 20;   // pinned ring for from_host

bool is_fp8(DType d) { return d == DType::E4M3 || d == DType::E5M2; }

int32_t lt_min_tokens() {
  const char* e = std::getenv("F8_CUDA_LT_MIN_TOKENS");
  if (e && *e) {
    const long v = std::strtol(e, nullptr, 10);
    if (v >= 1 && v <= (1L << 30)) return static_cast<int32_t>(v);
  }
  return 128;
}

bool graphs_enabled() {
  const char* e = std::getenv("F8_CUDA_GRAPHS");
  return !(e && std::strcmp(e, "0") == 0);
}

class CudaStream final : public Stream {
 public:
  CudaStream(const CudaBackend& be, const StreamParams& p) : be_(be), p_(p) {}
  ~CudaStream() override {
    be_.use();
    if (s_) cudaStreamSynchronize(s_);
    for (auto& [k, g] : graphs_) cudaGraphExecDestroy(g);
    if (s_) cudaStreamDestroy(s_);
  }

  Status init() {
    if (Status s = be_.use(); !s.ok()) return s;
    F8_CUDA_TRY(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreate");
    const int dev = be_.device().index;
    ldx_ = static_cast<int64_t>(round_up(size_t(std::max<int64_t>(p_.max_dim, 1)), 64));
    if (Status s = DeviceBuffer::create(dev, size_t(p_.max_tokens) * size_t(ldx_), &xq_); !s.ok()) return s;
    if (Status s = DeviceBuffer::create(dev, size_t(p_.max_tokens) * 4, &sx_); !s.ok()) return s;
    // Attention partials: T * n_heads * splits * (head_dim + 2) floats. With
    // q_dim = n_heads * head_dim, one split needs <= 2 * T * q_dim; T = 1..few
    // decode wants up to 64 splits: 128 * q_dim. Splits shrink to fit.
    const int64_t qd = p_.max_attn_dim > 0 ? p_.max_attn_dim : std::max<int64_t>(p_.max_dim, 1);
    ws_floats_ = size_t(2) * size_t(qd) * (size_t(p_.max_tokens) + 64);
    if (Status s = DeviceBuffer::create(dev, ws_floats_ * 4, &attn_ws_); !s.ok()) return s;
    if (Status s = lt_.init(dev, kLtWorkspace); !s.ok()) return s;
    if (Status s = stage_.alloc(kStagingBytes); !s.ok()) return s;
    if (p_.mla.n_heads > 0 && p_.mla.kv_lora > 0) {  // q_lat and o_lat: [max_tokens, H, R] each
      const size_t n = size_t(p_.max_tokens) * size_t(p_.mla.n_heads) * size_t(p_.mla.kv_lora);
      if (Status s = DeviceBuffer::create(dev, 2 * n * 4, &mla_ws_); !s.ok()) return s;
    }
    moe_ = std::make_unique<CudaMoe>(dev, p_);
    if (Status s = moe_->init(); !s.ok()) return s;
    lt_min_ = lt_min_tokens();
    graphs_on_ = graphs_enabled();
    return Status::Ok();
  }

  const StreamParams& params() const override { return p_; }
  Status error() const override { return err_; }
  void* native_handle() override { return s_; }

  // Host -> device without a host synchronization in the common case: the
  // bytes go into the pinned staging ring at once (so the caller may reuse
  // its buffer, as the interface promises) and the DMA is ordered on the
  // stream. The ring restarts whenever the stream is drained (to_host,
  // synchronize); a copy that does not fit drains it first. A decode step's
  // handful of small copies (token ids, positions, cells) cost no sync.
  void from_host(void* dst, const void* src, size_t n) override {
    if (bad() || !n) return;
    // A context may be driven from another thread than the one that made it
    // (the server's worker): make this stream's GPU current. Every step
    // starts with from_host, so the ops after it run on the right device.
    if (Status s = be_.use(); !s.ok()) return fail(s);
    if (n > stage_.size()) {  // large: straight from pageable memory
      check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, s_), "from_host: cudaMemcpyAsync");
      check(cudaStreamSynchronize(s_), "from_host: cudaStreamSynchronize");
      stage_off_ = 0;
      return;
    }
    if (stage_off_ + n > stage_.size()) {
      check(cudaStreamSynchronize(s_), "from_host: cudaStreamSynchronize");
      stage_off_ = 0;
    }
    uint8_t* p = static_cast<uint8_t*>(stage_.data()) + stage_off_;
    std::memcpy(p, src, n);
    check(cudaMemcpyAsync(dst, p, n, cudaMemcpyHostToDevice, s_), "from_host: cudaMemcpyAsync");
    stage_off_ += round_up(n, 64);
  }
  void to_host(void* dst, const void* src, size_t n) override {
    if (bad()) {
      std::memset(dst, 0, n);
      return;
    }
    if (n) check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, s_), "to_host: cudaMemcpyAsync");
    check(cudaStreamSynchronize(s_), "to_host (a kernel of this step failed)");
    stage_off_ = 0;
    if (bad()) std::memset(dst, 0, n);
  }
  void synchronize() override {
    if (!bad()) check(cudaStreamSynchronize(s_), "synchronize (a kernel of this step failed)");
    stage_off_ = 0;
  }

  void embed(const Weight& t, const int32_t* ids, int32_t T, float* out) override {
    if (!bad()) launched(f8k::embed(dev_weight(t), ids, T, out, s_), "embed");
  }
  void rmsnorm(const float* x, const Weight& w, float eps, int32_t T, int32_t dim, float* out) override {
    // upload() stored the norm weight as F32.
    if (!bad()) launched(f8k::rmsnorm(x, static_cast<const float*>(w.data), eps, T, dim, out, s_), "rmsnorm");
  }
  void rope(float* x, int32_t T, int32_t n_heads, const int32_t* pos, const RopeParams& p) override {
    if (bad()) return;
    // A few tables cached by their params (Gemma 3 alternates a local and a
    // global base layer by layer); computed on the host as the CPU does.
    RopeSlot* slot = nullptr;
    for (RopeSlot& r : rope_)
      if (r.valid && std::memcmp(&p, &r.key, sizeof p) == 0) slot = &r;
    if (!slot) {
      const std::vector<float> inv = cpu::rope_inv_freq(p);
      if (inv.size() > size_t(f8k::kMaxRopeHalf)) {
        fail(Status::Error(Code::Unsupported, "rope: n_rot > 512"));
        return;
      }
      slot = &rope_[rope_next_];
      rope_next_ = (rope_next_ + 1) % kRopeSlots;
      slot->tab.head_dim = p.head_dim;
      slot->tab.half = static_cast<int32_t>(inv.size());
      slot->tab.attn_factor = p.attn_factor;
      std::memcpy(slot->tab.inv_freq, inv.data(), inv.size() * 4);
      std::memcpy(&slot->key, &p, sizeof p);
      slot->valid = true;
    }
    launched(f8k::rope(x, T, n_heads, pos, slot->tab, s_), "rope");
  }

  void gemm(const float* x, int32_t T, const Weight& w, float* y, const GemmOpts& o) override {
    const GemmJob job{&w, y, o};
    gemm_multi(x, T, &job, 1);
  }

  void gemm_multi(const float* x, int32_t T, const GemmJob* jobs, int32_t n) override {
    // Quantize x once for every FP8 job that wants the same activation scale
    // (dynamic per token: all of them; static: equal input scales).
    float done_scale = -1.0f;  // -1: nothing quantized yet; 0: dynamic
    for (int32_t i = 0; i < n && !bad(); ++i) {
      const Weight& w = *jobs[i].w;
      if (!is_fp8(w.dtype)) {
        launched(f8k::gemm_wonly(x, T, dev_weight(w), bias(jobs[i].opts), jobs[i].y, s_), "gemm_wonly");
        continue;
      }
      const float sc = act_scale(w, jobs[i].opts);
      if (sc != done_scale) {
        quantize(x, T, w, jobs[i].opts);
        done_scale = sc;
      }
      fp8_gemm(T, w, jobs[i].opts, jobs[i].y);
    }
  }

  void swiglu(const float* g, const float* u, int64_t n, float* out) override {
    if (!bad()) launched(f8k::swiglu(g, u, n, out, s_), "swiglu");
  }
  void geglu(const float* g, const float* u, int64_t n, float* out) override {
    if (!bad()) launched(f8k::geglu(g, u, n, out, s_), "geglu");
  }
  void scale(float* x, int64_t n, float sc) override {
    if (!bad()) launched(f8k::scale(x, n, sc, s_), "scale");
  }
  void add(float* x, const float* y, int64_t n) override {
    if (!bad()) launched(f8k::add(x, y, n, s_), "add");
  }
  void get_rows(const float* x, const int32_t* idx, int32_t M, int32_t dim, float* out) override {
    if (!bad()) launched(f8k::get_rows(x, idx, M, dim, out, s_), "get_rows");
  }
  void argmax(const float* x, int32_t T, int32_t n, int32_t* out) override {
    if (!bad()) launched(f8k::argmax(x, T, n, out, s_), "argmax");
  }
  // MoE (cuda_moe.cpp): routing, grouping by expert, the grouped expert
  // GEMMs and the weighted sum, all on the device (graph-capturable).
  void sigmoid_scale_rows(float* x, const float* g, int32_t T, int32_t dim) override {
    if (!bad()) moe_status(moe_->sigmoid_scale_rows(x, g, T, dim, s_));
  }
  void moe_route(const float* logits, int32_t T, const MoeRoute& r, int32_t* ids, float* w) override {
    if (!bad()) moe_status(moe_->route(logits, T, r, ids, w, s_));
  }
  // FP8 experts always quantize their activations (as gemm); `act` is not read.
  void moe_ffn(const float* x, int32_t T, const MoeExperts& e, const int32_t* ids, const float* w, int32_t k, float* y,
               ActQuant) override {
    if (!bad()) moe_status(moe_->ffn(x, T, e, ids, w, k, y, s_, capturing_));
  }

  // Multi-head latent attention (kernels/mla.cu; docs/cuda.md).
  void mla_kv_store(KVCache& cache, int32_t layer, const float* c, const float* kpe, const int32_t* cells,
                    int32_t T) override {
    if (bad()) return;
    const auto& kc = static_cast<CudaKVCache&>(cache);
    launched(f8k::mla_kv_store(kc.dev(), layer, c, kpe, cells, T, kc.params().mla_kv_lora, s_), "mla_kv_store");
  }
  void mla_attention(KVCache& cache, int32_t layer, const float* q, const Weight& kv_b, const MlaDims& d, MlaForm,
                     const AttnBatch& b, float* out) override {
    if (bad()) return;
    const f8k::DevKv& kv = static_cast<CudaKVCache&>(cache).dev();
    if (!kv.order_cells) {
      fail(Status::Error(Code::InvalidArgument, "mla_attention: the latent cache needs position_lists"));
      return;
    }
    const size_t n = size_t(b.n_tokens) * size_t(d.n_heads) * size_t(d.kv_lora);
    if (!mla_ws_ || 2 * n * 4 > mla_ws_->size()) {
      fail(Status::Error(Code::InvalidArgument, "mla_attention: " + std::to_string(b.n_tokens) + " tokens x " +
                                                    std::to_string(d.n_heads) +
                                                    " heads exceed the stream's StreamParams::mla scratch"));
      return;
    }
    f8k::mla::Shape sh;
    sh.H = d.n_heads;
    sh.N = d.nope;
    sh.P = d.rope;
    sh.V = d.v;
    sh.R = d.kv_lora;
    float* qlat = mla_ws_->f32();
    launched(f8k::mla_attention(kv, layer, q, dev_weight(kv_b), b.n_tokens, b.seq, b.pos, sh, b.scale, qlat,
                                qlat + n, out, s_),
             "mla_attention");
  }

  void kv_store(KVCache& cache, int32_t layer, const float* k, const float* v, const int32_t* cells,
                int32_t T) override {
    if (!bad())
      launched(f8k::kv_store(static_cast<CudaKVCache&>(cache).dev(), layer, k, v, cells, T, s_), "kv_store");
  }

  void attention(KVCache& cache, int32_t layer, const float* q, const AttnBatch& b, float* out) override {
    if (bad()) return;
    const f8k::DevKv& kv = static_cast<CudaKVCache&>(cache).dev();
    if (b.fp8_fmha && !kv.k_ts) {  // prefill: FP8 FMHA on tensor cores (kernels/fmha_fp8.cu); per-layer scales only
      launched(f8k::fmha_fp8(kv, layer, q, b.n_tokens, b.seq, b.pos, b.n_heads, b.scale, out, s_, b.window,
                             b.softcap, b.sinks),
               "fmha_fp8");
      return;
    }
    if (p_.deterministic) {
      if (!kv.order_cells) {
        fail(Status::Error(Code::InvalidArgument,
                           "attention: a deterministic stream needs a KV cache made with position_lists"));
        return;
      }
      launched(f8k::attention_det(kv, layer, q, b.n_tokens, b.seq, b.pos, b.n_heads, b.scale, out, s_, b.window,
                                  b.softcap),
               "attention_det");
      return;
    }
    int32_t splits = f8k::attention_splits(b.n_tokens, b.n_heads, be_.device().n_sm);
    while (splits > 1 &&
           f8k::attention_workspace_floats(b.n_tokens, b.n_heads, kv.head_dim, splits) > ws_floats_)
      splits /= 2;
    if (f8k::attention_workspace_floats(b.n_tokens, b.n_heads, kv.head_dim, splits) > ws_floats_) {
      fail(Status::Error(Code::InvalidArgument, "attention: workspace too small for " +
                                                    std::to_string(b.n_tokens) + " tokens x " +
                                                    std::to_string(b.n_heads) + " heads (max_attn_dim)"));
      return;
    }
    launched(f8k::attention(kv, layer, q, b.n_tokens, b.seq, b.pos, b.n_heads, b.scale, splits, attn_ws_->f32(),
                            out, s_, b.window, b.softcap, b.sinks),
             "attention");
  }

  void kv_sync(KVCache& cache) override {
    if (bad()) return;
    if (Status s = be_.use(); !s.ok()) return fail(s);
    if (Status s = static_cast<CudaKVCache&>(cache).sync(s_); !s.ok()) fail(s);
  }

  // ---- CUDA graphs -----------------------------------------------------------
  bool graph_replay(uint64_t key) override {
    if (bad() || !graphs_on_) return false;
    auto it = graphs_.find(key);
    if (it == graphs_.end()) return false;
    launched(int(cudaGraphLaunch(it->second, s_)), "cudaGraphLaunch");
    return true;
  }
  bool graph_begin(uint64_t key) override {
    if (bad() || !graphs_on_) return false;
    const cudaError_t e = cudaStreamBeginCapture(s_, cudaStreamCaptureModeThreadLocal);
    if (e != cudaSuccess) {
      cudaGetLastError();
      graphs_on_ = false;  // run eagerly from now on
      return false;
    }
    capturing_ = true;
    capture_key_ = key;
    return true;
  }
  Status graph_end() override {
    if (!capturing_) return err_;
    capturing_ = false;
    cudaGraph_t g = nullptr;
    const cudaError_t e = cudaStreamEndCapture(s_, &g);
    if (!bad() && e != cudaSuccess) fail(cuda_status(e, "cudaStreamEndCapture"));
    if (bad()) {
      if (g) cudaGraphDestroy(g);
      return err_;
    }
    cudaGraphExec_t ex = nullptr;
    const cudaError_t ie = cudaGraphInstantiate(&ex, g, 0);
    cudaGraphDestroy(g);
    if (ie != cudaSuccess) {
      fail(cuda_status(ie, "cudaGraphInstantiate"));
      return err_;
    }
    graphs_[capture_key_] = ex;
    launched(int(cudaGraphLaunch(ex, s_)), "cudaGraphLaunch");
    return err_;
  }

 private:
  bool bad() const { return !err_.ok(); }
  void moe_status(Status s) {
    if (!s.ok()) fail(std::move(s));
  }
  void fail(Status s) {
    if (err_.ok()) err_ = std::move(s);
  }
  void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) {
      cudaGetLastError();
      fail(cuda_status(e, what));
    }
  }
  void launched(int rc, const char* what) { check(cudaError_t(rc), what); }

  const float* bias(const GemmOpts& o) const {
    // upload() stored biases (1-row weights) as F32.
    return static_cast<const float*>(o.bias.data);
  }
  // The activation scale a gemm of w uses: > 0 static, 0 dynamic per token.
  static float act_scale(const Weight& w, const GemmOpts& o) {
    return o.act == ActQuant::Static && w.input_scale > 0 ? w.input_scale : 0.0f;
  }
  void quantize(const float* x, int32_t T, const Weight& w, const GemmOpts& o) {
    f8k::DevActQ a{static_cast<uint8_t*>(xq_->data()), sx_->f32(), ldx_};
    launched(f8k::quantize_act(x, T, w.cols, act_scale(w, o), a, s_), "quantize_act");
  }
  void fp8_gemm(int32_t T, const Weight& w, const GemmOpts& o, float* y) {
    if (bad()) return;
    const f8k::DevWeight dw = dev_weight(w);
    f8k::DevActQ a{static_cast<uint8_t*>(xq_->data()), sx_->f32(), ldx_};
    if (!p_.deterministic && T >= lt_min_ && w.dtype == DType::E4M3 && w.scale_kind != ScaleKind::Block) {
      bool done = false;
      Status st = lt_.run(a.xq, ldx_, T, w.data, w.stride(), w.rows, w.cols, y, s_, &done);
      if (!st.ok()) {
        fail(st);
        return;
      }
      if (done) {
        launched(f8k::gemm_epilogue(y, T, dw, a.sx, bias(o), s_), "gemm_epilogue");
        return;
      }
    }
    launched(f8k::gemm_fp8(a, T, dw, bias(o), y, s_), "gemm_fp8");
  }

  const CudaBackend& be_;
  StreamParams p_;
  cudaStream_t s_ = nullptr;
  Status err_;
  std::unique_ptr<DeviceBuffer> xq_, sx_, attn_ws_, mla_ws_;
  int64_t ldx_ = 64;
  size_t ws_floats_ = 0;
  LtGemm lt_;
  int32_t lt_min_ = 128;
  struct RopeSlot {
    RopeParams key{};
    f8k::RopeTable tab{};
    bool valid = false;
  };
  static constexpr int kRopeSlots = 4;
  RopeSlot rope_[kRopeSlots];
  int rope_next_ = 0;
  bool graphs_on_ = true, capturing_ = false;
  uint64_t capture_key_ = 0;
  std::map<uint64_t, cudaGraphExec_t> graphs_;
  std::unique_ptr<CudaMoe> moe_;  // MoE ops and their scratch
  PinnedBuffer stage_;     // from_host staging ring
  size_t stage_off_ = 0;   // next free byte of stage_ (0 when the stream is drained)
};

}  // namespace

Status CudaBackend::create_stream(const StreamParams& p, std::unique_ptr<Stream>* out) {
  if (p.max_tokens < 1) return Status::Error(Code::InvalidArgument, "stream: max_tokens must be >= 1");
  if (p.max_dim < 1) return Status::Error(Code::InvalidArgument, "stream: max_dim must be >= 1");
  auto s = std::make_unique<CudaStream>(*this, p);
  if (Status st = s->init(); !st.ok()) return st;
  *out = std::move(s);
  return Status::Ok();
}

Status CudaBackend::create_kv_cache(const KVCacheParams& p, std::unique_ptr<KVCache>* out) {
  return CudaKVCache::create(*this, p, out);
}

}  // namespace f8backend::cuda
