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

/* Bumped when a struct grows, a signature changes or functions are added
 * (2: f8_model_params.backend; f8_context_params.gpu_mem, tp, tp_devices,
 * tp_nodes, tp_node, rendezvous. 3: grammars and f8_sampler_set_grammar,
 * f8_sampler_grammar_state, f8_sampler_last_logprobs; f8_context_params.deterministic;
 * speculative decoding: f8_draft_lookup, f8_sampler_sample_probs, f8_sampler_verify.
 * 4: f8_kv_seq_common_prefix. 5: F8_KV_INT8).
 * Model params carry their own size, so older callers of f8_model_load keep
 * working; f8_context_new takes only this header's f8_context_params (start
 * from f8_context_default_params()); docs/embedding.md has the ABI policy. */
#define F8_API_VERSION 5

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

/* [any] The backends this build has, comma-separated, e.g.
 * "cpu,cpu-simd,cpu-ref,cuda,cuda:N" (cuda only in builds with CUDA). */
F8_API const char *f8_backends(void);
/* [any] Whether backend `name` runs on this machine. F8_OK writes a
 * one-line description (e.g. "cuda (NVIDIA H200, sm_90, 132 SMs, 139.8 GiB)")
 * to desc (may be NULL); otherwise the status and f8_last_error() say why
 * (no driver, no device, GPU older than sm_89, unknown name). */
F8_API f8_status f8_backend_probe(const char *name, char *desc, size_t capacity);

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
  /* Backend the weights are loaded into, with progress (e.g. "cuda": copied
   * to the GPU during f8_model_load); contexts whose backend is NULL use it.
   * NULL = "cpu" (zero copy). Contexts on another backend upload on first use. */
  const char *backend;
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
/* Text <-> token ids with the model's own tokenizer (SentencePiece or
 * byte-level BPE, from the file). All functions here only read the model:
 * [model: shared] — callable from many threads at once on one model.
 * Text that is not valid UTF-8 is tokenized as if each invalid sequence were
 * U+FFFD. Ids outside [0, f8_vocab_size) are F8_ERR_INVALID_ARGUMENT. */

/* [model: shared] Encodes `text` (`text_len` bytes; NUL not required).
 * add_special: add BOS/EOS as the model's config says.
 * parse_special: text such as "<|im_start|>" becomes its control token
 * (otherwise it is tokenized as ordinary text).
 * Writes up to `capacity` ids; *n_ids = the number of ids the text needs.
 * If capacity < *n_ids, returns F8_ERR_BUFFER_TOO_SMALL and writes nothing:
 * call again with a buffer of *n_ids (ids may be NULL when capacity is 0). */
F8_API f8_status f8_tokenize(const f8_model *model, const char *text, size_t text_len,
                             bool add_special, bool parse_special,
                             int32_t *ids, size_t capacity, size_t *n_ids);

/* [model: shared] Decodes ids to UTF-8 text (invalid byte sequences become
 * U+FFFD). render_special: control tokens (BOS, EOS, <|im_end|>...) print
 * their text; otherwise they print nothing. strip_leading_space: drop the
 * space SentencePiece's dummy prefix puts before the first word (what
 * SentencePiece's own decode does; use false when decoding a continuation).
 * Writes the text and a NUL into `buf` (`capacity` bytes); *len = the text's
 * length without the NUL. F8_ERR_BUFFER_TOO_SMALL when capacity < *len + 1. */
F8_API f8_status f8_detokenize(const f8_model *model, const int32_t *ids, size_t n_ids,
                               bool render_special, bool strip_leading_space,
                               char *buf, size_t capacity, size_t *len);

/* [model: shared] The bytes one token contributes to text. May be part of a
 * multi-byte character (byte tokens, byte-level pieces): use the stream
 * decoder below to print generated text. Same buffer protocol as
 * f8_detokenize (NUL-terminated; *len excludes the NUL). */
F8_API f8_status f8_token_to_piece(const f8_model *model, int32_t id, bool render_special,
                                   char *buf, size_t capacity, size_t *len);

/* [model: shared] The vocabulary string of a token as stored in the
 * tokenizer (e.g. "Ġthe", "▁the", "<0x0A>"), valid while the model lives;
 * NULL for an out-of-range id. */
F8_API const char *f8_token_text(const f8_model *model, int32_t id);

/* [model: shared] Number of token ids (0 for NULL). May be smaller than the
 * embedding rows for SentencePiece models whose matrix is padded. */
