"""Waiting on noos services in the guest without waiting on a stuck one.

Each service says how its work goes (org.noos.Service1.Health, see
noosd/runtime/health.py). A wait on what a service should do (a file found,
a job's tokens) passes `ServiceWatch(...).check` to the driver's wait: it
fails as soon as the service says it is stuck, or systemd restarted it, with
the service's own account, its threads' stacks (faulthandler, on SIGUSR1)
and its journal, instead of at the wait's timeout.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence

from noos_qemu import Machine
from noos_qemu.machine import MachineError

BUS_NAMES = {
    "index": ("org.noos.Index1", "/org/noos/Index1"),
    "memory": ("org.noos.Memory1", "/org/noos/Memory1"),
    "scheduler": ("org.noos.Scheduler1", "/org/noos/Scheduler1"),
}
HEALTH_FIELDS = ("name", "busy", "busy_s", "silent_s", "completed", "last_done", "stuck", "waiting")


def unit_of(service: str) -> str:
    return f"noosd@{service}.service"


def health(machine: Machine, service: str) -> list[dict[str, object]]:
    """The service's work loops as it reports them (empty if it does not answer)."""
    name, path = BUS_NAMES[service]
    status, output = machine.execute(
        f"busctl --json=short --timeout=30 get-property {name} {path} org.noos.Service1 Health",
        timeout=60,
    )
    if status != 0:
        return []
    return [dict(zip(HEALTH_FIELDS, loop, strict=True)) for loop in json.loads(output)["data"]]


def restarts(machine: Machine, service: str) -> int:
    shown = machine.succeed(f"systemctl show -p NRestarts --value {unit_of(service)}")
    return int(shown.strip() or 0)


def account_of(machine: Machine, service: str) -> str:
    """What the service says of itself, its threads' stacks and its journal."""
    unit = shlex.quote(unit_of(service))
    loops = "\n".join(json.dumps(loop) for loop in health(machine, service)) or "(no answer)"
    machine.execute(f"systemctl kill -s USR1 {unit}; sleep 2", timeout=60)
    journal = machine.execute(f"journalctl -u {unit} --boot --no-pager -n 150", timeout=120)[1]
    return (
        f"--- {unit}: Health ---\n{loops}\n--- {unit}: journal (stacks at the end) ---\n{journal}"
    )


# Services found stuck in this run: a later wait on one fails at once (its
# account is in the first failure's report), so that a red run ends early.
FOUND_STUCK: dict[str, str] = {}


class ServiceWatch:
    """Fails a wait early when one of `services` is stuck or was restarted."""

    def __init__(self, machine: Machine, services: Sequence[str]) -> None:
        self._machine = machine
        self._services = tuple(services)
        for service in self._services:
            if service in FOUND_STUCK:
                raise MachineError(f"noosd@{service} {FOUND_STUCK[service]} earlier in this run")
        self._restarts = {service: restarts(machine, service) for service in self._services}

    def account(self) -> str:
        return "\n".join(account_of(self._machine, service) for service in self._services)

    def check(self) -> None:
        for service in self._services:
            stuck = [loop for loop in health(self._machine, service) if loop["stuck"]]
            restarted = restarts(self._machine, service) > self._restarts[service]
            if stuck or restarted:
                why = "said it was stuck" if stuck else "was restarted by systemd"
                FOUND_STUCK[service] = why
                raise MachineError(
                    self._machine.report(
                        f"noosd@{service} {why}", account_of(self._machine, service)
                    )
                )
