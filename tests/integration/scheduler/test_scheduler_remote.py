"""org.noos.Scheduler1 with a remote model: a real llama_cpp.server on 127.0.0.1,
declared in the catalog as an OpenAI-compatible endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from noos.bus import Connection
from tests.fixtures.llama_server import LlamaServer, chat_model
from tests.fixtures.noosd_process import NoosdProcess
from tests.fixtures.scheduler import running_scheduler
from tests.integration.scheduler.test_scheduler_service import Client


@pytest.fixture(scope="module")
def server() -> Iterator[LlamaServer]:
    with LlamaServer(chat_model()) as server:
        yield server


@pytest.fixture(scope="module")
def remote_scheduler(
    bus_address: str, tmp_path_factory: pytest.TempPathFactory, server: LlamaServer
) -> Iterator[NoosdProcess]:
    state = tmp_path_factory.mktemp("scheduler-remote")
    remote_model = f"""
[[model]]
name = "remote"
backend = "openai"
endpoint = "{server.base_url}"
remote_model = "{server.model_name}"
context_length = 2048
ram_bytes = 0
"""
    with running_scheduler(bus_address, state, remote_model) as process:
        yield process


@pytest_asyncio.fixture
async def client(remote_scheduler: NoosdProcess, bus_address: str) -> AsyncIterator[Client]:
    async with await Connection.open(bus_address) as connection:
        yield Client(connection)


async def test_a_remote_model_answers_through_the_scheduler_as_a_local_one_does(
    client: Client,
) -> None:
    question = {"messages": [["user", "What is the capital of France?"]], "temperature": 0.0}
    remote = await client.submit(**question, model="remote", max_tokens=12)
    local = await client.submit(**question, model="smollm2", max_tokens=12)

    remote_info, local_info = await client.wait(remote), await client.wait(local)

    assert remote_info["state"] == "done", remote_info
    assert "".join(client.tokens[remote]) == remote_info["text"]
    # The same weights behind both: greedy decoding starts the same answer (the
    # two runtimes evaluate in different batches, so the last digits of the
    # logits, and later tokens, may differ).
    remote_words, local_words = remote_info["text"].split(), local_info["text"].split()
    assert remote_words[:2] == local_words[:2], (remote_words, local_words)
    assert 0 < remote_info["tokens"] <= 12
    models = dict(await client.property("Models"))
    assert models["remote"]["backend"].value == "openai"


async def test_a_remote_job_can_be_cancelled(client: Client) -> None:
    job = await client.submit(
        messages=[["user", "Count to five hundred."]], model="remote", max_tokens=300
    )
    await client.until(job, lambda info: info["tokens"] >= 2)
    await client.cancel(job)
    assert (await client.wait(job))["state"] == "cancelled"