F8_API int32_t f8_vocab_size(const f8_model *model);
/* [model: shared] Special ids; -1 when the model has none (or model NULL). */
F8_API int32_t f8_token_bos(const f8_model *model);
F8_API int32_t f8_token_eos(const f8_model *model);
/* [model: shared] True for ids that end generation: the file's chat.eos_ids
 * (generation_config eos_token_id) and the tokenizer's eos. */
F8_API bool f8_token_is_eog(const f8_model *model, int32_t id);
/* [model: shared] True for control tokens (BOS, EOS, <|im_start|>, ...). */
F8_API bool f8_token_is_control(const f8_model *model, int32_t id);

/* Streaming decoder: push generated ids one at a time and receive only
 * complete UTF-8 text. Bytes of a character split across tokens are held
 * back until it completes, so output never ends inside a character; the
 * concatenation of all chunks equals f8_detokenize of the same ids.
 * [stream: one thread] — a stream is used by one thread at a time; the model
 * must outlive it. */
typedef struct f8_detok_stream f8_detok_stream;

/* [model: shared] */
F8_API f8_status f8_detok_stream_new(const f8_model *model, bool render_special,
                                     bool strip_leading_space, f8_detok_stream **out);
/* [stream: one thread] Appends token `id`. *text and *len receive the newly
 * complete text (possibly empty, *len = 0); *text stays valid until the next
 * call on this stream and is NUL-terminated. */
F8_API f8_status f8_detok_stream_push(f8_detok_stream *stream, int32_t id,
                                      const char **text, size_t *len);
/* [stream: one thread] Emits what is held (an unfinished character becomes
 * U+FFFD) and resets the stream for a new sequence. */
F8_API f8_status f8_detok_stream_flush(f8_detok_stream *stream, const char **text, size_t *len);
/* [stream: one thread] NULL is a no-op. */
F8_API void f8_detok_stream_free(f8_detok_stream *stream);

/* ------------------------------------------------------- chat templates */
/* F8_SECTION_CHAT */
/* Render a conversation into the prompt text the model was trained on, with
 * the model's own chat template (chat.template in the file) or one given by
 * the caller. Output is byte-identical to transformers' apply_chat_template
 * (Python jinja2 with trim_blocks/lstrip_blocks). Known families (ChatML as
 * in SmolLM2/Qwen2, Llama 2, Llama 3, Mistral) render natively; other
 * templates run on f8's Jinja subset interpreter (docs/chat.md). A template
 * that raises (e.g. "roles must alternate"), fails, or uses Jinja outside the
 * subset gives F8_ERR_TEMPLATE with a message naming line and column.
 * Buffer protocol as f8_detokenize: writes the text and a NUL into `buf`
 * (`capacity` bytes; buf may be NULL when capacity is 0); *len = the text's
 * length without the NUL; F8_ERR_BUFFER_TOO_SMALL when capacity < *len + 1. */
typedef struct f8_chat_message {
  const char *role;    /* "system", "user", "assistant", ... (UTF-8, NUL-terminated) */
  const char *content; /* UTF-8, NUL-terminated */
} f8_chat_message;

typedef enum f8_chat_engine {
  F8_CHAT_ENGINE_AUTO = 0,    /* built-in renderer when recognized, else Jinja */
  F8_CHAT_ENGINE_BUILTIN = 1, /* F8_ERR_UNSUPPORTED if the template is not recognized */
  F8_CHAT_ENGINE_JINJA = 2,   /* always the interpreter */
} f8_chat_engine;

typedef struct f8_chat_params {
  size_t struct_size;         /* = sizeof(f8_chat_params), set by default_params */
  bool add_generation_prompt; /* end with the assistant turn header (default true) */
  const char *bos_token;      /* `bos_token` in the template; NULL = the model's
                                 chat.bos_token ("" for f8_chat_template_render) */
  const char *eos_token;      /* likewise for `eos_token` */
  f8_chat_engine engine;      /* default F8_CHAT_ENGINE_AUTO */
} f8_chat_params;

/* [any] */
F8_API f8_chat_params f8_chat_default_params(void);

/* [model: shared] Renders with the model's template. F8_ERR_UNSUPPORTED when
 * the file has no chat template (use f8_chat_template_render with a
 * built-in one). params may be NULL (defaults). */
