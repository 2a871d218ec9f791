"""`python -m noos_image`: the image's host-side checks (see the Makefile).

lock check MANIFEST LOCK    fail, with (package, locked, got), when they differ
lock write MANIFEST LOCK    write the lock from the manifest (when it changed)
lock digest LOCK            print the lock's digest, as os-release carries it
files ROOT OUTPUT           list ROOT's files into OUTPUT (mkosi.finalize)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from noos_image import debian_lock, files


def lock_check(manifest: Path, lock: Path) -> int:
    if not lock.exists():
        print(f"image: no {lock}: `make lock` writes it from this build", file=sys.stderr)
        return 1
    found = debian_lock.compare(
        debian_lock.from_lock(lock.read_text()),
        debian_lock.from_manifest(manifest.read_text()),
    )
    if found:
        print(f"image: {debian_lock.report(found, lock)}", file=sys.stderr)
        return 1
    return 0


def lock_write(manifest: Path, lock: Path) -> int:
    text = debian_lock.render(debian_lock.from_manifest(manifest.read_text()))
    if lock.exists() and lock.read_text() == text:
        print(f"lock: {lock} is up to date", file=sys.stderr)
        return 0
    lock.write_text(text)
    print(f"lock: wrote {lock}; commit it", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="noos_image", description=__doc__)
    sub = parser.add_subparsers(dest="verb", required=True)
    lock = sub.add_parser("lock").add_subparsers(dest="action", required=True)
    for action in ("check", "write"):
        verb = lock.add_parser(action)
        verb.add_argument("manifest", type=Path)
        verb.add_argument("lock", type=Path)
    lock.add_parser("digest").add_argument("lock", type=Path)
    listing = sub.add_parser("files")
    listing.add_argument("root", type=Path)
    listing.add_argument("output", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.verb == "files":
            args.output.write_text(files.dump(files.list_tree(args.root)))
            return 0
        if args.action == "digest":
            print(debian_lock.digest(args.lock.read_bytes()) if args.lock.exists() else "none")
            return 0
        return (lock_check if args.action == "check" else lock_write)(args.manifest, args.lock)
    except (OSError, debian_lock.LockError) as error:
        print(f"noos_image: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
