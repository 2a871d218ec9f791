"""Boot time to multi-user.target under QEMU (docs/image.md#the-initrd).

    PYTHONPATH=qemu python3 -m noos_qemu.boot_time --profile uefi --boots 3 DIR [DIR ...]

Boots the test image in each DIR (`make image-test`'s build/image-test/; its
test shell answers the driver) BOOTS times, the directories taking turns so
that a busy host weighs on each alike, and prints for each boot the time
from QEMU's start to multi-user.target as the driver sees it, and the
guest's own account, as systemd-analyze counts it: firmware and loader
(UEFI only), kernel (initrd unpacking included), initrd, and userspace up
to multi-user.target. Then each directory's means.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from noos_qemu.image import BootImage
from noos_qemu.machine import Machine

# systemd's timestamps (µs, CLOCK_MONOTONIC; firmware and loader count back
# from the kernel's start) and multi-user.target's entry.
MANAGER = (
    "FirmwareTimestampMonotonic",
    "LoaderTimestampMonotonic",
    "InitRDTimestampMonotonic",
    "UserspaceTimestampMonotonic",
)
COLUMNS = ("driver", "firmware", "loader", "kernel", "initrd", "userspace")


def guest_split(machine: Machine) -> dict[str, float]:
    values = {}
    for line in machine.succeed(f"systemctl show {' '.join(f'-p {p}' for p in MANAGER)}").split():
        name, _, value = line.partition("=")
        values[name] = int(value) / 1e6
    target = machine.succeed("systemctl show -P ActiveEnterTimestampMonotonic multi-user.target")
    firmware, loader = values["FirmwareTimestampMonotonic"], values["LoaderTimestampMonotonic"]
    initrd, userspace = values["InitRDTimestampMonotonic"], values["UserspaceTimestampMonotonic"]
    return {
        "firmware": firmware - loader if firmware else 0.0,
        "loader": loader,
        "kernel": initrd or userspace,
        "initrd": userspace - initrd if initrd else 0.0,
        "userspace": int(target) / 1e6 - userspace,
    }


def boot(directory: Path, profile: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="noos-boot-time-") as logs:
        machine = Machine(BootImage.from_output(directory), profile, log_dir=Path(logs))
        machine.start()
        try:
            machine.wait_for_unit("multi-user.target")
            driver = time.monotonic() - machine.started_at
            return {"driver": driver, **guest_split(machine)}
        finally:
            # The disk is a throw-away snapshot: no need to wait for a clean power-off.
            machine.close()


def row(label: str, figures: dict[str, float]) -> str:
    return f"{label:<40}" + "".join(f"{figures[c]:>10.1f}" for c in COLUMNS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directories", nargs="+", type=Path, metavar="DIR")
    parser.add_argument("--profile", choices=("uefi", "direct"), default="uefi")
    parser.add_argument("--boots", type=int, default=3)
    args = parser.parse_args()
    runs: dict[Path, list[dict[str, float]]] = {d: [] for d in args.directories}
    print(f"{args.profile}: seconds{' ' * 32}" + "".join(f"{c:>10}" for c in COLUMNS))
    for number in range(1, args.boots + 1):
        for directory in args.directories:
            runs[directory].append(boot(directory, args.profile))
            print(row(f"{directory} #{number}", runs[directory][-1]), flush=True)
    for directory, figures in runs.items():
        mean = {c: statistics.mean(f[c] for f in figures) for c in COLUMNS}
        print(row(f"{directory} mean of {len(figures)}", mean))


if __name__ == "__main__":
    main()
