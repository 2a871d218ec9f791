"""The saved KV states' bytes: in RAM, or paged to files under the state directory.

The policy core decides which state goes where (`kvcache`); this store only
does it. Paging out writes on a thread of its own, and the state stays
readable from RAM until its file is complete, so a job resumed the moment its
state was paged out reads it from wherever it is. Files are written to a
temporary name and renamed: a crash leaves no half state under a real name,
and the store clears the directory when it opens (a state is worth nothing
to a restarted service: the jobs that held them are gone).

Each file carries a digest of its tokens and bytes, checked when it is read
back: a state damaged on disk (a flipped bit, a file changed under the
service) is discarded with a log line, and its job computes its prompt again
rather than generating from a wrong cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import struct
import threading
from array import array
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path

from noosd.scheduler.backends.base import KvState

_log = logging.getLogger(__name__)
# A state file: the number of tokens, the digest of what follows, the tokens
# (int64), then the state's bytes.
_DIGEST_BYTES = 32
_HEADER = struct.Struct(f"<Q{_DIGEST_BYTES}s")


class KvStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.kv*"):
            stale.unlink(missing_ok=True)
        self._lock = threading.Lock()
        self._in_ram: dict[str, KvState] = {}
        self._on_disk: set[str] = set()
        self._writes: dict[str, Future[None]] = {}
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kv-pager")

    def _path(self, state: str) -> Path:
        return self.directory / f"{state}.kv"

    def put(self, state: str, kv: KvState) -> None:
        with self._lock:
            self._in_ram[state] = kv

    def get(self, state: str) -> KvState | None:
        """The state, from RAM or its file; None if it was dropped or its file is unreadable."""
        with self._lock:
            kv = self._in_ram.get(state)
            on_disk = state in self._on_disk
        if kv is not None or not on_disk:
            return kv
        try:
            return _read(self._path(state))
        except (OSError, ValueError) as error:
            _log.error(
                "the saved KV state %s is unreadable, discarded (its prompt is computed again): %s",
                state,
                error,
            )
            return None

    def page_out(self, state: str) -> None:
        with self._lock:
            kv = self._in_ram.get(state)
            if kv is None:
                return
            self._writes[state] = self._writer.submit(self._write, state, kv)

    def _write(self, state: str, kv: KvState) -> None:
        path = self._path(state)
        try:
            _write(path, kv)
        except OSError as error:
            # Kept in RAM: over budget, but nothing lost.
            _log.error("paging out the KV state %s failed: %s", state, error)
            with self._lock:
                self._writes.pop(state, None)
            return
        with self._lock:
            self._writes.pop(state, None)
            if self._in_ram.pop(state, None) is None:
                path.unlink(missing_ok=True)  # dropped while it was written
            else:
                self._on_disk.add(state)

    def drop(self, state: str) -> None:
        with self._lock:
            # Paged out and dropped in one pass (the disk budget is full): not written at all.
            if (write := self._writes.pop(state, None)) is not None:
                write.cancel()
            self._in_ram.pop(state, None)
            if state in self._on_disk:
                self._on_disk.discard(state)
                self._path(state).unlink(missing_ok=True)

    def flush(self) -> None:
        """Wait for the page-outs under way: for one who must see the files."""
        with self._lock:
            writes = list(self._writes.values())
        wait(writes)

    def close(self) -> None:
        self._writer.shutdown(wait=True, cancel_futures=True)
        for state in list(self._on_disk):
            self.drop(state)


def _write(path: Path, kv: KvState) -> None:
    partial = path.with_suffix(".kv.partial")
    tokens = array("q", kv.tokens).tobytes()
    with partial.open("wb") as file:
        file.write(_HEADER.pack(len(kv.tokens), _digest(tokens, kv.data)))
        file.write(tokens)
        file.write(kv.data)
    partial.replace(path)


def _read(path: Path) -> KvState:
    # Read in place, into the state's own bytes: no slice of the file copies them again.
    with path.open("rb") as file:
        header = file.read(_HEADER.size)
        if len(header) < _HEADER.size:
            raise ValueError(f"{path} is truncated")
        count, digest = _HEADER.unpack(header)
        tokens = array("q")
        tokens.frombytes(file.read(8 * count))
        if len(tokens) < count:
            raise ValueError(f"{path} is truncated")
        data = bytearray(os.fstat(file.fileno()).st_size - file.tell())
        if file.readinto(data) != len(data):
            raise ValueError(f"{path} changed while read")
    if _digest(tokens.tobytes(), data) != digest:
        raise ValueError(f"{path} fails its integrity check")
    return KvState(data=data, tokens=tuple(tokens))


def _digest(tokens: bytes, data: bytes | bytearray) -> bytes:
    hasher = hashlib.blake2b(tokens, digest_size=_DIGEST_BYTES)
    hasher.update(data)
    return hasher.digest()
