"""`python -m noos_image`: the image's host-side checks (see the Makefile).

lock check MANIFEST LOCK    fail, with (package, locked, got), when they differ
lock warn MANIFEST LOCK     print the same table loudly, and succeed (`make image`)
lock write MANIFEST LOCK    write the lock from the manifest (when it changed)
lock digest LOCK            print the lock's digest, as os-release carries it
files ROOT OUTPUT           list ROOT's files into OUTPUT (mkosi.finalize)
repro FIRST SECOND IMAGE    compare two builds' artifacts by sha256; fail if any differs
  [--moved-mirror-passes]   (or pass, saying so, when their Debian packages differ)
room GIB OUTPUT PATH...     fail, saying where, unless each filesystem has GIB free
secure-boot KEY CERT        check a Secure Boot key pair before a signed build ("" ""; unsigned)
initrd INITRD               list the kernel modules the initrd carries (name, path under kernel/)
usb DEVICE IMAGE            write IMAGE to the disk DEVICE, or refuse with why (`make usb`)
usb-check DEVICE            refuse as `usb` would, before the image is built
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from noos_image import debian_lock, files, initrd, repro, room, secure_boot, usb

# Lines of each diffoscope report printed; the whole report is beside the builds.
REPORT_HEAD = 80


def lock_check(manifest: Path, lock: Path, *, strict: bool = True) -> int:
    """Compare the build's manifest with the lock; `strict=False` (warn) only says so.

    A build from the live mirror gets what the mirror serves today: when
    Debian moved a package, a warned build goes on (CI stays green for a
    reason outside the commit) and the table says what moved; `make
    lock-check` and `make repro` are strict (docs/image.md#the-debian-lock).
    """
    if not lock.exists():
        if strict:
            print(
                f"image: no {lock}: `{debian_lock.refresh_command(lock)}` writes it from a build",
                file=sys.stderr,
            )
            return 1
        print(
            f"image: no {lock}: this image's Debian packages are not checked against a lock "
            f"(`{debian_lock.refresh_command(lock)}` writes it from a build)",
            file=sys.stderr,
        )
        return 0
    found = debian_lock.compare(
        debian_lock.from_lock(lock.read_text()),
        debian_lock.from_manifest(manifest.read_text()),
    )
    if not found:
        print(f"image: the Debian packages are {lock}'s", file=sys.stderr)
        return 0
    report = debian_lock.report(found, lock)
    if strict:
        print(f"image: {report}", file=sys.stderr)
        return 1
    banner = "!" * 78
    print(f"{banner}\nimage: WARNING: {report}\n{banner}", file=sys.stderr)
    return 0


def lock_write(manifest: Path, lock: Path) -> int:
    text = debian_lock.render(debian_lock.from_manifest(manifest.read_text()))
    if lock.exists() and lock.read_text() == text:
        print(f"lock: {lock} is up to date", file=sys.stderr)
        return 0
    lock.write_text(text)
    print(f"lock: wrote {lock}; commit it", file=sys.stderr)
    return 0


def repro_compare(first: Path, second: Path, image: str, *, moved_mirror_passes: bool) -> int:
    moved = repro.moved_packages(first, second, image)
    if moved and moved_mirror_passes:
        print(
            f"repro: NOT COMPARED: the two builds got other Debian packages ({len(moved)}; "
            "the mirror moved, or the first came from an older mkosi cache):\n"
            + "\n".join(f"  {each.package}  {each.locked} -> {each.got}" for each in moved)
        )
        return 0
    rows = repro.compare(first, second, image)
    print(f"repro: {first} and {second}, sha256:\n{repro.table(rows)}")
    if all(row.same for row in rows):
        print("repro: the two builds are identical")
        return 0
    for report in repro.diffoscope(first, second, image, rows, first.parent):
        head = (
            report.read_text(errors="replace").splitlines()[:REPORT_HEAD] if report.exists() else []
        )
        print(f"repro: diffoscope ({report}, first {REPORT_HEAD} lines):")
        print("\n".join(head))
    return 1


def room_check(need_gib: float, output: Path, paths: list[Path]) -> int:
    """Before a build: enough room where mkosi works and where the disk lands?"""
    rooms = room.measure([output, *paths], int(need_gib * room.GIB), replaced=output)
    short = [each for each in rooms if not each.enough]
    for each in short:
        print(f"image: not enough disk room: {each.line()}", file=sys.stderr)
    if short:
        print(
            "image: free some (old builds: `make clean`, other build/ trees, /var/tmp), "
            "or set IMAGE_ROOM_GIB if you know better (docs/image.md#disk-room)",
            file=sys.stderr,
        )
        return 1
    return 0


def secure_boot_check(key: str, certificate: str) -> int:
    try:
        signer = secure_boot.check_variables(key, certificate)
    except secure_boot.KeyPairError as error:
        print(f"image: Secure Boot: {error}; nothing was built", file=sys.stderr)
        return 1
    if signer is None:
        print("image: unsigned (SECURE_BOOT_KEY= and SECURE_BOOT_CERT= sign it)", file=sys.stderr)
    else:
        print(
            f"image: signing systemd-boot and the UKI for Secure Boot with {signer.subject} "
            f"(valid until {signer.not_after:%Y-%m-%d})",
            file=sys.stderr,
        )
    return 0


def usb_write(device: str, image: Path | None) -> int:
    """`image` None: only say whether `device` may be written."""
    try:
        target = usb.check_device(device) if image is None else usb.check(device, image)
    except usb.Refused as refusal:
        print(f"usb: refused, nothing written: {refusal}", file=sys.stderr)
        return 2
    if image is None:
        return 0
    print(f"usb: writing {image} to {target}: everything on it is lost", file=sys.stderr)
    usb.write(image, target)
    print(
        f"usb: {target} holds noos; boot it (docs/image.md#install-on-bare-metal)", file=sys.stderr
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="noos_image", description=__doc__)
    sub = parser.add_subparsers(dest="verb", required=True)
    lock = sub.add_parser("lock").add_subparsers(dest="action", required=True)
    for action in ("check", "warn", "write"):
        verb = lock.add_parser(action)
        verb.add_argument("manifest", type=Path)
        verb.add_argument("lock", type=Path)
    lock.add_parser("digest").add_argument("lock", type=Path)
    listing = sub.add_parser("files")
    listing.add_argument("root", type=Path)
    listing.add_argument("output", type=Path)
    compared = sub.add_parser("repro")
    compared.add_argument("first", type=Path)
    compared.add_argument("second", type=Path)
    compared.add_argument("image")
    compared.add_argument("--moved-mirror-passes", action="store_true")
    checked = sub.add_parser("room")
    checked.add_argument("need_gib", type=float)
    checked.add_argument("output", type=Path)
    checked.add_argument("paths", type=Path, nargs="*")
    signing = sub.add_parser("secure-boot")
    signing.add_argument("key")
    signing.add_argument("certificate")
    sub.add_parser("initrd").add_argument("initrd", type=Path)
    written = sub.add_parser("usb")
    written.add_argument("device")
    written.add_argument("image", type=Path)
    sub.add_parser("usb-check").add_argument("device")
    args = parser.parse_args(argv)
    try:
        if args.verb == "secure-boot":
            return secure_boot_check(args.key, args.certificate)
        if args.verb == "initrd":
            modules = initrd.kernel_modules(initrd.paths(args.initrd))
            print("\n".join(f"{name} {path}" for name, path in sorted(modules.items())))
            return 0
        if args.verb in ("usb", "usb-check"):
            return usb_write(args.device, getattr(args, "image", None))
        if args.verb == "repro":
            return repro_compare(
                args.first, args.second, args.image, moved_mirror_passes=args.moved_mirror_passes
            )
        if args.verb == "room":
            return room_check(args.need_gib, args.output, args.paths)
        if args.verb == "files":
            args.output.write_text(files.dump(files.list_tree(args.root)))
            return 0
        if args.action == "digest":
            print(debian_lock.digest(args.lock.read_bytes()) if args.lock.exists() else "none")
            return 0
        if args.action == "write":
            return lock_write(args.manifest, args.lock)
        return lock_check(args.manifest, args.lock, strict=args.action == "check")
    except (
        OSError,
        subprocess.CalledProcessError,
        debian_lock.LockError,
        initrd.InitrdError,
    ) as error:
        print(f"noos_image: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
