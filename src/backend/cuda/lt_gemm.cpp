// lt_gemm.cpp — see lt_gemm.h.
#include "backend/cuda/lt_gemm.h"

#include <string>

namespace f8backend::cuda {

namespace {
Status lt_status(cublasStatus_t s, const std::string& call) {
  return Status::Error(s == CUBLAS_STATUS_ALLOC_FAILED ? Code::OutOfMemory : Code::InvalidArgument,
                       call + ": " + cublasLtGetStatusString(s) + " (" + cublasLtGetStatusName(s) + ")");
}
#define F8_LT_TRY(call, what)                                          \
  do {                                                                 \
    const cublasStatus_t f8_s_ = (call);                               \
    if (f8_s_ != CUBLAS_STATUS_SUCCESS) return lt_status(f8_s_, what); \
  } while (0)

bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }
}  // namespace

LtGemm::~LtGemm() {
  for (auto& [k, p] : plans_) {
    if (p.a) cublasLtMatrixLayoutDestroy(p.a);
    if (p.b) cublasLtMatrixLayoutDestroy(p.b);
    if (p.c) cublasLtMatrixLayoutDestroy(p.c);
    if (p.op) cublasLtMatmulDescDestroy(p.op);
  }
  if (h_) cublasLtDestroy(h_);
}

Status LtGemm::init(int device, size_t workspace_bytes) {
  F8_LT_TRY(cublasLtCreate(&h_), "cublasLtCreate");
  return DeviceBuffer::create(device, workspace_bytes, &ws_);
}

Status LtGemm::plan_for(int32_t T, int64_t N, int64_t K, int64_t ldw, int64_t ldx, Plan** out) {
  const auto key = std::make_tuple(T, N, K, ldw, ldx);
  auto it = plans_.find(key);
  if (it != plans_.end()) {
    *out = &it->second;
    return Status::Ok();
  }
  Plan& p = plans_[key];
  *out = &p;
  F8_LT_TRY(cublasLtMatmulDescCreate(&p.op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "cublasLtMatmulDescCreate");
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  F8_LT_TRY(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta), "TRANSA");
  F8_LT_TRY(cublasLtMatmulDescSetAttribute(p.op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb), "TRANSB");
  // FAST_ACCUM stays 0: Hopper's fast FP8 accumulation drops precision.
  F8_LT_TRY(cublasLtMatrixLayoutCreate(&p.a, CUDA_R_8F_E4M3, uint64_t(K), uint64_t(N), ldw), "layout A");
  F8_LT_TRY(cublasLtMatrixLayoutCreate(&p.b, CUDA_R_8F_E4M3, uint64_t(K), uint64_t(T), ldx), "layout B");
  F8_LT_TRY(cublasLtMatrixLayoutCreate(&p.c, CUDA_R_32F, uint64_t(N), uint64_t(T), N), "layout C/D");
  cublasLtMatmulPreference_t pref = nullptr;
  F8_LT_TRY(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  const size_t ws = ws_->size();
  cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                                          sizeof ws);
  cublasLtMatmulHeuristicResult_t r{};
  int n = 0;
  if (s == CUBLAS_STATUS_SUCCESS)
    s = cublasLtMatmulAlgoGetHeuristic(h_, p.op, p.a, p.b, p.c, p.c, pref, 1, &r, &n);
  cublasLtMatmulPreferenceDestroy(pref);
  // NOT_SUPPORTED / no result: remember, and let the caller use our kernel.
  p.ok = s == CUBLAS_STATUS_SUCCESS && n > 0 && r.state == CUBLAS_STATUS_SUCCESS;
  if (p.ok) p.algo = r.algo;
  return Status::Ok();
}

Status LtGemm::run(const uint8_t* xq, int64_t ldx, int32_t T, const void* w, int64_t ldw, int64_t N, int64_t K,
                   float* d, cudaStream_t stream, bool* done) {
  *done = false;
  if (!h_ || !aligned16(xq) || !aligned16(w) || !aligned16(d) || ldx % 16 || ldw % 16 || N % 4 || K % 16)
    return Status::Ok();
  Plan* p = nullptr;
  if (Status st = plan_for(T, N, K, ldw, ldx, &p); !st.ok()) return st;
  if (!p->ok) return Status::Ok();
  const float alpha = 1.0f, beta = 0.0f;
  F8_LT_TRY(cublasLtMatmul(h_, p->op, &alpha, w, p->a, xq, p->b, &beta, d, p->c, d, p->c, &p->algo, ws_->data(),
                           ws_->size(), stream),
            "cublasLtMatmul(T=" + std::to_string(T) + ", N=" + std::to_string(N) + ", K=" + std::to_string(K) + ")");
  *done = true;
  return Status::Ok();
}

}  // namespace f8backend::cuda