F8_API f8_status f8_chat_apply_template(const f8_model *model, const f8_chat_message *messages,
                                        size_t n_messages, const f8_chat_params *params,
                                        char *buf, size_t capacity, size_t *len);

/* [any] Renders with an explicit template text `tmpl`. */
F8_API f8_status f8_chat_template_render(const char *tmpl, const f8_chat_message *messages,
                                         size_t n_messages, const f8_chat_params *params,
                                         char *buf, size_t capacity, size_t *len);

/* [any] Renders a conversation given as JSON: {"messages": [...]} or a bare
 * list; message fields may be any JSON (tool_calls, content parts, ...) and
 * reach the template unchanged. The object may also carry "tools" and
 * "documents" (lists: the template's `tools`/`documents`) and
 * "chat_template_kwargs" (an object of more template variables, e.g.
 * {"enable_thinking": false}; it may not set messages, add_generation_prompt,
 * bos_token or eos_token); any of them selects the Jinja interpreter.
 * `tmpl` NULL = the model's template (model must then be non-NULL). Bad JSON
 * is F8_ERR_INVALID_ARGUMENT. */
F8_API f8_status f8_chat_render_json(const f8_model *model, const char *tmpl,
                                     const char *conversation_json, const f8_chat_params *params,
                                     char *buf, size_t capacity, size_t *len);

/* [model: shared] The model's template text (chat.template), "" when the file
 * has none; valid while the model lives. NULL for a NULL model. */
F8_API const char *f8_model_chat_template(const f8_model *model);

/* [any] A built-in template by name: "chatml", "smollm2", "qwen2", "llama2",
 * "llama2-default", "llama3", "mistral", "mistral-v0.1"; NULL when unknown.
 * Static storage. */
F8_API const char *f8_chat_builtin_template(const char *name);

/* [any] The family a template text is recognized as ("chatml", "llama2",
 * "llama3", "mistral"), or "" when it will run on the Jinja interpreter. */
F8_API const char *f8_chat_template_family(const char *tmpl);

/* ------------------------------------------------------------- sampling */
/* F8_SECTION_SAMPLING */
/* Token choice. The chain runs in this fixed order (docs/sampling.md):
 *   logit bias -> repetition/frequency/presence penalties (over the last
 *   penalty_last_n accepted tokens) -> [temperature <= 0: greedy argmax] ->
 *   top-k -> top-p -> min-p -> temperature -> one draw from xoshiro256**
 * top-p/min-p use the temperature-1 softmax; ties go to the lower id. For a
 * given seed, params, history and logits the result is always the same.
 * Clamped: top_k (<= 0 off, > vocab = vocab), top_p and min_p to [0, 1].
 * Rejected (F8_ERR_INVALID_ARGUMENT): NaN/inf/negative temperature,
 * repeat_penalty <= 0 or non-finite, non-finite frequency/presence
 * penalties, penalty_last_n < -1, logit bias NaN or +inf or id out of range;
 * logits containing NaN or +inf, or with every token at -inf. */
typedef struct f8_sampler f8_sampler;

typedef struct f8_logit_bias {
  int32_t token;
  float bias; /* added to the logit; -INFINITY bans the token */
} f8_logit_bias;

#define F8_SEED_RANDOM UINT64_MAX /* seed from the OS entropy source */

typedef struct f8_sampler_params {
  size_t struct_size;        /* = sizeof(f8_sampler_params), set by default_params */
  float temperature;         /* 0.8; 0 = greedy */
  int32_t top_k;             /* 40; 0 = off */
  float top_p;               /* 0.95; 1 = off */
  float min_p;               /* 0.05; 0 = off */
  float repeat_penalty;      /* 1.0 = off; logit>0 ? logit/r : logit*r */
  float frequency_penalty;   /* 0 = off; logit -= count * f */
  float presence_penalty;    /* 0 = off; logit -= p if the token occurred */
  int32_t penalty_last_n;    /* 64; window of accepted tokens; 0 = none, -1 = all */
  uint64_t seed;             /* F8_SEED_RANDOM by default */
  const f8_logit_bias *logit_bias; /* copied by f8_sampler_new; may be NULL */
  size_t n_logit_bias;
} f8_sampler_params;

/* [any] */
F8_API f8_sampler_params f8_sampler_default_params(void);
/* [any] A sampler for a vocabulary of n_vocab logits. */
F8_API f8_status f8_sampler_new(const f8_sampler_params *params, int32_t n_vocab,
                                f8_sampler **out);
