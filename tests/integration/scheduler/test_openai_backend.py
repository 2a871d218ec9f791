"""The openai backend against a real OpenAI-compatible server (llama-cpp-python's)."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from noosd.scheduler.backends.base import (
    ChatMessage,
    Ending,
    Generation,
    GenerationError,
    ModelLoadError,
    Outcome,
    Prompt,
    Stop,
)
from noosd.scheduler.backends.openai import OpenAIBackend, OpenAIRuntime
from noosd.scheduler.core.catalog import Backend as BackendKind
from noosd.scheduler.core.catalog import ChatTemplate, ModelSpec, TemplateSource
from noosd.scheduler.core.jobs import Priority, Sampling
from tests.fixtures.llama_server import LlamaServer, chat_model, free_port
from tests.fixtures.stalling_endpoint import StallingEndpoint

GREEDY = Sampling(temperature=0.0)
HELLO = Prompt(messages=(ChatMessage("user", "Say hello in one short sentence."),))
STORY = Prompt(messages=(ChatMessage("user", "Write a long story about a dragon."),))
# A base-model style prompt the model continues for as long as it is let.
COUNTING = Prompt(text="1, 2, 3, 4, 5,")
# A generation said to end at once ends within this: a chunk or two and a new
# connection, where an uncancelled run of COUNTING takes seconds.
STOP_LATENCY_S = 2.0


class RecordingControl:
    """The engine's side of a generation: records the text and, once `after`
    chunks came, asks for `stop` (None: none) and runs `then` (on the runtime's thread)."""

    def __init__(
        self,
        after: int | None = None,
        stop: Stop | None = Stop.CANCEL,
        then: Callable[[], None] = lambda: None,
    ) -> None:
        self.chunks: list[str] = []
        self.tokens = 0
        self.stop: Stop | None = None
        self.stopped_at: float | None = None
        self._after = after
        self._stop = stop
        self._then = then

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def stop_requested(self) -> Stop | None:
        return self.stop

    def emit(self, text: str, tokens: int) -> None:
        self.chunks.append(text)
        self.tokens += tokens
        if len(self.chunks) == self._after:
            self.stop = self._stop
            self.stopped_at = time.monotonic()
            self._then()


def remote_spec(endpoint: str, remote_model: str = "smollm2") -> ModelSpec:
    return ModelSpec(
        name="remote-smollm2",
        backend=BackendKind.OPENAI,
        location=endpoint,
        context_length=2048,
        chat_template=ChatTemplate(TemplateSource.EMBEDDED),
        ram_bytes=0,
        vram_bytes=0,
        load_seconds=0.0,
        priority=Priority.NORMAL,
        pinned=False,
        slots=2,
        threads=0,
        default=False,
        remote_model=remote_model,
    )


def run(
    runtime: OpenAIRuntime,
    prompt: Prompt,
    max_tokens: int,
    control: RecordingControl | None = None,
    streamed: str = "",
) -> tuple[Outcome, RecordingControl]:
    control = control or RecordingControl()
    generation = Generation(
        prompt=prompt, tokens=(), sampling=GREEDY, max_tokens=max_tokens, owner=0, streamed=streamed
    )
    return runtime.generate(0, generation, control), control


def prime_cache(runtime: OpenAIRuntime, prompt: Prompt) -> None:
    """Leave the server's cache as each greedy run of `prompt` compared must find
    it: after a request of the same prompt (see tests/fixtures/llama_server.py)."""
    run(runtime, prompt, max_tokens=4)


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaServer]:
    with LlamaServer(chat_model(), model_name="smollm2") as server:
        yield server


@pytest.fixture(scope="module")
def runtime(server: LlamaServer) -> Iterator[OpenAIRuntime]:
    runtime = OpenAIBackend().load(remote_spec(server.base_url, server.model_name))
    yield runtime
    runtime.close()


def test_chat_streams_text_and_finishes(runtime: OpenAIRuntime) -> None:
    outcome, control = run(runtime, HELLO, max_tokens=24)

    assert outcome == Outcome(Ending.FINISHED, ())
    assert len(control.chunks) > 1
    assert control.tokens == len(control.chunks)
    assert control.text.strip()


def test_raw_text_is_continued(runtime: OpenAIRuntime) -> None:
    outcome, control = run(runtime, Prompt(text="The capital of France is"), max_tokens=4)

    assert outcome.ending is Ending.FINISHED
    assert control.text.startswith(" Paris")


def test_max_tokens_bounds_the_answer(runtime: OpenAIRuntime) -> None:
    outcome, control = run(runtime, STORY, max_tokens=5)

    assert outcome.ending is Ending.FINISHED
    assert 1 <= control.tokens <= 5


def test_temperature_zero_gives_the_same_text_twice(runtime: OpenAIRuntime) -> None:
    prime_cache(runtime, STORY)
    _, first = run(runtime, STORY, max_tokens=24)
    _, second = run(runtime, STORY, max_tokens=24)

    assert first.text
    assert second.text == first.text


