"""The crawl: its walk order, what it leaves out, batches, and resuming from its checkpoint."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from noos.protocol.errors import Unavailable
from noosd.index.live.crawler import (
    CHECKPOINT_FILE,
    STOP_WAIT_S,
    Checkpoint,
    Crawler,
    CrawlJob,
    done_before,
    walk,
)
from noosd.index.live.roots import IndexedRoot, RootSet
from noosd.index.live.sink import Interrupted
from tests.unit.index.recording_sink import FullDiskSink, RecordingSink, wait_until


def make_tree(root: Path, count: int) -> list[Path]:
    """`count` text files in nested directories, and some that are ignored."""
    files = []
    for n in range(count):
        path = root / f"d{n % 7}" / f"sub{n % 3}" / f"file{n:03}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file number {n}\n")
        files.append(path)
    for ignored in ("node_modules/x/index.js", "d1/.git/HEAD", "d2/image.png"):
        (root / ignored).parent.mkdir(parents=True, exist_ok=True)
        (root / ignored).write_text("ignored\n")
    return files


def roots_with(root: Path) -> RootSet:
    roots = RootSet()
    roots.add(IndexedRoot(root))
    return roots


def test_the_walk_is_in_the_order_of_path_parts_and_skips_what_is_ignored(tmp_path: Path) -> None:
    files = make_tree(tmp_path, 30)
    (tmp_path / "link.txt").symlink_to(files[0])
    (tmp_path / "linked-dir").symlink_to(tmp_path / "d0", target_is_directory=True)
    entries = list(walk(IndexedRoot(tmp_path), tmp_path))
    found = [entry.path for entry in entries if not entry.ignored]
    assert found == sorted(files, key=lambda path: path.relative_to(tmp_path).parts)
    assert {entry.path.name for entry in entries if entry.ignored} == {
        "node_modules",
        ".git",
        "image.png",
    }


def test_the_walk_resumes_after_a_checkpoint_without_opening_what_came_before(
    tmp_path: Path,
) -> None:
    files = make_tree(tmp_path, 30)
    ordered = [entry for entry in walk(IndexedRoot(tmp_path), tmp_path) if not entry.ignored]
    after = ordered[11].parts
    rest = [
        entry.path for entry in walk(IndexedRoot(tmp_path), tmp_path, after) if not entry.ignored
    ]
    assert rest == [entry.path for entry in ordered[12:]]
    assert len(files) == 30
    assert done_before(("a",), ("b",)) and not done_before(("b",), ("b", "c"))
    assert done_before(("b", "c"), ("b", "c")) and not done_before(("b", "d"), ("b", "c"))


def test_a_crawl_indexes_everything_in_batches_and_forgets_what_went(tmp_path: Path) -> None:
    files = make_tree(tmp_path, 40)
    sink = RecordingSink()
    gone = tmp_path / "d3/deleted-while-down.txt"
    now_ignored = tmp_path / "node_modules/x/index.js"
    sink.indexed |= {gone, now_ignored}
    batches: list[int] = []
    crawler = Crawler(
        sink,
        roots_with(tmp_path),
        tmp_path / CHECKPOINT_FILE,
        batch_size=16,
        on_batch=batches.append,
    )
    crawler.start(catch_up=[tmp_path])
    wait_until(lambda: not crawler.crawling)
    crawler.stop()
    assert sorted(sink.indexed_files()) == sorted(map(str, files))
    assert batches == [16, 16, 8]
    assert sorted(sink.indexed_files("forget")) == sorted([str(gone), str(now_ignored)])
    assert Checkpoint.load(tmp_path / CHECKPOINT_FILE) == Checkpoint()


class FailingSink(RecordingSink):
    """The engine goes away after `batches` batches (the service is killed)."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.left = batches

    def index_files(
        self,
        paths: Sequence[Path],
        *,
        device: str | None = None,
        interrupt: threading.Event | None = None,
    ) -> object:
        if self.left == 0:
            raise Unavailable("the index engine could not be opened: gone")
        self.left -= 1
        return super().index_files(paths, device=device)


