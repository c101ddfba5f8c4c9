// hub/download.cpp against a local HTTP server (cpp-httplib, which answers
// Range requests itself): a fresh download is verified and renamed; a kept
// .incomplete continues with Range; a dropped connection resumes; a partial
// reply of unknown range restarts from byte 0; a corrupt prefix gets one fresh
// retry; a wrong hash is an error that keeps nothing; Ctrl-C keeps the
// partial file.
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <thread>

#include "hub/digest.h"
#include "hub/download.h"
#include "hub/http_client.h"

using namespace f8hub;
namespace fs = std::filesystem;

namespace {

struct Server {
  httplib::Server svr;
  std::thread th;
  int port = 0;
  std::string data;
  std::mutex mu;
  std::vector<std::string> ranges;  // Range header of each GET ("" when none)
  std::atomic<int> drop_after{-1};  // next GET sends this many bytes, then closes
  std::atomic<bool> no_range{false};  // a chunked body: httplib then sends 206 without Content-Range

  Server() {
    std::mt19937 rng(7);
    data.resize(1 << 20);
    for (auto& c : data) c = char(rng());
    svr.Get("/blob", [this](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard<std::mutex> l(mu);
        ranges.push_back(req.get_header_value("Range"));
      }
      const int drop = drop_after.exchange(-1);
      if (no_range) {
        res.set_chunked_content_provider("application/octet-stream", [this](size_t off, httplib::DataSink& sink) {
          if (off >= data.size()) {
            sink.done();
            return true;
          }
          return sink.write(data.data() + off, std::min<size_t>(65536, data.size() - off));
        });
        return;
      }
      res.set_content_provider(data.size(), "application/octet-stream",
                               [this, drop](size_t off, size_t len, httplib::DataSink& sink) {
                                 size_t n = std::min<size_t>(len, 65536);
                                 if (drop >= 0) {
                                   sink.write(data.data() + off, size_t(drop));
                                   return false;  // connection closed mid-body
                                 }
                                 return sink.write(data.data() + off, n);
                               });
    });
    svr.Get("/missing", [](const httplib::Request&, httplib::Response& res) { res.status = 404; });
    port = svr.bind_to_any_port("127.0.0.1");
    th = std::thread([this] { svr.listen_after_bind(); });
    while (!svr.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Server() {
    svr.stop();
    th.join();
  }
  std::string url(const char* p) const { return "http://127.0.0.1:" + std::to_string(port) + p; }
};

struct Fixture : testing::Test {
  Server s;
  std::string root;
  HubEnv env;
  volatile std::sig_atomic_t sigint = 0;
  void SetUp() override {
    root = testing::TempDir() + "hub_download_" + testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(root);
    env.cache_dir = root;
    env.download_timeout_s = 5;
    env.etag_timeout_s = 5;
  }
  BlobSpec spec() const {
    BlobSpec b;
    b.file = "model.safetensors";
    b.url = s.url("/blob");
    b.etag = sha256_hex(s.data);
    b.size = int64_t(s.data.size());
    b.sha256 = b.etag;
    return b;
  }
  Status run(const BlobSpec& b, DownloadStats* st, DownloadHooks hooks = {}) {
    Cancel c;
    c.sigint = &sigint;
    HttpClient http(env, c);
    RepoCache cache(root, "org/m");
    return download_blob(http, cache, b, hooks, st);
  }
  std::string blob(const std::string& etag) const { return root + "/models--org--m/blobs/" + etag; }
  static std::string read(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }
  void keep_prefix(const std::string& etag, const std::string& bytes) {
    fs::create_directories(root + "/models--org--m/blobs");
    std::ofstream(blob(etag) + ".incomplete", std::ios::binary) << bytes;
  }
};

}  // namespace

TEST_F(Fixture, FreshDownloadIsVerifiedAndRenamed) {
  DownloadStats st;
  const BlobSpec b = spec();
  ASSERT_TRUE(run(b, &st).ok());
  EXPECT_EQ(read(blob(b.etag)), s.data);
  EXPECT_FALSE(fs::exists(blob(b.etag) + ".incomplete"));
  EXPECT_EQ(st.fetched, s.data.size());
  EXPECT_EQ(s.ranges, std::vector<std::string>{""});
}

TEST_F(Fixture, KeptIncompleteContinuesWithRange) {
  const BlobSpec b = spec();
  keep_prefix(b.etag, s.data.substr(0, 300000));
  DownloadStats st;
  uint64_t kept = 0;
  DownloadHooks h;
  h.on_kept = [&](uint64_t k) { kept = k; };
  ASSERT_TRUE(run(b, &st, h).ok());
  EXPECT_EQ(read(blob(b.etag)), s.data);
  EXPECT_EQ(s.ranges, std::vector<std::string>{"bytes=300000-"});
  EXPECT_EQ(st.resumed_from, 300000u);
  EXPECT_EQ(kept, 300000u);
  EXPECT_EQ(st.fetched, s.data.size() - 300000);
}

TEST_F(Fixture, DroppedConnectionResumes) {
  s.drop_after = 400000;
  const BlobSpec b = spec();
  DownloadStats st;
  std::vector<std::string> notes;
  DownloadHooks h;
  h.on_note = [&](const std::string& n) { notes.push_back(n); };
  ASSERT_TRUE(run(b, &st, h).ok());
  EXPECT_EQ(read(blob(b.etag)), s.data);
  ASSERT_EQ(s.ranges.size(), 2u);
  EXPECT_EQ(s.ranges[1], "bytes=400000-");
  EXPECT_EQ(st.fetched, s.data.size());  // not one byte twice
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("resuming at byte 400000"), std::string::npos) << notes[0];
}