/* [ctx: one thread] NULL is a no-op. */
F8_API void f8_sampler_free(f8_sampler *sampler);
/* [ctx: one thread] Chooses a token from logits[0..n_vocab) (n_vocab must
 * match the sampler's) and accepts it into the penalty history. */
F8_API f8_status f8_sampler_sample(f8_sampler *sampler, const float *logits, int32_t n_vocab,
                                   int32_t *token);
/* [ctx: one thread] Adds a prompt or forced token to the penalty history. */
F8_API f8_status f8_sampler_accept(f8_sampler *sampler, int32_t token);
/* [ctx: one thread] Clears the history and restarts the seeded sequence. */
F8_API void f8_sampler_reset(f8_sampler *sampler);
/* [ctx: one thread] The seed in use (the drawn one for F8_SEED_RANDOM). */
F8_API uint64_t f8_sampler_seed(const f8_sampler *sampler);

/* ------------------------------------------------- constrained decoding */
/* F8_SECTION_GRAMMAR */
/* A grammar restricts which tokens a sampler may choose: before each draw
 * every token whose text cannot continue a match of the grammar gets -inf
 * (after logit bias and penalties; then top-k, top-p, min-p and temperature
 * work on what is left), and end-of-generation tokens are allowed exactly
 * when the text so far is a complete match. Grammars are GBNF text (the
 * format llama.cpp uses; docs/grammar.md), or JSON Schema converted to GBNF.
 * Matching is on bytes: a token may end inside a UTF-8 character. Control
 * tokens (no text, e.g. Mistral's [TOOL_CALLS]) are written <[ID]>.
 * Cost: one walk of a trie of the vocabulary per new grammar state; states
 * recur (inside a string, between items), so most steps reuse a cached mask
 * (docs/server.md has measurements). */
typedef struct f8_grammar f8_grammar;

/* [model: shared] Compiles GBNF text for the model's vocabulary; `root` is
 * the start rule (NULL = "root"). F8_ERR_INVALID_ARGUMENT with the line and
 * column of the problem (undefined rule, left recursion, bad escape, ...).
 * The first grammar of a model also builds its vocabulary trie (once; ~0.1 s
 * for a 150k-token vocabulary). The result is immutable: [any] thread may
 * use it, e.g. to attach it to several samplers. */
F8_API f8_status f8_grammar_new(const f8_model *model, const char *grammar, const char *root,
                                f8_grammar **out);
/* [model: shared] f8_json_schema_to_grammar + f8_grammar_new: output that is
 * JSON text valid against the schema. Errors as f8_json_schema_to_grammar. */
F8_API f8_status f8_grammar_new_json_schema(const f8_model *model, const char *schema_json,
                                            f8_grammar **out);
/* [any] JSON Schema (UTF-8 JSON text) -> GBNF. Rules are named `root` (NULL =
 * "root") and root-... / root.... so several can share one grammar text.
 * F8_ERR_UNSUPPORTED for valid schemas using what f8 cannot enforce, and
 * F8_ERR_INVALID_ARGUMENT for malformed ones; the message names the keyword
 * and its location (e.g. "schema at '/properties/age': 'multipleOf' is not
 * supported"). Buffer protocol as f8_detokenize. */
F8_API f8_status f8_json_schema_to_grammar(const char *schema_json, const char *root, char *buf,
                                           size_t capacity, size_t *len);
/* [any] NULL is a no-op. Samplers keep what they need: a grammar may be freed
 * while samplers that use it live on. */
F8_API void f8_grammar_free(f8_grammar *grammar);

/* [ctx: one thread] Constrains the sampler with `grammar` from the start (a
 * copy of its matching state; NULL removes the constraint). The sampler's
 * n_vocab must not exceed the model's logits width. f8_sampler_reset also
 * restarts the grammar. f8_sampler_accept does not advance it: only sampled
 * tokens do. f8_sampler_sample then fails (F8_ERR_INVALID_ARGUMENT, "no token
 * is allowed by the grammar") only if logit bias banned every allowed token. */
F8_API f8_status f8_sampler_set_grammar(f8_sampler *sampler, const f8_grammar *grammar);