def test_a_crawl_that_finds_the_disk_full_waits_and_goes_on_from_where_it_was(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    files = make_tree(home, 50)
    sink = FullDiskSink(batches=2)
    crawler = Crawler(
        sink, roots_with(home), tmp_path / CHECKPOINT_FILE, batch_size=10, room_retry_s=0.05
    )
    crawler.start(catch_up=[home])
    wait_until(lambda: sink.refused >= 3)
    # Still at it, the job kept and nothing past the full disk lost.
    assert crawler.running and crawler.crawling
    assert len(sink.indexed_files()) == 20
    sink.room.set()
    wait_until(lambda: not crawler.crawling)
    crawler.stop()
    assert sorted(sink.indexed_files()) == sorted(map(str, files))


def test_a_crawl_cut_short_continues_from_its_checkpoint_not_from_the_start(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    files = make_tree(home, 50)
    checkpoint = tmp_path / CHECKPOINT_FILE
    first = FailingSink(batches=2)
    crawler = Crawler(first, roots_with(home), checkpoint, batch_size=10)
    crawler.start(catch_up=[home])
    wait_until(lambda: not crawler.running)  # it ends when the engine goes
    assert len(first.indexed_files()) == 20
    saved = Checkpoint.load(checkpoint)
    assert saved.jobs == (CrawlJob(home),) and saved.after is not None

    second = RecordingSink()
    second.indexed = set(first.indexed)
    crawler = Crawler(second, roots_with(home), checkpoint, batch_size=10)
    crawler.start(catch_up=[home])
    wait_until(lambda: not crawler.crawling)
    crawler.stop()
    assert set(second.indexed_files()).isdisjoint(first.indexed_files())
    assert sorted(first.indexed_files() + second.indexed_files()) == sorted(map(str, files))
    assert second.indexed_files("forget") == []  # what the first run did is not lost


def test_a_stopped_crawl_indexes_each_file_once_across_the_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    files = make_tree(home, 60)
    checkpoint = tmp_path / CHECKPOINT_FILE
    first = RecordingSink()
    two_batches = threading.Event()
    crawler = Crawler(
        first,
        roots_with(home),
        checkpoint,
        batch_size=5,
        on_batch=lambda _: two_batches.set() if len(first.indexed_files()) >= 10 else None,
    )
    crawler.start(catch_up=[home])
    two_batches.wait(10)
    crawler.stop()

    second = RecordingSink()
    second.indexed = set(first.indexed)
    crawler = Crawler(second, roots_with(home), checkpoint, batch_size=5)
    crawler.start(catch_up=[home])
    wait_until(lambda: not crawler.crawling)
    crawler.stop()
    indexed = first.indexed_files() + second.indexed_files()
    assert sorted(indexed) == sorted(map(str, files))  # each once


def test_a_crawl_asked_for_during_one_under_way_is_queued_after_it(tmp_path: Path) -> None:
    # The walk under way may have passed what changed (events inotify lost).
    home = tmp_path / "home"
    files = make_tree(home, 30)
    sink = RecordingSink()
    first_batch, go_on = threading.Event(), threading.Event()
    crawler = Crawler(
        sink,
        roots_with(home),
        tmp_path / CHECKPOINT_FILE,
        batch_size=10,
        on_batch=lambda _: (first_batch.set(), go_on.wait(10)),
    )
    crawler.start(catch_up=[home])
    assert first_batch.wait(10)
    assert crawler.crawl(home)
    assert not crawler.crawl(home / "d1")  # the job queued after it covers that
    go_on.set()
    wait_until(lambda: not crawler.crawling)
    crawler.stop()
    assert sorted(sink.indexed_files()) == sorted(map(str, files * 2))


def test_queued_jobs_never_repeat_a_directory_and_media_jobs_can_be_cancelled(
    tmp_path: Path,
) -> None:
    crawler = Crawler(RecordingSink(), RootSet(), tmp_path / CHECKPOINT_FILE)
    assert crawler.crawl(tmp_path / "home")
    assert not crawler.crawl(tmp_path / "home/u/project")
    assert crawler.crawl(tmp_path / "media/usb")
    assert crawler.crawl(tmp_path / "media/usb2")
    crawler.cancel_under(tmp_path / "media/usb")
    assert not crawler.crawl(tmp_path / "home")
    assert crawler.crawl(tmp_path / "media/usb")


def test_a_batch_size_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        Crawler(RecordingSink(), RootSet(), tmp_path / CHECKPOINT_FILE, batch_size=0)


class LongBatchSink(RecordingSink):
    """A batch that lasts until it is interrupted (a slow machine's crawl),
    or, deaf to the interrupt, until `release` (a crawl at nice 19 on a busy
    machine, which takes minutes to look at it)."""

    def __init__(self, *, deaf: bool) -> None:
        super().__init__()
        self.deaf = deaf
        self.in_batch = threading.Event()
        self.release = threading.Event()

    def index_files(
        self,
        paths: Sequence[Path],
        *,
        device: str | None = None,
        interrupt: threading.Event | None = None,
    ) -> object:
        assert interrupt is not None
        self.in_batch.set()
        (self.release if self.deaf else interrupt).wait(30)
        raise Interrupted("interrupted")


@pytest.mark.parametrize("deaf", [False, True], ids=["interrupted", "starved"])
def test_stopping_does_not_wait_for_the_batch_under_way_and_keeps_it_for_the_next_start(
    tmp_path: Path, deaf: bool
) -> None:
    home = tmp_path / "home"
    make_tree(home, 30)
    checkpoint = tmp_path / CHECKPOINT_FILE
    sink = LongBatchSink(deaf=deaf)
    crawler = Crawler(sink, roots_with(home), checkpoint, batch_size=10)
    crawler.start(catch_up=[home])
    assert sink.in_batch.wait(10)
    started = time.monotonic()
    crawler.stop(timeout=0.5 if deaf else STOP_WAIT_S)
    assert time.monotonic() - started < 5
    assert Checkpoint.load(checkpoint) == Checkpoint((CrawlJob(home),), None)
    sink.release.set()
