// comm_nccl.cpp — the NCCL communicator (comm.h): one communicator per GPU
// made together by ncclCommInitAll (one process, one thread per rank calls
// its own collectives on its own stream, which NCCL allows without group
// calls). Built only with F8_HAVE_NCCL; elsewhere make_nccl_comm says why.
#include <string>

#include "backend/comm.h"

#if F8_HAVE_NCCL
#include <cuda_runtime.h>
#include <nccl.h>
#endif

namespace f8backend {

#if F8_HAVE_NCCL

namespace {

Status nccl_status(ncclResult_t r, const std::string& call) {
  return Status::Error(r == ncclInvalidArgument || r == ncclInvalidUsage ? Code::InvalidArgument : Code::Unsupported,
                       call + ": " + ncclGetErrorString(r));
}

class NcclComm final : public Comm {
 public:
  ~NcclComm() override {
    for (ncclComm_t c : comms_)
      if (c) ncclCommDestroy(c);
  }
  int32_t size() const override { return static_cast<int32_t>(comms_.size()); }
  const char* name() const override { return "nccl"; }

  Status all_reduce_sum(int32_t rank, float* buf, size_t n, Stream& s) override {
    if (rank < 0 || rank >= size()) return Status::Error(Code::InvalidArgument, "all_reduce_sum: bad rank");
    if (cudaSetDevice(devices_[rank]) != cudaSuccess) {
      cudaGetLastError();
      return Status::Error(Code::InvalidArgument, "cudaSetDevice(" + std::to_string(devices_[rank]) + ") failed");
    }
    const ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, comms_[rank],
                                         static_cast<cudaStream_t>(s.native_handle()));
    if (r != ncclSuccess) return nccl_status(r, "ncclAllReduce(" + std::to_string(n) + " floats)");
    return Status::Ok();
  }

  std::vector<ncclComm_t> comms_;
  std::vector<int> devices_;
};

}  // namespace

bool have_nccl() { return true; }

Status make_nccl_comm(const std::vector<int>& devices, std::unique_ptr<Comm>* out) {
  if (devices.empty()) return Status::Error(Code::InvalidArgument, "nccl: no devices");
  auto c = std::make_unique<NcclComm>();
  c->comms_.assign(devices.size(), nullptr);
  c->devices_ = devices;
  const ncclResult_t r = ncclCommInitAll(c->comms_.data(), static_cast<int>(devices.size()), devices.data());
  if (r != ncclSuccess) {
    c->comms_.clear();
    return nccl_status(r, "ncclCommInitAll(" + std::to_string(devices.size()) + " GPUs)");
  }
  *out = std::move(c);
  return Status::Ok();
}

#else

bool have_nccl() { return false; }

Status make_nccl_comm(const std::vector<int>&, std::unique_ptr<Comm>*) {
  return Status::Error(Code::Unsupported, "this build has no NCCL (tensor parallel on GPUs needs it)");
}

#endif

}  // namespace f8backend
