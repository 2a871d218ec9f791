"""KV restore against re-prefill of the same conversation.

Runtime (the llama-cpp backend in this process, SmolLM2 135M, one slot of
one thread, the catalog's context of 2,048 tokens): for chat conversations
of about 256, 512 and 1,024 tokens, the time of `generate` to its first
token (max_tokens 1)

- from scratch: the slot holds another prompt, so the conversation is
  evaluated (prefill), then its first token sampled; that run's saved state
  is the one the other rows restore;
- from the state in RAM: the state is restored, the last prompt token
  evaluated again (for its logits) and the first token sampled;
- from the state's file, as the service pages it (`KvStore`): reading the
  file, then as from RAM. Once with the file in the page cache (just
  written), once evicted from it (fsync, then POSIX_FADV_DONTNEED): a read
  from the disk.

Prompts are tokenized beforehand (the service does it at Submit), and a
run's time ends at its first token, before the runtime saves the state it
ends with (as every run does). A second table gives the state's size and
llama.cpp's own save and restore of it (`llama_state_seq_get_data` /
`_set_data`), timed alone.

Service: `noosd scheduler` on a private dbus-daemon; a conversation's second
turn after its first, with another job run on the one slot in between (so
the slot's own context no longer holds the conversation), timed from Submit
to first Token. Three services differ only in their KV budgets: the first
turn's state kept in RAM, paged to a file (kv_ram_bytes 0), or dropped
(kv_ram_bytes and kv_disk_bytes 0: the second turn evaluates it all again).
The info's cached_tokens says how many prompt tokens the state held (whole
blocks of 64).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from noosd.scheduler.backends.base import (
    ChatMessage,
    Generation,
    KvState,
    Outcome,
    Prompt,
    Stop,
)
from noosd.scheduler.backends.llama import LlamaCppBackend, LlamaCppRuntime
from noosd.scheduler.backends.llama_native import open_llama, restore_sequence, save_sequence
from noosd.scheduler.core.catalog import ModelSpec, load_catalog
from noosd.scheduler.core.jobs import Sampling
from noosd.scheduler.storage.kvstore import KvStore
from tests.bench.support import corpora
from tests.bench.support.scheduler_bus import median_ms, range_ms, scheduler_client
from tests.bench.support.tables import print_table
from tests.fixtures.scheduler import write_catalog

SIZES = (256, 512, 1024)
REPEATS = 5
SERVICE_SIZE = 512
SERVICE_REPEATS = 5
GREEDY = Sampling(temperature=0.0)
# A prompt that shares no token with a chat conversation: it takes the slot in between.
OTHER_PROMPT = Prompt(text="Meanwhile, somewhere else entirely")
SYSTEM = "You are a helpful assistant. Keep track of what the user tells you."
FILE_TIMEOUT_S = 30.0


class FirstToken:
    """A run's control that never stops it and notes when its first token came."""

    def __init__(self) -> None:
        self.at: float | None = None

    def stop_requested(self) -> Stop | None:
        return None

    def emit(self, text: str, tokens: int) -> None:
        self.at = self.at or time.perf_counter()


def conversation(tokens: Callable[[Prompt], Sequence[int]], size: int, seed: int) -> Prompt:
    """A chat of notes told and acknowledged, of at least `size` tokens."""
    notes = iter(corpora.varied_memories(size, seed=seed))
    messages = [ChatMessage("system", SYSTEM)]
    while len(tokens(Prompt(messages=tuple(messages)))) < size:
        note = next(notes)
        messages.append(ChatMessage("user", f"Remember this: {note}."))
        messages.append(ChatMessage("assistant", f"Noted: {note}."))
    return Prompt(messages=tuple(messages))


