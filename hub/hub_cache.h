// hub_cache.h — one repo's folder in the huggingface_hub cache, laid out
// exactly as huggingface_hub lays it out, so either tool uses what the other
// downloaded:
//
//   <cache>/models--ORG--NAME/
//     blobs/<etag>                  the file's bytes; etag = sha256 (LFS) or git blob sha1
//     blobs/<etag>.incomplete       a download in progress (resumed with Range)
//     snapshots/<commit>/<file>     relative symlink -> ../../blobs/<etag> (one more ../ per '/' in file)
//     refs/<revision>               the commit id, nothing else (no newline)
//   <cache>/.locks/models--ORG--NAME/<etag>.lock   flock(2), as huggingface_hub's FileLock
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "hub/cancel.h"
#include "hub/hub_status.h"

namespace f8hub {

class RepoCache {
 public:
  RepoCache(std::string cache_dir, std::string repo);

  const std::string& repo() const { return repo_; }
  std::string storage() const;                       // <cache>/models--ORG--NAME
  std::string blob_path(const std::string& etag) const;
  std::string incomplete_path(const std::string& etag) const;
  std::string snapshot_dir(const std::string& commit) const;
  std::string pointer_path(const std::string& commit, const std::string& file) const;
  std::string ref_path(const std::string& revision) const;
  std::string lock_path(const std::string& etag) const;

  // The commit refs/<revision> holds; false when absent or not a commit id.
  bool read_ref(const std::string& revision, std::string* commit) const;
  // Writes refs/<revision> atomically (temp + rename) when it differs.
  Status write_ref(const std::string& revision, const std::string& commit) const;
  // snapshots/<commit>/<file> -> blobs/<etag> as a relative symlink,
  // replacing whatever is there.
  Status link_pointer(const std::string& etag, const std::string& commit, const std::string& file) const;
  // The pointer exists and resolves to a regular file (a dangling link does not count).
  bool pointer_ok(const std::string& commit, const std::string& file) const;

 private:
  std::string cache_, repo_;
};

// The relative symlink target from snapshots/<commit>/<file> to blobs/<etag>.
std::string pointer_target(const std::string& file, const std::string& etag);

// A file name inside a repo that is safe to join below snapshots/<commit>/:
// relative, no empty / "." / ".." component, no backslash or control byte.
bool safe_repo_path(const std::string& file);

// An exclusive flock(2) on a lock file, released on destruction. Waits
// (reporting once through `on_wait`) while another process — f8 or
// huggingface_hub — holds it; gives up when `cancel` fires.
class FileLock {
 public:
  FileLock() = default;
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  Status acquire(const std::string& path, const Cancel& cancel, const std::function<void()>& on_wait);

 private:
  int fd_ = -1;
};

// mkdir -p; Io error naming the path.
Status make_dirs(const std::string& path);

}  // namespace f8hub
