"""Low-level ctypes declarations of include/f8.h (F8_API_VERSION 3).

Everything here mirrors the C header one to one. `lib()` loads libf8 once and
returns the ctypes.CDLL with argtypes/restype set; the high-level API in
f8.llama uses it, and so may callers who want the C API directly.

The structs below copy the header's fields; `lib()` checks the struct_size
each *_default_params() returns against ctypes.sizeof and refuses a library
whose structs are smaller (older) or implausibly larger (F8AbiError) instead
of corrupting memory. Params always travel in the library's own buffer (the
value *_default_params() returned), so fields appended by a newer library
keep their defaults.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char, c_char_p, c_float, c_int, c_int8,
                    c_int32, c_size_t, c_uint32, c_uint64, c_void_p)

from ._errors import F8AbiError, F8LibraryNotFound

API_VERSION = 3          # F8_API_VERSION of the header these declarations copy
SONAME = "libf8.so.0"    # the ABI this binding speaks
SEED_RANDOM = 0xFFFFFFFFFFFFFFFF
MAX_SEQ = 64

# f8_status
OK = 0
STATUS_NAMES = {
    0: "F8_OK", 1: "F8_ERR_INVALID_ARGUMENT", 2: "F8_ERR_IO", 3: "F8_ERR_FORMAT",
    4: "F8_ERR_UNSUPPORTED", 5: "F8_ERR_OUT_OF_MEMORY", 6: "F8_ERR_CONTEXT_FULL",
    7: "F8_ERR_ABORTED", 8: "F8_ERR_BUFFER_TOO_SMALL", 9: "F8_ERR_TEMPLATE", 10: "F8_ERR_INTERNAL",
}
ERR_BUFFER_TOO_SMALL = 8
ERR_CONTEXT_FULL = 6

# f8_stop_reason
STOP_NONE, STOP_EOS, STOP_STRING, STOP_MAX_TOKENS = 0, 1, 2, 3
# f8_kv_type
KV_TYPES = {"fp8": 0, "e4m3": 0, "bf16": 1, "f32": 2, "f16": 3, "e5m2": 4, "fp8-layer": 5, "int8": 6}
# f8_chat_engine
CHAT_ENGINES = {"auto": 0, "builtin": 1, "jinja": 2}

progress_cb = CFUNCTYPE(c_bool, c_float, c_void_p)
abort_cb = CFUNCTYPE(c_bool, c_void_p)


class ModelParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("vocab_only", c_bool), ("progress", progress_cb),
                ("progress_user_data", c_void_p), ("backend", c_char_p)]


class ChatMessage(Structure):
    _fields_ = [("role", c_char_p), ("content", c_char_p)]


class ChatParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("add_generation_prompt", c_bool), ("bos_token", c_char_p),
                ("eos_token", c_char_p), ("engine", c_int)]


class LogitBias(Structure):
    _fields_ = [("token", c_int32), ("bias", c_float)]


class SamplerParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("temperature", c_float), ("top_k", c_int32), ("top_p", c_float),
                ("min_p", c_float), ("repeat_penalty", c_float), ("frequency_penalty", c_float),
                ("presence_penalty", c_float), ("penalty_last_n", c_int32), ("seed", c_uint64),
                ("logit_bias", POINTER(LogitBias)), ("n_logit_bias", c_size_t)]


class ModelInfo(Structure):
    _fields_ = [("struct_size", c_size_t), ("arch", c_char * 32), ("n_vocab", c_int32),
                ("n_ctx_train", c_int32), ("n_embd", c_int32), ("n_layer", c_int32), ("n_head", c_int32),
                ("n_head_kv", c_int32), ("head_dim", c_int32), ("n_ff", c_int32), ("n_params", c_uint64),
                ("weight_bytes", c_uint64), ("file_bytes", c_uint64), ("weight_type", c_char * 16),
                ("has_kv_scales", c_bool)]


class ContextParams(Structure):
    _fields_ = [("struct_size", c_size_t), ("n_ctx", c_uint32), ("n_batch", c_uint32), ("n_threads", c_int32),
                ("kv_type", c_int), ("emulate_gpu", c_bool), ("backend", c_char_p), ("kv_calibrate", c_bool),
                ("gpu_mem", c_float), ("tp", c_int32), ("tp_devices", c_char_p), ("tp_nodes", c_int32),
                ("tp_node", c_int32), ("rendezvous", c_char_p), ("deterministic", c_bool)]


class Batch(Structure):
    _fields_ = [("n_tokens", c_int32), ("capacity", c_int32), ("token", POINTER(c_int32)),
                ("pos", POINTER(c_int32)), ("seq_id", POINTER(c_int32)), ("logits", POINTER(c_int8))]


_PAD = 512


def _padded(struct):
    """The return type of *_default_params(): the struct plus room to spare.
    A library whose struct has more fields (appended, newer API) fills the
    room, and `.v` (a view into the same buffer) passed back by reference
    hands it the whole struct with its own struct_size."""
    return type("Padded" + struct.__name__, (Structure,), {"_fields_": [("v", struct), ("_pad", c_char * _PAD)]})


_PROTOS = {
    # name: (restype, [argtypes])
    "f8_status_name": (c_char_p, [c_int]),
    "f8_last_error": (c_char_p, []),
    "f8_version": (c_char_p, []),
    "f8_api_version": (c_int, []),
    "f8_backends": (c_char_p, []),
    "f8_backend_probe": (c_int, [c_char_p, c_char_p, c_size_t]),
    "f8_model_default_params": (_padded(ModelParams), []),
    "f8_model_load": (c_int, [c_char_p, POINTER(ModelParams), POINTER(c_void_p)]),
    "f8_model_free": (None, [c_void_p]),
    "f8_tokenize": (c_int, [c_void_p, c_char_p, c_size_t, c_bool, c_bool, POINTER(c_int32), c_size_t,
                            POINTER(c_size_t)]),
    "f8_detokenize": (c_int, [c_void_p, POINTER(c_int32), c_size_t, c_bool, c_bool, c_char_p, c_size_t,
                              POINTER(c_size_t)]),
    "f8_token_to_piece": (c_int, [c_void_p, c_int32, c_bool, c_char_p, c_size_t, POINTER(c_size_t)]),
    "f8_token_text": (c_char_p, [c_void_p, c_int32]),
    "f8_vocab_size": (c_int32, [c_void_p]),
    "f8_token_bos": (c_int32, [c_void_p]),
    "f8_token_eos": (c_int32, [c_void_p]),
    "f8_token_is_eog": (c_bool, [c_void_p, c_int32]),
    "f8_token_is_control": (c_bool, [c_void_p, c_int32]),
    "f8_detok_stream_new": (c_int, [c_void_p, c_bool, c_bool, POINTER(c_void_p)]),
    "f8_detok_stream_push": (c_int, [c_void_p, c_int32, POINTER(c_void_p), POINTER(c_size_t)]),
    "f8_detok_stream_flush": (c_int, [c_void_p, POINTER(c_void_p), POINTER(c_size_t)]),
    "f8_detok_stream_free": (None, [c_void_p]),
    "f8_chat_default_params": (_padded(ChatParams), []),
    "f8_chat_apply_template": (c_int, [c_void_p, POINTER(ChatMessage), c_size_t, POINTER(ChatParams), c_char_p,
                                       c_size_t, POINTER(c_size_t)]),
    "f8_chat_template_render": (c_int, [c_char_p, POINTER(ChatMessage), c_size_t, POINTER(ChatParams), c_char_p,
                                        c_size_t, POINTER(c_size_t)]),
    "f8_chat_render_json": (c_int, [c_void_p, c_char_p, c_char_p, POINTER(ChatParams), c_char_p, c_size_t,
                                    POINTER(c_size_t)]),
    "f8_model_chat_template": (c_char_p, [c_void_p]),
    "f8_chat_builtin_template": (c_char_p, [c_char_p]),
    "f8_chat_template_family": (c_char_p, [c_char_p]),
    "f8_sampler_default_params": (_padded(SamplerParams), []),
    "f8_sampler_new": (c_int, [POINTER(SamplerParams), c_int32, POINTER(c_void_p)]),
    "f8_sampler_free": (None, [c_void_p]),
    "f8_sampler_sample": (c_int, [c_void_p, POINTER(c_float), c_int32, POINTER(c_int32)]),
    "f8_sampler_accept": (c_int, [c_void_p, c_int32]),
    "f8_sampler_reset": (None, [c_void_p]),
    "f8_sampler_seed": (c_uint64, [c_void_p]),
    "f8_grammar_new": (c_int, [c_void_p, c_char_p, c_char_p, POINTER(c_void_p)]),
    "f8_grammar_new_json_schema": (c_int, [c_void_p, c_char_p, POINTER(c_void_p)]),
    "f8_json_schema_to_grammar": (c_int, [c_char_p, c_char_p, c_char_p, c_size_t, POINTER(c_size_t)]),
    "f8_grammar_free": (None, [c_void_p]),
    "f8_sampler_set_grammar": (c_int, [c_void_p, c_void_p]),
    "f8_sampler_grammar_state": (c_int, [c_void_p]),
    "f8_sampler_last_logprobs": (c_int, [c_void_p, POINTER(c_float), c_void_p, c_size_t, POINTER(c_size_t)]),
    "f8_draft_lookup": (c_int, [POINTER(c_int32), c_size_t, c_int32, c_int32, POINTER(c_int32), c_size_t,
                                POINTER(c_size_t)]),
    "f8_sampler_sample_probs": (c_int, [c_void_p, POINTER(c_float), c_int32, POINTER(c_int32), POINTER(c_float)]),
    "f8_sampler_verify": (c_int, [c_void_p, POINTER(POINTER(c_float)), c_int32, POINTER(c_int32),
                                  POINTER(POINTER(c_float)), c_size_t, POINTER(c_int32), POINTER(c_size_t)]),
    "f8_stopper_new": (c_int, [c_void_p, POINTER(c_char_p), c_size_t, POINTER(c_int32), c_size_t, ctypes.c_int64,
                               POINTER(c_void_p)]),
    "f8_stopper_push": (c_int, [c_void_p, c_int32, c_void_p, c_size_t, POINTER(c_void_p), POINTER(c_size_t),
                                POINTER(c_int)]),
    "f8_stopper_flush": (c_int, [c_void_p, POINTER(c_void_p), POINTER(c_size_t)]),
    "f8_stopper_free": (None, [c_void_p]),
    "f8_model_get_info": (c_int, [c_void_p, POINTER(ModelInfo)]),
    "f8_model_tp_bytes": (c_int, [c_void_p, c_int32, POINTER(c_uint64)]),
    "f8_context_default_params": (_padded(ContextParams), []),
    "f8_context_new": (c_int, [c_void_p, POINTER(ContextParams), POINTER(c_void_p)]),
    "f8_context_free": (None, [c_void_p]),
    "f8_context_get_params": (_padded(ContextParams), [c_void_p]),
    "f8_context_kv_bytes": (c_size_t, [c_void_p]),
    "f8_batch_init": (c_int, [c_int32, POINTER(Batch)]),
    "f8_batch_free": (None, [POINTER(Batch)]),
    "f8_batch_add": (c_int, [POINTER(Batch), c_int32, c_int32, c_int32, c_bool]),
    "f8_decode": (c_int, [c_void_p, POINTER(Batch)]),
    "f8_get_logits_ith": (c_int, [c_void_p, c_int32, POINTER(POINTER(c_float))]),
    "f8_kv_seq_rm": (c_int, [c_void_p, c_int32, c_int32, c_int32]),
    "f8_kv_seq_cp": (c_int, [c_void_p, c_int32, c_int32, c_int32, c_int32]),
    "f8_kv_seq_keep": (c_int, [c_void_p, c_int32]),
    "f8_kv_clear": (None, [c_void_p]),
    "f8_kv_seq_pos_max": (c_int32, [c_void_p, c_int32]),
    "f8_kv_n_used": (c_int32, [c_void_p]),
    "f8_set_abort_callback": (None, [c_void_p, abort_cb, c_void_p]),
}

_lock = threading.Lock()
_lib = None
_lib_path = None


def _candidates():
    """(description, path-or-name) in the order they are tried."""
    env = os.environ.get("F8_LIBRARY")
    if env:
        yield "$F8_LIBRARY", env
        return  # an explicit choice is not second-guessed
    here = os.path.dirname(os.path.abspath(__file__))
    for name in (SONAME, "libf8.so"):
        p = os.path.join(here, name)
        if os.path.exists(p):
            yield "the package directory", p
    yield "the dynamic loader", SONAME
    if shutil.which("pkg-config"):
        try:
            libdir = subprocess.run(["pkg-config", "--variable=libdir", "f8"], capture_output=True, text=True,
                                    timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            libdir = ""
        if libdir:
            yield "pkg-config f8", os.path.join(libdir, SONAME)


def _declare(dll):
    for name, (res, args) in _PROTOS.items():
        fn = getattr(dll, name)
        fn.restype = res
        fn.argtypes = args


def _check_abi(dll, where):
    v = dll.f8_api_version()
    if v < API_VERSION:
        raise F8AbiError(f"{where}: libf8 API version {v} is older than this binding's {API_VERSION}")
    for fn, struct in (("f8_model_default_params", ModelParams), ("f8_context_default_params", ContextParams),
                       ("f8_sampler_default_params", SamplerParams), ("f8_chat_default_params", ChatParams)):
        # A newer library may have appended fields (F8_API_VERSION > ours): the
        # binding passes the library's own buffer (the padded return value,
        # struct_size included), so the fields it does not know keep their
        # defaults. An older (smaller) struct means an older library.
        got = getattr(dll, fn)().v.struct_size
        if not ctypes.sizeof(struct) <= got <= ctypes.sizeof(struct) + _PAD:
            raise F8AbiError(f"{where}: {fn}() says struct_size {got}, this binding's {struct.__name__} is "
                             f"{ctypes.sizeof(struct)} bytes: library and binding do not match")


def lib():
    """The loaded libf8 (ctypes.CDLL), prototypes declared and ABI checked."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for where, path in _candidates():
            try:
                dll = ctypes.CDLL(path)
            except OSError as e:
                tried.append(f"{where} ({path}): {e}")
                continue
            try:
                _declare(dll)
            except AttributeError as e:
                raise F8AbiError(f"{where} ({path}) lacks a symbol this binding needs: {e}") from None
            _check_abi(dll, f"{where} ({path})")
            _lib, _lib_path = dll, path
            return dll
        raise F8LibraryNotFound(
            "libf8 not found. Install it (make install PREFIX=..., cmake --install build --prefix ..., or the "
            ".deb from make deb) so that the dynamic loader or pkg-config finds it, or set F8_LIBRARY to the "
            "path of libf8.so.0. Tried: " + "; ".join(tried))


def library_path():
    """Where libf8 was loaded from (loads it if needed)."""
    lib()
    return _lib_path
