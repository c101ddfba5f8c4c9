"""Speculative decoding primitives (include/f8.h, F8_SECTION_SPECULATIVE):
for a decoding loop of your own around F8 objects or any logits source.

    d = draft_lookup(history, ngram_min=1, ngram_max=3, n=8)   # prompt lookup
    target = Sampler(n_vocab, temperature=0)                    # the target's sampler
    out = target.verify(rows, d)  # rows[i] predicts d[i]; accepted drafts + one token

A draft model's sampler gives the q rows verify needs for sampling
(temperature > 0): token, q = draft_sampler.sample_probs(logits). With
greedy drafts (q a point mass) pass no draft_probs. docs/runtime.md
"Speculative decoding" has the loop.

Logits and distributions are sequences of floats (lists, array.array('f'),
ctypes float arrays) of exactly n_vocab entries.
"""
from __future__ import annotations

import ctypes
from ctypes import POINTER, byref, c_float, c_int32, c_size_t, c_void_p
from typing import List, Optional, Sequence, Tuple

from . import _lib as C
from ._errors import F8InvalidArgumentError
from .llama import _check


def _ints(xs: Sequence[int]):
    return (c_int32 * len(xs))(*[int(x) for x in xs])


def _floats(row, n_vocab: int, what: str):
    """A c_float array of n_vocab entries over `row` (no copy when it already is one)."""
    if isinstance(row, ctypes.Array) and row._type_ is c_float and len(row) == n_vocab:
        return row
    if len(row) != n_vocab:
        raise F8InvalidArgumentError(f"{what}: {len(row)} values, expected n_vocab = {n_vocab}")
    return (c_float * n_vocab)(*row)


def draft_lookup(tokens: Sequence[int], ngram_min: int = 1, ngram_max: int = 3, n: int = 8) -> List[int]:
    """Prompt-lookup draft (f8_draft_lookup): for g = ngram_max down to
    ngram_min, the last g tokens are looked for at earlier positions, most
    recent first; the up to n tokens that followed the first match are the
    draft ([] when nothing matches). 1 <= ngram_min <= ngram_max <= 64."""
    L = C.lib()
    if n < 0:
        raise F8InvalidArgumentError(f"n = {n}: expected >= 0")
    toks = _ints(tokens)
    out = (c_int32 * max(n, 1))()
    got = c_size_t(0)
    _check(L.f8_draft_lookup(toks, len(toks), int(ngram_min), int(ngram_max), out, n, byref(got)), "f8_draft_lookup")
    return list(out[:got.value])


class Sampler:
    """A sampler over n_vocab logits (f8_sampler_new): the chain bias ->
    penalties -> top-k -> top-p -> min-p -> temperature, seeded. temperature
    0 is greedy. Use it from one thread at a time; close() frees it (also on
    garbage collection)."""

    def __init__(self, n_vocab: int, *, temperature: float = 0.0, top_k: int = 0, top_p: float = 1.0,
                 min_p: float = 0.0, repeat_penalty: float = 1.0, frequency_penalty: float = 0.0,
                 presence_penalty: float = 0.0, seed: Optional[int] = None):
        L = C.lib()
        self._L = L
        self._h = None
        if n_vocab < 1:
            raise F8InvalidArgumentError(f"n_vocab = {n_vocab}: expected >= 1")
        self.n_vocab = int(n_vocab)
        sp = L.f8_sampler_default_params().v
        sp.temperature = float(temperature)
        sp.top_k = int(top_k)
        sp.top_p = float(top_p)
        sp.min_p = float(min_p)
        sp.repeat_penalty = float(repeat_penalty)
        sp.frequency_penalty = float(frequency_penalty)
        sp.presence_penalty = float(presence_penalty)
        sp.seed = C.SEED_RANDOM if seed is None or seed < 0 else int(seed) & C.SEED_RANDOM
        h = c_void_p()
        _check(L.f8_sampler_new(byref(sp), self.n_vocab, byref(h)), "f8_sampler_new")
        self._h = h

    def close(self) -> None:
        if self._h is not None:
            self._L.f8_sampler_free(self._h)
            self._h = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _handle(self):
        if self._h is None:
            raise F8InvalidArgumentError("the sampler is closed")
        return self._h

    def accept(self, token: int) -> None:
        """Adds a token to the penalty history (f8_sampler_accept)."""
        _check(self._L.f8_sampler_accept(self._handle(), int(token)), "f8_sampler_accept")

    def sample(self, logits) -> int:
        """The next token (f8_sampler_sample)."""
        tok = c_int32(0)
        _check(self._L.f8_sampler_sample(self._handle(), _floats(logits, self.n_vocab, "logits"), self.n_vocab,
                                         byref(tok)), "f8_sampler_sample")
        return tok.value

    def sample_probs(self, logits) -> Tuple[int, List[float]]:
        """(token, q): sample(), and the distribution it was drawn from
        (f8_sampler_sample_probs; zeros outside what the chain kept, a point
        mass when greedy) — a draft's q row for verify()."""
        tok = c_int32(0)
        probs = (c_float * self.n_vocab)()
        _check(self._L.f8_sampler_sample_probs(self._handle(), _floats(logits, self.n_vocab, "logits"),
                                               self.n_vocab, byref(tok), probs), "f8_sampler_sample_probs")
        return tok.value, list(probs)

    def verify(self, rows: Sequence, draft: Sequence[int], draft_probs: Optional[Sequence] = None) -> List[int]:
        """Verifies drafted tokens (f8_sampler_verify): rows[i] (len(draft) + 1
        of them) are the target's logits that predict draft[i], the last row
        the one after the last draft; draft_probs: None when every draft is a
        point mass (prompt lookup, greedy drafting), else draft[i]'s q row.
        Returns the accepted drafts then one token drawn by the target (each
        accepted into the penalty history)."""
        k = len(draft)
        if len(rows) != k + 1:
            raise F8InvalidArgumentError(f"rows: {len(rows)} logits rows for {k} drafts, expected {k + 1}")
        if draft_probs is not None and len(draft_probs) != k:
            raise F8InvalidArgumentError(f"draft_probs: {len(draft_probs)} rows for {k} drafts")
        keep = [_floats(r, self.n_vocab, f"rows[{i}]") for i, r in enumerate(rows)]
        row_ptrs = (POINTER(c_float) * (k + 1))(*[ctypes.cast(r, POINTER(c_float)) for r in keep])
        q_ptrs = None
        if draft_probs is not None:
            qs = [_floats(q, self.n_vocab, f"draft_probs[{i}]") for i, q in enumerate(draft_probs)]
            keep += qs
            q_ptrs = (POINTER(c_float) * max(k, 1))(*[ctypes.cast(q, POINTER(c_float)) for q in qs])
        out = (c_int32 * (k + 1))()
        n_out = c_size_t(0)
        _check(self._L.f8_sampler_verify(self._handle(), row_ptrs, self.n_vocab, _ints(draft), q_ptrs, k, out,
                                         byref(n_out)), "f8_sampler_verify")
        return list(out[:n_out.value])
