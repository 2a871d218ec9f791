"""org.noos.Scheduler1: a thin D-Bus facade over the engine.

The scheduler at /org/noos/Scheduler1 takes jobs (`Submit`) and lists the
models; each job is an object of its own, /org/noos/Scheduler1/jobs/<id>,
with interface org.noos.Scheduler1.Job (`Info`, `Wait`, `Cancel`, `Watch`).
A job is its owner's: only they and root read or cancel it, and its signals
(`Token`, `Finished`) go only to the connection that submitted it and those
of its owner that called `Watch` — a broadcast would show every user's
answers to everyone on the system bus.

Submit's request (`a{sv}`, so busctl users give only what they need):
`messages` (a(ss): role, content) or `prompt` (s: raw text, for base
models); `model` (s, default "default"); `priority` (s: interactive,
normal, batch; the model's class if absent); `max_tokens` (i, default 256);
`temperature`, `top_p` (d); `top_k` (i); `seed` (x); `stream_fd` (h: the
text is also written to this pipe as it is made, and the pipe closed at the
end).

A job's info (`Info`, `Wait`, `Finished`): id, owner, model, priority, state,
text, tokens, prompt_tokens, cached_tokens (prompt tokens a saved KV state
held: not evaluated again), max_tokens, submitted_at (Unix time), and when
known queued_s, time_to_first_token_s, tokens_per_s, reason (of a failure).

`Accelerators` lists the PCI display devices (a(sa{sv}): PCI slot, details):
vendor_id, device_id, class (s: "0x1234", "0x1111", "0x030000"), vendor (s),
driver (s, empty when none is bound), drm_nodes (as), usable (b: models run
on it), why (s: why it is usable, or not), vram_bytes (t), sys_path (s).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

from dbus_fast import Message, MessageType, PropertyAccess, Variant
from dbus_fast.annotations import (
    DBusBool,
    DBusDouble,
    DBusObjectPath,
    DBusSignature,
    DBusStr,
    DBusUInt32,
    DBusUInt64,
)
from dbus_fast.service import ServiceInterface, dbus_property, dbus_signal

from noos.protocol.errors import InvalidArgument, NotFound, PermissionDenied
from noosd.runtime import caller_uid, current_call, noos_method, options_of
from noosd.scheduler.accelerators import Accelerator
from noosd.scheduler.backends.base import ChatMessage, Prompt
from noosd.scheduler.engine import Engine, ModelView
from noosd.scheduler.jobs import DEFAULT_MODEL, ROOT_UID, JobId, Priority, Sampling
from noosd.scheduler.records import JobRecord, JobView

INTERFACE_NAME = "org.noos.Scheduler1"
JOB_INTERFACE_NAME = "org.noos.Scheduler1.Job"
OBJECT_PATH = "/org/noos/Scheduler1"
JOBS_PATH = f"{OBJECT_PATH}/jobs"

VariantDict = Annotated[dict[str, Variant], DBusSignature("a{sv}")]
ObjectPaths = Annotated[list[str], DBusSignature("ao")]
StringList = Annotated[list[str], DBusSignature("as")]
ModelList = Annotated[list[tuple[str, dict[str, Variant]]], DBusSignature("a(sa{sv})")]
AcceleratorList = Annotated[list[tuple[str, dict[str, Variant]]], DBusSignature("a(sa{sv})")]

REQUEST_KEYS = {
    "messages": "a(ss)",
    "prompt": "s",
    "model": "s",
    "priority": "s",
    "max_tokens": "i",
    "temperature": "d",
    "top_p": "d",
    "top_k": "i",
    "seed": "x",
    "stream_fd": "h",
}
DEFAULT_MAX_TOKENS = 256
# The properties whose changes are announced (the shell's status panel).
ANNOUNCED = ("Models", "Queued", "Running", "Resident")


def job_path(job: JobId) -> str:
    return f"{JOBS_PATH}/{job}"


def job_of(path: str) -> JobId:
    prefix = f"{JOBS_PATH}/"
    if not path.startswith(prefix) or not path[len(prefix) :].isdigit():
        raise NotFound(f"{path} is not a job")
    return JobId(int(path[len(prefix) :]))


def prompt_of(request: Mapping[str, Any]) -> Prompt:
    messages = request.get("messages", [])
    return Prompt(
        messages=tuple(ChatMessage(role, content) for role, content in messages),
        text=request.get("prompt", ""),
    )


def sampling_of(request: Mapping[str, Any]) -> Sampling:
    defaults = Sampling()
    return Sampling(
        temperature=request.get("temperature", defaults.temperature),
        top_p=request.get("top_p", defaults.top_p),
        top_k=request.get("top_k", defaults.top_k),
        seed=request.get("seed", defaults.seed),
    )


def view_dict(view: JobView) -> dict[str, Variant]:
    info, timings = view.info, view.info.timings
    details = {
        "id": Variant("t", info.id),
        "owner": Variant("u", info.owner),
        "model": Variant("s", info.model),
        "priority": Variant("s", info.priority.name.lower()),
        "state": Variant("s", info.state.value),
        "text": Variant("s", view.text),
        "tokens": Variant("u", timings.tokens),
        "prompt_tokens": Variant("u", info.prompt_tokens),
        "cached_tokens": Variant("u", view.cached_tokens),
        "max_tokens": Variant("u", info.max_tokens),
        "submitted_at": Variant("d", view.submitted_wall),
    }
    if timings.started_at is not None:
        details["queued_s"] = Variant("d", timings.started_at - timings.submitted_at)
    if (ttft := timings.time_to_first_token) is not None:
        details["time_to_first_token_s"] = Variant("d", ttft)
    if (rate := timings.tokens_per_s) is not None:
        details["tokens_per_s"] = Variant("d", rate)
    if info.reason:
        details["reason"] = Variant("s", info.reason)
    return details


def model_details(view: ModelView) -> dict[str, Variant]:
    spec = view.spec
    return {
        "backend": Variant("s", spec.backend.value),
        "state": Variant("s", view.state),
        "context_length": Variant("u", spec.context_length),
        "ram_bytes": Variant("t", spec.ram_bytes),
        "vram_bytes": Variant("t", spec.vram_bytes),
        "pinned": Variant("b", spec.pinned),
        "default": Variant("b", spec.default),
        "priority": Variant("s", spec.priority.name.lower()),
        "slots": Variant("u", spec.slots),
        "running": Variant("u", view.running),
        "gpu_layers": Variant("i", spec.gpu_layers),
    }


def accelerator_details(accelerator: Accelerator) -> dict[str, Variant]:
    device = accelerator.device
    return {
        "vendor_id": Variant("s", f"0x{device.vendor_id:04x}"),
        "device_id": Variant("s", f"0x{device.device_id:04x}"),
        "class": Variant("s", f"0x{device.pci_class:06x}"),
        "vendor": Variant("s", device.vendor),
        "driver": Variant("s", device.driver or ""),
        "drm_nodes": Variant("as", list(device.drm_nodes)),
        "usable": Variant("b", accelerator.usable),
        "why": Variant("s", accelerator.why),
        "vram_bytes": Variant("t", accelerator.vram_bytes),
        "sys_path": Variant("s", device.sys_path),
    }


async def _root_only(what: str) -> None:
    # Loading and pinning spend everyone's memory: root's call (no polkit here).
    if await caller_uid() != ROOT_UID:
        raise PermissionDenied(f"only root may {what}")


class SchedulerInterface(ServiceInterface):
    """Submit jobs; list, load, unload and pin models; list the accelerators."""

    def __init__(
        self,
        engine: Engine,
        export_job: Callable[[JobRecord], None],
        accelerators: Sequence[Accelerator] = (),
    ) -> None:
        super().__init__(INTERFACE_NAME)
        self._engine = engine
        self._export_job = export_job
        self._announced: dict[str, Any] = {}
        self.accelerators = list(accelerators)

    @noos_method()
    async def Submit(self, request: VariantDict) -> DBusObjectPath:
        """Queue a job for the caller; the path of its object."""
        call = current_call()
        values = options_of(request, REQUEST_KEYS, "request key")
        stream_fd = values.get("stream_fd")
        # Received descriptors are this process's: keep the stream's, close the rest.
        for fd in call.message.unix_fds:
            if fd != stream_fd:
                os.close(fd)
        if stream_fd is not None and stream_fd not in call.message.unix_fds:
            raise InvalidArgument(
                "stream_fd: no file descriptor came with the call "
                "(the client's connection must negotiate Unix fd passing)"
            )
        uid = await caller_uid()
        priority = values.get("priority")
        job = await self._engine.submit(
            owner=uid,
            prompt=prompt_of(values),
            model=values.get("model", DEFAULT_MODEL),
            priority=None if priority is None else Priority.parse(priority),
            max_tokens=values.get("max_tokens", DEFAULT_MAX_TOKENS),
            sampling=sampling_of(values),
            stream_fd=stream_fd,
        )
        record = self._engine.record(job, uid)
        if call.message.sender:
            record.watchers.add(call.message.sender)
        self._export_job(record)
        return job_path(job)

    @noos_method()
    async def Jobs(self) -> ObjectPaths:
        """The caller's jobs, live and recently ended (root: everyone's)."""
        return [job_path(job) for job in self._engine.jobs_of(await caller_uid())]

    @noos_method()
    async def Load(self, model: DBusStr) -> None:
        await _root_only("load models")
        self._engine.load(model)

    @noos_method()
    async def Unload(self, model: DBusStr) -> None:
        await _root_only("unload models")
        self._engine.unload(model)

    @noos_method()
    async def Pin(self, model: DBusStr, pinned: DBusBool) -> None:
        await _root_only("pin models")
        self._engine.pin(model, pinned)

    @dbus_property(access=PropertyAccess.READ)
    def Models(self) -> ModelList:
        """Every model of the catalog: (name, details)."""
        return [(view.spec.name, model_details(view)) for view in self._engine.models()]

    @dbus_property(access=PropertyAccess.READ)
    def Accelerators(self) -> AcceleratorList:
        """The PCI display devices: (PCI slot, details), and whether models run on them."""
        return [(a.device.slot, accelerator_details(a)) for a in self.accelerators]

    @dbus_property(access=PropertyAccess.READ)
    def Queued(self) -> DBusUInt32:
        return self._engine.stats().queued

    @dbus_property(access=PropertyAccess.READ)
    def Running(self) -> DBusUInt32:
        return self._engine.stats().running

    @dbus_property(access=PropertyAccess.READ)
    def Resident(self) -> StringList:
        return list(self._engine.stats().resident)

    @dbus_property(access=PropertyAccess.READ)
    def ThreadsUsed(self) -> DBusUInt32:
        return self._engine.stats().threads_used

    @dbus_property(access=PropertyAccess.READ)
    def ThreadBudget(self) -> DBusUInt32:
        return self._engine.core.config.cpu_threads

    @dbus_property(access=PropertyAccess.READ)
    def RamUsed(self) -> DBusUInt64:
        return self._engine.stats().ram_used

    @dbus_property(access=PropertyAccess.READ)
    def RamBudget(self) -> DBusUInt64:
        return self._engine.core.config.ram_bytes

    @dbus_property(access=PropertyAccess.READ)
    def PredictionHitRate(self) -> DBusDouble:
        """The share of predicted next models that were asked for next; -1 before any."""
        rate = self._engine.stats().prediction_hit_rate
        return -1.0 if rate is None else rate

    def show_accelerators(self, accelerators: Sequence[Accelerator]) -> None:
        """Replace the accelerators listed, and announce it (a device came or went)."""
        self.accelerators = list(accelerators)
        self.emit_properties_changed({"Accelerators": self.Accelerators})

    def announce_changes(self) -> None:
        """Emit PropertiesChanged for the announced properties that changed."""
        now = {
            "Models": self.Models,
            "Queued": self.Queued,
            "Running": self.Running,
            "Resident": self.Resident,
        }
        changed = {name: value for name, value in now.items() if self._announced.get(name) != value}
        if changed:
            self._announced.update(changed)
            self.emit_properties_changed(changed)


class JobInterface(ServiceInterface):
    """One job: read it, wait for it, cancel it, watch its tokens."""

    def __init__(self, engine: Engine, job: JobId) -> None:
        super().__init__(JOB_INTERFACE_NAME)
        self._engine = engine
        self._job = job

    @noos_method()
    async def Info(self) -> VariantDict:
        return view_dict(self._engine.view(self._job, await caller_uid()))

    @noos_method()
    async def Wait(self) -> VariantDict:
        """The job's info once it has ended."""
        return view_dict(await self._engine.wait(self._job, await caller_uid()))

    @noos_method()
    async def Cancel(self) -> None:
        self._engine.cancel(self._job, await caller_uid())

    @noos_method()
    async def Watch(self) -> None:
        """Send the job's Token and Finished signals to this connection too."""
        record = self._engine.record(self._job, await caller_uid())
        sender = current_call().message.sender
        if sender:
            record.watchers.add(sender)

    # The signals, declared for introspection. They are sent by `unicast`, to
    # the job's watchers only, never by calling these (which would broadcast).

    @dbus_signal()
    def Token(self) -> Annotated[list[Any], DBusSignature("su")]:
        """(text, tokens): the text made since the last Token, and its tokens."""
        raise NotImplementedError("sent by unicast()")

    @dbus_signal()
    def Finished(self) -> VariantDict:
        """The job ended: its info, as Info gives it."""
        raise NotImplementedError("sent by unicast()")


def unicast(job: JobId, member: str, signature: str, body: list[Any], to: str) -> Message:
    """Signal `member` of a job, addressed to one connection."""
    return Message(
        message_type=MessageType.SIGNAL,
        destination=to,
        path=job_path(job),
        interface=JOB_INTERFACE_NAME,
        member=member,
        signature=signature,
        body=body,
    )
