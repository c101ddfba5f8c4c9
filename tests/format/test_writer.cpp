// test_writer.cpp — writer argument validation and atomicity: nothing ever
// appears at the target path unless finish() succeeded; the temporary file
// is removed on every failure and on destruction; overwrite is refused
// unless asked; EFBIG (RLIMIT_FSIZE) and ENOSPC (a tiny tmpfs) are reported
// by name with the path.
#include <gtest/gtest.h>

#include <dirent.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ggf8/ggf8.h"
#include "sample_files.h"

using namespace ggf8;

namespace {

bool exists(const std::string& p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

// Names in a directory (to prove no temp file is left behind).
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> v;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") && std::strcmp(e->d_name, "..")) v.push_back(e->d_name);
    ::closedir(d);
  }
  return v;
}

std::vector<uint8_t> f32s(size_t n) { return std::vector<uint8_t>(n * 4, 0); }

}  // namespace

TEST(Writer, TempFileBesideTargetThenRenamed) {
  samples::TempDir dir;
  std::string p = dir.file("m.f8");
  std::unique_ptr<Writer> w;
  ASSERT_TRUE(Writer::create(p, {}, &w).ok());
  std::string tmp = p + ".tmp." + std::to_string(::getpid());
  EXPECT_TRUE(exists(tmp));
  EXPECT_FALSE(exists(p));
  auto b = f32s(4);
  ASSERT_TRUE(w->add_tensor({"x", DType::F32, {4}}, b.data(), b.size()).ok());
  EXPECT_FALSE(exists(p));
  ASSERT_TRUE(w->finish().ok());
  EXPECT_TRUE(exists(p));
  EXPECT_FALSE(exists(tmp));
  EXPECT_EQ(w->bytes_written(), samples::read_all(p).size());
  EXPECT_EQ(w->finish().code, Code::InvalidArgument);  // finished writers refuse more work
  w.reset();                                            // destructor keeps the finished file
  EXPECT_TRUE(exists(p));
}

TEST(Writer, DestroyWithoutFinishRemovesTemp) {
  samples::TempDir dir;
  std::string p = dir.file("m.f8");
  {
    std::unique_ptr<Writer> w;
    ASSERT_TRUE(Writer::create(p, {}, &w).ok());
    auto b = f32s(1000);
    ASSERT_TRUE(w->add_tensor({"x", DType::F32, {1000}}, b.data(), b.size()).ok());
    ASSERT_TRUE(w->begin_tensor({"y", DType::F32, {4}}).ok());
  }
  EXPECT_TRUE(listing(dir.path()).empty());
}

TEST(Writer, RefusesOverwriteUnlessAsked) {
  samples::TempDir dir;
  std::string p = dir.file("m.f8");
  ASSERT_TRUE(samples::write_minimal(p, {}).ok());
  auto before = samples::read_all(p);
  Status s = samples::write_minimal(p, {});
  EXPECT_EQ(s.code, Code::Exists);
  EXPECT_NE(s.message.find(p), std::string::npos);
  EXPECT_EQ(samples::read_all(p), before);
  // The target appears while the writer runs: the commit still refuses.
  std::unique_ptr<Writer> w;
  std::string q = dir.file("race.f8");
  ASSERT_TRUE(Writer::create(q, {}, &w).ok());
  ASSERT_TRUE(samples::write_minimal(q, {}).ok());
  auto qb = samples::read_all(q);
  EXPECT_EQ(w->finish().code, Code::Exists);
  EXPECT_EQ(samples::read_all(q), qb);
  w.reset();
  EXPECT_EQ(listing(dir.path()).size(), 2u);  // m.f8, race.f8; no temp files

  WriterOptions o;
  o.overwrite = true;
  ASSERT_TRUE(samples::write_full(p, o).ok());
  std::unique_ptr<File> f;
  ASSERT_TRUE(File::open(p, &f).ok());
  EXPECT_EQ(f->tensors().size(), 15u);
}

