"""org.noos.Scheduler1: language models scheduled like CPU cores."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from dbus_fast.service import ServiceInterface

from noos.protocol import scheduler as protocol
from noos.protocol.errors import InvalidArgument, NotFound
from noosd.runtime import Service, StartupError
from noosd.runtime.health import WorkLoop
from noosd.runtime.settings import Settings
from noosd.scheduler.core.accelerators import Accelerator, describe, placed
from noosd.scheduler.core.catalog import load_catalog
from noosd.scheduler.core.jobs import NO_SUCH_JOB, ROOT_UID, JobId
from noosd.scheduler.core.prediction import ModelPredictor
from noosd.scheduler.engine import Engine
from noosd.scheduler.interface import (
    JobInterface,
    SchedulerInterface,
    unicast,
    view_dict,
)
from noosd.scheduler.live.hardware import Hotplug, discover
from noosd.scheduler.settings import SETTINGS, SchedulerSettings

if TYPE_CHECKING:
    from noosd.scheduler.live.records import JobRecord

_log = logging.getLogger(__name__)

# A crash loses at most this much of the predictor's learning.
KEEP_LEARNT_EVERY_S = 300.0


class SchedulerService(Service):
    bus_name = protocol.BUS_NAME
    object_path = protocol.OBJECT_PATH
    settings_table = SETTINGS

    def __init__(self, settings: Settings) -> None:
        # Cheap: the hardware and the catalog are read at start.
        self._settings = SchedulerSettings.of(settings)
        self._engine: Engine | None = None
        self._predictor: ModelPredictor | None = None
        self._interface = SchedulerInterface(self.engine, self._export_job)
        self._announcing: asyncio.Handle | None = None
        self._keeping: asyncio.Task[None] | None = None
        self._hotplug: Hotplug | None = None

    def engine(self) -> Engine:
        """The engine, once started."""
        if self._engine is None:
            raise RuntimeError("the scheduler has not started")
        return self._engine

    def interfaces(self) -> Sequence[ServiceInterface]:
        return [self._interface]

    def other_interfaces(self) -> Sequence[ServiceInterface]:
        return [JobInterface(self.engine, JobId(0))]

    def work_loops(self) -> Sequence[WorkLoop]:
        if self._engine is None:
            return []
        return [self._engine.loading, self._engine.generating]

    async def start(self) -> None:
        settings = self._settings
        # A job is its owner's: not announced, not listed, and to anyone
        # else as absent as a job that never was.
        self.bus.make_private(protocol.JOBS_PATH, NotFound(NO_SUCH_JOB))
        # Found before the engine: they set its VRAM budget and where models run.
        accelerators = discover()
        _log_accelerators(accelerators)
        config = settings.config_with(accelerators)
        try:
            catalog = placed(load_catalog(settings.catalog_dir), accelerators)
        except InvalidArgument as error:
            # One line (the file and why) for the journal, not a traceback.
            raise StartupError(f"the model catalog: {error}") from error
        _log.info(
            "%d models in %s (%d on a GPU); %d threads, %d bytes of RAM, %d of VRAM",
            len(list(catalog)),
            settings.catalog_dir,
            sum(1 for spec in catalog if spec.gpu_layers),
            config.cpu_threads,
            config.ram_bytes,
            config.vram_bytes,
        )
        self._predictor = ModelPredictor(utc_offset_s=config.utc_offset_s)
        self._engine = Engine(
            catalog,
            config,
            settings.kv_dir,
            settings.journal_file,
            self,
            predictor=self._predictor,
        )
        self._interface.accelerators = list(accelerators)
        self._relearn(self._predictor)
        # Jobs acknowledged before a restart: their objects are there again.
        for record in self._engine.start():
            self._export_job(record)
        self._keeping = asyncio.create_task(self._keep_learning_periodically())
        self._hotplug = Hotplug(self._accelerators_changed)
        self._hotplug.start()

    async def stop(self) -> None:
        if self._hotplug is not None:
            self._hotplug.stop()
        if self._keeping is not None:
            self._keeping.cancel()
        await self.engine().stop()
        self._keep_learnt()

    def _relearn(self, predictor: ModelPredictor) -> None:
        try:
            predictor.relearn(json.loads(self._settings.predictor_file.read_text()))
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError) as error:
            _log.warning(
                "starting the model predictor afresh: %s is unusable: %s",
                self._settings.predictor_file,
                error,
            )

    def _keep_learnt(self) -> None:
        if self._predictor is None:
            return
        predictor_file = self._settings.predictor_file
        try:
            predictor_file.parent.mkdir(parents=True, exist_ok=True)
            partial = predictor_file.with_suffix(".partial")
            partial.write_text(json.dumps(self._predictor.learnt()))
            partial.replace(predictor_file)
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
        info = view_dict(self.engine().view(record.id, ROOT_UID))
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