// cpp-httplib answers a Range request on a chunked body with 206 and no
// Content-Range: bytes of unknown position, so the download starts over
// (a 200 reply to a Range request, the other way a server ignores it, is
// tests/py/test_pull.py's test_server_ignoring_range_restarts_from_zero).
TEST_F(Fixture, PartialReplyWithoutItsRangeRestartsFromZero) {
  s.no_range = true;
  const BlobSpec b = spec();
  keep_prefix(b.etag, s.data.substr(0, 200000));
  DownloadStats st;
  int64_t discarded = 0;
  DownloadHooks h;
  h.on_bytes = [&](int64_t d) {
    if (d < 0) discarded += -d;
  };
  ASSERT_TRUE(run(b, &st, h).ok());
  EXPECT_EQ(read(blob(b.etag)), s.data);
  EXPECT_EQ(discarded, 200000);
  EXPECT_EQ(s.ranges, (std::vector<std::string>{"bytes=200000-", ""}));
  EXPECT_EQ(st.fetched, s.data.size());
}

TEST_F(Fixture, CorruptPrefixGetsOneFreshDownload) {
  const BlobSpec b = spec();
  keep_prefix(b.etag, std::string(100000, 'x'));
  DownloadStats st;
  ASSERT_TRUE(run(b, &st).ok());
  EXPECT_EQ(read(blob(b.etag)), s.data);
  EXPECT_EQ(s.ranges, (std::vector<std::string>{"bytes=100000-", ""}));
}

TEST_F(Fixture, HashMismatchKeepsNothing) {
  BlobSpec b = spec();
  b.sha256 = std::string(64, '0');
  b.etag = b.sha256;
  DownloadStats st;
  Status r = run(b, &st);
  ASSERT_EQ(r.kind, Kind::Integrity) << r.message;
  EXPECT_NE(r.message.find("model.safetensors: sha256 mismatch"), std::string::npos) << r.message;
  EXPECT_FALSE(fs::exists(blob(b.etag)));
  EXPECT_FALSE(fs::exists(blob(b.etag) + ".incomplete"));
}

TEST_F(Fixture, GitBlobIdIsChecked) {
  BlobSpec b = spec();
  b.sha256.clear();
  b.git_sha1 = git_blob_sha1_hex(s.data);
  b.etag = b.git_sha1;
  DownloadStats st;
  ASSERT_TRUE(run(b, &st).ok());
  b.git_sha1 = std::string(40, '1');
  b.etag = b.git_sha1;
  Status r = run(b, &st);
  EXPECT_EQ(r.kind, Kind::Integrity);
  EXPECT_NE(r.message.find("git blob sha1 mismatch"), std::string::npos) << r.message;
}

TEST_F(Fixture, InterruptKeepsThePartialFile) {
  const BlobSpec b = spec();
  DownloadStats st;
  DownloadHooks h;
  h.on_bytes = [&](int64_t) { sigint = 1; };  // Ctrl-C after the first bytes
  Status r = run(b, &st, h);
  ASSERT_EQ(r.kind, Kind::Interrupted) << r.message;
  EXPECT_FALSE(fs::exists(blob(b.etag)));
  ASSERT_TRUE(fs::exists(blob(b.etag) + ".incomplete"));
  EXPECT_EQ(fs::file_size(blob(b.etag) + ".incomplete"), st.fetched);
  EXPECT_GT(st.fetched, 0u);
  sigint = 0;  // the next run resumes
  DownloadStats st2;
  ASSERT_TRUE(run(b, &st2).ok());
  EXPECT_EQ(st2.resumed_from, st.fetched);
  EXPECT_EQ(read(blob(b.etag)), s.data);
}

TEST_F(Fixture, NotFoundIsAnErrorNamingTheFile) {
  BlobSpec b = spec();
  b.url = s.url("/missing");
  DownloadStats st;
  Status r = run(b, &st);
  EXPECT_EQ(r.kind, Kind::NotFound);
  EXPECT_NE(r.message.find("model.safetensors"), std::string::npos) << r.message;
}
