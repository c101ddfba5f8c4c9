// speculative.cpp — see speculative.h.
#include "sampling/speculative.h"

#include <algorithm>

#include "sampling/sampler.h"

namespace f8::sampling {

bool accept_draft(double p_d, double q_d, Rng& rng) {
  if (!(q_d > 0)) return false;
  if (p_d >= q_d) return true;
  if (!(p_d > 0)) return false;
  return rng.uniform() < p_d / q_d;
}

std::vector<int32_t> lookup_draft(const int32_t* tokens, size_t n_tokens, int32_t ngram_min, int32_t ngram_max,
                                  int32_t n_draft) {
  std::vector<int32_t> out;
  if (!tokens || n_draft <= 0 || ngram_min < 1 || ngram_max < ngram_min) return out;
  for (size_t g = std::min<size_t>(size_t(ngram_max), n_tokens > 0 ? n_tokens - 1 : 0); g >= size_t(ngram_min); --g) {
    const int32_t* pat = tokens + (n_tokens - g);
    // Start positions i of earlier occurrences, most recent first; the match
    // must end before the pattern itself does (i + g < n_tokens), so at least
    // one following token exists.
    for (size_t i = n_tokens - g; i-- > 0;) {
      if (!std::equal(pat, pat + g, tokens + i)) continue;
      const size_t from = i + g, to = std::min(n_tokens, from + size_t(n_draft));
      out.assign(tokens + from, tokens + to);
      return out;
    }
  }
  return out;
}

}  // namespace f8::sampling