TEST(Writer, ArgumentErrorsLeaveWriterUsable) {
  samples::TempDir dir;
  std::string p = dir.file("m.f8");
  std::unique_ptr<Writer> w;
  ASSERT_TRUE(Writer::create(p, {}, &w).ok());
  auto b = f32s(16);
  EXPECT_EQ(w->add_tensor({"", DType::F32, {4}}, b.data(), 16).code, Code::InvalidArgument);
  EXPECT_EQ(w->add_tensor({std::string(256, 'x'), DType::F32, {4}}, b.data(), 16).code,
            Code::InvalidArgument);
  EXPECT_EQ(w->add_tensor({"bad\xFF", DType::F32, {4}}, b.data(), 16).code, Code::InvalidArgument);
  EXPECT_EQ(w->add_tensor({"x", DType::F32, {}}, b.data(), 0).code, Code::BadShape);
  EXPECT_EQ(w->add_tensor({"x", DType::F32, {1, 1, 1, 1, 4}}, b.data(), 16).code, Code::BadShape);
  EXPECT_EQ(w->add_tensor({"x", DType::F32, {4, 0}}, b.data(), 0).code, Code::BadShape);
  EXPECT_EQ(w->add_tensor({"x", DType::F32, {1ull << 32, 1ull << 32}}, b.data(), 0).code,
            Code::BadShape);
  EXPECT_EQ(w->add_tensor({"x", DType::F32, {4}}, b.data(), 12).code, Code::BadShape);
  EXPECT_EQ(w->add_tensor({"x", DType(99), {4}}, b.data(), 16).code, Code::BadType);
  TensorDesc blk1d{"x", DType::E4M3, {16}, ScaleKind::Block, 4, 4, "s"};
  EXPECT_EQ(w->add_tensor(blk1d, b.data(), 16).code, Code::BadScale);
  TensorDesc noname{"x", DType::E4M3, {16}, ScaleKind::Channel, 0, 0, ""};
  EXPECT_EQ(w->add_tensor(noname, b.data(), 16).code, Code::BadScale);
  ASSERT_TRUE(w->add_tensor({"x", DType::F32, {4}}, b.data(), 16).ok());
  EXPECT_EQ(w->add_tensor({"x", DType::F32, {4}}, b.data(), 16).code, Code::Duplicate);
  EXPECT_EQ(w->set_metadata("", Value::u32(1)).code, Code::InvalidArgument);
  EXPECT_EQ(w->set_metadata("k", Value()).code, Code::InvalidArgument);  // empty value
  ASSERT_TRUE(w->set_metadata("k", Value::u32(1)).ok());
  EXPECT_EQ(w->set_metadata("k", Value::u32(2)).code, Code::Duplicate);
  EXPECT_EQ(w->append(b.data(), 4).code, Code::InvalidArgument);  // no open tensor
  EXPECT_EQ(w->end_tensor().code, Code::InvalidArgument);
  ASSERT_TRUE(w->begin_tensor({"y", DType::F32, {2}}).ok());
  EXPECT_EQ(w->begin_tensor({"z", DType::F32, {2}}).code, Code::InvalidArgument);
  EXPECT_EQ(w->append(b.data(), 12).code, Code::BadShape);  // past its size
  ASSERT_TRUE(w->append(b.data(), 8).ok());
  ASSERT_TRUE(w->end_tensor().ok());
  ASSERT_TRUE(w->finish().ok());
  std::unique_ptr<File> f;
  ASSERT_TRUE(File::open(p, &f).ok());
  EXPECT_EQ(f->tensors().size(), 2u);
}

// Scale references are checked at finish(); a failure removes everything.
TEST(Writer, FinishValidatesScales) {
  struct Case {
    const char* name;
    TensorDesc scale;
    ScaleKind kind;
    uint32_t br, bc;
  };
  std::vector<Case> cases = {
      {"missing", {"other", DType::F32, {1}}, ScaleKind::Tensor, 0, 0},
      {"not f32", {"w.s", DType::F16, {1}}, ScaleKind::Tensor, 0, 0},
      {"tensor not [1]", {"w.s", DType::F32, {2}}, ScaleKind::Tensor, 0, 0},
      {"channel not [rows]", {"w.s", DType::F32, {8}}, ScaleKind::Channel, 0, 0},
      {"block not [ceil,ceil]", {"w.s", DType::F32, {1, 1}}, ScaleKind::Block, 2, 8},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    samples::TempDir dir;
    std::string p = dir.file("m.f8");
    std::unique_ptr<Writer> w;
    ASSERT_TRUE(Writer::create(p, {}, &w).ok());
    std::vector<uint8_t> q(4 * 8);
    TensorDesc wd{"w", DType::E4M3, {4, 8}, c.kind, c.br, c.bc, "w.s"};
    ASSERT_TRUE(w->add_tensor(wd, q.data(), q.size()).ok());
    uint64_t n = 4;
    for (uint64_t d : c.scale.dims) n *= d;
    if (c.scale.dtype == DType::F16) n /= 2;
    std::vector<uint8_t> s(n);
    ASSERT_TRUE(w->add_tensor(c.scale, s.data(), s.size()).ok());
    Status st = w->finish();
    EXPECT_EQ(st.code, Code::BadScale) << st.message;
    EXPECT_NE(st.message.find("tensor 'w'"), std::string::npos) << st.message;
    EXPECT_TRUE(listing(dir.path()).empty());
    EXPECT_EQ(w->finish().code, Code::BadScale);  // poisoned: same error again
  }
  // And the right shapes pass: block [ceil(4/2), ceil(8/8)] = [2, 1].
  samples::TempDir dir;
  std::unique_ptr<Writer> w;
  ASSERT_TRUE(Writer::create(dir.file("ok.f8"), {}, &w).ok());
  std::vector<uint8_t> q(32), s(8);
  ASSERT_TRUE(w->add_tensor({"w", DType::E4M3, {4, 8}, ScaleKind::Block, 2, 8, "w.s"}, q.data(), 32).ok());
  ASSERT_TRUE(w->add_tensor({"w.s", DType::F32, {2, 1}}, s.data(), 8).ok());
  EXPECT_TRUE(w->finish().ok());
}

