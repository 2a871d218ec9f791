"""org.noos.Scheduler1: a thin D-Bus facade over the engine.

The scheduler at /org/noos/Scheduler1 takes jobs (`Submit`) and lists the
models; each job is an object of its own, /org/noos/Scheduler1/jobs/<id>,
with interface org.noos.Scheduler1.Job (`Info`, `Wait`, `Cancel`, `Watch`).
A job is its owner's: only they and root read or cancel it, and its signals
(`Token`, `Finished`) go only to the connection that submitted it and those
of its owner that called `Watch` — a broadcast would show every user's
answers to everyone on the system bus. Its id is random (`random_job_id`),
its object is neither announced (InterfacesAdded, InterfacesRemoved) nor
listed (Introspect, GetManagedObjects), and anyone else calling on it is
told NotFound, as for a job that never was (`ServiceBus.make_private`).

The jobs counted (`Queued`, `Running`, a model's `running`) are the
caller's own (root: everyone's); which models are loaded, the threads and
RAM used and the accelerators are the machine's, shown to all as `free` or
`top` would. Changes are not broadcast: `WatchStatus` asks for them, sent
to the watching connection alone as PropertiesChanged, in its user's view.

Submit's request, a job's info (`Info`, `Wait`, `Finished`), a model's
details and an accelerator's (`Accelerators`: PCI slot, details) are the
protocol's (`noos.protocol.scheduler`), with each key's type and meaning.
"""

from __future__ import annotations

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
from dbus_fast.service import dbus_property, dbus_signal

from noos.protocol.actions import MANAGE_MODELS
from noos.protocol.scheduler import (
    ACCELERATOR_DETAILS,
    DEFAULT_MAX_TOKENS,
    INTERFACE,
    JOB_INTERFACE,
    OBJECT_PATH,
    REQUEST,
    TOKEN_SIGNATURE,
    JobInfo,
    ModelInfo,
    job_info_dict,
    job_path,
    model_struct,
)
from noosd.runtime import NoosInterface, caller_uid, caller_uid_if_any, current_call, noos_method
from noosd.runtime.watchers import Watchers
from noosd.scheduler.backends.base import ChatMessage, Prompt
from noosd.scheduler.core.accelerators import Accelerator
from noosd.scheduler.core.jobs import DEFAULT_MODEL, JobId, Priority, Sampling
from noosd.scheduler.engine import Engine, ModelView
from noosd.scheduler.live.records import JobRecord, JobView

VariantDict = Annotated[dict[str, Variant], DBusSignature("a{sv}")]
ObjectPaths = Annotated[list[str], DBusSignature("ao")]
StringList = Annotated[list[str], DBusSignature("as")]
ModelList = Annotated[list[tuple[str, dict[str, Variant]]], DBusSignature("a(sa{sv})")]
AcceleratorList = Annotated[list[tuple[str, dict[str, Variant]]], DBusSignature("a(sa{sv})")]

PROPERTIES_INTERFACE = "org.freedesktop.DBus.Properties"
# The D-Bus types of the properties whose changes are sent to watchers (the
# shell's status panel): those of `_view_of`, and the accelerators.
SENT_PROPERTIES = {
    "Models": "a(sa{sv})",
    "Queued": "u",
    "Running": "u",
    "Resident": "as",
    "Accelerators": "a(sa{sv})",
}


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
    started = timings.started_at
    return job_info_dict(
        JobInfo(
            id=info.id,
            owner=info.owner,
            model=info.model,
            priority=info.priority.name.lower(),
            state=info.state.value,
            text=view.text,
            tokens=timings.tokens,
            prompt_tokens=info.prompt_tokens,
            max_tokens=info.max_tokens,
            submitted_at=view.submitted_wall,
            cached_tokens=view.cached_tokens,
            queued_s=None if started is None else started - timings.submitted_at,
            time_to_first_token_s=timings.time_to_first_token,
            tokens_per_s=timings.tokens_per_s,
            reason=info.reason or None,
        )
    )


def model_of(view: ModelView) -> tuple[str, dict[str, Variant]]:
    spec = view.spec
    return model_struct(
        ModelInfo(
            name=spec.name,
            backend=spec.backend.value,
            state=view.state,
            context_length=spec.context_length,
            ram_bytes=spec.ram_bytes,
            vram_bytes=spec.vram_bytes,
            pinned=spec.pinned,
            default=spec.default,
            priority=spec.priority.name.lower(),
            slots=spec.slots,
            running=view.running,
            gpu_layers=spec.gpu_layers,
        )
    )


