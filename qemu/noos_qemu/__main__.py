"""`python -m noos_qemu run`: boot the noos image with its serial console on
this terminal (Ctrl-A X quits QEMU; the disk is a throw-away snapshot)."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from noos_qemu.accel import choose_accel
from noos_qemu.gpu.devices import Passthrough
from noos_qemu.gpu.memory_checks import parse_size
from noos_qemu.gpu.pci import Host, parse_bdf
from noos_qemu.gpu.session import GpuRequest, run_passthrough
from noos_qemu.image import BootImage
from noos_qemu.launcher import QEMU, Launch
from noos_qemu.profiles import OVMF_CODE, OVMF_VARS, PROFILES
from noos_qemu.secure_boot import EnrollError, enroll


def pci_address(text: str) -> str:
    try:
        return parse_bdf(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="noos-qemu", description=__doc__)
    sub = parser.add_subparsers(dest="verb", required=True)
    run = sub.add_parser("run", help="boot the image on this terminal")
    run.add_argument("--image-dir", type=Path, default=Path("build/image"))
    run.add_argument(
        "--image-name", default="noos", help="the image's name: noos, or noos-gpu (VARIANT=gpu)"
    )
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
    run.add_argument(
        "--secure-boot",
        metavar="VARS",
        type=Path,
        help="Secure Boot enforced, from these OVMF variables (`enroll` writes them; uefi only)",
    )
    enrolled = sub.add_parser(
        "enroll", help="write OVMF variables with a certificate as PK, KEK and db, Secure Boot on"
    )
    enrolled.add_argument("certificate", type=Path, help="the PEM certificate (SECURE_BOOT_CERT)")
    enrolled.add_argument("output", type=Path, help="the variables file to write")
    gpu = run.add_argument_group("the gpu profile")
    gpu.add_argument(
        "--gpu", metavar="BDF", type=pci_address, help="the host GPU's PCI address (0000:01:00.0)"
    )
    gpu.add_argument(
        "--bind",
        action="store_true",
        help="move the GPU's functions to vfio-pci for the run and back afterwards (root)",
    )
    gpu.add_argument(
        "--test-mode",
        action="store_true",
        help="an emulated PCI display device instead of a host GPU; no host checks",
    )
    args = parser.parse_args(argv)
    if args.verb == "enroll":
        return args
    if args.secure_boot is not None:
        if PROFILES[args.profile].firmware != "uefi":
            parser.error(f"--secure-boot needs UEFI firmware; --profile {args.profile} has none")
        if not args.secure_boot.is_file():
            parser.error(f"--secure-boot {args.secure_boot}: no such file (`enroll` writes it)")
    if PROFILES[args.profile].gpu:
        if (args.gpu is None) == (not args.test_mode):
            parser.error("the gpu profile needs either --gpu BDF or --test-mode")
        if args.bind and args.gpu is None:
            parser.error("--bind needs --gpu")
        if args.memory:
            try:
                parse_size(args.memory)
            except ValueError as error:
                parser.error(str(error))
    elif args.gpu or args.bind or args.test_mode:
        parser.error("--gpu, --bind and --test-mode belong to --profile gpu")
    return args


def main(argv: list[str] | None = None, host: Host | None = None) -> int:
    """`host`: where /sys, /dev and /proc are read (the tests' recorded trees)."""
    args = parse_arguments(argv)
    if args.verb == "enroll":
        try:
            enroll(args.certificate, args.output)
        except EnrollError as error:
            print(f"noos-qemu: {error}", file=sys.stderr)
            return 1
        print(f"noos-qemu: wrote {args.output} ({args.certificate} as PK, KEK and db)")
        return 0
    image = BootImage.from_output(args.image_dir, args.image_name)
    profile = PROFILES[args.profile]

    def boot(passthrough: Passthrough | None) -> int:
        launch = Launch(
            image,
            profile,
            network=not args.no_network,
            memory=args.memory,
            cpus=args.cpus,
            passthrough=passthrough,
            secure_boot_vars=args.secure_boot,
        )
        with tempfile.TemporaryDirectory(prefix="noos-qemu-") as workdir:
            command = launch.command(Path(workdir))
            if args.print:
                print(shlex.join(command))
                return 0
            print(
                f"noos-qemu: booting {image.disk} ({args.profile}); Ctrl-A X quits",
                file=sys.stderr,
            )
            return subprocess.run(command, check=False).returncode

    if args.gpu is None:
        return boot(None)
    request = GpuRequest(
        bdf=args.gpu,
        memory=parse_size(args.memory or profile.memory),
        bind=args.bind,
        firmware=(OVMF_CODE, OVMF_VARS),
    )
    return run_passthrough(
        host or Host(Path("/")),
        request,
        kvm_boots=lambda: choose_accel(QEMU, image.kernel) == "kvm",
        boot=boot,
        dry_run=args.print,
    )


if __name__ == "__main__":
    sys.exit(main())