class Runtime:
    """The backend's runtime of one slot, and runs on it timed to their first token.

    Prompts are tokenized beforehand, as the service does when a job is
    submitted; a run's time ends at its first token, before the runtime saves
    the state it ends with."""

    def __init__(self, spec: ModelSpec) -> None:
        self.backend = LlamaCppBackend()
        self.spec = spec
        self.runtime: LlamaCppRuntime = self.backend.load(spec)
        self.other = self.tokens(OTHER_PROMPT)

    def tokens(self, prompt: Prompt) -> tuple[int, ...]:
        return tuple(self.backend.tokenize(self.spec, prompt))

    def run(
        self, prompt: Prompt, tokens: tuple[int, ...], start: KvState | None = None
    ) -> tuple[float, Outcome]:
        """Seconds from now to the run's first token, and the run's outcome."""
        control = FirstToken()
        began = time.perf_counter()
        outcome = self.runtime.generate(
            0, Generation(prompt, tokens, GREEDY, max_tokens=1, owner=0, start=start), control
        )
        assert control.at is not None, "the run made no token"
        return control.at - began, outcome

    def take_slot(self) -> None:
        """Run another prompt, so that the slot's context holds none of the next one's tokens."""
        self.run(OTHER_PROMPT, self.other)


@contextlib.contextmanager
def paged(store: KvStore, state: KvState, *, cold: bool) -> Iterator[str]:
    """`state` put in `store` and paged out to its file (`cold`: out of the
    page cache too); its id."""
    store.put("measured", state)
    store.page_out("measured")
    deadline = time.monotonic() + FILE_TIMEOUT_S
    while not (files := list(store.directory.glob("*.kv"))):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no state file in {store.directory} after {FILE_TIMEOUT_S} s")
        time.sleep(0.001)
    if cold:
        descriptor = os.open(files[0], os.O_RDONLY)
        try:
            os.fsync(descriptor)
            os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(descriptor)
    try:
        yield "measured"
    finally:
        store.drop("measured")


class SizeFigures:
    def __init__(self, tokens: int) -> None:
        self.tokens = tokens
        self.state_bytes = 0
        self.first_token: dict[str, list[float]] = {
            "prefill": [],
            "ram": [],
            "file": [],
            "cold file": [],
        }
        self.save: list[float] = []
        self.restore: list[float] = []


def measure_runtime(spec: ModelSpec, work: Path) -> list[SizeFigures]:
    runtime = Runtime(spec)
    store = KvStore(work / "kv")
    prompts = [conversation(runtime.tokens, size, seed=size) for size in SIZES]
    tokens = [runtime.tokens(prompt) for prompt in prompts]
    figures = [SizeFigures(len(prompt_tokens)) for prompt_tokens in tokens]
    runtime.take_slot()  # warm-up
    for n in range(REPEATS):
        print(f"  runtime: round {n + 1}/{REPEATS}", flush=True)
        for prompt, prompt_tokens, size in zip(prompts, tokens, figures, strict=True):
            runtime.take_slot()
            elapsed, outcome = runtime.run(prompt, prompt_tokens)
            size.first_token["prefill"].append(elapsed)
            state = outcome.state
            assert state is not None and state.tokens == prompt_tokens
            size.state_bytes = state.size
            runtime.take_slot()
            size.first_token["ram"].append(runtime.run(prompt, prompt_tokens, state)[0])
            for row, cold in (("file", False), ("cold file", True)):
                with paged(store, state, cold=cold) as paged_id:
                    runtime.take_slot()
                    began = time.perf_counter()
                    from_file = store.get(paged_id)
                    read = time.perf_counter() - began
                    # The same object: still in RAM, the file's writer not quite done.
                    assert from_file is not state, "the state was read from RAM"
                    elapsed, _ = runtime.run(prompt, prompt_tokens, from_file)
                    size.first_token[row].append(read + elapsed)
    store.close()
    runtime.runtime.close()
    measure_native(spec, tokens, figures)
    return figures


def measure_native(
    spec: ModelSpec, tokens: list[tuple[int, ...]], figures: list[SizeFigures]
) -> None:
    """llama.cpp's save and restore of each conversation's state, alone."""
    llama = open_llama(
        spec.location,
        n_ctx=spec.context_length,
        n_threads=spec.threads,
        n_threads_batch=spec.threads,
    )
    for prompt_tokens, size in zip(tokens, figures, strict=True):
        llama.n_tokens = 0  # forget the previous prompt, as Llama.reset() (untyped) does
        llama.eval(prompt_tokens)
        for _ in range(REPEATS):
            began = time.perf_counter()
            data = save_sequence(llama.ctx)
            size.save.append(time.perf_counter() - began)
            began = time.perf_counter()
            if not restore_sequence(llama.ctx, data):
                raise AssertionError("llama.cpp refused its own state")
            size.restore.append(time.perf_counter() - began)
    llama.close()