typedef enum f8_grammar_state {
  F8_GRAMMAR_NONE = 0,    /* the sampler has no grammar                          */
  F8_GRAMMAR_RUNNING = 1, /* the text so far is not a complete match yet          */
  F8_GRAMMAR_CAN_END = 2, /* a complete match that may go on (EOG tokens allowed) */
  F8_GRAMMAR_DONE = 3,    /* a complete match nothing can extend: the next sample
                             is an end-of-generation token                        */
} f8_grammar_state;
/* [ctx: one thread] Where the sampler's grammar stands (NONE for NULL). */
F8_API f8_grammar_state f8_sampler_grammar_state(const f8_sampler *sampler);

/* Log-probabilities of the last f8_sampler_sample call, of the distribution
 * the token was drawn from: after logit bias, penalties, grammar, top-k,
 * top-p, min-p and temperature; with temperature 0 (greedy) the
 * temperature-1 softmax after bias, penalties and grammar (what the argmax
 * was taken over). */
typedef struct f8_token_logprob {
  int32_t token;
  float logprob; /* natural log */
} f8_token_logprob;
/* [ctx: one thread] *chosen = the sampled token's log-probability; top
 * receives up to n entries, most likely first (ties: lower id) and *n_top
 * their count: fewer than n when the chain kept fewer tokens (removed tokens
 * have probability 0 and are never listed). top may be NULL when n is 0.
 * F8_ERR_INVALID_ARGUMENT before the first sample. */
F8_API f8_status f8_sampler_last_logprobs(const f8_sampler *sampler, float *chosen, f8_token_logprob *top,
                                          size_t n, size_t *n_top);

/* --------------------------------------------- speculative decoding */
/* F8_SECTION_SPECULATIVE (F8_API_VERSION >= 3; docs/runtime.md has the
 * loop and measured acceptance rates). A drafter proposes tokens d1..dk
 * after the pending token t; the target decodes t, d1..dk in one batch with
 * logits for every entry; f8_sampler_verify walks those k+1 rows with the
 * standard acceptance rule and returns the accepted drafts plus one token
 * drawn by the target, so every output token has exactly the distribution
 * f8_sampler_sample would have drawn it from (with a greedy sampler: the
 * same tokens, given the same logits — the CPU backends' logits do not
 * depend on the batch). The caller then removes the rejected drafts' cells
 * with f8_kv_seq_rm(ctx, seq, first_rejected_pos, -1). */

/* [any] Prompt-lookup (n-gram) draft: for n = ngram_max down to ngram_min,
 * the last n of tokens[0..n_tokens) are looked for at earlier positions,
 * most recent first; the up to `capacity` tokens that followed the first
 * match found are written to draft, *n_draft their count (0: no match).
 * 1 <= ngram_min <= ngram_max <= 64, else F8_ERR_INVALID_ARGUMENT. */
F8_API f8_status f8_draft_lookup(const int32_t *tokens, size_t n_tokens, int32_t ngram_min,
                                 int32_t ngram_max, int32_t *draft, size_t capacity,
                                 size_t *n_draft);

/* [ctx: one thread] f8_sampler_sample, and the distribution the token was
 * drawn from into probs[0..n_vocab) (zeros outside what the chain kept; a
 * greedy sampler's is a point mass). For a draft model's sampler: these
 * are the q rows f8_sampler_verify takes. */
F8_API f8_status f8_sampler_sample_probs(f8_sampler *sampler, const float *logits, int32_t n_vocab,
                                         int32_t *token, float *probs);

/* [ctx: one thread] Verifies n_draft drafted tokens. logits[i] (i = 0..
 * n_draft) are the target's logits rows: row i is the one that predicts
 * draft[i] (the batch entry before it), row n_draft the one after the last
 * draft. draft_probs NULL: each draft is a point mass (prompt lookup, a
 * greedy draft model); else draft_probs[i] is the distribution draft[i] was
 * drawn from (n_vocab floats, f8_sampler_sample_probs). Row by row, with
 * the target's chain p (bias, penalties, grammar, top-k/p, min-p,
 * temperature): draft[i] is accepted with probability min(1, p/q), else a
 * token is drawn from norm(max(0, p - q)) and the walk stops; when all are
 * accepted row n_draft gives one more token. out (capacity n_draft + 1)
 * receives the accepted drafts then that token; *n_out = accepted + 1.
 * Every output token is accepted into the penalty history and advances the
 * grammar (a draft the grammar forbids has p = 0: it is rejected). A greedy
 * sampler draws no random numbers here. */
