"""`noos_method`: the decorator of every D-Bus method of a noos service."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, cast

from dbus_fast.service import dbus_method

from noos.protocol.actions import Action
from noos.protocol.errors import Busy
from noosd.runtime.authority import authorize
from noosd.runtime.caller import caller_uid, current_caller, known_caller
from noosd.runtime.calls import current_call
from noosd.runtime.errors import reported_as_dbus_errors
from noosd.runtime.fds import TAKES_FDS

P = ParamSpec("P")
# The privileged action a method declares (None: anyone may call it), kept on
# the method for the test that checks the shipped polkit actions list it.
ACTION = "__noos_action__"


def noos_method(
    name: str | None = None, *, takes_fds: int = 0, action: Action | None = None
) -> Callable[[Callable[P, Any]], Callable[P, None]]:
    """Mark a method of a `ServiceInterface` as a D-Bus method of a noos service.

    Use it as dbus-fast's `@dbus_method()`, with the same signature annotations
    (`dbus_fast.annotations`). On top, each call
    - counts against the service's bound on work in flight, and its caller's
      share of it (`CallGate`): past it the call fails at once with Busy
      (held back until the last refusal's retry_after from a connection that
      came back sooner), and once the service stops, with Unavailable;
    - owns the file descriptors that came with the call: a method that keeps
      one says how many a call may bring (`takes_fds`; more are refused before
      it runs) and takes each it keeps (`current_call().fds.take(fd)`); the
      rest are closed when the call ends. A method with no `takes_fds` sees
      them closed as soon as it is dispatched.
    - is a privileged action if it names one (`action`, from
      `noos.protocol.actions`): root may call it, anyone else only as polkit
      says (`authorize`), else PermissionDenied before the method runs;
    - reports failures as `reported_as_dbus_errors` does: noos errors by their
      org.noos.Error.* names, bugs as Internal with the traceback in the log.

    `async def` methods may take their time; a plain `def` answers at once
    (it runs in the bus's dispatch, so it must not block).
    """

    def decorate(fn: Callable[P, Any]) -> Callable[P, None]:
        member = name or fn.__name__
        if action is not None and not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{member}: a privileged method must be async (polkit is asked)")
        # dbus-fast runs a method as a task only if it is a coroutine function:
        # hence two wrappers.
        serve_call: Callable[P, Any]
        if inspect.iscoroutinefunction(fn):
            serve_async = cast(Callable[P, Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def serve_call_async(*args: P.args, **kwargs: P.kwargs) -> Any:
                call = current_call()
                try:
                    with reported_as_dbus_errors(member):
                        # Refused before asking the bus who calls, when that cannot matter.
                        call.gate.refuse_if_closed()
                        caller = await current_caller()
                        try:
                            with call.gate.admit(caller):
                                if action is not None:
                                    await authorize(await caller_uid(), action)
                                return await serve_async(*args, **kwargs)
                        except Busy as refused:
                            await call.gate.hold_refusal(caller, refused)
                            raise
                finally:
                    call.fds.close()

            serve_call = serve_call_async
        else:

            @functools.wraps(fn)
            def serve_call_sync(*args: P.args, **kwargs: P.kwargs) -> Any:
                with reported_as_dbus_errors(member), current_call().gate.admit(known_caller()):
                    return fn(*args, **kwargs)

            serve_call = serve_call_sync
        setattr(serve_call, TAKES_FDS, takes_fds)
        setattr(serve_call, ACTION, action)
        return dbus_method(name)(with_evaluated_annotations(serve_call, fn))

    return decorate


def with_evaluated_annotations(wrapper: Callable[P, Any], fn: Callable[P, Any]) -> Callable[P, Any]:
    """Give `wrapper` the signature of `fn`, its annotations evaluated.

    dbus-fast reads the D-Bus signature from the annotations; evaluated here,
    they also work in modules with `from __future__ import annotations`, where
    dbus-fast would misread `-> None`.
    """
    wrapper.__signature__ = inspect.signature(fn, eval_str=True)  # type: ignore[attr-defined]
    return wrapper
