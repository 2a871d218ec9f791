"""The wire contract of org.noos.Scheduler1: jobs on the system's language models.

The scheduler at /org/noos/Scheduler1 takes jobs (`Submit`) and lists the
models; each job is an object of its own, /org/noos/Scheduler1/jobs/<id>,
with interface org.noos.Scheduler1.Job (`Info`, `Wait`, `Cancel`, `Watch`).
A job's signals (`Token`, `Finished`) go only to the connection that
submitted it and those of its owner that called `Watch`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbus_fast import Variant

from noos.protocol.options import InterfaceKeys, Option, OptionTable, plain

BUS_NAME = "org.noos.Scheduler1"
OBJECT_PATH = "/org/noos/Scheduler1"
INTERFACE = "org.noos.Scheduler1"
JOB_INTERFACE = "org.noos.Scheduler1.Job"
JOBS_PATH = f"{OBJECT_PATH}/jobs"

# The signals of a job: Token (text, tokens) and Finished (its info).
TOKEN_SIGNATURE = "su"
FINISHED_SIGNATURE = "a{sv}"

DONE = "done"
ENDED_STATES = frozenset({DONE, "cancelled", "failed"})
DEFAULT_MAX_TOKENS = 256

REQUEST = OptionTable(
    "request key",
    Option("messages", "a(ss)", "the conversation: (role, content) each"),
    Option("prompt", "s", "a raw text for a base model to continue, instead of messages"),
    Option("model", "s", 'a model of the catalog, or "default" (the default)'),
    Option("priority", "s", "interactive, normal or batch (default: the model's class)"),
    Option("max_tokens", "i", f"the most tokens to generate (default {DEFAULT_MAX_TOKENS})"),
    Option("temperature", "d", "how freely tokens are drawn (0: always the likeliest)"),
    Option("top_p", "d", "draw only from the likeliest tokens that make up this share"),
    Option("top_k", "i", "draw only from this many likeliest tokens"),
    Option("seed", "x", "the seed of the drawing, for repeatable answers"),
    Option("stream_fd", "h", "a pipe the text is also written to as it is made, closed at the end"),
)
# The request keys that say how to run a job (the SDK's GenerationOptions).
GENERATION_OPTIONS = REQUEST.subset(
    "option", "model", "priority", "max_tokens", "temperature", "top_p", "top_k", "seed"
)

JOB_INFO = OptionTable(
    "field",
    Option("id", "t", "the job's number"),
    Option("owner", "u", "the uid that submitted it"),
    Option("model", "s", "the model it runs on"),
    Option("priority", "s", "interactive, normal or batch"),
    Option("state", "s", "queued, loading, running, preempted, done, cancelled or failed"),
    Option("text", "s", "the text made so far"),
    Option("tokens", "u", "the tokens made so far"),
    Option("prompt_tokens", "u", "the tokens of the prompt"),
    Option("cached_tokens", "u", "prompt tokens a saved KV state held: not evaluated again"),
    Option("max_tokens", "u", "the most tokens it may make"),
    Option("submitted_at", "d", "when it was submitted (Unix time)"),
    Option("queued_s", "d", "how long it waited before it ran (once known)"),
    Option("time_to_first_token_s", "d", "from submission to its first token (once known)"),
    Option("tokens_per_s", "d", "how fast it made tokens (once known)"),
    Option("reason", "s", "why it failed"),
)
MODEL_DETAILS = OptionTable(
    "field",
    Option("backend", "s", "what runs it: llama, openai"),
    Option("state", "s", "on-disk, loading, resident or busy"),
    Option("context_length", "u", "the tokens it attends to"),
    Option("ram_bytes", "t", "RAM it takes when loaded"),
    Option("vram_bytes", "t", "GPU memory it takes when loaded"),
    Option("pinned", "b", "kept in memory for good"),
    Option("default", "b", 'the model of jobs that ask for "default"'),
    Option("priority", "s", "the class of jobs that ask for none"),
    Option("slots", "u", "the jobs it runs at once"),
    Option("running", "u", "the jobs it runs now"),
    Option("gpu_layers", "i", "the layers offloaded to a GPU (-1: all; 0: none)"),
)
ACCELERATOR_DETAILS = OptionTable(
    "field",
    Option("vendor_id", "s", 'the PCI vendor, as "0x1234"'),
    Option("device_id", "s", 'the PCI device, as "0x1111"'),
    Option("class", "s", 'the PCI class, as "0x030000"'),
    Option("vendor", "s", "the vendor's name"),
    Option("driver", "s", "the kernel driver bound to it (empty when none is)"),
    Option("drm_nodes", "as", "its /dev/dri nodes"),
    Option("usable", "b", "models run on it"),
    Option("why", "s", "why it is usable, or not"),
    Option("vram_bytes", "t", "its memory"),
    Option("sys_path", "s", "its directory under /sys"),
)

KEYS = InterfaceKeys(
    INTERFACE,
    arguments={("Submit", "request"): REQUEST},
    replies={"Models": MODEL_DETAILS, "Accelerators": ACCELERATOR_DETAILS},
)
JOB_KEYS = InterfaceKeys(
    JOB_INTERFACE,
    arguments={},
    replies={"Info": JOB_INFO, "Wait": JOB_INFO, "Finished": JOB_INFO},
)


@dataclass(frozen=True)
class ModelInfo:
    """A model of the catalog, and what it is doing.

    state: "on-disk", "loading", "resident" or "busy". `priority` is the class
    of jobs that ask for none; `slots` the jobs it runs at once, `running`
    those it runs now; `gpu_layers` the layers offloaded to a GPU (-1: all).
    """

    name: str
    backend: str
    state: str
    context_length: int
    ram_bytes: int
    vram_bytes: int
    pinned: bool
    default: bool
    priority: str
    slots: int
    running: int
    gpu_layers: int = 0


@dataclass(frozen=True)
class JobInfo:
    """A job: its text so far, and how it went.

    state: "queued", "loading", "running", "preempted", then one of "done",
    "cancelled" and "failed" (see `reason`). `submitted_at` is Unix time; the
    timings are None until known. `cached_tokens`: prompt tokens a saved KV
    state held (a repeated system prompt, the conversation so far), not
    evaluated again.
    """

    id: int
    owner: int
    model: str
    priority: str
    state: str
    text: str
    tokens: int
    prompt_tokens: int
    max_tokens: int
    submitted_at: float
    cached_tokens: int = 0
    queued_s: float | None = None
    time_to_first_token_s: float | None = None
    tokens_per_s: float | None = None
    reason: str | None = None

    @property
    def ended(self) -> bool:
        return self.state in ENDED_STATES


@dataclass(frozen=True)
class SchedulerStatus:
    """The scheduler's load: jobs, resident models, threads and RAM against their budgets.

    prediction_hit_rate: how often the model loaded ahead of its job was the
    one asked for; None before any prediction.
    """

    queued: int
    running: int
    resident: tuple[str, ...]
    threads_used: int
    thread_budget: int
    ram_used: int
    ram_budget: int
    prediction_hit_rate: float | None


def job_path(job_id: int) -> str:
    """The object path of job `job_id`."""
    return f"{JOBS_PATH}/{job_id}"


def optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def job_info_of(values: Mapping[str, Variant]) -> JobInfo:
    """A JobInfo from the a{sv} of Info, Wait and Finished."""
    value = plain(values)
    return JobInfo(
        id=int(value["id"]),
        owner=int(value["owner"]),
        model=str(value["model"]),
        priority=str(value["priority"]),
        state=str(value["state"]),
        text=str(value["text"]),
        tokens=int(value["tokens"]),
        prompt_tokens=int(value["prompt_tokens"]),
        max_tokens=int(value["max_tokens"]),
        submitted_at=float(value["submitted_at"]),
        cached_tokens=int(value.get("cached_tokens", 0)),
        queued_s=optional_float(value.get("queued_s")),
        time_to_first_token_s=optional_float(value.get("time_to_first_token_s")),
        tokens_per_s=optional_float(value.get("tokens_per_s")),
        reason=str(value["reason"]) if value.get("reason") else None,
    )


def job_info_dict(info: JobInfo) -> dict[str, Variant]:
    """The a{sv} of Info, Wait and Finished; timings not known yet are left out."""
    return JOB_INFO.encode(
        {
            "id": info.id,
            "owner": info.owner,
            "model": info.model,
            "priority": info.priority,
            "state": info.state,
            "text": info.text,
            "tokens": info.tokens,
            "prompt_tokens": info.prompt_tokens,
            "cached_tokens": info.cached_tokens,
            "max_tokens": info.max_tokens,
            "submitted_at": info.submitted_at,
            "queued_s": info.queued_s,
            "time_to_first_token_s": info.time_to_first_token_s,
            "tokens_per_s": info.tokens_per_s,
            "reason": info.reason or None,
        }
    )


def model_info_of(name: str, details: Mapping[str, Variant]) -> ModelInfo:
    """A ModelInfo from one (name, details) of the Models property."""
    value = plain(details)
    return ModelInfo(
        name=name,
        backend=str(value["backend"]),
        state=str(value["state"]),
        context_length=int(value["context_length"]),
        ram_bytes=int(value["ram_bytes"]),
        vram_bytes=int(value["vram_bytes"]),
        pinned=bool(value["pinned"]),
        default=bool(value["default"]),
        priority=str(value["priority"]),
        slots=int(value["slots"]),
        running=int(value["running"]),
        gpu_layers=int(value.get("gpu_layers", 0)),
    )


def model_struct(info: ModelInfo) -> tuple[str, dict[str, Variant]]:
    """One (name, details) of the Models property."""
    return (
        info.name,
        MODEL_DETAILS.encode(
            {
                "backend": info.backend,
                "state": info.state,
                "context_length": info.context_length,
                "ram_bytes": info.ram_bytes,
                "vram_bytes": info.vram_bytes,
                "pinned": info.pinned,
                "default": info.default,
                "priority": info.priority,
                "slots": info.slots,
                "running": info.running,
                "gpu_layers": info.gpu_layers,
            }
        ),
    )


def status_of(value: Mapping[str, Any]) -> SchedulerStatus:
    """A SchedulerStatus from the interface's properties (unwrapped, by name)."""
    hit_rate = float(value["PredictionHitRate"])
    return SchedulerStatus(
        queued=int(value["Queued"]),
        running=int(value["Running"]),
        resident=tuple(value["Resident"]),
        threads_used=int(value["ThreadsUsed"]),
        thread_budget=int(value["ThreadBudget"]),
        ram_used=int(value["RamUsed"]),
        ram_budget=int(value["RamBudget"]),
        # The service says -1 before it has scored any prediction.
        prediction_hit_rate=None if hit_rate < 0 else hit_rate,
    )
