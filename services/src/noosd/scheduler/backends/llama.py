"""The llama-cpp backend: GGUF models run in-process by llama.cpp (llama-cpp-python).

A loaded model has one `llama_cpp.Llama` a slot, each with a context of its
own (`context_length` tokens of KV cache); their weights are the same mmap'd
file, so slots share them. A slot runs on the engine's thread for it, and
llama.cpp computes with the GIL released: slots run in parallel, on
`spec.threads` threads each.

A generation evaluates only what its slot's context does not hold yet: the
longest common prefix of the context's tokens and the job's is kept when the
context is the same user's, or, when the generation brings a saved state
that shares more, that state is restored first. Of another user's context
only the chat template's own opening is kept (its header and the default
system prompt it adds: the same for every user of the model, so nothing is
told by reusing it); the rest is cleared, as the time to first token would
tell how much of it a guess matched. That opening is most of a short
question's prompt: without it, a question after another user's took 3x the
CPU to its first token in the load benchmark. The last prompt token is
always evaluated again, for the logits of the first token to sample. A
sliding-window cache (Gemma 3's) forgets the cells its window has passed,
so it keeps a prefix only while the window still holds the end of it.

At every token boundary, the context holds the prompt and every generated
token but the last one sampled (it is evaluated when the next is asked
for). A preempted or finished job's state is that: the KV cells of the
context's sequence, a few tens of KB a token. Resuming evaluates the last
token and goes on where the job left off, at temperature 0 with the same
tokens as a run that was never stopped (above 0, sampling starts again from
the job's seed). `generation.max_tokens` is the job's whole budget, the
tokens generated before a preemption included.

Tokenizing needs only a model's vocabulary: it is read from the file once
(a vocab-only `Llama`, a fraction of the model's memory) and kept.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import llama_cpp
import numpy as np
import numpy.typing as npt

from noos.protocol.errors import InvalidArgument
from noosd.scheduler.backends.base import (
    Backend,
    ChatMessage,
    Control,
    Ending,
    Generation,
    GenerationError,
    KvState,
    ModelRuntime,
    Outcome,
    Prompt,
    Stop,
)
from noosd.scheduler.backends.llama_chat import ChatFormat
from noosd.scheduler.backends.llama_native import (
    SEQUENCE,
    Pieces,
    open_llama,
    restore_sequence,
    save_sequence,
)
from noosd.scheduler.backends.llama_text import TextStream
from noosd.scheduler.core.catalog import ChatTemplate, ModelSpec
from noosd.scheduler.core.jobs import Sampling

_log = logging.getLogger(__name__)

# A vocabulary needs no context to speak of; llama-cpp-python makes one anyway.
_VOCAB_CONTEXT = 64


class LlamaCppBackend(Backend):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vocabularies: dict[str, _Vocabulary] = {}

    def tokenize(self, spec: ModelSpec, prompt: Prompt) -> list[int]:
        return self._vocabulary(spec.location).tokenize(spec, prompt)

    def load(self, spec: ModelSpec) -> LlamaCppRuntime:
        contexts: list[llama_cpp.Llama] = []
        try:
            for _ in range(spec.slots):
                contexts.append(
                    open_llama(
                        spec.location,
                        n_gpu_layers=spec.gpu_layers,
                        n_ctx=spec.context_length,
                        n_threads=spec.threads,
                        n_threads_batch=spec.threads,
                    )
                )
        except BaseException:
            for context in contexts:
                context.close()
            raise
        return LlamaCppRuntime(spec, contexts)

    def _vocabulary(self, path: str) -> _Vocabulary:
        with self._lock:
            vocabulary = self._vocabularies.get(path)
        if vocabulary is not None:
            return vocabulary
        # Read outside the lock: the other models' prompts tokenize meanwhile.
        # Two threads may both read it the first time; one copy is kept.
        loaded = _Vocabulary(
            open_llama(path, vocab_only=True, n_ctx=_VOCAB_CONTEXT, n_batch=_VOCAB_CONTEXT)
        )
        with self._lock:
            vocabulary = self._vocabularies.setdefault(path, loaded)
        if vocabulary is not loaded:
            loaded.close()
        return vocabulary


class _Vocabulary:
    """A model file's tokenizer and its chat templates, for any thread."""

    def __init__(self, llama: llama_cpp.Llama) -> None:
        self._llama = llama
        self._lock = threading.Lock()
        self._chat_formats: dict[tuple[str, ChatTemplate], ChatFormat] = {}

    def tokenize(self, spec: ModelSpec, prompt: Prompt) -> list[int]:
        with self._lock:
            if not prompt.messages:
                return _tokenize(self._llama, prompt.text, add_bos=True)
            key = (spec.name, spec.chat_template)
            chat_format = self._chat_formats.get(key)
            if chat_format is None:
                chat_format = ChatFormat(spec.name, spec.chat_template, self._llama)
                self._chat_formats[key] = chat_format
            chat = chat_format.render(prompt.messages)
            return _tokenize(self._llama, chat.text, add_bos=not chat.has_bos)

    def close(self) -> None:
        self._llama.close()


