// util_spec.cpp — see util_spec.h.
#include "util_spec.h"

#include <algorithm>
#include <cstring>

namespace f8cli {

void add_spec_flags(ArgParser& p, SpecFlags* f) {
  p.option("--spec-lookup", &f->lookup, "N",
           "speculative decoding with prompt lookup: draft the tokens that followed the last earlier occurrence of "
           "the text's last N..--spec-ngram-min tokens (0 = off; 3 is a good start for copy-heavy tasks)");
  p.option("--spec-ngram-min", &f->ngram_min, "N", "shortest n-gram prompt lookup matches");
  p.option("--draft-model", &f->draft_model, "FILE",
           "speculative decoding with a small draft model with the same tokenizer (after prompt lookup when both "
           "are on)");
  p.option("--draft-max", &f->draft_max, "N",
           "most tokens drafted per target forward (the length adapts: halved after a step that took no draft, "
           "doubled after one that took all)");
}

int check_draft_tokenizer(const f8_model* target, const f8_model* draft, const std::string& target_path,
                          const std::string& draft_path) {
  // Same tokenizer: the same vocabulary, string for string (drafted ids are
  // fed to the target as they are).
  const std::string why = " (the draft model needs the same tokenizer)";
  const int32_t nv = f8_vocab_size(target);
  if (f8_vocab_size(draft) != nv)
    return fail(2, "--draft-model " + draft_path + ": its vocabulary has " + std::to_string(f8_vocab_size(draft)) +
                       " tokens, " + target_path + "'s " + std::to_string(nv) + why);
  for (int32_t i = 0; i < nv; ++i)
    if (std::strcmp(f8_token_text(target, i), f8_token_text(draft, i)) != 0)
      return fail(2, "--draft-model " + draft_path + ": token " + std::to_string(i) + " is '" +
                         f8_token_text(draft, i) + "', in " + target_path + " '" + f8_token_text(target, i) + "'" +
                         why);
  return 0;
}

Drafter::~Drafter() {
  dseq_.reset();
  f8_sampler_free(dsampler_);
}

int Drafter::init(const SpecFlags& f, const RunFlags& rf, ArgParser& p, const SamplingFlags& sf, f8_model* target,
                  bool quiet) {
  f_ = f;
  if (f.lookup < 0 || f.lookup > 64) return fail(2, "--spec-lookup " + std::to_string(f.lookup) + ": expected 0..64");
  if (f.ngram_min < 1 || (f.lookup > 0 && f.ngram_min > f.lookup))
    return fail(2, "--spec-ngram-min " + std::to_string(f.ngram_min) + ": expected 1..--spec-lookup (" +
                       std::to_string(f.lookup) + ")");
  if (f.draft_max < 1 || f.draft_max > 64)
    return fail(2, "--draft-max " + std::to_string(f.draft_max) + ": expected 1..64");
  f8_model_info ti{};
  ti.struct_size = sizeof ti;
  if (f8_model_get_info(target, &ti) != F8_OK) return fail(1, f8_last_error());
  n_vocab_ = ti.n_vocab;
  if (f.draft_model.empty()) return 0;
  RunFlags drf = rf;
  drf.model = f.draft_model;
  if (int e = load_model_and_context(drf, p, &draft_, quiet)) return e;
  if (int e = check_draft_tokenizer(target, draft_.model, rf.model, f.draft_model)) return e;
  SamplingFlags dsf = sf;
  dsf.repeat_penalty = 1.0;
  dsf.presence_penalty = dsf.frequency_penalty = 0.0;
  if (sf.seed >= 0) dsf.seed = sf.seed + 1;  // its own stream, still reproducible
  sampling_ = sf.temp > 0;
  if (int e = make_sampler(dsf, draft_.info.n_vocab, &dsampler_)) return e;
  dseq_ = std::make_unique<Sequence>(draft_.ctx);
  probs_.resize(size_t(draft_.info.n_vocab));
  return 0;
}

f8_status Drafter::draft(const std::vector<int32_t>& history, int32_t n, std::vector<int32_t>* out,
                         std::vector<float>* q_rows) {
  out->clear();
  q_rows->clear();
  if (n <= 0) return F8_OK;
  if (f_.lookup > 0) {
    out->resize(size_t(n));
    size_t got = 0;
    f8_status st = f8_draft_lookup(history.data(), history.size(), int32_t(f_.ngram_min), int32_t(f_.lookup),
                                   out->data(), out->size(), &got);
    if (st != F8_OK) return st;
    out->resize(got);
    if (got > 0 || !dseq_) return F8_OK;
  }
  if (!dseq_) return F8_OK;
  // The draft context follows the target's history (common prefix kept).
  const uint32_t d_ctx = f8_context_get_params(draft_.ctx).n_ctx;
  if (history.size() + size_t(n) > d_ctx) n = int32_t(std::max<int64_t>(0, int64_t(d_ctx) - int64_t(history.size())));
  if (n <= 0) return F8_OK;
  f8_status st = dseq_->sync(history);
  if (st != F8_OK) return st == F8_ERR_CONTEXT_FULL ? F8_OK : st;
  for (int32_t j = 0; j < n; ++j) {
    const float* lg = nullptr;
    if ((st = f8_get_logits_ith(draft_.ctx, -1, &lg)) != F8_OK) return st;
    int32_t tok = 0;
    if ((st = f8_sampler_sample_probs(dsampler_, lg, draft_.info.n_vocab, &tok, probs_.data())) != F8_OK) return st;
    if (tok >= n_vocab_) break;  // a padding row of a wider draft matrix: not a token of the target
    out->push_back(tok);
    if (sampling_) {
      const size_t at = q_rows->size();
      q_rows->resize(at + size_t(n_vocab_), 0.0f);
      std::copy_n(probs_.data(), std::min<size_t>(probs_.size(), size_t(n_vocab_)), q_rows->data() + at);
    }
    if (j + 1 < n && (st = dseq_->push(tok)) != F8_OK) return st == F8_ERR_CONTEXT_FULL ? F8_OK : st;
  }
  return F8_OK;
}

f8_status generate_speculative(f8_model* model, int32_t n_vocab, Sequence& seq, f8_sampler* sampler,
                               f8_stopper* stopper, Drafter& drafter, int64_t max_tokens,
                               const std::function<void(const char*, size_t)>& on_text,
                               volatile std::sig_atomic_t* stop_flag, GenStats* out) {
  GenStats g;
  f8_detok_stream* ds = nullptr;
  f8_status st = f8_detok_stream_new(model, false, false, &ds);
  if (st != F8_OK) return st;
  const double t0 = now_ms();
  const int64_t n_ctx = int64_t(f8_context_get_params(seq.ctx()).n_ctx);
  // Streams one chosen token; true when generation stops at it (or fails).
  auto emit = [&](int32_t tok) {
    g.tokens.push_back(tok);
    ++g.n_gen;
    const char* piece = "";
    size_t plen = 0;
    if ((st = f8_detok_stream_push(ds, tok, &piece, &plen)) != F8_OK) return true;
    const char* text = nullptr;
    size_t tlen = 0;
    if ((st = f8_stopper_push(stopper, tok, piece, plen, &text, &tlen, &g.reason)) != F8_OK) return true;
    if (tlen) on_text(text, tlen);
    return g.reason != F8_STOP_NONE;
  };
  std::vector<int32_t> draft, batch, outs;
  std::vector<float> q;
  std::vector<const float*> rows, qrows;
  // The first token comes from the prompt's logits, as in generate().
  int32_t pending = 0;
  // Draft length adapts (1 .. --draft-max): halved after a step that took
  // none of its drafts, doubled after one that took them all, so text with
  // little to copy pays for short drafts only.
  int64_t cur_k = drafter.draft_max();
  const float* lg = nullptr;
  bool done = (st = f8_get_logits_ith(seq.ctx(), -1, &lg)) != F8_OK ||
              (st = f8_sampler_sample(sampler, lg, n_vocab, &pending)) != F8_OK || emit(pending);
  while (!done) {
    if (stop_flag && *stop_flag) {
      g.interrupted = true;
      break;
    }
    // Cells left (the CLI's context holds this one sequence): the pending
    // token takes one, each draft one more.
    const int64_t room = n_ctx - seq.n_past();
    if (room < 1) {
      g.context_full = true;
      break;
    }
    int64_t k = std::min<int64_t>(cur_k, room - 1);
    if (max_tokens > 0) k = std::min<int64_t>(k, std::max<int64_t>(0, max_tokens - g.n_gen - 1));
    std::vector<int32_t> hist = seq.tokens();
    hist.push_back(pending);
    if ((st = drafter.draft(hist, int32_t(k), &draft, &q)) != F8_OK) break;
    batch.assign(1, pending);
    batch.insert(batch.end(), draft.begin(), draft.end());
    const size_t base = size_t(seq.n_past());
    st = seq.push_all(batch);
    if (push_ends_loop(&st, &g)) break;
    ++g.n_steps;
    g.n_drafted += int64_t(draft.size());
    rows.resize(batch.size());
    for (size_t i = 0; i < batch.size() && st == F8_OK; ++i) st = f8_get_logits_ith(seq.ctx(), int32_t(i), &rows[i]);
    if (st != F8_OK) break;
    qrows.clear();
    for (size_t i = 0; i < draft.size() && !q.empty(); ++i) qrows.push_back(q.data() + i * size_t(n_vocab));
    outs.resize(draft.size() + 1);
    size_t n_out = 0;
    st = f8_sampler_verify(sampler, rows.data(), n_vocab, draft.data(), q.empty() ? nullptr : qrows.data(),
                           draft.size(), outs.data(), &n_out);
    if (st != F8_OK) break;
    const size_t accepted = n_out - 1;
    g.n_accepted += int64_t(accepted);
    if (!draft.empty() && accepted == 0) cur_k = std::max<int64_t>(1, cur_k / 2);
    if (!draft.empty() && accepted == draft.size()) cur_k = std::min<int64_t>(drafter.draft_max(), cur_k * 2);
    // Keep the pending token and the accepted drafts; the cells of the
    // rejected drafts go.
    if ((st = seq.truncate(base + 1 + accepted)) != F8_OK) break;
    for (size_t i = 0; i < n_out && !done; ++i) done = emit(outs[i]);
    pending = outs[n_out - 1];
  }
  finish_text(stopper, ds, g.reason, on_text);
  g.ms = now_ms() - t0;
  *out = g;
  return st;
}

}  // namespace f8cli
