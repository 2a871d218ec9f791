"""`noosd scheduler --write-interfaces DIR` (the image's build runs it) builds the
service without starting it: no accelerator discovery, no catalog, no settings."""

from __future__ import annotations

import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import noosd.scheduler.core.catalog
import noosd.scheduler.engine
import noosd.scheduler.live.hardware
from noosd.cli import ONE_THREAD_ENVIRONMENT, main

# What starting the scheduler runs: reading the hardware, the catalog, the engine.
START_ONLY = {
    module.__file__
    for module in (
        noosd.scheduler.live.hardware,
        noosd.scheduler.core.catalog,
        noosd.scheduler.engine,
    )
}


def test_writing_the_interfaces_touches_no_hardware_no_catalog_and_no_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ONE_THREAD_ENVIRONMENT:
        monkeypatch.setenv(variable, "1")  # main sets them: restored after the test
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "scheduler.toml").write_text("cpu_threads = 'many'\n")
    monkeypatch.setenv("NOOS_CONFIG_DIR", str(etc))
    monkeypatch.setenv("NOOS_SCHEDULER_CATALOG_DIR", str(tmp_path / "no-such-catalog"))
    monkeypatch.setenv("NOOS_SCHEDULER_CPU_THREADS", "none")
    out = tmp_path / "interfaces"
    out.mkdir()
    called: set[str] = set()

    def note_calls(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_filename in START_ONLY:
            called.add(frame.f_code.co_qualname)

    sys.setprofile(note_calls)
    try:
        status = main(["scheduler", "--write-interfaces", str(out)])
    finally:
        sys.setprofile(None)

    assert status == 0
    assert sorted(path.name for path in out.iterdir()) == [
        "org.noos.Scheduler1.Job.xml",
        "org.noos.Scheduler1.xml",
    ]
    assert called == set()
