// util_pull.cpp — see util_pull.h. The Hub work is in hub/ (snapshot.h);
// this file adds what the user sees (messages, Ctrl-C, progress), the
// conversion through util_convert.h and the model name.
#include "util_pull.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "f8.h"

#ifdef F8_HAVE_HUB
#include "ggf8/keys.h"
#include "hub/hub_cache.h"
#include "hub/http_client.h"
#include "hub/model_store.h"
#include "hub/repo_ref.h"
#include "hub/snapshot.h"
#include "util_pull_progress.h"
#endif

namespace f8cli {

#ifdef F8_HAVE_HUB
namespace {

volatile std::sig_atomic_t g_sigint = 0;

void on_sigint(int) {
  g_sigint = 1;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
}

// Ctrl-C stops the downloads (they keep their .incomplete) instead of
// killing the process, for as long as this lives.
struct SigintScope {
  struct sigaction old {};
  SigintScope() {
    g_sigint = 0;
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a blocked wait returns
    sigaction(SIGINT, &sa, &old);
  }
  ~SigintScope() { sigaction(SIGINT, &old, nullptr); }
};

int exit_code(const f8hub::Status& s) {
  switch (s.kind) {
    case f8hub::Kind::Ok: return 0;
    case f8hub::Kind::Usage: return 2;
    case f8hub::Kind::Interrupted: return 130;
    default: return 1;
  }
}

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

// A conversion killed before it finished leaves "<out>.tmp.<pid>[.<n>]"
// (ggf8 writer) behind; remove those whose process is gone.
void remove_stale_temporaries(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const size_t t = name.find(".f8.tmp.");
    if (t == std::string::npos) continue;
    const long pid = std::strtol(name.c_str() + t + 8, nullptr, 10);
    if (pid > 0 && !exists("/proc/" + std::to_string(pid))) fs::remove(it->path(), ec);
  }
}

std::string short_commit(const std::string& c) { return c.substr(0, 12); }

}  // namespace

