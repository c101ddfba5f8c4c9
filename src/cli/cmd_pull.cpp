// cmd_pull.cpp — `f8 pull ORG/NAME[@REV] [convert options]`: the files a
// conversion needs from the Hugging Face Hub into the huggingface_hub cache,
// then `f8 convert` with the given options into $F8_HOME/models/. The work is
// in util_pull.cpp (flow) and hub/ (Hub client); docs/pull.md.
#ifdef F8_HAVE_HUB
#include <string>

#include "args.h"
#include "command.h"
#include "util_convert.h"
#include "util_pull.h"

namespace {

int cmd_pull(int argc, char** argv) {
  using namespace f8cli;
  PullRequest req;
  int64_t jobs = 4;
  ArgParser p("f8 pull", "ORG/NAME[@REVISION] [convert options]",
              "Download a model from the Hugging Face Hub and convert it to FP8. Only what the conversion\n"
              "reads is fetched (config.json, generation_config.json, the tokenizer files, chat_template.jinja,\n"
              "model.safetensors or the index and its shards), into the huggingface_hub cache\n"
              "($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), where transformers\n"
              "finds it too. Downloads run in parallel, resume after an interruption, and are checked\n"
              "against the sha256 the Hub announces. The .f8 goes to\n"
              "$F8_HOME/models/ORG--NAME[--REVISION][--OPTIONS].f8 (F8_HOME default ~/.cache/f8); its path\n"
              "is the last line of stdout. Pulling again checks the Hub and converts again only when\n"
              "the revision moved to a new commit.");
  p.positional("REPO", &req.spec, "ORG/NAME, optionally @REVISION (a branch, tag or commit; default main)");
  p.option("-j,--jobs", &jobs, "N", "files downloaded at once");
  add_convert_flags(p, &req.convert, "convert again even if the .f8 is up to date");
  p.epilog(
      "environment:\n"
      "  HF_ENDPOINT        the Hub (default https://huggingface.co)\n"
      "  HF_TOKEN           token for gated or private repos (else the file $HF_HOME/token)\n"
      "  HF_HUB_OFFLINE=1   no network: use what the cache holds\n"
      "  HF_HUB_CACHE, HF_HOME, F8_HOME, HTTPS_PROXY/https_proxy, NO_PROXY, SSL_CERT_FILE\n"
      "Ctrl-C stops the downloads; the same command later resumes them.\n\n"
      "examples:\n"
      "  f8 pull HuggingFaceTB/SmolLM2-135M-Instruct\n"
      "  f8 chat -m HuggingFaceTB/SmolLM2-135M-Instruct      # -m ORG/NAME uses (or pulls) the .f8\n"
      "  f8 pull Qwen/Qwen2.5-0.5B-Instruct@main --scale block\n"
      "Pulled models: f8 list; remove one: f8 rm ORG/NAME [--purge]. docs/pull.md");
  int rc = 0;
  if (!p.parse(argc, argv, &rc)) return rc;
  if (jobs < 1 || jobs > 64) return fail(2, "f8 pull: --jobs " + std::to_string(jobs) + ": expected 1..64");
  req.parser = &p;
  req.jobs = static_cast<int>(jobs);
  std::string path;
  return pull_model(req, &path);
}

}  // namespace

F8_COMMAND("pull", "download ORG/NAME from the Hugging Face Hub and convert it (cached)", cmd_pull);

#endif  // F8_HAVE_HUB
