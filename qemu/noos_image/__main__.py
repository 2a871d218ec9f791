"""`python -m noos_image`: the image's host-side checks (see the Makefile).

lock check MANIFEST LOCK    fail, with (package, locked, got), when they differ
lock warn MANIFEST LOCK     print the same table loudly, and succeed (`make image`)
lock write MANIFEST LOCK    write the lock from the manifest (when it changed)
lock digest LOCK            print the lock's digest, as os-release carries it
files ROOT OUTPUT           list ROOT's files into OUTPUT (mkosi.finalize)
repro FIRST SECOND IMAGE    compare two builds' artifacts by sha256; fail if any differs
usb DEVICE IMAGE            write IMAGE to the disk DEVICE, or refuse with why (`make usb`)
usb-check DEVICE            refuse as `usb` would, before the image is built
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from noos_image import debian_lock, files, repro, usb

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


def repro_compare(first: Path, second: Path, image: str) -> int:
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
    written = sub.add_parser("usb")
    written.add_argument("device")
    written.add_argument("image", type=Path)
    sub.add_parser("usb-check").add_argument("device")
    args = parser.parse_args(argv)
    try:
        if args.verb in ("usb", "usb-check"):
            return usb_write(args.device, getattr(args, "image", None))
        if args.verb == "repro":
            return repro_compare(args.first, args.second, args.image)
        if args.verb == "files":
            args.output.write_text(files.dump(files.list_tree(args.root)))
            return 0
        if args.action == "digest":
            print(debian_lock.digest(args.lock.read_bytes()) if args.lock.exists() else "none")
            return 0
        if args.action == "write":
            return lock_write(args.manifest, args.lock)
        return lock_check(args.manifest, args.lock, strict=args.action == "check")
    except (OSError, subprocess.CalledProcessError, debian_lock.LockError) as error:
        print(f"noos_image: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
