"""Chat messages to a llama-cpp model's prompt text, by the template its catalog entry names.

"embedded": the Jinja template in the GGUF file (`tokenizer.chat_template`),
rendered as llama-cpp-python and Hugging Face render it; a base model has
none. A name: one of llama-cpp-python's chat formats ("chatml", "gemma").
A path: a Jinja template file, rendered like an embedded one.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol, cast

import llama_cpp
from llama_cpp import llama_chat_format

from noos.protocol.errors import InvalidArgument
from noosd.scheduler.backends.base import ChatMessage
from noosd.scheduler.core.catalog import ChatTemplate, TemplateSource

EMBEDDED_TEMPLATE_KEY = "tokenizer.chat_template"


@dataclass(frozen=True)
class RenderedChat:
    text: str
    # Strings that end the answer, besides the model's end-of-generation tokens.
    stops: tuple[str, ...]
    # The text begins with the BOS token the model wants (a Jinja template
    # writes it): tokenizing must not add another.
    has_bos: bool


class _Formatter(Protocol):
    def __call__(
        self, *, messages: list[dict[str, str]]
    ) -> llama_chat_format.ChatFormatterResponse: ...


class ChatFormat:
    """The template of one model, compiled the first time it renders; thread-safe."""

    def __init__(self, model: str, template: ChatTemplate, llama: llama_cpp.Llama) -> None:
        self._model = model
        self._template = template
        self._embedded = llama.metadata.get(EMBEDDED_TEMPLATE_KEY)
        vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self._bos = _token_text(vocab, llama.token_bos())
        self._eos = _token_text(vocab, llama.token_eos())

    def render(self, messages: Sequence[ChatMessage]) -> RenderedChat:
        """Raises InvalidArgument when the template is missing or refuses the messages."""
        formatter = self._formatter
        try:
            response = formatter(
                messages=[{"role": m.role, "content": m.content} for m in messages]
            )
        # A template is a program from the model's file or the catalog: any
        # failure of it is a conversation it cannot render.
        except Exception as error:
            raise InvalidArgument(
                f"model {self._model}'s chat template cannot render these messages: {error}"
            ) from None
        stop = response.stop
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        return RenderedChat(response.prompt, stops, response.added_special)

    @cached_property
    def _formatter(self) -> _Formatter:
        source = self._template.source
        if source is TemplateSource.NAMED:
            return _named_formatter(self._model, self._template.value)
        if source is TemplateSource.FILE:
            return self._jinja(_read_template(self._model, self._template.value))
        if self._embedded is None:
            raise InvalidArgument(
                f"model {self._model} has no chat template of its own: declare "
                "chat_template in its catalog entry (a chat format such as "
                '"chatml" or "gemma", or the path of a Jinja template)'
            )
        return self._jinja(self._embedded)

    def _jinja(self, template: str) -> _Formatter:
        try:
            formatter = llama_chat_format.Jinja2ChatFormatter(
                template=template, eos_token=self._eos, bos_token=self._bos
            )
        except Exception as error:  # jinja2's TemplateSyntaxError, and what else a bad file makes
            raise InvalidArgument(
                f"model {self._model}'s chat template is not a valid Jinja template: {error}"
            ) from None
        return cast(_Formatter, formatter)


def _token_text(vocab: llama_cpp.llama_vocab_p, token: int) -> str:
    if token < 0:  # the model has no such token
        return ""
    text: bytes = llama_cpp.llama_vocab_get_text(vocab, token)
    return text.decode("utf-8", "replace")


def _read_template(model: str, path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InvalidArgument(
            f"model {model}'s chat template {path} is unreadable: {error}"
        ) from None


def _named_formatter(model: str, name: str) -> _Formatter:
    """llama-cpp-python's chat format `name`.

    llama-cpp-python registers a format only as the chat handler it wraps it
    in, a closure over the formatter; the formatter is taken from there.
    Handlers that run the model themselves (tool calling, images) have none.
    """
    try:
        handler = llama_chat_format.get_chat_completion_handler(name)
    except llama_chat_format.LlamaChatCompletionHandlerNotFoundException:
        raise InvalidArgument(f"model {model}'s chat format {name!r} does not exist") from None
    formatter = inspect.getclosurevars(handler).nonlocals.get("chat_formatter")
    if formatter is None:
        raise InvalidArgument(
            f"model {model}'s chat format {name!r} is not a prompt template "
            "(it is a tool-calling or multimodal handler)"
        )
    return cast(_Formatter, formatter)
