"""The high-level API: F8, shaped like llama-cpp-python's Llama.

    llm = F8(model_path="model.f8", n_ctx=2048)
    llm.create_completion("Once upon a time", max_tokens=32)          # dict, OpenAI shape
    for chunk in llm("Once upon a time", max_tokens=32, stream=True): # iterator of chunks
        ...
    llm.create_chat_completion(messages=[{"role": "user", "content": "Hi"}])

One F8 object = one model + one context (KV cache) on one sequence. Use it
from one thread at a time (calls from other threads wait on its lock; a new
generation ends a stream still in progress, which then raises RuntimeError);
run several F8 objects for parallel work: they share the file's pages (mmap).
libf8 releases the GIL during its calls (ctypes), so F8 objects in different
threads run in parallel.
"""
from __future__ import annotations

import ctypes
import json
import os
import threading
import time
import uuid
from ctypes import byref, c_bool, c_char_p, c_float, c_int, c_int32, c_size_t, c_void_p
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

from . import _lib as C
from ._errors import BY_STATUS, F8Error, F8InvalidArgumentError

Message = Dict[str, Any]


# --------------------------------------------------------------- helpers
def _raise(status, what=None):
    """Raise the F8Error subclass for `status` with f8_last_error()."""
    L = C.lib()
    msg = (L.f8_last_error() or b"").decode("utf-8", "replace")
    if not msg:
        msg = f"{what or 'f8'} failed"
    name = C.STATUS_NAMES.get(status, f"F8_ERR_{status}")
    raise BY_STATUS.get(status, F8Error)(msg, status, name)


def _check(status, what=None):
    if status != C.OK:
        _raise(status, what)


def _buffer_call(fn, *args):
    """The header's buffer protocol: text + NUL into buf, *len = text length,
    F8_ERR_BUFFER_TOO_SMALL (with *len set) when the buffer is short."""
    n = c_size_t(0)
    cap = 1024
    while True:
        buf = ctypes.create_string_buffer(cap)
        st = fn(*args, buf, cap, byref(n))
        if st == C.OK:
            return buf.raw[:n.value]
        if st == C.ERR_BUFFER_TOO_SMALL and n.value + 1 > cap:
            cap = n.value + 1
            continue
        _raise(st)


def _b(s):
    return s.encode("utf-8") if isinstance(s, str) else s


def version() -> str:
    """libf8's version string (f8_version)."""
    return C.lib().f8_version().decode()


def api_version() -> int:
    """libf8's F8_API_VERSION at run time (f8_api_version)."""
    return C.lib().f8_api_version()


def backends() -> List[str]:
    """The backends this libf8 was built with, e.g. ['cpu', 'cpu-simd', 'cpu-ref', 'cuda', 'cuda:N']."""
    return C.lib().f8_backends().decode().split(",")


def backend_probe(name: str) -> str:
    """A one-line description of backend `name` if it runs on this machine;
    otherwise raises F8Error saying why (e.g. no CUDA driver)."""
    L = C.lib()
    buf = ctypes.create_string_buffer(512)
    _check(L.f8_backend_probe(_b(name), buf, len(buf)), "f8_backend_probe")
    return buf.value.decode("utf-8", "replace")


