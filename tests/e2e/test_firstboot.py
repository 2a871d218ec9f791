"""The default image's first boot on a bigger disk, as a person installing noos
meets it (issue 15, item 4): the console asks for the first user's name and
password, nobody is logged in by itself, that user logs in with the password
and administers the machine with sudo, and the root filesystem has grown to
the disk. The default image has no test shell: everything goes through the
serial console, typed as a person would."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from noos_qemu import BootImage, Machine

from .conftest import LOG_ROOT, REPO

pytestmark = pytest.mark.e2e

DEFAULT_IMAGE_DIR = REPO / "build/image"
DISK_SIZE = "20G"
# df -B1G of a grown root on a 20 GiB disk: 20 less the ESP (512 MiB) and
# ext4's own metadata; never grown, it stays 8.
GROWN_ROOT_GIB = 15
NAME = "ada"
PASSWORD = "correct horse battery"
ENTER = "\r"
CTRL_Q = "\x11"


def grown_copy(directory: Path) -> BootImage:
    """A sparse copy of the default image on a 20 GiB disk, as after `make usb` to a big stick."""
    default = BootImage.from_output(DEFAULT_IMAGE_DIR)
    disk = directory / "noos.raw"
    subprocess.run(["cp", "--sparse=always", str(default.disk), str(disk)], check=True)
    subprocess.run(["truncate", "-s", DISK_SIZE, str(disk)], check=True)
    return dataclasses.replace(default, disk=disk)


def command_output(vm: Machine, command: str, marker: str, timeout: float = 300) -> str:
    """Type `command` in the console's shell and return what it printed before
    `marker`'s line. The marker is echoed as `$((...))`, so its value is found
    only when the command has run, not in the typed line."""
    number = sum(map(ord, marker))
    since = vm.console_position()
    vm.type_on_console(f'{command}; echo "{marker}-$(({number} + 0))"{ENTER}')
    found = vm.wait_for_console_text(
        rf"(?s)\n(.*?)\r?\n{re.escape(marker)}-{number}\r?\n", timeout, since
    )
    return found.split("\n", 1)[1].rsplit(f"{marker}-", 1)[0]


@pytest.mark.timeout(2400, method="signal")
def test_first_boot_asks_for_the_administrator_who_then_logs_in_uses_sudo_on_a_grown_root() -> None:
    with (
        tempfile.TemporaryDirectory(dir=REPO / "build", prefix="firstboot-") as tmp,
        Machine(grown_copy(Path(tmp)), "uefi", log_dir=LOG_ROOT / "firstboot") as vm,
    ):
        vm.wait_for_console_text("User name: ", 900)
        since = vm.console_position()
        vm.type_on_console("Ada Lovelace" + ENTER)  # refused: asked again with why
        vm.wait_for_console_text("a user name is 1 to 32 of a-z", 120, since)
        vm.type_on_console(NAME + ENTER)
        vm.wait_for_console_text(f"Password for {NAME}: ", 120, since)
        vm.type_on_console(PASSWORD + ENTER)
        vm.wait_for_console_text("The same password again: ", 120, since)
        vm.type_on_console(PASSWORD + ENTER)
        vm.wait_for_console_text(f"{NAME} is this machine's administrator", 300, since)

        # No autologin: the getty asks who logs in.
        prompt = vm.wait_for_console_text(r"noos login: (?!\S+ \(automatic login\))", 600, since)
        assert "automatic login" not in prompt
        since = vm.console_position()
        vm.type_on_console(NAME + ENTER)
        vm.wait_for_console_text("Password: ", 120, since)
        vm.type_on_console(PASSWORD + ENTER)
        # The login opens noos-shell (/etc/profile.d/noos.sh); Ctrl+Q leaves it for bash.
        vm.wait_for_screen_text("scheduler:", 900, since)
        since = vm.console_position()
        vm.type_on_console(CTRL_Q)
        vm.wait_for_console_text(rf"{NAME}@noos:~\$ ", 300, since)

        groups = command_output(vm, "id -nG", "groups").split()
        assert {"sudo", "noos-admin"} <= set(groups), groups
        # Without the password sudo refuses; with it, root.
        refused = command_output(vm, "sudo -n true; echo status=$?", "refused")
        assert "status=1" in refused, refused
        since = vm.console_position()
        vm.type_on_console(f'sudo id -u; echo "root-$((7 * 6))"{ENTER}')
        vm.wait_for_console_text(rf"\[sudo\] password for {NAME}: ", 120, since)
        vm.type_on_console(PASSWORD + ENTER)
        became = vm.wait_for_console_text(r"(?s)password for \S+: .*?root-42", 120, since)
        assert re.search(r"\n0\r?\n", became), became

        size = command_output(vm, "df -B1G --output=size / | tail -n 1", "size").strip()
        assert int(size.split()[-1]) > GROWN_ROOT_GIB, f"/ is {size} GiB on a {DISK_SIZE} disk"
