// rendezvous.cpp — see rendezvous.h.
#include "backend/rendezvous.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

namespace f8backend {

namespace {

constexpr uint32_t kMagic = 0x46385256;  // "F8RV"
constexpr uint32_t kMaxBlob = 4096;

using Clock = std::chrono::steady_clock;

Status err(const std::string& m) { return Status::Error(Code::InvalidArgument, "rendezvous: " + m); }

std::vector<uint8_t> frame(const std::vector<uint8_t>& blob) {
  std::vector<uint8_t> f(8 + blob.size());
  const uint32_t n = static_cast<uint32_t>(blob.size());
  std::memcpy(f.data(), &kMagic, 4);
  std::memcpy(f.data() + 4, &n, 4);
  if (!blob.empty()) std::memcpy(f.data() + 8, blob.data(), blob.size());
  return f;
}

// Parses a frame; false when it is not a whole, valid one.
bool unframe(const std::vector<uint8_t>& f, std::vector<uint8_t>* blob) {
  if (f.size() < 8) return false;
  uint32_t m, n;
  std::memcpy(&m, f.data(), 4);
  std::memcpy(&n, f.data() + 4, 4);
  if (m != kMagic || n > kMaxBlob || f.size() != 8 + size_t(n)) return false;
  blob->assign(f.begin() + 8, f.end());
  return true;
}

// ---- file: ----------------------------------------------------------------------
Status via_file(const Rendezvous& r, const std::string& path, std::vector<uint8_t>* blob) {
  if (r.node == 0) {
    std::remove(path.c_str());
    const std::string tmp = path + ".tmp";
    {
      std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
      const std::vector<uint8_t> f = frame(*blob);
      o.write(reinterpret_cast<const char*>(f.data()), std::streamsize(f.size()));
      if (!o) return err("cannot write " + tmp + ": " + std::strerror(errno));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
      return err("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
    return Status::Ok();
  }
  const auto end = Clock::now() + std::chrono::milliseconds(r.timeout_ms);
  while (true) {
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::vector<uint8_t> f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (unframe(f, blob)) return Status::Ok();
      if (f.size() >= 8) return err(path + " is not an f8 rendezvous file");
    }
    if (Clock::now() >= end)
      return err("node " + std::to_string(r.node) + ": " + path + " did not appear within " +
                 std::to_string(r.timeout_ms / 1000) + " s (is node 0 running with the same --rendezvous?)");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// ---- HOST:PORT -------------------------------------------------------------------
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

bool send_all(int fd, const uint8_t* p, size_t n) {
  while (n) {
    const ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
    if (k <= 0) {
      if (k < 0 && errno == EINTR) continue;
      return false;
    }
    p += k;
    n -= size_t(k);
  }
  return true;
}

// Reads until EOF or the deadline; false on error or timeout.
bool recv_all(int fd, std::vector<uint8_t>* out, Clock::time_point end) {
  uint8_t buf[512];
  while (out->size() <= 8 + kMaxBlob) {
    const int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
    if (left <= 0) return false;
    pollfd pfd{fd, POLLIN, 0};
    const int pr = poll(&pfd, 1, left);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) return false;
    const ssize_t k = recv(fd, buf, sizeof buf, 0);
    if (k == 0) return true;
    if (k < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    out->insert(out->end(), buf, buf + k);
  }
  return false;
}

Status via_tcp(const Rendezvous& r, const std::string& host, const std::string& port, std::vector<uint8_t>* blob) {
  const auto end = Clock::now() + std::chrono::milliseconds(r.timeout_ms);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  if (r.node == 0) hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(r.node == 0 ? nullptr : host.c_str(), port.c_str(), &hints, &res);
  if (gai != 0) return err(host + ":" + port + ": " + gai_strerror(gai));
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> guard(res, freeaddrinfo);

  if (r.node == 0) {
    Fd ls;
    std::string why = "no address";
    for (addrinfo* a = res; a; a = a->ai_next) {
      ls.fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (ls.fd < 0) continue;
      const int one = 1;
      setsockopt(ls.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind(ls.fd, a->ai_addr, a->ai_addrlen) == 0 && listen(ls.fd, 64) == 0) break;
      why = std::strerror(errno);
      close(ls.fd);
      ls.fd = -1;
    }
    if (ls.fd < 0) return err("node 0 cannot listen on port " + port + ": " + why);
    const std::vector<uint8_t> f = frame(*blob);
    for (int32_t served = 0; served < r.n_nodes - 1;) {
      const int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
      if (left <= 0)
        return err("node 0: only " + std::to_string(served) + " of " + std::to_string(r.n_nodes - 1) +
                   " nodes connected within " + std::to_string(r.timeout_ms / 1000) + " s");
      pollfd pfd{ls.fd, POLLIN, 0};
      const int pr = poll(&pfd, 1, left);
      if (pr < 0 && errno == EINTR) continue;
      if (pr <= 0) continue;
      Fd c;
      c.fd = accept4(ls.fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c.fd < 0) continue;
      if (send_all(c.fd, f.data(), f.size())) ++served;
    }
    return Status::Ok();
  }

  std::string why = "no address";
  while (true) {
    for (addrinfo* a = res; a; a = a->ai_next) {
      Fd c;
      c.fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
      if (c.fd < 0) continue;
      if (connect(c.fd, a->ai_addr, a->ai_addrlen) != 0) {
        why = std::strerror(errno);
        continue;
      }
      std::vector<uint8_t> f;
      if (recv_all(c.fd, &f, end) && unframe(f, blob)) return Status::Ok();
      why = "a reply that is not an f8 rendezvous frame";
    }
    if (Clock::now() >= end)
      return err("node " + std::to_string(r.node) + ": no id from " + host + ":" + port + " within " +
                 std::to_string(r.timeout_ms / 1000) + " s (" + why + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

}  // namespace

Status rendezvous_exchange(const Rendezvous& r, std::vector<uint8_t>* blob) {
  if (r.n_nodes < 1 || r.node < 0 || r.node >= r.n_nodes)
    return err("node " + std::to_string(r.node) + " of " + std::to_string(r.n_nodes) + ": out of range");
  if (r.node == 0 && blob->size() > kMaxBlob) return err("blob too large");
  if (r.n_nodes == 1) return Status::Ok();
  if (r.address.rfind("file:", 0) == 0) {
    const std::string path = r.address.substr(5);
    if (path.empty()) return err("file: needs a path (file:/shared/dir/f8-rendezvous)");
    return via_file(r, path, blob);
  }
  const size_t colon = r.address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == r.address.size())
    return err("address '" + r.address + "': expected file:PATH or HOST:PORT");
  std::string host = r.address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = r.address.substr(colon + 1);
  for (char c : port)
    if (c < '0' || c > '9') return err("address '" + r.address + "': the port must be a number");
  return via_tcp(r, host, port, blob);
}

}  // namespace f8backend
