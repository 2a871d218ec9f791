"""The openai backend: models served by an OpenAI-compatible HTTP server.

A catalog entry's `endpoint` is the server's base URL (`http://host:8080/v1`:
llama.cpp's server, llama-cpp-python's, vLLM); its `remote_model`, the name
requests give. Chat prompts go to POST /chat/completions, raw text to POST
/completions, both streamed as server-sent events, one `data: {json}` line a
chunk and `data: [DONE]` at the end. The server tokenizes and applies its own
chat template, so `tokenize` returns no tokens and the engine estimates them.

Each streamed chunk counts as one token: llama.cpp's servers send one a token
(a character split across tokens comes in the chunk that completes it).

A stop takes effect at the next line the server sends (while it evaluates a
long prompt, after that); the stream is then closed, which tells the server to
stop generating. A server silent for READ_TIMEOUT_S fails the generation.

The server's KV cache cannot be saved from here, so a preempted job is resumed
by sending its request again: the new output's first `len(generation.streamed)`
characters, which the caller has already, are dropped and the rest streamed.
At temperature 0, on a server that computes the same way every time, the new
output begins with exactly that text and the caller's answer is the one an
uninterrupted run would have given. Otherwise (a temperature above 0; or a
server whose greedy answer depends on the requests before, as llama-cpp-
python's does a little, see tests/fixtures/llama_server.py) the new output may
go another way: the caller's answer is then the start of the first run joined
to the rest of the second at that character count, maybe mid-word, and a
warning is logged. `generation.max_tokens` must be the job's whole budget, as
on its first run, since the streamed part is generated again.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx

from noosd.scheduler.backends.base import (
    Backend,
    Control,
    Ending,
    Generation,
    GenerationError,
    ModelLoadError,
    ModelRuntime,
    Outcome,
    Prompt,
    Stop,
)
from noosd.scheduler.core.catalog import ModelSpec

_log = logging.getLogger(__name__)

# A local or LAN server accepts a connection in milliseconds; a host that drops
# the attempt is reported down after this.
CONNECT_TIMEOUT_S = 5.0
# The longest silence accepted between two lines of an answer. The first token
# comes after the whole prompt is evaluated and, on a server that runs one
# request at a time (llama-cpp-python), after the requests queued before it:
# minutes, for a long prompt on a CPU. A server silent for longer is hung.
READ_TIMEOUT_S = 300.0
# The end of a stream, after the last chunk.
DONE = "[DONE]"
# The reasons an OpenAI-compatible server gives for an answer it completed; others
# (vLLM's "abort") say it gave up.
FINISH_REASONS = frozenset({"stop", "length", "content_filter", "tool_calls", "function_call"})
# A server's error message is passed on to the job's owner: enough to say what
# went wrong, not a whole HTML error page.
MAX_MESSAGE_CHARS = 500
_ERRNO_PREFIX = re.compile(r"^\[Errno -?\d+\]\s*")


class OpenAIBackend(Backend):
    """Models served by OpenAI-compatible endpoints; a runtime per model, no local memory."""

    def __init__(
        self,
        *,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        read_timeout_s: float = READ_TIMEOUT_S,
    ) -> None:
        self._timeout = httpx.Timeout(connect_timeout_s, read=read_timeout_s)

    def tokenize(self, spec: ModelSpec, prompt: Prompt) -> list[int]:
        return []

    def load(self, spec: ModelSpec) -> OpenAIRuntime:
        """A runtime for `spec`, once its endpoint answers GET /models.

        Raises ModelLoadError naming the endpoint and why it does not answer."""
        # The catalog names the endpoint exactly: the daemon's environment
        # (HTTP_PROXY) does not reroute it.
        client = httpx.Client(timeout=self._timeout, trust_env=False)
        try:
            _check_answers(client, spec.location)
        except BaseException:
            client.close()
            raise
        return OpenAIRuntime(spec, client)


class OpenAIRuntime(ModelRuntime):
    """A model of an endpoint; its slots share one HTTP client (a connection pool)."""

    def __init__(self, spec: ModelSpec, client: httpx.Client) -> None:
        self.spec = spec
        self._client = client

    def generate(self, slot: int, generation: Generation, control: Control) -> Outcome:
        if not 0 <= slot < self.spec.slots:
            raise ValueError(f"model {self.spec.name} has no slot {slot}")
        path, body = _request(self.spec, generation)
        endpoint = self.spec.location
        try:
            with self._client.stream("POST", _url(endpoint, path), json=body) as response:
                if not response.is_success:
                    raise GenerationError(
                        f"endpoint {endpoint} refused the request: {_http_failure(response)}"
                    )
                return self._relay(response.iter_lines(), generation.streamed, control)
        except httpx.TransportError as error:
            raise GenerationError(_transport_failure(endpoint, error, self._client)) from None

    def close(self) -> None:
        self._client.close()

    def _relay(self, lines: Iterator[str], streamed: str, control: Control) -> Outcome:
        replay = _Replay(streamed)
        try:
            return _stream(lines, replay, control, self.spec.location)
        finally:
            if replay.diverged:
                _log.warning(
                    "model %s: the output run again after a preemption differs from the "
                    "%d characters already streamed; the answer joins the two runs there",
                    self.spec.name,
                    len(streamed),
                )


@dataclass(frozen=True)
class _Chunk:
    text: str
    finish_reason: str | None


class _Replay:
    """The part of a resumed run's output that the caller has not had yet."""

    def __init__(self, streamed: str) -> None:
        self._streamed = streamed
        self._replayed = ""

    def new_text(self, text: str) -> str:
        pending = len(self._streamed) - len(self._replayed)
        self._replayed += text[:pending]
        return text[pending:]

    @property
    def diverged(self) -> bool:
        return not self._streamed.startswith(self._replayed)


