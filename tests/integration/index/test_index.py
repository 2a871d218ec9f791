"""org.noos.Index1 on a private dbus-daemon, with the real model, engine and
inotify, watching a directory tree of real files."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from dbus_fast import Variant

from noos import FileHit, Index, InvalidArgument, NotFound
from noos.bus import Connection
from tests.fixtures import index_as, index_requests_as
from tests.fixtures.index import progress_signals, running_index
from tests.fixtures.listener import listening_as_nobody
from tests.fixtures.noosd_process import NoosdProcess

NOBODY = 65534
NOOS = Path(sys.executable).with_name("noos")
# Under TCG or a loaded host the model loads slowly; on this host it takes ~2 s.
FRESH_WITHIN_S = 60.0


@pytest.fixture(scope="module")
def tree() -> Iterator[Path]:
    """A world-searchable directory (unlike pytest's tmp_path, which is root's
    alone), holding the indexed root `home` and the media directory `media`."""
    base = Path(tempfile.mkdtemp(prefix="noos-index-"))
    base.chmod(0o755)
    (base / "home").mkdir()
    (base / "media").mkdir()
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def home(tree: Path) -> Path:
    return tree / "home"


@pytest.fixture(scope="module")
def index_service(
    bus_address: str, tree: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NoosdProcess]:
    # There before the service starts: the first crawl finds it.
    write(
        tree / "home/before/expedition.md", "# Expedition\n\nThe glacier crossing needs crampons.\n"
    )
    state = tmp_path_factory.mktemp("index-state")
    with running_index(bus_address, state, tree / "home", tree / "media") as process:
        yield process


@pytest_asyncio.fixture
async def index(index_service: NoosdProcess, connection: Connection) -> AsyncIterator[Index]:
    yield Index(connection)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


async def eventually(check: Callable[[], Awaitable[bool]], within: float = FRESH_WITHIN_S) -> None:
    """Poll `check` until it holds; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not true within {within} s")


async def hits_for(index: Index, query: str) -> dict[str, FileHit]:
    return {hit.path: hit for hit in await index.search(query, limit=50)}


async def found(index: Index, query: str, path: Path, text: str = "") -> bool:
    """Whether searching `query` finds `path` with `text` in its snippet."""
    hit = (await hits_for(index, query)).get(str(path))
    return hit is not None and text in hit.snippet


async def test_the_first_crawl_finds_what_was_there_before(index: Index, home: Path) -> None:
    path = home / "before/expedition.md"
    await eventually(lambda: found(index, "glacier crossing crampons", path, "crampons"))
    hit = (await hits_for(index, "glacier crossing crampons"))[str(path)]
    assert hit.language == "markdown"
    assert hit.snippet.splitlines()[0].split()[0] == str(hit.start_line)  # numbered lines


async def test_a_written_file_is_searchable_within_seconds_and_an_edit_replaces_it(
    index: Index, home: Path
) -> None:
    path = write(home / "lighthouse.txt", "The keeper polishes the brass lens of the lighthouse.\n")
    await eventually(lambda: found(index, "lighthouse brass lens", path, "lighthouse"))
    write(path, "The beekeeper inspects the hive frames for queen cells.\n")
    await eventually(lambda: found(index, "beekeeper hive queen cells", path, "beekeeper"))
    stale = await hits_for(index, "lighthouse brass lens")
    assert all("lighthouse" not in hit.snippet for hit in stale.values())


async def test_a_renamed_file_is_found_at_its_new_path_only(index: Index, home: Path) -> None:
    old = write(home / "kayak.md", "# Kayak trip\n\nPack the dry bags and the spare paddle.\n")
    await eventually(lambda: found(index, "kayak dry bags paddle", old))
    new = home / "trips/kayak-2026.md"
    new.parent.mkdir()
    old.rename(new)
    await eventually(lambda: found(index, "kayak dry bags paddle", new))
    assert str(old) not in await hits_for(index, "kayak dry bags paddle")


async def test_a_deleted_file_is_forgotten(index: Index, home: Path) -> None:
    path = write(home / "sourdough.txt", "Feed the sourdough starter with rye flour twice a day.\n")
    await eventually(lambda: found(index, "sourdough starter rye flour", path))
    path.unlink()

    async def gone() -> bool:
        return str(path) not in await hits_for(index, "sourdough starter rye flour")

    await eventually(gone)


