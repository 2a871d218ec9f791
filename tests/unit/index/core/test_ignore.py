"""Which files are left out: default rules, .noosignore files, tagged
directories and size limits, each with its reason."""

from __future__ import annotations

from pathlib import Path, PurePath

import pytest

from noos.protocol.errors import InvalidArgument
from noosd.index.core.filetypes import file_type
from noosd.index.core.ignore import CACHEDIR_SIGNATURE, IgnoreRules, SizeLimits


def touch(root: Path, relative: str, content: bytes = b"x\n") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def ignored(rules: IgnoreRules, path: Path) -> bool:
    return rules.is_ignored(path, path.is_dir())


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def test_vcs_internals_dependencies_and_caches_are_ignored_but_a_repository_is_indexed(
    home: Path,
) -> None:
    leftovers = [
        touch(home, "proj/.git/config"),
        touch(home, "proj/.git/objects/ab/cdef"),
        touch(home, "proj/node_modules/lib/index.js"),
        touch(home, "proj/.venv/lib/python3.11/site-packages/six.py"),
        touch(home, "proj/src/__pycache__/main.cpython-311.pyc"),
        touch(home, "proj/build.log"),
        touch(home, ".cache/pip/http/entry"),
        touch(home, ".ssh/id_ed25519"),
        touch(home, "Pictures/cat.jpg"),
    ]
    sources = [
        touch(home, "proj/src/main.py"),
        touch(home, "proj/README.md"),
        touch(home, "proj/.gitignore"),
        touch(home, "notes/todo.txt"),
    ]
    rules = IgnoreRules(home)

    assert [path for path in leftovers if not ignored(rules, path)] == []
    assert [path for path in sources if ignored(rules, path)] == []
    assert ignored(rules, home / "proj/.git")
    assert ignored(rules, home / "proj/node_modules")


def test_the_reason_names_the_rule_and_the_ignored_directory(home: Path) -> None:
    module = touch(home, "proj/node_modules/lib/index.js")
    rules = IgnoreRules(home)

    assert rules.why_ignored(home / "proj/node_modules", is_dir=True) == (
        "default rule node_modules/"
    )
    assert rules.why_ignored(module, is_dir=False) == (
        f"inside {home / 'proj/node_modules'} (default rule node_modules/)"
    )
    assert rules.why_ignored(home / "proj", is_dir=True) is None
    assert rules.why_ignored(home, is_dir=True) is None


def test_virtual_environments_and_caches_are_recognised_by_their_tags(home: Path) -> None:
    touch(home, "proj/py311/pyvenv.cfg", b"home = /usr/bin\n")
    activate = touch(home, "proj/py311/bin/activate")
    touch(home, "proj/target/CACHEDIR.TAG", CACHEDIR_SIGNATURE + b"\n# cargo\n")
    artifact = touch(home, "proj/target/debug/build.rs")
    touch(home, "proj/fake/CACHEDIR.TAG", b"not the signature\n")
    kept = touch(home, "proj/fake/notes.txt")
    rules = IgnoreRules(home)

    assert rules.why_ignored(activate, is_dir=False) == (
        f"inside {home / 'proj/py311'} (a virtual environment)"
    )
    assert ignored(rules, artifact)
    assert not ignored(rules, kept)


def test_a_noosignore_applies_to_its_directory_and_below(home: Path) -> None:
    touch(home, "proj/.noosignore", b"# generated\nbuild/\n*.csv\n/docs/private/\n")
    rules = IgnoreRules(home)

    assert ignored(rules, touch(home, "proj/build/out.txt"))
    assert ignored(rules, touch(home, "proj/deep/er/data.csv"))
    assert ignored(rules, touch(home, "proj/docs/private/diary.md"))
    # A pattern with a slash is anchored to the .noosignore's directory.
    assert not ignored(rules, touch(home, "proj/sub/docs/private/readme.md"))
    # Outside the directory, the rules do not apply.
    assert not ignored(rules, touch(home, "other/data.csv"))
    assert rules.why_ignored(home / "proj/deep/er/data.csv", is_dir=False) == (
        f"{home / 'proj/.noosignore'}: *.csv"
    )


def test_a_deeper_noosignore_overrides_a_shallower_one_and_the_defaults(home: Path) -> None:
    touch(home, ".noosignore", b"*.csv\n!*.log\n")
    touch(home, "proj/data/.noosignore", b"!keep.csv\n")
    rules = IgnoreRules(home)

    assert not ignored(rules, touch(home, "proj/data/keep.csv"))
    assert ignored(rules, touch(home, "proj/data/other.csv"))
    assert ignored(rules, touch(home, "proj/keep.csv"))
    assert not ignored(rules, touch(home, "proj/server.log"))


def test_nothing_inside_an_ignored_directory_can_be_re_included(home: Path) -> None:
    touch(home, "proj/.noosignore", b"build/\n")
    touch(home, "proj/build/.noosignore", b"!important.txt\n")
    rules = IgnoreRules(home)

    assert ignored(rules, touch(home, "proj/build/important.txt"))


def test_rules_are_read_again_once_forgotten(home: Path) -> None:
    draft = touch(home, "proj/draft.txt")
    rules = IgnoreRules(home)
    assert not ignored(rules, draft)

    touch(home, "proj/.noosignore", b"draft.txt\n")
    assert not ignored(rules, draft)  # what was read is kept...
    rules.forget(home / "proj")
    assert ignored(rules, draft)  # ...until the watcher says it changed


def test_a_path_outside_the_root_is_refused(home: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="not under the indexed root"):
        IgnoreRules(home).is_ignored(tmp_path / "elsewhere.txt", is_dir=False)


def test_size_limits_depend_on_the_type() -> None:
    limits = SizeLimits(max_text_bytes=1000, max_pdf_bytes=5000)
    text, pdf = file_type(PurePath("a.txt")), file_type(PurePath("a.pdf"))

    assert limits.why_too_large(1000, text) is None
    assert limits.why_too_large(1001, text) == "1001 bytes; the most indexed for text is 1000"
    assert limits.why_too_large(4000, pdf) is None
    assert limits.why_too_large(5001, pdf) is not None
