"""What a backend does for the scheduler's engine: load models and run generations.

A `Backend` (one per kind of model: llama-cpp, openai) loads a catalog entry
into a `ModelRuntime` and tokenizes prompts for it. A runtime runs one
`Generation` per slot at a time, blocking, on a thread the engine gives it:
it checks `Control.stop_requested()` at every token boundary and reports the
text it makes through `Control.emit`. Preempted, it returns the KV state to
resume from; asked to start from a state (a preempted job's, or a saved
prefix of its prompt), it restores it instead of evaluating those tokens.

States are bytes the engine keeps in RAM or pages to disk without looking
inside; only the runtime of the same model reads them back.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from noosd.scheduler.core.catalog import ModelSpec
from noosd.scheduler.core.jobs import Sampling


class ModelLoadError(Exception):
    """A model could not be loaded: its file is missing or corrupt, its endpoint is down.
    The message says which, for the jobs that waited for it."""


class GenerationError(Exception):
    """A generation failed (an endpoint went away mid-answer); the message says why."""


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class Prompt:
    """What a job asks: chat `messages` (rendered by the model's chat template),
    or raw `text` (a base model's continuation). Exactly one is given."""

    messages: tuple[ChatMessage, ...] = ()
    text: str = ""

    @property
    def size(self) -> int:
        """Its bytes in UTF-8: what tokenizing it costs, known before tokenizing."""
        parts = [self.text, *(m.role for m in self.messages), *(m.content for m in self.messages)]
        return sum(len(part.encode("utf-8", "surrogatepass")) for part in parts)


@dataclass(frozen=True)
class KvState:
    """A context's KV cache, saved: `data` to restore it, `tokens` it holds, in order.
    `data` is never changed once saved (a bytearray only so that llama.cpp and
    the file it is paged to can fill it in place)."""

    data: bytes | bytearray
    tokens: tuple[int, ...]

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class Generation:
    """One run of a job on a slot.

    `tokens` is the prompt as the backend's tokenizer gave it (empty for a
    remote model, which tokenizes its own); `generated`, the tokens a
    preempted job already made, to continue after; `start`, a state to
    restore first (it holds a prefix of tokens + generated).
    """

    prompt: Prompt
    tokens: tuple[int, ...]
    sampling: Sampling
    max_tokens: int
    # The uid whose job this is: a slot's context left by another user's job
    # is never started from (how much of it a prompt shares would show in the
    # time to first token).
    owner: int
    generated: tuple[int, ...] = ()
    # The text already streamed to the caller: a remote runtime, which cannot
    # resume from a state, generates again and skips it.
    streamed: str = ""
    start: KvState | None = None


class Stop(StrEnum):
    PREEMPT = "preempt"
    CANCEL = "cancel"


class Control(Protocol):
    """The engine's side of a running generation; callable from the runtime's thread."""

    def stop_requested(self) -> Stop | None: ...

    def emit(self, text: str, tokens: int) -> None:
        """`tokens` more tokens were generated, making `text` (possibly empty: a
        character's bytes may end in a later token)."""


class Ending(StrEnum):
    FINISHED = "finished"  # an end-of-generation token, a stop string, or max_tokens
    PREEMPTED = "preempted"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Outcome:
    ending: Ending
    # Every token generated, including those before a resume (empty for remote models).
    generated: tuple[int, ...]
    # PREEMPTED: the state to resume from (None: the runtime cannot save one,
    # and a resume generates again). FINISHED: the context after the job, for
    # a later prompt that starts the same way, when the runtime can save it.
    state: KvState | None = None


class ModelRuntime(ABC):
    """A loaded model with `spec.slots` contexts."""

    spec: ModelSpec

    @abstractmethod
    def generate(self, slot: int, generation: Generation, control: Control) -> Outcome:
        """Run `generation` on context `slot` (0 <= slot < spec.slots); blocks.

        Raises GenerationError when it cannot go on."""

    @abstractmethod
    def close(self) -> None:
        """Free the model's memory; no generation runs."""


class Backend(ABC):
    @abstractmethod
    def tokenize(self, spec: ModelSpec, prompt: Prompt) -> list[int]:
        """The tokens of `prompt` rendered for the model (its chat template for
        messages); blocks, and may load the model's vocabulary the first time.
        A remote model's are an estimate: empty list, see `estimate_tokens`.

        Raises InvalidArgument when the prompt cannot be rendered (a base
        model asked to chat without a declared template), ModelLoadError when
        the model's file cannot be read."""

    @abstractmethod
    def load(self, spec: ModelSpec) -> ModelRuntime:
        """Load the model; blocks. Raises ModelLoadError."""

    def estimate_tokens(self, prompt: Prompt) -> int:
        """The tokens of a prompt the backend cannot tokenize: four bytes each."""
        size = len(prompt.text.encode()) + sum(
            len(m.content.encode()) + len(m.role) + 4 for m in prompt.messages
        )
        return size // 4 + 1