TEST(Writer, FinishWithOpenTensorFails) {
  samples::TempDir dir;
  std::unique_ptr<Writer> w;
  ASSERT_TRUE(Writer::create(dir.file("m.f8"), {}, &w).ok());
  ASSERT_TRUE(w->begin_tensor({"y", DType::F32, {2}}).ok());
  EXPECT_EQ(w->finish().code, Code::InvalidArgument);
  EXPECT_TRUE(listing(dir.path()).empty());
}

TEST(Writer, CreateInMissingDirectoryIsIo) {
  std::unique_ptr<Writer> w;
  Status s = Writer::create("/nonexistent-dir-ggf8/x.f8", {}, &w);
  EXPECT_EQ(s.code, Code::Io);
  EXPECT_NE(s.message.find("/nonexistent-dir-ggf8/x.f8.tmp."), std::string::npos) << s.message;
  EXPECT_NE(s.message.find("No such file or directory"), std::string::npos) << s.message;
}

// RLIMIT_FSIZE makes write() fail with EFBIG once the file would pass the
// limit. Done in a child so the limit never touches the test runner.
TEST(Writer, FileTooLargeFailsCleanly) {
  samples::TempDir dir;
  std::string p = dir.file("big.f8");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);  // get EFBIG instead of being killed
    rlimit rl{256 * 1024, 256 * 1024};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(10);
    std::unique_ptr<Writer> w;
    if (!Writer::create(p, {}, &w).ok()) ::_exit(11);
    std::vector<uint8_t> big(4 << 20, 1);
    Status s = w->add_tensor({"big", DType::U8, {big.size()}}, big.data(), big.size());
    if (s.code != Code::Io) ::_exit(12);
    if (s.message.find("File too large") == std::string::npos) ::_exit(13);
    if (s.message.find(p + ".tmp.") == std::string::npos) ::_exit(14);
    if (exists(p + ".tmp." + std::to_string(::getpid()))) ::_exit(15);  // removed at once
    if (w->finish().code != Code::Io) ::_exit(16);                        // stays poisoned
    w.reset();
    ::_exit(exists(p) ? 17 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(listing(dir.path()).empty());
}

