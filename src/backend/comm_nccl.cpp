// comm_nccl.cpp — the NCCL communicator (comm.h): one communicator per GPU
// made together by ncclCommInitAll (one process, one thread per rank calls
// its own collectives on its own stream, which NCCL allows without group
// calls). Built only with F8_HAVE_NCCL; elsewhere make_nccl_comm says why.
#include <cstring>
#include <string>

#include "backend/comm.h"
#include "backend/rendezvous.h"

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
  const char* name() const override { return "nccl"; }
  bool recordable() const override { return true; }

  int32_t size() const override { return world_; }

  Status all_reduce_sum(int32_t rank, float* buf, size_t n, Stream& s) override {
    int32_t i;
    if (Status st = local(rank, &i); !st.ok()) return st;
    const ncclResult_t r = ncclAllReduce(buf, buf, n, ncclFloat, ncclSum, comms_[i],
                                         static_cast<cudaStream_t>(s.native_handle()));
    if (r != ncclSuccess) return nccl_status(r, "ncclAllReduce(" + std::to_string(n) + " floats)");
    return Status::Ok();
  }

  Status all_gather(int32_t rank, const float* send, size_t count, float* recv, Stream& s) override {
    int32_t i;
    if (Status st = local(rank, &i); !st.ok()) return st;
    const ncclResult_t r = ncclAllGather(send, recv, count, ncclFloat, comms_[i],
                                         static_cast<cudaStream_t>(s.native_handle()));
    if (r != ncclSuccess) return nccl_status(r, "ncclAllGather(" + std::to_string(count) + " floats)");
    return Status::Ok();
  }

  // Global rank -> index of this process's communicator; makes its GPU current.
  Status local(int32_t rank, int32_t* i) const {
    *i = rank - first_;
    if (*i < 0 || *i >= static_cast<int32_t>(comms_.size()))
      return Status::Error(Code::InvalidArgument, "nccl: rank " + std::to_string(rank) + " is not in this process");
    if (cudaSetDevice(devices_[size_t(*i)]) != cudaSuccess) {
      cudaGetLastError();
      return Status::Error(Code::InvalidArgument, "cudaSetDevice(" + std::to_string(devices_[size_t(*i)]) + ") failed");
    }
    return Status::Ok();
  }

  std::vector<ncclComm_t> comms_;
  std::vector<int> devices_;
  int32_t world_ = 0, first_ = 0;
};

}  // namespace

bool have_nccl() { return true; }

Status make_nccl_comm(const std::vector<int>& devices, std::unique_ptr<Comm>* out) {
  if (devices.empty()) return Status::Error(Code::InvalidArgument, "nccl: no devices");
  auto c = std::make_unique<NcclComm>();
  c->comms_.assign(devices.size(), nullptr);
  c->devices_ = devices;
  c->world_ = static_cast<int32_t>(devices.size());
  const ncclResult_t r = ncclCommInitAll(c->comms_.data(), static_cast<int>(devices.size()), devices.data());
  if (r != ncclSuccess) {
    c->comms_.clear();
    return nccl_status(r, "ncclCommInitAll(" + std::to_string(devices.size()) + " GPUs)");
  }
  *out = std::move(c);
  return Status::Ok();
}

Status make_nccl_comm_nodes(int32_t world, int32_t first_rank, const std::vector<int>& devices,
                            const Rendezvous& rv, std::unique_ptr<Comm>* out) {
  if (devices.empty() || world < 1 || first_rank < 0 || first_rank + int32_t(devices.size()) > world)
    return Status::Error(Code::InvalidArgument, "nccl: bad rank layout");
  ncclUniqueId id{};
  std::vector<uint8_t> blob;
  if (rv.node == 0) {
    const ncclResult_t r = ncclGetUniqueId(&id);
    if (r != ncclSuccess) return nccl_status(r, "ncclGetUniqueId");
    blob.assign(reinterpret_cast<const uint8_t*>(&id), reinterpret_cast<const uint8_t*>(&id) + sizeof id);
  }
  if (Status st = rendezvous_exchange(rv, &blob); !st.ok()) return st;
  if (blob.size() != sizeof id)
    return Status::Error(Code::InvalidArgument, "rendezvous: the id has " + std::to_string(blob.size()) +
                                                    " bytes, NCCL's has " + std::to_string(sizeof id));
  std::memcpy(&id, blob.data(), sizeof id);
  auto c = std::make_unique<NcclComm>();
  c->comms_.assign(devices.size(), nullptr);
  c->devices_ = devices;
  c->world_ = world;
  c->first_ = first_rank;
  ncclResult_t r = ncclGroupStart();
  for (size_t i = 0; r == ncclSuccess && i < devices.size(); ++i) {
    if (cudaSetDevice(devices[i]) != cudaSuccess) {
      cudaGetLastError();
      ncclGroupEnd();
      return Status::Error(Code::InvalidArgument, "cudaSetDevice(" + std::to_string(devices[i]) + ") failed");
    }
    r = ncclCommInitRank(&c->comms_[i], world, id, first_rank + int32_t(i));
  }
  const ncclResult_t e = ncclGroupEnd();
  if (r == ncclSuccess) r = e;
  if (r != ncclSuccess) {
    for (ncclComm_t& cm : c->comms_)
      if (cm) ncclCommAbort(cm), cm = nullptr;
    c->comms_.clear();
    return nccl_status(r, "ncclCommInitRank (" + std::to_string(world) + " ranks, node " + std::to_string(rv.node) + ")");
  }
  *out = std::move(c);
  return Status::Ok();
}

#else

bool have_nccl() { return false; }

Status make_nccl_comm_nodes(int32_t, int32_t, const std::vector<int>&, const Rendezvous&, std::unique_ptr<Comm>*) {
  return Status::Error(Code::Unsupported, "this build has no NCCL (tensor parallel on GPUs needs it)");
}

Status make_nccl_comm(const std::vector<int>&, std::unique_ptr<Comm>*) {
  return Status::Error(Code::Unsupported, "this build has no NCCL (tensor parallel on GPUs needs it)");
}

#endif

}  // namespace f8backend
