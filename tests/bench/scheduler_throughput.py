"""Generation speed through the scheduler against llama-cpp-python in-process.

- noos: `noosd scheduler` on a private dbus-daemon, SmolLM2 135M with the
  catalog's defaults (one slot, one thread), a raw prompt at temperature 0.
  Tokens per second as the caller sees them (the tokens after the first over
  the time from the first Token signal to Finished), and the service's own
  tokens_per_s (the same span, from its first token to the job's end).
- baseline: `llama_cpp.Llama` in this process with the same thread count and
  context size, `create_completion(stream=True)` of the same prompt and
  max_tokens: the tokens after the first over the time from the first chunk
  to the last.

The prompt counts ("1, 2, 3, ..."), which SmolLM2 goes on doing past
MAX_TOKENS at temperature 0, so both sides generate exactly MAX_TOKENS
tokens: the benchmark checks that, and that both wrote the same text. The
sides take turns, in the order noos, baseline, baseline, noos, ..., so that
drift on the shared machine and the order within a round hit both alike; each
round's ratio is taken too, its median being the least sensitive to drift.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Iterator
from typing import cast

import llama_cpp
from llama_cpp.llama_types import CreateCompletionStreamResponse

from tests.bench.support.scheduler_bus import JobClient, scheduler_client
from tests.bench.support.tables import print_table, verdict
from tests.fixtures.scheduler import smollm2

PROMPT = "1, 2, 3, 4, 5, 6, 7, 8,"
MAX_TOKENS = 200
ROUNDS = 10
THREADS = 1
CONTEXT = 2048
GOAL_RATIO = 0.95


class Rates:
    def __init__(self) -> None:
        self.seen: list[float] = []
        self.reported: list[float] = []
        self.texts: set[str] = set()


async def through_scheduler(client: JobClient, rates: Rates) -> None:
    job = await client.submit(prompt=PROMPT, max_tokens=MAX_TOKENS, temperature=0.0)
    times = await client.finished(job)
    if times.info["tokens"] != MAX_TOKENS:
        raise AssertionError(f"the scheduler made {times.info['tokens']} tokens, not {MAX_TOKENS}")
    rates.seen.append(times.tokens_per_s)
    rates.reported.append(times.info["tokens_per_s"])
    rates.texts.add(times.info["text"])


def in_process(llama: llama_cpp.Llama, rates: Rates) -> None:
    pieces = []
    first = last = 0.0
    finish_reason = None
    # The scheduler's sampling: greedy, nothing else.
    stream = llama.create_completion(
        PROMPT, max_tokens=MAX_TOKENS, temperature=0.0, min_p=0.0, repeat_penalty=1.0, stream=True
    )
    for chunk in cast(Iterator[CreateCompletionStreamResponse], stream):
        last = time.perf_counter()
        first = first or last
        (choice,) = chunk["choices"]
        pieces.append(choice["text"])
        finish_reason = choice["finish_reason"]
    if finish_reason != "length":
        raise AssertionError(f"llama-cpp-python stopped before {MAX_TOKENS} tokens")
    rates.seen.append((MAX_TOKENS - 1) / (last - first))
    rates.texts.add("".join(pieces))


async def measure() -> tuple[Rates, Rates]:
    llama = llama_cpp.Llama(
        str(smollm2()),
        n_threads=THREADS,
        n_threads_batch=THREADS,
        n_ctx=CONTEXT,
        verbose=False,
    )
    scheduler, baseline = Rates(), Rates()
    async with scheduler_client() as client:
        # Warm-ups: the scheduler loads the model on its first job.
        await through_scheduler(client, Rates())
        in_process(llama, Rates())
        for n in range(ROUNDS):
            print(f"  round {n + 1}/{ROUNDS}", flush=True)
            if n % 2 == 0:
                await through_scheduler(client, scheduler)
                in_process(llama, baseline)
            else:
                in_process(llama, baseline)
                await through_scheduler(client, scheduler)
    llama.close()
    return scheduler, baseline


def main() -> None:
    scheduler, baseline = asyncio.run(measure())
    base = statistics.median(baseline.seen)
    rows = []
    for label, samples in (
        ("baseline: llama-cpp-python in-process, create_completion", baseline.seen),
        ("noosd scheduler, seen by the client (first Token to Finished)", scheduler.seen),
        ("  its own tokens_per_s", scheduler.reported),
    ):
        rows.append(
            (
                label,
                f"{statistics.median(samples):.1f}",
                f"{min(samples):.1f}-{max(samples):.1f}",
                f"{statistics.median(samples) / base:.3f}",
            )
        )
    paired = statistics.median(s / b for s, b in zip(scheduler.seen, baseline.seen, strict=True))
    print_table(
        f"Generation speed, SmolLM2 135M Q4_1, {THREADS} thread, {MAX_TOKENS} tokens at "
        f"temperature 0, {ROUNDS} runs a side",
        ("", "median tok/s", "range", "/baseline"),
        rows,
    )
    same = len(scheduler.texts | baseline.texts) == 1
    print(
        f"each round's ratio, median: {paired:.3f}; "
        f"both sides wrote {'the same text' if same else 'DIFFERENT texts'}"
    )
    ratio = statistics.median(scheduler.seen) / base
    print_table(
        "",
        ("goal", "measured", "verdict"),
        [(f"tokens/s >= {GOAL_RATIO}x baseline", f"{ratio:.3f}x", verdict(ratio >= GOAL_RATIO))],
    )


if __name__ == "__main__":
    main()
