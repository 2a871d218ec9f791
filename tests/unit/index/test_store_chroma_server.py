"""A Chroma server instead of the embedded chromadb (`chroma_url`): a real
`chroma run` on a free local port, written to and searched through
`chromadb.HttpClient`; when it goes away, the engine goes on exactly in RAM."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from noosd.index.storage.chroma import DEFAULT_COLLECTION, ChromaIndex
from noosd.index.store import Caller, IndexStore
from tests.unit.index.test_store import PARAGRAPHS, chunk_rows, notes, write

ALICE = Caller(1000, frozenset({1000}))
CHROMA = Path(sys.executable).parent / "chroma"
START_TIMEOUT_S = 60.0


class ChromaServer:
    """`chroma run` on a free port, storing under `path`."""

    def __init__(self, path: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [CHROMA, "run", "--path", path, "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._answers():
            if time.monotonic() > deadline or self._process.poll() is not None:
                self.stop()
                raise RuntimeError(f"chroma run did not start on port {self.port}")
            time.sleep(0.2)

    def ids(self) -> set[int]:
        chroma = ChromaIndex(Path("/nonexistent"), self.url, DEFAULT_COLLECTION)
        try:
            return chroma.all_ids()
        finally:
            chroma.close()

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(timeout=30)

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1):
                return True
        except OSError:
            return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ChromaServer]:
    if not CHROMA.exists():
        pytest.skip(f"no Chroma server binary at {CHROMA}")
    running = ChromaServer(tmp_path / "chroma-server")
    yield running
    running.stop()


def test_the_index_follows_sqlite_on_a_chroma_server(
    server: ChromaServer, make_engine: Callable[..., IndexStore], files: Path, state_dir: Path
) -> None:
    engine = make_engine(chroma_url=server.url, exact_max_rows=0)
    kept = write(files / "flat.txt", "\n\n".join(PARAGRAPHS) + "\n")
    gone = write(files / "garden.md", "# Garden\n\nWater the tomatoes every evening.\n")
    engine.index_files([kept, gone])
    engine.forget(gone)

    assert server.ids() == chunk_rows(state_dir).keys()
    assert [hit.path for hit in engine.search("when does the plumber come?", 1, ALICE)] == [
        str(kept)
    ]
    assert not (state_dir / "chroma").exists()


def test_a_chroma_server_that_goes_away_is_caught_up_at_the_next_open(
    make_engine: Callable[..., IndexStore], tmp_path: Path, files: Path, state_dir: Path
) -> None:
    first_server = ChromaServer(tmp_path / "chroma-server")
    engine = make_engine(chroma_url=first_server.url, exact_max_rows=0)
    engine.index_file(write(files / "flat.txt", notes(PARAGRAPHS[:2])))
    first_server.stop()

    late = write(files / "garden.md", "# Garden\n\nWater the tomatoes every evening.\n")
    engine.index_file(late)
    assert [hit.path for hit in engine.search("tomatoes", 1, ALICE)] == [str(late)]
    engine.close()

    # A new, empty server at another address: the next open writes it all.
    second_server = ChromaServer(tmp_path / "another-server")
    try:
        make_engine(chroma_url=second_server.url)
        assert second_server.ids() == chunk_rows(state_dir).keys()
    finally:
        second_server.stop()