F8_API f8_status f8_sampler_verify(f8_sampler *sampler, const float *const *logits, int32_t n_vocab,
                                   const int32_t *draft, const float *const *draft_probs,
                                   size_t n_draft, int32_t *out, size_t *n_out);

/* Stopping. Per generated token, in this order: an end-of-generation id
 * (its text is not emitted) -> a stop string completed anywhere in the text
 * so far, also across token boundaries (text before it is emitted, the rest
 * is not) -> max_tokens reached. Text that may still become the start of a
 * stop string is held back until it cannot. */
typedef enum f8_stop_reason {
  F8_STOP_NONE = 0,       /* keep going */
  F8_STOP_EOS = 1,        /* an end-of-generation token */
  F8_STOP_STRING = 2,     /* a stop string matched */
  F8_STOP_MAX_TOKENS = 3, /* the token limit was reached */
} f8_stop_reason;

typedef struct f8_stopper f8_stopper;

/* [model: shared] eos_ids NULL with model non-NULL = the model's
 * end-of-generation ids (f8_token_is_eog); max_tokens <= 0 = no limit;
 * empty stop strings are ignored. model may be NULL. */
F8_API f8_status f8_stopper_new(const f8_model *model, const char *const *stop_strings,
                                size_t n_stop, const int32_t *eos_ids, size_t n_eos,
                                int64_t max_tokens, f8_stopper **out);
/* [ctx: one thread] Feeds one token and its decoded text (piece_len bytes,
 * e.g. from f8_detok_stream_push). *text and *len receive the text safe to show
 * now (NUL-terminated, valid until the next call); *reason the stop state. */
F8_API f8_status f8_stopper_push(f8_stopper *stopper, int32_t token, const char *piece,
                                 size_t piece_len, const char **text, size_t *len,
                                 f8_stop_reason *reason);
/* [ctx: one thread] Releases held-back text (when generation ends otherwise). */
F8_API f8_status f8_stopper_flush(f8_stopper *stopper, const char **text, size_t *len);
/* [ctx: one thread] NULL is a no-op. */
F8_API void f8_stopper_free(f8_stopper *stopper);

/* ------------------------------------------------ context and decoding */
/* F8_SECTION_CONTEXT
 *
 * A context = one KV cache + scratch buffers + a thread pool over a shared
 * model. Decoding is batched: each call takes entries {token, position,
 * sequence id, want-logits}; a prompt is one call (it is split internally
 * into n_batch-token chunks), the next token is another. Several sequences
 * (ids 0..F8_MAX_SEQ-1) share one context's cells; positions of a sequence
 * must increase (rewrite a tail by removing it first with f8_kv_seq_rm).
 */
#define F8_MAX_SEQ 64

typedef struct f8_context f8_context;

/* Model facts (any model, also vocab_only). */
typedef struct f8_model_info {
  size_t struct_size;          /* = sizeof(f8_model_info); set by the caller */
  char arch[32];               /* "llama", "mistral", "qwen2" */
  int32_t n_vocab;             /* logits width */
  int32_t n_ctx_train;         /* training context length */
  int32_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff;
  uint64_t n_params;           /* 0 when vocab_only */
  uint64_t weight_bytes;       /* bytes read per decoded token (weights + scales); 0 when vocab_only */
  uint64_t file_bytes;         /* size of the .f8 file */
  char weight_type[16];        /* dtype of the matrices: "e4m3", "bf16", ... or "mixed" */
  bool has_kv_scales;          /* the file has per-layer KV cache scales */
} f8_model_info;

/* [model: shared] Fills *info (info->struct_size must be set). */
F8_API f8_status f8_model_get_info(const f8_model *model, f8_model_info *info);

/* [model: shared] Bytes of weights (with scales) each of `tp` tensor-parallel
 * ranks would hold: bytes[0..tp-1]. F8_ERR_INVALID_ARGUMENT (naming the size
 * that does not divide) when the model does not split tp ways. */
F8_API f8_status f8_model_tp_bytes(const f8_model *model, int32_t tp, uint64_t *bytes);

typedef enum f8_kv_type {
  F8_KV_FP8 = 0,   /* E4M3, one BF16 scale per token and KV head written
                      with each cell, K centered on a per-layer mean measured
                      at start-up (default; MLA models and GPU backends:
                      per-layer scales) */
  F8_KV_BF16 = 1,
  F8_KV_F32 = 2,
  F8_KV_F16 = 3,
  F8_KV_E5M2 = 4,  /* E5M2 with per-layer scales */
  F8_KV_FP8_LAYER = 5, /* E4M3 with per-layer scales (file, measured at load, or 1.0) */
  F8_KV_INT8 = 6,  /* INT8 codes, one BF16 scale per token and KV head, K
                      centered as F8_KV_FP8 (CPU backends; not MLA) */
} f8_kv_type;

