"""Where a service's log goes: the journal when there is one, else stderr."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from systemd.journal import JournalHandler

JOURNAL_SOCKET = Path("/run/systemd/journal/socket")
LOG_LEVELS = ("debug", "info", "warning", "error")


def configure_logging(identifier: str, level: str = "info") -> None:
    """Send the process's log to the journal as `identifier`, or to stderr."""
    handler: logging.Handler
    if JOURNAL_SOCKET.exists():
        handler = JournalHandler(SYSLOG_IDENTIFIER=identifier)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"{identifier}: %(levelname)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
