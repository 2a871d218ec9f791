"""Many calls with long arguments must cost neither side its bus connection.

dbus-fast took a full socket (its write failing with EAGAIN) for a broken
connection and dropped it: the fuzzer (test_fuzz.py) saw `noosd system`
lose the bus and exit ("lost the connection to the bus") when its long
replies outran the bus daemon, and an SDK client drop its own connection
when its long calls did. Both connect through
noos.protocol.transport.connect_bus, whose WaitingSocket is the fix.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

from noos.bus import Connection
from noos.protocol import system
from tests.fixtures import long_calls_as
from tests.fixtures.noosd_process import NoosdProcess

NOBODY = 65534
CONNECTIONS = 4
CALLS = 50
LENGTH = 256 * 1024


async def test_long_replies_faster_than_the_bus_reads_them_keep_the_service_on_it(
    bus_address: str, noosd_system: NoosdProcess
) -> None:
    arguments = [str(NOBODY), bus_address, str(CONNECTIONS), str(CALLS), str(LENGTH)]
    attack = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, long_calls_as.__file__, *arguments],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert int(attack.stdout) == CONNECTIONS * CALLS
    assert noosd_system.process.poll() is None, noosd_system.finish() and noosd_system.stderr
    async with await Connection.open(bus_address) as connection:
        reply = await connection.call(
            system.BUS_NAME, system.OBJECT_PATH, system.INTERFACE, "Ping", "", []
        )
    assert reply