/* Called between layers during f8_decode; return true to stop (f8_decode
 * then returns F8_ERR_ABORTED and the cache is as before the call). */
typedef bool (*f8_abort_cb)(void *user_data);

typedef struct f8_context_params {
  size_t struct_size;        /* = sizeof(f8_context_params), set by default_params */
  uint32_t n_ctx;            /* KV cells (tokens over all sequences); 0 = the model's
                                context length capped at 4096 */
  uint32_t n_batch;          /* max tokens per forward chunk (default 512) */
  int32_t n_threads;         /* CPU threads, >= 1 (default: physical cores in the affinity mask,
                                capped by the cgroup CPU quota; docs/backend.md) */
  f8_kv_type kv_type;        /* default F8_KV_FP8 */
  bool emulate_gpu;          /* quantize activations to E4M3 as the GPU path does */
  const char *backend;       /* "cpu" (= "cpu-simd"), "cpu-simd", "cpu-ref", "cuda" (= "cuda:0"),
                                "cuda:N"; NULL = the backend the model was loaded into */
  /* true (default): measure once per model on a built-in text what the KV
   * cache needs — per-layer scales for F8_KV_FP8_LAYER / F8_KV_E5M2 without
   * scales in the file, K's per-layer mean for F8_KV_FP8 / F8_KV_INT8's
   * centering; false: scale 1.0 (warned) and no centering. */
  bool kv_calibrate;
  /* GPU backends: the fraction (0, 1] of the GPU's memory this process may
   * fill (weights, KV cache, scratch); default 0.9. With n_ctx = 0 the
   * context is the model's training context capped at what fits; an n_ctx
   * that does not fit is F8_ERR_OUT_OF_MEMORY naming the sizes. */
  float gpu_mem;
  /* Tensor parallel over tp ranks (default 1): attention heads, FFN and
   * vocabulary split Megatron-style, each rank reading its slice of the file.
   * CPU backends: ranks are thread groups in this process (for checking the
   * split; n_threads is shared among them). "cuda": rank r on GPU r, or on the
   * r-th entry of tp_devices ("2,3"), over NCCL. A degree that does not
   * divide the model's heads / FFN is F8_ERR_INVALID_ARGUMENT naming them. */
  int32_t tp;
  const char *tp_devices;    /* this process's GPUs, one per local rank; NULL = 0.. */
  /* Several nodes ("cuda" only; every node runs the same program with the
   * same inputs): this process is node tp_node of tp_nodes (default 1) and
   * holds ranks [tp_node * tp / tp_nodes, ...); the NCCL id is exchanged
   * through rendezvous: "file:PATH" (a path all nodes see) or "HOST:PORT"
   * (node 0 listens). docs/tensor-parallel.md has the commands. */
  int32_t tp_nodes;
  int32_t tp_node;
  const char *rendezvous;
  /* Batch-invariant numerics (F8_API_VERSION >= 3; docs/runtime.md
   * "Determinism"): a token's logits depend only on its own sequence, not
   * on what else shares a decode call, how its prompt is chunked (n_batch),
   * n_threads or the KV pool's layout. The CPU backends always are; true
   * there only turns FP8 FMHA off under emulate_gpu (it runs for long
   * chunks only). "cuda" is not by default (default false: the cost on a
   * GPU is unmeasured); true makes it invariant (no cuBLASLt, fixed
   * attention order). A caller built against API 2 (struct_size ending
   * before this field) gets false. */
  bool deterministic;
} f8_context_params;

/* [any] */
F8_API f8_context_params f8_context_default_params(void);
/* [model: shared] Creates a context. The model must have weights (not vocab_only)
 * and outlive the context. */
F8_API f8_status f8_context_new(f8_model *model, const f8_context_params *params,
                                f8_context **out);
/* [ctx: one thread] NULL is a no-op. */
F8_API void f8_context_free(f8_context *ctx);
/* [ctx: one thread] The effective params (n_ctx resolved, n_batch capped at n_ctx). */
F8_API f8_context_params f8_context_get_params(const f8_context *ctx);
/* [ctx: one thread] Bytes of KV cache storage. */
F8_API size_t f8_context_kv_bytes(const f8_context *ctx);

