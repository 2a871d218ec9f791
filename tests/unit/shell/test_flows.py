"""The flows' one guard against failing services, and flows meeting services that are down."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from textual.app import App, ComposeResult
from textual.content import Content

from noos import InvalidArgument
from noos_shell import flows
from noos_shell.flows import Flow, guarded
from noos_shell.journal import Journal
from noos_shell.services import ServiceDown, Services
from noos_shell.widgets.transcript import AnswerBlock, Notice, Transcript
from tests.fixtures.private_bus import PrivateBus
from tests.unit.shell.screen import wait_until

SIZE = (80, 24)


class TranscriptApp(App[None]):
    """A transcript alone, for flows to report to."""

    def compose(self) -> ComposeResult:
        yield Transcript()


@pytest.fixture(scope="module")
def empty_bus() -> Iterator[str]:
    """A bus with no noos service on it."""
    bus = PrivateBus()
    yield bus.address
    bus.stop()


def notices(app: App[None]) -> list[tuple[str, str]]:
    """Each notice of the transcript: its text and its style."""
    shown = []
    for notice in app.query(Notice):
        content = notice.render()
        assert isinstance(content, Content)
        shown.append((content.plain, str(content.spans[0].style)))
    return shown


@guarded()
async def fails_with(flow: Flow, error: BaseException) -> str:
    raise error


@guarded(quiet=True)
async def fails_quietly(flow: Flow, error: BaseException) -> str:
    raise error


@guarded()
async def succeeds(flow: Flow, value: str) -> str:
    await flow.transcript.add(Notice(value))
    return value


async def test_the_guard_reports_each_service_failure_once_and_ends_the_flow(
    empty_bus: str,
) -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE):
        flow = Flow(Services(lambda _: None, empty_bus), app.query_one(Transcript), Journal())
        assert await succeeds(flow, "fine") == "fine"
        assert await fails_with(flow, ServiceDown("memory is down: gone")) is None
        assert await fails_with(flow, InvalidArgument("a query needs words")) is None
        assert notices(app) == [
            ("fine", "dim"),
            ("memory is down: gone (plain commands still run)", "red"),
            ("a query needs words", "red"),
        ]


async def test_a_quiet_guard_says_nothing(empty_bus: str) -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE):
        flow = Flow(Services(lambda _: None, empty_bus), app.query_one(Transcript), Journal())
        assert await fails_quietly(flow, ServiceDown("memory is down")) is None
        assert await fails_quietly(flow, InvalidArgument("bad")) is None
        assert notices(app) == []


@pytest.mark.parametrize("error", [ValueError("a bug"), asyncio.CancelledError()])
async def test_the_guard_lets_everything_else_pass(empty_bus: str, error: BaseException) -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE):
        flow = Flow(Services(lambda _: None, empty_bus), app.query_one(Transcript), Journal())
        with pytest.raises(type(error)):
            await fails_with(flow, error)
        assert notices(app) == []


async def test_flows_with_the_services_down_say_so_and_go_on(empty_bus: str) -> None:
    app = TranscriptApp()
    async with app.run_test(size=SIZE) as pilot:
        services = Services(lambda _: None, empty_bus)
        await services.start()  # nobody on the bus: every service is down
        try:
            flow = Flow(services, app.query_one(Transcript), Journal())
            await flows.find(flow, "the glacier notes")
            await flows.remember(flow, "the wifi password is in the drawer")
            await flows.forget_memory(flow, "some-id")
            await flows.answer(flow, "what is the capital of France?")
            await wait_until(pilot, lambda: bool(app.query(AnswerBlock)))
        finally:
            await services.stop()
        shown = notices(app)
        assert [text.split(" is down")[0] for text, _ in shown] == ["index", "memory", "memory"]
        assert all(text.endswith("(plain commands still run)") for text, _ in shown)
        assert {style for _, style in shown} == {"red"}
        # An answer fails in its block: the question without context still went
        # to the scheduler, which is down too.
        (block,) = app.query(AnswerBlock)
        assert block.failure is not None
        assert block.failure.startswith("scheduler is down")
        assert block.failure.endswith("(plain commands still run)")
