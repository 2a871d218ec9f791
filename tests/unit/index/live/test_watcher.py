"""The watcher on a real directory, through watchdog's inotify observer, with a
recording double of the engine: what each kind of file event asks of the index."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from noosd.index.live.observer import EventsLost
from noosd.index.live.pending import PendingChanges
from noosd.index.live.roots import IndexedRoot, RootSet
from noosd.index.live.watcher import Watcher, batches_by_size
from tests.unit.index.recording_sink import FullDiskSink, RecordingSink, wait_until

QUIET_S = 0.1


@dataclass
class Watched:
    root: Path
    sink: RecordingSink
    watcher: Watcher
    rules_changed: list[Path] = field(default_factory=list)
    settled: int = 0

    def settle(self) -> None:
        """Write a file last and wait until it is indexed: every earlier event
        is then applied (wishes fall due in the order of their last event)."""
        self.settled += 1
        sentinel = self.root / f"zz-sentinel-{self.settled}.txt"
        sentinel.write_text("the last event\n")
        wait_until(lambda: str(sentinel) in self.sink.indexed_files())

    def calls(self) -> list[tuple[str, ...]]:
        return [call for call in self.sink.recorded() if "zz-sentinel" not in call[-1]]


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    root = tmp_path / "home"
    root.mkdir()
    sink = RecordingSink()
    rules_changed: list[Path] = []
    watcher = Watcher(
        sink,
        RootSet(),
        PendingChanges(quiet_s=QUIET_S),
        on_rules_changed=rules_changed.append,
    )
    watcher.start()
    watcher.watch(IndexedRoot(root))
    yield Watched(root, sink, watcher, rules_changed)
    watcher.stop()


def test_a_written_file_is_indexed_once_after_it_is_closed(watched: Watched) -> None:
    path = watched.root / "notes.md"
    path.write_text("# Groceries\n\noat milk\n")
    watched.settle()
    assert watched.calls() == [("index", str(path))]


def test_a_burst_of_writes_is_indexed_once_soon_after_the_last(watched: Watched) -> None:
    path = watched.root / "draft.txt"
    for version in range(10):  # ten saves in ~100 ms, each an open, write and close
        path.write_text(f"version {version}\n")
        time.sleep(0.01)
    watched.settle()
    assert watched.calls() == [("index", str(path))]


def test_a_file_written_without_pause_is_indexed_by_the_longest_wait(tmp_path: Path) -> None:
    sink = RecordingSink()
    root = tmp_path / "home"
    root.mkdir()
    watcher = Watcher(sink, RootSet(), PendingChanges(quiet_s=0.5, max_wait_s=0.5))
    watcher.start()
    watcher.watch(IndexedRoot(root))
    try:
        path = root / "log.txt"
        deadline = time.monotonic() + 10
        with path.open("w") as growing:
            while str(path) not in sink.indexed_files():  # never closed, never quiet
                assert time.monotonic() < deadline, "never indexed"
                growing.write("another line\n")
                growing.flush()
                time.sleep(0.01)
    finally:
        watcher.stop()


def test_a_deleted_file_is_forgotten(watched: Watched) -> None:
    path = watched.root / "old.txt"
    path.write_text("old\n")
    watched.settle()
    path.unlink()
    watched.settle()
    assert watched.calls() == [("index", str(path)), ("forget", str(path))]


def test_a_rename_moves_the_entries_instead_of_embedding_again(watched: Watched) -> None:
    old, new = watched.root / "a.py", watched.root / "b.py"
    old.write_text("print('a')\n")
    watched.settle()
    old.rename(new)
    watched.settle()
    assert watched.calls() == [("index", str(old)), ("rename", str(old), str(new))]


def test_an_atomic_save_indexes_the_file_and_never_the_temporary(watched: Watched) -> None:
    path = watched.root / "config.yaml"
    path.write_text("a: 1\n")
    watched.settle()
    temporary = watched.root / ".config.yaml.tmp-123"
    temporary.write_text("a: 2\n")
    temporary.replace(path)
    watched.settle()
    calls = watched.calls()
    assert ("index", str(temporary)) not in calls
    assert calls[-1] == ("index", str(path))
    assert {p for p in watched.sink.indexed if "zz-sentinel" not in p.name} == {path}


def test_a_renamed_directory_is_one_rename(watched: Watched) -> None:
    project = watched.root / "project"
    (project / "src").mkdir(parents=True)
    for name in ("one.py", "src/two.py"):
        (project / name).write_text(f"# {name}\n")
    watched.settle()
    project.rename(watched.root / "renamed")
    watched.settle()
    renames = [call for call in watched.calls() if call[0] == "rename"]
    assert renames == [("rename", str(project), str(watched.root / "renamed"))]
    assert sorted(watched.sink.indexed_paths(watched.root / "renamed")) == [
        watched.root / "renamed/one.py",
        watched.root / "renamed/src/two.py",
    ]


def test_a_file_moved_into_an_ignored_directory_is_forgotten_and_back_indexed(
    watched: Watched,
) -> None:
    path = watched.root / "lib.js"
    path.write_text("export const x = 1\n")
    (watched.root / "node_modules").mkdir()
    watched.settle()
    hidden = watched.root / "node_modules/lib.js"
    path.rename(hidden)
    watched.settle()
    assert watched.calls()[-1] == ("forget", str(path))
    hidden.rename(path)
    watched.settle()
    assert watched.calls()[-1] == ("index", str(path))


def test_ignored_directories_and_files_never_reach_the_engine(watched: Watched) -> None:
    for relative in (
        "node_modules/left-pad/index.js",
        "project/.git/objects/ab/cdef",
        ".venv/lib/site.py",
        "project/__pycache__/m.cpython-311.pyc",
        "photo.png",
        "build.log",
    ):
        path = watched.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("ignored\n")
    tagged = watched.root / "env"
    tagged.mkdir()
    (tagged / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tagged / "script.py").write_text("print()\n")
    watched.settle()
    assert watched.calls() == []
    assert tagged in watched.rules_changed


def test_a_noosignore_change_reloads_the_rules_and_has_the_directory_crawled(
    watched: Watched,
) -> None:
    project = watched.root / "project"
    project.mkdir()
    (project / ".noosignore").write_text("secret*.txt\n")
    watched.settle()
    assert project in watched.rules_changed
    (project / "secret-plan.txt").write_text("world domination\n")
    (project / "plan.txt").write_text("groceries\n")
    watched.settle()
    indexed = watched.sink.indexed_files()
    assert str(project / "plan.txt") in indexed
    assert str(project / "secret-plan.txt") not in indexed


def test_a_file_moved_in_from_outside_is_indexed_and_one_moved_out_forgotten(
    watched: Watched, tmp_path: Path
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("from elsewhere\n")
    inside = watched.root / "inside.txt"
    outside.rename(inside)
    watched.settle()
    assert watched.calls() == [("index", str(inside))]
    inside.rename(outside)
    watched.settle()
    assert watched.calls()[-1] == ("forget", str(inside))


def test_changes_pending_at_stop_are_applied(tmp_path: Path) -> None:
    root = tmp_path / "home"
    root.mkdir()
    sink = RecordingSink()
    watcher = Watcher(sink, RootSet(), PendingChanges(quiet_s=60.0))
    watcher.start()
    watcher.watch(IndexedRoot(root))
    (root / "late.txt").write_text("written just before the service stopped\n")
    wait_until(lambda: len(watcher.pending) == 1)
    watcher.stop()
    assert sink.recorded() == [("index", str(root / "late.txt"))]


def test_events_the_kernel_lost_have_the_root_crawled(tmp_path: Path) -> None:
    # What the observer reports when inotify's queue overflowed (a burst of
    # 100,000 files does it: tests/integration/index/test_index_many_files.py).
    root = IndexedRoot(tmp_path)
    overflowed: list[IndexedRoot] = []
    watcher = Watcher(RecordingSink(), RootSet(), on_overflow=overflowed.append)
    watcher.start()
    watcher.watch(root)
    watcher.handle(EventsLost(str(tmp_path)))
    watcher.unwatch(tmp_path)
    watcher.handle(EventsLost(str(tmp_path)))  # queued before the unwatch: nothing to crawl
    watcher.stop()
    assert overflowed == [root]


def test_a_directory_moved_in_from_outside_has_its_files_indexed(
    watched: Watched, tmp_path: Path
) -> None:
    outside = tmp_path / "download"
    (outside / "docs").mkdir(parents=True)
    for name in ("a.txt", "docs/b.md"):
        (outside / name).write_text(f"{name}\n")
    (outside / "node_modules").mkdir()
    (outside / "node_modules/c.js").write_text("ignored\n")
    outside.rename(watched.root / "download")
    watched.settle()
    assert sorted(watched.calls()) == [
        ("index", str(watched.root / "download/a.txt")),
        ("index", str(watched.root / "download/docs/b.md")),
    ]


def test_a_small_file_is_batched_apart_from_large_ones_that_changed_with_it(
    tmp_path: Path,
) -> None:
    large = [tmp_path / f"large-{n}.txt" for n in range(3)]
    for path in large:
        path.write_text("x" * 12_000)
    note = tmp_path / "note.md"
    note.write_text("a note just saved")
    gone = tmp_path / "gone.txt"
    batches = list(batches_by_size([*large, note, gone], most=32, most_bytes=16 * 1024))
    assert batches[0] == [gone, note, large[0]]  # smallest first; a vanished file costs nothing
    assert batches[1:] == [[large[1]], [large[2]]]
    assert list(batches_by_size([note, gone], most=1)) == [[gone], [note]]


def test_changes_that_find_the_disk_full_wait_and_are_applied_once_there_is_room(
    tmp_path: Path,
) -> None:
    root = tmp_path / "home"
    root.mkdir()
    (root / "old.txt").write_text("renamed while full\n")
    (root / "gone.txt").write_text("deleted while full\n")
    sink = FullDiskSink()
    sink.indexed |= {root / "old.txt", root / "gone.txt"}
    watcher = Watcher(sink, RootSet(), PendingChanges(quiet_s=QUIET_S), room_retry_s=0.05)
    watcher.start()
    watcher.watch(IndexedRoot(root))
    try:
        (root / "new.txt").write_text("written while full\n")
        (root / "old.txt").rename(root / "moved.txt")
        (root / "gone.txt").unlink()
        wait_until(lambda: sink.refused >= 3)
        assert sink.recorded() == []
        sink.room.set()
        wait_until(lambda: root / "new.txt" in sink.indexed)
    finally:
        watcher.stop()
    assert sink.indexed == {root / "new.txt", root / "moved.txt"}
