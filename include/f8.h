/* f8.h — the f8 C API. Pure C, includes only standard headers.
 *
 * Conventions
 *  - Opaque handles; params structs come from f8_*_default_params().
 *  - Every fallible call returns f8_status; results go through out
 *    parameters; f8_last_error() gives a thread-local message for the last
 *    failing call on this thread. The library never aborts or exits on bad
 *    input or resource failure, and no C++ exception crosses this boundary.
 *  - Thread safety is stated per function: [any] = callable from any thread
 *    concurrently; [model: shared] = a model may be used read-only from many
 *    threads at once; [ctx: one thread] = a context (or sampler) must be used
 *    by one thread at a time.
 *  - Strings are UTF-8 and NUL-terminated unless a length is given.
 */
#ifndef F8_H
#define F8_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  define F8_API __declspec(dllexport)
#else
#  define F8_API __attribute__((visibility("default")))
#endif

/* Bumped when a struct grows or a signature changes. Params structs carry
 * their own size so older callers keep working. */
#define F8_API_VERSION 1

typedef enum f8_status {
  F8_OK = 0,
  F8_ERR_INVALID_ARGUMENT = 1, /* a NULL handle, bad enum, absurd value     */
  F8_ERR_IO = 2,               /* file missing/unreadable, write failed      */
  F8_ERR_FORMAT = 3,           /* the file is malformed or not a .f8         */
  F8_ERR_UNSUPPORTED = 4,      /* valid but not supported (arch, dtype, ...) */
  F8_ERR_OUT_OF_MEMORY = 5,
  F8_ERR_CONTEXT_FULL = 6,     /* the KV cache has no room for the batch     */
  F8_ERR_ABORTED = 7,          /* a progress/abort callback asked to stop    */
  F8_ERR_BUFFER_TOO_SMALL = 8, /* out buffer too small; *needed is set       */
  F8_ERR_TEMPLATE = 9,         /* chat template failed to render             */
  F8_ERR_INTERNAL = 10,        /* a bug: please report                       */
} f8_status;

/* [any] Static string naming a status, e.g. "F8_ERR_IO". */
F8_API const char *f8_status_name(f8_status s);
/* [any] Message of the last failing call on this thread ("" if none).
 * Valid until the next f8 call on this thread. */
F8_API const char *f8_last_error(void);
/* [any] Library version string, e.g. "0.1.0". */
F8_API const char *f8_version(void);

/* ------------------------------------------------------------------ model */
typedef struct f8_model f8_model;

/* Progress on load: fraction in [0,1]. Return false to cancel the load
 * (f8_model_load then returns F8_ERR_ABORTED). */
typedef bool (*f8_progress_cb)(float fraction, void *user_data);

typedef struct f8_model_params {
  size_t struct_size;          /* = sizeof(f8_model_params), set by default_params */
  bool vocab_only;             /* load tokenizer + chat template only, no weights */
  f8_progress_cb progress;     /* may be NULL */
  void *progress_user_data;
} f8_model_params;

/* [any] */
F8_API f8_model_params f8_model_default_params(void);
/* [any] Maps and validates the file. On failure *out is NULL. */
F8_API f8_status f8_model_load(const char *path, const f8_model_params *params,
                               f8_model **out);
/* [any] NULL is a no-op. Contexts made from the model must be freed first. */
F8_API void f8_model_free(f8_model *model);

/* ----------------------------------------------------- tokenizer (text) */
/* F8_SECTION_TOKENIZER */

/* ------------------------------------------------------- chat templates */
/* F8_SECTION_CHAT */

/* ------------------------------------------------------------- sampling */
/* F8_SECTION_SAMPLING */

/* ------------------------------------------------ context and decoding */
/* F8_SECTION_CONTEXT */

#ifdef __cplusplus
}
#endif
#endif /* F8_H */