def _stream(lines: Iterator[str], replay: _Replay, control: Control, endpoint: str) -> Outcome:
    """Emit the text of the stream's chunks that the caller has not had, until its end
    or a stop."""
    finish_reason: str | None = None
    for line in lines:
        stop = control.stop_requested()
        if stop is not None:
            return _stopped(stop)
        data = _event_data(line)
        if data is None:
            continue
        if data == DONE:
            break
        chunk = _parse_chunk(data, endpoint)
        text = replay.new_text(chunk.text)
        if text:
            control.emit(text, 1)
        finish_reason = chunk.finish_reason or finish_reason
    return _finished(finish_reason, endpoint)


def _url(endpoint: str, path: str) -> str:
    return endpoint.rstrip("/") + path


def _check_answers(client: httpx.Client, endpoint: str) -> None:
    try:
        response = client.get(_url(endpoint, "/models"))
    except httpx.TransportError as error:
        raise ModelLoadError(f"endpoint {endpoint} is down: {_cause(error, client)}") from None
    if not response.is_success:
        raise ModelLoadError(f"endpoint {endpoint} refused GET /models: {_http_failure(response)}")


def _request(spec: ModelSpec, generation: Generation) -> tuple[str, dict[str, object]]:
    """The path and JSON body of the request that runs `generation`."""
    sampling = generation.sampling
    body: dict[str, object] = {
        "model": spec.remote_model,
        "stream": True,
        "max_tokens": generation.max_tokens,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        # Not OpenAI's, but llama.cpp's and vLLM's servers take it.
        "top_k": sampling.top_k,
    }
    if sampling.seed is not None:
        body["seed"] = sampling.seed
    prompt = generation.prompt
    if prompt.messages:
        body["messages"] = [{"role": m.role, "content": m.content} for m in prompt.messages]
        return "/chat/completions", body
    body["prompt"] = prompt.text
    return "/completions", body