def _tokenize(llama: llama_cpp.Llama, text: str, *, add_bos: bool) -> list[int]:
    """The tokens of `text`, its special tokens' names read as those tokens (as
    llama.cpp's server reads a prompt); `add_bos`: a BOS first if the model wants one."""
    return llama.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)


class LlamaCppRuntime(ModelRuntime):
    def __init__(self, spec: ModelSpec, contexts: Sequence[llama_cpp.Llama]) -> None:
        self.spec = spec
        chat_format = ChatFormat(spec.name, spec.chat_template, contexts[0])
        self._slots = [_Slot(spec.name, llama, chat_format) for llama in contexts]
        self._closed = False

    def generate(self, slot: int, generation: Generation, control: Control) -> Outcome:
        if not 0 <= slot < len(self._slots):
            raise ValueError(f"model {self.spec.name} has no slot {slot}")
        if self._closed:
            raise GenerationError(f"model {self.spec.name} is unloaded")
        return self._slots[slot].run(generation, control)

    def evaluated_tokens(self, slot: int) -> int:
        """The tokens slot `slot` has evaluated since the model loaded, prompts
        and generated ones: what reused prefixes and restored states spare."""
        return self._slots[slot].evaluated

    def close(self) -> None:
        self._closed = True
        for slot in self._slots:
            slot.close()


@dataclass(frozen=True)
class _Stops:
    """What ends an answer besides max_tokens: end-of-generation tokens (the
    model's, and control tokens its chat format stops at) and stop strings."""

    tokens: frozenset[int]
    strings: tuple[str, ...]