async def test_ignored_files_are_never_indexed(index: Index, home: Path) -> None:
    project = home / "orchard"
    write(project / ".noosignore", "drafts/\n")
    ignored = [
        write(project / "node_modules/pkg/readme.md", "Zanzibar clove plantation harvest.\n"),
        write(project / "drafts/idea.md", "Zanzibar clove plantation harvest plans.\n"),
        write(project / "build.log", "Zanzibar clove plantation harvest log.\n"),
    ]
    sentinel = write(project / "plan.md", "Zanzibar clove plantation harvest, final.\n")
    await eventually(lambda: found(index, "Zanzibar clove plantation harvest", sentinel))
    hits = await hits_for(index, "Zanzibar clove plantation harvest")
    assert not set(map(str, ignored)) & set(hits)
    skipped = await index.index_file(ignored[1])
    assert skipped.skipped is not None and skipped.skipped.startswith("ignored:")
    assert ".noosignore" in skipped.skipped


async def test_index_file_and_forget_on_request(index: Index, home: Path) -> None:
    path = write(
        home / "telescope.txt", "Collimate the telescope mirror before observing Saturn.\n"
    )
    await eventually(lambda: found(index, "collimate telescope mirror Saturn", path))
    again = await index.index_file(path)
    assert (again.embedded, again.skipped) == (0, None)  # unchanged: nothing embedded
    assert await index.forget(path) == 1
    assert str(path) not in await hits_for(index, "collimate telescope mirror Saturn")
    indexed = await index.index_file(path)
    assert indexed.skipped is None and indexed.embedded + indexed.kept >= 1
    assert str(path) in await hits_for(index, "collimate telescope mirror Saturn")


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
async def test_a_user_finds_only_what_they_may_read(
    index: Index, home: Path, bus_address: str
) -> None:
    shared = write(home / "vault/where.txt", "The vault is behind the painting in the study.\n")
    private = write(home / "vault/combination.txt", "The vault combination is 31-41-59.\n")
    private.chmod(0o600)  # root's alone
    for path in (shared, private):
        await eventually(lambda path=path: found(index, "vault combination painting", path))
    other_user = await asyncio.create_subprocess_exec(
        sys.executable,
        index_as.__file__,
        str(NOBODY),
        bus_address,
        "vault combination painting",
        str(private),
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(other_user.communicate(), timeout=120)
    assert other_user.returncode == 0
    nobody = json.loads(stdout)
    assert str(shared) in nobody["found"]
    assert str(private) not in nobody["found"]
    assert nobody["index_private"] == "org.noos.Error.PermissionDenied"
    assert nobody["forget_private"] == "org.noos.Error.PermissionDenied"
    assert nobody["search_as_root"] == "org.noos.Error.PermissionDenied"
    # A chmod counts at the next search, without re-indexing.
    private.chmod(0o644)
    assert str(private) in await hits_for(index, "vault combination painting")


async def requests_as(uid: int, bus_address: str, *specs: str) -> list[dict[str, object]]:
    """What `index_requests_as` answers to `specs` asked as `uid`."""
    other_user = await asyncio.create_subprocess_exec(
        sys.executable,
        index_requests_as.__file__,
        str(uid),
        bus_address,
        *specs,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(other_user.communicate(), timeout=120)
    assert other_user.returncode == 0
    answers: list[dict[str, object]] = json.loads(stdout)
    return answers


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
async def test_another_user_may_not_forget_your_file_that_they_may_read(
    index: Index, home: Path, bus_address: str
) -> None:
    """Finding 9: a file anyone may read is still its owner's to forget."""
    yours = write(home / "hideable/risotto.txt", "Stir the saffron risotto for twenty minutes.\n")
    theirs = write(home / "hideable/gnocchi.txt", "Rice the potatoes for the gnocchi dough.\n")
    os.chown(theirs, NOBODY, NOBODY)
    for path, query in ((yours, "saffron risotto"), (theirs, "gnocchi potatoes")):
        await eventually(lambda path=path, query=query: found(index, query, path))
    forgot_yours, forgot_theirs = await requests_as(
        NOBODY, bus_address, f"forget:{yours}", f"forget:{theirs}"
    )
    assert forgot_yours == {"error": "org.noos.Error.PermissionDenied"}
    assert str(yours) in await hits_for(index, "saffron risotto")
    assert forgot_theirs == {"forgot": 1}
    assert str(theirs) not in await hits_for(index, "gnocchi potatoes")


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
async def test_another_users_private_words_do_not_reorder_my_own_hits(
    index: Index, home: Path, bus_address: str
) -> None:
    """Finding 5, word weights: nobody searches two rare words, each in one of
    its own files; another user's private files full of the first word must not
    lower that word's weight, and so move nobody's files (and scores) about."""
    mine = home / "herbarium"
    mine.mkdir()
    os.chown(mine, NOBODY, NOBODY)
    # Of equal weight, the newer chunk ranks first by words: the first word's
    # file is indexed last. Each is nobody's before it has its text, so that
    # no later chown indexes them again, in another order.
    second, first = mine / "wren.txt", mine / "tarn.txt"
    for path, query, text in (
        (second, "sedgewren", "Field notes: the sedgewren sings from the reed bed.\n"),
        (first, "quillwort", "Field notes: the quillwort grows in the shallow tarn.\n"),
    ):
        path.touch()
        os.chown(path, NOBODY, NOBODY)
        write(path, text)
        await eventually(lambda path=path, query=query: found(index, query, path))
    theirs = home / "victim-herbarium"
    theirs.mkdir(mode=0o700)
    private = write(
        theirs / "survey.txt",
        "\n\n".join(
            f"Plot {n}: quillwort counted at {n * 7} stems, depth {n % 5} m, site {n * 13}."
            for n in range(200)
        ),
    )
    private.chmod(0o600)
    for path in (theirs, private):
        os.chown(path, 4242, 4242)

    async def my_scores() -> dict[str, float]:
        (answer,) = await requests_as(NOBODY, bus_address, "search:quillwort sedgewren")
        scores: dict[str, float] = answer["scores"]  # type: ignore[assignment]
        assert str(private) not in scores
        assert {str(first), str(second)} <= scores.keys()
        return scores

    alone = await my_scores()
    await eventually(lambda: found(index, "quillwort", private))
    beside_theirs = await my_scores()
    shutil.rmtree(theirs)

    async def forgotten() -> bool:
        return str(private) not in await hits_for(index, "quillwort")

    await eventually(forgotten)
    assert (beside_theirs, await my_scores()) == (alone, alone)


@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
async def test_an_ignored_reply_quotes_no_rule_the_caller_may_not_read(
    index: Index, home: Path, bus_address: str
) -> None:
    """Finding 9: a `.noosignore` only its owner may read is not quoted to
    another user whose file it leaves out; its owner reads the rule."""
    rules = write(home / "ruled/.noosignore", "merger-with-acme-*\n")
    rules.chmod(0o600)  # root's alone
    ruled = write(home / "ruled/merger-with-acme-q3.txt", "Nothing here.\n")
    (indexed,) = await requests_as(NOBODY, bus_address, f"index:{ruled}")
    skipped = str(indexed["skipped"])
    assert skipped.startswith("ignored:")
    assert "merger-with-acme-*" not in skipped
    mine = await index.index_file(ruled)
    assert mine.skipped is not None and "merger-with-acme-*" in mine.skipped


async def test_a_symbolic_link_never_pulls_in_what_it_points_to(index: Index, home: Path) -> None:
    link = home / "links/hostname"
    link.parent.mkdir()
    link.symlink_to("/etc/hostname")
    with pytest.raises(InvalidArgument, match="not a regular file"):
        await index.index_file(link)
    sentinel = write(home / "links/after.txt", "The marmot whistles from the scree slope.\n")
    await eventually(lambda: found(index, "marmot whistles scree", sentinel))
    assert not any(hit.path == str(link) for hit in await index.search("hostname", limit=50))


async def test_a_file_name_that_is_not_utf8_is_found_with_its_bytes_escaped(
    index: Index, home: Path
) -> None:
    path = Path(os.fsdecode(bytes(home) + b"/caf\xe9.txt"))
    write(path, "The espresso machine descales on the first Monday.\n")
    shown = str(home) + "/caf\\xe9.txt"
    await eventually(lambda: found(index, "espresso machine descales", Path(shown)))


@pytest.mark.parametrize(
    ("member", "signature", "body", "error"),
    [
        ("IndexFile", "s", ["relative/path.txt"], InvalidArgument),
        ("IndexFile", "s", [""], InvalidArgument),
        ("IndexFile", "s", ["/" + "x" * 5000], InvalidArgument),
        ("IndexFile", "s", ["/etc/hostname"], InvalidArgument),  # under no indexed root
        ("IndexFile", "s", ["{home}/no/such/file.txt"], NotFound),
        ("IndexFile", "s", ["{home}/before"], InvalidArgument),  # a directory
        ("Forget", "s", ["{home}/no/such/file.txt"], NotFound),
        ("Forget", "s", ["../escape"], InvalidArgument),
        ("Search", "sua{sv}", ["query", 0, {}], InvalidArgument),
        ("Search", "sua{sv}", ["query", 10**9, {}], InvalidArgument),
        ("Search", "sua{sv}", ["q" * 5000, 5, {}], InvalidArgument),
        ("Search", "sua{sv}", ["", 5, {}], InvalidArgument),
        ("Search", "sua{sv}", ["query", 5, {"colour": Variant("s", "red")}], InvalidArgument),
        ("Search", "sua{sv}", ["query", 5, {"for_uid": Variant("s", "root")}], InvalidArgument),
        ("Search", "s", ["query"], InvalidArgument),  # the wrong signature
    ],
)
async def test_bad_input_is_refused_clearly_and_the_service_stays_up(
    index: Index,
    connection: Connection,
    home: Path,
    member: str,
    signature: str,
    body: list[object],
    error: type[Exception],
) -> None:
    body = [part.format(home=home) if isinstance(part, str) else part for part in body]
    with pytest.raises(error) as raised:
        await connection.call(
            Index.bus_name, Index.object_path, Index.interface, member, signature, body
        )
    assert str(raised.value)  # a message that says what was wrong
    assert isinstance(await index.search("glacier crossing", limit=1), list)


async def nobodys_view(bus_address: str, private: Path) -> dict[str, Any]:
    """What index_as.py says as NOBODY (searching, and trying `private`)."""
    other_user = await asyncio.create_subprocess_exec(
        sys.executable,
        index_as.__file__,
        str(NOBODY),
        bus_address,
        "anything",
        str(private),
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(other_user.communicate(), timeout=120)
    assert other_user.returncode == 0
    view: dict[str, Any] = json.loads(stdout)
    return view


async def test_another_user_is_told_nothing_of_my_files_by_the_counts_or_progress(
    index: Index, bus_address: str, home: Path
) -> None:
    # The attack: the counts (FilesIndexed, Queued, Failed) and the Progress
    # signal, broadcast, told everyone when and how much any user wrote.
    async with listening_as_nobody(
        bus_address, Index.bus_name, Index.object_path, Index.interface, "WatchProgress"
    ) as listener:
        path = write(home / "diary/monday.txt", "Dear diary, the heron came back to the weir.\n")
        path.parent.chmod(0o700)
        await eventually(lambda: found(index, "heron back at the weir", path))
        await asyncio.sleep(2)  # a Progress or two after it
    nobody = (await nobodys_view(bus_address, path))["status"]
    mine = await index.status()

    assert mine.files_indexed >= 1
    # NOBODY's own files (none: its home is /nonexistent), not mine.
    assert (nobody["files_indexed"], nobody["failed"], nobody["queued"]) == (0, 0, 0)
    heard = listener.report["heard"]
    assert {member for _, _, member, _ in heard} <= {"Progress"}, heard
    assert all(body == "[0, 0]" for _, _, _, body in heard), heard


async def test_status_reindex_and_progress(
    index: Index, connection: Connection, home: Path
) -> None:
    progress = await progress_signals(connection)
    path = write(home / "progress.txt", "Wind the grandfather clock every Sunday.\n")
    await eventually(lambda: found(index, "wind grandfather clock", path))

    async def reported() -> bool:
        return bool(progress)

    await eventually(reported, within=10)
    assert all(len(body) == 2 for body in progress)
    status = await index.status()
    assert status.files_indexed >= 1 and status.bytes > 0
    assert status.roots == (str(home),)
    await index.reindex()

    async def crawled() -> bool:
        return not (await index.status()).crawling

    await eventually(crawled)
    assert str(path) in await hits_for(index, "wind grandfather clock")


def noos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(NOOS), *args], capture_output=True, text=True, timeout=60, check=False
    )


async def test_the_command_line_prints_path_line_and_snippet(
    index: Index, home: Path, bus_address: str
) -> None:
    path = write(home / "cli/recipe.txt", "Simmer the tomato sauce with basil for an hour.\n")
    await eventually(lambda: found(index, "tomato sauce basil", path))
    result = await asyncio.to_thread(
        noos, "--bus", bus_address, "index", "search", "tomato sauce basil"
    )
    assert result.returncode == 0, result.stderr
    assert f"{path}:1: (text, modified " in result.stdout
    assert "1  Simmer the tomato sauce" in result.stdout
    status = await asyncio.to_thread(noos, "--bus", bus_address, "--json", "index", "status")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["roots"] == [str(home)]
    empty = await asyncio.to_thread(noos, "--bus", bus_address, "index", "search", "")
    assert empty.returncode == 1 and empty.stderr.startswith("noos: ")


async def run(*command: str) -> bool:
    """Run a command (mkfs, mount...); whether it succeeded."""
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, check=False)
    return done.returncode == 0


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("mkfs.ext4") is None, reason="mounting needs root"
)
async def test_removable_media_are_hidden_when_unmounted_and_back_when_mounted(
    index: Index, tree: Path, tmp_path: Path, bus_address: str
) -> None:
    image, stick = tmp_path / "stick.img", tree / "media/stick"
    stick.mkdir()
    assert await run("truncate", "-s", "8M", str(image))
    assert await run("mkfs.ext4", "-q", "-F", str(image))
    if not await run("mount", "-o", "loop", str(image), str(stick)):
        pytest.skip("loop devices cannot be mounted here")
    try:
        stick.chmod(0o755)
        path = write(stick / "holiday.md", "# Holiday\n\nThe ferry to the island leaves at dawn.\n")
        await eventually(lambda: found(index, "ferry island dawn", path))
        # Root's stick is root's business: another user is not told of it...
        assert str(stick) in (await index.status()).roots
        assert str(stick) not in (await nobodys_view(bus_address, path))["status"]["roots"]
        # ...but of one mounted for them (owned by them), it is.
        os.chown(stick, NOBODY, NOBODY)
        assert str(stick) in (await nobodys_view(bus_address, path))["status"]["roots"]
        os.chown(stick, 0, 0)
        hit = (await hits_for(index, "ferry island dawn"))[str(path)]
        assert hit.device == str(stick)  # no udev here: named by its mount point
        assert await run("umount", str(stick))

        async def hidden() -> bool:
            return str(path) not in await hits_for(index, "ferry island dawn")

        await eventually(hidden)
        assert await run("mount", "-o", "loop", str(image), str(stick))
        await eventually(lambda: found(index, "ferry island dawn", path))
        again = await index.index_file(path)
        assert again.embedded == 0  # hidden, never deleted: nothing to embed again
    finally:
        await run("umount", str(stick))


async def test_the_service_reports_its_work_loops_progress(
    index: Index, connection: Connection, home: Path
) -> None:
    """org.noos.Service1.Health: what the crawler and the watcher have done, and
    that neither is stuck: what an e2e wait reads to fail early and say why."""
    written = write(
        home / "health/lighthouse.md", "# Lighthouse\n\nThe lamp turns twice a minute.\n"
    )
    await eventually(lambda: found(index, "how fast does the lamp turn", written))
    loops = {
        loop[0]: loop
        for loop in await connection.get_property(
            "org.noos.Index1", "/org/noos/Index1", "org.noos.Service1", "Health"
        )
    }
    assert set(loops) == {"index-crawler", "index-watcher"}
    completed, last_done = loops["index-watcher"][4:6]
    assert completed >= 1 and 0 < time.time() - last_done < FRESH_WITHIN_S
    assert not any(loop[6] for loop in loops.values())
