"""What every flow works with, and the one guard against failing services."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Concatenate, ParamSpec, TypeVar

from noos import NoosError
from noos_shell.journal import Journal
from noos_shell.services import ServiceDown, Services
from noos_shell.widgets.transcript import Notice, Transcript

P = ParamSpec("P")
T = TypeVar("T")

# What a service's failure raises out of `Services`: down or too slow, or an
# error of its own (a bad argument, a job that failed).
SERVICE_FAILURES = (ServiceDown, NoosError)


@dataclass(frozen=True)
class Flow:
    """What a flow may touch: the services, the transcript it reports to, and
    the session's journal (what of it goes to memory)."""

    services: Services
    transcript: Transcript
    journal: Journal
    # False for a line kept out of memory (it started with a space): nothing
    # of it is noted, not even as the failure a later fix would solve.
    noted: bool = True


# A flow of an intent: it is given the intent's text.
IntentFlow = Callable[[Flow, str], Awaitable[None]]


def failure_text(error: Exception) -> str:
    """A service's failure, for people; a service down leaves the plain shell working."""
    suffix = " (plain commands still run)" if isinstance(error, ServiceDown) else ""
    return f"{error}{suffix}"


def guarded(
    *, quiet: bool = False
) -> Callable[
    [Callable[Concatenate[Flow, P], Awaitable[T]]],
    Callable[Concatenate[Flow, P], Awaitable[T | None]],
]:
    """The flow, with a service's failure anywhere in it ending it: reported
    in the transcript as a red notice, or `quiet`ly for what the user did not
    ask for (a hint, the session's notes). The guarded flow then returns None.
    Anything else, cancellation (Ctrl+C) included, passes."""

    def guard(
        flow_function: Callable[Concatenate[Flow, P], Awaitable[T]],
    ) -> Callable[Concatenate[Flow, P], Awaitable[T | None]]:
        @functools.wraps(flow_function)
        async def run(flow: Flow, /, *args: P.args, **kwargs: P.kwargs) -> T | None:
            try:
                return await flow_function(flow, *args, **kwargs)
            except SERVICE_FAILURES as error:
                if not quiet:
                    await flow.transcript.add(Notice(failure_text(error), "red"))
                return None

        return run

    return guard
