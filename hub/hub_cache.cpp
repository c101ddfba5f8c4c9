// hub_cache.cpp — see hub_cache.h.
#include "hub/hub_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "hub/repo_ref.h"

namespace f8hub {

RepoCache::RepoCache(std::string cache_dir, std::string repo) : cache_(std::move(cache_dir)), repo_(std::move(repo)) {}

std::string RepoCache::storage() const { return cache_ + "/" + repo_folder_name(repo_); }
std::string RepoCache::blob_path(const std::string& etag) const { return storage() + "/blobs/" + etag; }
std::string RepoCache::incomplete_path(const std::string& etag) const { return blob_path(etag) + ".incomplete"; }
std::string RepoCache::snapshot_dir(const std::string& commit) const { return storage() + "/snapshots/" + commit; }
std::string RepoCache::pointer_path(const std::string& commit, const std::string& file) const {
  return snapshot_dir(commit) + "/" + file;
}
std::string RepoCache::ref_path(const std::string& revision) const { return storage() + "/refs/" + revision; }
std::string RepoCache::lock_path(const std::string& etag) const {
  return cache_ + "/.locks/" + repo_folder_name(repo_) + "/" + etag + ".lock";
}

bool safe_repo_path(const std::string& file) {
  if (file.empty() || file[0] == '/' || file.size() > 4096) return false;
  size_t a = 0;
  while (a <= file.size()) {
    size_t b = file.find('/', a);
    if (b == std::string::npos) b = file.size();
    const std::string part = file.substr(a, b - a);
    if (part.empty() || part == "." || part == "..") return false;
    a = b + 1;
  }
  for (unsigned char c : file)
    if (c < 0x20 || c == 0x7f || c == '\\') return false;
  return true;
}

std::string pointer_target(const std::string& file, const std::string& etag) {
  // From snapshots/<commit>/<dir...>/ up to the repo folder: 2 + depth levels.
  std::string up = "../../";
  for (char c : file)
    if (c == '/') up += "../";
  return up + "blobs/" + etag;
}

Status make_dirs(const std::string& path) {
  std::string cur;
  size_t a = 0;
  while (a < path.size()) {
    size_t b = path.find('/', a + 1);
    if (b == std::string::npos) b = path.size();
    cur = path.substr(0, b);
    if (!cur.empty() && ::mkdir(cur.c_str(), 0777) != 0 && errno != EEXIST)
      return Status::Error(Kind::Io, "cannot create directory " + cur + ": " + std::strerror(errno));
    a = b;
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Status::Error(Kind::Io, path + " is not a directory");
  return Status::Ok();
}

bool RepoCache::read_ref(const std::string& revision, std::string* commit) const {
  std::ifstream in(ref_path(revision));
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  std::string c = ss.str();
  while (!c.empty() && (c.back() == '\n' || c.back() == '\r' || c.back() == ' ')) c.pop_back();
  if (!is_commit_hash(c)) return false;
  *commit = c;
  return true;
}

Status RepoCache::write_ref(const std::string& revision, const std::string& commit) const {
  if (revision == commit) return Status::Ok();  // a commit needs no ref (huggingface_hub writes none)
  std::string cur;
  if (read_ref(revision, &cur) && cur == commit) return Status::Ok();
  const std::string path = ref_path(revision);
  F8HUB_TRY(make_dirs(path.substr(0, path.rfind('/'))));
  const std::string tmp = path + "." + std::to_string(::getpid()) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << commit;  // the commit id and nothing else, as huggingface_hub writes it
    if (!out.flush()) return Status::Error(Kind::Io, "cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return Status::Error(Kind::Io, "cannot write " + path + ": " + std::strerror(e));
  }
  return Status::Ok();
}

Status RepoCache::link_pointer(const std::string& etag, const std::string& commit, const std::string& file) const {
  const std::string p = pointer_path(commit, file);
  F8HUB_TRY(make_dirs(p.substr(0, p.rfind('/'))));
  const std::string target = pointer_target(file, etag);
  // Create beside and rename over: readers never see the pointer missing.
  const std::string tmp = p + "." + std::to_string(::getpid()) + ".lnk";
  ::unlink(tmp.c_str());
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    return Status::Error(Kind::Io, "cannot create symlink " + p + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), p.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    return Status::Error(Kind::Io, "cannot create symlink " + p + ": " + std::strerror(e));
  }
  return Status::Ok();
}

bool RepoCache::pointer_ok(const std::string& commit, const std::string& file) const {
  struct stat st;
  return ::stat(pointer_path(commit, file).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

FileLock::~FileLock() {
  if (fd_ >= 0) {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
}

Status FileLock::acquire(const std::string& path, const Cancel& cancel, const std::function<void()>& on_wait) {
  F8HUB_TRY(make_dirs(path.substr(0, path.rfind('/'))));
  // 0664 as huggingface_hub's WeakFileLock: users sharing a cache can wait on it.
  // (fchmod, not umask: umask is process-wide and other threads create files.)
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0664);
  if (fd_ < 0) return Status::Error(Kind::Io, "cannot open lock file " + path + ": " + std::strerror(errno));
  (void)::fchmod(fd_, 0664);  // best effort: fails harmlessly on a lock file another user owns
  bool told = false;
  while (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      return Status::Error(Kind::Io, "cannot lock " + path + ": " + std::strerror(errno));
    if (cancel.cancelled()) return Status::Error(Kind::Interrupted, "interrupted while waiting for " + path);
    if (!told && on_wait) on_wait();
    told = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return Status::Ok();
}

}  // namespace f8hub