def test_cancel_ends_the_generation_and_the_servers_work(runtime: OpenAIRuntime) -> None:
    # Uncancelled, 1500 tokens take the server several seconds.
    outcome, control = run(runtime, COUNTING, max_tokens=1500, control=RecordingControl(3))
    returned_at = time.monotonic()

    assert outcome == Outcome(Ending.CANCELLED, ())
    assert len(control.chunks) == 3
    assert control.stopped_at is not None
    assert returned_at - control.stopped_at < STOP_LATENCY_S
    # The server, which runs one request at a time, stopped generating for the
    # closed stream: the next request does not wait behind it.
    started = time.monotonic()
    run(runtime, COUNTING, max_tokens=2)
    assert time.monotonic() - started < STOP_LATENCY_S


def test_a_preempted_generation_resumes_where_it_stopped(runtime: OpenAIRuntime) -> None:
    prime_cache(runtime, STORY)
    _, uninterrupted = run(runtime, STORY, max_tokens=24)

    preempted, before = run(
        runtime, STORY, max_tokens=24, control=RecordingControl(6, Stop.PREEMPT)
    )
    finished, after = run(runtime, STORY, max_tokens=24, streamed=before.text)

    assert preempted == Outcome(Ending.PREEMPTED, (), None)
    assert finished.ending is Ending.FINISHED
    assert before.text and after.text
    assert before.text + after.text == uninterrupted.text
    assert before.tokens + after.tokens == uninterrupted.tokens


def test_a_resume_that_goes_another_way_joins_the_runs_and_warns(
    runtime: OpenAIRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    prime_cache(runtime, STORY)
    _, full = run(runtime, STORY, max_tokens=24)
    with caplog.at_level(logging.WARNING, logger="noosd.scheduler.backends.openai"):
        _, rest = run(runtime, STORY, max_tokens=24, streamed="~" * 10)

    assert rest.text == full.text[10:]
    assert "differs from the 10 characters already streamed" in caplog.text


def test_slots_share_the_endpoint(runtime: OpenAIRuntime) -> None:
    outcomes: dict[int, Outcome] = {}
    controls = {slot: RecordingControl() for slot in (0, 1)}

    def generate(slot: int) -> None:
        generation = Generation(prompt=HELLO, tokens=(), sampling=GREEDY, max_tokens=8, owner=0)
        outcomes[slot] = runtime.generate(slot, generation, controls[slot])

    threads = [threading.Thread(target=generate, args=(slot,)) for slot in controls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {slot: Outcome(Ending.FINISHED, ()) for slot in controls}
    assert all(control.text for control in controls.values())


def test_load_fails_on_a_closed_port() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/v1"

    with pytest.raises(
        ModelLoadError, match=re.escape(f"endpoint {endpoint} is down: connection refused")
    ):
        OpenAIBackend().load(remote_spec(endpoint))


def test_load_fails_on_an_error_status(server: LlamaServer) -> None:
    endpoint = server.base_url.replace("/v1", "/v2")

    with pytest.raises(
        ModelLoadError, match=re.escape(f"endpoint {endpoint} refused GET /models: HTTP 404")
    ):
        OpenAIBackend().load(remote_spec(endpoint))


def test_load_fails_on_an_endpoint_that_never_answers() -> None:
    # The kernel completes the connection to a listening socket; nobody reads it.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        endpoint = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"

        with pytest.raises(ModelLoadError, match=r"is down: no answer in 0\.2 s"):
            OpenAIBackend(read_timeout_s=0.2).load(remote_spec(endpoint))


def test_a_generation_the_endpoint_never_answers_times_out() -> None:
    endpoint = StallingEndpoint()
    runtime = OpenAIBackend(read_timeout_s=0.2).load(remote_spec(endpoint.base_url))
    try:
        with pytest.raises(GenerationError, match=r"sent nothing for 0\.2 s"):
            run(runtime, HELLO, max_tokens=4)
    finally:
        runtime.close()
        endpoint.close()


def test_a_server_dying_mid_answer_fails_the_generation() -> None:
    with LlamaServer(chat_model()) as doomed:
        runtime = OpenAIBackend().load(remote_spec(doomed.base_url))
        try:
            with pytest.raises(GenerationError, match="closed the connection mid-answer"):
                run(
                    runtime,
                    COUNTING,
                    max_tokens=1500,
                    control=RecordingControl(1, stop=None, then=doomed.kill),
                )
            with pytest.raises(GenerationError, match="is down: connection refused"):
                run(runtime, COUNTING, max_tokens=4)
        finally:
            runtime.close()


def test_a_rejected_request_fails_with_the_servers_message(runtime: OpenAIRuntime) -> None:
    prompt = Prompt(messages=(ChatMessage("wizard", "Say hello."),))

    with pytest.raises(GenerationError, match="refused the request: HTTP 500") as failure:
        run(runtime, prompt, max_tokens=4)
    assert "Input should be 'user'" in str(failure.value)


def test_a_prompt_beyond_the_context_fails(runtime: OpenAIRuntime) -> None:
    # llama-cpp-python accepts the request, then ends the stream without a chunk.
    too_long = Prompt(text="word " * 3000)

    with pytest.raises(GenerationError, match="ended the answer without finishing it"):
        run(runtime, too_long, max_tokens=4)