int pull_model(const PullRequest& req, std::string* path) {
  const f8hub::HubEnv env = f8hub::hub_env_from();
  f8hub::set_user_agent(std::string("f8/") + f8_version());
  f8hub::RepoRef ref;
  std::string err;
  if (!f8hub::parse_repo_ref(req.spec, &ref, &err)) return fail(2, "f8 pull: " + err);
  if (req.jobs < 1 || req.jobs > 64) return fail(2, "f8 pull: --jobs " + std::to_string(req.jobs) + ": expected 1..64");

  // The convert options are checked before any request.
  ArgParser defaults("f8 pull", "", "");
  ConvertFlags cf_defaults;
  add_convert_flags(defaults, &cf_defaults);
  const ArgParser& p = req.parser ? *req.parser : defaults;
  f8conv::ConvertOptions o;
  f8conv::CalibOptions co;
  bool calibrate = false;
  if (int e = convert_options_from(req.convert, p, "f8 pull", &o, &co, &calibrate)) return e;
  const std::string dir = f8hub::models_dir(env);
  const std::string out = dir + "/" + f8hub::model_file_name(ref, convert_options_tag(req.convert, p));
  *path = out;
  if (f8hub::Status s = f8hub::make_dirs(dir); !s.ok()) return fail(1, s.message);
  remove_stale_temporaries(dir);

  const bool quiet = req.convert.quiet;
  PullProgress progress(isatty(STDERR_FILENO), quiet);
  // Ctrl-C stops the downloads cleanly; the conversion after them is
  // interrupted the ordinary way (its writer never leaves a half file).
  auto sigint = std::make_unique<SigintScope>();
  f8hub::Cancel cancel;
  cancel.sigint = &g_sigint;

  f8hub::Resolved res;
  // (Its retries stay silent: a failure is one line, e.g. the endpoint unreachable.)
  f8hub::Status s = f8hub::resolve_revision(env, ref, cancel, &res);
  f8hub::PulledModel have;
  if (!s.ok() && (s.kind == f8hub::Kind::Offline || s.kind == f8hub::Kind::Network) && !req.convert.force &&
      exists(out) && f8hub::read_model_source(out, &have)) {
    // The .f8 is here; only the check for a newer commit is impossible.
    std::fprintf(stderr, "f8: warning: %s; using %s as it is (converted from commit %s)\n", s.message.c_str(),
                 out.c_str(), short_commit(have.commit).c_str());
    if (req.print_path) std::printf("%s\n", out.c_str());
    return 0;
  }
  if (!s.ok()) return fail(exit_code(s), s.message);
  const std::string at = ref.repo + "@" + ref.revision;
  if (res.from_cache && !env.offline)
    std::fprintf(stderr, "f8: warning: %s; using the cached commit %s of %s\n", res.why_cache.c_str(),
                 short_commit(res.commit).c_str(), at.c_str());

  if (!req.convert.force && exists(out) && f8hub::read_model_source(out, &have) && have.commit == res.commit) {
    if (!quiet)
      std::fprintf(stderr, "f8: %s is up to date (commit %s%s)\n", at.c_str(), short_commit(res.commit).c_str(),
                   res.from_cache ? ", from the cache" : "");
    if (req.print_path) std::printf("%s\n", out.c_str());
    return 0;
  }
  if (!quiet) {
    if (!have.commit.empty() && have.commit != res.commit)
      std::fprintf(stderr, "f8: %s was converted from commit %s; %s is now %s\n", out.c_str(),
                   short_commit(have.commit).c_str(), at.c_str(), short_commit(res.commit).c_str());
    std::fprintf(stderr, "f8: pulling %s (commit %s) %s into %s\n", at.c_str(), short_commit(res.commit).c_str(),
                 res.from_cache ? (env.offline ? "from the cache (HF_HUB_OFFLINE)" : "from the cache")
                                : ("from " + env.endpoint).c_str(),
                 env.cache_dir.c_str());
  }
  f8hub::SnapshotHooks hooks = progress.hooks();
  f8hub::SnapshotResult snap;
  const auto t0 = std::chrono::steady_clock::now();
  s = f8hub::fetch_snapshot(env, ref, res, req.jobs, cancel, hooks, &snap);
  progress.finish();
  sigint.reset();
  if (!s.ok()) {
    if (s.kind == f8hub::Kind::Interrupted)  // message: "interrupted" or "FILE: interrupted with N of M in PATH"
      return fail(130, s.message + ": run the same command again to resume");
    return fail(exit_code(s), s.message);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!quiet)
    std::fprintf(stderr, "f8: %s: %zu files, %s (%s downloaded in %.1f s, %d files already cached) in %s\n",
                 at.c_str(), snap.files.size(), human_bytes(snap.bytes).c_str(), human_bytes(snap.fetched).c_str(),
                 secs, snap.n_cached, snap.dir.c_str());

  // Convert. The writer is atomic: an existing file is replaced only by a
  // complete new one.
  o.model_dir = snap.dir;
  o.output = out;
  o.overwrite = true;
  o.extra_metadata.push_back({ggf8::keys::kSourceRepo, ggf8::Value::str(ref.repo)});
  o.extra_metadata.push_back({ggf8::keys::kSourceRevision, ggf8::Value::str(ref.revision)});
  o.extra_metadata.push_back({ggf8::keys::kSourceCommit, ggf8::Value::str(res.commit)});
  if (!quiet) std::fprintf(stderr, "f8: converting to %s\n", out.c_str());
  if (int e = run_conversion(o, calibrate ? &co : nullptr, req.convert)) return e;
  if (req.print_path) std::printf("%s\n", out.c_str());
  return 0;
}

int resolve_model_flag(std::string* model, std::string* repo) {
  if (model->empty() || exists(*model) || !f8hub::looks_like_repo(*model)) return 0;
  const f8hub::HubEnv env = f8hub::hub_env_from();
  f8hub::RepoRef ref;
  std::string err;
  if (!f8hub::parse_repo_ref(*model, &ref, &err)) return 0;
  const std::string path = f8hub::models_dir(env) + "/" + f8hub::model_file_name(ref, "");
  if (repo) *repo = *model;
  if (!exists(path)) {
    std::fprintf(stderr, "f8: %s is not pulled yet: pulling it first (as `f8 pull %s`)\n", model->c_str(),
                 model->c_str());
    PullRequest req;
    req.spec = *model;
    req.print_path = false;
    std::string got;
    if (int e = pull_model(req, &got)) return e;
  }
  *model = path;
  return 0;
}

#else  // no hub/ in this build (F8_HUB=OFF): -m takes files only

int pull_model(const PullRequest&, std::string*) { return fail(1, "f8 pull: this f8 was built without F8_HUB"); }
int resolve_model_flag(std::string*, std::string*) { return 0; }

#endif

}  // namespace f8cli
