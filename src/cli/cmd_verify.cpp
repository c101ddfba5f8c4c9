// cmd_verify.cpp — `f8 verify FILE`: recomputes every tensor's stored
// checksum (XXH64, SPEC.md §Checksum) to find bit rot or a bad copy. Shows
// progress on a terminal; prints each bad tensor; exit 0 all good, 1 if any
// tensor failed or the file is unreadable/malformed, 2 on usage errors.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "args.h"
#include "command.h"
#include "ggf8/checksum.h"
#include "ggf8/ggf8.h"

namespace f8cli {
namespace {

int run_verify(int argc, char** argv) {
  std::string path;
  bool quiet = false;
  ArgParser p("f8 verify", "FILE", "Recompute the per-tensor checksums of a .f8 file.");
  p.positional("FILE", &path, "the .f8 file");
  p.flag("-q,--quiet", &quiet, "no progress, only errors and the summary");
  int rc = 0;
  if (!p.parse(argc, argv, &rc)) return rc;

  std::unique_ptr<ggf8::File> f;
  ggf8::Status s = ggf8::File::open(path, &f);
  if (!s.ok()) return fail(1, s.message);

  uint64_t total = 0, unchecked = 0;
  for (const auto& t : f->tensors()) {
    if (t.has_checksum) total += t.nbytes;
    else ++unchecked;
  }
  const bool tty = !quiet && ::isatty(2);
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t done = 0, checked = 0, bad = 0;
  int last_pct = -1;
  constexpr uint64_t kChunk = 16ull << 20;  // hash in 16 MiB steps (progress granularity)
  for (const auto& t : f->tensors()) {
    if (!t.has_checksum) continue;
    ggf8::Xxh64 h(0);
    const uint8_t* d = f->data(t);
    for (uint64_t off = 0; off < t.nbytes; off += kChunk) {
      uint64_t n = std::min(kChunk, t.nbytes - off);
      h.update(d + off, size_t(n));
      done += n;
      int pct = total ? int(done * 100 / total) : 100;
      if (tty && pct != last_pct) {
        std::fprintf(stderr, "\rverify: %3d%% (%.2f of %.2f GiB)", pct, double(done) / (1 << 30),
                     double(total) / (1 << 30));
        last_pct = pct;
      }
    }
    ++checked;
    uint64_t got = h.digest();
    if (got != t.checksum) {
      if (tty) {
        std::fputc('\n', stderr);
        last_pct = -1;
      }
      ++bad;
      std::fprintf(stderr,
                   "f8: error: %s: tensor '%s' at byte %" PRIu64 ": checksum %016" PRIx64
                   ", expected %016" PRIx64 "\n",
                   path.c_str(), t.name.c_str(), t.offset, got, t.checksum);
    }
  }
  if (tty && last_pct >= 0) std::fputc('\n', stderr);
  double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("%s: %" PRIu64 " of %" PRIu64 " tensors checked, %.2f GiB in %.2f s (%.2f GB/s)",
              path.c_str(), checked, uint64_t(f->tensors().size()), double(total) / (1 << 30), sec,
              sec > 0 ? double(total) / sec / 1e9 : 0.0);
  if (unchecked) std::printf(", %" PRIu64 " without a checksum", unchecked);
  if (bad) {
    std::printf(": %" PRIu64 " BAD\n", bad);
    return 1;
  }
  std::printf(": all OK\n");
  return 0;
}

}  // namespace

F8_COMMAND("verify", "recompute a .f8 file's per-tensor checksums", run_verify);

}  // namespace f8cli
