/* abi_check.c — the header this program was compiled with against the libf8 it
 * runs with: F8_API_VERSION, the version string, and every struct_size field.
 *
 *   abi_check MODEL.f8        prints "abi ok" and exits 0, or names the mismatch. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <f8.h>

static int failures = 0;
#define CHECK(cond, ...)                          \
  do {                                            \
    if (!(cond)) {                                \
      fprintf(stderr, "abi_check: FAIL: " __VA_ARGS__); \
      fprintf(stderr, "\n");                      \
      ++failures;                                 \
    }                                             \
  } while (0)

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: abi_check MODEL.f8\n");
    return 2;
  }
  /* The library is at least as new as the header. */
  CHECK(f8_api_version() >= F8_API_VERSION, "library API %d < header API %d", f8_api_version(), F8_API_VERSION);
  CHECK(strcmp(f8_version(), F8_EXPECT_VERSION) == 0, "f8_version() %s, package says %s", f8_version(),
        F8_EXPECT_VERSION);

  /* Every params struct the library fills has the header's size. */
  f8_model_params mp = f8_model_default_params();
  f8_context_params cp = f8_context_default_params();
  f8_sampler_params sp = f8_sampler_default_params();
  f8_chat_params chp = f8_chat_default_params();
  CHECK(mp.struct_size == sizeof mp, "f8_model_params %zu vs %zu", mp.struct_size, sizeof mp);
  CHECK(cp.struct_size == sizeof cp, "f8_context_params %zu vs %zu", cp.struct_size, sizeof cp);
  CHECK(sp.struct_size == sizeof sp, "f8_sampler_params %zu vs %zu", sp.struct_size, sizeof sp);
  CHECK(chp.struct_size == sizeof chp, "f8_chat_params %zu vs %zu", chp.struct_size, sizeof chp);

  /* A caller from a newer header (bigger struct) is refused with a message;
   * one from an older header (struct ending before `backend`) still loads. */
  f8_model *m = NULL;
  f8_model_params big = mp;
  big.struct_size = sizeof big + 8;
  CHECK(f8_model_load(argv[1], &big, &m) == F8_ERR_INVALID_ARGUMENT && m == NULL,
        "oversized f8_model_params accepted");
  CHECK(strstr(f8_last_error(), "struct_size") != NULL, "no struct_size message: %s", f8_last_error());
  f8_model_params old = mp;
  old.vocab_only = true;
  old.struct_size = offsetof(f8_model_params, backend);
  CHECK(f8_model_load(argv[1], &old, &m) == F8_OK && m != NULL, "older f8_model_params refused: %s",
        f8_last_error());

  /* f8_model_info: the caller states its size; the library checks it. */
  f8_model_info info;
  memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  CHECK(f8_model_get_info(m, &info) == F8_OK, "f8_model_get_info: %s", f8_last_error());
  CHECK(info.n_vocab > 0 && info.arch[0] != '\0', "empty f8_model_info");
  info.struct_size = sizeof info - 1;
  CHECK(f8_model_get_info(m, &info) == F8_ERR_INVALID_ARGUMENT, "short f8_model_info accepted");
  f8_model_free(m);

  /* Enum values are part of the ABI. */
  CHECK(F8_ERR_INTERNAL == 10 && strcmp(f8_status_name(F8_ERR_INTERNAL), "F8_ERR_INTERNAL") == 0,
        "status enum moved");
  CHECK(F8_KV_E5M2 == 4 && F8_STOP_MAX_TOKENS == 3 && F8_CHAT_ENGINE_JINJA == 2, "enums moved");

  if (failures) return 1;
  printf("abi ok: header API %d, library API %d, version %s\n", F8_API_VERSION, f8_api_version(), f8_version());
  return 0;
}
