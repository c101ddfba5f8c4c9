// test_rendezvous.cpp — the several-node id exchange (backend/rendezvous.h)
// on one host: node 0 and the others as threads, over a file and over TCP on
// the loopback; refusals of bad addresses, timeouts and foreign data.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "backend/rendezvous.h"

namespace {

using f8backend::Rendezvous;

std::vector<uint8_t> id_blob() {
  std::vector<uint8_t> b(128);
  for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(i * 37 + 11);
  return b;
}

// Runs node 0 and nodes 1..n-1 as threads; every node must end with node 0's blob.
void exchange_all(const std::string& addr, int n_nodes) {
  std::vector<std::vector<uint8_t>> got(n_nodes);
  std::vector<f8backend::Status> st(n_nodes);
  got[0] = id_blob();
  std::vector<std::thread> th;
  for (int i = n_nodes - 1; i >= 0; --i)  // the others start first: they must wait for node 0
    th.emplace_back([&, i] {
      Rendezvous r;
      r.address = addr;
      r.n_nodes = n_nodes;
      r.node = i;
      r.timeout_ms = 10000;
      st[i] = f8backend::rendezvous_exchange(r, &got[i]);
    });
  for (auto& t : th) t.join();
  for (int i = 0; i < n_nodes; ++i) {
    EXPECT_TRUE(st[i].ok()) << "node " << i << ": " << st[i].message;
    EXPECT_EQ(got[i], id_blob()) << "node " << i;
  }
}

std::string tmp_path(const char* tag) {
  return ::testing::TempDir() + "/f8_rv_" + tag + "_" + std::to_string(getpid());
}

int free_port() {
  // A port from the ephemeral range unlikely to be taken; the test retries a few.
  return 20000 + (getpid() % 20000);
}

}  // namespace

TEST(Rendezvous, FileTwoAndFourNodes) {
  const std::string p = tmp_path("file");
  exchange_all("file:" + p, 2);
  exchange_all("file:" + p, 4);  // a stale file from the last run is replaced by node 0
  std::remove(p.c_str());
}

TEST(Rendezvous, TcpLoopbackThreeNodes) {
  bool ok = false;
  for (int k = 0; k < 5 && !ok; ++k) {
    const int port = free_port() + k * 7;
    // Probe: if node 0 cannot bind, try another port.
    Rendezvous r0;
    r0.address = "127.0.0.1:" + std::to_string(port);
    r0.n_nodes = 3;
    std::vector<std::vector<uint8_t>> got(3);
    std::vector<f8backend::Status> st(3);
    got[0] = id_blob();
    std::vector<std::thread> th;
    for (int i = 2; i >= 0; --i)
      th.emplace_back([&, i] {
        Rendezvous r = r0;
        r.node = i;
        r.timeout_ms = 8000;
        st[i] = f8backend::rendezvous_exchange(r, &got[i]);
      });
    for (auto& t : th) t.join();
    if (!st[0].ok() && st[0].message.find("cannot listen") != std::string::npos) continue;
    ok = true;
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(st[i].ok()) << "node " << i << ": " << st[i].message;
      EXPECT_EQ(got[i], id_blob()) << "node " << i;
    }
  }
  EXPECT_TRUE(ok) << "no free loopback port";
}

TEST(Rendezvous, TimesOutWithAClearMessage) {
  Rendezvous r;
  r.address = "file:" + tmp_path("never");
  r.n_nodes = 2;
  r.node = 1;
  r.timeout_ms = 200;
  std::vector<uint8_t> b;
  f8backend::Status st = f8backend::rendezvous_exchange(r, &b);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message.find("did not appear"), std::string::npos) << st.message;
  r.address = "127.0.0.1:1";  // nobody listens there
  st = f8backend::rendezvous_exchange(r, &b);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message.find("no id from 127.0.0.1:1"), std::string::npos) << st.message;
}

TEST(Rendezvous, RefusesBadAddressesAndForeignFiles) {
  std::vector<uint8_t> b = id_blob();
  for (const char* a : {"nonsense", "host:", ":29500", "host:port", "file:"}) {
    Rendezvous r;
    r.address = a;
    r.n_nodes = 2;
    r.node = 0;
    r.timeout_ms = 100;
    f8backend::Status st = f8backend::rendezvous_exchange(r, &b);
    EXPECT_FALSE(st.ok()) << a;
  }
  Rendezvous r;
  r.n_nodes = 2;
  r.node = 2;
  EXPECT_FALSE(f8backend::rendezvous_exchange(r, &b).ok());
  // A file that is not ours is refused at once, not waited on or used.
  const std::string p = tmp_path("foreign");
  {
    std::ofstream o(p);
    o << "this is some other program's file";
  }
  r.address = "file:" + p;
  r.node = 1;
  r.timeout_ms = 5000;
  std::vector<uint8_t> got;
  f8backend::Status st = f8backend::rendezvous_exchange(r, &got);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message.find("not an f8 rendezvous file"), std::string::npos) << st.message;
  std::remove(p.c_str());
}
