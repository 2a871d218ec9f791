"""The compute a running job holds: one of its model's slots and its model's threads.

A job holds them from the moment it is committed to run, while its model is
still loading too (LOADING), so that a job which caused a load never finds its
threads taken when the model is ready; it gives them back when it is
preempted or ends. The thread budget counts CPU threads across all resident
models: on two cores, two threads of matrix multiplication already fill the
machine, and a third only slows every job down.
"""

from __future__ import annotations

from collections.abc import Collection

from noosd.scheduler.core.catalog import ModelSpec
from noosd.scheduler.core.jobs import JobId


class Capacity:
    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._held: dict[JobId, ModelSpec] = {}

    def hold(self, job: JobId, model: ModelSpec) -> None:
        self._held[job] = model

    def release(self, job: JobId) -> None:
        self._held.pop(job, None)

    def _holders(self, excluding: Collection[JobId]) -> list[ModelSpec]:
        return [model for job, model in self._held.items() if job not in excluding]

    def threads_used(self, excluding: Collection[JobId] = ()) -> int:
        return sum(model.threads for model in self._holders(excluding))

    def slots_used(self, model: str, excluding: Collection[JobId] = ()) -> int:
        return sum(1 for held in self._holders(excluding) if held.name == model)

    def busy_models(self, excluding: Collection[JobId] = ()) -> set[str]:
        """The models some job holds: none of them may be evicted."""
        return {model.name for model in self._holders(excluding)}

    def has_slot(self, model: ModelSpec, excluding: Collection[JobId] = ()) -> bool:
        """Whether `model` has a free slot, were the `excluding` jobs gone."""
        return self.slots_used(model.name, excluding) < model.slots

    def has_threads(self, model: ModelSpec, excluding: Collection[JobId] = ()) -> bool:
        """Whether a job of `model` fits the thread budget, were the `excluding` jobs gone."""
        return self.threads_used(excluding) + model.threads <= self.threads
