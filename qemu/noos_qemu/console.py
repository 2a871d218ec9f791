"""The guest's serial console, both ways: what it prints, logged to a file, and keys typed into it.

QEMU serves the console on a Unix socket and waits for this end before it
runs the guest, so nothing the firmware or kernel prints is lost. A thread
drains the socket into the log file as it comes: a console nobody reads would
fill the socket's buffer and stall the guest's serial port.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

# Keys go in one at a time, a little apart: a guest under emulation reads its
# UART slowly, and a burst overruns its 16-byte FIFO.
KEY_INTERVAL_S = 0.02


class ConsoleTap:
    def __init__(self, sock: socket.socket, log: Path) -> None:
        self._sock = sock
        # A new boot, a new log: an old one would answer waits for text at once.
        self._log = log.open("wb", buffering=0)
        self._reader = threading.Thread(target=self._drain, name="console-tap", daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            self._log.write(data)
        self._log.close()

    def type(self, text: str) -> None:
        """Type `text` on the console as a person would ("\\r" is Enter)."""
        for key in text.encode():
            self._sock.sendall(bytes([key]))
            time.sleep(KEY_INTERVAL_S)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # already closed by QEMU's exit
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._reader.join(timeout=5)
