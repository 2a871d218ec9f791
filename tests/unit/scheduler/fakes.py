"""Models, schedulers and decisions for the scheduler's tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, TypeVar

from noosd.scheduler.core import (
    Decision,
    JobId,
    JobRequest,
    Load,
    Priority,
    Scheduler,
    SchedulerConfig,
)
from noosd.scheduler.core.catalog import Backend, Catalog, ChatTemplate, ModelSpec, TemplateSource
from noosd.scheduler.core.prediction import ModelPredictor

MB = 10**6
T = TypeVar("T")

_BASE = ModelSpec(
    name="base",
    backend=Backend.LLAMA_CPP,
    location="/models/base.gguf",
    context_length=4096,
    chat_template=ChatTemplate(TemplateSource.EMBEDDED),
    ram_bytes=1000 * MB,
    vram_bytes=0,
    load_seconds=2.0,
    priority=Priority.NORMAL,
    pinned=False,
    slots=1,
    threads=1,
    default=False,
    source="test",
)


def model(name: str, **changes: Any) -> ModelSpec:
    return replace(_BASE, name=name, location=f"/models/{name}.gguf", **changes)


def scheduler(
    *models: ModelSpec, predictor: ModelPredictor | None = None, **config: Any
) -> Scheduler:
    """A scheduler of these models, none preloaded unless asked."""
    config.setdefault("preload", False)
    return Scheduler(Catalog(models), SchedulerConfig(**config), predictor)


def submit(
    s: Scheduler,
    now: float,
    owner: int = 1000,
    model: str = "m",
    priority: Priority | None = None,
    **request: Any,
) -> tuple[JobId, list[Decision]]:
    return s.submit(JobRequest(owner=owner, model=model, priority=priority, **request), now)


def only(decisions: Sequence[Decision], kind: type[T]) -> list[T]:
    return [d for d in decisions if isinstance(d, kind)]


def loaded(s: Scheduler, decisions: list[Decision], now: float) -> list[Decision]:
    """The decisions, and those of the loads among them done at `now`."""
    done = list(decisions)
    for load in only(decisions, Load):
        done += s.on_loaded(load.model, now)
    return done
