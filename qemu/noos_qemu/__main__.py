"""`python -m noos_qemu run`: boot the noos image with its serial console on
this terminal (Ctrl-A X quits QEMU; the disk is a throw-away snapshot)."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from noos_qemu.image import BootImage
from noos_qemu.launcher import Launch
from noos_qemu.profiles import PROFILES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="noos-qemu", description=__doc__)
    sub = parser.add_subparsers(dest="verb", required=True)
    run = sub.add_parser("run", help="boot the image on this terminal")
    run.add_argument("--image-dir", type=Path, default=Path("build/image"))
    run.add_argument(
        "--profile",
        choices=sorted(PROFILES),
        default="uefi",
        help="; ".join(f"{p.name}: {p.description}" for p in PROFILES.values()),
    )
    run.add_argument("--memory", help="guest memory, e.g. 4G (default: the profile's)")
    run.add_argument("--cpus", type=int, help="guest CPUs (default: the profile's)")
    run.add_argument("--no-network", action="store_true", help="boot without a network card")
    run.add_argument("--print", action="store_true", help="print the QEMU command, run nothing")
    args = parser.parse_args(argv)

    image = BootImage.from_output(args.image_dir)
    launch = Launch(
        image,
        PROFILES[args.profile],
        network=not args.no_network,
        memory=args.memory,
        cpus=args.cpus,
    )
    with tempfile.TemporaryDirectory(prefix="noos-qemu-") as workdir:
        command = launch.command(Path(workdir))
        if args.print:
            print(shlex.join(command))
            return 0
        print(f"noos-qemu: booting {image.disk} ({args.profile}); Ctrl-A X quits", file=sys.stderr)
        return subprocess.run(command, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