def accelerator_details(accelerator: Accelerator) -> dict[str, Variant]:
    device = accelerator.device
    return ACCELERATOR_DETAILS.encode(
        {
            "vendor_id": f"0x{device.vendor_id:04x}",
            "device_id": f"0x{device.device_id:04x}",
            "class": f"0x{device.pci_class:06x}",
            "vendor": device.vendor,
            "driver": device.driver or "",
            "drm_nodes": list(device.drm_nodes),
            "usable": accelerator.usable,
            "why": accelerator.why,
            "vram_bytes": accelerator.vram_bytes,
            "sys_path": device.sys_path,
        }
    )


class SchedulerInterface(NoosInterface):
    """Submit jobs; list, load, unload and pin models; list the accelerators."""

    def __init__(
        self,
        engine: Callable[[], Engine],
        export_job: Callable[[JobRecord], None],
        accelerators: Sequence[Accelerator] = (),
    ) -> None:
        super().__init__(INTERFACE)
        # The engine is built when the service starts (its catalog and budgets
        # need the hardware found then); no call comes before.
        self._engine = engine
        self._export_job = export_job
        self._watchers = Watchers(OBJECT_PATH, INTERFACE)
        # What each watched uid was last sent.
        self._announced: dict[int, dict[str, Any]] = {}
        self.accelerators = list(accelerators)

    # The stream's pipe, if any.
    @noos_method(takes_fds=1)
    async def Submit(self, request: VariantDict) -> DBusObjectPath:
        """Queue a job for the caller; the path of its object."""
        call = current_call()
        values = REQUEST.decode(request)
        uid = await caller_uid()
        priority = values.get("priority")
        prompt = prompt_of(values)
        sampling = sampling_of(values)
        parsed_priority = None if priority is None else Priority.parse(priority)
        # The stream's descriptor outlives the call: taken last, right as the
        # engine gets it (and closes it, whether or not the job is made); the
        # runtime closes any other descriptor that came with the call.
        stream_fd = values.get("stream_fd")
        if stream_fd is not None:
            stream_fd = call.fds.take(stream_fd, "stream_fd")
        job = await self._engine().submit(
            owner=uid,
            prompt=prompt,
            model=values.get("model", DEFAULT_MODEL),
            priority=parsed_priority,
            max_tokens=values.get("max_tokens", DEFAULT_MAX_TOKENS),
            sampling=sampling,
            stream_fd=stream_fd,
        )
        record = self._engine().record(job, uid)
        if call.message.sender:
            record.watchers.add(call.message.sender)
        self._export_job(record)
        return job_path(job)

    @noos_method()
    async def Jobs(self) -> ObjectPaths:
        """The caller's jobs, live and recently ended (root: everyone's)."""
        return [job_path(job) for job in self._engine().jobs_of(await caller_uid())]

    # Loading and pinning spend everyone's memory: root's, or an administrator's.
    @noos_method(action=MANAGE_MODELS)
    async def Load(self, model: DBusStr) -> None:
        """Load `model` into memory now, ahead of its jobs (root, or as polkit allows)."""
        self._engine().load(model)

    @noos_method(action=MANAGE_MODELS)
    async def Unload(self, model: DBusStr) -> None:
        """Take `model` out of memory (root, or as polkit allows)."""
        self._engine().unload(model)

    @noos_method(action=MANAGE_MODELS)
    async def Pin(self, model: DBusStr, pinned: DBusBool) -> None:
        """Keep `model` in memory for good, or no longer (root, or as polkit allows)."""
        self._engine().pin(model, pinned)

    @noos_method()
    async def WatchStatus(self) -> None:
        """Send PropertiesChanged of the announced properties (Models,
        Queued, Running, Resident) and of Accelerators to this connection,
        as the caller sees them, until UnwatchStatus or it leaves the bus."""
        uid = await caller_uid()
        self._announced.setdefault(uid, self._view_of(uid))
        self._watchers.add_caller(uid)

    @noos_method()
    async def UnwatchStatus(self) -> None:
        """Send this connection no more PropertiesChanged."""
        self._watchers.remove_caller()

    @dbus_property(access=PropertyAccess.READ)
    async def Models(self) -> ModelList:
        """Every model of the catalog: (name, details); a model's jobs are the caller's."""
        return self._models_of(await caller_uid_if_any())

    @dbus_property(access=PropertyAccess.READ)
    def Accelerators(self) -> AcceleratorList:
        """The PCI display devices: (PCI slot, details), and whether models run on them."""
        return [(a.device.slot, accelerator_details(a)) for a in self.accelerators]

    @dbus_property(access=PropertyAccess.READ)
    async def Queued(self) -> DBusUInt32:
        """The caller's jobs waiting for a slot (root: everyone's)."""
        return self._engine().jobs_load(await caller_uid_if_any())[0]

    @dbus_property(access=PropertyAccess.READ)
    async def Running(self) -> DBusUInt32:
        """The caller's jobs running now (root: everyone's)."""
        return self._engine().jobs_load(await caller_uid_if_any())[1]

    @dbus_property(access=PropertyAccess.READ)
    def Resident(self) -> StringList:
        """The models loaded in memory."""
        return list(self._engine().stats().resident)

    @dbus_property(access=PropertyAccess.READ)
    def ThreadsUsed(self) -> DBusUInt32:
        """CPU threads the running jobs use."""
        return self._engine().stats().threads_used

    @dbus_property(access=PropertyAccess.READ)
    def ThreadBudget(self) -> DBusUInt32:
        """CPU threads the scheduler may use."""
        return self._engine().config.cpu_threads

    @dbus_property(access=PropertyAccess.READ)
    def RamUsed(self) -> DBusUInt64:
        """Bytes of RAM the resident models take."""
        return self._engine().stats().ram_used

    @dbus_property(access=PropertyAccess.READ)
    def RamBudget(self) -> DBusUInt64:
        """Bytes of RAM the scheduler may fill with models."""
        return self._engine().config.ram_bytes

    @dbus_property(access=PropertyAccess.READ)
    def PredictionHitRate(self) -> DBusDouble:
        """The share of predicted next models that were asked for next; -1 before any."""
        rate = self._engine().stats().prediction_hit_rate
        return -1.0 if rate is None else rate

    def _models_of(self, uid: int | None) -> ModelList:
        return [model_of(view) for view in self._engine().models(uid)]

    def _view_of(self, uid: int) -> dict[str, Any]:
        """The announced properties as `uid` reads them."""
        queued, running = self._engine().jobs_load(uid)
        return {
            "Models": self._models_of(uid),
            "Queued": queued,
            "Running": running,
            "Resident": list(self._engine().stats().resident),
        }

    def _send_changes(self, uid: int, changed: Mapping[str, Any]) -> None:
        values = {name: Variant(SENT_PROPERTIES[name], value) for name, value in changed.items()}
        self._watchers.send(
            uid,
            "PropertiesChanged",
            "sa{sv}as",
            [INTERFACE, values, []],
            interface=PROPERTIES_INTERFACE,
        )

    def show_accelerators(self, accelerators: Sequence[Accelerator]) -> None:
        """Replace the accelerators listed, and tell the watchers (a device came or went)."""
        self.accelerators = list(accelerators)
        for uid in self._watchers.uids():
            self._send_changes(uid, {"Accelerators": self.Accelerators})

    def announce_changes(self) -> None:
        """Send each watcher the announced properties that changed in its user's view."""
        watched = self._watchers.uids()
        for uid in set(self._announced) - watched:
            del self._announced[uid]
        for uid in watched:
            now, before = self._view_of(uid), self._announced.get(uid, {})
            changed = {name: value for name, value in now.items() if before.get(name) != value}
            if changed:
                self._announced[uid] = now
                self._send_changes(uid, changed)


