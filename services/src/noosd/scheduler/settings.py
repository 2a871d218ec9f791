"""The settings of org.noos.Scheduler1 (`noosd.runtime.settings`): /etc/noos/scheduler.toml.

The models it may run are not settings: they are the catalog, in its own
directory (`catalog_dir`, /etc/noos/models.d).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from noosd.runtime.settings import (
    BOOLEAN,
    INTEGER,
    PATH,
    Computed,
    Setting,
    Settings,
    SettingsTable,
    at_least,
    state_directory,
)
from noosd.scheduler.core.accelerators import Accelerator, vram_budget
from noosd.scheduler.core.catalog import DEFAULT_CATALOG_DIR
from noosd.scheduler.core.config import (
    PROMPT_BYTES_PER_TOKEN,
    QUEUED_PROMPTS_OF_MAX_SIZE,
    SchedulerConfig,
)

BUDGET_DEFAULTS = SchedulerConfig()


def _budget(name: str, help: str, minimum: int) -> Setting:
    """A SchedulerConfig field, set by NOOS_SCHEDULER_<NAME> (the tests' fixture
    sets any of them so)."""
    return Setting(
        name,
        INTEGER,
        getattr(BUDGET_DEFAULTS, name),
        f"NOOS_SCHEDULER_{name.upper()}",
        help,
        at_least(minimum),
    )


SETTINGS = SettingsTable(
    "scheduler",
    (
        Setting(
            "catalog_dir",
            PATH,
            DEFAULT_CATALOG_DIR,
            "NOOS_SCHEDULER_CATALOG_DIR",
            "the model catalog: every *.toml in it, in name order, declares models",
        ),
        Setting(
            "state_dir",
            PATH,
            state_directory("scheduler"),
            "NOOS_SCHEDULER_STATE_DIR",
            "where the job journal and what the model predictor learnt are kept",
        ),
        Setting(
            "kv_dir",
            PATH,
            Computed("state_dir/kv", lambda: None),
            "NOOS_SCHEDULER_KV_DIR",
            "where idle jobs' KV states are paged out",
        ),
        Setting(
            "cpu_threads",
            INTEGER,
            # More threads than cores only slows every job.
            Computed("the machine's cores", lambda: os.cpu_count() or 1),
            "NOOS_SCHEDULER_CPU_THREADS",
            "CPU threads all running jobs together may use",
            at_least(1),
        ),
        _budget("ram_bytes", "bytes of RAM resident models may take together", 0),
        Setting(
            "vram_bytes",
            INTEGER,
            Computed("the usable accelerators' memory", lambda: None),
            "NOOS_SCHEDULER_VRAM_BYTES",
            "bytes of GPU memory resident models may take together",
            at_least(0),
        ),
        _budget("kv_ram_bytes", "bytes of RAM saved KV states may take before some are paged", 0),
        _budget("kv_disk_bytes", "bytes of disk saved KV states may take before some go", 0),
        _budget("max_queued", "jobs waiting, all users together; more are refused (Busy)", 1),
        _budget("max_queued_per_user", "jobs one user may have waiting", 1),
        Setting(
            "max_prompt_bytes",
            INTEGER,
            Computed(
                f"{PROMPT_BYTES_PER_TOKEN} bytes per token of the catalog's longest context",
                lambda: None,
            ),
            "NOOS_SCHEDULER_MAX_PROMPT_BYTES",
            "the largest prompt, in UTF-8 bytes; larger ones are refused before tokenizing",
            at_least(1),
        ),
        Setting(
            "max_queued_prompt_bytes_per_user",
            INTEGER,
            Computed(f"{QUEUED_PROMPTS_OF_MAX_SIZE} times max_prompt_bytes", lambda: None),
            "NOOS_SCHEDULER_MAX_QUEUED_PROMPT_BYTES_PER_USER",
            "bytes of prompts one user may have waiting; more are refused (Busy)",
            at_least(1),
        ),
        Setting(
            "preload",
            BOOLEAN,
            BUDGET_DEFAULTS.preload,
            "NOOS_SCHEDULER_PRELOAD",
            "load the predicted next model into free memory ahead of its job",
        ),
    ),
)


@dataclass(frozen=True)
class SchedulerSettings:
    catalog_dir: Path
    kv_dir: Path
    # What the model predictor learnt, kept across restarts.
    predictor_file: Path
    # The jobs acknowledged and not yet forgotten (`storage.journal`).
    journal_file: Path
    # The budgets; its vram_bytes is `vram_bytes`'s once the accelerators are known.
    config: SchedulerConfig
    # None: the usable accelerators' memory.
    vram_bytes: int | None

    @classmethod
    def of(cls, settings: Settings) -> SchedulerSettings:
        state_dir: Path = settings["state_dir"]
        return cls(
            catalog_dir=settings["catalog_dir"],
            kv_dir=settings["kv_dir"] or state_dir / "kv",
            predictor_file=state_dir / "predictor.json",
            journal_file=state_dir / "jobs.sqlite3",
            config=replace(
                BUDGET_DEFAULTS,
                cpu_threads=settings["cpu_threads"],
                ram_bytes=settings["ram_bytes"],
                kv_ram_bytes=settings["kv_ram_bytes"],
                kv_disk_bytes=settings["kv_disk_bytes"],
                max_queued=settings["max_queued"],
                max_queued_per_user=settings["max_queued_per_user"],
                max_prompt_bytes=settings["max_prompt_bytes"],
                max_queued_prompt_bytes_per_user=settings["max_queued_prompt_bytes_per_user"],
                preload=settings["preload"],
                # The predictor's hours of the day are local ones.
                utc_offset_s=time.localtime().tm_gmtoff,
            ),
            vram_bytes=settings["vram_bytes"],
        )

    def config_with(self, accelerators: Sequence[Accelerator]) -> SchedulerConfig:
        """The budgets, the VRAM one by default the usable `accelerators`'."""
        vram = vram_budget(accelerators) if self.vram_bytes is None else self.vram_bytes
        return replace(self.config, vram_bytes=vram)