// ENOSPC: a 64 KiB tmpfs in a private mount namespace (needs root or user
// namespaces; skipped when neither is available).
TEST(Writer, NoSpaceFailsCleanly) {
  samples::TempDir dir;
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(77);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(77);
    if (::mount("tmpfs", dir.path().c_str(), "tmpfs", 0, "size=64k") != 0) ::_exit(77);
    std::string p = dir.path() + "/full.f8";
    std::unique_ptr<Writer> w;
    if (!Writer::create(p, {}, &w).ok()) ::_exit(11);
    std::vector<uint8_t> big(1 << 20, 1);
    Status s = w->add_tensor({"big", DType::U8, {big.size()}}, big.data(), big.size());
    if (s.code != Code::NoSpace) ::_exit(12);
    if (s.message.find("No space left on device") == std::string::npos) ::_exit(13);
    w.reset();
    if (!listing(dir.path()).empty()) ::_exit(14);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot mount a private tmpfs here";
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// finish(inspect): the hook sees the whole file as written (validated, from
// the temporary path, before anything is at the target); metadata it
// returns lands in the trailer, the tensor bytes and checksums unchanged.
TEST(Writer, InspectAddsMetadataBeforeRename) {
  samples::TempDir dir;
  std::string p = dir.file("m.f8");
  std::unique_ptr<Writer> w;
  ASSERT_TRUE(Writer::create(p, {}, &w).ok());
  std::vector<uint8_t> a(3000), b(40);
  for (size_t i = 0; i < a.size(); ++i) a[i] = uint8_t(i * 7);
  for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(i + 1);
  ASSERT_TRUE(w->add_tensor({"a", DType::U8, {3000}}, a.data(), a.size()).ok());
  ASSERT_TRUE(w->add_tensor({"b", DType::F32, {10}}, b.data(), b.size()).ok());
  ASSERT_TRUE(w->set_metadata("first", Value::u64(7)).ok());
  bool called = false;
  Status s = w->finish([&](const File& f, std::vector<KV>* more) {
    called = true;
    EXPECT_FALSE(exists(p));
    EXPECT_EQ(f.tensors().size(), 2u);
    EXPECT_EQ(std::memcmp(f.data(*f.tensor("a")), a.data(), a.size()), 0);
    EXPECT_NE(f.find("first"), nullptr);
    more->push_back({"second", Value::array_f32({1.5f, -2.0f, 3.25f})});
    more->push_back({"third", Value::str("x")});
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.message;
  EXPECT_TRUE(called);
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"m.f8"});
  EXPECT_EQ(w->bytes_written(), samples::read_all(p).size());
  std::unique_ptr<File> f;
  ASSERT_TRUE(File::open(p, &f).ok());
  ASSERT_TRUE(f->verify().ok());
  ASSERT_EQ(f->metadata().size(), 3u);
  EXPECT_EQ(f->metadata()[0].key, "first");
  EXPECT_EQ(f->metadata()[1].key, "second");
  EXPECT_EQ(f->metadata()[2].key, "third");
  std::string third;
  ASSERT_TRUE(f->get_str("third", &third).ok());
  EXPECT_EQ(third, "x");
  EXPECT_EQ(std::memcmp(f->data(*f->tensor("a")), a.data(), a.size()), 0);
  EXPECT_EQ(std::memcmp(f->data(*f->tensor("b")), b.data(), b.size()), 0);
}

TEST(Writer, InspectNothingToAddKeepsTheFile) {
  samples::TempDir dir;
  std::string p = dir.file("m.f8"), q = dir.file("n.f8");
  for (const std::string& path : {p, q}) {
    std::unique_ptr<Writer> w;
    ASSERT_TRUE(Writer::create(path, {}, &w).ok());
    auto b = f32s(4);
    ASSERT_TRUE(w->add_tensor({"x", DType::F32, {4}}, b.data(), b.size()).ok());
    ASSERT_TRUE(w->set_metadata("k", Value::u64(1)).ok());
    Status s = path == p ? w->finish() : w->finish([](const File&, std::vector<KV>*) { return Status::Ok(); });
    ASSERT_TRUE(s.ok()) << s.message;
  }
  EXPECT_EQ(samples::read_all(p), samples::read_all(q));
}

TEST(Writer, InspectErrorOrBadKeyLeavesNothing) {
  samples::TempDir dir;
  std::string p = dir.file("m.f8");
  auto write = [&](const Writer::InspectFn& fn) {
    std::unique_ptr<Writer> w;
    EXPECT_TRUE(Writer::create(p, {}, &w).ok());
    auto b = f32s(4);
    EXPECT_TRUE(w->add_tensor({"x", DType::F32, {4}}, b.data(), b.size()).ok());
    EXPECT_TRUE(w->set_metadata("k", Value::u64(1)).ok());
    Status s = w->finish(fn);
    EXPECT_EQ(w->finish().code, s.code);  // poisoned: the same error again
    return s;
  };
  Status s = write([](const File&, std::vector<KV>*) { return Status::Error(Code::NotFound, "model failed"); });
  EXPECT_EQ(s.code, Code::NotFound);
  EXPECT_EQ(s.message, "model failed");
  EXPECT_TRUE(listing(dir.path()).empty());
  s = write([](const File&, std::vector<KV>* more) {
    more->push_back({"k", Value::u64(2)});
    return Status::Ok();
  });
  EXPECT_EQ(s.code, Code::Duplicate);
  EXPECT_NE(s.message.find("'k'"), std::string::npos) << s.message;
  EXPECT_TRUE(listing(dir.path()).empty());
  s = write([](const File&, std::vector<KV>* more) {
    more->push_back({"", Value::u64(2)});
    return Status::Ok();
  });
  EXPECT_EQ(s.code, Code::InvalidArgument);
  EXPECT_TRUE(listing(dir.path()).empty());
}
