// comm.h — collectives between tensor-parallel ranks (one rank = one stream
// on one device). Two implementations:
//   local: CPU ranks in one process, one thread per rank (host memory);
//          what the tests and `--tp N` on the CPU backends use;
//   nccl:  one GPU per rank in one process, one thread per rank (NCCL), built
//          when the CUDA build finds NCCL.
// Every rank's thread calls each collective in the same order with the same
// sizes; a call returns when this rank's part is enqueued (NCCL) or done
// (local).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace f8backend {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int32_t size() const = 0;
  virtual const char* name() const = 0;
  // Whether the collectives can be recorded into a device graph (NCCL: yes;
  // the local one synchronizes on the host: no).
  virtual bool recordable() const = 0;
  // buf[0, n) = sum over ranks of every rank's buf[0, n) (F32, backend memory
  // of the rank's stream). The sum is taken in rank order: the same on every
  // rank, and deterministic.
  virtual Status all_reduce_sum(int32_t rank, float* buf, size_t n, Stream& s) = 0;
  // recv[r * count + i] = rank r's send[i], for every rank r (recv holds
  // size() * count floats; backend memory of the rank's stream).
  virtual Status all_gather(int32_t rank, const float* send, size_t count, float* recv, Stream& s) = 0;
};

// CPU ranks: buffers are host memory (Backend::host_memory()).
std::unique_ptr<Comm> make_local_comm(int32_t n_ranks);

// GPU ranks (devices[r] is rank r's CUDA device). Unsupported when the build
// has no NCCL; NCCL's own errors come back as statuses naming the call.
Status make_nccl_comm(const std::vector<int>& devices, std::unique_ptr<Comm>* out);
bool have_nccl();

// Several processes (nodes): this process holds global ranks
// [first_rank, first_rank + devices.size()) of `world`, on `devices`; node
// 0 (first_rank 0) makes the NCCL unique id and the rendezvous hands it to
// the others (rendezvous.h), then ncclCommInitRank for each local rank.
struct Rendezvous;
Status make_nccl_comm_nodes(int32_t world, int32_t first_rank, const std::vector<int>& devices,
                            const Rendezvous& rv, std::unique_ptr<Comm>* out);

}  // namespace f8backend
