"""Fuzzing: every method and property of the four services, with drawn
arguments, wrong signatures and bad descriptors, from root, uid 1000 and
nobody at once (tests/fixtures/fuzz_campaign.py; `make bench` runs the long
campaign, `python -m tests.bench security_fuzz`).

Every reply must be a clear error (org.noos.Error.*, or the standard D-Bus
error for a call of the wrong shape) or a result: no other error, no
timeout, no crash, and the service's open descriptors must not grow once it
has warmed up.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.fixtures.fuzz_campaign import HEADER, SERVICES, fuzz_service

CALLS = 600
# Descriptors a service may still hold for a moment after the last reply
# (a file being indexed, a job's KV file).
FD_SLACK = 3


@pytest.mark.parametrize("name", list(SERVICES))
def test_fuzzed_calls_get_clear_answers_and_leave_nothing_behind(
    name: str, bus_address: str, tmp_path: Path
) -> None:
    seed = int(os.environ.get("NOOS_FUZZ_SEED", random.randrange(1 << 32)))
    print(f"NOOS_FUZZ_SEED={seed}")
    bus_name, run = SERVICES[name]
    with run(bus_address, tmp_path) as process:
        report = fuzz_service(name, bus_address, bus_name, process, CALLS, seed)
    print(HEADER, report.row(), dict(report.errors), sep="\n")
    assert report.tally["other"] == 0, report.others
    assert report.tally["timeouts"] == 0, report.others
    assert not report.crashed and report.lost_connections == 0
    assert report.before and report.after
    assert report.after.fds <= report.before.fds + FD_SLACK
