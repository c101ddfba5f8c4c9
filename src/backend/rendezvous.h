// rendezvous.h — how the processes of a several-node tensor-parallel run
// agree on one NCCL unique id (128 bytes) before NCCL's own bootstrap takes
// over. Node 0 makes the blob and publishes it; every other node fetches it.
// Two transports, chosen by the address:
//   file:PATH   a path every node sees (NFS, a shared mount): node 0 writes
//               PATH.tmp and renames it to PATH (atomic); the others poll for
//               PATH. Node 0 removes a stale PATH first.
//   HOST:PORT   TCP: node 0 listens on PORT (all interfaces) and sends the
//               blob to each of the other nodes' connections; they connect
//               to HOST:PORT, retrying until the timeout.
// A blob is framed with a magic and its length, so a stray connection or a
// partial file is refused, not used.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backend/backend.h"

namespace f8backend {

struct Rendezvous {
  std::string address;      // "file:/shared/f8-id" or "10.0.0.1:29500"
  int32_t n_nodes = 1;
  int32_t node = 0;         // this process's node index, 0..n_nodes-1
  int32_t timeout_ms = 60000;
};

// Node 0: publishes `blob` and returns once every other node has it (TCP)
// or once it is written (file). Other nodes: fill *blob.
Status rendezvous_exchange(const Rendezvous& r, std::vector<uint8_t>* blob);

}  // namespace f8backend
