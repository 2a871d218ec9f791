"""What the llama-cpp backend needs from llama.cpp below `llama_cpp.Llama`.

Opening a model: llama.cpp says why a file does not load only in its log, so
this module takes over llama.cpp's log (once, when imported) and hands the
errors logged while a model opens to the `ModelLoadError` that reports it.
Other errors go to the Python log; llama.cpp's info and warnings, to nowhere.
llama.cpp refuses a missing, foreign, truncated or corrupt file without
aborting the process (it checks the header, the metadata and that every
tensor's data lies within the file); the magic is checked here only to say
plainly that a file is not a GGUF model.

States: a context's KV cache for sequence 0 (the only one `Llama` uses), as
bytes, without `Llama.save_state`'s copy of the logits of a whole batch.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import llama_cpp

from noosd.scheduler.backends.base import ModelLoadError

_log = logging.getLogger(__name__)

GGUF_MAGIC = b"GGUF"
# ggml_log_level's ERROR in the llama.cpp built in (NONE, DEBUG, INFO, WARN,
# ERROR, CONT; llama-cpp-python's own logger still has an older order).
_LOG_LEVEL_ERROR = 4
# `Llama` runs every ggml context on sequence 0.
SEQUENCE = 0
# llama.cpp prefixes a message with the functions it went through: "llama_model_load: ".
_FUNCTION_PREFIX = re.compile(r"^(?:\w+: )+")

# `Llama(verbose=False)` silences llama.cpp while a model opens by pointing the
# process's stdout and stderr at /dev/null and back: two openings at once could
# leave them there for good. One opening at a time.
_OPENING = threading.Lock()
_opening_errors = threading.local()


def _on_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    if level != _LOG_LEVEL_ERROR:
        return
    message = _FUNCTION_PREFIX.sub("", text.decode("utf-8", "replace").strip())
    errors: list[str] | None = getattr(_opening_errors, "errors", None)
    if errors is None:
        _log.error("llama.cpp: %s", message)
    else:
        errors.append(message)


# Kept referenced: llama.cpp holds only its address.
_LOG_CALLBACK = llama_cpp.llama_log_callback(_on_log)
llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


@contextmanager
def _errors_logged() -> Iterator[list[str]]:
    """The errors llama.cpp logs on this thread meanwhile."""
    errors: list[str] = []
    _opening_errors.errors = errors
    try:
        yield errors
    finally:
        del _opening_errors.errors


def open_llama(path: str, n_gpu_layers: int = 0, **params: int | bool) -> llama_cpp.Llama:
    """A `Llama` of the GGUF file at `path`, quiet, with `n_gpu_layers` of its
    layers on a GPU (-1: all; 0: none, the CPU); raises ModelLoadError saying why not."""
    _check_gguf(path)
    with _OPENING, _errors_logged() as errors:
        try:
            return llama_cpp.Llama(
                path,
                n_gpu_layers=n_gpu_layers,
                verbose=False,
                **params,  # type: ignore[arg-type]  # its **kwargs are untyped
            )
        except (ValueError, RuntimeError) as error:
            reason = errors[0] if errors else str(error)
            raise ModelLoadError(f"model file {path} cannot be loaded: {reason}") from None


def _check_gguf(path: str) -> None:
    try:
        with Path(path).open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except FileNotFoundError:
        raise ModelLoadError(f"model file {path} does not exist") from None
    except OSError as error:
        raise ModelLoadError(f"model file {path} cannot be read: {error.strerror}") from None
    if magic != GGUF_MAGIC:
        raise ModelLoadError(
            f"model file {path} is not a GGUF model (it starts with {magic!r}, not {GGUF_MAGIC!r})"
        )


def save_sequence(ctx: llama_cpp.llama_context_p) -> bytearray:
    """The KV cache of the context's sequence, as bytes (its cells, not its logits).

    llama.cpp writes straight into the bytes returned: a state is tens of MB,
    and each copy of it costs milliseconds on the way to a preempted job's end.
    """
    size = llama_cpp.llama_state_seq_get_size(ctx, SEQUENCE)
    data = bytearray(size)
    written = llama_cpp.llama_state_seq_get_data(ctx, _uint8_array(data), size, SEQUENCE)
    if written != size:
        raise RuntimeError(f"llama.cpp saved {written} bytes of a {size}-byte state")
    return data


def restore_sequence(ctx: llama_cpp.llama_context_p, data: bytes | bytearray) -> bool:
    """Replace the context's sequence by a saved one; False (and the sequence
    emptied) when llama.cpp refuses it, being another model's or context size's.
    llama.cpp reads `data` where it is."""
    source = _uint8_array(data)
    return bool(llama_cpp.llama_state_seq_set_data(ctx, source, len(data), SEQUENCE) == len(data))


def _uint8_array(
    data: bytes | bytearray,
) -> ctypes.Array[ctypes.c_uint8] | ctypes._Pointer[ctypes.c_uint8]:
    """`data`'s own memory as llama.cpp's `uint8_t *`, not a copy of it."""
    if isinstance(data, bytearray):
        return (ctypes.c_uint8 * len(data)).from_buffer(data)
    # bytes are read-only to from_buffer; a char pointer points into them.
    return ctypes.cast(ctypes.c_char_p(data), ctypes.POINTER(ctypes.c_uint8))


class Pieces:
    """The bytes of tokens, as generation shows them (control tokens as nothing)."""

    def __init__(self, vocab: llama_cpp.llama_vocab_p) -> None:
        self._vocab = vocab
        self._buffer = ctypes.create_string_buffer(64)

    def __call__(self, token: int) -> bytes:
        size = llama_cpp.llama_token_to_piece(
            self._vocab, token, self._buffer, len(self._buffer), 0, False
        )
        if size < 0:  # a longer piece than any seen yet: -size bytes
            self._buffer = ctypes.create_string_buffer(-size)
            size = llama_cpp.llama_token_to_piece(
                self._vocab, token, self._buffer, len(self._buffer), 0, False
            )
        return self._buffer.raw[:size]
