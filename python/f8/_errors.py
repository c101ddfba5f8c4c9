"""Exceptions. Every failing libf8 call raises an F8Error subclass carrying the
status (e.g. "F8_ERR_IO") and f8_last_error()'s message."""
from __future__ import annotations


class F8Error(Exception):
    """A libf8 call failed. .status: the f8_status code (int); .status_name:
    its name ("F8_ERR_FORMAT"); .message: f8_last_error() of that call."""

    status = None
    status_name = "F8_ERR"

    def __init__(self, message, status=None, status_name=None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if status_name is not None:
            self.status_name = status_name

    def __str__(self):
        return f"{self.message} ({self.status_name})" if self.status is not None else self.message


class F8InvalidArgumentError(F8Error, ValueError):
    """F8_ERR_INVALID_ARGUMENT: a bad value (also a ValueError)."""


class F8IOError(F8Error):
    """F8_ERR_IO: the file is missing or unreadable."""


class F8FormatError(F8Error):
    """F8_ERR_FORMAT: the file is malformed or not a .f8."""


class F8UnsupportedError(F8Error):
    """F8_ERR_UNSUPPORTED: valid but not supported (architecture, dtype, backend...)."""


class F8OutOfMemoryError(F8Error, MemoryError):
    """F8_ERR_OUT_OF_MEMORY."""


class F8ContextFullError(F8Error, ValueError):
    """F8_ERR_CONTEXT_FULL: the prompt does not fit the context (also a ValueError)."""


class F8AbortedError(F8Error):
    """F8_ERR_ABORTED: a progress or abort callback stopped the call."""


class F8TemplateError(F8Error):
    """F8_ERR_TEMPLATE: the chat template failed to render."""


class F8InternalError(F8Error):
    """F8_ERR_INTERNAL: a bug in f8."""


class F8LibraryNotFound(F8Error, ImportError):
    """libf8.so.0 could not be loaded."""


class F8AbiError(F8Error):
    """The loaded libf8 does not match this binding (API version, struct sizes)."""


BY_STATUS = {
    1: F8InvalidArgumentError, 2: F8IOError, 3: F8FormatError, 4: F8UnsupportedError, 5: F8OutOfMemoryError,
    6: F8ContextFullError, 7: F8AbortedError, 9: F8TemplateError, 10: F8InternalError,
}