class _Slot:
    """One context; used by one thread at a time (the engine's for the slot)."""

    def __init__(self, model: str, llama: llama_cpp.Llama, chat_format: ChatFormat) -> None:
        self._model = model
        self._llama = llama
        self._chat_format = chat_format
        self._vocab = llama_cpp.llama_model_get_vocab(llama.model)
        self._memory = llama_cpp.llama_get_memory(llama.ctx)
        self._pieces = Pieces(self._vocab)
        self._window = llama_cpp.llama_model_n_swa(llama.model)
        self.evaluated = 0
        # The uid whose tokens the context holds; None: no one's yet.
        self._context_owner: int | None = None
        # How many of them are the chat template's opening, anyone's to reuse.
        self._context_public = 0
        # Per sequence of roles, the tokens every conversation of them opens with.
        self._openings: dict[tuple[str, ...], npt.NDArray[np.intc]] = {}

    def close(self) -> None:
        self._llama.close()

    def run(self, generation: Generation, control: Control) -> Outcome:
        self._check_fits(generation)
        stop = control.stop_requested()
        if stop is not None:
            return _stopped(stop, generation.generated, generation.start)
        stops = self._stops(generation.prompt)
        tokens = generation.tokens + generation.generated
        public = _common_prefix(self._opening(generation.prompt), tokens)
        self._position(tokens, generation.start, generation.owner, public)
        held = self._llama.n_tokens
        try:
            stop = self._prefill(tokens[:-1], control)
            if stop is not None:
                return _stopped(stop, generation.generated, self._state())
            return self._sample(tokens, generation, stops, control)
        except RuntimeError as error:  # llama_decode failed; the context holds what it did before
            raise GenerationError(f"model {self._model}: llama.cpp failed: {error}") from None
        finally:
            self.evaluated += self._llama.n_tokens - held

    def _check_fits(self, generation: Generation) -> None:
        if not generation.tokens:
            raise GenerationError(f"model {self._model}: the prompt has no tokens")
        n_ctx = self._llama.n_ctx()
        if len(generation.tokens) + generation.max_tokens > n_ctx:
            raise GenerationError(
                f"model {self._model}: a prompt of {len(generation.tokens)} tokens and "
                f"max_tokens {generation.max_tokens} exceed its context of {n_ctx} tokens"
            )

    def _stops(self, prompt: Prompt) -> _Stops:
        if not prompt.messages:
            return _Stops(frozenset(), ())
        tokens: set[int] = set()
        strings: list[str] = []
        for stop in self._chat_format.render(prompt.messages).stops:
            # A stop string that begins with a control token ("<end_of_turn>\n")
            # never shows in the text, where control tokens are nothing: the
            # token stops instead.
            first = _tokenize(self._llama, stop, add_bos=False)[:1]
            if first and llama_cpp.llama_vocab_is_control(self._vocab, first[0]):
                tokens.add(first[0])
            else:
                strings.append(stop)
        return _Stops(frozenset(tokens), tuple(strings))

    def _opening(self, prompt: Prompt) -> npt.NDArray[np.intc]:
        """The tokens that every conversation of the prompt's roles opens with,
        whatever its messages say: the template's, before the first message's
        text. Found by rendering the roles with two different texts: what the
        two share (none for a raw prompt)."""
        roles = tuple(message.role for message in prompt.messages)
        if not roles:
            return np.zeros(0, dtype=np.intc)
        opening = self._openings.get(roles)
        if opening is None:
            try:
                a, b = (
                    self._chat_format.render([ChatMessage(role, text) for role in roles])
                    for text in ("a", "b")
                )
            except InvalidArgument:  # a template that wants other texts: nothing shared
                opening = np.zeros(0, dtype=np.intc)
            else:
                tokens_a = _tokenize(self._llama, a.text, add_bos=not a.has_bos)
                tokens_b = _tokenize(self._llama, b.text, add_bos=not b.has_bos)
                shared = _common_prefix(np.asarray(tokens_a, dtype=np.intc), tokens_b)
                opening = np.asarray(tokens_a[:shared], dtype=np.intc)
            self._openings[roles] = opening
        return opening

    def _position(
        self, tokens: tuple[int, ...], start: KvState | None, owner: int, public: int
    ) -> None:
        """Leave the context holding the longest prefix of `tokens` it can get
        (its own if `owner`'s, or `start`'s; of another's, only the public
        opening), short of the last token. `public`: how many of `tokens` are
        the template's opening."""
        llama = self._llama
        held = _common_prefix(llama.input_ids[: llama.n_tokens], tokens)
        if self._context_owner != owner:
            held = min(held, self._context_public)
        self._context_owner = owner
        self._context_public = public
        if (
            start is not None
            and _common_prefix(np.asarray(start.tokens, dtype=np.intc), tokens) > held
        ):
            held = self._restore(start, tokens)
        kept = min(held, len(tokens) - 1)
        if not self._truncate(kept):
            llama_cpp.llama_memory_clear(self._memory, True)
            kept = 0
        llama.n_tokens = kept

    def _truncate(self, kept: int) -> bool:
        """Drop the cells past the first `kept` tokens; False when those left
        miss some that the next token attends to."""
        if not llama_cpp.llama_memory_seq_rm(self._memory, SEQUENCE, kept, -1):
            return False  # a cache that cannot drop part of a sequence (recurrent)
        # A sliding-window cache drops the cells its window has left behind
        # (Gemma 3's beyond 512 tokens): it cannot go back to where those
        # were still in the window. Its oldest cell is -1 when it has none.
        oldest = llama_cpp.llama_memory_seq_pos_min(self._memory, SEQUENCE)
        return kept == 0 or 0 <= oldest <= max(0, kept - self._window)

    def _restore(self, state: KvState, tokens: tuple[int, ...]) -> int:
        """Restore `state`; the length of the prefix of `tokens` the context holds then."""
        llama = self._llama
        if len(state.tokens) <= llama.n_ctx() and restore_sequence(llama.ctx, state.data):
            llama.input_ids[: len(state.tokens)] = state.tokens
            llama.n_tokens = len(state.tokens)
            return _common_prefix(llama.input_ids[: llama.n_tokens], tokens)
        # Not this model's state, or one of a larger context: the job is only slower.
        _log.warning(
            "model %s: llama.cpp refused a saved state of %d tokens; evaluating them again",
            self._model,
            len(state.tokens),
        )
        llama.n_tokens = 0
        return 0

    def _prefill(self, tokens: tuple[int, ...], control: Control) -> Stop | None:
        """Evaluate `tokens` past those held, a batch at a time: a long prompt
        can be stopped between batches."""
        llama = self._llama
        for begin in range(llama.n_tokens, len(tokens), llama.n_batch):
            llama.eval(tokens[begin : begin + llama.n_batch])
            stop = control.stop_requested()
            if stop is not None:
                return stop
        return None

    def _sample(
        self, tokens: tuple[int, ...], generation: Generation, stops: _Stops, control: Control
    ) -> Outcome:
        llama = self._llama
        generated = list(generation.generated)
        text = TextStream(stops.strings)
        # Where a preempted run left its text: characters and stop strings it had begun.
        for token in generated:
            text.push(self._pieces(token))
        if len(generated) >= generation.max_tokens:
            return self._finished(generated)
        sampling = generation.sampling
        llama.set_seed(llama_cpp.LLAMA_DEFAULT_SEED if sampling.seed is None else sampling.seed)
        for token in _tokens(llama, tokens[-1], sampling):
            generated.append(token)
            if token in stops.tokens or llama_cpp.llama_vocab_is_eog(self._vocab, token):
                control.emit(text.finish(), 1)
                return self._finished(generated)
            shown = text.push(self._pieces(token))
            if text.stopped:
                control.emit(shown, 1)
                return self._finished(generated)
            if len(generated) >= generation.max_tokens:
                control.emit(shown + text.finish(), 1)
                return self._finished(generated)
            control.emit(shown, 1)
            stop = control.stop_requested()
            if stop is not None:
                return _stopped(stop, tuple(generated), self._state())
        raise AssertionError("Llama.generate ends only when its caller stops")

    def _finished(self, generated: list[int]) -> Outcome:
        return Outcome(Ending.FINISHED, tuple(generated), self._state())

    def _state(self) -> KvState:
        llama = self._llama
        return KvState(save_sequence(llama.ctx), tuple(llama.input_ids[: llama.n_tokens].tolist()))


def _tokens(llama: llama_cpp.Llama, last: int, sampling: Sampling) -> Iterator[int]:
    """The tokens sampled after evaluating `last`, each evaluated when the next is asked for."""
    return llama.generate(
        [last],
        reset=False,
        temp=sampling.temperature,
        top_k=sampling.top_k,
        top_p=sampling.top_p,
        # Only what the job asks: not llama-cpp-python's own min_p (0.05).
        min_p=0.0,
        repeat_penalty=1.0,
    )


def _stopped(stop: Stop, generated: tuple[int, ...], state: KvState | None) -> Outcome:
    if stop is Stop.CANCEL:
        return Outcome(Ending.CANCELLED, generated)
    return Outcome(Ending.PREEMPTED, generated, state)


def _common_prefix(held: npt.NDArray[np.intc], tokens: Sequence[int]) -> int:
    length = min(len(held), len(tokens))
    if length == 0:
        return 0
    differ = np.flatnonzero(held[:length] != np.asarray(tokens[:length], dtype=np.intc))
    return int(differ[0]) if differ.size else length
