"""f8 — Python binding for libf8, the f8 FP8 LLM inference engine.

    from f8 import F8
    llm = F8(model_path="model.f8")
    print(llm("The capital of France is", max_tokens=16, temperature=0)["choices"][0]["text"])

ctypes over libf8.so.0 (include/f8.h); f8._lib holds the raw declarations.
Errors are F8Error subclasses carrying libf8's message (f8_last_error()).
"""
from ._errors import (F8AbiError, F8AbortedError, F8ContextFullError, F8Error, F8FormatError, F8InternalError,
                      F8InvalidArgumentError, F8IOError, F8LibraryNotFound, F8OutOfMemoryError, F8TemplateError,
                      F8UnsupportedError)
from .llama import F8, api_version, backend_probe, backends, library_path, version
from .speculative import Sampler, draft_lookup

__version__ = "0.1.0"

__all__ = [
    "F8", "Sampler", "draft_lookup", "version", "api_version", "backends", "backend_probe", "library_path",
    "F8Error", "F8InvalidArgumentError", "F8IOError", "F8FormatError", "F8UnsupportedError", "F8OutOfMemoryError",
    "F8ContextFullError", "F8AbortedError", "F8TemplateError", "F8InternalError", "F8LibraryNotFound", "F8AbiError",
]
