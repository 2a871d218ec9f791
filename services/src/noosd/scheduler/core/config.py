"""The budgets and tunables of the scheduler, with their defaults and why."""

from __future__ import annotations

import math
from dataclasses import dataclass

GIB = 1024**3
# The default bound on a prompt's size, per token of the catalog's longest
# context: a token is about 4 bytes of English and rarely more than 8 of any
# script, so a prompt past it could not fit any model once tokenized anyway.
PROMPT_BYTES_PER_TOKEN = 8
# The default bound on one user's waiting prompts, in prompts of the largest size.
QUEUED_PROMPTS_OF_MAX_SIZE = 4


@dataclass(frozen=True)
class SchedulerConfig:
    """How much the scheduler may use, and how it shares it.

    cpu_threads: CPU threads all running jobs together may use (2 cores here:
        more threads than cores only slows every job).
    ram_bytes, vram_bytes: memory resident models may take together.
    kv_ram_bytes: RAM saved KV states may take before some are paged out.
    kv_disk_bytes: disk saved KV states may take before some are dropped.
    max_queued: jobs waiting to start, all users together; more are refused
        with Busy.
    max_queued_per_user: jobs one user may have waiting, so that one user
        cannot fill the queue for everyone.
    max_prompt_bytes: the largest prompt, in UTF-8 bytes, checked before it
        is tokenized (on one thread for everyone); None: PROMPT_BYTES_PER_TOKEN
        per token of the catalog's longest context.
    max_queued_prompt_bytes_per_user: the bytes of prompts one user may have
        waiting (queued, or being tokenized); None: QUEUED_PROMPTS_OF_MAX_SIZE
        times max_prompt_bytes. A lone prompt is never refused by it.
    prefill_weight: the work of evaluating one prompt token, in generated
        tokens (a prompt runs batched, several times faster per token).
    throughput_window_s: the span recent throughput is measured over.
    assumed_work_per_s: the throughput assumed before any is measured.
    retry_bounds_s: the least and the most a Busy's retry hint says.
    idle_half_life_s: how fast an idle model's eviction cost fades (see residency).
    finished_kept: finished jobs remembered for their owners to read.
    utc_offset_s: local time's offset, for the predictor's hours of the day.
    preload: load the predicted next model into free memory ahead of its job.
    """

    cpu_threads: int = 2
    ram_bytes: int = 4 * GIB
    vram_bytes: int = 0
    kv_ram_bytes: int = GIB // 2
    kv_disk_bytes: int = 4 * GIB
    max_queued: int = 64
    max_queued_per_user: int = 16
    max_prompt_bytes: int | None = None
    max_queued_prompt_bytes_per_user: int | None = None
    prefill_weight: float = 0.2
    throughput_window_s: float = 60.0
    assumed_work_per_s: float = 10.0
    retry_bounds_s: tuple[float, float] = (0.5, 300.0)
    idle_half_life_s: float = 600.0
    finished_kept: int = 256
    utc_offset_s: float = 0.0
    preload: bool = True

    def __post_init__(self) -> None:
        counts = ("cpu_threads", "max_queued", "max_queued_per_user")
        for name in counts:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)}")
        for name in ("max_prompt_bytes", "max_queued_prompt_bytes_per_user"):
            if (value := getattr(self, name)) is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, not {value}")
        sizes = ("ram_bytes", "vram_bytes", "kv_ram_bytes", "kv_disk_bytes", "finished_kept")
        for name in sizes:
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, not {getattr(self, name)}")
        rates = ("throughput_window_s", "assumed_work_per_s", "idle_half_life_s")
        for name in rates:
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be > 0, not {value}")
        if not 0 <= self.prefill_weight <= 1:
            raise ValueError(f"prefill_weight must be in [0, 1], not {self.prefill_weight}")
        low, high = self.retry_bounds_s
        if not 0 < low <= high:
            raise ValueError(f"retry_bounds_s must be 0 < low <= high, not {self.retry_bounds_s}")
