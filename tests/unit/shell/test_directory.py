"""cd: the one command the shell runs itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from noos_shell.directory import cd_target, change_directory


@pytest.mark.parametrize(
    ("command", "target"),
    [("cd", ""), ("cd /tmp", "/tmp"), ("cd 'my dir'", "my dir"), ("cd -", "-")],
)
def test_cd_target(command: str, target: str) -> None:
    assert cd_target(command) == target


@pytest.mark.parametrize("command", ["ls", "cd a b", "cd /tmp && ls", "cd 'open", "cdrom"])
def test_not_a_plain_cd(command: str) -> None:
    assert cd_target(command) is None


def test_change_directory(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    assert change_directory(tmp_path, "sub", tmp_path) == (tmp_path / "sub").resolve()
    assert change_directory(tmp_path / "sub", "..", tmp_path) == tmp_path.resolve()
    assert change_directory(tmp_path, "-", Path("/")) == Path("/")
    assert change_directory(tmp_path, "", tmp_path) == Path.home().resolve()
    with pytest.raises(NotADirectoryError):
        change_directory(tmp_path, "missing", tmp_path)