# The services' KV budgets: where the first turn's state is when the second comes.
SERVICES = {
    "state in RAM": {},
    "state paged to a file": {"kv_ram_bytes": "0"},
    "state dropped: prefill again": {"kv_ram_bytes": "0", "kv_disk_bytes": "0"},
}


class TurnFigures:
    def __init__(self) -> None:
        self.seen: list[float] = []
        self.reported: list[float] = []
        self.cached: list[int] = []
        self.prompt_tokens: list[int] = []


async def measure_service(tokens: Callable[[Prompt], Sequence[int]]) -> dict[str, TurnFigures]:
    figures = {name: TurnFigures() for name in SERVICES}
    async with contextlib.AsyncExitStack() as services:
        clients = {
            name: await services.enter_async_context(scheduler_client(**settings))
            for name, settings in SERVICES.items()
        }
        for client in clients.values():  # the first job loads the model
            await client.finished(await client.submit(prompt=OTHER_PROMPT.text, max_tokens=1))
        for n in range(SERVICE_REPEATS):
            print(f"  service: round {n + 1}/{SERVICE_REPEATS}", flush=True)
            for name, client in clients.items():
                first = conversation(tokens, SERVICE_SIZE, seed=1000 * (n + 1))
                messages = [[m.role, m.content] for m in first.messages]
                answer = await client.finished(
                    await client.submit(messages=messages, max_tokens=8, temperature=0.0)
                )
                await client.finished(
                    await client.submit(prompt=OTHER_PROMPT.text, max_tokens=8, temperature=0.0)
                )
                messages += [["assistant", answer.info["text"]], ["user", "What did I tell you?"]]
                job = await client.submit(messages=messages, max_tokens=8, temperature=0.0)
                turn = figures[name]
                turn.seen.append(await client.first_token(job))
                info = (await client.finished(job)).info
                turn.reported.append(info["time_to_first_token_s"])
                turn.cached.append(info["cached_tokens"])
                turn.prompt_tokens.append(info["prompt_tokens"])
    return figures


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="noos-bench-kv-") as work_dir:
        work = Path(work_dir)
        spec = load_catalog(write_catalog(work / "models.d")).get("smollm2")
        sizes = measure_runtime(spec, work)
        tokenizer = LlamaCppBackend()
        turns = asyncio.run(measure_service(lambda prompt: tokenizer.tokenize(spec, prompt)))

    rows = []
    for size in sizes:
        prefill = statistics.median(size.first_token["prefill"])
        rows.append(
            (
                f"{size.tokens}",
                *(
                    median_ms(size.first_token[row])
                    for row in ("prefill", "ram", "file", "cold file")
                ),
                f"{prefill / statistics.median(size.first_token['ram']):.1f}",
                f"{prefill / statistics.median(size.first_token['cold file']):.1f}",
            )
        )
    print_table(
        f"To the first token of a conversation, runtime in-process, SmolLM2 135M Q4_1, "
        f"1 thread, median of {REPEATS} (ms)",
        ("tokens", "prefill", "restore: RAM", "file", "cold file", "x RAM", "x cold"),
        rows,
    )
    print_table(
        "",
        ("tokens", "state MiB", "KiB/token", "save ms", "restore ms"),
        [
            (
                f"{size.tokens}",
                f"{size.state_bytes / 2**20:.1f}",
                f"{size.state_bytes / size.tokens / 2**10:.1f}",
                f"{statistics.median(size.save) * 1e3:.1f}",
                f"{statistics.median(size.restore) * 1e3:.1f}",
            )
            for size in sizes
        ],
    )
    dropped = statistics.median(turns["state dropped: prefill again"].seen)
    print_table(
        f"A conversation's second turn through noosd scheduler, another job in between, "
        f"{SERVICE_REPEATS} conversations of about {SERVICE_SIZE} tokens",
        ("", "TTFT ms", "range", "service's ms", "cached tokens", "prompt tokens", "speed-up"),
        [
            (
                name,
                median_ms(turn.seen),
                range_ms(turn.seen),
                median_ms(turn.reported),
                f"{statistics.median(turn.cached):.0f}",
                f"{statistics.median(turn.prompt_tokens):.0f}",
                f"{dropped / statistics.median(turn.seen):.1f}x",
            )
            for name, turn in turns.items()
        ],
    )


if __name__ == "__main__":
    main()