def library_path() -> str:
    """The libf8 file in use."""
    p = C.library_path()
    if os.sep in p:
        return os.path.realpath(p)
    try:  # found by the dynamic loader: ask the process's maps
        with open("/proc/self/maps") as f:
            for line in f:
                if "libf8.so" in line:
                    return line.split(None, 5)[-1].strip()
    except OSError:
        pass
    return p


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class F8:
    """A loaded .f8 model with one context. Arguments (all but model_path are keywords):

    model_path   the .f8 file
    n_ctx        KV cells (0 = the model's context capped at 4096; on a GPU, what fits gpu_mem)
    n_batch      max tokens per forward chunk (default 512)
    n_threads    CPU threads (None = all online CPUs)
    backend      "cpu" (default), "cpu-simd", "cpu-ref", "cuda", "cuda:N" (see f8.backends())
    gpu_mem      GPU backends: fraction of the GPU's memory to use (default 0.9)
    tp           tensor-parallel ranks (default 1); on "cuda" rank r uses GPU r or the r-th of
                 tp_devices ("2,3"); on the CPU the ranks are thread groups
    deterministic  batch-invariant numerics on "cuda" (the CPU always is; docs/runtime.md)
    kv_type      "fp8" (default: scales per token and KV head, K centered), "int8" (INT8 codes, the same scales
                 and centering; CPU), "fp8-layer" (per-layer scales), "bf16", "f16", "f32", "e5m2"
    kv_calibrate measure at start-up what the KV type needs (per-layer scales for fp8-layer/e5m2 without file
                 scales, K's mean for fp8/int8 centering); False: scale 1.0, no centering (default True)
    seed         default sampling seed (None = a fresh random seed per call)
    vocab_only   tokenizer and chat template only: no weights, no context
    progress     callable(fraction) during the load; returning False cancels it (F8AbortedError)
    verbose      print a line about the model and context to stderr
    """

    def __init__(self, model_path: Union[str, os.PathLike], *, n_ctx: int = 0, n_batch: int = 512,
                 n_threads: Optional[int] = None, backend: Optional[str] = None, gpu_mem: Optional[float] = None,
                 tp: int = 1, tp_devices: Optional[str] = None, deterministic: bool = False,
                 kv_type: str = "fp8", kv_calibrate: bool = True, seed: Optional[int] = None,
                 vocab_only: bool = False, progress: Optional[Callable[[float], Optional[bool]]] = None,
                 verbose: bool = False):
        self._L = L = C.lib()
        self._model = None
        self._ctx = None
        self._lock = threading.RLock()
        self._gen_id = 0
        self._tokens: List[int] = []  # what the KV cache holds for sequence 0
        self._live = {}  # generation id -> (sampler, stopper, detok stream) of unfinished streams
        self.model_path = os.fspath(model_path)
        self.seed = seed
        self.verbose = verbose
        if kv_type not in C.KV_TYPES:
            raise F8Error(f"kv_type must be one of {sorted(C.KV_TYPES)}, not {kv_type!r}")

        # .v is a view into the library's own (padded) buffer: see _lib._padded.
        mp = L.f8_model_default_params().v
        mp.vocab_only = bool(vocab_only)
        self._backend_b = _b(backend) if backend else None
        mp.backend = self._backend_b
        cb_error = []
        if progress is not None:
            def _on_progress(fraction, _user):
                try:
                    r = progress(float(fraction))
                    return True if r is None else bool(r)
                except BaseException as e:  # noqa: B036 - re-raised after the load returns
                    cb_error.append(e)
                    return False
            cb = C.progress_cb(_on_progress)
            mp.progress = cb
        h = c_void_p()
        st = L.f8_model_load(os.fsencode(self.model_path), byref(mp), byref(h))
        if cb_error:
            if h.value:
                L.f8_model_free(h)
            raise cb_error[0]
        _check(st, "f8_model_load")
        self._model = h

        info = C.ModelInfo()
        info.struct_size = ctypes.sizeof(info)
        _check(L.f8_model_get_info(self._model, byref(info)), "f8_model_get_info")
        self._info = info
        self._n_vocab = info.n_vocab

        if not vocab_only:
            cp = L.f8_context_default_params().v
            cp.n_ctx = int(n_ctx)
            cp.n_batch = int(n_batch)
            if n_threads:
                cp.n_threads = int(n_threads)
            cp.kv_type = C.KV_TYPES[kv_type]
            cp.kv_calibrate = bool(kv_calibrate)
            if gpu_mem is not None:
                cp.gpu_mem = float(gpu_mem)
            cp.tp = int(tp)
            self._tp_devices_b = _b(tp_devices) if tp_devices else None
            cp.tp_devices = self._tp_devices_b
            cp.deterministic = bool(deterministic)
            ctx = c_void_p()
            st = L.f8_context_new(self._model, byref(cp), byref(ctx))
            if st != C.OK:
                self.close()
                _raise(st, "f8_context_new")
            self._ctx = ctx
            self._cparams = L.f8_context_get_params(self._ctx).v
        if verbose:
            import sys
            print(f"f8: {self.model_path}: {info.arch.decode()} {info.n_params / 1e6:.0f}M params, "
                  f"{info.weight_type.decode()}, n_ctx {self.n_ctx()}, libf8 {version()} ({library_path()})",
                  file=sys.stderr)

    # ------------------------------------------------------------ lifetime
    def close(self) -> None:
        """Frees the context and the model (also done when the object is collected)."""
        L = getattr(self, "_L", None)
        if L is None:
            return
        with self._lock:
            self._gen_id += 1  # ends any stream in progress
            for gid in list(self._live):
                self._free_gen(gid)
            if self._ctx is not None:
                L.f8_context_free(self._ctx)
                self._ctx = None
            if self._model is not None:
                L.f8_model_free(self._model)
                self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def _need_model(self):
        if self._model is None:
            raise F8Error("this F8 object is closed")
        return self._model

    def _need_ctx(self):
        self._need_model()
        if self._ctx is None:
            raise F8Error("this F8 object was loaded with vocab_only=True: it has no context to generate with")
        return self._ctx

    # --------------------------------------------------------- model facts
    @property
    def metadata(self) -> Dict[str, Any]:
        """f8_model_info as a dict (arch, n_vocab, n_ctx_train, n_embd, n_layer, ...)."""
        i = self._info
        out = {}
        for name, _ in C.ModelInfo._fields_:
            if name == "struct_size":
                continue
            v = getattr(i, name)
            out[name] = v.decode() if isinstance(v, bytes) else v
        return out

    def n_ctx(self) -> int:
        return int(self._cparams.n_ctx) if self._ctx is not None else int(self._info.n_ctx_train)

    def n_vocab(self) -> int:
        return self._n_vocab

    def n_embd(self) -> int:
        return int(self._info.n_embd)

    def token_bos(self) -> int:
        return self._L.f8_token_bos(self._need_model())

    def token_eos(self) -> int:
        return self._L.f8_token_eos(self._need_model())

    def token_is_eog(self, token: int) -> bool:
        return bool(self._L.f8_token_is_eog(self._need_model(), int(token)))

    @property
    def chat_template(self) -> str:
        """The model's chat template text ("" when the file has none)."""
        return (self._L.f8_model_chat_template(self._need_model()) or b"").decode("utf-8")

    # ----------------------------------------------------------- tokenizer
    def tokenize(self, text: Union[str, bytes], add_bos: bool = True, special: bool = False) -> List[int]:
        """Token ids of `text`. add_bos: BOS/EOS as the model's config says;
        special: "<|im_start|>"-like text becomes control tokens."""
        m = self._need_model()
        b = _b(text)
        n = c_size_t(0)
        st = self._L.f8_tokenize(m, b, len(b), add_bos, special, None, 0, byref(n))
        if st not in (C.OK, C.ERR_BUFFER_TOO_SMALL):
            _raise(st, "f8_tokenize")
        arr = (c_int32 * max(n.value, 1))()
        _check(self._L.f8_tokenize(m, b, len(b), add_bos, special, arr, n.value, byref(n)), "f8_tokenize")
        return list(arr[:n.value])

    def detokenize(self, tokens: Sequence[int], special: bool = False) -> bytes:
        """UTF-8 bytes of `tokens` (special: control tokens print their text)."""
        m = self._need_model()
        arr = (c_int32 * max(len(tokens), 1))(*tokens)
        return _buffer_call(self._L.f8_detokenize, m, arr, len(tokens), special, False)

    def token_to_piece(self, token: int, special: bool = False) -> bytes:
        return _buffer_call(self._L.f8_token_to_piece, self._need_model(), int(token), special)

    # -------------------------------------------------------- chat template
    def apply_chat_template(self, messages: Sequence[Message], add_generation_prompt: bool = True,
                            chat_template: Optional[str] = None, tools: Optional[list] = None,
                            documents: Optional[list] = None, **template_kwargs) -> str:
        """The prompt text for `messages` (dicts with role/content; other fields
        reach the template as they are). chat_template: a template text or a
        built-in name ("chatml", "llama3", ...); None = the model's. tools,
        documents and any other keyword (e.g. enable_thinking=False) become
        template variables, as transformers' apply_chat_template passes them."""
        m = self._need_model()
        tmpl = None
        if chat_template is not None:
            builtin = self._L.f8_chat_builtin_template(_b(chat_template))
            tmpl = builtin if builtin is not None else _b(chat_template)
        p = self._L.f8_chat_default_params().v
        p.add_generation_prompt = bool(add_generation_prompt)
        obj = {"messages": list(messages)}
        if tools is not None:
            obj["tools"] = list(tools)
        if documents is not None:
            obj["documents"] = list(documents)
        if template_kwargs:
            obj["chat_template_kwargs"] = dict(template_kwargs)
        conv = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return _buffer_call(self._L.f8_chat_render_json, m, tmpl, conv, byref(p)).decode("utf-8")

    # ------------------------------------------------------------ KV cache
    def reset(self) -> None:
        """Empties the KV cache (the next call prefills its whole prompt)."""
        with self._lock:
            self._gen_id += 1
            self._L.f8_kv_clear(self._need_ctx())
            self._tokens = []

    def _decode(self, tokens: Sequence[int], pos0: int) -> None:
        n = len(tokens)
        tok = (c_int32 * n)(*tokens)
        pos = (c_int32 * n)(*range(pos0, pos0 + n))
        seq = (c_int32 * n)()
        batch = C.Batch(n, n, tok, pos, seq, None)  # logits NULL: only the last entry's
        _check(self._L.f8_decode(self._ctx, byref(batch)), "f8_decode")

    def _sync(self, prompt: Sequence[int]) -> None:
        """Make the cache hold exactly `prompt` (keeping the common prefix with
        what it holds) with fresh logits for its last token."""
        keep = _common_prefix(self._tokens, prompt)
        if keep == len(prompt):
            keep -= 1  # re-decode the last token for its logits
        if keep < len(self._tokens):
            _check(self._L.f8_kv_seq_rm(self._ctx, 0, keep, -1), "f8_kv_seq_rm")
            self._tokens = self._tokens[:keep]
        self._decode(prompt[keep:], keep)
        self._tokens = list(prompt)

    # ----------------------------------------------------------- generation
    def _sampler(self, temperature, top_k, top_p, min_p, repeat_penalty, frequency_penalty, presence_penalty,
                 penalty_last_n, seed, logit_bias, grammar=None, json_schema=None):
        L = self._L
        sp = L.f8_sampler_default_params().v
        sp.temperature = float(temperature)
        sp.top_k = int(top_k)
        sp.top_p = float(top_p)
        sp.min_p = float(min_p)
        sp.repeat_penalty = float(repeat_penalty)
        sp.frequency_penalty = float(frequency_penalty)
        sp.presence_penalty = float(presence_penalty)
        sp.penalty_last_n = int(penalty_last_n)
        if seed is None:
            seed = self.seed
        sp.seed = C.SEED_RANDOM if seed is None or seed < 0 else int(seed) & C.SEED_RANDOM
        bias = None
        if logit_bias:
            items = list(logit_bias.items())
            bias = (C.LogitBias * len(items))(*[C.LogitBias(int(k), float(v)) for k, v in items])
            sp.logit_bias = ctypes.cast(bias, ctypes.POINTER(C.LogitBias))
            sp.n_logit_bias = len(items)
        h = c_void_p()
        _check(L.f8_sampler_new(byref(sp), self._n_vocab, byref(h)), "f8_sampler_new")
        if grammar is not None or json_schema is not None:
            # The output constrained to a GBNF grammar or to JSON valid against a
            # JSON Schema (docs/grammar.md); the sampler keeps its own copy.
            g = c_void_p()
            try:
                if grammar is not None and json_schema is not None:
                    raise F8Error("give grammar or json_schema, not both")
                if json_schema is not None:
                    text = json_schema if isinstance(json_schema, (str, bytes)) else json.dumps(json_schema)
                    _check(L.f8_grammar_new_json_schema(self._model, _b(text), byref(g)), "f8_grammar_new_json_schema")
                else:
                    _check(L.f8_grammar_new(self._model, _b(grammar), b"root", byref(g)), "f8_grammar_new")
                _check(L.f8_sampler_set_grammar(h, g), "f8_sampler_set_grammar")
            except BaseException:
                L.f8_sampler_free(h)
                raise
            finally:
                L.f8_grammar_free(g)
        return h

    def _start(self, prompt: Sequence[int], *, max_tokens, stop, ignore_eos=False, **sampling):
        """Prefill `prompt` and set up sampling; errors (context full, bad
        sampling values) are raised here, before any chunk is produced. Returns
        (generator of (token, text), state dict)."""
        L = self._L
        if not prompt:
            raise F8Error("the prompt is empty (no tokens)")
        stops = [stop] if isinstance(stop, (str, bytes)) else list(stop or [])
        with self._lock:
            self._need_ctx()
            self._gen_id += 1
            gen_id = self._gen_id
            try:
                self._sync(prompt)
            except F8Error:
                # The failed decode left the cache as it was before it: resync the bookkeeping.
                self._tokens = self._tokens[:max(0, L.f8_kv_seq_pos_max(self._ctx, 0) + 1)]
                raise
            sampler = stopper = ds = None
            try:
                sampler = self._sampler(**sampling)
                for t in prompt:
                    L.f8_sampler_accept(sampler, int(t))
                stop_b = [_b(s) for s in stops]
                arr = (c_char_p * max(len(stop_b), 1))(*stop_b)
                no_eos = (c_int32 * 1)(-1)
                stopper = c_void_p()
                n_max = 0 if max_tokens is None or max_tokens <= 0 else int(max_tokens)
                _check(L.f8_stopper_new(None if ignore_eos else self._model, arr, len(stop_b),
                                        no_eos if ignore_eos else None, 0, n_max, byref(stopper)), "f8_stopper_new")
                ds = c_void_p()
                _check(L.f8_detok_stream_new(self._model, False, False, byref(ds)), "f8_detok_stream_new")
            except BaseException:
                for fn, h in (("f8_sampler_free", sampler), ("f8_stopper_free", stopper),
                              ("f8_detok_stream_free", ds)):
                    if h is not None:
                        getattr(L, fn)(h)
                raise
            self._live[gen_id] = (sampler, stopper, ds)
        state = {"prompt_tokens": len(prompt), "completion_tokens": 0, "finish_reason": None,
                 "seed": int(L.f8_sampler_seed(sampler))}
        return self._loop(gen_id, sampler, stopper, ds, state), state

    def _free_gen(self, gen_id):
        """Frees a generation's sampler, stopper and stream (once; before the model)."""
        hs = self._live.pop(gen_id, None)
        if hs is not None:
            self._L.f8_sampler_free(hs[0])
            self._L.f8_stopper_free(hs[1])
            self._L.f8_detok_stream_free(hs[2])

    def _loop(self, gen_id, sampler, stopper, ds, state) -> Iterator[tuple]:
        L = self._L
        logits = ctypes.POINTER(c_float)()
        tok = c_int32()
        piece, plen = c_void_p(), c_size_t()
        text, tlen = c_void_p(), c_size_t()
        reason = c_int(C.STOP_NONE)
        try:
            while True:
                with self._lock:
                    if self._gen_id != gen_id or self._ctx is None:
                        raise RuntimeError("this generation was ended by a newer call (or close()) on the same "
                                           "F8 object; use one F8 object per concurrent generation")
                    _check(L.f8_get_logits_ith(self._ctx, -1, byref(logits)), "f8_get_logits_ith")
                    _check(L.f8_sampler_sample(sampler, logits, self._n_vocab, byref(tok)), "f8_sampler_sample")
                    t = tok.value
                    _check(L.f8_detok_stream_push(ds, t, byref(piece), byref(plen)), "f8_detok_stream_push")
                    _check(L.f8_stopper_push(stopper, t, piece, plen.value, byref(text), byref(tlen),
                                             byref(reason)), "f8_stopper_push")
                    out = ctypes.string_at(text, tlen.value) if tlen.value else b""
                    if reason.value != C.STOP_EOS:
                        state["completion_tokens"] += 1
                    context_full = False
                    if reason.value == C.STOP_NONE:
                        if len(self._tokens) >= self.n_ctx():
                            context_full = True
                        else:
                            self._decode([t], len(self._tokens))
                            self._tokens.append(t)
                yield (None if reason.value == C.STOP_EOS else t), out
                if reason.value != C.STOP_NONE or context_full:
                    break
            if reason.value not in (C.STOP_EOS, C.STOP_STRING):
                rest = b""
                with self._lock:
                    if L.f8_stopper_flush(stopper, byref(text), byref(tlen)) == C.OK and tlen.value:
                        rest += ctypes.string_at(text, tlen.value)
                    if L.f8_detok_stream_flush(ds, byref(text), byref(tlen)) == C.OK and tlen.value:
                        rest += ctypes.string_at(text, tlen.value)
                if rest:
                    yield None, rest
            state["finish_reason"] = "stop" if reason.value in (C.STOP_EOS, C.STOP_STRING) else "length"
        finally:
            with self._lock:
                self._free_gen(gen_id)

    @staticmethod
    def _texts(pairs: Iterator[tuple]) -> Iterator[str]:
        """UTF-8 text chunks; bytes of a character split across chunks are
        kept until it completes."""
        pending = b""
        for _, b in pairs:
            if not b:
                continue
            pending += b
            try:
                s = pending.decode("utf-8")
                pending = b""
            except UnicodeDecodeError as e:
                if e.reason == "unexpected end of data":
                    s = pending[:e.start].decode("utf-8")
                    pending = pending[e.start:]
                else:
                    s = pending.decode("utf-8", "replace")
                    pending = b""
            if s:
                yield s
        if pending:
            yield pending.decode("utf-8", "replace")

    def generate(self, tokens: Sequence[int], *, temperature: float = 0.8, top_k: int = 40, top_p: float = 0.95,
                 min_p: float = 0.05, repeat_penalty: float = 1.0, frequency_penalty: float = 0.0,
                 presence_penalty: float = 0.0, penalty_last_n: int = 64, seed: Optional[int] = None,
                 logit_bias: Optional[Dict[int, float]] = None, max_tokens: Optional[int] = None,
                 stop_at_eos: bool = True, grammar: Optional[str] = None,
                 json_schema: Optional[Union[dict, str]] = None) -> Iterator[int]:
        """Token ids sampled after `tokens`, until an end-of-generation token
        (not yielded; stop_at_eos=False goes on past it), max_tokens, or a
        full context. grammar (GBNF) / json_schema constrain the output."""
        it, _ = self._start(list(tokens), max_tokens=max_tokens, stop=None, ignore_eos=not stop_at_eos,
                            temperature=temperature, top_k=top_k, top_p=top_p, min_p=min_p,
                            repeat_penalty=repeat_penalty, frequency_penalty=frequency_penalty,
                            presence_penalty=presence_penalty, penalty_last_n=penalty_last_n, seed=seed,
                            logit_bias=logit_bias, grammar=grammar, json_schema=json_schema)
        return self._token_ids(it)

    def _token_ids(self, it):
        for t, _ in it:
            if t is not None:
                yield t

    # ----------------------------------------------- OpenAI-shaped results
    def _prompt_tokens(self, prompt: Union[str, bytes, Sequence[int]], add_bos: bool, special: bool) -> List[int]:
        if isinstance(prompt, (str, bytes)):
            return self.tokenize(prompt, add_bos=add_bos, special=special)
        return [int(t) for t in prompt]

    def create_completion(self, prompt: Union[str, bytes, Sequence[int]], suffix: Optional[str] = None,
                          max_tokens: Optional[int] = 16, temperature: float = 0.8, top_p: float = 0.95,
                          min_p: float = 0.05, echo: bool = False, stop: Optional[Union[str, List[str]]] = None,
                          frequency_penalty: float = 0.0, presence_penalty: float = 0.0,
                          repeat_penalty: float = 1.0, top_k: int = 40, stream: bool = False,
                          seed: Optional[int] = None, logit_bias: Optional[Dict[int, float]] = None,
                          penalty_last_n: int = 64, model: Optional[str] = None, grammar: Optional[str] = None,
                          json_schema: Optional[Union[dict, str]] = None):
        """A text completion: an OpenAI "text_completion" dict, or with
        stream=True an iterator of chunks of the same shape. max_tokens None
        or <= 0: until end of generation or a full context. temperature 0 is
        greedy. grammar (GBNF text) or json_schema (a dict or its JSON text)
        constrain the output (docs/grammar.md). Errors (a prompt over the
        context, bad values, an unsupported schema keyword) raise F8Error
        subclasses before anything is generated."""
        if suffix:
            raise F8Error("suffix (fill-in-the-middle) is not supported")
        toks = self._prompt_tokens(prompt, add_bos=True, special=False)
        it, state = self._start(toks, max_tokens=max_tokens, stop=stop, temperature=temperature, top_k=top_k,
                                top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty,
                                frequency_penalty=frequency_penalty, presence_penalty=presence_penalty,
                                penalty_last_n=penalty_last_n, seed=seed, logit_bias=logit_bias, grammar=grammar,
                                json_schema=json_schema)
        cid, created, name = f"cmpl-{uuid.uuid4().hex}", int(time.time()), model or self.model_path
        prefix = ""
        if echo:
            prefix = prompt if isinstance(prompt, str) else self.detokenize(toks).decode("utf-8", "replace")

        def chunk(text, finish):
            return {"id": cid, "object": "text_completion", "created": created, "model": name,
                    "choices": [{"text": text, "index": 0, "logprobs": None, "finish_reason": finish}]}

        def usage():
            return {"prompt_tokens": state["prompt_tokens"], "completion_tokens": state["completion_tokens"],
                    "total_tokens": state["prompt_tokens"] + state["completion_tokens"]}

        if stream:
            def chunks():
                if prefix:
                    yield chunk(prefix, None)
                for s in self._texts(it):
                    yield chunk(s, None)
                last = chunk("", state["finish_reason"])
                last["usage"] = usage()
                yield last
            return chunks()
        text = prefix + "".join(self._texts(it))
        out = chunk(text, state["finish_reason"])
        out["usage"] = usage()
        return out

    __call__ = create_completion

    def create_chat_completion(self, messages: Sequence[Message], max_tokens: Optional[int] = None,
                               temperature: float = 0.2, top_p: float = 0.95, top_k: int = 40, min_p: float = 0.05,
                               stop: Optional[Union[str, List[str]]] = None, stream: bool = False,
                               seed: Optional[int] = None, frequency_penalty: float = 0.0,
                               presence_penalty: float = 0.0, repeat_penalty: float = 1.0,
                               logit_bias: Optional[Dict[int, float]] = None, penalty_last_n: int = 64,
                               chat_template: Optional[str] = None, model: Optional[str] = None,
                               response_format: Optional[Dict[str, Any]] = None, grammar: Optional[str] = None):
        """A chat answer with the model's chat template (or `chat_template`):
        an OpenAI "chat.completion" dict, or with stream=True an iterator of
        "chat.completion.chunk" dicts (first delta {"role": "assistant"}, then
        {"content": ...}, last {} with finish_reason). response_format as
        OpenAI's ({"type": "json_object"} or {"type": "json_schema",
        "json_schema": {"schema": ...}}; llama-cpp-python's {"type":
        "json_object", "schema": ...} too) or a GBNF grammar constrain the
        answer."""
        json_schema = None
        if response_format:
            kind = response_format.get("type", "text")
            if kind == "json_object":
                json_schema = response_format.get("schema") or {"type": "object"}
            elif kind == "json_schema":
                js = response_format.get("json_schema") or {}
                if "schema" not in js:
                    raise F8InvalidArgumentError("response_format: json_schema.schema is required")
                json_schema = js["schema"]
            elif kind != "text":
                raise F8InvalidArgumentError(f"response_format: unknown type {kind!r}")
        prompt = self.apply_chat_template(messages, add_generation_prompt=True, chat_template=chat_template)
        toks = self.tokenize(prompt, add_bos=False, special=True)
        it, state = self._start(toks, max_tokens=max_tokens, stop=stop, temperature=temperature, top_k=top_k,
                                top_p=top_p, min_p=min_p, repeat_penalty=repeat_penalty,
                                frequency_penalty=frequency_penalty, presence_penalty=presence_penalty,
                                penalty_last_n=penalty_last_n, seed=seed, logit_bias=logit_bias, grammar=grammar,
                                json_schema=json_schema)
        cid, created, name = f"chatcmpl-{uuid.uuid4().hex}", int(time.time()), model or self.model_path

        def usage():
            return {"prompt_tokens": state["prompt_tokens"], "completion_tokens": state["completion_tokens"],
                    "total_tokens": state["prompt_tokens"] + state["completion_tokens"]}

        if stream:
            def chunks():
                def c(delta, finish):
                    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
                yield c({"role": "assistant"}, None)
                for s in self._texts(it):
                    yield c({"content": s}, None)
                last = c({}, state["finish_reason"])
                last["usage"] = usage()
                yield last
            return chunks()
        text = "".join(self._texts(it))
        return {"id": cid, "object": "chat.completion", "created": created, "model": name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None,
                             "finish_reason": state["finish_reason"]}],
                "usage": usage()}
