"""org.noos.Scheduler1: language models scheduled like CPU cores."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dbus_fast.service import ServiceInterface

from noos.protocol import scheduler as protocol
from noosd.runtime import Service
from noosd.runtime.health import WorkLoop
from noosd.scheduler.accelerators import Accelerator, describe, placed, vram_budget
from noosd.scheduler.catalog import DEFAULT_CATALOG_DIR, load_catalog
from noosd.scheduler.config import SchedulerConfig
from noosd.scheduler.engine import Engine
from noosd.scheduler.hardware import Hotplug, discover
from noosd.scheduler.interface import (
    JobInterface,
    SchedulerInterface,
    unicast,
    view_dict,
)
from noosd.scheduler.jobs import ROOT_UID, JobId
from noosd.scheduler.prediction import ModelPredictor

if TYPE_CHECKING:
    from noosd.scheduler.records import JobRecord

_log = logging.getLogger(__name__)

# A crash loses at most this much of the predictor's learning.
KEEP_LEARNT_EVERY_S = 300.0

# The settings the environment may change, each a SchedulerConfig field:
# NOOS_SCHEDULER_<FIELD> (NOOS_SCHEDULER_RAM_BYTES=2000000000).
ENVIRONMENT_PREFIX = "NOOS_SCHEDULER_"
TUNABLE = (
    "cpu_threads",
    "ram_bytes",
    "vram_bytes",
    "kv_ram_bytes",
    "kv_disk_bytes",
    "max_queued",
    "max_queued_per_user",
    "preload",
)


def config_from_environment(vram_bytes: int = 0) -> SchedulerConfig:
    """SchedulerConfig with the fields the environment sets; the thread budget
    defaults to the machine's cores (more threads than cores only slows every
    job), the VRAM budget to `vram_bytes` (the usable accelerators')."""
    # The predictor's hours of the day are local ones.
    defaults = SchedulerConfig(
        cpu_threads=os.cpu_count() or 1,
        vram_bytes=vram_bytes,
        utc_offset_s=time.localtime().tm_gmtoff,
    )
    values: dict[str, Any] = {}
    for field in fields(SchedulerConfig):
        raw = os.environ.get(ENVIRONMENT_PREFIX + field.name.upper())
        if field.name not in TUNABLE or raw is None:
            continue
        default = getattr(defaults, field.name)
        values[field.name] = (
            raw.lower() in ("1", "true", "yes") if isinstance(default, bool) else int(raw)
        )
    return replace(defaults, **values)


@dataclass(frozen=True)
class SchedulerSettings:
    """From the environment: NOOS_SCHEDULER_CATALOG_DIR (default /etc/noos/models.d),
    NOOS_SCHEDULER_KV_DIR (where idle KV states are paged; default the state
    directory's kv/), NOOS_SCHEDULER_STATE_DIR, else systemd's STATE_DIRECTORY,
    else ~/.local/state/noos/scheduler; and the budgets (`config_from_environment`,
    the VRAM one by default the usable accelerators')."""

    catalog_dir: Path
    kv_dir: Path
    # What the model predictor learnt, kept across restarts.
    predictor_file: Path
    config: SchedulerConfig

    @classmethod
    def from_environment(cls, accelerators: Sequence[Accelerator] = ()) -> SchedulerSettings:
        state = (
            os.environ.get("NOOS_SCHEDULER_STATE_DIR")
            or os.environ.get("STATE_DIRECTORY", "").split(":")[0]
        )
        state_dir = Path(state) if state else Path.home() / ".local/state/noos/scheduler"
        kv = os.environ.get("NOOS_SCHEDULER_KV_DIR")
        return cls(
            catalog_dir=Path(os.environ.get("NOOS_SCHEDULER_CATALOG_DIR", DEFAULT_CATALOG_DIR)),
            kv_dir=Path(kv) if kv else state_dir / "kv",
            predictor_file=state_dir / "predictor.json",
            config=config_from_environment(vram_budget(accelerators)),
        )


class SchedulerService(Service):
    bus_name = protocol.BUS_NAME
    object_path = protocol.OBJECT_PATH

    def __init__(self) -> None:
        # Found before the engine: they set its VRAM budget and where models run.
        accelerators = discover()
        _log_accelerators(accelerators)
        settings = SchedulerSettings.from_environment(accelerators)
        catalog = placed(load_catalog(settings.catalog_dir), accelerators)
        _log.info(
            "%d models in %s (%d on a GPU); %d threads, %d bytes of RAM, %d of VRAM",
            len(list(catalog)),
            settings.catalog_dir,
            sum(1 for spec in catalog if spec.gpu_layers),
            settings.config.cpu_threads,
            settings.config.ram_bytes,
            settings.config.vram_bytes,
        )
        self._predictor_file = settings.predictor_file
        self._predictor = ModelPredictor(utc_offset_s=settings.config.utc_offset_s)
        self.engine = Engine(
            catalog, settings.config, settings.kv_dir, self, predictor=self._predictor
        )
        self._interface = SchedulerInterface(self.engine, self._export_job, accelerators)
        self._announcing: asyncio.Handle | None = None
        self._keeping: asyncio.Task[None] | None = None
        self._hotplug = Hotplug(self._accelerators_changed)

    def interfaces(self) -> Sequence[ServiceInterface]:
        return [self._interface]

    def other_interfaces(self) -> Sequence[ServiceInterface]:
        return [JobInterface(self.engine, JobId(0))]

    def work_loops(self) -> Sequence[WorkLoop]:
        return [self.engine.loading, self.engine.generating]

    async def start(self) -> None:
        self._relearn()
        self.engine.start()
        self._keeping = asyncio.create_task(self._keep_learning_periodically())
        self._hotplug.start()

    async def stop(self) -> None:
        self._hotplug.stop()
        if self._keeping is not None:
            self._keeping.cancel()
        await self.engine.stop()
        self._keep_learnt()

    def _relearn(self) -> None:
        try:
            self._predictor.relearn(json.loads(self._predictor_file.read_text()))
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as error:
            _log.warning(
                "starting the model predictor afresh: %s is unusable: %s",
                self._predictor_file,
                error,
            )

    def _keep_learnt(self) -> None:
        try:
            self._predictor_file.parent.mkdir(parents=True, exist_ok=True)
            partial = self._predictor_file.with_suffix(".partial")
            partial.write_text(json.dumps(self._predictor.learnt()))
            partial.replace(self._predictor_file)
        except OSError as error:
            _log.warning("could not keep what the model predictor learnt: %s", error)

    async def _keep_learning_periodically(self) -> None:
        while True:
            await asyncio.sleep(KEEP_LEARNT_EVERY_S)
            self._keep_learnt()

    def _accelerators_changed(self, accelerators: list[Accelerator]) -> None:
        before = self._interface.accelerators
        if accelerators == before:
            return
        _log.info("the accelerators changed")
        _log_accelerators(accelerators)
        if [a for a in accelerators if a.usable] != [a for a in before if a.usable]:
            # Resident models cannot move between the CPU and a GPU: the
            # budget and the placement are the start's.
            _log.warning(
                "the usable accelerators changed: the VRAM budget and GPU offload "
                "follow at the scheduler's next start"
            )
        self._interface.show_accelerators(accelerators)

    def _export_job(self, record: JobRecord) -> None:
        self.bus.export(protocol.job_path(record.id), JobInterface(self.engine, record.id))

    # EngineListener.

    def job_token(self, record: JobRecord, text: str, tokens: int) -> None:
        for watcher in record.watchers:
            self.bus.send(unicast(record.id, "Token", "su", [text, tokens], watcher))

    def job_ended(self, record: JobRecord) -> None:
        info = view_dict(self.engine.view(record.id, ROOT_UID))
        for watcher in record.watchers:
            self.bus.send(unicast(record.id, "Finished", "a{sv}", [info], watcher))

    def job_forgotten(self, job: JobId) -> None:
        self.bus.unexport(protocol.job_path(job))

    def status_changed(self) -> None:
        # Once per turn of the loop, however many events it had.
        if self._announcing is None:
            self._announcing = asyncio.get_running_loop().call_soon(self._announce)

    def _announce(self) -> None:
        self._announcing = None
        if self._interface is not None:
            self._interface.announce_changes()


def _log_accelerators(accelerators: Sequence[Accelerator]) -> None:
    for accelerator in accelerators:
        _log.info("%s", describe(accelerator))
    if not accelerators:
        _log.info("no accelerator (no PCI display device): models run on the CPU")
    elif not any(accelerator.usable for accelerator in accelerators):
        _log.info("no usable accelerator: models run on the CPU")