/* A batch: parallel arrays of n_tokens entries (capacity from f8_batch_init).
 * logits[i] != 0 asks for the logits of entry i; if `logits` is NULL only the
 * last entry gets logits. A plain struct: callers may fill it directly. */
typedef struct f8_batch {
  int32_t n_tokens;
  int32_t capacity;
  int32_t *token;
  int32_t *pos;
  int32_t *seq_id;
  int8_t *logits;
} f8_batch;

/* [any] Allocates arrays for `capacity` entries; n_tokens = 0. */
F8_API f8_status f8_batch_init(int32_t capacity, f8_batch *batch);
/* [any] Frees the arrays (NULL-safe) and zeroes the struct. */
F8_API void f8_batch_free(f8_batch *batch);
/* [any] Appends one entry; F8_ERR_BUFFER_TOO_SMALL when full. */
F8_API f8_status f8_batch_add(f8_batch *batch, int32_t token, int32_t pos, int32_t seq_id,
                              bool logits);

/* [ctx: one thread] Runs the batch. F8_ERR_CONTEXT_FULL when the cache has
 * fewer free cells than entries; F8_ERR_INVALID_ARGUMENT for a bad token id,
 * sequence id or position (the message names the entry). On any error the
 * cache is unchanged. */
F8_API f8_status f8_decode(f8_context *ctx, const f8_batch *batch);
/* [ctx: one thread] Logits [n_vocab] of batch entry i of the last decode
 * (i < 0 counts from the end: -1 = last entry). Valid until the next decode. */
F8_API f8_status f8_get_logits_ith(f8_context *ctx, int32_t i, const float **logits);

/* KV cache: positions p0 <= pos < p1; p1 < 0 means "to the end".
 * [ctx: one thread] for all of them. */
/* Removes positions of seq_id (seq_id < 0: every sequence). Truncation of a
 * sequence to its first n positions: f8_kv_seq_rm(ctx, seq, n, -1). */
F8_API f8_status f8_kv_seq_rm(f8_context *ctx, int32_t seq_id, int32_t p0, int32_t p1);
/* Makes src's cells in [p0, p1) also visible to dst (shared, no copy). */
F8_API f8_status f8_kv_seq_cp(f8_context *ctx, int32_t src, int32_t dst, int32_t p0, int32_t p1);
/* Removes every sequence except seq_id. */
F8_API f8_status f8_kv_seq_keep(f8_context *ctx, int32_t seq_id);
F8_API void f8_kv_clear(f8_context *ctx);
/* Largest position of seq_id in the cache, -1 if none. */
F8_API int32_t f8_kv_seq_pos_max(const f8_context *ctx, int32_t seq_id);
/* Cells in use (all sequences). */
F8_API int32_t f8_kv_n_used(const f8_context *ctx);
/* Prefix reuse (F8_API_VERSION >= 4): the number k <= n_tokens of leading
 * tokens that seq_id already holds, i.e. positions 0..k-1 decoded (or shared
 * with f8_kv_seq_cp) with exactly tokens[0..k). To continue with a new
 * prompt, keep those and decode only the rest:
 *   k = f8_kv_seq_common_prefix(ctx, seq, prompt, n);
 *   if (k == n) k--;                     // the last token again, for its logits
 *   f8_kv_seq_rm(ctx, seq, k, -1);       // drop what differs
 *   decode prompt[k..n) at positions k..n-1
 * 0 for a NULL context or tokens, or a seq_id outside 0..F8_MAX_SEQ-1. */
F8_API int32_t f8_kv_seq_common_prefix(const f8_context *ctx, int32_t seq_id, const int32_t *tokens,
                                       size_t n_tokens);

/* [ctx: one thread] NULL fn removes the callback. */
F8_API void f8_set_abort_callback(f8_context *ctx, f8_abort_cb fn, void *user_data);

/* ------------------------------------------------------------------ ABI */
/* [any] F8_API_VERSION of the library at run time (the header's value it was
 * built with). A program built with header version H needs a library with
 * f8_api_version() >= H; libf8.so.N (N = ABI) changes only on breaking
 * changes. docs/embedding.md has the policy. */
F8_API int f8_api_version(void);

#ifdef __cplusplus
}
#endif
#endif /* F8_H */
