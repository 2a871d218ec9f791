"""The fuzzing campaign of issue 14: 10,000 calls on each service.

Every method and property of memory, index, scheduler and system, read from
their introspection, with drawn arguments (tests/fixtures/fuzz_draw.py),
wrong signatures and bad descriptors, from root, uid 1000 and nobody at
once, 200 calls in flight in all. The table gives, per service: the calls,
the clear org.noos.Error.* replies (noos), the standard D-Bus errors for a
call of the wrong shape (std), results (ok), other errors, timeouts and
crashes (each must be 0), and the RSS and open descriptors after a warm-up
tenth of the calls and at the end. NOOS_FUZZ_SEED replays a campaign;
NOOS_FUZZ_CALLS changes its size.
"""

from __future__ import annotations

import os
import random
import time

from tests.fixtures.fuzz_campaign import HEADER, campaign
from tests.fixtures.private_bus import PrivateBus

CALLS = 10_000


def main() -> None:
    seed = int(os.environ.get("NOOS_FUZZ_SEED", random.randrange(1 << 32)))
    calls = int(os.environ.get("NOOS_FUZZ_CALLS", CALLS))
    print(f"NOOS_FUZZ_SEED={seed}, {calls} calls per service", flush=True)
    bus = PrivateBus()
    started = time.monotonic()
    try:
        reports = campaign(bus.address, calls, seed)
    finally:
        bus.stop()
    print(HEADER)
    for report in reports:
        print(report.row())
    for report in reports:
        print(f"{report.name}: fuzzed {', '.join(sorted(report.kinds))}")
        print(f"{report.name}: {dict(report.errors)}")
        for other in report.others:
            print(f"  {report.name} OTHER: {other}")
    bad = sum(
        r.tally["other"] + r.tally["timeouts"] + r.crashed + r.lost_connections for r in reports
    )
    print(
        f"{time.monotonic() - started:.0f} s; other+timeouts+crashes = {bad}:",
        "met" if bad == 0 else "NOT MET",
    )
