"""Drive a booted noos guest from tests, in the style of NixOS's test driver.

    with Machine(BootImage.from_output(Path("build/image-test"))) as machine:
        machine.wait_for_unit("multi-user.target")
        print(machine.succeed("uname -a"))

Commands run as root through a shell on a virtio serial port that only this
driver adds, and only the test profile's image answers (`make image-test`;
mkosi.profiles/test/mkosi.extra/usr/lib/udev/rules.d/60-noos-test-backdoor.rules).
The serial console goes to a log file that is watched for kernel panics, so a
broken boot fails in seconds instead of at a timeout, and `type_on_console`
types on it as a person at `make run` would. Timeouts are generous:
under TCG, boot time varies 2x from run to run.
"""

from __future__ import annotations

import base64
import re
import shlex
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Protocol

from noos_qemu.console import ConsoleTap
from noos_qemu.image import BootImage
from noos_qemu.launcher import Launch
from noos_qemu.profiles import PROFILES

BACKDOOR_PORT = "org.noos.test.backdoor"
PANIC_MARKERS = (b"Kernel panic - not syncing", b"---[ end Kernel panic")
BOOT_TIMEOUT_S = 900.0
# What a terminal program may draw between two characters of one text: colour
# and cursor escape sequences, and spacing.
SCREEN_GAP = r"(?:\x1b\[[0-9;?]*[A-Za-z]|\s)*"
COMMAND_TIMEOUT_S = 600.0
# How often a wait asks its `check` whether to give up early.
CHECK_EVERY_S = 20.0
# Escape sequences of any kind (CSI, OSC, charset, two-byte), to read a drawn screen as text.
ESCAPE_SEQUENCE = re.compile(
    rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()*+].|[@-Z\\-_=>78])"
)
# Journal lines of the driver's own `runuser` calls: a test that polls as a user
# would fill a failure's journal tail with them.
DRIVER_NOISE = "pam_unix(runuser:session)"


class Watch(Protocol):
    """What a long wait keeps an eye on (the services it waits for)."""

    def check(self) -> None:
        """Raise MachineError when waiting longer cannot help."""

    def account(self) -> str:
        """What the watched say of themselves, for a wait that timed out."""


class MachineError(AssertionError):
    """A guest command or wait failed; the message carries what the guest said."""


def screen_pattern(text: str) -> str:
    """A regex of `text` as a terminal program may draw it: escape sequences
    and spacing may fall between its characters."""
    return SCREEN_GAP.join(re.escape(character) for character in text)


def drawn_as_text(drawn: bytes) -> str:
    """What a terminal program drew, less its escape sequences: its words."""
    return ESCAPE_SEQUENCE.sub(b"", drawn).decode(errors="replace")


def extra_disks(disks: Sequence[Path]) -> list[str]:
    """QEMU arguments that attach raw disk images after the root disk."""
    argv: list[str] = []
    for number, disk in enumerate(disks, start=1):
        argv += [
            "-drive",
            f"if=none,id=disk{number},format=raw,snapshot=on,file={disk}",
            "-device",
            f"virtio-blk-pci,drive=disk{number},serial=noos-disk{number}",
        ]
    return argv


