// cmd_convert.cpp — `f8 convert DIR -o OUT.f8`: Hugging Face directory ->
// .f8 (the work is in convert/converter.h; the options, progress bar and
// error summary in util_convert.h, shared with `f8 pull`).
#include <string>

#include "args.h"
#include "command.h"
#include "util_convert.h"

namespace {

int cmd_convert(int argc, char** argv) {
  using namespace f8cli;
  std::string dir, out;
  ConvertFlags f;
  ArgParser p("f8 convert", "DIR -o OUT.f8 [options]",
              "Convert a Hugging Face model directory (config.json, *.safetensors, tokenizer files)\n"
              "to one .f8 file. Linear-layer weights become FP8; embeddings, lm_head stay BF16,\n"
              "norms and biases F32. Already-FP8 checkpoints (compressed-tensors, AutoFP8, block\n"
              "FP8) are imported unchanged.");
  p.positional("DIR", &dir, "the model directory");
  p.option("-o,--output", &out, "FILE", "output .f8 file", /*required=*/true);
  add_convert_flags(p, &f);
  p.epilog("example:\n  f8 convert ~/.cache/f8/smollm2-135m-instruct -o smollm2.f8\n"
           "A model on the Hugging Face Hub: f8 pull ORG/NAME [these options] (docs/pull.md).");
  int rc = 0;
  if (!p.parse(argc, argv, &rc)) return rc;

  f8conv::ConvertOptions o;
  f8conv::CalibOptions co;
  bool calibrate = false;
  if (int e = convert_options_from(f, p, "f8 convert", &o, &co, &calibrate)) return e;
  o.model_dir = dir;
  o.output = out;
  return run_conversion(o, calibrate ? &co : nullptr, f);
}

}  // namespace

F8_COMMAND("convert", "Hugging Face directory -> .f8 (FP8 weights, tokenizer, template)", cmd_convert);