class JobInterface(NoosInterface):
    """One job: read it, wait for it, cancel it, watch its tokens."""

    def __init__(self, engine: Callable[[], Engine], job: JobId) -> None:
        super().__init__(JOB_INTERFACE)
        self._engine = engine
        self._job = job

    @noos_method()
    async def Info(self) -> VariantDict:
        """The job as it is now: its text so far, its state and timings."""
        return view_dict(self._engine().view(self._job, await caller_uid()))

    @noos_method()
    async def Wait(self) -> VariantDict:
        """The job's info once it has ended."""
        return view_dict(await self._engine().wait(self._job, await caller_uid()))

    @noos_method()
    async def Cancel(self) -> None:
        """Stop the job; what it made so far stays in its info."""
        self._engine().cancel(self._job, await caller_uid())

    @noos_method()
    async def Watch(self) -> None:
        """Send the job's Token and Finished signals to this connection too."""
        record = self._engine().record(self._job, await caller_uid())
        sender = current_call().message.sender
        if sender:
            record.watchers.add(sender)

    # The signals, declared for introspection. They are sent by `unicast`, to
    # the job's watchers only, never by calling these (which would broadcast).

    @dbus_signal()
    def Token(self) -> Annotated[list[Any], DBusSignature(TOKEN_SIGNATURE)]:
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
        interface=JOB_INTERFACE,
        member=member,
        signature=signature,
        body=body,
    )