class Machine:
    def __init__(
        self,
        image: BootImage,
        profile: str = "direct",
        *,
        log_dir: Path | None = None,
        network: bool = False,
        memory: str | None = None,
        cpus: int | None = None,
        disks: Sequence[Path] = (),
        secure_boot_vars: Path | None = None,
    ) -> None:
        """`disks`: raw images attached as extra virtio disks (/dev/vdb, ...), written
        to a throw-away snapshot, each with the serial `noos-disk<N>`.
        `secure_boot_vars`: boot with Secure Boot enforced, from these OVMF
        variables (noos_qemu.secure_boot.enroll; the uefi profile)."""
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="noos-machine-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.serial_log = self.log_dir / "serial.log"
        self._socket_path = self.log_dir / "backdoor.sock"
        self._console_path = self.log_dir / "console.sock"
        self._launch = Launch(
            image,
            PROFILES[profile],
            serial="chardev:console",
            network=network,
            memory=memory,
            cpus=cpus,
            secure_boot_vars=secure_boot_vars,
            extra=[
                "-chardev",
                f"socket,id=console,path={self._console_path},server=on,wait=on",
                "-device",
                "virtio-serial-pci",
                "-chardev",
                f"socket,id=backdoor,path={self._socket_path},server=on,wait=off",
                "-device",
                f"virtserialport,chardev=backdoor,name={BACKDOOR_PORT}",
                *extra_disks(disks),
            ],
        )
        self._process: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._console: ConsoleTap | None = None
        self._buffer = b""
        self.started_at = 0.0
        self.ready_after_s: float | None = None

    # -- life cycle ---------------------------------------------------------

    def start(self) -> None:
        command = self._launch.command(self.log_dir)
        (self.log_dir / "qemu-command").write_text(shlex.join(command) + "\n")
        self.started_at = time.monotonic()
        with open(self.log_dir / "qemu.log", "wb") as qemu_log:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=qemu_log, stderr=subprocess.STDOUT
            )
        # QEMU waits for the console's reader before it starts the guest.
        self._console = ConsoleTap(self._connect(self._console_path, "console"), self.serial_log)
        sock = self._connect(self._socket_path, "test port")
        sock.settimeout(1.0)
        self._sock = sock

    def _connect(self, path: Path, what: str) -> socket.socket:
        deadline = time.monotonic() + 60
        while True:
            self._check_alive()
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(path))
                return sock
            except (FileNotFoundError, ConnectionRefusedError):
                sock.close()
                if time.monotonic() > deadline:
                    raise MachineError(f"QEMU never opened its {what}") from None
                time.sleep(0.1)

    def wait_for_shell(self, timeout: float = BOOT_TIMEOUT_S) -> None:
        """Wait until the guest's root shell on the test port answers."""
        if self.ready_after_s is not None:
            return
        if self._process is None:
            self.start()
        self._read_until(re.compile(rb"noos-test-backdoor: ready\r?\n"), timeout)
        self.ready_after_s = time.monotonic() - self.started_at

    def shutdown(self, timeout: float = 300.0) -> None:
        """Power the guest off cleanly; kill QEMU if it does not stop in time."""
        if self._process is None:
            return
        # A guest whose shell never answered cannot be asked to power off.
        if self._process.poll() is None and self._sock is not None and self.ready_after_s:
            try:
                self._sock.sendall(b"systemctl poweroff --no-block\n")
                self._process.wait(timeout=timeout)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._console is not None:
            self._console.close()
            self._console = None
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()

    def __enter__(self) -> Machine:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()

    # -- commands -----------------------------------------------------------

    def execute(self, command: str, timeout: float = COMMAND_TIMEOUT_S) -> tuple[int, str]:
        """Run `command` with bash as root in the guest; return (status, output).
        stdout and stderr are merged. A command that leaves a background job
        holding its output open never returns: redirect such jobs."""
        self.wait_for_shell()
        assert self._sock is not None
        marker = uuid.uuid4().hex
        encoded = base64.b64encode(command.encode()).decode()
        line = (
            f'( eval "$(echo {encoded} | base64 -d)" ) </dev/null 2>&1 | base64 -w0;'
            f' echo " {marker}:${{PIPESTATUS[0]}}"\n'
        )
        self._sock.sendall(line.encode())
        match = self._read_until(
            re.compile(rb"([A-Za-z0-9+/=]*) " + marker.encode() + rb":(\d+)\r?\n"),
            timeout,
            what=f"`{command}`",
        )
        return int(match.group(2)), base64.b64decode(match.group(1)).decode(errors="replace")

    def succeed(self, command: str, timeout: float = COMMAND_TIMEOUT_S) -> str:
        status, output = self.execute(command, timeout)
        if status != 0:
            raise MachineError(self.report(f"`{command}` failed with status {status}", output))
        return output

    def fail(self, command: str, timeout: float = COMMAND_TIMEOUT_S) -> str:
        status, output = self.execute(command, timeout)
        if status == 0:
            raise MachineError(self.report(f"`{command}` unexpectedly succeeded", output))
        return output

    def wait_until_succeeds(
        self,
        command: str,
        timeout: float = COMMAND_TIMEOUT_S,
        interval: float = 2.0,
        watch: Watch | None = None,
    ) -> str:
        """Run `command` until it succeeds. `watch` is asked every CHECK_EVERY_S
        meanwhile, and may fail the wait early (a service that says it is
        stuck will not get there by waiting longer); a wait that times out
        ends its report with the watch's account."""
        return self._retry(
            lambda: self.execute(command, timeout),
            lambda s: s == 0,
            timeout,
            interval,
            f"`{command}` never succeeded",
            watch,
        )

    def wait_until_fails(
        self, command: str, timeout: float = COMMAND_TIMEOUT_S, interval: float = 2.0
    ) -> str:
        return self._retry(
            lambda: self.execute(command, timeout),
            lambda s: s != 0,
            timeout,
            interval,
            f"`{command}` never failed",
        )

    def wait_for_unit(self, unit: str, timeout: float = BOOT_TIMEOUT_S) -> None:
        """Wait until `unit` is active; fail at once if it fails."""
        deadline = time.monotonic() + timeout
        query = f"systemctl show --property=ActiveState --value {shlex.quote(unit)}"
        while True:
            state = self.succeed(query, timeout=max(deadline - time.monotonic(), 30)).strip()
            if state == "active":
                return
            if state == "failed":
                status = self.execute(f"systemctl status --no-pager {shlex.quote(unit)}")[1]
                raise MachineError(self.report(f"unit {unit} failed", status))
            if time.monotonic() > deadline:
                raise MachineError(self.report(f"unit {unit} still {state} after {timeout}s", ""))
            time.sleep(1.0)

    def console_position(self) -> int:
        """How much the serial console has shown so far: a `since` for the waits
        below, to match only what comes after."""
        try:
            return self.serial_log.stat().st_size
        except FileNotFoundError:
            return 0

    def wait_for_console_text(
        self, pattern: str, timeout: float = BOOT_TIMEOUT_S, since: int = 0
    ) -> str:
        """Wait until the serial console (what a person at `make run` sees)
        shows a match of the regex `pattern`, after its first `since` bytes;
        return the match."""
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            match = regex.search(self.serial_log.read_bytes(), since)
            if match:
                return match.group(0).decode(errors="replace")
            if time.monotonic() > deadline:
                raise MachineError(
                    f"the console never showed /{pattern}/ in {timeout}s\n"
                    f"--- serial console ---\n{self._serial_tail()}"
                )
            time.sleep(1.0)

    def wait_for_screen_text(
        self, text: str, timeout: float = BOOT_TIMEOUT_S, since: int = 0
    ) -> str:
        """Wait until a full-screen program on the console (noos-shell) shows
        `text`: as `wait_for_console_text`, letting the escape sequences it
        draws with fall between the characters."""
        return self.wait_for_console_text(screen_pattern(text), timeout, since)

    def type_on_console(self, text: str) -> None:
        """Type `text` on the serial console ("\r" is Enter)."""
        if self._console is None:
            raise MachineError("the machine was not started")
        self._console.type(text)

    def journal(self, lines: int = 80) -> str:
        """The last `lines` lines of this boot's journal, less the driver's own noise."""
        command = (
            f"journalctl --boot --no-pager --lines={lines * 10} "
            f"| grep -vF {shlex.quote(DRIVER_NOISE)} | tail -n {lines}"
        )
        return self.execute(command, timeout=120)[1]

    def screen_text(self, size: int = 3000) -> str:
        """The end of what the console showed, as text: a full-screen program's
        drawing with its escape sequences taken out."""
        try:
            drawn = self.serial_log.read_bytes()[-size * 8 :]
        except FileNotFoundError:
            return ""
        return drawn_as_text(drawn)[-size:]

    # -- internals ----------------------------------------------------------

    def _retry(
        self,
        attempt: Callable[[], tuple[int, str]],
        done: Callable[[int], bool],
        timeout: float,
        interval: float,
        failure: str,
        watch: Watch | None = None,
    ) -> str:
        deadline = time.monotonic() + timeout
        checked = time.monotonic()
        while True:
            status, output = attempt()
            if done(status):
                return output
            if watch is not None and time.monotonic() - checked > CHECK_EVERY_S:
                watch.check()
                checked = time.monotonic()
            if time.monotonic() > deadline:
                account = "" if watch is None else f"\n{watch.account()}"
                raise MachineError(self.report(f"{failure} in {timeout}s", output + account))
            time.sleep(interval)

    def report(self, headline: str, output: str) -> str:
        """A failure's account: the headline, the output, the journal's tail and the console's."""
        try:
            journal = self.journal() if self._alive() else "(the guest is gone)"
        except MachineError as error:
            journal = f"(no journal: {error})"
        return (
            f"{headline}\n--- output ---\n{output}\n--- guest journal (tail) ---\n{journal}"
            f"\n--- serial console (tail, as text): {self.serial_log} ---\n{self.screen_text()}"
        )

    def _alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _serial_tail(self, size: int = 4000) -> str:
        try:
            return self.serial_log.read_bytes()[-size:].decode(errors="replace")
        except FileNotFoundError:
            return ""

    def _check_alive(self) -> None:
        if self._process is None:
            raise MachineError("the machine was not started")
        if self._process.poll() is not None:
            qemu_log = (self.log_dir / "qemu.log").read_text(errors="replace")
            raise MachineError(
                f"QEMU exited with status {self._process.returncode}\n"
                f"{qemu_log}\n--- serial console ---\n{self._serial_tail()}"
            )
        try:
            serial = self.serial_log.read_bytes()
        except FileNotFoundError:
            return
        if any(marker in serial for marker in PANIC_MARKERS):
            raise MachineError(
                f"the guest kernel panicked\n--- serial console ---\n{self._serial_tail()}"
            )

    def _read_until(
        self, pattern: re.Pattern[bytes], timeout: float, what: str = "the guest's shell"
    ) -> re.Match[bytes]:
        assert self._sock is not None
        deadline = time.monotonic() + timeout
        last_check = 0.0
        while True:
            match = pattern.search(self._buffer)
            if match:
                self._buffer = self._buffer[match.end() :]
                return match
            now = time.monotonic()
            if now - last_check > 2.0:
                self._check_alive()
                last_check = now
            if now > deadline:
                raise MachineError(
                    f"timed out after {timeout}s waiting for {what}\n"
                    f"--- serial console ---\n{self._serial_tail()}"
                )
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                self._check_alive()
                raise MachineError(f"the guest closed the test port while running {what}")
            self._buffer += chunk
