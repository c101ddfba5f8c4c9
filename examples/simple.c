/* simple.c — the whole f8 C API in one page: load a model, tokenize a
 * prompt, prefill it in one batched decode, then sample and decode one token
 * at a time, streaming the text; free everything.
 *
 *   simple MODEL.f8 [PROMPT] [N_TOKENS]
 *
 * Build: part of the CMake build (build/bin/simple). Pure C11; links libf8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "f8.h"

static int die(const char *what) {
  fprintf(stderr, "simple: %s: %s\n", what, f8_last_error());
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL.f8 [PROMPT] [N_TOKENS]\n", argv[0]);
    return 2;
  }
  const char *path = argv[1];
  const char *prompt = argc > 2 ? argv[2] : "The capital of France is";
  const int n_gen = argc > 3 ? atoi(argv[3]) : 32;
  int rc = 1;

  /* 1. Load the model (mmap; weights are used in place). */
  f8_model *model = NULL;
  f8_model_params mp = f8_model_default_params();
  if (f8_model_load(path, &mp, &model) != F8_OK) return die("load");

  f8_model_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  if (f8_model_get_info(model, &info) != F8_OK) {
    f8_model_free(model);
    return die("info");
  }

  /* 2. A context: KV cache + scratch. Defaults: FP8 KV, all CPUs. */
  f8_context *ctx = NULL;
  f8_context_params cp = f8_context_default_params();
  cp.n_ctx = 512;
  if (f8_context_new(model, &cp, &ctx) != F8_OK) {
    f8_model_free(model);
    return die("context");
  }

  /* 3. Tokenize: ask for the size first, then fill. */
  size_t n_prompt = 0;
  f8_tokenize(model, prompt, strlen(prompt), true, false, NULL, 0, &n_prompt);
  int32_t *ids = malloc((n_prompt ? n_prompt : 1) * sizeof *ids);
  f8_batch batch;
  memset(&batch, 0, sizeof batch);
  f8_sampler *smpl = NULL;
  f8_detok_stream *ds = NULL;
  if (!ids || f8_tokenize(model, prompt, strlen(prompt), true, false, ids, n_prompt, &n_prompt) != F8_OK) {
    die("tokenize");
    goto done;
  }
  if (n_prompt == 0 || n_prompt + (size_t)n_gen > cp.n_ctx) {
    fprintf(stderr, "simple: prompt of %zu tokens + %d to generate does not fit %u\n", n_prompt, n_gen,
            cp.n_ctx);
    goto done;
  }

  /* 4. Prefill: the whole prompt is one batch (sequence 0, positions
   *    0..n-1); only the last entry needs logits. */
  if (f8_batch_init((int32_t)n_prompt, &batch) != F8_OK) {
    die("batch");
    goto done;
  }
  for (size_t i = 0; i < n_prompt; ++i) f8_batch_add(&batch, ids[i], (int32_t)i, 0, i + 1 == n_prompt);
  if (f8_decode(ctx, &batch) != F8_OK) {
    die("decode prompt");
    goto done;
  }

  /* 5. Greedy sampler and a streaming detokenizer. */
  f8_sampler_params sp = f8_sampler_default_params();
  sp.temperature = 0.0f;
  if (f8_sampler_new(&sp, info.n_vocab, &smpl) != F8_OK || f8_detok_stream_new(model, false, false, &ds) != F8_OK) {
    die("sampler");
    goto done;
  }
  printf("%s", prompt);
  int32_t pos = (int32_t)n_prompt;
  for (int i = 0; i < n_gen; ++i) {
    const float *logits = NULL;
    int32_t tok = 0;
    if (f8_get_logits_ith(ctx, -1, &logits) != F8_OK || f8_sampler_sample(smpl, logits, info.n_vocab, &tok) != F8_OK) {
      die("sample");
      goto done;
    }
    if (f8_token_is_eog(model, tok)) break;
    const char *text = NULL;
    size_t len = 0;
    if (f8_detok_stream_push(ds, tok, &text, &len) == F8_OK) fwrite(text, 1, len, stdout);
    fflush(stdout);
    /* 6. Decode the new token: a batch of one. */
    batch.n_tokens = 0;
    f8_batch_add(&batch, tok, pos++, 0, true);
    if (f8_decode(ctx, &batch) != F8_OK) {
      die("decode");
      goto done;
    }
  }
  {
    const char *text = NULL;
    size_t len = 0;
    if (f8_detok_stream_flush(ds, &text, &len) == F8_OK) fwrite(text, 1, len, stdout);
  }
  printf("\n");
  rc = 0;

done: /* 7. Free in reverse order (NULL-safe). */
  f8_detok_stream_free(ds);
  f8_sampler_free(smpl);
  f8_batch_free(&batch);
  free(ids);
  f8_context_free(ctx);
  f8_model_free(model);
  return rc;
}
