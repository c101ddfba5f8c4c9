// snapshot.cpp — see snapshot.h.
#include "hub/snapshot.h"

#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "hub/download.h"
#include "hub/file_select.h"
#include "hub/hub_cache.h"

namespace f8hub {

namespace {
namespace fs = std::filesystem;

bool is_hex(const std::string& s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

bool read_small_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

bool is_dir(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string where(const RepoRef& ref) { return ref.repo + "@" + ref.revision; }

// Offline: the needed files must all be in snapshots/<commit>/ already.
Status check_cached(const HubEnv& env, const RepoRef& ref, const Resolved& res, SnapshotHooks& hooks,
                    SnapshotResult* out) {
  RepoCache cache(env.cache_dir, ref.repo);
  const std::string dir = cache.snapshot_dir(res.commit);
  const std::string how = env.offline ? std::string("HF_HUB_OFFLINE is set") : "the Hub cannot be reached (" + res.why_cache + ")";
  std::vector<std::string> listing;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string rel = it->path().lexically_relative(dir).string();  // (fs::relative would follow the symlink)
    if (cache.pointer_ok(res.commit, rel)) listing.push_back(rel);
  }
  Selection sel;
  Status s = select_files(listing, "the cached snapshot " + dir, &sel);
  if (!s.ok()) return Status::Error(Kind::Offline, how + " and " + s.message);
  std::vector<std::string> all = sel.support;
  if (!sel.single.empty()) all.push_back(sel.single);
  if (!sel.index.empty()) {
    std::string text;
    std::vector<std::string> shards;
    if (!read_small_file(cache.pointer_path(res.commit, sel.index), &text))
      return Status::Error(Kind::Io, "cannot read " + cache.pointer_path(res.commit, sel.index));
    F8HUB_TRY(shards_from_index(text, cache.pointer_path(res.commit, sel.index), &shards));
    all.push_back(sel.index);
    std::string missing;
    for (const auto& sh : shards) {
      all.push_back(sh);
      if (!cache.pointer_ok(res.commit, sh)) missing += (missing.empty() ? "" : ", ") + sh;
    }
    if (!missing.empty())
      return Status::Error(Kind::Offline, how + " and the cached snapshot " + dir + " lacks " + missing);
  }
  std::vector<std::pair<std::string, int64_t>> plan;
  uint64_t total = 0;
  for (const auto& f : all) {
    struct stat st;
    const int64_t sz = ::stat(cache.pointer_path(res.commit, f).c_str(), &st) == 0 ? int64_t(st.st_size) : -1;
    plan.emplace_back(f, sz);
    if (sz > 0) total += uint64_t(sz);
  }
  if (hooks.on_plan) hooks.on_plan(plan, total);
  for (const auto& [f, sz] : plan)
    if (hooks.on_done) hooks.on_done(f, sz, 0, 0);
  out->commit = res.commit;
  out->dir = dir;
  out->files = all;
  out->bytes = total;
  out->n_cached = int(all.size());
  return Status::Ok();
}

struct Job {
  std::string file;
  int64_t size = -1;
};

// One file into the snapshot: nothing when its pointer exists, a symlink
// when its blob exists, else a download.
Status fetch_one(HttpClient& http, HubApi& api, const RepoCache& cache, const Resolved& res, const Job& job,
                 SnapshotHooks& hooks, uint64_t* fetched, bool* was_cached) {
  *was_cached = false;
  if (cache.pointer_ok(res.commit, job.file)) {
    *was_cached = true;
    if (hooks.on_done) hooks.on_done(job.file, job.size, 0, 0);
    return Status::Ok();
  }
  FileMeta m;
  F8HUB_TRY(api.file_meta(cache.repo(), res.commit, job.file, &m));
  const RepoFile* rf = res.info.find(job.file);
  BlobSpec b;
  b.file = job.file;
  b.url = m.location;
  b.headers = api.auth_headers(m.location);
  b.etag = m.etag;
  b.size = m.size >= 0 ? m.size : job.size;
  if (rf && is_hex(rf->lfs_sha256, 64)) b.sha256 = rf->lfs_sha256;
  else if (is_hex(m.linked_etag, 64)) b.sha256 = m.linked_etag;
  if (b.sha256.empty() && rf && rf->blob_id == m.etag && is_hex(m.etag, 40)) b.git_sha1 = m.etag;
  struct stat st;
  if (::stat(cache.blob_path(b.etag).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    F8HUB_TRY(cache.link_pointer(b.etag, res.commit, job.file));
    *was_cached = true;
    if (hooks.on_done) hooks.on_done(job.file, int64_t(st.st_size), 0, 0);
    return Status::Ok();
  }
  if (hooks.on_start) hooks.on_start(job.file, b.size);
  DownloadHooks dh;
  dh.on_bytes = hooks.on_bytes;
  dh.on_kept = hooks.on_kept;
  dh.on_note = hooks.on_note;
  DownloadStats ds;
  const auto t0 = std::chrono::steady_clock::now();
  F8HUB_TRY(download_blob(http, cache, b, dh, &ds));
  F8HUB_TRY(cache.link_pointer(b.etag, res.commit, job.file));
  *fetched = ds.fetched;
  if (hooks.on_done)
    hooks.on_done(job.file, b.size, ds.fetched,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  return Status::Ok();
}
}  // namespace

Status resolve_revision(const HubEnv& env, const RepoRef& ref, const Cancel& cancel, Resolved* out,
                        const NoteFn& note) {
  RepoCache cache(env.cache_dir, ref.repo);
  auto from_cache = [&](const Status& network) -> Status {
    std::string commit;
    const std::string how =
        env.offline ? std::string("HF_HUB_OFFLINE is set and ") : network.message + "; and offline, ";
    if (is_commit_hash(ref.revision)) {
      commit = ref.revision;
    } else if (!cache.read_ref(ref.revision, &commit)) {
      return Status::Error(env.offline ? Kind::Offline : network.kind,
                           how + where(ref) + " is not in the cache " + env.cache_dir + " (no " +
                               cache.ref_path(ref.revision) + ")");
    }
    if (!is_dir(cache.snapshot_dir(commit)))
      return Status::Error(env.offline ? Kind::Offline : network.kind,
                           how + where(ref) + " is not in the cache (no " + cache.snapshot_dir(commit) + ")");
    out->commit = commit;
    out->from_cache = true;
    out->why_cache = env.offline ? "" : network.message;
    return Status::Ok();
  };
  if (env.offline) return from_cache(Status::Ok());
  HttpClient http(env, cancel);
  HubApi api(http, note);
  RepoInfo info;
  Status s = api.repo_info(ref.repo, ref.revision, &info);
  if (s.kind == Kind::Network) {
    Resolved keep = *out;
    if (from_cache(s).ok()) return Status::Ok();
    *out = keep;
    return s;
  }
  if (!s.ok()) return s;
  out->commit = info.commit;
  out->from_cache = false;
  out->info = std::move(info);
  return Status::Ok();
}

Status fetch_snapshot(const HubEnv& env, const RepoRef& ref, const Resolved& res, int jobs, const Cancel& cancel,
                      SnapshotHooks& hooks, SnapshotResult* out) {
  if (res.from_cache) return check_cached(env, ref, res, hooks, out);
  RepoCache cache(env.cache_dir, ref.repo);
  if (Status s = cache.write_ref(ref.revision, res.commit); !s.ok() && hooks.on_note)
    hooks.on_note("warning: " + s.message);  // as huggingface_hub: a read-only ref is not fatal
  std::vector<std::string> listing;
  for (const auto& f : res.info.files) listing.push_back(f.path);
  Selection sel;
  const std::string what = ref.repo + "@" + ref.revision + " (commit " + res.commit.substr(0, 12) + ")";
  F8HUB_TRY(select_files(listing, what, &sel));
  auto size_of = [&](const std::string& f) {
    const RepoFile* rf = res.info.find(f);
    return rf ? rf->size : int64_t(-1);
  };

  std::mutex mu;  // guards out and first_error
  std::atomic<bool> abort{false};
  Cancel c2 = cancel;
  c2.abort = &abort;
  NoteFn note = hooks.on_note;

  std::vector<Job> todo;
  for (const auto& f : sel.support) todo.push_back({f, size_of(f)});
  if (!sel.single.empty()) todo.push_back({sel.single, size_of(sel.single)});
  if (!sel.index.empty()) {
    // The index first: it names the shards.
    HttpClient http(env, c2);
    HubApi api(http, note);
    uint64_t f = 0;
    bool cached = false;
    F8HUB_TRY(fetch_one(http, api, cache, res, {sel.index, size_of(sel.index)}, hooks, &f, &cached));
    out->fetched += f;
    (cached ? out->n_cached : out->n_fetched) += 1;
    out->files.push_back(sel.index);
    std::string text;
    std::vector<std::string> shards;
    if (!read_small_file(cache.pointer_path(res.commit, sel.index), &text))
      return Status::Error(Kind::Io, "cannot read " + cache.pointer_path(res.commit, sel.index));
    F8HUB_TRY(shards_from_index(text, what + " " + sel.index, &shards));
    for (const auto& sh : shards) {
      if (!res.info.find(sh))
        return Status::Error(Kind::NotFound, what + ": " + sel.index + " names " + sh + ", which the repo does not have");
      todo.push_back({sh, size_of(sh)});
    }
  }
  std::stable_sort(todo.begin(), todo.end(), [](const Job& a, const Job& b) { return a.size > b.size; });

  std::vector<std::pair<std::string, int64_t>> plan;
  uint64_t cached_bytes = 0;
  for (const auto& j : todo) {
    plan.emplace_back(j.file, j.size);
    if (cache.pointer_ok(res.commit, j.file) && j.size > 0) cached_bytes += uint64_t(j.size);
    if (j.size > 0) out->bytes += uint64_t(j.size);
  }
  if (!sel.index.empty() && size_of(sel.index) > 0) out->bytes += uint64_t(size_of(sel.index));
  if (hooks.on_plan) hooks.on_plan(plan, cached_bytes);
  // As huggingface_hub: warn (not fail) when the download will not fit.
  struct statvfs vfs;
  const uint64_t need = out->bytes > cached_bytes ? out->bytes - cached_bytes : 0;
  if (make_dirs(cache.storage()).ok() && ::statvfs(cache.storage().c_str(), &vfs) == 0 && hooks.on_note) {
    const uint64_t avail = uint64_t(vfs.f_bavail) * vfs.f_frsize;
    if (avail < need)
      hooks.on_note("warning: " + std::to_string(need / 1000000) + " MB to download but only " +
                    std::to_string(avail / 1000000) + " MB free in " + env.cache_dir);
  }

  std::atomic<size_t> next{0};
  Status first_error;
  auto worker = [&] {
    HttpClient http(env, c2);
    HubApi api(http, note);
    for (;;) {
      const size_t i = next.fetch_add(1);
      if (i >= todo.size() || c2.cancelled()) return;
      uint64_t f = 0;
      bool cached = false;
      Status s = fetch_one(http, api, cache, res, todo[i], hooks, &f, &cached);
      std::lock_guard<std::mutex> l(mu);
      if (!s.ok()) {
        if (first_error.ok()) first_error = s;
        abort = true;
        return;
      }
      out->fetched += f;
      (cached ? out->n_cached : out->n_fetched) += 1;
      out->files.push_back(todo[i].file);
    }
  };
  const int n = std::max(1, std::min<int>(jobs, int(todo.size())));
  std::vector<std::thread> threads;
  for (int t = 1; t < n; ++t) threads.emplace_back(worker);
  worker();
  for (auto& t : threads) t.join();
  if (!first_error.ok()) return first_error;
  if (cancel.interrupted()) return Status::Error(Kind::Interrupted, "interrupted");
  out->commit = res.commit;
  out->dir = cache.snapshot_dir(res.commit);
  return Status::Ok();
}

}  // namespace f8hub
