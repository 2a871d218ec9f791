"""The first boot's questions (mkosi.extra/usr/lib/noos-image/first-user) on
real terminals (pseudo-terminal pairs): asked on every console, answered on
one, bad names and passwords asked again with why, the password never echoed.
The account itself is made by useradd in the image: tests/e2e/test_firstboot.py."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import pty
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "mkosi.extra/usr/lib/noos-image/first-user"
# Between two typed lines: each must reach the script's read of its own question.
TYPING_GAP_S = 0.2


def load() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("first_user", str(SCRIPT))
    spec = importlib.util.spec_from_loader("first_user", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


first_user = load()


class Console:
    """A pseudo-terminal: the script opens its terminal end, the test types on the other."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.path = os.ttyname(self.slave)

    def type_lines(self, *lines: str) -> threading.Thread:
        def typing() -> None:
            for line in lines:
                time.sleep(TYPING_GAP_S)
                os.write(self.master, line.encode() + b"\r")

        thread = threading.Thread(target=typing)
        thread.start()
        return thread

    def shown(self) -> str:
        os.set_blocking(self.master, False)
        try:
            return os.read(self.master, 65536).decode()
        except BlockingIOError:
            return ""

    def close(self) -> None:
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def consoles() -> Iterator[tuple[Console, Console]]:
    screen, serial = Console(), Console()
    yield screen, serial
    screen.close()
    serial.close()


def test_the_console_answered_first_holds_the_conversation(
    consoles: tuple[Console, Console], tmp_path: Path
) -> None:
    screen, serial = consoles
    terminals = first_user.open_terminals([screen.path, serial.path, str(tmp_path / "ttyS9")])
    assert [t.path for t in terminals] == [screen.path, serial.path]
    typing = serial.type_lines("ada", "correct horse", "correct horse")
    terminal, name, password = first_user.converse(terminals)
    typing.join()
    assert (terminal.path, name, password) == (serial.path, "ada", "correct horse")
    asked = screen.shown()
    assert "User name: " in asked and f"(answered on {serial.path})" in asked
    said = serial.shown()
    assert "Password for ada: " in said
    assert "correct horse" not in said, "the password was echoed"


def test_bad_names_and_passwords_are_asked_again_with_why(
    consoles: tuple[Console, Console],
) -> None:
    screen, serial = consoles
    terminals = first_user.open_terminals([screen.path, serial.path])
    typing = screen.type_lines(
        "Ada Lovelace", "root", "ada", "one", "two", "", "", "s3cret", "s3cret"
    )
    _, name, password = first_user.converse(terminals)
    typing.join()
    assert (name, password) == ("ada", "s3cret")
    said = screen.shown()
    assert "a user name is 1 to 32 of a-z" in said
    assert "root is already an account of this system" in said
    assert "the two passwords differ; again." in said
    assert "the password may not be empty; again." in said


def test_it_asks_only_while_no_person_has_an_account() -> None:
    # This host's accounts decide: the answer must be the one its passwd gives.
    people = [line for line in Path("/etc/passwd").read_text().splitlines() if line]
    has_person = any(1000 <= int(line.split(":")[2]) < 60000 for line in people)
    assert first_user.main(["--needed"]) == (1 if has_person else 0)
    assert first_user.main([]) == 1  # no terminal to ask on