def _event_data(line: str) -> str | None:
    """The data of a server-sent event line; None for comments (pings) and other fields."""
    if not line.startswith("data:"):
        return None
    data = line.removeprefix("data:")
    return data.removeprefix(" ")


def _parse_chunk(data: str, endpoint: str) -> _Chunk:
    """The text and finish reason of a chat or text completion chunk."""
    try:
        event = json.loads(data)
    except json.JSONDecodeError:
        raise GenerationError(
            f"endpoint {endpoint} sent a chunk that is not JSON: {_clip(data)!r}"
        ) from None
    if not isinstance(event, dict):
        raise GenerationError(f"endpoint {endpoint} sent a chunk that is not an object")
    # llama.cpp's server and vLLM report a failure after the stream began this way.
    if "error" in event:
        raise GenerationError(
            f"endpoint {endpoint} failed mid-answer: {_error_message(event, data)}"
        )
    choices = event.get("choices")
    if not (isinstance(choices, list) and choices and isinstance(choices[0], dict)):
        return _Chunk("", None)  # a usage report, or a server's keep-alive
    choice = choices[0]
    delta = choice.get("delta")
    text = delta.get("content") if isinstance(delta, dict) else choice.get("text")
    reason = choice.get("finish_reason")
    return _Chunk(
        text if isinstance(text, str) else "", reason if isinstance(reason, str) else None
    )


def _finished(finish_reason: str | None, endpoint: str) -> Outcome:
    if finish_reason is None:
        # llama-cpp-python ends the stream so when the prompt overflows the
        # context, and when another request cuts it short (--interrupt_requests).
        raise GenerationError(f"endpoint {endpoint} ended the answer without finishing it")
    if finish_reason not in FINISH_REASONS:
        raise GenerationError(f"endpoint {endpoint} gave up the answer ({finish_reason})")
    return Outcome(Ending.FINISHED, ())


def _stopped(stop: Stop) -> Outcome:
    if stop is Stop.CANCEL:
        return Outcome(Ending.CANCELLED, ())
    return Outcome(Ending.PREEMPTED, (), None)


def _http_failure(response: httpx.Response) -> str:
    """`HTTP 400 Bad Request: ` and the server's message, from its JSON error body."""
    response.read()
    try:
        body: object = response.json()
    except ValueError:
        body = None
    message = _error_message(body, response.text)
    return f"HTTP {response.status_code} {response.reason_phrase}: {message}"


def _error_message(body: object, fallback: str) -> str:
    """The message of an error body: OpenAI's and llama.cpp's {"error": {"message"}},
    vLLM's {"message"}, FastAPI's {"detail"}; else `fallback`, the body's text."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, str):
            return _clip(error)
        if isinstance(error, dict):
            for key in ("message", "detail"):
                value = error.get(key)
                if isinstance(value, str):
                    return _clip(value)
    return _clip(fallback) or "no message"


def _transport_failure(endpoint: str, error: httpx.TransportError, client: httpx.Client) -> str:
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return f"endpoint {endpoint} is down: {_cause(error, client)}"
    if isinstance(error, httpx.ReadTimeout):
        return f"endpoint {endpoint} sent nothing for {client.timeout.read:g} s"
    return f"endpoint {endpoint} closed the connection mid-answer: {_cause(error, client)}"


def _cause(error: httpx.TransportError, client: httpx.Client) -> str:
    """Why a request failed, in words: "connection refused", "no answer in 300 s"."""
    if isinstance(error, httpx.ConnectTimeout):
        return f"no connection in {client.timeout.connect:g} s"
    if isinstance(error, httpx.ReadTimeout):
        return f"no answer in {client.timeout.read:g} s"
    text = _ERRNO_PREFIX.sub("", str(error))
    if not text:
        return type(error).__name__
    return text[0].lower() + text[1:]


def _clip(text: str) -> str:
    text = text.strip()
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[:MAX_MESSAGE_CHARS] + "…"
